/*
 * measure.c — the benchmarks' percentile rule and sorting (see measure.h;
 * the clock is inline there).
 */
#include "measure.h"

#include <stdlib.h>

size_t percentile_rank(size_t n, unsigned permille)
{
	size_t r = n * permille / 1000;
	return r < n ? r : n - 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void sort_u32(uint32_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_u32);
}

void sort_double(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
}

double median_of(double *v, size_t n)
{
	if (!n)
		return 0;
	sort_double(v, n);
	return v[percentile_rank(n, 500)];
}
