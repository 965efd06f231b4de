/*
 * test_flush.c — flush mode under the cache model (docs/coherence.md).
 *
 * Built only in the cache model tree (make build-model), where every
 * attached handle is a host with a modelled cache of its own, so two
 * handles of one pool in this process are two hosts that share memory but
 * not caches.  The first tests show the model itself: a read that skips
 * the invalidate sees the old value, a store that skips the write-back
 * stays in its host, a write-back carries its whole line, lines are
 * evicted at random, the sync area needs no call.  The rest drive every
 * operation across hosts; each is written so that removing any one
 * write-back or invalidate call site of the library fails it (the mutation
 * check, scripts/check-flush.sh, removes them one at a time).
 *
 * SHMEMORA_FLUSH_ROUNDS scales the rounds of the cross-host loops (default
 * 1; make stress runs more).
 */
#include "testutil.h"

#include "cachemodel.h"
#include "layout.h"
#include "pool.h"

#include <pthread.h>
#include <sys/wait.h>

#ifndef SHMEMORA_CACHE_MODEL
#error "test_flush is built in the cache model tree only (make build-model)"
#endif

#define NS "f"

/* Hosts of one pool: hosts[0] created it; the others attached. */
struct hosts {
	char path[256];
	shmemora_pool *h[3];
	shmemora_token root;
};

static int rounds(int base)
{
	const char *e = getenv("SHMEMORA_FLUSH_ROUNDS");
	int scale = e && atoi(e) > 0 ? atoi(e) : 1;
	return base * scale;
}

static shmemora_pool *attach(const char *path)
{
	shmemora_pool *p;
	assert_shm(0, shmemora_attach(path, NULL, &p));
	return p;
}

/* A pool of `caps` capabilities (0: default) with namespace NS and `n`
 * hosts attached. */
static void open_hosts(struct hosts *s, const char *tag, uint64_t caps, int n)
{
	memset(s, 0, sizeof *s);
	test_make_pool(s->path, sizeof s->path, tag, 16u << 20, 4, caps, NS, &s->h[0], &s->root);
	for (int i = 1; i < n; i++)
		s->h[i] = attach(s->path);
}

static void close_hosts(struct hosts *s)
{
	for (int i = 0; i < 3; i++)
		if (s->h[i])
			assert_shm(0, shmemora_detach(s->h[i]));
	test_remove_pool(s->path);
}

static struct cache_model *model_of(shmemora_pool *p)
{
	assert_non_null(p->coh.model);
	return p->coh.model;
}

/* A host's own view of raw-area byte `off`: its modelled cache. */
static uint8_t *raw_view(shmemora_pool *p, uint64_t off)
{
	return (uint8_t *)pool_region(p, REGION_RAW) + off;
}

/* What memory (not any host's cache) holds at raw offset `off`. */
static void raw_memory(struct hosts *s, uint64_t off, void *buf, size_t len)
{
	test_read_at(s->path, (off_t)(s->h[0]->sb.region[REGION_RAW].offset + off), buf, len);
}

static void raw_write(shmemora_pool *p, const shmemora_token *t, uint64_t off, const char *text)
{
	assert_shm(0, shmemora_region_write(p, t, off, text, strlen(text)));
}

static void assert_raw_reads(shmemora_pool *p, const shmemora_token *t, uint64_t off,
			     const char *text)
{
	char buf[256];
	size_t len = strlen(text);
	assert_shm(0, shmemora_region_read(p, t, off, buf, len));
	assert_memory_equal(buf, text, len);
}

static void assert_raw_compares(shmemora_pool *p, const shmemora_token *t, uint64_t off,
				const char *text)
{
	int equal = 0;
	assert_shm(0, shmemora_region_compare(p, t, off, text, strlen(text), &equal));
	assert_int_equal(equal, 1);
}

/* Reads the whole line at raw offset `off` on host p (so p caches it) and
 * returns whether it is all zero. */
static int line_is_zero(shmemora_pool *p, const shmemora_token *t, uint64_t off)
{
	uint8_t line[64], zero[64] = { 0 };
	assert_shm(0, shmemora_region_read(p, t, off, line, sizeof line));
	return memcmp(line, zero, sizeof line) == 0;
}

/* ------------------------------------------------------------ the model */

static void model_read_without_invalidate_sees_the_old_value(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "stale", 0, 2);
	cache_model_set_evict(model_of(s.h[0]), 0);
	cache_model_set_evict(model_of(s.h[1]), 0);
	raw_write(s.h[0], &s.root, 0, "old value");
	assert_raw_reads(s.h[1], &s.root, 0, "old value"); /* host 1 caches the line */
	raw_write(s.h[0], &s.root, 0, "new value");

	protect_saved o = protect_open(&s.h[1]->prot);
	char seen[10];
	memcpy(seen, raw_view(s.h[1], 0), 9);   /* a load that skips the invalidate */
	assert_memory_equal(seen, "old value", 9);
	coherence_invalidate(&s.h[1]->coh, raw_view(s.h[1], 0), 9);
	memcpy(seen, raw_view(s.h[1], 0), 9);
	assert_memory_equal(seen, "new value", 9);
	protect_close(&s.h[1]->prot, o);
	close_hosts(&s);
}

static void model_write_without_write_back_stays_in_its_host(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "dirty", 0, 2);
	cache_model_set_evict(model_of(s.h[0]), 0);
	assert_true(line_is_zero(s.h[1], &s.root, 4096));
	protect_saved o = protect_open(&s.h[0]->prot);
	memcpy(raw_view(s.h[0], 4096), "mine", 4);  /* a store that skips the write-back */
	protect_close(&s.h[0]->prot, o);
	assert_true(line_is_zero(s.h[1], &s.root, 4096));
	char mem[4];
	raw_memory(&s, 4096, mem, 4);
	assert_memory_equal(mem, "\0\0\0\0", 4);
	coherence_writeback(&s.h[0]->coh, raw_view(s.h[0], 4096), 4);
	assert_raw_reads(s.h[1], &s.root, 4096, "mine");
	close_hosts(&s);
}

