/*
 * test_crash.c — hosts killed with SIGKILL at random moments while the
 * others keep running.
 *
 * Writer processes (one per role, each role owning its own keys) put and
 * delete, logging an INTENT record before each operation and an ACK after
 * it with write(2), so a kill loses no record the kernel has.  The
 * controller kills a random writer every few milliseconds and starts a new
 * process for its role (which takes over the dead host's slot).  At the end
 * every writer must stop on request (no deadlock), every value must be whole,
 * each key's final state must be its last acknowledged write or an
 * unacknowledged one issued after it (in flight at a kill), and
 * `check --repair` then `check` must report a clean pool.
 *
 * SHMEMORA_CRASH_KILLS sets the number of kills (default 50; `make stress`
 * runs 500).
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define ROLES 3
#define KEYS 40
#define MAX_PAYLOAD 300

enum { REC_INTENT = 1, REC_ACK = 2 };
enum { OP_PUT = 1, OP_DEL = 2 };

struct record {
	uint32_t kind, key, op, absent_after; /* absent_after: for ACK of a delete */
	uint64_t seq;
};

struct value_hdr {
	uint32_t role, key;
	uint64_t seq;
	uint32_t len, pad;
};

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static size_t make_value(uint8_t *v, uint32_t role, uint32_t key, uint64_t seq)
{
	struct value_hdr h = { role, key, seq, (uint32_t)(seq * 7 % MAX_PAYLOAD), 0 };
	memcpy(v, &h, sizeof h);
	for (uint32_t i = 0; i < h.len; i++)
		v[sizeof h + i] = (uint8_t)(seq ^ i);
	uint64_t sum = XXH3_64bits(v, sizeof h + h.len);
	memcpy(v + sizeof h + h.len, &sum, 8);
	return sizeof h + h.len + 8;
}

static int value_whole(const uint8_t *v, size_t len, struct value_hdr *h)
{
	if (len < sizeof *h + 8)
		return 0;
	memcpy(h, v, sizeof *h);
	uint64_t sum;
	memcpy(&sum, v + len - 8, 8);
	return h->len == len - sizeof *h - 8 && sum == XXH3_64bits(v, len - 8);
}

static void log_path(const char *pool, int role, char *out, size_t n)
{
	snprintf(out, n, "%s-crashlog-%d", pool, role);
}

/* A writer for `role`: resumes its sequence from its log and runs until
 * SIGTERM. */
static int writer(const char *pool_path, const shmemora_token *root, int role)
{
	char lp[512];
	log_path(pool_path, role, lp, sizeof lp);
	int fd = open(lp, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd < 0)
		return 20;
	/* A kill can cut a write(2) short: drop a partial last record (a cut
	 * INTENT was never started; a cut ACK leaves its op unacknowledged,
	 * which the check allows for). */
	off_t size = lseek(fd, 0, SEEK_END);
	if (size % (off_t)sizeof(struct record) &&
	    ftruncate(fd, size - size % (off_t)sizeof(struct record)) != 0)
		return 26;
	uint64_t seq = (uint64_t)(size / (off_t)sizeof(struct record)) + 1;
	shmemora_pool *pool;
	int rc = shmemora_attach(pool_path, NULL, &pool);
	if (rc)
		return 21;
	unsigned rs = (unsigned)getpid() * 2654435761u;
	uint8_t val[sizeof(struct value_hdr) + MAX_PAYLOAD + 8];
	char key[32];
	while (!stop) {
		rs = rs * 1103515245u + 12345u;
		uint32_t k = (rs >> 8) % KEYS;
		uint32_t op = ((rs >> 20) % 10) < 7 ? OP_PUT : OP_DEL;
		size_t klen = (size_t)snprintf(key, sizeof key, "r%d-k%u", role, k);
		struct record r = { REC_INTENT, k, op, 0, seq };
		if (write(fd, &r, sizeof r) != sizeof r)
			return 22;
		if (op == OP_PUT) {
			size_t n = make_value(val, (uint32_t)role, k, seq);
			rc = shmemora_kv_put(pool, root, "c", key, klen, val, n);
		} else {
			rc = shmemora_kv_delete(pool, root, "c", key, klen);
			if (rc == SHMEMORA_E_NOT_FOUND)
				rc = 0;
			r.absent_after = 1;
		}
		if (rc) {
			fprintf(stderr, "writer %d: %s\n", role, shmemora_errmsg());
			return 23;
		}
		r.kind = REC_ACK;
		if (write(fd, &r, sizeof r) != sizeof r)
			return 24;
		seq++;
	}
	close(fd);
	return shmemora_detach(pool) ? 25 : 0;
}

static pid_t start_writer(const char *pool, const shmemora_token *root, int role)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(writer(pool, root, role));
	return pid;
}

/* Waits for `pid` up to `seconds`; returns its status or -1 on timeout. */
static int wait_bounded(pid_t pid, double seconds)
{
	for (int i = 0; i < (int)(seconds * 100); i++) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		struct timespec ms = { 0, 10 * 1000000 };
		nanosleep(&ms, NULL);
	}
	return -1;
}

