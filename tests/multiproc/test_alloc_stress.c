/*
 * test_alloc_stress.c — the extent allocator under churn: 4 host processes
 * x 3 threads put, overwrite and delete keys of every host, so blocks are
 * freed into other hosts' extents all the time (remote frees, batched), the
 * values' sizes move keys between size classes (extents go back and are
 * claimed again for other classes), threads end and are replaced (their
 * magazines flushed on exit), and hosts detach and attach again (their
 * extents let go and adopted).
 *
 * Each writer thread owns 64 keys that only it puts (anybody deletes them):
 * a get of one of its own keys must find exactly its last acknowledged
 * version, or nothing.  96 shared keys are put and deleted by everybody: a
 * get must find a whole value of that key (tests/testutil.h's self-checking
 * values: the namespace, the key and the version, a filler and a hash).  At
 * the end, with every host detached: each key holds its last acknowledged
 * write (own keys) or a whole value of its own (shared keys), `check` finds
 * no problem and no leaked block, and once every key is deleted every
 * extent but the namespace catalog's is free again.
 *
 * SHMEMORA_TEST_SECONDS sets the run time (default 5: make test; make
 * check-sanitize runs 3, make stress 60).  SHMEMORA_ALLOC_STRESS_KILLS=1
 * (make stress) also kills a random host with SIGKILL a few times a run
 * and starts another in its place; the killed host's unacknowledged writes
 * may or may not have landed, and `check --repair` collects what its
 * magazines held, before the final check.
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define HOSTS 4
#define THREADS 3
#define WRITERS (HOSTS * THREADS)
#define OWN 64
#define SHARED 96
#define MAX_VALUE 3000

enum { OWN_NEVER = 0, OWN_PUT = 1, OWN_DELETED = 2, OWN_DELETING = 3 };

/* One own key, in memory every process shares (it survives a kill). */
struct own_key {
	_Atomic uint64_t acked;     /* last acknowledged version put */
	_Atomic uint64_t inflight;  /* a put issued and not acknowledged, or 0 */
	_Atomic uint32_t state;     /* OWN_* of the owner's last operation */
	_Atomic uint32_t len;       /* length of the acknowledged value */
};

struct shared {
	struct own_key own[WRITERS][OWN];
	_Atomic uint64_t seq[WRITERS];  /* shared-key versions */
	_Atomic uint64_t ops, puts, deletes, remote_deletes, own_reads, shared_reads;
	_Atomic uint64_t bad_reads, errors, thread_ends, attaches;
	_Atomic int failed;
	char why[512];
};

static struct shared *S;
static char pool_path[256];
static shmemora_token root;
static double run_seconds;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((format(printf, 1, 2))) static void note_failure(const char *fmt, ...)
{
	if (atomic_exchange(&S->failed, 1))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(S->why, sizeof S->why, fmt, ap);
	va_end(ap);
}

static size_t own_key_name(char *out, size_t n, int writer, int i)
{
	return (size_t)snprintf(out, n, "own-%02d-%03d", writer, i);
}

static size_t shared_key_name(char *out, size_t n, int i)
{
	return (size_t)snprintf(out, n, "shared-%03d", i);
}

/* xorshift64*: independent bits for the operation, the key and the length. */
static uint64_t next_rand(uint64_t *rs)
{
	*rs ^= *rs >> 12;
	*rs ^= *rs << 25;
	*rs ^= *rs >> 27;
	return *rs * 0x2545F4914F6CDD1DULL;
}

/* Value lengths spread over the size classes: mostly small, some large. */
static size_t value_len(uint64_t *rs)
{
	uint64_t r = next_rand(rs) >> 16;
	if (r % 4 == 0)
		return TEST_VALUE_MIN + r / 8 % (MAX_VALUE - TEST_VALUE_MIN);
	return TEST_VALUE_MIN + r / 8 % 400;
}

struct worker {
	shmemora_pool *pool;
	int writer;
	uint64_t until, keep_from; /* from keep_from on, deletes only of its own keys */
	uint64_t rs;
};