/* Two hosts change different bytes of one line through their caches; each
 * writes the line back, whole: the later write-back undoes the earlier
 * host's bytes.  What hardware does, and why a write fetches the lines it
 * covers in part (raw_writes_of_two_hosts_to_one_line_both_land). */
static void model_write_back_carries_the_whole_line(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "line", 0, 2);
	for (int i = 0; i < 2; i++) {
		cache_model_set_evict(model_of(s.h[i]), 0);
		assert_true(line_is_zero(s.h[i], &s.root, 128)); /* both cache the line */
	}
	for (int i = 0; i < 2; i++) {
		protect_saved o = protect_open(&s.h[i]->prot);
		memcpy(raw_view(s.h[i], 128 + 8 * (uint64_t)i), i ? "BBBBBBBB" : "AAAAAAAA", 8);
		coherence_writeback(&s.h[i]->coh, raw_view(s.h[i], 128), 64);
		protect_close(&s.h[i]->prot, o);
	}
	char mem[16];
	raw_memory(&s, 128, mem, 16);
	assert_memory_equal(mem, "\0\0\0\0\0\0\0\0BBBBBBBB", 16);
	close_hosts(&s);
}

static void model_evicts_dirty_lines_at_random_moments(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "evict", 0, 2);
	struct cache_model *m = model_of(s.h[0]);
	cache_model_set_evict(m, 1000);
	protect_saved o = protect_open(&s.h[0]->prot);
	coherence_invalidate(&s.h[0]->coh, raw_view(s.h[0], 8192), 8); /* a line it uses */
	memcpy(raw_view(s.h[0], 8192), "evicted!", 8);  /* dirty, never written back */
	int calls = 0;
	char mem[8] = { 0 };
	while (memcmp(mem, "evicted!", 8) != 0 && calls < 100000) {
		/* Work on other lines: an eviction may pick any line of late. */
		coherence_invalidate(&s.h[0]->coh, raw_view(s.h[0], 16384), 8);
		raw_memory(&s, 8192, mem, 8);
		calls++;
	}
	protect_close(&s.h[0]->prot, o);
	assert_memory_equal(mem, "evicted!", 8);
	struct cache_model_stats st;
	cache_model_stats(m, &st);
	assert_true(st.evictions > 0);
	close_hosts(&s);
}

/* The sync area is the shared memory itself: an atomic of one host is
 * seen by the other with no call at all (flush mode's assumption). */
static void model_sync_area_is_shared_without_any_call(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "sync", 0, 2);
	uint64_t last = s.h[0]->sb.index_slots - 1;
	protect_saved o0 = protect_open(&s.h[0]->prot);
	protect_saved o1 = protect_open(&s.h[1]->prot);
	atomic_store(&s.h[0]->index.slots[last], 0x1234);
	assert_int_equal(atomic_load(&s.h[1]->index.slots[last]), 0x1234);
	atomic_store(&s.h[1]->index.slots[last], 0);
	assert_int_equal(atomic_load(&s.h[0]->index.slots[last]), 0);
	protect_close(&s.h[1]->prot, o1);
	protect_close(&s.h[0]->prot, o0);
	close_hosts(&s);
}

/* Each host's compare-and-swap on a data word succeeds in its own cache:
 * both "win".  So the library refuses the raw area's compare-and-swap in
 * flush mode. */
static void raw_compare_and_swap_is_refused_because_data_is_not_coherent(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "cas", 0, 2);
	int won = 0;
	for (int i = 0; i < 2; i++) {
		protect_saved o = protect_open(&s.h[i]->prot);
		uint64_t expect = 0;
		won += __atomic_compare_exchange_n((uint64_t *)(void *)raw_view(s.h[i], 256), &expect,
						   (uint64_t)i + 1, 0, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
		protect_close(&s.h[i]->prot, o);
	}
	assert_int_equal(won, 2);
	uint64_t expected = 0;
	int swapped = -1;
	assert_shm(SHMEMORA_E_UNSUPPORTED,
		   shmemora_region_cas64(s.h[0], &s.root, 512, &expected, 7, &swapped));
	assert_int_equal(swapped, -1);
	close_hosts(&s);
}

/* ------------------------------------------------------------ raw area */

static void raw_bytes_written_on_one_host_are_read_on_another(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "raw", 0, 2);
	char text[200];
	for (int r = 0; r < rounds(40); r++) {
		shmemora_pool *w = s.h[r % 2], *rd = s.h[1 - r % 2];
		uint64_t off = (uint64_t)(r % 5) * 64 + 1000;
		snprintf(text, sizeof text, "round %d of the raw area, %s", r,
			 "long enough to span three cache lines of the pool's raw area...");
		raw_write(w, &s.root, off, text);
		if (r % 2) /* each on its own: both must fetch the lines */
			assert_raw_compares(rd, &s.root, off, text);
		else
			assert_raw_reads(rd, &s.root, off, text);
	}
	close_hosts(&s);
}

/* Host A writes part of a line, then host B, whose cache holds the line
 * from before, writes another part: B must fetch the line before writing
 * it back, or A's bytes are lost.  Once with B's part starting inside the
 * line, once with it starting on the line and ending inside it. */