static void hosts_killed_at_random_leave_a_usable_consistent_store(void **state)
{
	(void)state;
	const char *env = getenv("SHMEMORA_CRASH_KILLS");
	int kills = env ? atoi(env) : 50;
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
	test_make_pool(path, sizeof path, "crash", 64u << 20, ROLES + 2, 0, "c", &pool, &root);
	assert_shm(0, shmemora_detach(pool));

	/* Children inherit the handler, so a SIGTERM that reaches a writer
	 * before it has run a line of its own still only asks it to stop. */
	signal(SIGTERM, on_term);
	pid_t pids[ROLES];
	for (int r = 0; r < ROLES; r++)
		pids[r] = start_writer(path, &root, r);
	unsigned rs = 12345;
	for (int i = 0; i < kills; i++) {
		rs = rs * 1103515245u + 12345u;
		struct timespec d = { 0, (long)(1 + (rs >> 8) % 15) * 1000000 };
		nanosleep(&d, NULL);
		int victim = (int)((rs >> 4) % ROLES);
		kill(pids[victim], SIGKILL);
		int status = wait_bounded(pids[victim], 10);
		assert_true(status != -1);
		/* A writer that exited by itself (not killed) failed. */
		if (WIFEXITED(status))
			fail_msg("writer %d exited with %d before it was killed", victim,
				 WEXITSTATUS(status));
		pids[victim] = start_writer(path, &root, victim);
	}
	/* Survivors and the restarted stop on request: no deadlock. */
	for (int r = 0; r < ROLES; r++)
		kill(pids[r], SIGTERM);
	for (int r = 0; r < ROLES; r++) {
		int status = wait_bounded(pids[r], 20);
		if (status == -1)
			fail_msg("writer %d did not stop: deadlock?", r);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}

	/* Verify every key against its writer's log. */
	assert_shm(0, shmemora_attach(path, NULL, &pool));
	long acked = 0, checked = 0;
	for (int r = 0; r < ROLES; r++) {
		char lp[512];
		log_path(path, r, lp, sizeof lp);
		FILE *f = fopen(lp, "rb");
		assert_non_null(f);

		/* Per key: state after the last ACK, and the unacked intents after it. */
		static struct record last_ack[KEYS];
		static uint64_t pending[KEYS][64];
		static int npending[KEYS];
		memset(last_ack, 0, sizeof last_ack);
		memset(npending, 0, sizeof npending);
		struct record rec;
		while (fread(&rec, sizeof rec, 1, f) == 1) {
			assert_true(rec.key < KEYS && (rec.kind == REC_INTENT || rec.kind == REC_ACK));

			if (rec.kind == REC_ACK) {
				last_ack[rec.key] = rec;
				npending[rec.key] = 0;
				acked++;
			} else if (npending[rec.key] < 64) {
				/* An intent; if its ACK follows, it is cleared then. */
				pending[rec.key][npending[rec.key]++] =
					rec.op == OP_PUT ? rec.seq : 0;
			}
		}
		fclose(f);
		unlink(lp);
		for (uint32_t k = 0; k < KEYS; k++) {
			char key[32];
			uint8_t out[sizeof(struct value_hdr) + MAX_PAYLOAD + 8];
			size_t klen = (size_t)snprintf(key, sizeof key, "r%d-k%u", r, k), len;
			int rc = shmemora_kv_get(pool, &root, "c", key, klen, out, sizeof out, &len, NULL);
			assert_true(rc == 0 || rc == SHMEMORA_E_NOT_FOUND);
			uint64_t got = 0; /* 0: absent */
			if (rc == 0) {
				struct value_hdr h = { 0 };
				assert_true(value_whole(out, len, &h)); /* no torn value */
				assert_int_equal(h.role, r);
				assert_int_equal(h.key, k);
				got = h.seq;
			}
			uint64_t want = last_ack[k].kind == REC_ACK && last_ack[k].op == OP_PUT
				? last_ack[k].seq : 0;
			int ok = got == want;
			for (int i = 0; i < npending[k] && !ok; i++)
				ok = got == pending[k][i]; /* applied, then killed before ACK */
			if (!ok)
				fail_msg("role %d key %u: found seq %llu, last acknowledged %llu", r, k,
					 (unsigned long long)got, (unsigned long long)want);
			checked++;
		}
	}
	/* Repair what the kills left (leaks, dead slots), then all is clean. */
	shmemora_check_report rep = { .tokens = &root, .token_count = 1 };
	assert_shm(0, shmemora_check(pool, SHMEMORA_CHECK_REPAIR, &rep));
	assert_int_equal(rep.repaired, rep.problems);
	long leaked = (long)rep.leaked_blocks;
	assert_shm(0, shmemora_check(pool, 0, &rep));
	assert_int_equal(rep.problems, 0);
	print_message("# %d kills survived, %ld acknowledged writes logged, %ld keys checked, "
		      "%ld leaked blocks repaired\n", kills, acked, checked, leaked);
	assert_shm(0, shmemora_detach(pool));
	test_remove_pool(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hosts_killed_at_random_leave_a_usable_consistent_store),
	};
	return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