static void own_put(struct worker *w, int i, uint8_t *val)
{
	struct own_key *o = &S->own[w->writer][i];
	char key[32];
	size_t klen = own_key_name(key, sizeof key, w->writer, i);
	uint64_t base = atomic_load(&o->acked), left = atomic_load(&o->inflight);
	uint64_t v = (left > base ? left : base) + 1;
	size_t n = test_value_make(val, value_len(&w->rs), "s", key, klen, v);
	atomic_store(&o->inflight, v);
	int rc = shmemora_kv_put(w->pool, &root, "s", key, klen, val, n);
	if (rc) {
		atomic_fetch_add(&S->errors, 1);
		note_failure("put %s: %s (%s)", key, shmemora_strerror(rc), shmemora_errmsg());
		return;
	}
	atomic_store(&o->acked, v);
	atomic_store(&o->len, (uint32_t)n);
	atomic_store(&o->state, OWN_PUT);
	atomic_store(&o->inflight, 0);
	atomic_fetch_add(&S->puts, 1);
}

static void own_delete(struct worker *w, int i)
{
	struct own_key *o = &S->own[w->writer][i];
	char key[32];
	size_t klen = own_key_name(key, sizeof key, w->writer, i);
	atomic_store(&o->state, OWN_DELETING);
	int rc = shmemora_kv_delete(w->pool, &root, "s", key, klen);
	if (rc && rc != SHMEMORA_E_NOT_FOUND) {
		atomic_fetch_add(&S->errors, 1);
		note_failure("delete %s: %s (%s)", key, shmemora_strerror(rc), shmemora_errmsg());
	}
	atomic_store(&o->state, OWN_DELETED);
	atomic_fetch_add(&S->deletes, 1);
}

/* The owner reads its own key: its last acknowledged version, or nothing
 * (another writer may delete it, nobody else puts it). */
static void own_get(struct worker *w, int i, uint8_t *buf)
{
	struct own_key *o = &S->own[w->writer][i];
	char key[32];
	size_t klen = own_key_name(key, sizeof key, w->writer, i), len = 0;
	uint64_t version = 0;
	int rc = shmemora_kv_get(w->pool, &root, "s", key, klen, buf, MAX_VALUE, &len, NULL);
	atomic_fetch_add(&S->own_reads, 1);
	if (rc == SHMEMORA_E_NOT_FOUND)
		return;
	if (rc) {
		atomic_fetch_add(&S->errors, 1);
		note_failure("get %s: %s (%s)", key, shmemora_strerror(rc), shmemora_errmsg());
		return;
	}
	/* A predecessor of this writer killed mid-operation may have left its
	 * put landed (inflight) or its delete undone (DELETING). */
	uint32_t state = atomic_load(&o->state);
	uint64_t acked = atomic_load(&o->acked), inflight = atomic_load(&o->inflight);
	int whole = test_value_check(buf, len, "s", key, klen, &version);
	int explained = whole && (((state == OWN_PUT || state == OWN_DELETING) && version == acked &&
				   len == atomic_load(&o->len)) ||
				  (inflight && version == inflight));
	if (!explained) {
		atomic_fetch_add(&S->bad_reads, 1);
		note_failure("get %s by its owner: %zu bytes, %s, version %llu; its last write: "
			     "%s, version %llu, %u bytes", key, len, whole ? "whole" : "NOT whole",
			     (unsigned long long)version, state == OWN_PUT ? "put" : "delete",
			     (unsigned long long)acked, atomic_load(&o->len));
	}
}

/* Anybody deletes a key of another writer (a remote free when the block is
 * in another host's extent). */
static void other_delete(struct worker *w)
{
	uint64_t r = next_rand(&w->rs);
	int writer = (int)(r % WRITERS), i = (int)(r >> 32) % OWN;
	if (writer == w->writer)
		writer = (writer + 1) % WRITERS;
	char key[32];
	size_t klen = own_key_name(key, sizeof key, writer, i);
	int rc = shmemora_kv_delete(w->pool, &root, "s", key, klen);
	if (rc == 0)
		atomic_fetch_add(&S->remote_deletes, 1);
	else if (rc != SHMEMORA_E_NOT_FOUND) {
		atomic_fetch_add(&S->errors, 1);
		note_failure("delete %s: %s (%s)", key, shmemora_strerror(rc), shmemora_errmsg());
	}
}

