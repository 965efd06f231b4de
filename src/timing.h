/*
 * timing.h — the optional per-phase timing of the protected path
 * (shmemora_timing_*).  Probes read the time-stamp counter only when timing
 * is on; otherwise each costs one load and a predictable branch, so the
 * figures the benchmark reports by default are not distorted.
 */
#ifndef SHMEMORA_TIMING_H
#define SHMEMORA_TIMING_H

#include <stdint.h>

enum timing_phase { PHASE_LOOKUP, PHASE_MAC, PHASE_RIGHTS, PHASE_INDEX, PHASE_COPY, PHASES };

/*
 * Contention: compare-and-swaps that lost a race and were retried, per
 * structure, and the events they are compared with.  Counted always, per
 * thread: a lost race costs far more than the increment, and a counter of
 * this thread's is never contended.  The op layer adds them to the host's
 * shared counters in batches (shmemora stats).
 */
enum contention_kind {
	CONT_INDEX,        /* index slot CASes (publish, replace, remove) lost */
	CONT_ALLOC,        /* allocator CASes lost (reservations, pops, carving) */
	CONT_FREE,         /* free-path CASes lost (pushes, counts) */
	CONT_REMOTE_FREE,  /* blocks freed into another host's extent */
	CONT_WRITES,       /* write operations started */
	CONT_KINDS
};
extern _Thread_local uint64_t contention[CONT_KINDS];

extern int timing_on;
extern _Thread_local uint64_t timing_ticks[PHASES];
extern _Thread_local uint64_t timing_ops;

static inline uint64_t timing_now(void)
{
#if defined(__x86_64__)
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
#else
	return 0;
#endif
}

/* t = TIMING_START(); ... TIMING_ADD(PHASE, t); */
#define TIMING_START() (__builtin_expect(timing_on, 0) ? timing_now() : 0)
#define TIMING_ADD(phase, t)                                              \
	do {                                                              \
		if (__builtin_expect(timing_on, 0))                       \
			timing_ticks[phase] += timing_now() - (t);        \
	} while (0)
#define TIMING_OP()                                                       \
	do {                                                              \
		if (__builtin_expect(timing_on, 0))                       \
			timing_ops++;                                     \
	} while (0)

#endif
