#!/bin/sh
# vm-initramfs.sh BUILD — packs BUILD/vm/initramfs.cpio.gz for the test
# guests: busybox (static), the NVDIMM and device-DAX modules of the
# kernel that vm-deps.sh unpacked (with what they depend on, in load
# order), tests/vm/init.sh as /init, and the project's binaries
# (BUILD/shmemora, BUILD/vm/vm_worker) with every shared library ldd lists
# and the dynamic loader.  Rebuilt only when one of its inputs is newer.
set -eu
build=${1:-build}
vm="$build/vm"
out="$vm/initramfs.cpio.gz"
ver=$(cat "$vm/kernel/ready")
kmod="$vm/kernel/lib/modules/$ver"
bins="$build/shmemora $vm/vm_worker"
here=$(cd "$(dirname "$0")/.." && pwd)

if [ -f "$out" ]; then
	newer=$(find $bins "$here/tests/vm/init.sh" "$0" -newer "$out" 2>/dev/null | head -1)
	[ -z "$newer" ] && exit 0
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/job" \
	"$root/lib/modules"
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$here/tests/vm/init.sh" "$root/init"
chmod 755 "$root/init"

# Modules in load order: each one's dependencies (modules.dep lists them
# innermost last) before it, each once.
: >"$root/modules.order"
for m in libnvdimm nfit nd_btt nd_pmem dax_pmem device_dax; do
	line=$(grep -E "/$m\.ko:" "$kmod/modules.dep")
	deps=$(echo "${line#*:}" | tr ' ' '\n' | sed '/^$/d' | tac)
	for f in $deps ${line%%:*}; do
		grep -qx "$f" "$root/modules.order" && continue
		mkdir -p "$root/lib/modules/$(dirname "$f")"
		cp "$kmod/$f" "$root/lib/modules/$f"
		echo "$f" >>"$root/modules.order"
	done
done

# Binaries and their shared libraries, at the paths ldd names.
for b in $bins; do
	[ -x "$b" ] || { echo "vm-initramfs: $b is missing: build it first" >&2; exit 1; }
	cp "$b" "$root/bin/"
	for lib in $(ldd "$b" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
