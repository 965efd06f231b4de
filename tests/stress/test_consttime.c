/*
 * test_consttime.c — a statistical timing test of the library's tag and MAC
 * comparison, after dudect (Reparaz, Balasch, Verbauwhede, "Dude, is my code
 * constant time?", DATE 2017).  It takes millions of measurements, so it
 * runs in `make stress` only, never in `make test`.
 *
 * Design: fixed vs random, dudect's classic one, because it needs no model
 * of the leak.  A random secret reference stands for the genuine tag.
 * Class 0 compares it with one fixed input, the reference with its last
 * byte flipped; class 1 with a fresh random input, which differs from it in
 * the first byte 255 times in 256.  A comparison that stops at the first
 * difference runs to the last byte for class 0 and stops at once for
 * class 1: the two classes are as far apart as a forger guessing a tag byte
 * by byte could make them.  Both classes compare unequal, so only how the
 * bytes are compared, not what is done with the answer, can tell them apart.
 *
 * Measurement: the classes are drawn at random for each measurement; each
 * batch's inputs are prepared beforehand in one array, every slot written
 * once in order, so both classes come from the same memory; each comparison
 * is timed with the TSC (lfence; rdtsc; lfence on each side).  As dudect
 * does, the first batch only sets thresholds at 100 percentiles of the
 * times, and Welch's t is kept for all measurements and for those below each
 * threshold (cropping the long tail that interrupts and the machine's other
 * tenants add).  The statistic is the largest |t| among those with more than
 * 10 000 measurements.  (dudect's second-order test is left out.)
 *
 * Verdicts: a comparison under test must reach SHMEMORA_CONSTTIME_MEASUREMENTS
 * measurements (default 10 000 000) with |t| < 4.5, dudect's threshold;
 * |t| > 10 is a leak and fails at once; in between it takes more
 * measurements, up to ten times as many, and failing to settle below 4.5 is
 * a failure too.  The control, an early-exit byte compare of the same
 * length, must be flagged (|t| > 10) by the same harness within as many
 * measurements, or the harness cannot see a leak on this machine and the
 * test fails: it cannot pass vacuously.
 *
 * Under test: crypto_equal (src/crypto.c, CRYPTO_memcmp), which checks the
 * superblock's key id and MAC, at the tag's 16 bytes and the MAC's 32.
 * And protect_tag_equal (src/protect.h), which checks every token's tag.
 *
 * Each verdict prints its figures on a "# " line: max |t|, the crop it came
 * from with the mean cycles of each class there, the uncropped t and the
 * number of measurements.
 */
#include "testutil.h"

#include "crypto.h"
#include "protect.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_TSC 1
#else
#define HAVE_TSC 0
#endif

enum {
	PERCENTILES = 100,
	CROPS = PERCENTILES + 1,     /* uncropped, then one per percentile */
	BATCH = 100000,              /* measurements per batch */
	ENOUGH = 10000,              /* a t from fewer is not used (dudect) */
	MAX_LEN = 64,
};

static const double T_PASS = 4.5; /* below: no evidence of a leak (dudect) */
static const double T_LEAK = 10.0; /* above: a leak */

/* The comparison measured: 1 if equal, as crypto_equal. */
typedef int (*equal_fn)(const void *a, const void *b, size_t len);

/* The control: a byte-at-a-time compare that stops at the first difference,
 * the classic variable-time memcmp.  Volatile reads keep the compiler from
 * vectorising it (glibc's own memcmp compares 16 or 32 bytes in one vector
 * step, so it would not show the early exit at these lengths). */
