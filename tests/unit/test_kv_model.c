/*
 * test_kv_model.c — long random sequences of operations checked against a
 * plain in-process map (the model), single-threaded and with 4 threads on
 * disjoint keys; and space reuse: millions of put/delete operations over a
 * constant live set in a small pool never run out of space, and threads
 * overwriting the same keys reuse freed blocks instead of carving new ones.
 */
#include "testutil.h"

#include "alloc.h"
#include "pool.h"
#include "protect.h"

#include <pthread.h>

#define KEYS 400
#define MAX_VAL 300

struct model {
	int present[KEYS];
	uint64_t version[KEYS];
	size_t len[KEYS];
	uint8_t val[KEYS][MAX_VAL];
};

struct run {
	shmemora_pool *pool;
	shmemora_token root;
	int thread;           /* key prefix: threads own disjoint keys */
	long ops;
	unsigned seed;
	int failures;
};

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond)) {                                                      \
			print_error("thread %d op %ld: %s failed (rc %d: %s)\n", r->thread, \
				    i, #cond, rc, shmemora_errmsg());                \
			r->failures++;                                              \
			return;                                                     \
		}                                                                   \
	} while (0)

static void run_model(struct run *r)
{
	struct model *m = calloc(1, sizeof *m);
	uint8_t val[MAX_VAL], out[MAX_VAL];
	char key[32];
	for (long i = 0; i < r->ops; i++) {
		int k = (int)(rnd(&r->seed) % KEYS);
		size_t klen = (size_t)snprintf(key, sizeof key, "t%d-key-%d", r->thread, k);
		size_t vlen = rnd(&r->seed) % MAX_VAL;
		for (size_t j = 0; j < vlen; j++)
			val[j] = (uint8_t)rnd(&r->seed);
		unsigned op = rnd(&r->seed) % 7;
		int rc = 0;
		size_t got;
		uint64_t ver, nv;
		switch (op) {
		case 0: /* put */
			rc = shmemora_kv_put(r->pool, &r->root, "m", key, klen, val, vlen);
			CHECK(rc == 0);
			m->version[k] = m->present[k] ? m->version[k] + 1 : 1;
			m->present[k] = 1;
			m->len[k] = vlen;
			memcpy(m->val[k], val, vlen);
			break;
		case 1: /* insert */
			rc = shmemora_kv_insert(r->pool, &r->root, "m", key, klen, val, vlen);
			CHECK(rc == (m->present[k] ? SHMEMORA_E_EXISTS : 0));
			if (!m->present[k]) {
				m->present[k] = 1;
				m->version[k] = 1;
				m->len[k] = vlen;
				memcpy(m->val[k], val, vlen);
			}
			break;
		case 2: /* update */
			rc = shmemora_kv_update(r->pool, &r->root, "m", key, klen, val, vlen);
			CHECK(rc == (m->present[k] ? 0 : SHMEMORA_E_NOT_FOUND));
			if (m->present[k]) {
				m->version[k]++;
				m->len[k] = vlen;
				memcpy(m->val[k], val, vlen);
			}
			break;
		case 3: /* delete */
			rc = shmemora_kv_delete(r->pool, &r->root, "m", key, klen);
			CHECK(rc == (m->present[k] ? 0 : SHMEMORA_E_NOT_FOUND));
			m->present[k] = 0;
			break;
		case 4: /* cas, half with the right version */
			ver = m->version[k] + (rnd(&r->seed) & 1);
			rc = shmemora_kv_cas(r->pool, &r->root, "m", key, klen, ver, val, vlen, &nv);
			if (!m->present[k]) {
				CHECK(rc == SHMEMORA_E_NOT_FOUND);
			} else if (ver == m->version[k]) {
				CHECK(rc == 0 && nv == ver + 1);
				m->version[k] = nv;
				m->len[k] = vlen;
				memcpy(m->val[k], val, vlen);
			} else {
				CHECK(rc == SHMEMORA_E_CONFLICT);
			}
			break;
		default: /* get */
			rc = shmemora_kv_get(r->pool, &r->root, "m", key, klen, out, sizeof out, &got,
					     &ver);
			if (!m->present[k]) {
				CHECK(rc == SHMEMORA_E_NOT_FOUND);
			} else {
				CHECK(rc == 0 && got == m->len[k] && ver == m->version[k] &&
				      memcmp(out, m->val[k], got) == 0);
			}
		}
	}
	/* Finally every key agrees with the model. */
	for (int k = 0; k < KEYS; k++) {
		long i = -1;
		int rc;
		size_t klen = (size_t)snprintf(key, sizeof key, "t%d-key-%d", r->thread, k), got;
		rc = shmemora_kv_get(r->pool, &r->root, "m", key, klen, out, sizeof out, &got, NULL);
		CHECK(rc == (m->present[k] ? 0 : SHMEMORA_E_NOT_FOUND));
		if (m->present[k])
			CHECK(got == m->len[k] && memcmp(out, m->val[k], got) == 0);
	}
	free(m);
}

