/*
 * test_alloc_races.c — adversarial tests of the extent allocator (format 3:
 * per-host extents, per-thread magazines, batched remote frees, check
 * --repair of dead hosts' extents).  Each test is one scenario in which a
 * block could be handed out twice, an extent given back while a block of
 * it is still in use, or a reader accept bytes that were never its key's.
 * Hosts are separate processes; where a scenario needs a thread stopped at
 * one instruction, the test stops it there with ptrace (single steps, or a
 * breakpoint) and drives everything else through the library.
 *
 *   remote_frees_batched_before_a_repair_are_not_freed_twice
 *       a live host's batch of remote frees into a dead host's extent is
 *       still pending when check --repair runs: repair frees those blocks
 *       as leaks, the batch frees them again when it is flushed.
 *   a_fenced_hosts_exiting_thread_leaves_its_magazine_alone
 *       a frozen host loses its slot, check --repair frees what its
 *       magazine held, a new holder reuses the blocks; the frozen host
 *       thaws and one of its threads exits: the exit flushes the magazine.
 *   a_thread_with_a_stale_extent_cannot_take_from_a_claim_in_progress
 *       claim publishes the extent as held before it resets its list and
 *       bump pointer; a thread of the same host that still names the
 *       extent as current pops a block of its previous life, which the
 *       claimer then carves again.
 *   a_stale_reader_never_returns_bytes_of_a_reclaimed_extent
 *       a reader holds a validated snapshot while the extent goes back and
 *       comes again for a smaller size class; the old seq word is then key
 *       bytes of the new life and the old MAC word is still there, so a
 *       recheck by seq and MAC (a scan's) passes over a foreign value.
 *   emptied_extents_go_back_though_their_last_frees_were_batched
 *       deleting every key of another host leaves extents stranded (held
 *       live by blocks sitting in the deleter's remote batch), so a host
 *       runs out of space in a pool that is empty.
 */
#include "testutil.h"

#include "alloc.h"
#include "entry.h"
#include "layout.h"
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#define MIB (1u << 20)

struct fixture {
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
};

static void make_pool(struct fixture *f, const char *tag, uint32_t hosts, uint32_t lease_ms)
{
	test_pool_path(f->path, sizeof f->path, tag);
	shmemora_config *cfg;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, 16 * MIB));
	assert_shm(0, shmemora_config_set_hosts(cfg, hosts));
	if (lease_ms)
		assert_shm(0, shmemora_config_set_lease_ms(cfg, lease_ms));
	assert_shm(0, shmemora_create(f->path, cfg, &f->pool));
	shmemora_config_delete(cfg);
	char file[300];
	snprintf(file, sizeof file, "%s.root-token", f->path);
	assert_shm(0, shmemora_token_load(file, &f->root));
	assert_shm(0, shmemora_ns_create(f->pool, &f->root, "t"));
}

static int setup4(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	make_pool(f, "allocrace", 4, 0);
	*state = f;
	return 0;
}

static int setup_lease(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	make_pool(f, "allocrace", 2, 400);
	*state = f;
	return 0;
}

/* Children that must not outlive a failed test (they wait for commands, or
 * are stopped): killed by the teardown. */
static pid_t lingering[8];

static void linger(pid_t kid)
{
	for (int i = 0; i < 8; i++)
		if (!lingering[i]) {
			lingering[i] = kid;
			return;
		}
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 8; i++)
		if (lingering[i]) {
			kill(lingering[i], SIGKILL);
			waitpid(lingering[i], NULL, 0);
			lingering[i] = 0;
		}
	test_pool_done(f->pool, f->path);
	free(f);
	return 0;
}

static void key_name(char *out, size_t n, const char *tag, int i)
{
	snprintf(out, n, "%s%04d", tag, i);
}

/* Puts key tag<i> with a self-checking value of `len` bytes (>= 64). */
static int put_key(shmemora_pool *p, const shmemora_token *root, const char *tag, int i,
		   size_t len)
{
	char key[32];
	uint8_t val[2048];
	key_name(key, sizeof key, tag, i);
	size_t n = test_value_make(val, len, "t", key, strlen(key), 1);
	return shmemora_kv_put(p, root, "t", key, strlen(key), val, n);
}

static int delete_key(shmemora_pool *p, const shmemora_token *root, const char *tag, int i)
{
	char key[32];
	key_name(key, sizeof key, tag, i);
	return shmemora_kv_delete(p, root, "t", key, strlen(key));
}

/* How many of keys tag<from>..tag<to-1> do not read back whole and as
 * their own (missing, or another key's bytes). */
static int lost_keys(shmemora_pool *p, const shmemora_token *root, const char *tag, int from,
		     int to)
{
	int lost = 0;
	for (int i = from; i < to; i++) {
		char key[32];
		uint8_t buf[2048];
		size_t len = 0;
		key_name(key, sizeof key, tag, i);
		int rc = shmemora_kv_get(p, root, "t", key, strlen(key), buf, sizeof buf, &len, NULL);
		if (rc != 0 || !test_value_check(buf, len, "t", key, strlen(key), NULL))
			lost++;
	}
	return lost;
}

