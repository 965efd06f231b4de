/*
 * test_kv_hosts.c — several hosts (processes) × threads hammer shared keys
 * with puts, gets and deletes.
 *
 * Every value carries its writer, a sequence number, its length and a
 * checksum, so a reader can tell a whole value from a torn one.  Each thread
 * records, per key, its last acknowledged write with start and end times.
 * Afterwards each key's final state must be the result of one of those
 * writes that no other acknowledged write to the key started after: the
 * linearizability condition for the last write.  Runs SHMEMORA_TEST_SECONDS
 * (default 10).
 */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define HOSTS 4
#define THREADS 2
#define KEYS 64
#define MAX_PAYLOAD 400
#define MAX_VALUE (sizeof(struct value_hdr) + 16 + MAX_PAYLOAD + 8)

struct value_hdr {
	uint32_t writer;
	uint32_t len;      /* payload bytes */
	uint64_t seq;
	uint32_t key;      /* the key it was written to: a wrong-key read is caught */
	uint32_t pad;
};

struct last_write {
	uint8_t valid, is_put;
	uint64_t seq, start, end;
};

struct worker {
	shmemora_pool *pool;
	shmemora_token root;
	uint32_t writer;
	double seconds;
	struct last_write last[KEYS];
	long ops, reads, torn, errors;
	char last_error[160];
};

static void note_error(struct worker *w)
{
	w->errors++;
	snprintf(w->last_error, sizeof w->last_error, "%s", shmemora_errmsg());
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A value is whole, and of key k, when its checksum (last 8 bytes) matches
 * the rest and its header names k. */
static int value_whole(const uint8_t *v, size_t len, int k)
{
	struct value_hdr h;
	if (len < sizeof h + 8)
		return 0;
	memcpy(&h, v, sizeof h);
	uint64_t sum;
	memcpy(&sum, v + len - 8, 8);
	return h.len == len - sizeof h - 8 && h.writer < HOSTS * THREADS &&
	       h.key == (uint32_t)k && sum == XXH3_64bits(v, len - 8);
}

static size_t make_value(uint8_t *v, uint32_t writer, uint64_t seq, int k, unsigned *rs)
{
	struct value_hdr h = { writer, 16 + (*rs = *rs * 1103515245u + 12345u) % MAX_PAYLOAD, seq,
			       (uint32_t)k, 0 };
	memcpy(v, &h, sizeof h);
	for (uint32_t i = 0; i < h.len; i++)
		v[sizeof h + i] = (uint8_t)(seq + i);
	uint64_t sum = XXH3_64bits(v, sizeof h + h.len);
	memcpy(v + sizeof h + h.len, &sum, 8);
	return sizeof h + h.len + 8;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint8_t val[MAX_VALUE], out[MAX_VALUE];
	unsigned rs = 0x9e3779b9u * (w->writer + 1);
	uint64_t deadline = mono_ns() + (uint64_t)(w->seconds * 1e9), seq = 0;
	char key[16];
	while (mono_ns() < deadline) {
		for (int burst = 0; burst < 64; burst++) {
			rs = rs * 1103515245u + 12345u;
			int k = (int)((rs >> 8) % KEYS);
			unsigned op = (rs >> 20) % 100;
			size_t klen = (size_t)snprintf(key, sizeof key, "shared-%d", k);
			w->ops++;
			if (op < 50) {
				size_t n = make_value(val, w->writer, ++seq, k, &rs);
				uint64_t t0 = mono_ns();
				int rc = shmemora_kv_put(w->pool, &w->root, "s", key, klen, val, n);
				uint64_t t1 = mono_ns();
				if (rc) {
					note_error(w);
					continue;
				}
				w->last[k] = (struct last_write){ 1, 1, seq, t0, t1 };
			} else if (op < 65) {
				uint64_t t0 = mono_ns();
				int rc = shmemora_kv_delete(w->pool, &w->root, "s", key, klen);
				uint64_t t1 = mono_ns();
				if (rc == 0)
					w->last[k] = (struct last_write){ 1, 0, 0, t0, t1 };
				else if (rc != SHMEMORA_E_NOT_FOUND)
					note_error(w);
			} else {
				size_t len;
				int rc = shmemora_kv_get(w->pool, &w->root, "s", key, klen, out,
							 sizeof out, &len, NULL);
				if (rc == 0) {
					w->reads++;
					if (!value_whole(out, len, k))
						w->torn++;
				} else if (rc != SHMEMORA_E_NOT_FOUND) {
					note_error(w);
				}
			}
		}
	}
	return NULL;
}

static int host_main(const char *path, const shmemora_token *root, int host, double secs,
		     const char *logdir)
{
	shmemora_pool *pool;
	if (shmemora_attach(path, NULL, &pool))
		return 10;
	struct worker w[THREADS];
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++) {
		memset(&w[t], 0, sizeof w[t]);
		w[t].pool = pool;
		w[t].root = *root;
		w[t].writer = (uint32_t)(host * THREADS + t);
		w[t].seconds = secs;
		pthread_create(&th[t], NULL, work, &w[t]);
	}
	int bad = 0;
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		char file[512];
		snprintf(file, sizeof file, "%s-log-%u", logdir, w[t].writer);
		FILE *f = fopen(file, "wb");
		if (!f || fwrite(&w[t], sizeof w[t], 1, f) != 1)
			bad = 11;
		if (f)
			fclose(f);
		if (w[t].torn || w[t].errors) {
			fprintf(stderr, "writer %u: %ld torn reads, %ld errors (last: %s)\n",
				w[t].writer, w[t].torn, w[t].errors, w[t].last_error);
			bad = 12;
		}
	}
	if (shmemora_detach(pool))
		bad = 13;
	return bad;
}

