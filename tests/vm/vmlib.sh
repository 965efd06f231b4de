# vmlib.sh — starting and steering QEMU guests that share one device-DAX
# pool (sourced by tests/cli/test_vm.sh; see docs/multi-host.md).
#
# Every guest: TCG with two vCPUs (with one, TCG makes `lock` instructions
# non-atomic), 512 MiB of RAM, and an emulated NVDIMM over the one shared
# pool file (memory-backend-file, share=on: every guest and every process
# on this machine see the same bytes).  Offset 0 of the guests' /dev/daxN.M
# is offset 2 MiB of the file, where processes here join with FILE@2M.
# The job a guest runs is a shell script packed into a small cpio archive
# appended to the shared initramfs (the kernel unpacks both).
VM_DIR=${VM_DIR:-$BUILD/vm}
VM_POOL_SIZE=${VM_POOL_SIZE:-256M}
VM_KVER=$(cat "$VM_DIR/kernel/ready" 2>/dev/null)
VM_KERNEL="$VM_DIR/kernel/boot/vmlinuz-$VM_KVER"
VM_INITRD="$VM_DIR/initramfs.cpio.gz"

# vm_start NAME POOLFILE JOBDIR [QEMU ARGS...]: boots guest NAME in the
# background; its console goes to $RUN/NAME.log, its QEMU pid to VM_PID_NAME.
vm_start() {
	local name=$1 pool=$2 job=$3
	shift 3
	local append="console=ttyS0 panic=-1 quiet loglevel=1 shm.name=$name"
	if [ "$job" = setup ]; then
		append="$append shm.setup"
		job=$(mktemp -d "$RUN/job-setup.XXXX")
	fi
	rm -rf "$RUN/$name.stage" && mkdir -p "$RUN/$name.stage/job"
	cp -r "$job/." "$RUN/$name.stage/job/"
	(cd "$RUN/$name.stage" && find job | cpio -o -H newc --quiet) >"$RUN/$name.job.cpio"
	cat "$RUN/$name.job.cpio" "$VM_INITRD" >"$RUN/$name.initrd"
	qemu-system-x86_64 -accel tcg,thread=multi -smp 2 -cpu max -machine pc,nvdimm=on \
		-m 512M,slots=2,maxmem=2G \
		-object "memory-backend-file,id=mem1,share=on,mem-path=$pool,size=$VM_POOL_SIZE" \
		-device nvdimm,id=nv1,memdev=mem1 \
		-kernel "$VM_KERNEL" -initrd "$RUN/$name.initrd" -append "$append" \
		-display none -serial "file:$RUN/$name.log" -monitor none -no-reboot -nic none \
		"$@" </dev/null >"$RUN/$name.qemu" 2>&1 &
	eval "VM_PID_$name=$!"
	date +%s.%N >"$RUN/$name.started"
}

vm_pid() { eval "echo \$VM_PID_$1"; }

# vm_wait NAME SECONDS: waits for guest NAME's QEMU to exit; 1 on timeout
# (the guest is then killed).
vm_wait() {
	local pid
	pid=$(vm_pid "$1")
	local i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt $(($2 * 10)) ]; then
			kill -9 "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null
	return 0
}

# vm_wait_line NAME PATTERN SECONDS: waits until guest NAME's console shows
# a line matching PATTERN (grep -E); 1 on timeout.
vm_wait_line() {
	local i=0
	while ! grep -qaE "$2" "$RUN/$1.log" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt $(($3 * 10)) ] && return 1
		kill -0 "$(vm_pid "$1")" 2>/dev/null || { grep -qaE "$2" "$RUN/$1.log"; return; }
		sleep 0.1
	done
	return 0
}

# vm_lines NAME TAG: the console lines of guest NAME that start with @@TAG,
# without the tag (and without the carriage returns of the serial line).
vm_lines() { tr -d '\r' <"$RUN/$1.log" | sed -n "s/^@@$2 //p"; }

# vm_template FILE: a pool file whose NVDIMM was turned into device-DAX by a
# setup guest, made once and cached ($VM_DIR/pool-template-$VM_POOL_SIZE).
vm_template() {
	local tpl="$VM_DIR/pool-template-$VM_POOL_SIZE"
	if [ ! -f "$tpl" ]; then
		truncate -s "$VM_POOL_SIZE" "$RUN/template.img"
		vm_start setup "$RUN/template.img" setup
		vm_wait setup 120 || return 1
		grep -qa '^@@DAX ' "$RUN/setup.log" || return 1
		mv "$RUN/template.img" "$tpl"
	fi
	cp --sparse=always "$tpl" "$1"
}