static void print_finding(void *arg, const char *line)
{
	(void)arg;
	print_message("#   finding: %s\n", line);
}

static shmemora_check_report check(struct fixture *f, shmemora_pool *p, int flags)
{
	shmemora_check_report r = { .tokens = &f->root, .token_count = 1,
				    .on_finding = print_finding };
	assert_shm(0, shmemora_check(p, flags, &r));
	return r;
}

static int wait_status(pid_t kid)
{
	int status;
	assert_int_equal(waitpid(kid, &status, 0), kid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Attaches at slot `slot` (-1: any) in a child; 0 on success. */
static int attach_at(const char *path, int slot, shmemora_pool **p)
{
	shmemora_config *cfg;
	int rc = shmemora_config_new(&cfg);
	if (rc == 0 && slot >= 0)
		rc = shmemora_config_set_host_id(cfg, slot);
	if (rc == 0)
		rc = shmemora_attach(path, cfg, p);
	shmemora_config_delete(cfg);
	return rc;
}

/* ------------------------------------------------------------------------
 * Remote frees batched across a repair.
 *
 * Host D (a child) writes 64 keys into its extent and dies.  We delete five
 * of them: other hosts' blocks, so they wait in this thread's remote batch
 * (32 long).  check --repair judges D dead, walks its extent, finds those
 * five neither live nor on the list, sees nothing move for its grace
 * period (nothing will: the batch waits for 27 more frees) and frees them.
 * Our next 27 deletes fill the batch, which is pushed as one chain: the
 * five are pushed a second time.  Their links now close a cycle through
 * the list, and the count is five below what is live.  A new holder of D's
 * slot then carves from the looping list and builds several keys in one
 * block.
 */
static void remote_frees_batched_before_a_repair_are_not_freed_twice(void **state)
{
	struct fixture *f = *state;
	int id_pipe[2];
	assert_int_equal(pipe(id_pipe), 0);
	pid_t kid = test_fork();
	if (kid == 0) {
		shmemora_pool *p;
		if (attach_at(f->path, -1, &p))
			_exit(1);
		for (int i = 0; i < 64; i++)
			if (put_key(p, &f->root, "d", i, 100))
				_exit(2);
		uint32_t id = shmemora_host_id(p);
		if (write(id_pipe[1], &id, sizeof id) != sizeof id)
			_exit(3);
		_exit(0); /* dies attached: its slot is dead at once (same machine) */
	}
	close(id_pipe[1]); /* a child that dies before it writes: EOF, not a hang */
	uint32_t dead = UINT32_MAX;
	assert_int_equal(read(id_pipe[0], &dead, sizeof dead), sizeof dead);
	close(id_pipe[0]);
	assert_int_equal(wait_status(kid), 0);

	for (int i = 0; i < 5; i++)
		assert_shm(0, delete_key(f->pool, &f->root, "d", i));
	protect_saved s = protect_open(&f->pool->prot);
	struct magazine *m = pool_magazine(f->pool);
	uint32_t batched = m ? m->remote_count : 0;
	protect_close(&f->pool->prot, s);
	print_message("# %u remote frees wait in this thread's batch\n", batched);
	assert_int_equal(batched, 5);

	shmemora_check_report r = check(f, f->pool, SHMEMORA_CHECK_REPAIR);
	print_message("# repair: %llu problems, %llu repaired, %llu leaked blocks\n",
		      (unsigned long long)r.problems, (unsigned long long)r.repaired,
		      (unsigned long long)r.leaked_blocks);
	assert_int_equal(r.repaired, r.problems);

	for (int i = 5; i < 32; i++) /* the 32nd remote free flushes the batch */
		assert_shm(0, delete_key(f->pool, &f->root, "d", i));

	/* A new holder of the dead slot writes into the extent it adopts. */
	kid = test_fork();
	if (kid == 0) {
		shmemora_pool *p;
		if (attach_at(f->path, (int)dead, &p))
			_exit(1);
		for (int i = 0; i < 100; i++)
			if (put_key(p, &f->root, "n", i, 100))
				_exit(2);
		_exit(shmemora_detach(p) ? 3 : 0);
	}
	assert_int_equal(wait_status(kid), 0);
	int lost_new = lost_keys(f->pool, &f->root, "n", 0, 100);
	int lost_old = lost_keys(f->pool, &f->root, "d", 32, 64);
	r = check(f, f->pool, 0);
	print_message("# after the flush and 100 puts by the slot's new holder: %d of 100 new "
		      "keys and %d of 32 old keys lost; check: %llu problems\n", lost_new,
		      lost_old, (unsigned long long)r.problems);
	assert_int_equal(lost_new, 0);
	assert_int_equal(lost_old, 0);
	assert_int_equal(r.problems, 0);
}

/* ------------------------------------------------------------------------
 * A stranded pool: the last frees of emptied extents wait in a batch.
 *
 * Host W (a child, slot 2) stores 1 KiB values in every extent it can get, and
 * detaches.  We delete every one of its keys, the last round one key per
 * extent; the batch flushes every 32 remote frees, so the last few
 * extents keep one live block each, in our batch, for as long as this
 * thread does not free 32 more blocks of other hosts.  The pool is empty;
 * every extent should be free, and host V (slot 3) should store as much as
 * W did.
 */
static void emptied_extents_go_back_though_their_last_frees_were_batched(void **state)
{
	struct fixture *f = *state;
	shmemora_stats st0 = { 0 };
	assert_shm(0, shmemora_stats_get(f->pool, &st0));
	int per_pipe[2];
	assert_int_equal(pipe(per_pipe), 0);
	pid_t kid = test_fork();
	if (kid == 0) {
		shmemora_pool *p;
		if (attach_at(f->path, 2, &p))
			_exit(1);
		int32_t n = 0;
		for (;; n++) {
			int rc = put_key(p, &f->root, "w", n, 1000);
			if (rc == SHMEMORA_E_NO_SPACE)
				break;
			if (rc)
				_exit(2);
		}
		if (write(per_pipe[1], &n, sizeof n) != sizeof n)
			_exit(3);
		_exit(shmemora_detach(p) ? 4 : 0);
	}
	close(per_pipe[1]);
	int32_t stored = 0;
	assert_int_equal(read(per_pipe[0], &stored, sizeof stored), sizeof stored);
	close(per_pipe[0]);
	assert_int_equal(wait_status(kid), 0);
	shmemora_stats full = { 0 };
	assert_shm(0, shmemora_stats_get(f->pool, &full));
	/* Keys were stored in extent order: extent e holds keys e*per .. */
	uint64_t used_extents = st0.extents_free - full.extents_free;
	int per = (int)((uint64_t)stored / used_extents);
	print_message("# host W stored %d values of 1 KiB in %llu extents (%d each)\n", stored,
		      (unsigned long long)used_extents, per);
	/* Delete round by round: key j of every extent, then key j+1, ... so
	 * the last round frees one block in each extent. */
	int deleted = 0;
	for (int j = 0; j < per; j++)
		for (int i = j; i < stored; i += per) {
			assert_shm(0, delete_key(f->pool, &f->root, "w", i));
			deleted++;
		}
	assert_int_equal(deleted, stored);
	shmemora_stats after = { 0 };
	assert_shm(0, shmemora_stats_get(f->pool, &after));
	print_message("# every key deleted: %llu of %llu extents free (%llu before W wrote), "
		      "%llu bytes still counted in blocks\n",
		      (unsigned long long)after.extents_free, (unsigned long long)after.extents,
		      (unsigned long long)st0.extents_free, (unsigned long long)after.data_used);
	/* Another host (not W's slot, which would adopt W's extents) now
	 * fills the empty pool. */
	int refill_pipe[2];
	assert_int_equal(pipe(refill_pipe), 0);
	kid = test_fork();
	if (kid == 0) {
		shmemora_pool *p;
		if (attach_at(f->path, 3, &p))
			_exit(1);
		int32_t n = 0;
		for (;; n++) {
			int rc = put_key(p, &f->root, "v", n, 1000);
			if (rc == SHMEMORA_E_NO_SPACE)
				break;
			if (rc)
				_exit(2);
		}
		if (write(refill_pipe[1], &n, sizeof n) != sizeof n)
			_exit(3);
		_exit(0);
	}
	close(refill_pipe[1]);
	int32_t refilled = 0;
	assert_int_equal(read(refill_pipe[0], &refilled, sizeof refilled), sizeof refilled);
	close(refill_pipe[0]);
	assert_int_equal(wait_status(kid), 0);
	print_message("# a host filling the empty pool again stored %d values (%d the first "
		      "time)\n", refilled, stored);
	assert_int_equal(after.extents_free, st0.extents_free);
	assert_true(refilled + 32 >= stored);
}

/* ------------------------------------------------------------------------
 * ptrace: stop one thread of a child at an instruction of our choosing. */

static int trace_seize(pid_t tid)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0)
		return -1;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0)
		return -1;
	int st;
	if (waitpid(tid, &st, __WALL) != tid || !WIFSTOPPED(st))
		return -1;
	return 0;
}

