/*
 * timing.c — the per-phase timing counters and their conversion from TSC
 * ticks to nanoseconds (calibrated once against CLOCK_MONOTONIC).
 */
#include "timing.h"
#include "shmemora.h"

#include <string.h>
#include <time.h>

int timing_on;
_Thread_local uint64_t timing_ticks[PHASES];
_Thread_local uint64_t timing_ops;
_Thread_local uint64_t contention[CONT_KINDS];
static double ns_per_tick;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void calibrate(void)
{
	uint64_t n0 = mono_ns(), t0 = timing_now();
	struct timespec d = { 0, 20 * 1000 * 1000 };
	nanosleep(&d, NULL);
	uint64_t n1 = mono_ns(), t1 = timing_now();
	ns_per_tick = t1 > t0 ? (double)(n1 - n0) / (double)(t1 - t0) : 0;
}

void shmemora_timing_enable(int on)
{
	if (on && ns_per_tick == 0)
		calibrate();
	__atomic_store_n(&timing_on, on != 0, __ATOMIC_RELAXED);
}

void shmemora_timing_read(shmemora_timing *out, int reset)
{
	if (!out)
		return;
	out->operations = timing_ops;
	out->lookup_ns = (uint64_t)((double)timing_ticks[PHASE_LOOKUP] * ns_per_tick);
	out->mac_ns = (uint64_t)((double)timing_ticks[PHASE_MAC] * ns_per_tick);
	out->rights_ns = (uint64_t)((double)timing_ticks[PHASE_RIGHTS] * ns_per_tick);
	out->index_ns = (uint64_t)((double)timing_ticks[PHASE_INDEX] * ns_per_tick);
	out->copy_ns = (uint64_t)((double)timing_ticks[PHASE_COPY] * ns_per_tick);
	out->writes = contention[CONT_WRITES];
	out->index_retries = contention[CONT_INDEX];
	out->alloc_retries = contention[CONT_ALLOC];
	out->free_retries = contention[CONT_FREE];
	out->remote_frees = contention[CONT_REMOTE_FREE];
	if (reset) {
		memset(timing_ticks, 0, sizeof timing_ticks);
		timing_ops = 0;
		memset(contention, 0, sizeof contention);
	}
}
