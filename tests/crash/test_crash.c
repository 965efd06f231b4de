/*
 * test_crash.c — hosts killed with SIGKILL at random moments while the
 * others keep running.
 *
 * Writer processes (one per role, each role owning its own keys) put and
 * delete, logging an INTENT record before each operation and an ACK after
 * it with write(2), so a kill loses no record the kernel has.  The
 * controller kills a random writer every few milliseconds and starts a new
 * process for its role (which takes over the dead host's slot).
 *
 * Checked while the kills go on: each writer reads back every write it
 * acknowledged (its own key, so it must see exactly that write), and a
 * verifier host reads every key again and again against the writers' logs:
 * a key must hold its last write acknowledged before the read began, or a
 * later one, and a whole value of that key.  At the end: every writer stops
 * on request (no deadlock); each key's final state is its last
 * acknowledged write or an unacknowledged one issued after it (in flight at
 * a kill); `check` finds no more than the kills can explain (leaked blocks:
 * what each killed process held in its magazines or was building; tentative
 * slots, dead slots), and they are counted; after `check --repair` every
 * key is read once more, and `check` is clean.
 *
 * Every child asks the kernel to kill it when the test process dies, and the
 * test stops them all when it fails, so no writer outlives a failed run.
 *
 * SHMEMORA_CRASH_KILLS sets the number of kills (default 50; `make stress`
 * runs 500).
 */
#include "testutil.h"

#include "alloc.h"
#include "layout.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
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

/* Checks the hosts made, in memory shared with them. */
static struct {
	long readbacks, verified, passes;
} *tally;

/* Every child of this test, so a failure can stop them all (teardown). */
static pid_t children[16];

static void register_child(pid_t pid)
{
	for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
		if (children[i] <= 0) {
			children[i] = pid;
			return;
		}
}

static void forget_child(pid_t pid)
{
	for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static void kill_children(void)
{
	for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

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
		/* Read back what was just acknowledged: this writer alone writes
		 * this key, so exactly it must be there. */
		uint8_t back[sizeof val];
		size_t blen;
		struct value_hdr h;
		rc = shmemora_kv_get(pool, root, "c", key, klen, back, sizeof back, &blen, NULL);
		if (op == OP_PUT ? rc != 0 || !value_whole(back, blen, &h) || h.seq != seq ||
				       h.role != (uint32_t)role || h.key != k
				 : rc != SHMEMORA_E_NOT_FOUND) {
			fprintf(stderr, "writer %d: key %s does not hold the write it just "
				"acknowledged (seq %llu)\n", role, key, (unsigned long long)seq);
			return 27;
		}
		__atomic_fetch_add(&tally->readbacks, 1, __ATOMIC_RELAXED);
		seq++;
	}
	close(fd);
	return shmemora_detach(pool) ? 25 : 0;
}

/* Forks a child running fn; it dies with the test process. */
static pid_t start_child(int (*fn)(const char *, const shmemora_token *, int), const char *pool,
			 const shmemora_token *root, int role)
{
	pid_t pid = test_fork();
	if (pid == 0)
		_exit(fn(pool, root, role));
	register_child(pid);
	return pid;
}

static pid_t start_writer(const char *pool, const shmemora_token *root, int role)
{
	return start_child(writer, pool, root, role);
}

/* The last acknowledged write of each key of `role` (seq; 0: none, or a
 * delete), kept up to date by reading its log from where the last call
 * stopped (the log only grows, by whole records; a cut last record is
 * rewritten by the next writer, and is read then). */
struct log_reader {
	off_t at;
	uint64_t acked[KEYS];
};