/* Single-steps `tid` until pred(arg) holds (checked after each step):
 * the steps taken, or -1. */
static long step_until(pid_t tid, int (*pred)(void *), void *arg, long limit)
{
	for (long n = 1; n <= limit; n++) {
		if (ptrace(PTRACE_SINGLESTEP, tid, 0, 0) != 0)
			return -1;
		int st;
		if (waitpid(tid, &st, __WALL) != tid || !WIFSTOPPED(st))
			return -1;
		if (pred(arg))
			return n;
	}
	return -1;
}

#if defined(__x86_64__)
/* Runs `tid` to the first instruction of `fn` (a breakpoint, removed once
 * hit) and leaves it stopped there: 0, or -1. */
static int run_to(pid_t tid, void *fn)
{
	errno = 0;
	long orig = ptrace(PTRACE_PEEKTEXT, tid, fn, 0);
	if (errno)
		return -1;
	if (ptrace(PTRACE_POKETEXT, tid, fn, (void *)((orig & ~0xffL) | 0xcc)) != 0)
		return -1;
	if (ptrace(PTRACE_CONT, tid, 0, 0) != 0)
		return -1;
	int st;
	if (waitpid(tid, &st, __WALL) != tid || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP)
		return -1;
	struct user_regs_struct regs;
	if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0 || regs.rip != (uintptr_t)fn + 1)
		return -1;
	regs.rip = (uintptr_t)fn;
	if (ptrace(PTRACE_POKETEXT, tid, fn, (void *)orig) != 0 ||
	    ptrace(PTRACE_SETREGS, tid, 0, &regs) != 0)
		return -1;
	return 0;
}
#endif

