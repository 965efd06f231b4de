/*
 * clock.h — the library's two clocks, in nanoseconds.
 *
 * clock_realtime_ns() is wall-clock time (CLOCK_REALTIME): what token
 * expiry and creation times are stated in, because they are compared with
 * times a user gave.  clock_monotonic_ns() never jumps (CLOCK_MONOTONIC): for
 * measuring how long something took on this host.  Never compare a time read
 * on one host with a time read on another.
 */
#ifndef SHMEMORA_CLOCK_H
#define SHMEMORA_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t which)
{
	struct timespec ts;
	clock_gettime(which, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_realtime_ns(void) { return clock_ns(CLOCK_REALTIME); }
static inline uint64_t clock_monotonic_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

#endif