static void make_pool_mode(char *path, size_t n, shmemora_pool **pool, shmemora_token *root,
			   uint64_t size, enum shmemora_coherence mode)
{
	test_pool_path(path, n, "model");
	shmemora_config *cfg;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, size));
	assert_shm(0, shmemora_config_set_coherence(cfg, mode));
	assert_shm(0, shmemora_config_set_hosts(cfg, 2));
	assert_shm(0, shmemora_create(path, cfg, pool));
	shmemora_config_delete(cfg);
	char file[300];
	snprintf(file, sizeof file, "%s.root-token", path);
	assert_shm(0, shmemora_token_load(file, root));
	assert_shm(0, shmemora_ns_create(*pool, root, "m"));
}

static void make_pool(char *path, size_t n, shmemora_pool **pool, shmemora_token *root,
		      uint64_t size)
{
	make_pool_mode(path, n, pool, root, size, SHMEMORA_COHERENT);
}

/* In flush mode every write is written back and every read invalidated
 * first (CXL 2.0 without cross-host coherence): same results. */
static void flush_mode_matches_the_model_too(void **state)
{
	(void)state;
	char path[256];
	struct run r = { .thread = 0, .ops = 50000, .seed = 4242 };
	make_pool_mode(path, sizeof path, &r.pool, &r.root, 32u << 20, SHMEMORA_FLUSH);
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(r.pool, &info));
	assert_int_equal(info.coherence, SHMEMORA_FLUSH);
	run_model(&r);
	assert_int_equal(r.failures, 0);
	assert_shm(0, shmemora_detach(r.pool));
	test_remove_pool(path);
}

static void random_operations_match_the_model(void **state)
{
	(void)state;
	char path[256];
	struct run r = { .thread = 0, .ops = 200000, .seed = 12345 };
	make_pool(path, sizeof path, &r.pool, &r.root, 64u << 20);
	run_model(&r);
	assert_int_equal(r.failures, 0);
	/* The same under the `always` policy, on fresh keys. */
	assert_shm(0, shmemora_set_verify(r.pool, SHMEMORA_VERIFY_ALWAYS));
	r.thread = 9;
	r.ops = 20000;
	run_model(&r);
	assert_int_equal(r.failures, 0);
	assert_shm(0, shmemora_detach(r.pool));
	test_remove_pool(path);
}

static void *model_thread(void *arg)
{
	run_model(arg);
	return NULL;
}