static void shared_op(struct worker *w, unsigned op, uint8_t *val)
{
	char key[32];
	int i = (int)(next_rand(&w->rs) % SHARED);
	size_t klen = shared_key_name(key, sizeof key, i), len = 0;
	int rc;
	if (op < 15) {
		uint64_t v = (uint64_t)w->writer << 40 | atomic_fetch_add(&S->seq[w->writer], 1);
		size_t n = test_value_make(val, value_len(&w->rs), "s", key, klen, v);
		rc = shmemora_kv_put(w->pool, &root, "s", key, klen, val, n);
		atomic_fetch_add(&S->puts, 1);
	} else if (op < 20) {
		rc = shmemora_kv_delete(w->pool, &root, "s", key, klen);
		atomic_fetch_add(&S->deletes, 1);
	} else {
		rc = shmemora_kv_get(w->pool, &root, "s", key, klen, val, MAX_VALUE, &len, NULL);
		atomic_fetch_add(&S->shared_reads, 1);
		if (rc == 0 && !test_value_check(val, len, "s", key, klen, NULL)) {
			atomic_fetch_add(&S->bad_reads, 1);
			note_failure("get %s: %zu bytes, not a whole value of that key", key, len);
		}
	}
	if (rc && rc != SHMEMORA_E_NOT_FOUND) {
		atomic_fetch_add(&S->errors, 1);
		note_failure("%s %s: %s (%s)", op < 15 ? "put" : op < 20 ? "delete" : "get", key,
		     shmemora_strerror(rc), shmemora_errmsg());
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint8_t *val = malloc(MAX_VALUE);
	if (!val)
		return NULL;
	while (mono_ns() < w->until && !atomic_load(&S->failed)) {
		for (int burst = 0; burst < 32; burst++) {
			uint64_t r = next_rand(&w->rs);
			unsigned op = (unsigned)(r % 100);
			int i = (int)((r >> 32) % OWN);
			if (op < 30)
				own_put(w, i, val);
			else if (op < 38)
				own_delete(w, i);
			else if (op < 50)
				own_get(w, i, val);
			else if (op < 60 && mono_ns() < w->keep_from)
				other_delete(w);
			else if (op < 60)
				own_put(w, i, val);
			else
				shared_op(w, op - 60, val);
			atomic_fetch_add(&S->ops, 1);
		}
	}
	free(val);
	atomic_fetch_add(&S->thread_ends, 1);
	return NULL; /* the thread ends: its magazine is flushed */
}

/* One host process: attaches, runs its writers in threads that end and are
 * replaced, detaches, and attaches again, until the run's end. */
static int host_main(int host, uint64_t end)
{
	uint64_t rs = 0x9e3779b97f4a7c15ULL * (uint64_t)(host + 1) ^ (uint64_t)getpid() << 20;
	uint64_t total = end - mono_ns();
	uint64_t round = total / 5 + 1, slice = round / 3 + 1;
	while (mono_ns() < end && !atomic_load(&S->failed)) {
		shmemora_pool *pool;
		int rc = shmemora_attach(pool_path, NULL, &pool);
		if (rc) {
			note_failure("host %d: attach: %s (%s)", host, shmemora_strerror(rc),
				     shmemora_errmsg());
			return 1;
		}
		atomic_fetch_add(&S->attaches, 1);
		uint64_t round_end = mono_ns() + round;
		if (round_end > end)
			round_end = end;
		while (mono_ns() < round_end && !atomic_load(&S->failed)) {
			struct worker w[THREADS];
			pthread_t th[THREADS];
			for (int t = 0; t < THREADS; t++) {
				next_rand(&rs);
				/* Threads end at different times, so one's exit meets
				 * the others' work. */
				uint64_t until = mono_ns() + slice / 2 + rs % (slice / 2 + 1);
				w[t] = (struct worker){ pool, host * THREADS + t,
							until < end ? until : end, end - total / 10,
							rs };
				if (pthread_create(&th[t], NULL, work, &w[t])) {
					note_failure("host %d: pthread_create", host);
					return 1;
				}
			}
			for (int t = 0; t < THREADS; t++)
				pthread_join(th[t], NULL);
		}
		rc = shmemora_detach(pool);
		if (rc) {
			note_failure("host %d: detach: %s (%s)", host, shmemora_strerror(rc),
				     shmemora_errmsg());
			return 1;
		}
	}
	return 0;
}

static pid_t start_host(int host, uint64_t end)
{
	pid_t kid = test_fork();
	if (kid == 0)
		_exit(host_main(host, end));
	return kid;
}

/* Every own key holds its last acknowledged write (or one in flight when
 * its writer was killed), or nothing if its owner's last act was a delete
 * (or a delete in flight); every shared key a whole value of its own. */
static void verify_keys(shmemora_pool *pool)
{
	uint8_t *buf = malloc(MAX_VALUE);
	assert_non_null(buf);
	for (int writer = 0; writer < WRITERS; writer++)
		for (int i = 0; i < OWN; i++) {
			struct own_key *o = &S->own[writer][i];
			char key[32];
			size_t klen = own_key_name(key, sizeof key, writer, i), len = 0;
			uint64_t version = 0;
			int rc = shmemora_kv_get(pool, &root, "s", key, klen, buf, MAX_VALUE, &len,
						 NULL);
			uint32_t state = atomic_load(&o->state);
			uint64_t inflight = atomic_load(&o->inflight);
			if (rc == SHMEMORA_E_NOT_FOUND) {
				continue; /* deleted, by anyone */
			}
			assert_shm(0, rc);
			int whole = test_value_check(buf, len, "s", key, klen, &version);
			int explained = whole && ((state == OWN_PUT && version == atomic_load(&o->acked)) ||
						  (inflight && version == inflight) ||
						  (state == OWN_DELETING && version == atomic_load(&o->acked)));
			if (!explained)
				print_error("%s: %zu bytes, %s, version %llu; last write %u, acked %llu, "
					    "in flight %llu\n", key, len, whole ? "whole" : "NOT whole",
					    (unsigned long long)version, state,
					    (unsigned long long)atomic_load(&o->acked),
					    (unsigned long long)inflight);
			assert_true(explained);
		}
	for (int i = 0; i < SHARED; i++) {
		char key[32];
		size_t klen = shared_key_name(key, sizeof key, i), len = 0;
		int rc = shmemora_kv_get(pool, &root, "s", key, klen, buf, MAX_VALUE, &len, NULL);
		if (rc == SHMEMORA_E_NOT_FOUND)
			continue;
		assert_shm(0, rc);
		assert_true(test_value_check(buf, len, "s", key, klen, NULL));
	}
	free(buf);
}

static void delete_everything(shmemora_pool *pool)
{
	for (int writer = 0; writer < WRITERS; writer++)
		for (int i = 0; i < OWN; i++) {
			char key[32];
			size_t klen = own_key_name(key, sizeof key, writer, i);
			int rc = shmemora_kv_delete(pool, &root, "s", key, klen);
			assert_true(rc == 0 || rc == SHMEMORA_E_NOT_FOUND);
		}
	for (int i = 0; i < SHARED; i++) {
		char key[32];
		size_t klen = shared_key_name(key, sizeof key, i);
		int rc = shmemora_kv_delete(pool, &root, "s", key, klen);
		assert_true(rc == 0 || rc == SHMEMORA_E_NOT_FOUND);
	}
}

static void print_finding(void *arg, const char *line)
{
	(void)arg;
	print_message("#   finding: %s\n", line);
}

static void hosts_churn_extents_and_magazines_without_losing_a_block(void **state)
{
	(void)state;
	const char *env = getenv("SHMEMORA_TEST_SECONDS");
	run_seconds = env ? atof(env) : 5.0;
	if (run_seconds < 0.5)
		run_seconds = 0.5;
	env = getenv("SHMEMORA_ALLOC_STRESS_KILLS");
	int kills = env && atoi(env) > 0;
	S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(S != MAP_FAILED);

	/* 16 MiB, values up to 3000 bytes: 64 KiB extents, about 240 of them.
	 * Two spare host slots: a killed host's slot is taken over at once. */
	test_pool_path(pool_path, sizeof pool_path, "allocstress");
	shmemora_config *cfg;
	shmemora_pool *pool;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, 16u << 20));
	assert_shm(0, shmemora_config_set_hosts(cfg, HOSTS + 2));
	assert_shm(0, shmemora_config_set_max_value(cfg, MAX_VALUE));
	assert_shm(0, shmemora_create(pool_path, cfg, &pool));
	shmemora_config_delete(cfg);
	char file[300];
	snprintf(file, sizeof file, "%s.root-token", pool_path);
	assert_shm(0, shmemora_token_load(file, &root));
	assert_shm(0, shmemora_ns_create(pool, &root, "s"));
	shmemora_stats st0 = { 0 };
	assert_shm(0, shmemora_stats_get(pool, &st0));
	/* No thread of ours when the hosts fork (ThreadSanitizer's rule). */
	assert_shm(0, shmemora_detach(pool));

	uint64_t start = mono_ns();
	uint64_t end = start + (uint64_t)(run_seconds * 1e9);
	pid_t kids[HOSTS];
	for (int h = 0; h < HOSTS; h++)
		kids[h] = start_host(h, end);
	int killed = 0;
	if (kills) {
		unsigned rs = (unsigned)getpid();
		/* A kill every run/8, none in the last eighth. */
		for (int k = 1; k < 8 && !atomic_load(&S->failed); k++) {
			uint64_t at = start + (uint64_t)(run_seconds * 1e9) * (uint64_t)k / 8;
			while (mono_ns() < at)
				usleep(2000);
			rs = rs * 1103515245u + 12345u;
			int h = (int)((rs >> 8) % HOSTS);
			kill(kids[h], SIGKILL);
			int status;
			waitpid(kids[h], &status, 0);
			killed++;
			kids[h] = start_host(h, end);
		}
	}
	int bad = 0;
	for (int h = 0; h < HOSTS; h++) {
		int status;
		assert_int_equal(waitpid(kids[h], &status, 0), kids[h]);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad = 1;
	}
	double took = (double)(mono_ns() - start) / 1e9;
	print_message("# %d hosts x %d threads, %.1f s%s: %llu operations (%llu puts, %llu "
		      "deletes, %llu of other writers' keys, %llu own and %llu shared reads), "
		      "%llu thread ends, %llu attaches, %d kills\n", HOSTS, THREADS, took,
		      kills ? " with kills" : "", (unsigned long long)S->ops,
		      (unsigned long long)S->puts, (unsigned long long)S->deletes,
		      (unsigned long long)S->remote_deletes, (unsigned long long)S->own_reads,
		      (unsigned long long)S->shared_reads, (unsigned long long)S->thread_ends,
		      (unsigned long long)S->attaches, killed);
	if (S->failed)
		print_error("first failure: %s\n", S->why);
	assert_int_equal(S->failed, 0);
	assert_int_equal(bad, 0);
	assert_int_equal(S->bad_reads, 0);
	assert_int_equal(S->errors, 0);

	/* An observer checks: a host slot of ours would adopt a killed host's
	 * extents, and its leaks would count as held by us. */
	shmemora_config *obs;
	assert_shm(0, shmemora_config_new(&obs));
	assert_shm(0, shmemora_config_set_observer(obs, 1));
	assert_shm(0, shmemora_attach(pool_path, obs, &pool));
	shmemora_config_delete(obs);
	shmemora_check_report r = { .tokens = &root, .token_count = 1,
				    .on_finding = print_finding };
	if (killed) {
		assert_shm(0, shmemora_check(pool, SHMEMORA_CHECK_REPAIR, &r));
		print_message("# check --repair after %d kills: %llu problems (%llu leaked blocks), "
			      "%llu repaired\n", killed, (unsigned long long)r.problems,
			      (unsigned long long)r.leaked_blocks, (unsigned long long)r.repaired);
		assert_int_equal(r.repaired, r.problems);
	}
	assert_shm(0, shmemora_check(pool, 0, &r));
	shmemora_stats st = { 0 };
	assert_shm(0, shmemora_stats_get(pool, &st));
	print_message("# all detached: check %llu problems, %llu keys, %llu live and %llu leaked "
		      "blocks; %llu remote frees, %llu extent claims, %llu returns; %llu of %llu "
		      "extents free\n", (unsigned long long)r.problems, (unsigned long long)r.keys,
		      (unsigned long long)r.live_blocks, (unsigned long long)r.leaked_blocks,
		      (unsigned long long)st.remote_frees, (unsigned long long)st.extent_claims,
		      (unsigned long long)st.extent_returns, (unsigned long long)st.extents_free,
		      (unsigned long long)st.extents);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.leaked_blocks, 0);
	assert_int_equal(r.held_blocks, 0);
	verify_keys(pool);
	assert_shm(0, shmemora_detach(pool));

	/* Emptied, every extent but the catalog's goes back. */
	assert_shm(0, shmemora_attach(pool_path, NULL, &pool));
	delete_everything(pool);
	assert_shm(0, shmemora_detach(pool));
	assert_shm(0, shmemora_attach(pool_path, NULL, &pool));
	assert_shm(0, shmemora_stats_get(pool, &st));
	assert_shm(0, shmemora_check(pool, 0, &r));
	print_message("# every key deleted: %llu of %llu extents free (%llu before the run); "
		      "check %llu problems\n", (unsigned long long)st.extents_free,
		      (unsigned long long)st.extents, (unsigned long long)st0.extents_free,
		      (unsigned long long)r.problems);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.keys, 0);
	assert_int_equal(st.extents_free, st0.extents_free);
	assert_shm(0, shmemora_detach(pool));
}

static int teardown(void **state)
{
	(void)state;
	if (pool_path[0])
		test_remove_pool(pool_path);
	if (S && S != MAP_FAILED)
		munmap(S, sizeof *S);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(hosts_churn_extents_and_magazines_without_losing_a_block,
					  teardown),
	};
	return cmocka_run_group_tests_name("alloc_stress", tests, NULL, NULL);
}
