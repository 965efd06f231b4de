#!/bin/sh
# vm-deps.sh [BUILD] — what `make vmtest` needs, from Debian's archive only:
# QEMU, busybox (static), kmod (depmod) and cpio installed with apt-get, and
# the generic Linux 6.1 kernel package downloaded (apt-get download) and
# unpacked into BUILD/vm/kernel — never installed into this machine's /boot.
# Safe to run again: it does nothing when everything is there.  Exits 0 when
# ready, 1 (with the reason on stderr) when something cannot be had; the VM
# tests are then reported as skipped by name.
set -eu
build=${1:-build}
vm="$build/vm"
mkdir -p "$vm"

PACKAGES="qemu-system-x86 busybox-static kmod cpio"
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=""
for pkg in $PACKAGES; do
	installed "$pkg" || missing="$missing $pkg"
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ -n "$missing" ]; then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "vm-deps: missing$missing and no apt-get to install them" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q >/dev/null 2>&1 || true
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null ||
		{ echo "vm-deps: cannot install$missing" >&2; exit 1; }
fi

# The kernel: the newest linux-image-6.1.0-N-amd64-unsigned the archive has
# (the generic build: it has LIBNVDIMM, ACPI_NFIT and DEV_DAX as modules).
if [ ! -f "$vm/kernel/ready" ]; then
	pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' 2>/dev/null |
		awk '{print $1}' | sort -V | tail -1)
	if [ -z "$pkg" ]; then
		$SUDO apt-get update -q >/dev/null 2>&1 || true
		pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' |
			awk '{print $1}' | sort -V | tail -1)
	fi
	[ -n "$pkg" ] || { echo "vm-deps: no linux-image-6.1.0-*-amd64-unsigned in the archive" >&2; exit 1; }
	rm -rf "$vm/deb" "$vm/kernel"
	mkdir -p "$vm/deb" "$vm/kernel"
	(cd "$vm/deb" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
		{ echo "vm-deps: cannot download $pkg" >&2; exit 1; }
	dpkg-deb -x "$vm"/deb/*.deb "$vm/kernel"
	ver=$(ls "$vm/kernel/lib/modules" | head -1)
	# The package ships no modules.dep.
	depmod -b "$vm/kernel" "$ver"
	echo "$ver" >"$vm/kernel/ready"
	rm -rf "$vm/deb"
fi
exit 0