static void raw_writes_of_two_hosts_to_one_line_both_land(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "share", 0, 3);
	for (int r = 0; r < rounds(20); r++) {
		uint64_t line = 64 * (uint64_t)(r + 1);
		int b_starts_inside = r % 2;
		for (int i = 0; i < 2; i++)
			assert_true(line_is_zero(s.h[i], &s.root, line)); /* both cache it */
		char a[9], b[9];
		snprintf(a, sizeof a, "A%07d", r % 10000000);
		snprintf(b, sizeof b, "B%07d", r % 10000000);
		raw_write(s.h[0], &s.root, line + (b_starts_inside ? 0 : 8), a);
		raw_write(s.h[1], &s.root, line + (b_starts_inside ? 8 : 0), b);
		char both[17];
		snprintf(both, sizeof both, "%s%s", b_starts_inside ? a : b, b_starts_inside ? b : a);
		assert_raw_reads(s.h[2], &s.root, line, both);
	}
	close_hosts(&s);
}

/* -------------------------------------------------------------- the KV */

static size_t make_value(uint8_t *buf, size_t len, const char *key, uint64_t version)
{
	return test_value_make(buf, len, NS, key, strlen(key), version);
}

static void assert_value(shmemora_pool *p, const shmemora_token *t, const char *key,
			 const uint8_t *want, size_t want_len)
{
	static uint8_t got[8192];
	size_t len = 0;
	assert_shm(0, shmemora_kv_get(p, t, NS, key, strlen(key), got, sizeof got, &len, NULL));
	assert_int_equal(len, want_len);
	assert_memory_equal(got, want, len);
}

/* Every put replaces the other host's entry, so each host's blocks are
 * freed by the other to its lists and reused: a reader that skipped an
 * invalidate, or a writer that skipped a write-back, reads or publishes
 * another round's bytes. */
static void values_put_on_one_host_are_read_whole_on_another(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "kv", 0, 2);
	static uint8_t val[8192];
	char key[32];
	for (int r = 0; r < rounds(300); r++) {
		shmemora_pool *w = s.h[r % 2], *rd = s.h[1 - r % 2];
		snprintf(key, sizeof key, "k%d", r % 7);
		size_t len = make_value(val, 64 + (size_t)(r * 37 % 1500), key, (uint64_t)r);
		assert_shm(0, shmemora_kv_put(w, &s.root, NS, key, strlen(key), val, len));
		assert_value(rd, &s.root, key, val, len);
		shmemora_kv_item item = { .key = key, .key_len = strlen(key), .buf = (uint8_t[8192]){ 0 },
					  .cap = 8192 };
		assert_shm(0, shmemora_kv_multi_get(rd, &s.root, NS, &item, 1));
		assert_shm(0, item.rc);
		assert_int_equal(item.value_len, len);
		assert_memory_equal(item.buf, val, len);
	}
	close_hosts(&s);
}

static void deletes_and_reinserts_are_seen_on_another_host(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "del", 0, 2);
	static uint8_t val[4096];
	char key[32];
	static uint8_t buf[4096];
	size_t got;
	for (int r = 0; r < rounds(150); r++) {
		shmemora_pool *a = s.h[r % 2], *b = s.h[1 - r % 2];
		snprintf(key, sizeof key, "d%d", r % 3);
		size_t len = make_value(val, 64 + (size_t)(r * 53 % 900), key, (uint64_t)r);
		int rc = shmemora_kv_insert(a, &s.root, NS, key, strlen(key), val, len);
		assert_true(rc == 0 || rc == SHMEMORA_E_EXISTS);
		if (rc == SHMEMORA_E_EXISTS)
			assert_shm(0, shmemora_kv_update(a, &s.root, NS, key, strlen(key), val, len));
		assert_value(b, &s.root, key, val, len);
		assert_shm(0, shmemora_kv_delete(b, &s.root, NS, key, strlen(key)));
		assert_shm(SHMEMORA_E_NOT_FOUND, shmemora_kv_get(a, &s.root, NS, key, strlen(key), buf,
								 sizeof buf, &got, NULL));
		assert_shm(0, shmemora_kv_insert(a, &s.root, NS, key, strlen(key), val, len));
		assert_value(b, &s.root, key, val, len);
	}
	close_hosts(&s);
}

struct scan_seen {
	int count;
	uint64_t round;       /* the version every value names */
	uint8_t seen[64];
};

static int note_scanned(void *arg, const shmemora_scan_item *item)
{
	struct scan_seen *sc = arg;
	uint64_t version;
	char key[300];
	assert_true(item->key_len < sizeof key);
	memcpy(key, item->key, item->key_len);
	key[item->key_len] = 0;
	/* Keys are "<i>:" and filler; the value says whose it is. */
	int i = atoi(key);
	assert_true(i >= 0 && i < 64);
	assert_true(test_value_check(item->value, item->value_len, NS, key, item->key_len,
				     &version));
	assert_int_equal(version, sc->round);
	sc->seen[i]++;
	sc->count++;
	return 0;
}

/* Long keys: a scan copies keys and values, a lookup compares the key's
 * bytes, each after dropping its cached copy of them: the reading host read
 * these blocks two rounds ago, before their writer rebuilt them. */