__attribute__((noinline)) static int early_exit_equal(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *x = a, *y = b;
	for (size_t i = 0; i < len; i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

#if HAVE_TSC
static inline uint64_t tsc(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}
#endif

/* Welch's t-test, kept online (Welford) for the two classes. */
struct welch {
	double n[2], mean[2], m2[2];
};

static void welch_push(struct welch *w, double x, int cls)
{
	w->n[cls] += 1;
	double d = x - w->mean[cls];
	w->mean[cls] += d / w->n[cls];
	w->m2[cls] += d * (x - w->mean[cls]);
}

static double welch_t(const struct welch *w)
{
	if (w->n[0] < 2 || w->n[1] < 2)
		return 0;
	double v0 = w->m2[0] / (w->n[0] - 1), v1 = w->m2[1] / (w->n[1] - 1);
	double den = sqrt(v0 / w->n[0] + v1 / w->n[1]);
	double diff = w->mean[0] - w->mean[1];
	if (den == 0)
		return diff == 0 ? 0 : copysign(INFINITY, diff);
	return diff / den;
}

struct harness {
	equal_fn equal;
	size_t len;
	uint8_t ref[MAX_LEN];        /* the secret reference */
	uint8_t fixed[MAX_LEN];      /* class 0's input: ref, last byte flipped */
	uint8_t *inputs;             /* BATCH inputs of len bytes */
	uint8_t *random;             /* BATCH random inputs to draw class 1 from */
	uint8_t *classes;            /* BATCH classes, 0 or 1 */
	uint64_t *cycles;            /* BATCH times */
	double threshold[PERCENTILES];
	struct welch crop[CROPS];
	uint64_t measured;
	int sink;
};

static void harness_init(struct harness *h, equal_fn equal, size_t len)
{
	memset(h, 0, sizeof *h);
	assert_true(len >= 1 && len <= MAX_LEN);
	h->equal = equal;
	h->len = len;
	assert_shm(0, crypto_random(h->ref, len));
	memcpy(h->fixed, h->ref, len);
	h->fixed[len - 1] ^= 0x01;
	h->inputs = malloc(BATCH * len);
	h->random = malloc(BATCH * len);
	h->classes = malloc(BATCH);
	h->cycles = malloc(BATCH * sizeof *h->cycles);
	assert_non_null(h->inputs);
	assert_non_null(h->random);
	assert_non_null(h->classes);
	assert_non_null(h->cycles);
}

static void harness_free(struct harness *h)
{
	free(h->inputs);
	free(h->random);
	free(h->classes);
	free(h->cycles);
}

#if HAVE_TSC
/* One batch: inputs drawn, then every comparison timed. */
static void measure_batch(struct harness *h)
{
	assert_shm(0, crypto_random(h->classes, BATCH));
	assert_shm(0, crypto_random(h->random, BATCH * h->len));
	for (size_t i = 0; i < BATCH; i++) {
		h->classes[i] &= 1;
		memcpy(h->inputs + i * h->len, h->classes[i] ? h->random + i * h->len : h->fixed,
		       h->len);
	}
	int sink = 0;
	for (size_t i = 0; i < BATCH; i++) {
		const uint8_t *in = h->inputs + i * h->len;
		uint64_t t0 = tsc();
		sink += h->equal(h->ref, in, h->len);
		uint64_t t1 = tsc();
		h->cycles[i] = t1 - t0;
	}
	h->sink += sink; /* both classes compare unequal: stays 0 */
}
#endif

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* dudect's thresholds: the 1 - 0.5^(10 (i+1) / 100) percentiles of a batch,
 * from about the 7th to the 99.9th. */
static void set_thresholds(struct harness *h)
{
	uint64_t *sorted = malloc(BATCH * sizeof *sorted);
	assert_non_null(sorted);
	memcpy(sorted, h->cycles, BATCH * sizeof *sorted);
	qsort(sorted, BATCH, sizeof *sorted, by_value);
	for (int i = 0; i < PERCENTILES; i++) {
		double which = 1 - pow(0.5, 10.0 * (i + 1) / PERCENTILES);
		h->threshold[i] = (double)sorted[(size_t)(which * BATCH)];
	}
	free(sorted);
}

static void tally_batch(struct harness *h)
{
	for (size_t i = 0; i < BATCH; i++) {
		double x = (double)h->cycles[i];
		int cls = h->classes[i];
		welch_push(&h->crop[0], x, cls);
		for (int p = 0; p < PERCENTILES; p++)
			if (x < h->threshold[p])
				welch_push(&h->crop[p + 1], x, cls);
	}
	h->measured += BATCH;
}

/* The largest |t| among the crops with enough measurements; its crop. */
static double max_abs_t(const struct harness *h, int *which)
{
	double best = 0;
	*which = 0;
	for (int c = 0; c < CROPS; c++) {
		if (h->crop[c].n[0] + h->crop[c].n[1] <= ENOUGH)
			continue;
		double t = fabs(welch_t(&h->crop[c]));
		if (t > best) {
			best = t;
			*which = c;
		}
	}
	return best;
}

static uint64_t measurements_wanted(void)
{
	const char *env = getenv("SHMEMORA_CONSTTIME_MEASUREMENTS");
	long long n = env ? atoll(env) : 10000000;
	if (n < 2 * BATCH)
		n = 2 * BATCH;
	return (uint64_t)n;
}

enum expect { CONSTANT_TIME, LEAKS };

/* Measures `equal` over `len` bytes until a verdict; returns max |t|. */
static double measure(const char *what, equal_fn equal, size_t len, enum expect expect)
{
#if HAVE_TSC
	struct harness *h = malloc(sizeof *h);
	assert_non_null(h);
	harness_init(h, equal, len);
	uint64_t min = measurements_wanted(), max = 10 * min;
	measure_batch(h); /* warms up; its times only set the thresholds */
	set_thresholds(h);
	double t;
	int which;
	for (;;) {
		measure_batch(h);
		tally_batch(h);
		t = max_abs_t(h, &which);
		if (t > T_LEAK || h->measured >= max)
			break;
		if (expect == CONSTANT_TIME && h->measured >= min && t < T_PASS)
			break;
	}
	const struct welch *at = &h->crop[which];
	char crop[64] = "uncropped";
	if (which)
		snprintf(crop, sizeof crop, "times below the %.1fth percentile",
			 100 * (1 - pow(0.5, 10.0 * which / PERCENTILES)));
	print_message("# %zu bytes, %s: max |t| %.2f (%s: mean %.1f cycles fixed, %.1f random), "
		      "uncropped t %.2f, %llu measurements\n",
		      len, what, t, crop, at->mean[0], at->mean[1], welch_t(&h->crop[0]),
		      (unsigned long long)h->measured);
	assert_int_equal(h->sink, 0);
	harness_free(h);
	free(h);
	return t;
#else
	(void)what, (void)equal, (void)len, (void)expect;
	skip(); /* no TSC on this architecture */
	return 0;
#endif
}

static void must_be_constant_time(const char *what, equal_fn equal, size_t len)
{
	double t = measure(what, equal, len, CONSTANT_TIME);
	if (t > T_LEAK)
		fail_msg("%s over %zu bytes leaks: |t| %.2f > %.0f, its time depends on where the "
			 "inputs differ", what, len, t, T_LEAK);
	if (t >= T_PASS)
		fail_msg("%s over %zu bytes: |t| %.2f did not settle below %.1f in ten times the "
			 "measurements asked; rerun, and suspect a small leak if it repeats",
			 what, len, t, T_PASS);
}

static void must_be_flagged(const char *what, equal_fn equal, size_t len)
{
	double t = measure(what, equal, len, LEAKS);
	if (t <= T_LEAK)
		fail_msg("the harness did not flag %s over %zu bytes (|t| %.2f <= %.0f): it cannot "
			 "see a known early exit on this machine, so its passes mean nothing",
			 what, len, t, T_LEAK);
}

/* ------------------------------------------------------------ tests */

static void crypto_equal_over_a_tag_is_constant_time(void **state)
{
	(void)state;
	must_be_constant_time("crypto_equal", crypto_equal, SHMEMORA_TAG_BYTES);
}

static void crypto_equal_over_a_mac_is_constant_time(void **state)
{
	(void)state;
	must_be_constant_time("crypto_equal", crypto_equal, MAC_BYTES);
}

static void control_early_exit_compare_over_a_tag_is_flagged(void **state)
{
	(void)state;
	must_be_flagged("early-exit compare (control)", early_exit_equal, SHMEMORA_TAG_BYTES);
}

static void control_early_exit_compare_over_a_mac_is_flagged(void **state)
{
	(void)state;
	must_be_flagged("early-exit compare (control)", early_exit_equal, MAC_BYTES);
}

/* protect_tag_equal takes the tag's fixed 16 bytes. */
static int tag_equal_fn(const void *a, const void *b, size_t len)
{
	(void)len;
	return protect_tag_equal(a, b);
}

static void protect_tag_equal_is_constant_time(void **state)
{
	(void)state;
	must_be_constant_time("protect_tag_equal", tag_equal_fn, SHMEMORA_TAG_BYTES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(control_early_exit_compare_over_a_tag_is_flagged),
		cmocka_unit_test(crypto_equal_over_a_tag_is_constant_time),
		cmocka_unit_test(control_early_exit_compare_over_a_mac_is_flagged),
		cmocka_unit_test(crypto_equal_over_a_mac_is_constant_time),
		cmocka_unit_test(protect_tag_equal_is_constant_time),
	};
	return cmocka_run_group_tests_name("consttime", tests, NULL, NULL);
}
