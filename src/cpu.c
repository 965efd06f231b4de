/*
 * cpu.c — CPU feature detection.
 *
 * PKU needs three things: the CPU has it (CPUID), the OS enabled it (OSPKE),
 * and the kernel lets us allocate a key (pkey_alloc, which also fails inside
 * some VMs and containers).  Only when all three hold does the library offer
 * `mpk` protection; otherwise it says `software`.
 */
#include "cpu.h"
#include "shmemora.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/syscall.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static struct cpu_features features;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

static bool kernel_grants_pkey(void)
{
#ifdef SYS_pkey_alloc
	long key = syscall(SYS_pkey_alloc, 0UL, 0UL);
	if (key < 0)
		return false;
	syscall(SYS_pkey_free, key);
	return true;
#else
	return false;
#endif
}

static void detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d))
		features.clflush = (d >> 19) & 1;
	if (__get_cpuid_max(0, 0) >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		features.clflushopt = (b >> 23) & 1;
		features.clwb = (b >> 24) & 1;
		bool pku = (c >> 3) & 1, ospke = (c >> 4) & 1;
		features.pku = pku && ospke && kernel_grants_pkey();
	}
#endif
}

const struct cpu_features *cpu_features(void)
{
	pthread_once(&detect_once, detect);
	return &features;
}

enum shmemora_protection shmemora_protection_available(void)
{
	return cpu_features()->pku ? SHMEMORA_PROTECT_MPK : SHMEMORA_PROTECT_SOFTWARE;
}