/* Is ptrace of our own children allowed here? */
static int ptrace_allowed(void)
{
	pid_t kid = test_fork();
	if (kid == 0) {
		pause();
		_exit(0);
	}
	int ok = trace_seize(kid) == 0;
	kill(kid, SIGKILL);
	int st;
	waitpid(kid, &st, 0);
	return ok;
}

/* Waits up to ms for `fd` to be readable: 1 if it is. */
static int readable_within(int fd, int ms)
{
	for (int waited = 0; waited < ms; waited += 5) {
		fd_set in;
		FD_ZERO(&in);
		FD_SET(fd, &in);
		struct timeval tv = { 0, 5000 };
		if (select(fd + 1, &in, NULL, NULL, &tv) > 0)
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * A fenced host's thread exits.
 *
 * Host Z (a child, slot 1, made to look like another machine's host so
 * that only its lease speaks for it) has a thread that writes 40 keys and
 * deletes 20: its magazine holds blocks of Z's extent.  Z freezes; check
 * --repair watches it for a lease, reclaims the slot and frees those
 * blocks (a dead host's leaks).  A new holder of slot 1 writes 40 keys,
 * taking those blocks.  Z thaws and its thread ends: the thread's exit
 * flushes the magazine, pushing blocks that are now the new holder's live
 * entries onto the free list a second time.  The next writer builds over
 * them.  docs/multi-host.md: "A fenced write does not free what it built.
 * Freeing would push the block onto free lists that now belong to the
 * slot's new holder."
 */
struct zombie_thread {
	shmemora_pool *pool;
	const shmemora_token *root;
	int report, command;
};

static void *zombie_work(void *arg)
{
	struct zombie_thread *z = arg;
	int32_t held = -1;
	for (int i = 0; i < 40; i++)
		if (put_key(z->pool, z->root, "z", i, 100))
			goto out;
	for (int i = 0; i < 20; i++)
		if (delete_key(z->pool, z->root, "z", i))
			goto out;
	protect_saved s = protect_open(&z->pool->prot);
	struct magazine *m = pool_magazine(z->pool);
	held = 0;
	for (uint32_t c = 0; m && c < z->pool->heap.class_count; c++)
		held += (int32_t)m->count[c];
	protect_close(&z->pool->prot, s);
out:
	if (write(z->report, &held, sizeof held) != sizeof held)
		return NULL;
	char c;
	if (read(z->command, &c, 1) != 1) /* then end: the thread's exit flushes */
		return NULL;
	return NULL;
}

static void zombie_host(struct fixture *f, int report, int command)
{
	shmemora_pool *p;
	if (attach_at(f->path, 1, &p))
		_exit(1);
	struct zombie_thread z = { p, &f->root, report, command };
	pthread_t th;
	if (pthread_create(&th, NULL, zombie_work, &z))
		_exit(2);
	pthread_join(th, NULL);
	int32_t done = 1;
	if (write(report, &done, sizeof done) != sizeof done)
		_exit(3);
	pause(); /* killed by the test */
	_exit(0);
}

/* A host on slot 1 in a child: puts keys tag0..tag<n-1>, detaches. */
static void slot1_writer(struct fixture *f, const char *tag, int n)
{
	pid_t kid = test_fork();
	if (kid == 0) {
		shmemora_pool *p;
		if (attach_at(f->path, 1, &p))
			_exit(1);
		for (int i = 0; i < n; i++)
			if (put_key(p, &f->root, tag, i, 100))
				_exit(2);
		_exit(shmemora_detach(p) ? 3 : 0);
	}
	assert_int_equal(wait_status(kid), 0);
}

static void a_fenced_hosts_exiting_thread_leaves_its_magazine_alone(void **state)
{
	struct fixture *f = *state;
	int report[2], command[2];
	assert_int_equal(pipe(report), 0);
	assert_int_equal(pipe(command), 0);
	pid_t zombie = test_fork();
	if (zombie == 0)
		zombie_host(f, report[1], command[0]);
	linger(zombie);
	close(report[1]);
	close(command[0]);
	int32_t held = -1;
	assert_int_equal(read(report[0], &held, sizeof held), sizeof held);
	print_message("# the frozen host's thread holds %d blocks in its magazine\n", held);
	assert_true(held > 0);

	/* Another machine's host, as far as our registry can tell. */
	uint64_t at = f->pool->sb.region[REGION_REGISTRY].offset + 1 * sizeof(struct host_slot) +
		      offsetof(struct host_slot, boot_id);
	uint8_t other[16];
	memset(other, 0xab, sizeof other);
	test_write_at(f->path, (off_t)at, other, sizeof other);
	kill(zombie, SIGSTOP);

	shmemora_check_report r = check(f, f->pool, SHMEMORA_CHECK_REPAIR);
	print_message("# repair while it is frozen: %llu problems, %llu repaired, %llu leaked "
		      "blocks\n", (unsigned long long)r.problems, (unsigned long long)r.repaired,
		      (unsigned long long)r.leaked_blocks);
	assert_int_equal(r.repaired, r.problems);
	assert_int_equal(r.leaked_blocks, (uint64_t)held);

	slot1_writer(f, "n", 40); /* the slot's new holder reuses those blocks */

	kill(zombie, SIGCONT);
	assert_int_equal(write(command[1], "x", 1), 1); /* its thread ends */
	int32_t done = 0;
	assert_int_equal(read(report[0], &done, sizeof done), sizeof done);
	/* The teardown kills what is left of it. */

	slot1_writer(f, "m", 40);
	int lost_n = lost_keys(f->pool, &f->root, "n", 0, 40);
	int lost_m = lost_keys(f->pool, &f->root, "m", 0, 40);
	int lost_z = lost_keys(f->pool, &f->root, "z", 20, 40);
	r = check(f, f->pool, 0);
	print_message("# after the fenced thread's exit and 40 more puts: %d of 40 keys of the "
		      "new holder lost (and %d of 40, %d of 20 of the frozen host); check: %llu "
		      "problems\n", lost_n, lost_m, lost_z, (unsigned long long)r.problems);
	assert_int_equal(lost_n + lost_m + lost_z, 0);
	assert_int_equal(r.problems, 0);
}

/* ------------------------------------------------------------------------
 * A claim in progress, seen by a thread with a stale current extent.
 *
 * claim() makes extent x held by us with one CAS, then resets its list
 * head and bump pointer: between the two, x still has the list and bump of
 * its previous life.  take() reads the host's current extent without the
 * switch lock, so a thread that read "x" before x was let go and given
 * back, and that reaches take_from() in that window, reserves and pops a
 * block of the previous life; the claimer then resets the bump pointer and
 * carves the same block again.
 *
 * In a child host (one process, one handle): extent x is claimed, two
 * blocks carved, x let go and both freed (x goes back, its list holding
 * the two).  Thread T2 allocates again and claims x; we single-step T2 until
 * x's state word changes, and leave it stopped there.  Thread T1 then
 * allocates with x as its current extent (the value its take() read
 * before x went back).  T2 continues and carves.  No block may be handed
 * to both.
 */
struct claim_race {
	shmemora_pool *pool;
	int cls;
	uint64_t x;
	int command, report;
};

static void *claim_t2(void *arg)
{
	struct claim_race *c = arg;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	uint64_t got[3] = { 0 };
	if (write(c->report, &tid, sizeof tid) != sizeof tid)
		return NULL;
	char cmd;
	if (read(c->command, &cmd, 1) != 1)
		return NULL;
	protect_saved s = protect_open(&c->pool->prot);
	for (int i = 0; i < 3; i++)
		if (alloc_block(&c->pool->heap, c->pool->host_id, NULL, c->cls, &got[i]))
			got[i] = 0;
	protect_close(&c->pool->prot, s);
	if (write(c->report, got, sizeof got) != sizeof got)
		return NULL;
	return NULL;
}

static void *claim_t1(void *arg)
{
	struct claim_race *c = arg;
	char cmd;
	if (read(c->command, &cmd, 1) != 1)
		return NULL;
	uint64_t got = 0;
	protect_saved s = protect_open(&c->pool->prot);
	/* What this thread's take() read before x was let go. */
	atomic_store(&c->pool->heap.current[c->cls], c->x + 1);
	if (alloc_block(&c->pool->heap, c->pool->host_id, NULL, c->cls, &got))
		got = 0;
	protect_close(&c->pool->prot, s);
	if (write(c->report, &got, sizeof got) != sizeof got)
		return NULL;
	return NULL;
}

struct claim_geometry {
	uint64_t record;       /* pool offset of x's extent record */
	uint64_t free_word;    /* x's state word while free */
	uint64_t old_bump;     /* its bump pointer from its previous life */
	uint64_t x;
};

static void claim_host(struct fixture *f, int geo_fd, int cmd1, int cmd2, int rep1, int rep2)
{
	shmemora_pool *p;
	if (attach_at(f->path, -1, &p))
		_exit(1);
	struct heap *h = &p->heap;
	int cls = alloc_class_for(h, 1200); /* a class nobody used yet */
	uint64_t b0, b1;
	protect_saved s = protect_open(&p->prot);
	if (alloc_block(h, p->host_id, NULL, cls, &b0) || alloc_block(h, p->host_id, NULL, cls, &b1))
		_exit(2);
	uint64_t x = alloc_extent_of(h, b0);
	alloc_adopt_host(h, p->host_id); /* x is let go (what a switch does) */
	entry_make_unreadable(&p->entries, b0);
	alloc_free(h, p->host_id, NULL, b0, cls);
	entry_make_unreadable(&p->entries, b1);
	alloc_free(h, p->host_id, NULL, b1, cls);
	struct claim_geometry g = {
		.record = (uint64_t)((uint8_t *)alloc_extent(h, x) - p->base),
		.free_word = atomic_load(&alloc_extent(h, x)->state),
		.old_bump = atomic_load(&alloc_extent(h, x)->bump),
		.x = x,
	};
	protect_close(&p->prot, s);
	if (ext_owner1(g.free_word) != 0)
		_exit(3); /* x did not go back */
	if (write(geo_fd, &g, sizeof g) != sizeof g)
		_exit(4);
	struct claim_race t1 = { p, cls, x, cmd1, rep1 }, t2 = { p, cls, x, cmd2, rep2 };
	pthread_t th1, th2;
	if (pthread_create(&th2, NULL, claim_t2, &t2) || pthread_create(&th1, NULL, claim_t1, &t1))
		_exit(5);
	pthread_join(th2, NULL);
	pthread_join(th1, NULL);
	pause(); /* killed by the test (it must not detach: the blocks are not in entries) */
	_exit(0);
}

static const _Atomic uint64_t *watched_word;
static uint64_t watched_was;
static int word_changed(void *arg)
{
	(void)arg;
	return atomic_load(watched_word) != watched_was;
}

static void a_thread_with_a_stale_extent_cannot_take_from_a_claim_in_progress(void **state)
{
	struct fixture *f = *state;
	if (!ptrace_allowed())
		skip();
	int geo[2], c1[2], c2[2], r1[2], r2[2];
	assert_int_equal(pipe(geo), 0);
	assert_int_equal(pipe(c1), 0);
	assert_int_equal(pipe(c2), 0);
	assert_int_equal(pipe(r1), 0);
	assert_int_equal(pipe(r2), 0);
	pid_t kid = test_fork();
	if (kid == 0)
		claim_host(f, geo[1], c1[0], c2[0], r1[1], r2[1]);
	linger(kid);
	close(geo[1]);
	close(c1[0]);
	close(c2[0]);
	close(r1[1]);
	close(r2[1]);
	struct claim_geometry g;
	assert_int_equal(read(geo[0], &g, sizeof g), sizeof g);
	pid_t t2;
	assert_int_equal(read(r2[0], &t2, sizeof t2), sizeof t2);

	/* Our own view of x's record, to watch the claim happen. */
	int fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	uint64_t page = g.record & ~4095ULL;
	uint8_t *map = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, (off_t)page);
	assert_true(map != MAP_FAILED);
	close(fd);
	const struct extent_record *rec = (const void *)(map + (g.record - page));
	watched_word = &rec->state;
	watched_was = g.free_word;

	assert_int_equal(trace_seize(t2), 0);
	assert_int_equal(write(c2[1], "go", 1), 1);
	long steps = step_until(t2, word_changed, NULL, 5000000);
	assert_true(steps > 0);
	uint64_t w = atomic_load(&rec->state), bump = atomic_load(&rec->bump);
	print_message("# T2 stopped %ld instructions in, right after the claim's CAS: state "
		      "%016llx (held %d, live %llu), bump %llu (from the previous life: %llu)\n",
		      steps, (unsigned long long)w, ext_held(w), (unsigned long long)ext_live(w),
		      (unsigned long long)bump, (unsigned long long)g.old_bump);

	assert_int_equal(write(c1[1], "go", 1), 1);
	int t1_done = readable_within(r1[0], 1000); /* else blocked behind T2 */
	assert_int_equal(ptrace(PTRACE_DETACH, t2, 0, 0), 0);
	uint64_t t1_got = 0, t2_got[3];
	assert_int_equal(read(r1[0], &t1_got, sizeof t1_got), sizeof t1_got);
	assert_int_equal(read(r2[0], t2_got, sizeof t2_got), sizeof t2_got);
	munmap(map, 8192);
	print_message("# T1 (%s) got block %llu; T2 got %llu, %llu, %llu\n",
		      t1_done ? "did not wait for the claim" : "waited for the claim",
		      (unsigned long long)t1_got, (unsigned long long)t2_got[0],
		      (unsigned long long)t2_got[1], (unsigned long long)t2_got[2]);
	for (int i = 0; i < 3; i++) {
		assert_true(t2_got[i] != 0);
		assert_true(t1_got != t2_got[i]);
	}
	/* The slot was left holding blocks in no entry: check --repair
	 * collects them before the teardown. */
	check(f, f->pool, SHMEMORA_CHECK_REPAIR);
}

/* ------------------------------------------------------------------------
 * A reader's recheck across an extent's change of size class.
 *
 * Extent x holds "filler" and "victim" (192-byte blocks at 0 and 192).  Two
 * readers (children, observers) find "victim" and validate its snapshot:
 * seq 2 (a fresh block's first build) and its MAC, at offset 192; one by
 * shmemora_kv_get, one by shmemora_kv_scan with values.  We stop each at
 * the first instruction of entry_copy_value.  Both keys are deleted and
 * their host detaches: x goes back.  Host A claims x for 128-byte blocks
 * and writes three keys, at 0, 128 and 256.  The key at 128 is 8 bytes,
 * 02 00 00 00 00 00 00 00: it lies at 192, where the victim's seq was; the
 * 56 bytes after it are beyond A's entry and still hold the victim's old
 * header, MAC included.  The key at 256 sits where the victim's value was.
 * The readers go on and copy their 100 value bytes (A's third entry).  A
 * get confirms its copy by its index slot (since 4b98b05): the slot no
 * longer names the victim, and it finds the key gone.  A scan confirms
 * with entry_unchanged(), which reads seq 2 and the old MAC at offset 192:
 * unchanged, so the scan hands its callback another key's bytes as the
 * victim's value.
 */
struct reader {
	pid_t pid;
	int cmd, rep;
};

static int scan_copy(void *arg, const shmemora_scan_item *item)
{
	uint8_t *out = arg; /* 4 bytes of length, then up to 256 of value */
	uint32_t n = (uint32_t)item->value_len;
	memcpy(out, &n, 4);
	if (item->value)
		memcpy(out + 4, item->value, n < 256 ? n : 256);
	return 0;
}

/* A reader of "victim0000" in namespace "v", by get or by scan: waits for
 * a command, reads once, reports rc, length and 256 bytes. */
static struct reader start_reader(struct fixture *f, int by_scan)
{
	int cmd[2], rep[2];
	assert_int_equal(pipe(cmd), 0);
	assert_int_equal(pipe(rep), 0);
	pid_t kid = test_fork();
	if (kid == 0) {
		shmemora_config *cfg;
		shmemora_pool *p;
		if (shmemora_config_new(&cfg) || shmemora_config_set_observer(cfg, 1) ||
		    shmemora_attach(f->path, cfg, &p))
			_exit(1);
		uint8_t out[4 + 256] = { 0 };
		size_t len = 0;
		uint64_t cursor = 0;
		int32_t rc;
		/* Warm: the token verified and cached, every path taken once. */
		if (by_scan)
			rc = shmemora_kv_scan(p, &f->root, "v", &cursor, 0, 1, scan_copy, out);
		else
			rc = shmemora_kv_get(p, &f->root, "v", "victim0000", 10, out + 4, 256, &len,
					     NULL);
		char c = 'r';
		if (rc || write(rep[1], &c, 1) != 1 || read(cmd[0], &c, 1) != 1)
			_exit(2);
		memset(out, 0, sizeof out);
		cursor = 0;
		if (by_scan) {
			rc = shmemora_kv_scan(p, &f->root, "v", &cursor, 0, 1, scan_copy, out);
			if (rc == 0 && memcmp(out, "\0\0\0\0", 4) == 0)
				rc = SHMEMORA_E_NOT_FOUND; /* the scan met no key */
		} else {
			rc = shmemora_kv_get(p, &f->root, "v", "victim0000", 10, out + 4, 256, &len,
					     NULL);
			uint32_t n = (uint32_t)len;
			memcpy(out, &n, 4);
		}
		if (write(rep[1], &rc, sizeof rc) != sizeof rc || write(rep[1], out, sizeof out) !=
		    sizeof out)
			_exit(3);
		_exit(0);
	}
	linger(kid);
	close(cmd[0]);
	close(rep[1]);
	char ready;
	assert_int_equal(read(rep[0], &ready, 1), 1); /* it waits for the command */
	return (struct reader){ kid, cmd[1], rep[0] };
}

/* The reader's result: 1 if it returned the victim's own value or found
 * it gone, 0 if it returned other bytes. */
static int reader_result(struct reader *r, const char *how)
{
	int32_t rc = -1;
	uint8_t out[4 + 256];
	assert_int_equal(read(r->rep, &rc, sizeof rc), sizeof rc);
	assert_int_equal(read(r->rep, out, sizeof out), sizeof out);
	uint32_t len;
	memcpy(&len, out, 4);
	if (len > 256)
		len = 256;
	char shown[101];
	uint32_t i = 0;
	for (; i < 100 && i < len; i++)
		shown[i] = out[4 + i] >= 32 && out[4 + i] < 127 ? (char)out[4 + i] : '.';
	shown[i] = 0;
	print_message("# the %s of the deleted key: rc %d, %u bytes: %s\n", how, rc, len,
		      rc == 0 ? shown : "");
	if (rc == 0)
		return test_value_check(out + 4, len, "v", "victim0000", 10, NULL);
	return rc == SHMEMORA_E_NOT_FOUND;
}

static void a_stale_reader_never_returns_bytes_of_a_reclaimed_extent(void **state)
{
	struct fixture *f = *state;
#if !defined(__x86_64__)
	skip();
#else
	if (!ptrace_allowed())
		skip();
	assert_shm(0, shmemora_ns_create(f->pool, &f->root, "v"));
	uint8_t val[128];
	size_t n = test_value_make(val, 100, "t", "filler0000", 10, 1);
	assert_shm(0, shmemora_kv_put(f->pool, &f->root, "t", "filler0000", 10, val, n));
	n = test_value_make(val, 100, "v", "victim0000", 10, 1);
	assert_shm(0, shmemora_kv_put(f->pool, &f->root, "v", "victim0000", 10, val, n));
	/* Where the victim is, and its seq: what an attacker guesses. */
	struct heap *h = &f->pool->heap;
	protect_saved s = protect_open(&f->pool->prot);
	uint64_t x = UINT64_MAX, victim = 0, seq = 0;
	for (uint64_t e = 0; e < h->extent_count && x == UINT64_MAX; e++) {
		uint64_t w = atomic_load(&alloc_extent(h, e)->state);
		if (ext_owner1(w) && h->class_size[ext_class(w)] == 192)
			x = e;
	}
	if (x != UINT64_MAX) {
		victim = alloc_extent_start(h, x) + 192;
		const struct kv_entry *e = (const void *)(f->pool->base + victim);
		if (e->key_len == 10 && memcmp(e + 1, "victim0000", 10) == 0)
			seq = atomic_load(&e->seq);
	}
	protect_close(&f->pool->prot, s);
	print_message("# victim at offset 192 of extent %llu: seq %llu\n", (unsigned long long)x,
		      (unsigned long long)seq);
	assert_int_equal(seq, 2);

	/* Two readers hold their snapshots, stopped before the copy. */
	struct reader r[2] = { start_reader(f, 0), start_reader(f, 1) };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(trace_seize(r[i].pid), 0);
		assert_int_equal(write(r[i].cmd, "g", 1), 1);
		assert_int_equal(run_to(r[i].pid, (void *)entry_copy_value), 0);
	}

	/* The keys go, their host detaches: the extent goes back. */
	assert_shm(0, shmemora_kv_delete(f->pool, &f->root, "t", "filler0000", 10));
	assert_shm(0, shmemora_kv_delete(f->pool, &f->root, "v", "victim0000", 10));
	assert_shm(0, shmemora_detach(f->pool));
	f->pool = NULL;
	pid_t attacker = test_fork();
	if (attacker == 0) {
		shmemora_pool *p;
		if (attach_at(f->path, 1, &p))
			_exit(1);
		uint8_t seq_bytes[8] = { 2, 0, 0, 0, 0, 0, 0, 0 };
		static const char foreign[] = "FOREIGN-BYTES-OF-ANOTHER-KEY-IN-ANOTHER-ENTRY";
		if (shmemora_kv_put(p, &f->root, "t", "a0", 2, "first", 5) ||
		    shmemora_kv_put(p, &f->root, "t", seq_bytes, 8, NULL, 0) ||
		    shmemora_kv_put(p, &f->root, "t", "a2", 2, foreign, sizeof foreign))
			_exit(2);
		_exit(shmemora_detach(p) ? 3 : 0);
	}
	assert_int_equal(wait_status(attacker), 0);

	for (int i = 0; i < 2; i++)
		assert_int_equal(ptrace(PTRACE_DETACH, r[i].pid, 0, 0), 0);
	int get_ok = reader_result(&r[0], "reader's get");
	int scan_ok = reader_result(&r[1], "reader's scan with values");
	assert_shm(0, attach_at(f->path, 0, &f->pool));
	/* Either the key is gone, or its own value. */
	assert_true(get_ok);
	assert_true(scan_ok);
#endif
}

#define T(name, set) cmocka_unit_test_setup_teardown(name, set, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(remote_frees_batched_before_a_repair_are_not_freed_twice, setup4),
		T(emptied_extents_go_back_though_their_last_frees_were_batched, setup4),
		T(a_fenced_hosts_exiting_thread_leaves_its_magazine_alone, setup_lease),
		T(a_thread_with_a_stale_extent_cannot_take_from_a_claim_in_progress, setup4),
		T(a_stale_reader_never_returns_bytes_of_a_reclaimed_extent, setup4),
	};
	if (getenv("SHMEMORA_TEST_FILTER")) /* one test by name (a glob) */
		cmocka_set_test_filter(getenv("SHMEMORA_TEST_FILTER"));
	return cmocka_run_group_tests_name("alloc_races", tests, NULL, NULL);
}
