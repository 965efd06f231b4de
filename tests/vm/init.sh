#!/bin/busybox sh
# init.sh — PID 1 of a SHMemora test guest (the initramfs's /init).
#
# Mounts the kernel's file systems, loads the NVDIMM and device-DAX modules
# in the order they need, finds the device-DAX device (its name is looked
# up, never assumed), runs the job packed beside it in /job/run.sh, and
# powers off.  With "shm.setup" on the kernel command line it first turns
# the label-less NVDIMM namespace into device-DAX through sysfs (mode ram,
# 2 MiB alignment); that writes an info block into the shared memory
# itself, which later guests find on their own.  Lines for the test
# harness start with "@@" on the console.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
echo 1 >/proc/sys/kernel/printk
for m in $(cat /modules.order); do
	insmod "/lib/modules/$m" 2>/dev/null
done

wait_for() { # wait_for TEST... : up to 20 s
	i=0
	while ! "$@"; do
		i=$((i + 1))
		[ $i -gt 200 ] && return 1
		sleep 0.1
	done
}
find_dax() { for d in /dev/dax*; do [ -c "$d" ] && { DAX=$d; return 0; }; done; return 1; }

if grep -q shm.setup /proc/cmdline; then
	wait_for test -e /sys/bus/nd/devices/region0/dax_seed || echo "@@ERROR no nd region"
	ns=$(basename "$(ls -d /sys/bus/nd/devices/region0/namespace0.* | head -1)")
	echo "$ns" >/sys/bus/nd/drivers/nd_pmem/unbind 2>/dev/null
	seed=$(cat /sys/bus/nd/devices/region0/dax_seed)
	cat /proc/sys/kernel/random/uuid >"/sys/bus/nd/devices/$seed/uuid"
	echo ram >"/sys/bus/nd/devices/$seed/mode"
	echo 2097152 >"/sys/bus/nd/devices/$seed/align"
	echo "$ns" >"/sys/bus/nd/devices/$seed/namespace"
	echo "$seed" >/sys/bus/nd/drivers/dax_pmem/bind
fi
if wait_for find_dax; then
	# The sysfs attributes the library reads.
	mm=$(stat -c '%t:%T' "$DAX")
	maj=$((0x${mm%:*})); min=$((0x${mm#*:}))
	echo "@@DAX $DAX size=$(cat /sys/dev/char/$maj:$min/size) align=$(cat /sys/dev/char/$maj:$min/align 2>/dev/null)"
	export DAX
	echo "@@UP $(cut -d' ' -f1 /proc/uptime)"
	if [ -f /job/run.sh ]; then
		cd /job && sh /job/run.sh 2>&1
		echo "@@JOB rc=$?"
	fi
else
	echo "@@ERROR no device-DAX device appeared"
fi
sync
echo "@@END"
poweroff -f
