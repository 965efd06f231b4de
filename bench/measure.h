/*
 * measure.h — the clock and the percentile rule every benchmark in bench/
 * uses, so that a "p99" or a "median" means the same in each of them.
 */
#ifndef SHMEMORA_BENCH_MEASURE_H
#define SHMEMORA_BENCH_MEASURE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds: comparable across the processes of one
 * machine, which the --hosts runs rely on.  Inline: it runs twice per timed
 * operation, and a call into another file would be part of every latency. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Where the permille-th (0..1000) per-mille of n >= 1 sorted samples sits:
 * the nearest rank below, and the largest sample for 1000.  p50 is 500,
 * p99.9 is 999; the median of an even count is the upper middle one. */
size_t percentile_rank(size_t n, unsigned permille);

void sort_u32(uint32_t *v, size_t n);
void sort_double(double *v, size_t n);

/* Sorts v and returns its median (percentile_rank 500); 0 for n = 0. */
double median_of(double *v, size_t n);

#endif