static void long_keys_are_compared_and_scanned_on_another_host(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "keys", 0, 2);
	static uint8_t val[4096];
	char key[300];
	for (int r = 0; r < rounds(6); r++) {
		shmemora_pool *w = s.h[r % 2], *rd = s.h[1 - r % 2];
		for (int i = 0; i < 64; i++) {
			int n = snprintf(key, sizeof key, "%d:", i);
			size_t klen = 100 + (size_t)((i * 31 + r * 7) % 180);
			memset(key + n, 'a' + (r + i) % 26, klen - (size_t)n);
			key[klen] = 0;
			size_t len = test_value_make(val, klen + 64 + (size_t)(i * 13), NS, key,
						     klen, (uint64_t)r);
			assert_shm(0, shmemora_kv_put(w, &s.root, NS, key, klen, val, len));
		}
		struct scan_seen sc = { .round = (uint64_t)r };
		uint64_t cursor = 0;
		do
			assert_shm(0, shmemora_kv_scan(rd, &s.root, NS, &cursor, 16, 1, note_scanned,
						       &sc));
		while (cursor != 0);
		assert_int_equal(sc.count, 64);
		for (int i = 0; i < 64; i++)
			assert_int_equal(sc.seen[i], 1);
		for (int i = 0; i < 64; i++) {
			int n = snprintf(key, sizeof key, "%d:", i);
			size_t klen = 100 + (size_t)((i * 31 + r * 7) % 180);
			memset(key + n, 'a' + (r + i) % 26, klen - (size_t)n);
			size_t len = test_value_make(val, klen + 64 + (size_t)(i * 13), NS, key,
						     klen, (uint64_t)r);
			static uint8_t got[4096];
			size_t glen;
			assert_shm(0, shmemora_kv_get(rd, &s.root, NS, key, klen, got, sizeof got,
						      &glen, NULL));
			assert_int_equal(glen, len);
			assert_memory_equal(got, val, len);
		}
		for (int i = 0; i < 64; i++) { /* blocks go back to lists for the next round */
			int n = snprintf(key, sizeof key, "%d:", i);
			size_t klen = 100 + (size_t)((i * 31 + r * 7) % 180);
			memset(key + n, 'a' + (r + i) % 26, klen - (size_t)n);
			assert_shm(0, shmemora_kv_delete(rd, &s.root, NS, key, klen));
		}
	}
	close_hosts(&s);
}

struct racer {
	shmemora_pool *pool;
	const shmemora_token *root;
	pthread_barrier_t *start;
	int puts;
	int failures;
};

static void *race_puts(void *arg)
{
	struct racer *r = arg;
	uint8_t val[256];
	pthread_barrier_wait(r->start); /* both at once: the puts overlap */
	for (int i = 0; i < r->puts; i++) {
		size_t len = make_value(val, 64 + (size_t)(i % 150), "race", (uint64_t)i);
		if (shmemora_kv_put(r->pool, r->root, NS, "race", 4, val, len) != 0)
			r->failures++;
	}
	return NULL;
}

struct version_watch {
	shmemora_pool *pool;
	const shmemora_token *root;
	_Atomic int *stop;
	long bad;
};

/* On a third host: versions never go back, and one version is one value. */
static void *watch_versions(void *arg)
{
	struct version_watch *w = arg;
	uint64_t last = 0, last_sum = 0;
	while (!atomic_load(w->stop)) {
		uint8_t buf[512];
		size_t len;
		uint64_t version;
		int rc = shmemora_kv_get(w->pool, w->root, NS, "race", 4, buf, sizeof buf, &len,
					 &version);
		if (rc == SHMEMORA_E_NOT_FOUND)
			continue;
		uint64_t sum = XXH3_64bits(buf, len);
		if (rc || version < last || (version == last && sum != last_sum))
			w->bad++;
		last = version;
		last_sum = sum;
	}
	return NULL;
}

/* Two hosts put one key at once; a writer that loses the race rewrites
 * the version of the entry it built before trying again.  A third host
 * watches the versions, and they count every put in the end. */
static void racing_writers_on_two_hosts_keep_versions_whole(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "race", 0, 3);
	for (int i = 0; i < 2; i++) /* a header left dirty stays so */
		cache_model_set_evict(model_of(s.h[i]), 0);
	const int puts = 1000;
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, 2);
	for (int r = 0; r < rounds(8); r++) {
		int rc = shmemora_kv_delete(s.h[2], &s.root, NS, "race", 4);
		assert_true(rc == 0 || rc == SHMEMORA_E_NOT_FOUND);
		struct racer rr[2];
		pthread_t t[2], tw;
		_Atomic int stop = 0;
		struct version_watch watch = { s.h[2], &s.root, &stop, 0 };
		assert_int_equal(pthread_create(&tw, NULL, watch_versions, &watch), 0);
		for (int i = 0; i < 2; i++) {
			rr[i] = (struct racer){ s.h[i], &s.root, &start, puts, 0 };
			assert_int_equal(pthread_create(&t[i], NULL, race_puts, &rr[i]), 0);
		}
		for (int i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			assert_int_equal(rr[i].failures, 0);
		}
		atomic_store(&stop, 1);
		pthread_join(tw, NULL);
		assert_int_equal(watch.bad, 0);
		uint8_t buf[512];
		size_t len;
		uint64_t version;
		for (int i = 2; i >= 0; i--) { /* the writers last: a read of theirs would
						 * write back what they left dirty */
			assert_shm(0, shmemora_kv_get(s.h[i], &s.root, NS, "race", 4, buf, sizeof buf,
						      &len, &version));
			assert_int_equal(version, 2 * puts);
			assert_true(test_value_check(buf, len, NS, "race", 4, NULL));
		}
	}
	pthread_barrier_destroy(&start);
	close_hosts(&s);
}

struct torn {
	shmemora_pool *pool;
	const shmemora_token *root;
	_Atomic int *stop;
	long reads, bad;
};

/* The only writer of "torn": each put's value names the version it makes. */
static void *torn_writer(void *arg)
{
	struct torn *t = arg;
	uint8_t val[600];
	for (uint64_t v = 2; v < 20000; v++) {
		size_t len = make_value(val, sizeof val, "torn", v);
		if (shmemora_kv_put(t->pool, t->root, NS, "torn", 4, val, len) != 0)
			t->bad++;
	}
	atomic_store(t->stop, 1);
	return NULL;
}

static void *torn_reader(void *arg)
{
	struct torn *t = arg;
	uint8_t buf[600];
	while (!atomic_load(t->stop)) {
		size_t len;
		uint64_t version, named;
		if (shmemora_kv_get(t->pool, t->root, NS, "torn", 4, buf, sizeof buf, &len, &version) ||
		    !test_value_check(buf, len, NS, "torn", 4, &named) || named != version)
			t->bad++;
		t->reads++;
	}
	return NULL;
}