static void hosts_share_keys_without_torn_values_or_lost_writes(void **state)
{
	(void)state;
	const char *env = getenv("SHMEMORA_TEST_SECONDS");
	double secs = env ? atof(env) : 10.0;
	char path[256], file[300];
	shmemora_pool *pool;
	shmemora_token root;
	test_make_pool(path, sizeof path, "kvhosts", 64u << 20, HOSTS + 1, 0, "s", &pool, &root);
	/* The hosts are forked while no thread of ours runs (a handle's
	 * heartbeat thread included): a child of a threaded process must not
	 * start threads under TSan, and gains nothing from our handle. */
	assert_shm(0, shmemora_detach(pool));

	pid_t kids[HOSTS];
	for (int h = 0; h < HOSTS; h++) {
		kids[h] = test_fork();
		if (kids[h] == 0)
			_exit(host_main(path, &root, h, secs, path));
	}
	for (int h = 0; h < HOSTS; h++) {
		int status;
		assert_int_equal(waitpid(kids[h], &status, 0), kids[h]);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			print_error("host %d ended with status %d\n", h, status);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_shm(0, shmemora_attach(path, NULL, &pool));

	static struct worker w[HOSTS * THREADS];
	long ops = 0, reads = 0;
	for (int i = 0; i < HOSTS * THREADS; i++) {
		snprintf(file, sizeof file, "%s-log-%d", path, i);
		test_read_at(file, 0, &w[i], sizeof w[i]);
		unlink(file);
		ops += w[i].ops;
		reads += w[i].reads;
	}
	int checked = 0;
	for (int k = 0; k < KEYS; k++) {
		char key[16];
		size_t klen = (size_t)snprintf(key, sizeof key, "shared-%d", k), len;
		uint8_t out[MAX_VALUE];
		int rc = shmemora_kv_get(pool, &root, "s", key, klen, out, sizeof out, &len, NULL);
		assert_true(rc == 0 || rc == SHMEMORA_E_NOT_FOUND);
		/* Candidates: each thread's last acknowledged write to k that no
		 * acknowledged write by anyone started after. */
		uint64_t latest_start = 0;
		for (int i = 0; i < HOSTS * THREADS; i++)
			if (w[i].last[k].valid && w[i].last[k].start > latest_start)
				latest_start = w[i].last[k].start;
		int explained = 0, any = 0;
		for (int i = 0; i < HOSTS * THREADS; i++) {
			const struct last_write *lw = &w[i].last[k];
			if (!lw->valid)
				continue;
			any = 1;
			if (lw->end < latest_start)
				continue; /* strictly followed by another write */
			if (rc == SHMEMORA_E_NOT_FOUND && !lw->is_put)
				explained = 1;
			if (rc == 0 && lw->is_put) {
				struct value_hdr h;
				memcpy(&h, out, sizeof h);
				if (value_whole(out, len, k) && h.writer == (uint32_t)i && h.seq == lw->seq)
					explained = 1;
			}
		}
		if (!any)
			explained = rc == SHMEMORA_E_NOT_FOUND;
		if (!explained)
			print_error("key %d: final state (rc %d) matches no last acknowledged write\n",
				    k, rc);
		assert_true(explained);
		checked++;
	}
	print_message("# %d hosts x %d threads, %.0f s: %ld operations, %ld whole reads, "
		      "%d keys' final states checked\n", HOSTS, THREADS, secs, ops, reads, checked);
	assert_shm(0, shmemora_detach(pool));
	test_remove_pool(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hosts_share_keys_without_torn_values_or_lost_writes),
	};
	return cmocka_run_group_tests_name("kv_hosts", tests, NULL, NULL);
}
