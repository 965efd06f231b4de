/*
 * cpu.h — what this CPU and kernel offer: PKU, cache-line write-back and
 * flush instructions.  Detected once (CPUID plus, for PKU, a probe of the
 * kernel), then read without cost.
 */
#ifndef SHMEMORA_CPU_H
#define SHMEMORA_CPU_H

#include <stdbool.h>

struct cpu_features {
	bool pku;        /* CPUID.7.0:ECX.PKU and OSPKE, and pkey_alloc() works */
	bool clwb;       /* CPUID.7.0:EBX bit 24 */
	bool clflushopt; /* CPUID.7.0:EBX bit 23 */
	bool clflush;    /* CPUID.1:EDX bit 19 */
};

/* The features of this machine; thread-safe, detected on first call. */
const struct cpu_features *cpu_features(void);

#endif