/* One host rewrites a key without pause, its replaced blocks rebuilt at
 * once (one size class, LIFO lists); another reads it: a copy that a
 * rebuild overtook must be caught by the recheck of the header, in memory,
 * never returned (its bytes would name another version). */
static void reads_racing_rebuilds_on_another_host_are_never_torn(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "torn", 0, 2);
	uint8_t val[600];
	size_t len = make_value(val, sizeof val, "torn", 1);
	assert_shm(0, shmemora_kv_insert(s.h[0], &s.root, NS, "torn", 4, val, len));
	for (int r = 0; r < rounds(1); r++) {
		_Atomic int stop = 0;
		struct torn w = { s.h[0], &s.root, &stop, 0, 0 }, rd = { s.h[1], &s.root, &stop, 0, 0 };
		pthread_t tw, tr;
		assert_int_equal(pthread_create(&tr, NULL, torn_reader, &rd), 0);
		assert_int_equal(pthread_create(&tw, NULL, torn_writer, &w), 0);
		pthread_join(tw, NULL);
		pthread_join(tr, NULL);
		assert_int_equal(w.bad, 0);
		assert_int_equal(rd.bad, 0);
		assert_true(rd.reads > 0);
		assert_shm(0, shmemora_kv_delete(s.h[0], &s.root, NS, "torn", 4));
		assert_shm(0, shmemora_kv_insert(s.h[0], &s.root, NS, "torn", 4, val, len));
	}
	close_hosts(&s);
}

struct scan_race {
	shmemora_pool *pool;
	const shmemora_token *root;
	_Atomic int *stop;
	long scans, items, bad;
};

#define SCAN_KEYS 4

/* The only writer of keys "s0".."s3": each put's value names the version
 * it makes (an insert makes 1). */
static void *scan_race_writer(void *arg)
{
	struct scan_race *t = arg;
	uint8_t val[700];
	char key[8];
	for (uint64_t v = 2; v < 6000; v++) {
		for (int i = 0; i < SCAN_KEYS; i++) {
			snprintf(key, sizeof key, "s%d", i);
			size_t len = make_value(val, 64 + (v * 37 + (uint64_t)i * 11) % 600, key, v);
			if (shmemora_kv_put(t->pool, t->root, NS, key, 2, val, len) != 0)
				t->bad++;
		}
	}
	atomic_store(t->stop, 1);
	return NULL;
}

static int check_scanned(void *arg, const shmemora_scan_item *item)
{
	struct scan_race *t = arg;
	char key[8];
	uint64_t named;
	snprintf(key, sizeof key, "%.*s", (int)item->key_len, (const char *)item->key);
	if (!test_value_check(item->value, item->value_len, NS, key, item->key_len, &named) ||
	    named != item->version)
		t->bad++;
	t->items++;
	return 0;
}

static void *scan_race_reader(void *arg)
{
	struct scan_race *t = arg;
	while (!atomic_load(t->stop)) {
		uint64_t cursor = 0;
		do {
			if (shmemora_kv_scan(t->pool, t->root, NS, &cursor, 4, 1, check_scanned, t))
				t->bad++;
		} while (cursor != 0 && !atomic_load(t->stop));
		t->scans++;
	}
	return NULL;
}

/* A scan copies keys and values of entries its host found in the index;
 * another host rebuilds them without pause: a copy a rebuild overtook must
 * be caught by the scan's recheck of the header, in memory. */
static void scans_racing_rebuilds_on_another_host_are_never_torn(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "scanrace", 0, 2);
	/* No evictions on the reading host: one could fetch a header the scan
	 * should have fetched itself. */
	cache_model_set_evict(model_of(s.h[1]), 0);
	uint8_t val[700];
	char key[8];
	for (int i = 0; i < SCAN_KEYS; i++) {
		snprintf(key, sizeof key, "s%d", i);
		size_t len = make_value(val, 64, key, 1);
		assert_shm(0, shmemora_kv_insert(s.h[0], &s.root, NS, key, 2, val, len));
	}
	_Atomic int stop = 0;
	struct scan_race w = { s.h[0], &s.root, &stop, 0, 0, 0 };
	struct scan_race rd = { s.h[1], &s.root, &stop, 0, 0, 0 };
	pthread_t tw, tr;
	assert_int_equal(pthread_create(&tr, NULL, scan_race_reader, &rd), 0);
	assert_int_equal(pthread_create(&tw, NULL, scan_race_writer, &w), 0);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	assert_int_equal(w.bad, 0);
	assert_int_equal(rd.bad, 0);
	assert_true(rd.items > 0);
	close_hosts(&s);
}

/* The offset of the entry of `key`, found through the index (sync area). */
static uint64_t offset_of(shmemora_pool *p, const char *key)
{
	protect_saved o = protect_open(&p->prot);
	uint64_t off = 0;
	for (uint64_t i = 0; i < p->index.count && !off; i++) {
		uint64_t v = index_slot_load(&p->index, i);
		uint64_t at = v ? index_slot_offset(&p->index, v) : 0;
		struct entry_snap snap;
		if (at && entry_read(&p->entries, at, NULL, &snap) == ENTRY_OTHER &&
		    snap.key_len == strlen(key)) {
			uint8_t got[64];
			entry_copy_key(&p->entries, &snap, got);
			if (memcmp(got, key, snap.key_len) == 0)
				off = at;
		}
	}
	protect_close(&p->prot, o);
	assert_true(off != 0);
	return off;
}

/* The entry protocol's recheck, step by step: host 1 reads an entry's
 * header, host 0 replaces the key and rebuilds the freed block for another
 * key, host 1 copies the value and rechecks: the recheck must see the
 * change in memory (what a scan relies on). */