static void four_threads_on_disjoint_keys_match_their_models(void **state)
{
	(void)state;
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
	make_pool(path, sizeof path, &pool, &root, 64u << 20);
	struct run runs[4];
	pthread_t th[4];
	for (int t = 0; t < 4; t++) {
		runs[t] = (struct run){ pool, root, t + 1, 100000, 777u * (unsigned)(t + 1), 0 };
		assert_int_equal(pthread_create(&th[t], NULL, model_thread, &runs[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(runs[t].failures, 0);
	}
	assert_shm(0, shmemora_detach(pool));
	test_remove_pool(path);
}

struct racer {
	shmemora_pool *pool;
	shmemora_token root;
	int use_cas;
	int ops;
	long applied;          /* puts, or compare-and-swaps that succeeded */
	int failures;
};

/* Puts, or compare-and-swaps on the version just read, of one key. */
static void *race_one_key(void *arg)
{
	struct racer *r = arg;
	uint8_t val[128];
	for (int i = 0; i < r->ops; i++) {
		size_t len = 1 + (size_t)i % sizeof val;
		memset(val, 'a' + i % 26, len);
		if (!r->use_cas) {
			r->failures += shmemora_kv_put(r->pool, &r->root, "m", "race", 4, val, len) != 0;
			r->applied++;
			continue;
		}
		uint8_t buf[128];
		size_t got;
		uint64_t v, nv;
		if (shmemora_kv_get(r->pool, &r->root, "m", "race", 4, buf, sizeof buf, &got, &v)) {
			r->failures++;
			continue;
		}
		int rc = shmemora_kv_cas(r->pool, &r->root, "m", "race", 4, v, val, len, &nv);
		if (rc == 0 && nv == v + 1)
			r->applied++;
		else if (rc != SHMEMORA_E_CONFLICT)
			r->failures++;
	}
	return NULL;
}

/*
 * Two hosts write one key at once.  Each put adds one to its version, and
 * a compare-and-swap succeeds only on the version it read: the final
 * version counts them exactly.  (A replaced entry's block is freed and, the
 * lists being LIFO, rebuilt at once at the same offset; before index slots
 * carried a build tag, a writer's CAS on the slot it had read could succeed
 * on that later entry and lose versions.)
 */
static void racing_writers_on_two_hosts_count_every_version(void **state)
{
	(void)state;
	char path[256];
	shmemora_pool *pool[2];
	shmemora_token root;
	make_pool(path, sizeof path, &pool[0], &root, 32u << 20);
	assert_shm(0, shmemora_attach(path, NULL, &pool[1]));
	for (int round = 0; round < 16; round++) {
		int use_cas = round % 2;
		int rc = shmemora_kv_delete(pool[0], &root, "m", "race", 4);
		assert_true(rc == 0 || rc == SHMEMORA_E_NOT_FOUND);
		assert_shm(0, shmemora_kv_insert(pool[0], &root, "m", "race", 4, "0", 1));
		struct racer r[2];
		pthread_t th[2];
		for (int t = 0; t < 2; t++) {
			r[t] = (struct racer){ pool[t], root, use_cas, 2000, 0, 0 };
			assert_int_equal(pthread_create(&th[t], NULL, race_one_key, &r[t]), 0);
		}
		for (int t = 0; t < 2; t++) {
			pthread_join(th[t], NULL);
			assert_int_equal(r[t].failures, 0);
		}
		uint8_t buf[128];
		size_t got;
		uint64_t version;
		assert_shm(0, shmemora_kv_get(pool[1], &root, "m", "race", 4, buf, sizeof buf, &got,
					      &version));
		assert_int_equal(version, 1 + r[0].applied + r[1].applied);
	}
	assert_shm(0, shmemora_detach(pool[1]));
	assert_shm(0, shmemora_detach(pool[0]));
	test_remove_pool(path);
}

/* 10 million put/delete operations over 10 000 live keys in a 64 MiB pool:
 * freed space is reused, so they complete without running out of space.
 * SHMEMORA_SPACE_OPS overrides the count (sanitizer builds use fewer). */
static void put_delete_loop_runs_in_constant_space(void **state)
{
	(void)state;
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
	make_pool(path, sizeof path, &pool, &root, 64u << 20);
	const char *env = getenv("SHMEMORA_SPACE_OPS");
	long ops = env ? atol(env) : 10000000L;
	enum { LIVE = 10000 };
	static int gen[LIVE];
	char key[32];
	uint8_t val[200];
	memset(val, 'v', sizeof val);
	for (int k = 0; k < LIVE; k++) {
		size_t n = (size_t)snprintf(key, sizeof key, "live-%d-0", k);
		assert_shm(0, shmemora_kv_put(pool, &root, "m", key, n, val, 100));
	}
	unsigned seed = 42;
	for (long i = 0; i < ops; i += 2) {
		int k = (int)(rnd(&seed) % LIVE);
		size_t n = (size_t)snprintf(key, sizeof key, "live-%d-%d", k, gen[k]);
		int rc = shmemora_kv_delete(pool, &root, "m", key, n);
		if (rc)
			fail_msg("op %ld delete: %s", i, shmemora_errmsg());
		gen[k]++;
		n = (size_t)snprintf(key, sizeof key, "live-%d-%d", k, gen[k]);
		rc = shmemora_kv_put(pool, &root, "m", key, n, val, 50 + rnd(&seed) % 150);
		if (rc)
			fail_msg("op %ld put: %s", i + 1, shmemora_errmsg());
	}
	shmemora_stats st = { 0 };
	assert_shm(0, shmemora_stats_get(pool, &st));
	assert_int_equal(st.keys, LIVE);
	assert_shm(0, shmemora_detach(pool));
	test_remove_pool(path);
}

struct overwriter {
	shmemora_pool *pool;
	shmemora_token root;
	unsigned seed;
	long ops;
	int failures;
};

enum { SHARED_KEYS = 64 };

static void *overwrite_shared_keys(void *arg)
{
	struct overwriter *w = arg;
	uint8_t val[100];
	memset(val, 'w', sizeof val);
	char key[32];
	for (long i = 0; i < w->ops && !w->failures; i++) {
		size_t n = (size_t)snprintf(key, sizeof key, "shared-%u",
					    rnd(&w->seed) % SHARED_KEYS);
		if (shmemora_kv_put(w->pool, &w->root, "m", key, n, val, sizeof val) != 0) {
			print_error("put: %s\n", shmemora_errmsg());
			w->failures++;
		}
	}
	return NULL;
}

/* Bytes carved from this host's extents by their bump pointers. */
static uint64_t carved_bytes(shmemora_pool *pool)
{
	protect_saved s = protect_open(&pool->prot);
	const struct heap *h = &pool->heap;
	uint64_t bytes = 0;
	for (uint64_t x = 0; x < h->extent_count; x++)
		if (ext_owner1(atomic_load(&alloc_extent(h, x)->state)) == pool->host_id + 1)
			bytes += atomic_load(&alloc_extent(h, x)->bump);
	protect_close(&pool->prot, s);
	return bytes;
}

/* Threads of one host overwrite the same few keys, so they pop the same free
 * list at once.  Every block they need is on that list, in flight or in a
 * thread's magazine: at most the live keys plus a magazine and a batch per
 * thread are ever carved.  (A pop that lost a
 * race once took the overwritten link for damage and carved a new block
 * each time, until the partition was full; 16 threads did that in seconds.) */
static void threads_overwriting_shared_keys_reuse_freed_blocks(void **state)
{
	(void)state;
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
	make_pool(path, sizeof path, &pool, &root, 64u << 20);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = cpus > 16 ? 16 : cpus < 4 ? 4 : (int)cpus;
	const char *env = getenv("SHMEMORA_SPACE_OPS");
	long ops = (env ? atol(env) : 4000000L) / threads;
	struct overwriter w[16];
	pthread_t th[16];
	uint64_t before = carved_bytes(pool);
	for (int t = 0; t < threads; t++) {
		w[t] = (struct overwriter){ pool, root, 99u * (unsigned)(t + 1), ops, 0 };
		assert_int_equal(pthread_create(&th[t], NULL, overwrite_shared_keys, &w[t]), 0);
	}
	for (int t = 0; t < threads; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(w[t].failures, 0);
	}
	int cls = entry_class_for(&pool->entries, 9, 100);
	uint64_t blocks = (carved_bytes(pool) - before) / pool->sb.size_class[cls];
	print_message("# %d threads, %ld overwrites each: %llu blocks carved for %d keys\n",
		      threads, ops, (unsigned long long)blocks, SHARED_KEYS);
	assert_true(blocks <= SHARED_KEYS + (MAG_MAX + MAG_MAX / 2 + 4u) * (unsigned)threads);
	assert_shm(0, shmemora_detach(pool));
	test_remove_pool(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_operations_match_the_model),
		cmocka_unit_test(four_threads_on_disjoint_keys_match_their_models),
		cmocka_unit_test(racing_writers_on_two_hosts_count_every_version),
		cmocka_unit_test(flush_mode_matches_the_model_too),
		cmocka_unit_test(put_delete_loop_runs_in_constant_space),
		cmocka_unit_test(threads_overwriting_shared_keys_reuse_freed_blocks),
	};
	return cmocka_run_group_tests_name("kv_model", tests, NULL, NULL);
}
