/*
 * test_scan.c — shmemora_kv_scan and shmemora_kv_multi_get: what they promise
 * under writers on other hosts, what a token lets a scan see, and its cursor.
 *
 * The promise (shmemora.h): every key present from a scan's first call to
 * its last is visited exactly once; every key visited existed during the
 * scan, with a whole value of its own.  A writer host (a separate process)
 * rewrites the stable keys and inserts and deletes churning ones while this
 * host scans in small steps; both promises are checked key by key.
 */
#include "testutil.h"

#include <signal.h>
#include <time.h>
#include <sys/wait.h>

#define STABLE 300
#define CHURN 200

struct fixture {
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	test_make_pool(f->path, sizeof f->path, "scan", 32u << 20, 4, 0, "t", &f->pool, &f->root);
	assert_shm(0, shmemora_ns_create(f->pool, &f->root, "other"));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	test_pool_done(f->pool, f->path);
	free(f);
	return 0;
}

static int put_value(shmemora_pool *p, const shmemora_token *t, const char *ns, const char *key,
		     uint64_t version, size_t len)
{
	uint8_t val[512];
	size_t n = test_value_make(val, len, ns, key, strlen(key), version);
	return shmemora_kv_put(p, t, ns, key, strlen(key), val, n);
}

/* What a scan saw. */
struct seen {
	int stable[STABLE], churn[CHURN], other, bad_values;
};

static int note(void *arg, const shmemora_scan_item *it)
{
	struct seen *s = arg;
	char key[32];
	if (it->key_len >= sizeof key)
		return s->other++, 0;
	memcpy(key, it->key, it->key_len);
	key[it->key_len] = '\0';
	if (it->value && !test_value_check(it->value, it->value_len, "t", key, it->key_len, NULL))
		s->bad_values++;
	unsigned i;
	if (sscanf(key, "stable%u", &i) == 1 && i < STABLE)
		s->stable[i]++;
	else if (sscanf(key, "churn%u", &i) == 1 && i < CHURN)
		s->churn[i]++;
	else
		s->other++;
	return 0;
}

/* The writer host: rewrites stable keys (same slot, new entries) and
 * inserts and deletes churning ones, until killed. */
static void writer(const char *path, const shmemora_token *root)
{
	shmemora_pool *p;
	if (shmemora_attach(path, NULL, &p))
		_exit(1);
	for (uint64_t v = 2;; v++) {
		char key[32];
		snprintf(key, sizeof key, "stable%u", (unsigned)(v * 7919 % STABLE));
		put_value(p, root, "t", key, v, 64 + v % 300);
		snprintf(key, sizeof key, "churn%u", (unsigned)(v % CHURN));
		if (v % 2)
			put_value(p, root, "t", key, v, 80);
		else
			shmemora_kv_delete(p, root, "t", key, strlen(key));
	}
}

/* The keys no writer touches: stable0 .. stable(STABLE-1), version 1. */
static void put_stable_keys(struct fixture *f)
{
	for (unsigned i = 0; i < STABLE; i++) {
		char key[32];
		snprintf(key, sizeof key, "stable%u", i);
		assert_shm(0, put_value(f->pool, &f->root, "t", key, 1, 100));
	}
}

static void scan_under_a_writer_visits_every_stable_key_once(void **state)
{
	struct fixture *f = *state;
	put_stable_keys(f);
	for (unsigned i = 0; i < 50; i++) { /* keys of another namespace: never visited */
		char key[32];
		snprintf(key, sizeof key, "stable%u", i);
		assert_shm(0, put_value(f->pool, &f->root, "other", key, 1, 100));
	}
	pid_t kid = test_fork();
	if (kid == 0)
		writer(f->path, &f->root);
	for (int round = 0; round < 5; round++) {
		struct seen seen = { 0 };
		uint64_t cursor = 0;
		int calls = 0;
		do {
			assert_shm(0, shmemora_kv_scan(f->pool, &f->root, "t", &cursor, 7, round % 2,
						       note, &seen));
			calls++;
		} while (cursor != 0);
		for (unsigned i = 0; i < STABLE; i++)
			if (seen.stable[i] != 1)
				fail_msg("round %d: stable%u visited %d times", round, i, seen.stable[i]);
		for (unsigned i = 0; i < CHURN; i++)
			assert_true(seen.churn[i] <= 1);
		assert_int_equal(seen.other, 0);
		assert_int_equal(seen.bad_values, 0);
		assert_true(calls > STABLE / 7);
	}
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
}

/* Batched reads (multi_get, 40 keys: three batches of the library's 16)
 * under the same writer host: every value is whole and of its own key, and
 * no key's version ever goes back between one read and the next. */