static void a_reader_whose_entry_was_rebuilt_meanwhile_sees_the_change(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "recheck", 0, 2);
	for (int i = 0; i < 2; i++)
		cache_model_set_evict(model_of(s.h[i]), 0);
	uint8_t val[200];
	for (int r = 0; r < rounds(5); r++) {
		size_t len = make_value(val, 150, "k", (uint64_t)r);
		assert_shm(0, shmemora_kv_put(s.h[0], &s.root, NS, "k", 1, val, len));
		uint64_t off = offset_of(s.h[1], "k");
		protect_saved o = protect_open(&s.h[1]->prot);
		struct entry_snap snap;
		assert_int_equal(entry_read(&s.h[1]->entries, off, NULL, &snap), ENTRY_OTHER);
		protect_close(&s.h[1]->prot, o);
		/* The block goes back to host 0's list, and comes off it at once. */
		assert_shm(0, shmemora_kv_put(s.h[0], &s.root, NS, "k", 1, val, len));
		assert_shm(0, shmemora_kv_put(s.h[0], &s.root, NS, "j", 1, val, len));
		assert_int_equal(offset_of(s.h[0], "j"), off);
		o = protect_open(&s.h[1]->prot);
		uint8_t copy[200];
		entry_copy_value(&s.h[1]->entries, &snap, copy);
		assert_false(entry_unchanged(&s.h[1]->entries, &snap));
		protect_close(&s.h[1]->prot, o);
		assert_shm(0, shmemora_kv_delete(s.h[0], &s.root, NS, "j", 1));
	}
	close_hosts(&s);
}

static shmemora_pool *attach_as(const char *path, int host)
{
	shmemora_config *cfg;
	shmemora_pool *p;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_host_id(cfg, host));
	assert_shm(0, shmemora_attach(path, cfg, &p));
	shmemora_config_delete(cfg);
	return p;
}

/* The seq in memory of the entry holding `key`. */
static uint64_t seq_in_memory(const char *path, shmemora_pool *p, const char *key)
{
	uint64_t seq;
	test_read_at(path, (off_t)offset_of(p, key), &seq, sizeof seq);
	return seq;
}

/* A block's seq counts its lives (two steps each: built even, retired
 * odd), also when the host that builds it holds its header from long ago
 * in its cache: this process built the block, left (keeping the line), a
 * child process took the same host slot and rebuilt the block three times,
 * then this process came back to the slot and built it once more. */
static void a_rebuilt_block_counts_its_lives_whatever_the_cache(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "seq", 0, 1);
	assert_int_equal(shmemora_host_id(s.h[0]), 0);
	assert_shm(0, shmemora_kv_put(s.h[0], &s.root, NS, "b", 1, "life", 4));
	assert_shm(0, shmemora_kv_delete(s.h[0], &s.root, NS, "b", 1));
	assert_shm(0, shmemora_detach(s.h[0]));
	s.h[0] = NULL;
	pid_t child = test_fork();
	assert_true(child >= 0);
	if (child == 0) {
		shmemora_pool *c;
		int bad = shmemora_attach(s.path, NULL, &c) != 0 || shmemora_host_id(c) != 0;
		for (int i = 0; i < 3 && !bad; i++)
			bad = shmemora_kv_put(c, &s.root, NS, "b", 1, "life", 4) != 0 ||
			      shmemora_kv_delete(c, &s.root, NS, "b", 1) != 0;
		bad |= !bad && shmemora_detach(c) != 0;
		_exit(bad);
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	s.h[0] = attach_as(s.path, 0);
	assert_shm(0, shmemora_kv_put(s.h[0], &s.root, NS, "b", 1, "life", 4));
	assert_int_equal(seq_in_memory(s.path, s.h[0], "b"), 2 * 5);
	close_hosts(&s);
}

/* ---------------------------------------------------------- capabilities */

static shmemora_token derive_ns(shmemora_pool *p, const shmemora_token *from, uint32_t rights)
{
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = NS, .rights = rights };
	shmemora_token t;
	assert_shm(0, shmemora_token_derive(p, from, &g, &t));
	return t;
}

/* A table of 64 entries: tokens minted on one host, in slots the other has
 * read before, are used, revoked and collected on the other. */
static void tokens_minted_on_one_host_verify_on_another(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "tok", 64, 2);
	assert_shm(0, shmemora_kv_put(s.h[0], &s.root, NS, "t", 1, "v", 1));
	for (int r = 0; r < rounds(150); r++) {
		shmemora_pool *minter = s.h[r % 2], *user = s.h[1 - r % 2];
		assert_shm(0, shmemora_set_verify(user, r % 3 ? SHMEMORA_VERIFY_CACHED
							       : SHMEMORA_VERIFY_ALWAYS));
		shmemora_token t = derive_ns(minter, &s.root, SHMEMORA_RIGHT_READ |
							      SHMEMORA_RIGHT_GRANT);
		shmemora_token child = derive_ns(user, &t, SHMEMORA_RIGHT_READ);
		char buf[4];
		size_t len;
		assert_shm(0, shmemora_kv_get(user, &child, NS, "t", 1, buf, sizeof buf, &len, NULL));
		assert_shm(0, shmemora_kv_get(minter, &child, NS, "t", 1, buf, sizeof buf, &len,
					      NULL));
		shmemora_token_info info;
		assert_shm(0, shmemora_token_inspect(user, &t, &info));
		assert_int_equal(info.owner_host, shmemora_host_id(minter));
		assert_shm(0, shmemora_token_revoke(minter, &t));
		assert_shm(SHMEMORA_E_REVOKED, shmemora_kv_get(user, &child, NS, "t", 1, buf,
								sizeof buf, &len, NULL));
		uint64_t freed;
		assert_shm(0, shmemora_token_gc(user, &freed));
		assert_int_equal(freed, 2);
	}
	close_hosts(&s);
}