static int last_acks(const char *pool_path, int role, struct log_reader *lr)
{
	char lp[512];
	log_path(pool_path, role, lp, sizeof lp);
	int fd = open(lp, O_RDONLY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct record rec;
	while (pread(fd, &rec, sizeof rec, lr->at) == (ssize_t)sizeof rec) {
		if (rec.kind == REC_ACK && rec.key < KEYS)
			lr->acked[rec.key] = rec.op == OP_PUT ? rec.seq : 0;
		lr->at += (off_t)sizeof rec;
	}
	close(fd);
	return 0;
}

/* Does key k of `role` hold a write at least as new as `acked` (0: no put
 * acknowledged last), as a whole value of that key?  Writes of a key are
 * in sequence order, so any later one will do. */
static int fresh_enough(shmemora_pool *pool, const shmemora_token *root, int role, uint32_t k,
			uint64_t acked)
{
	char key[32];
	uint8_t out[sizeof(struct value_hdr) + MAX_PAYLOAD + 8];
	size_t klen = (size_t)snprintf(key, sizeof key, "r%d-k%u", role, k), len;
	int rc = shmemora_kv_get(pool, root, "c", key, klen, out, sizeof out, &len, NULL);
	if (rc == SHMEMORA_E_NOT_FOUND)
		return 1; /* a delete, last acknowledged or later: writes only go forward */
	struct value_hdr h;
	if (rc || !value_whole(out, len, &h) || h.role != (uint32_t)role || h.key != k)
		return 0;
	return h.seq >= acked;
}

/* The verifier host: reads every key again and again, each against the
 * acknowledgements logged before the read began. */
static int verifier(const char *pool_path, const shmemora_token *root, int unused)
{
	(void)unused;
	shmemora_pool *pool;
	if (shmemora_attach(pool_path, NULL, &pool))
		return 31;
	static struct log_reader logs[ROLES];
	while (!stop) {
		for (int r = 0; r < ROLES && !stop; r++) {
			if (last_acks(pool_path, r, &logs[r]))
				return 32;
			for (uint32_t k = 0; k < KEYS; k++) {
				if (!fresh_enough(pool, root, r, k, logs[r].acked[k])) {
					fprintf(stderr, "verifier: role %d key %u lost an acknowledged "
						"write (seq %llu)\n", r, k,
						(unsigned long long)logs[r].acked[k]);
					return 33;
				}
				__atomic_fetch_add(&tally->verified, 1, __ATOMIC_RELAXED);
			}
		}
		__atomic_fetch_add(&tally->passes, 1, __ATOMIC_RELAXED);
	}
	return shmemora_detach(pool) ? 34 : 0;
}

/* The size classes the writers' entries use. */
static uint64_t value_classes(shmemora_pool *pool)
{
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(pool, &info));
	uint64_t smallest = ENTRY_HEADER_BYTES + 4 + sizeof(struct value_hdr);
	uint64_t largest = ENTRY_HEADER_BYTES + 16 + sizeof(struct value_hdr) + MAX_PAYLOAD;
	uint64_t n = 0;
	for (uint32_t c = 0; c < info.size_class_count; c++)
		if (info.size_classes[c] >= smallest &&
		    (c == 0 || info.size_classes[c - 1] < largest))
			n++;
	return n;
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
	test_make_pool(path, sizeof path, "crash", 64u << 20, ROLES + 3, 0, "c", &pool, &root);
	assert_shm(0, shmemora_detach(pool));
	tally = mmap(NULL, sizeof *tally, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(tally != MAP_FAILED);
	memset(tally, 0, sizeof *tally);

	/* Children inherit the handler, so a SIGTERM that reaches a writer
	 * before it has run a line of its own still only asks it to stop. */
	signal(SIGTERM, on_term);
	pid_t pids[ROLES];
	for (int r = 0; r < ROLES; r++)
		pids[r] = start_writer(path, &root, r);
	pid_t checker = start_child(verifier, path, &root, 0);
	unsigned rs = 12345;
	for (int i = 0; i < kills; i++) {
		rs = rs * 1103515245u + 12345u;
		struct timespec d = { 0, (long)(1 + (rs >> 8) % 15) * 1000000 };
		nanosleep(&d, NULL);
		int victim = (int)((rs >> 4) % ROLES);
		kill(pids[victim], SIGKILL);
		int status = wait_bounded(pids[victim], 10);
		assert_true(status != -1);
		forget_child(pids[victim]);
		/* A writer that exited by itself (not killed) failed. */
		if (WIFEXITED(status))
			fail_msg("writer %d exited with %d before it was killed", victim,
				 WEXITSTATUS(status));
		if (waitpid(checker, &status, WNOHANG) == checker)
			fail_msg("the verifier stopped (%d) while the kills went on",
				 WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
		pids[victim] = start_writer(path, &root, victim);
	}
	/* Survivors, the restarted and the verifier stop on request: no
	 * deadlock, and no failure of their own. */
	for (int r = 0; r < ROLES; r++)
		kill(pids[r], SIGTERM);
	kill(checker, SIGTERM);
	for (int r = 0; r <= ROLES; r++) {
		pid_t pid = r < ROLES ? pids[r] : checker;
		int status = wait_bounded(pid, 20);
		if (status == -1)
			fail_msg("%s %d did not stop: deadlock?", r < ROLES ? "writer" : "verifier", r);
		forget_child(pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}

	/* Verify every key against its writer's log. */
	static uint64_t final_seq[ROLES][KEYS]; /* what each key holds: seq, 0 absent */
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
			final_seq[r][k] = got;
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
	/* What check finds is what the kills can explain: per kill at most
	 * the blocks the killed process held (a magazine per size class its
	 * values use, its batch of frees into other hosts' extents, and an
	 * entry built and not yet published) and a tentative slot; no more
	 * dead slots than the writers had; nothing else. */
	shmemora_check_report rep = { .tokens = &root, .token_count = 1 };
	assert_shm(0, shmemora_check(pool, 0, &rep));
	uint64_t per_kill = (uint64_t)MAG_MAX * value_classes(pool) + REMOTE_MAX + 1;
	if (rep.leaked_blocks > per_kill * (uint64_t)kills ||
	    rep.problems > 2 * (uint64_t)kills + ROLES + 2)
		fail_msg("check found %llu problems (%llu leaked blocks) after %d kills: more than "
			 "the kills explain", (unsigned long long)rep.problems,
			 (unsigned long long)rep.leaked_blocks, kills);
	assert_shm(0, shmemora_check(pool, SHMEMORA_CHECK_REPAIR, &rep));
	assert_int_equal(rep.repaired, rep.problems);
	long leaked = (long)rep.leaked_blocks;
	assert_shm(0, shmemora_check(pool, 0, &rep));
	assert_int_equal(rep.problems, 0);
	/* The repair touched no key: each holds exactly what it held before. */
	for (int r = 0; r < ROLES; r++)
		for (uint32_t k = 0; k < KEYS; k++) {
			char key[32];
			uint8_t out[sizeof(struct value_hdr) + MAX_PAYLOAD + 8];
			size_t klen = (size_t)snprintf(key, sizeof key, "r%d-k%u", r, k), len;
			int rc = shmemora_kv_get(pool, &root, "c", key, klen, out, sizeof out, &len, NULL);
			struct value_hdr h = { 0 };
			assert_true(rc == 0 ? value_whole(out, len, &h) : rc == SHMEMORA_E_NOT_FOUND);
			assert_true((rc == 0 ? h.seq : 0) == final_seq[r][k]);
		}
	print_message("# %d kills survived, %ld acknowledged writes logged and %ld read back by "
		      "their writers, %ld reads checked by the verifier in %ld passes while the "
		      "kills went on, %ld keys checked at the end and again after repair, %ld "
		      "leaked blocks repaired\n", kills, acked, tally->readbacks, tally->verified,
		      tally->passes, checked, leaked);
	assert_shm(0, shmemora_detach(pool));
	munmap(tally, sizeof *tally);
	test_remove_pool(path);
}

/* A failed run stops every child it started. */
static int stop_children(void **state)
{
	(void)state;
	kill_children();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(hosts_killed_at_random_leave_a_usable_consistent_store,
					  stop_children),
	};
	return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