static void multi_get_under_a_writer_returns_whole_values(void **state)
{
	struct fixture *f = *state;
	put_stable_keys(f);
	pid_t kid = test_fork();
	if (kid == 0)
		writer(f->path, &f->root);
	enum { N = 40 };
	static uint64_t last[STABLE + CHURN];
	memset(last, 0, sizeof last);
	char keys[N][32];
	uint8_t bufs[N][512];
	shmemora_kv_item items[N];
	uint64_t reads = 0, absent = 0, seed = 12345;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		unsigned which[N];
		for (int i = 0; i < N; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			which[i] = (unsigned)(seed >> 33) % (STABLE + CHURN);
			if (which[i] < STABLE)
				snprintf(keys[i], sizeof keys[i], "stable%u", which[i]);
			else
				snprintf(keys[i], sizeof keys[i], "churn%u", which[i] - STABLE);
			items[i] = (shmemora_kv_item){ .key = keys[i], .key_len = strlen(keys[i]),
						       .buf = bufs[i], .cap = sizeof bufs[i] };
		}
		assert_shm(0, shmemora_kv_multi_get(f->pool, &f->root, "t", items, N));
		for (int i = 0; i < N; i++) {
			if (which[i] >= STABLE && items[i].rc == SHMEMORA_E_NOT_FOUND) {
				absent++;
				continue;
			}
			assert_shm(0, items[i].rc);
			uint64_t v = 0;
			if (!test_value_check(bufs[i], items[i].value_len, "t", keys[i],
					      strlen(keys[i]), &v))
				fail_msg("%s: a torn value, or another key's", keys[i]);
			/* Churning keys are deleted and made again: only the
			 * stable ones have versions that must only grow. */
			if (which[i] < STABLE && v < last[which[i]])
				fail_msg("%s went back from version %llu to %llu", keys[i],
					 (unsigned long long)last[which[i]], (unsigned long long)v);
			last[which[i]] = v;
			reads++;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < 2);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	print_message("# %llu values read whole by multi_get under a writer host (%llu churning "
		      "keys absent)\n", (unsigned long long)reads, (unsigned long long)absent);
	assert_true(reads > 1000);
}

static int count_all(void *arg, const shmemora_scan_item *it)
{
	(void)it;
	(*(int *)arg)++;
	return 0;
}

static int scan_all(struct fixture *f, const shmemora_token *t, int *n)
{
	uint64_t cursor = 0;
	*n = 0;
	int rc;
	do
		rc = shmemora_kv_scan(f->pool, t, "t", &cursor, 0, 0, count_all, n);
	while (rc == 0 && cursor != 0);
	return rc;
}

/* A key token sees its one key; a token without r sees nothing; a token of
 * another namespace is out of scope. */
static void scan_shows_only_what_the_token_reaches(void **state)
{
	struct fixture *f = *state;
	for (unsigned i = 0; i < 20; i++) {
		char key[32];
		snprintf(key, sizeof key, "stable%u", i);
		assert_shm(0, put_value(f->pool, &f->root, "t", key, 1, 100));
	}
	shmemora_grant kg = { .scope = SHMEMORA_SCOPE_KEY, .ns = "t", .key = "stable3",
			      .key_len = 7, .rights = SHMEMORA_RIGHT_READ };
	shmemora_grant wo = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "t",
			      .rights = SHMEMORA_RIGHT_WRITE };
	shmemora_grant og = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "other",
			      .rights = SHMEMORA_RIGHT_READ };
	shmemora_token key_tok, write_only, other;
	assert_shm(0, shmemora_token_derive(f->pool, &f->root, &kg, &key_tok));
	assert_shm(0, shmemora_token_derive(f->pool, &f->root, &wo, &write_only));
	assert_shm(0, shmemora_token_derive(f->pool, &f->root, &og, &other));
	int n;
	assert_shm(0, scan_all(f, &f->root, &n));
	assert_int_equal(n, 20);
	assert_shm(0, scan_all(f, &key_tok, &n));
	assert_int_equal(n, 1);
	assert_shm(SHMEMORA_E_DENIED, scan_all(f, &write_only, &n));
	assert_int_equal(n, 0);
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE, scan_all(f, &other, &n));
	assert_int_equal(n, 0);
}

static int stop_at_five(void *arg, const shmemora_scan_item *it)
{
	(void)it;
	return ++*(int *)arg == 5 ? 42 : 0;
}

/* A visitor's nonzero return stops the scan and is returned; the cursor
 * then goes on from the next key. */
static void visitor_stops_the_scan_and_the_cursor_resumes(void **state)
{
	struct fixture *f = *state;
	for (unsigned i = 0; i < 20; i++) {
		char key[32];
		snprintf(key, sizeof key, "stable%u", i);
		assert_shm(0, put_value(f->pool, &f->root, "t", key, 1, 100));
	}
	uint64_t cursor = 0;
	int n = 0;
	assert_int_equal(shmemora_kv_scan(f->pool, &f->root, "t", &cursor, 0, 0, stop_at_five, &n),
			 42);
	assert_true(cursor != 0);
	int rest = 0;
	do
		assert_shm(0, shmemora_kv_scan(f->pool, &f->root, "t", &cursor, 3, 0, count_all, &rest));
	while (cursor != 0);
	assert_int_equal(n + rest, 20);
	cursor = UINT64_MAX;
	assert_shm(SHMEMORA_E_INVALID, shmemora_kv_scan(f->pool, &f->root, "t", &cursor, 0, 0,
							count_all, &rest));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(scan_under_a_writer_visits_every_stable_key_once),
		T(multi_get_under_a_writer_returns_whole_values),
		T(scan_shows_only_what_the_token_reaches),
		T(visitor_stops_the_scan_and_the_cursor_resumes),
	};
	return cmocka_run_group_tests_name("scan", tests, NULL, NULL);
}