/* A token verified (and cached) on one host is refused there from its next
 * access after another host revokes it, and so are its descendants. */
static void revocation_on_one_host_holds_on_another_at_its_next_access(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "revoke", 0, 2);
	assert_shm(0, shmemora_kv_put(s.h[0], &s.root, NS, "k", 1, "v", 1));
	for (int r = 0; r < rounds(30); r++) {
		shmemora_token parent = derive_ns(s.h[0], &s.root, SHMEMORA_RIGHT_READ |
								    SHMEMORA_RIGHT_GRANT);
		shmemora_token child = derive_ns(s.h[1], &parent, SHMEMORA_RIGHT_READ);
		char buf[4];
		size_t len;
		for (int i = 0; i < 3; i++) /* verified once, then from the cache */
			assert_shm(0, shmemora_kv_get(s.h[1], &child, NS, "k", 1, buf, sizeof buf,
						      &len, NULL));
		assert_shm(0, shmemora_token_revoke(s.h[0], &parent));
		assert_shm(SHMEMORA_E_REVOKED, shmemora_kv_get(s.h[1], &child, NS, "k", 1, buf,
								sizeof buf, &len, NULL));
		assert_shm(SHMEMORA_E_REVOKED, shmemora_kv_get(s.h[1], &parent, NS, "k", 1, buf,
								sizeof buf, &len, NULL));
	}
	close_hosts(&s);
}

/* ------------------------------------------------------------ namespaces */

static void namespaces_live_and_die_across_hosts(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "ns", 0, 2);
	char buf[16];
	size_t len;
	for (int r = 0; r < rounds(30); r++) {
		shmemora_pool *a = s.h[r % 2], *b = s.h[1 - r % 2];
		assert_shm(0, shmemora_ns_create(a, &s.root, "n"));
		assert_shm(SHMEMORA_E_EXISTS, shmemora_ns_create(b, &s.root, "n"));
		assert_shm(0, shmemora_kv_put(b, &s.root, "n", "k", 1, "here", 4));
		assert_shm(0, shmemora_kv_get(a, &s.root, "n", "k", 1, buf, sizeof buf, &len, NULL));
		assert_memory_equal(buf, "here", 4);
		uint64_t removed;
		assert_shm(0, shmemora_ns_delete(b, &s.root, "n", &removed));
		assert_int_equal(removed, 1);
		assert_shm(SHMEMORA_E_NOT_FOUND, shmemora_kv_get(a, &s.root, "n", "k", 1, buf,
								 sizeof buf, &len, NULL));
	}
	close_hosts(&s);
}

/* --------------------------------------------------------------- check */

static void count_finding(void *arg, const char *line)
{
	(void)line;
	(*(int *)arg)++;
}

static shmemora_check_report check_on(shmemora_pool *p, int flags)
{
	static int findings;
	shmemora_check_report r = { .on_finding = count_finding, .arg = &findings };
	assert_shm(0, shmemora_check(p, flags, &r));
	return r;
}

/* The checker's cache holds the pool as it was before the others worked:
 * it attached, looked, and left (its clean lines stay), then came back. */
static void check_on_a_host_with_a_stale_cache_finds_a_clean_pool(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "check", 0, 3);
	assert_int_equal(check_on(s.h[2], 0).problems, 0);
	assert_shm(0, shmemora_detach(s.h[2]));
	s.h[2] = NULL;
	static uint8_t val[1024];
	char key[32];
	int live = 0;
	for (int r = 0; r < rounds(200); r++) {
		shmemora_pool *w = s.h[r % 2], *other = s.h[1 - r % 2];
		snprintf(key, sizeof key, "c%d", r % 23);
		size_t len = make_value(val, 64 + (size_t)(r * 29 % 700), key, (uint64_t)r);
		assert_shm(0, shmemora_kv_put(w, &s.root, NS, key, strlen(key), val, len));
		if (r % 3 == 0) /* frees to the writer's lists from the other host */
			assert_shm(0, shmemora_kv_delete(other, &s.root, NS, key, strlen(key)));
	}
	for (int i = 0; i < 23; i++) {
		uint8_t buf[1024];
		size_t len;
		snprintf(key, sizeof key, "c%d", i);
		live += shmemora_kv_get(s.h[0], &s.root, NS, key, strlen(key), buf, sizeof buf, &len,
					NULL) == 0;
	}
	s.h[2] = attach(s.path);
	shmemora_check_report r = check_on(s.h[2], 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.keys, (uint64_t)live);
	assert_int_equal(r.leaked_blocks, 0);
	assert_true(r.free_blocks > 0);
	close_hosts(&s);
}

/* A damaged backup superblock: the checking host's cache still holds the
 * good copy, yet check finds the damage in memory and its repair reaches
 * memory. */
static void check_repairs_a_superblock_in_memory(void **state)
{
	(void)state;
	struct hosts s;
	open_hosts(&s, "sb", 0, 1);
	/* No evictions: a repair that skipped its write-back stays cached. */
	cache_model_set_evict(model_of(s.h[0]), 0);
	uint8_t junk[64], primary[512], backup[512];
	memset(junk, 0x5a, sizeof junk);
	test_write_at(s.path, SB_BACKUP_OFFSET + 64, junk, sizeof junk);
	shmemora_check_report r = check_on(s.h[0], SHMEMORA_CHECK_REPAIR);
	assert_int_equal(r.problems, 1);
	assert_int_equal(r.repaired, 1);
	test_read_at(s.path, SB_PRIMARY_OFFSET, primary, sizeof primary);
	test_read_at(s.path, SB_BACKUP_OFFSET, backup, sizeof backup);
	assert_memory_equal(primary, backup, sizeof primary);
	close_hosts(&s);
}

/* ---------------------------------------------------- create and destroy */

/* Another host attaches while the creator is still attached: the
 * superblock (read from memory by attach) and the root token's entry are
 * in memory as soon as create returns. */
