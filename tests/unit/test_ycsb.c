/*
 * test_ycsb.c — the workload generator, checked statistically: zipfian skew
 * matches the theory, latest favours the newest records, and every
 * workload's operation mix is within 1% of YCSB's definition over 1 M
 * operations.
 */
#include "testutil.h"

#include "ycsb.h"

#include <math.h>

static void zipfian_frequencies_follow_the_law(void **state)
{
	(void)state;
	enum { N = 1000, DRAWS = 2000000 };
	struct zipfian z;
	zipfian_init(&z, N, 0.99);
	static uint32_t count[N];
	memset(count, 0, sizeof count);
	uint64_t rng = 42;
	for (int i = 0; i < DRAWS; i++)
		count[zipfian_next(&z, &rng)]++;
	/* P(rank r) = 1 / ((r+1)^0.99 * zeta(N)).  YCSB (Gray et al.) draws
	 * ranks 0 and 1 exactly and approximates the rest (about 17% high at
	 * rank 2): check the exact ones within 2%, the rest within 25%. */
	for (int r = 0; r < 6; r++) {
		double want = DRAWS / (pow(r + 1, 0.99) * z.zetan);
		assert_true(fabs(count[r] - want) < (r < 2 ? 0.02 : 0.25) * want);
	}
	assert_true(count[0] > count[10] && count[10] > count[500]);
	/* Heavy skew: the top 1% of items take far more than 1% of draws. */
	long top = 0;
	for (int r = 0; r < N / 100; r++)
		top += count[r];
	assert_true(top > DRAWS / 3);
}

static void scrambled_zipfian_spreads_hot_records(void **state)
{
	(void)state;
	const struct ycsb_workload *c = ycsb_workload('C');
	uint64_t inserted = 100000;
	struct ycsb_gen g;
	ycsb_gen_init(&g, c, c->dist, 100000, &inserted, 7);
	static uint32_t count[100000];
	memset(count, 0, sizeof count);
	for (int i = 0; i < 1000000; i++)
		count[ycsb_next_key(&g)]++;
	/* The hottest record is not record 0: hot records are scattered. */
	uint64_t hottest = 0;
	for (uint64_t i = 1; i < 100000; i++)
		if (count[i] > count[hottest])
			hottest = i;
	assert_int_not_equal(hottest, 0);
	assert_true(count[hottest] > 1000000 / 100); /* and it is hot: > 1% */
}

static void latest_favours_the_newest_records(void **state)
{
	(void)state;
	const struct ycsb_workload *d = ycsb_workload('D');
	uint64_t inserted = 10000;
	struct ycsb_gen g;
	ycsb_gen_init(&g, d, d->dist, 10000, &inserted, 9);
	long newest_decile = 0, oldest_decile = 0;
	for (int i = 0; i < 200000; i++) {
		uint64_t k = ycsb_next_key(&g);
		assert_true(k < inserted);
		newest_decile += k >= 9000;
		oldest_decile += k < 1000;
	}
	assert_true(newest_decile > 10 * oldest_decile);
	/* After inserts, the newest records are the new ones. */
	inserted = 20000;
	long newer = 0;
	for (int i = 0; i < 100000; i++)
		newer += ycsb_next_key(&g) >= 10000;
	assert_true(newer > 90000);
}

static void operation_mix_is_within_one_percent(void **state)
{
	(void)state;
	for (const char *w = "ABCDEF"; *w; w++) {
		const struct ycsb_workload *wl = ycsb_workload(*w);
		assert_non_null(wl);
		uint64_t inserted = 1000;
		struct ycsb_gen g;
		ycsb_gen_init(&g, wl, wl->dist, 1000, &inserted, (uint64_t)*w);
		long count[YCSB_OPS] = { 0 };
		enum { OPS = 1000000 };
		for (int i = 0; i < OPS; i++)
			count[ycsb_next_op(&g)]++;
		for (int op = 0; op < YCSB_OPS; op++) {
			double got = (double)count[op] / OPS;
			if (fabs(got - wl->proportion[op]) >= 0.01)
				print_error("workload %c %s: %.4f vs %.2f\n", *w, ycsb_op_name(op), got,
					    wl->proportion[op]);
			assert_true(fabs(got - wl->proportion[op]) < 0.01);
		}
	}
	assert_null(ycsb_workload('G'));
}

static void keys_are_ycsb_names(void **state)
{
	(void)state;
	char a[32], b[32];
	ycsb_key(0, a);
	ycsb_key(1, b);
	assert_int_equal(strncmp(a, "user", 4), 0);
	assert_string_not_equal(a, b);
	/* YCSB's Utils.fnvhash64(0): FNV-1a over eight zero bytes, Math.abs'd. */
	assert_true(ycsb_fnv64(0) == 0x573807cdd7e5c63bULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zipfian_frequencies_follow_the_law),
		cmocka_unit_test(scrambled_zipfian_spreads_hot_records),
		cmocka_unit_test(latest_favours_the_newest_records),
		cmocka_unit_test(operation_mix_is_within_one_percent),
		cmocka_unit_test(keys_are_ycsb_names),
	};
	return cmocka_run_group_tests_name("ycsb", tests, NULL, NULL);
}