static void a_pool_is_usable_by_another_host_as_soon_as_create_returns(void **state)
{
	(void)state;
	for (int r = 0; r < rounds(3); r++) {
		struct hosts s;
		open_hosts(&s, "fresh", 0, 1);
		shmemora_pool *b = attach(s.path);
		assert_shm(0, shmemora_kv_put(b, &s.root, NS, "x", 1, "y", 1));
		assert_int_equal(check_on(b, 0).problems, 0);
		assert_shm(0, shmemora_detach(b));
		close_hosts(&s);
	}
}

/* A file of distinct non-zero words: the medium a FILE@OFFSET pool lives
 * in, from 2 MiB on. */
static void fill_medium(const char *path, uint32_t salt)
{
	FILE *f = fopen(path, salt ? "r+b" : "wb");
	assert_non_null(f);
	for (uint32_t i = 0; i < (20u << 20) / 4; i++) {
		uint32_t v = (i + salt) * 2654435761u | 1;
		assert_int_equal(fwrite(&v, 4, 1, f), 1);
	}
	fclose(f);
}

static shmemora_config *medium_config(const char *file)
{
	char key[320], root[320];
	snprintf(key, sizeof key, "%s.key", file);
	snprintf(root, sizeof root, "%s.root", file);
	unlink(key);
	unlink(root);
	shmemora_config *cfg;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_key_file(cfg, key));
	assert_shm(0, shmemora_config_set_root_token_file(cfg, root));
	assert_shm(0, shmemora_config_set_hosts(cfg, 4));
	return cfg;
}

/*
 * On a medium this process used before: the creating host's cache holds
 * the old pool's lines, stale once other hosts rewrote the medium.  A
 * create that fails puts back what memory held, not those lines; a pool
 * made there is whole for another host; destroy wipes its superblocks in
 * memory.
 */
static void a_medium_is_restored_and_wiped_in_memory_whatever_the_cache(void **state)
{
	(void)state;
	char file[256], pool[300];
	test_pool_path(file, sizeof file, "medium");
	snprintf(pool, sizeof pool, "%s@2M", file);
	fill_medium(file, 0);
	shmemora_config *cfg = medium_config(file);
	shmemora_pool *p;
	assert_shm(0, shmemora_create(pool, cfg, &p)); /* this process caches the medium */
	assert_shm(0, shmemora_detach(p));
	assert_shm(0, shmemora_destroy(pool, cfg));
	fill_medium(file, 7);                          /* another host rewrites it */
	struct file_snapshot before = test_snapshot(file);
	assert_shm(0, shmemora_config_set_host_id(cfg, 9)); /* fails after writing */
	assert_shm(SHMEMORA_E_INVALID, shmemora_create(pool, cfg, &p));
	assert_unchanged(before, file);

	assert_shm(0, shmemora_config_set_host_id(cfg, -1));
	assert_shm(0, shmemora_create(pool, cfg, &p));
	shmemora_pool *b;
	assert_shm(0, shmemora_attach(pool, cfg, &b));
	assert_int_equal(check_on(b, 0).problems, 0);
	assert_shm(0, shmemora_detach(b));
	assert_shm(0, shmemora_detach(p));
	assert_shm(0, shmemora_destroy(pool, cfg));
	uint8_t sb[512], zero[512] = { 0 };
	test_read_at(file, (2 << 20) + SB_PRIMARY_OFFSET, sb, sizeof sb);
	assert_memory_equal(sb, zero, sizeof sb);
	test_read_at(file, (2 << 20) + SB_BACKUP_OFFSET, sb, sizeof sb);
	assert_memory_equal(sb, zero, sizeof sb);
	shmemora_config_delete(cfg);
	test_remove_pool(file);
	char root[320];
	snprintf(root, sizeof root, "%s.root", file);
	unlink(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(model_read_without_invalidate_sees_the_old_value),
		cmocka_unit_test(model_write_without_write_back_stays_in_its_host),
		cmocka_unit_test(model_write_back_carries_the_whole_line),
		cmocka_unit_test(model_evicts_dirty_lines_at_random_moments),
		cmocka_unit_test(model_sync_area_is_shared_without_any_call),
		cmocka_unit_test(raw_compare_and_swap_is_refused_because_data_is_not_coherent),
		cmocka_unit_test(raw_bytes_written_on_one_host_are_read_on_another),
		cmocka_unit_test(raw_writes_of_two_hosts_to_one_line_both_land),
		cmocka_unit_test(values_put_on_one_host_are_read_whole_on_another),
		cmocka_unit_test(deletes_and_reinserts_are_seen_on_another_host),
		cmocka_unit_test(long_keys_are_compared_and_scanned_on_another_host),
		cmocka_unit_test(racing_writers_on_two_hosts_keep_versions_whole),
		cmocka_unit_test(reads_racing_rebuilds_on_another_host_are_never_torn),
		cmocka_unit_test(scans_racing_rebuilds_on_another_host_are_never_torn),
		cmocka_unit_test(a_reader_whose_entry_was_rebuilt_meanwhile_sees_the_change),
		cmocka_unit_test(a_rebuilt_block_counts_its_lives_whatever_the_cache),
		cmocka_unit_test(tokens_minted_on_one_host_verify_on_another),
		cmocka_unit_test(revocation_on_one_host_holds_on_another_at_its_next_access),
		cmocka_unit_test(namespaces_live_and_die_across_hosts),
		cmocka_unit_test(check_on_a_host_with_a_stale_cache_finds_a_clean_pool),
		cmocka_unit_test(check_repairs_a_superblock_in_memory),
		cmocka_unit_test(a_pool_is_usable_by_another_host_as_soon_as_create_returns),
		cmocka_unit_test(a_medium_is_restored_and_wiped_in_memory_whatever_the_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
