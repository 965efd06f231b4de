/*
 * test_harden.c — MPK's known gaps (pkeys(7); Connor et al., "PKU
 * Pitfalls", USENIX Security 2020) and hardened mode.
 *
 * For each gap: a test that shows it open without hardened mode (the
 * attack works: named for what it does), and one that shows what hardened
 * mode does about it, or, where it can do nothing, that the gap is still
 * there (docs/security.md says so in words).  The gaps: a second mapping of
 * the pool (a descriptor, /proc/self/fd, the file opened again), writes
 * through /proc/self/mem, ptrace and process_vm_writev, signal handlers,
 * fork, and the secrets in software mode.
 *
 * Hardened mode cannot be undone, so every attempt runs in a forked child
 * and the test runner itself never installs the filter.  A child reports
 * the line of the first check that failed on stderr and exits non-zero;
 * CHILD_SKIP asks the parent to skip the test by name.  Tests that need
 * seccomp filters skip by name where the kernel has none; tests named mpk_
 * skip by name where the CPU has no PKU (software mode), as test_attack.c's
 * do.  Nothing that cannot run here is counted as passed.
 */
#include "testutil.h"

#include "harden.h"
#include "pool.h"
#include "protect.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#define X32_SYSCALL_BIT 0x40000000L
#define NOBODY 65534

struct fixture {
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
	uint64_t raw;         /* file offset of the raw area */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	test_make_pool(f->path, sizeof f->path, "harden", 32u << 20, 16, 0, "t", &f->pool,
		       &f->root);
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(f->pool, &info));
	f->raw = info.region_offset[SHMEMORA_REGION_RAW];
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

/* ------------------------------------------------------------ children */

#define CHILD_SKIP 77

/* In a child: report the failed check and return from the child's body. */
#define CHECK(cond)                                                                \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "child %d, line %d: %s (errno %d: %s; %s)\n", \
				(int)getpid(), __LINE__, #cond, errno, strerror(errno), \
				shmemora_errmsg());                                \
			return 1;                                                  \
		}                                                                  \
	} while (0)

typedef int (*child_fn)(struct fixture *f);

static int run_child(struct fixture *f, child_fn body)
{
	fflush(stdout);
	fflush(stderr);
	pid_t kid = test_fork();
	if (kid == 0)
		_exit(body(f)); /* _exit: no atexit handlers, no leak check in the child */
	int status;
	assert_int_equal(waitpid(kid, &status, 0), kid);
	if (WIFSIGNALED(status)) {
		print_error("child died of signal %d\n", WTERMSIG(status));
		return 1000 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

#define EXPECT_CHILD(f, body)                                                      \
	do {                                                                       \
		int rc_ = run_child(f, body);                                      \
		if (rc_ == CHILD_SKIP) {                                           \
			skip();                                                    \
			return;                                                    \
		}                                                                  \
		assert_int_equal(rc_, 0);                                          \
	} while (0)

/* Skip by name where this kernel takes no seccomp filter. */
#define NEED_SECCOMP()                                                             \
	do {                                                                       \
		if (harden_available() != 0) {                                     \
			print_message("# no seccomp filters here: %s\n", shmemora_errmsg()); \
			skip();                                                    \
			return;                                                    \
		}                                                                  \
	} while (0)

/* Skip by name where the CPU has no PKU (the handle runs in software mode). */
#define NEED_MPK(f)                                                                \
	do {                                                                       \
		if (shmemora_protection_mode((f)->pool) != SHMEMORA_PROTECT_MPK) { \
			skip(); /* no PKU on this CPU: nothing to enforce */       \
			return;                                                    \
		}                                                                  \
	} while (0)

static shmemora_pool *attach(struct fixture *f, int hardened)
{
	shmemora_config *cfg;
	shmemora_pool *p = NULL;
	if (shmemora_config_new(&cfg) != 0)
		return NULL;
	shmemora_config_set_hardened(cfg, hardened);
	if (shmemora_attach(f->path, cfg, &p) != 0)
		p = NULL;
	shmemora_config_delete(cfg);
	return p;
}

/* Writes `text` into the raw area at `off` through the library. */
static int lib_write(shmemora_pool *p, struct fixture *f, uint64_t off, const char *text)
{
	return shmemora_region_write(p, &f->root, off, text, strlen(text));
}

/* Does the raw area at `off` hold `text`, read through the library? */
static bool lib_holds(shmemora_pool *p, struct fixture *f, uint64_t off, const char *text)
{
	char buf[64] = { 0 };
	size_t n = strlen(text);
	return shmemora_region_read(p, &f->root, off, buf, n) == 0 && memcmp(buf, text, n) == 0;
}

/* Address of raw-area offset `off` in a handle's own mapping. */
static uint8_t *raw_at(shmemora_pool *p, struct fixture *f, uint64_t off)
{
	return p->base + f->raw + off;
}

/* A direct load, in a child's own process: 0 if it read, else the fault's
 * si_code (SEGV_PKUERR for a protection key, SEGV_MAPERR for no mapping). */
static sigjmp_buf fault_jump;
static volatile sig_atomic_t fault_code;
static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	fault_code = si->si_code;
	siglongjmp(fault_jump, 1);
}

static int probe_load(const volatile uint8_t *addr)
{
	struct sigaction sa = { 0 }, old;
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, &old);
	int code = 0;
	if (sigsetjmp(fault_jump, 1) == 0)
		(void)*addr;
	else
		code = fault_code ? fault_code : -1;
	sigaction(SIGSEGV, &old, NULL);
	return code;
}

/* Counts this process's descriptors that refer to the pool file, by inode
 * (fstat) and by name (readlink of /proc/self/fd). */
static int pool_descriptors(const char *path)
{
	struct stat pool;
	if (stat(path, &pool) != 0)
		return -1;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd == dirfd(d))
			continue;
		struct stat st;
		char link[64], target[512];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 1);
		target[n > 0 ? n : 0] = '\0';
		if ((fstat(fd, &st) == 0 && st.st_dev == pool.st_dev && st.st_ino == pool.st_ino) ||
		    strcmp(target, path) == 0)
			found++;
	}
	closedir(d);
	return found;
}

/* Gives the pool's files to `uid`, for a child that drops root. */
static void give_files(struct fixture *f, uid_t uid)
{
	char key[512], root[512];
	test_key_path(f->path, key, sizeof key);
	snprintf(root, sizeof root, "%s.root-token", f->path);
	assert_int_equal(chown(f->path, uid, uid), 0);
	assert_int_equal(chown(key, uid, uid), 0);
	assert_int_equal(chown(root, uid, uid), 0);
}

/* In a child: become an ordinary user (nobody) if running as root; stay
 * dumpable, as a program started by that user would be (a change of user
 * clears the flag).  Returns 0, or CHILD_SKIP if that cannot be done. */
static int become_ordinary_user(void)
{
	if (geteuid() == 0) {
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
			return CHILD_SKIP;
	}
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 0;
}

static void give_files_if_root(struct fixture *f)
{
	if (geteuid() == 0)
		give_files(f, NOBODY);
}

/* ----------------------------------------------- a descriptor of the pool */

static void no_pool_descriptor_stays_open_after_create(void **state)
{
	struct fixture *f = *state; /* setup created the pool in this process */
	assert_int_equal(pool_descriptors(f->path), 0);
}

static int attach_and_count(struct fixture *f, int hardened)
{
	shmemora_pool *p = attach(f, hardened);
	CHECK(p);
	CHECK(pool_descriptors(f->path) == 0);
	CHECK(shmemora_detach(p) == 0);
	return 0;
}
static int attach_and_count_plain(struct fixture *f) { return attach_and_count(f, 0); }
static int attach_and_count_hardened(struct fixture *f) { return attach_and_count(f, 1); }

static void no_pool_descriptor_stays_open_after_attach(void **state)
{
	EXPECT_CHILD(*state, attach_and_count_plain);
}

static void no_pool_descriptor_stays_open_after_hardened_attach(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, attach_and_count_hardened);
}

/* ------------------------------------------- a second mapping of the pool */

/* The file opened again and mapped shared: a mapping without the pool's
 * protection key, and without the protected path. */
static int second_mapping_writes(struct fixture *f)
{
	shmemora_pool *p = attach(f, 0);
	CHECK(p);
	int fd = open(f->path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	uint8_t *m = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	memcpy(m + f->raw + 64, "GAP-MAP", 7);
	CHECK(lib_holds(p, f, 64, "GAP-MAP"));
	return 0;
}

static void reopened_pool_file_maps_shared_without_hardening(void **state)
{
	EXPECT_CHILD(*state, second_mapping_writes);
}

static int second_mapping_refused(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	CHECK(shmemora_hardened() == 1);
	/* The file opens (a filter cannot see paths); mapping it shared does
	 * not, whatever the flags and however the descriptor is written. */
	int fd = open(f->path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED_VALIDATE, fd, 0) == MAP_FAILED &&
	      errno == EPERM);
	CHECK(syscall(SYS_mmap, 0UL, 4096UL, (unsigned long)PROT_READ, (unsigned long)MAP_SHARED,
		      (unsigned long)fd | (1UL << 32), 0UL) == -1 && errno == EPERM);
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	int again = open(self, O_RDWR | O_CLOEXEC);
	CHECK(again >= 0);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, again, 0) == MAP_FAILED && errno == EPERM);
	/* Shared anonymous memory is no file: still allowed. */
	void *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(anon != MAP_FAILED);
	CHECK(lib_write(p, f, 64, "STILL-OK") == 0 && lib_holds(p, f, 64, "STILL-OK"));
	return 0;
}

static void hardened_mode_refuses_a_second_shared_mapping_of_the_pool(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, second_mapping_refused);
}

/* The price: every shared file mapping, not only the pool's. */
static int other_file_refused(struct fixture *f)
{
	char other[300];
	snprintf(other, sizeof other, "%s.other", f->path);
	int fd = open(other, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	unlink(other);
	CHECK(ftruncate(fd, 4096) == 0);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) != MAP_FAILED);
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) != MAP_FAILED);
	return 0;
}

static void hardened_mode_refuses_every_new_shared_file_mapping(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, other_file_refused);
}

/* What hardened mode cannot stop on a file-backed pool: the file itself,
 * read and written with system calls a filter cannot tell from any other,
 * or mapped privately (which reads it). */
static int file_still_reachable(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	int fd = open(f->path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "GAP-FILE", 8, (off_t)(f->raw + 128)) == 8);
	CHECK(lib_holds(p, f, 128, "GAP-FILE"));
	uint8_t *m = mmap(NULL, p->size, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK(memcmp(m + f->raw + 128, "GAP-FILE", 8) == 0);
	return 0;
}

static void hardened_mode_cannot_stop_reading_and_writing_a_reopened_pool_file(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, file_still_reachable);
}

static int hardened_cannot_attach_again(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	shmemora_pool *q;
	CHECK(shmemora_attach(f->path, NULL, &q) == SHMEMORA_E_IO);
	CHECK(strstr(shmemora_errmsg(), "hardened mode") != NULL);
	CHECK(lib_write(p, f, 64, "FIRST") == 0); /* the first handle is unharmed */
	return 0;
}

static void hardened_process_cannot_attach_a_pool_again(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, hardened_cannot_attach_again);
}

/* ------------------------------------------------ the store still works */

static void *thread_put(void *arg)
{
	void **a = arg;
	struct fixture *f = a[0];
	shmemora_pool *p = a[1];
	return (void *)(intptr_t)shmemora_kv_put(p, &f->root, "t", "thread", 6, "yes", 3);
}

static int store_works_hardened(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	CHECK(shmemora_hardened() == 1);
	char buf[16];
	size_t n;
	CHECK(shmemora_kv_put(p, &f->root, "t", "k", 1, "value", 5) == 0);
	CHECK(shmemora_kv_get(p, &f->root, "t", "k", 1, buf, sizeof buf, &n, NULL) == 0 && n == 5 &&
	      memcmp(buf, "value", 5) == 0);
	CHECK(shmemora_kv_delete(p, &f->root, "t", "k", 1) == 0);
	shmemora_token t;
	CHECK(shmemora_region_acquire(p, &f->root, 0, 4096, SHMEMORA_RIGHT_READ |
				      SHMEMORA_RIGHT_WRITE, &t) == 0);
	CHECK(shmemora_region_write(p, &t, 8, "abc", 3) == 0);
	CHECK(shmemora_token_revoke(p, &t) == 0);
	CHECK(shmemora_region_write(p, &t, 8, "abc", 3) == SHMEMORA_E_REVOKED);
	CHECK(shmemora_heartbeat(p) == 0);
	shmemora_stats st = { 0 };
	CHECK(shmemora_stats_get(p, &st) == 0);
	size_t count;
	CHECK(shmemora_token_list(p, NULL, 0, &count) == 0);
	uint64_t freed;
	CHECK(shmemora_token_gc(p, &freed) == 0);
	shmemora_check_report r = { 0 };
	CHECK(shmemora_check(p, 0, &r) == 0 && r.problems == 0);
	/* Threads, their stacks and large allocations come and go as before. */
	void *arg[2] = { f, p };
	for (int i = 0; i < 8; i++) {
		pthread_t th;
		void *rc;
		CHECK(pthread_create(&th, NULL, thread_put, arg) == 0);
		CHECK(pthread_join(th, &rc) == 0 && rc == NULL);
	}
	for (int i = 0; i < 4; i++) {
		char *big = malloc(64u << 20);
		CHECK(big);
		memset(big, 1, 1u << 20);
		free(big);
	}
	CHECK(shmemora_kv_get(p, &f->root, "t", "thread", 6, buf, sizeof buf, &n, NULL) == 0);
	return 0;
}

static void store_still_works_in_hardened_mode(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, store_works_hardened);
}

/* What the filter is, and that the secrets and the caches sit on guards. */
static int filter_shape(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	const struct harden_report *r = harden_last();
	CHECK(r->filters >= 2 && r->instructions < 30000);
	CHECK(r->span[0].lo == (uintptr_t)p->base && r->span[0].hi == (uintptr_t)p->base + p->size);
	CHECK(r->span[1].guard >= (256u << 20) && r->span[2].guard >= (256u << 20));
	print_message("# %u filters, %u BPF instructions, %u range rules, guards %llu/%llu/%llu "
		      "MiB, mseal %s\n", r->filters, r->instructions, r->rules,
		      (unsigned long long)(r->span[0].guard >> 20),
		      (unsigned long long)(r->span[1].guard >> 20),
		      (unsigned long long)(r->span[2].guard >> 20), r->sealed ? "on" : "not here");
	fflush(stdout);
	return 0;
}

static void hardened_mode_reports_its_filter_and_guards(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, filter_shape);
}

/* ------------------------------------- the protected mappings themselves */

/* Every way to change or replace a mapping, over each protected one. */
static int changes_refused(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	const struct harden_report *r = harden_last();
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *elsewhere = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(elsewhere != MAP_FAILED);
	for (int s = 0; s < HARDEN_SPANS; s++) {
		uint8_t *lo = (uint8_t *)(uintptr_t)r->span[s].lo;
		size_t len = (size_t)page;
		errno = 0;
		CHECK(mprotect(lo, len, PROT_READ) == -1 && errno == EPERM);
		CHECK(syscall(SYS_pkey_mprotect, lo, len, PROT_READ | PROT_WRITE, 0) == -1 &&
		      errno == EPERM);
		CHECK(munmap(lo, len) == -1 && errno == EPERM);
		CHECK(madvise(lo, len, MADV_DONTNEED) == -1 && errno == EPERM);
		CHECK(madvise(lo, len, MADV_DOFORK) == -1 && errno == EPERM);
		CHECK(mremap(lo, len, 2 * len, MREMAP_MAYMOVE) == MAP_FAILED && errno == EPERM);
		CHECK(mremap(elsewhere, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, lo) == MAP_FAILED &&
		      errno == EPERM);
		CHECK(mmap(lo, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			   -1, 0) == MAP_FAILED && errno == EPERM);
		/* From below the guard, reaching one page in. */
		uint64_t from = r->span[s].lo - r->span[s].guard - (uint64_t)page;
		size_t reach = (size_t)(r->span[s].lo - from) + (size_t)page;
		CHECK(munmap((void *)(uintptr_t)from, reach) == -1 && errno == EPERM);
		CHECK(mprotect((void *)(uintptr_t)from, reach, PROT_NONE) == -1 && errno == EPERM);
		CHECK(madvise((void *)(uintptr_t)from, reach, MADV_DONTNEED) == -1 && errno == EPERM);
	}
	/* Nothing moved: tokens still verify against the same secrets. */
	CHECK(lib_write(p, f, 256, "INTACT") == 0 && lib_holds(p, f, 256, "INTACT"));
	/* A mapping of the process's own is untouched by all this. */
	CHECK(mprotect(elsewhere, (size_t)page, PROT_READ) == 0);
	CHECK(madvise(elsewhere, (size_t)page, MADV_DONTNEED) == 0);
	CHECK(munmap(elsewhere, (size_t)page) == 0);
	return 0;
}

static void hardened_mode_refuses_changing_or_replacing_the_protected_mappings(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, changes_refused);
}

/* The range rules against an oracle.  madvise(MADV_NORMAL) changes
 * nothing and mseal lets it through, so EPERM from it is the filter's
 * verdict alone: every range that overlaps a protected mapping must be
 * refused (soundness), and no range that stays clear of the mappings and
 * their guards and is no longer than the shortest guard may be (the one
 * false refusal harden.c documents needs a longer range). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int range_oracle(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	const struct harden_report *r = harden_last();
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t min_guard = UINT64_MAX;
	for (int s = 0; s < HARDEN_SPANS; s++)
		if (r->span[s].guard < min_guard)
			min_guard = r->span[s].guard;
	long refused = 0, allowed = 0;
	for (int i = 0; i < 60000; i++) {
		const struct harden_span *s = &r->span[next_random() % HARDEN_SPANS];
		/* Start: inside, just below, or far below the span (page-aligned). */
		uint64_t back;
		switch (next_random() % 4) {
		case 0: back = 0; break;
		case 1: back = (next_random() % 64) * page; break;
		case 2: back = (next_random() % (1u << 20)) * page; break;
		default: back = (next_random() % (1ull << 30)) * page; break;
		}
		uint64_t a = s->lo - (back < s->lo ? back : 0);
		if (back == 0)
			a = s->lo + (next_random() % ((s->hi - s->lo) / page)) * page;
		/* Length: to lo give or take two pages and a byte, or anything. */
		uint64_t len = a < s->lo ? s->lo - a : page;
		len += page * (next_random() % 3);
		uint64_t less = page * (next_random() % 3) + next_random() % 2;
		len = len > less ? len - less : 1;
		if (next_random() % 3 == 0)
			len = next_random() >> (next_random() % 64);
		if (len == 0)
			len = 1;
		if (len > UINT64_MAX - page || a + ((len + page - 1) & ~(page - 1)) < a)
			continue; /* wraps: the kernel refuses it whatever the filter says */
		uint64_t end = a + ((len + page - 1) & ~(page - 1));
		bool overlap = false, clear = true;
		for (int t = 0; t < HARDEN_SPANS; t++) {
			const struct harden_span *u = &r->span[t];
			if (a < u->hi && end > u->lo)
				overlap = true;
			if (a < u->hi && end > u->lo - u->guard)
				clear = false;
		}
		errno = 0;
		long rc = syscall(SYS_madvise, (unsigned long)a, (unsigned long)len,
				  (unsigned long)MADV_NORMAL);
		bool eperm = rc == -1 && errno == EPERM;
		if (overlap && !eperm) {
			fprintf(stderr, "madvise(%#llx, %#llx) overlaps a protected mapping but "
				"was let through (rc %ld, errno %d)\n", (unsigned long long)a,
				(unsigned long long)len, rc, errno);
			return 1;
		}
		if (clear && len <= min_guard && eperm) {
			fprintf(stderr, "madvise(%#llx, %#llx) stays clear of every protected "
				"mapping and guard but was refused\n", (unsigned long long)a,
				(unsigned long long)len);
			return 1;
		}
		eperm ? refused++ : allowed++;
	}
	print_message("# 60000 ranges: %ld refused, %ld let through, none wrongly\n", refused,
		      allowed);
	fflush(stdout);
	return 0;
}

static void range_rules_refuse_every_overlapping_range_and_no_short_clear_one(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, range_oracle);
}

/* ---------------------------------------- process_vm_writev and ptrace */

static int vm_writev_to_self(struct fixture *f)
{
	shmemora_pool *p = attach(f, 0);
	CHECK(p);
	char text[] = "GAP-VMW";
	struct iovec local = { text, 7 }, remote = { raw_at(p, f, 320), 7 };
	CHECK(process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == 7);
	CHECK(lib_holds(p, f, 320, "GAP-VMW"));
	return 0;
}

static void process_vm_writev_to_itself_writes_the_pool_without_hardening(void **state)
{
	EXPECT_CHILD(*state, vm_writev_to_self);
}

static int cross_process_refused(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	char text[] = "NO";
	struct iovec local = { text, 2 }, remote = { raw_at(p, f, 320), 2 };
	CHECK(process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == -1 && errno == EPERM);
	CHECK(process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == -1 && errno == EPERM);
	CHECK(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1 && errno == EPERM);
	CHECK(syscall(SYS_process_madvise, -1, NULL, 0UL, 0, 0U) == -1 && errno == EPERM);
	CHECK(syscall(SYS_pidfd_getfd, -1, 0, 0U) == -1 && errno == EPERM);
	CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	return 0;
}

static void hardened_mode_refuses_ptrace_and_cross_process_memory_calls(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, cross_process_refused);
}

static int other_calls_refused(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	CHECK(syscall(SYS_io_uring_setup, 8, NULL) == -1 && errno == EPERM);
	CHECK(syscall(SYS_userfaultfd, 0) == -1 && errno == EPERM);
	CHECK(syscall(SYS_remap_file_pages, p->base, 4096UL, 0UL, 0UL, 0UL) == -1 &&
	      errno == EPERM);
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (id >= 0) {
		void *at = shmat(id, p->base, SHM_REMAP);
		int e = errno;
		shmctl(id, IPC_RMID, NULL);
		errno = e;
		CHECK(at == (void *)-1 && errno == EPERM);
	}
	/* Another ABI: x32 system call numbers are refused, not judged. */
	CHECK(syscall(X32_SYSCALL_BIT | SYS_getpid) == -1 && errno == EPERM);
	CHECK(lib_write(p, f, 400, "OK") == 0);
	return 0;
}

static void hardened_mode_refuses_io_uring_userfaultfd_and_remapping_calls(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, other_calls_refused);
}

/* Another process of the same (ordinary) user writes a host's pool
 * through process_vm_writev, and attaches to it with ptrace. */
static int cross_process_attack(struct fixture *f, int hardened)
{
	int ready[2], done[2];
	CHECK(pipe(ready) == 0 && pipe(done) == 0);
	pid_t host = test_fork();
	if (host == 0) {
		if (become_ordinary_user())
			_exit(CHILD_SKIP);
		shmemora_pool *p = attach(f, hardened);
		uint64_t msg[2] = { p ? (uintptr_t)raw_at(p, f, 512) : 0, 0 };
		if (write(ready[1], msg, sizeof msg) != sizeof msg || !p)
			_exit(2);
		char verdict;
		if (read(done[0], &verdict, 1) != 1)
			_exit(3);
		/* Without hardened mode the other process's bytes are there. */
		_exit(hardened ? 0 : lib_holds(p, f, 512, "GAP-XPW") ? 0 : 4);
	}
	if (become_ordinary_user())
		return CHILD_SKIP;
	uint64_t msg[2];
	CHECK(read(ready[0], msg, sizeof msg) == sizeof msg && msg[0]);
	char text[] = "GAP-XPW";
	struct iovec local = { text, 7 }, remote = { (void *)(uintptr_t)msg[0], 7 };
	ssize_t wrote = process_vm_writev(host, &local, 1, &remote, 1, 0);
	int write_errno = errno;
	long traced = ptrace(PTRACE_ATTACH, host, NULL, NULL);
	int trace_errno = errno;
	if (traced == 0) {
		waitpid(host, NULL, 0);
		ptrace(PTRACE_DETACH, host, NULL, NULL);
	}
	CHECK(write(done[1], "x", 1) == 1);
	int status;
	CHECK(waitpid(host, &status, 0) == host);
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIP)
		return CHILD_SKIP;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (hardened) {
		errno = write_errno;
		CHECK(wrote == -1 && write_errno == EPERM);
		errno = trace_errno;
		CHECK(traced == -1 && trace_errno == EPERM);
	} else {
		errno = write_errno;
		CHECK(wrote == 7);
		errno = trace_errno;
		CHECK(traced == 0);
	}
	return 0;
}
static int cross_plain(struct fixture *f) { return cross_process_attack(f, 0); }
static int cross_hardened(struct fixture *f) { return cross_process_attack(f, 1); }

static void another_process_of_the_same_user_writes_an_unhardened_host(void **state)
{
	give_files_if_root(*state);
	EXPECT_CHILD(*state, cross_plain);
}

static void another_process_of_the_same_user_cannot_reach_a_hardened_host(void **state)
{
	NEED_SECCOMP();
	give_files_if_root(*state);
	EXPECT_CHILD(*state, cross_hardened);
}

/* ------------------------------------------------------- /proc/self/mem */

/* FOLL_FORCE: a write through /proc/self/mem ignores page protections and
 * protection keys alike. */
static int mem_write(shmemora_pool *p, struct fixture *f, uint64_t off, const char *text)
{
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = pwrite(fd, text, strlen(text), (off_t)(uintptr_t)raw_at(p, f, off));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int proc_mem_plain(struct fixture *f)
{
	shmemora_pool *p = attach(f, 0);
	CHECK(p);
	CHECK(mem_write(p, f, 600, "GAP-MEM") == 0);
	CHECK(lib_holds(p, f, 600, "GAP-MEM"));
	return 0;
}

static void proc_self_mem_writes_the_pool_without_hardening(void **state)
{
	EXPECT_CHILD(*state, proc_mem_plain);
}

static int proc_mem_ordinary_user(struct fixture *f)
{
	int rc = become_ordinary_user();
	if (rc)
		return rc;
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	/* Not dumpable: /proc/self/mem belongs to root now. */
	CHECK(open("/proc/self/mem", O_RDWR | O_CLOEXEC) == -1 && errno == EACCES);
	CHECK(open("/proc/self/mem", O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES);
	return 0;
}

static void proc_self_mem_is_closed_to_a_hardened_process_that_is_not_root(void **state)
{
	NEED_SECCOMP();
	give_files_if_root(*state);
	EXPECT_CHILD(*state, proc_mem_ordinary_user);
}

static int proc_mem_root(struct fixture *f)
{
	if (geteuid() != 0)
		return CHILD_SKIP;
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	CHECK(mem_write(p, f, 640, "GAP-ROOT") == 0);
	CHECK(lib_holds(p, f, 640, "GAP-ROOT"));
	return 0;
}

static void proc_self_mem_still_writes_the_pool_of_a_hardened_root_process(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, proc_mem_root);
}

/* ----------------------------------------------------------------- fork */

/* The runner's own handle, used in a forked child. */
static int use_parents_handle(struct fixture *f)
{
	shmemora_pool *p = f->pool;
	char buf[16];
	size_t n;
	shmemora_token t;
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_REGION, .offset = 0, .length = 64,
			     .rights = SHMEMORA_RIGHT_READ };
	size_t count;
	uint64_t freed;
	shmemora_check_report r = { 0 };
	CHECK(shmemora_kv_get(p, &f->root, "t", "k", 1, buf, sizeof buf, &n, NULL) ==
	      SHMEMORA_E_INVALID);
	CHECK(strstr(shmemora_errmsg(), "forked child") != NULL);
	CHECK(shmemora_kv_put(p, &f->root, "t", "k", 1, "v", 1) == SHMEMORA_E_INVALID);
	CHECK(shmemora_region_read(p, &f->root, 0, buf, 4) == SHMEMORA_E_INVALID);
	CHECK(shmemora_token_derive(p, &f->root, &g, &t) == SHMEMORA_E_INVALID);
	CHECK(shmemora_token_list(p, NULL, 0, &count) == SHMEMORA_E_INVALID);
	CHECK(shmemora_token_gc(p, &freed) == SHMEMORA_E_INVALID);
	CHECK(shmemora_check(p, 0, &r) == SHMEMORA_E_INVALID);
	CHECK(shmemora_heartbeat(p) == SHMEMORA_E_INVALID);
	CHECK(shmemora_detach(p) == SHMEMORA_E_INVALID);
	return 0;
}

static void forked_child_using_its_parents_handle_gets_invalid(void **state)
{
	struct fixture *f = *state;
	assert_shm(0, shmemora_kv_put(f->pool, &f->root, "t", "k", 1, "before", 6));
	EXPECT_CHILD(f, use_parents_handle);
	/* The child's detach freed nothing of ours: slot, secrets, caches. */
	char buf[16];
	size_t n;
	assert_shm(0, shmemora_heartbeat(f->pool));
	assert_shm(0, shmemora_kv_get(f->pool, &f->root, "t", "k", 1, buf, sizeof buf, &n, NULL));
	assert_memory_equal(buf, "before", 6);
	assert_shm(0, shmemora_kv_put(f->pool, &f->root, "t", "k", 1, "after", 5));
	shmemora_host hosts[16];
	size_t count;
	assert_shm(0, shmemora_hosts(f->path, hosts, 16, &count));
	assert_int_equal(hosts[shmemora_host_id(f->pool)].state, SHMEMORA_HOST_ATTACHED);
}

static int parents_secrets_absent(struct fixture *f)
{
	void *sec;
	size_t len;
	secrets_mapping(f->pool->secrets, &sec, &len);
	CHECK(probe_load(sec) == SEGV_MAPERR);
	CHECK(probe_load((const uint8_t *)f->pool->prot.arena) == SEGV_MAPERR);
	/* The pool mapping itself is inherited (MAP_SHARED). */
	shmemora_pool *mine = attach(f, 0);
	CHECK(mine);
	CHECK(lib_holds(mine, f, 0, ""));
	CHECK(shmemora_detach(mine) == 0);
	return 0;
}

static void forked_child_has_neither_the_parents_secrets_nor_its_caches(void **state)
{
	EXPECT_CHILD(*state, parents_secrets_absent);
}

/* --------------------------------------------------------- signal handlers */

static struct {
	struct fixture *f;
	shmemora_pool *p;
	volatile int rc;
	char value[16];
} in_handler;

static void on_usr1_call_library(int sig)
{
	(void)sig;
	size_t n;
	in_handler.rc = shmemora_kv_get(in_handler.p, &in_handler.f->root, "t", "sig", 3,
					in_handler.value, sizeof in_handler.value, &n, NULL);
}

static int handler_uses_library(struct fixture *f)
{
	shmemora_pool *p = attach(f, 0);
	CHECK(p);
	CHECK(shmemora_kv_put(p, &f->root, "t", "sig", 3, "handled", 7) == 0);
	in_handler.f = f;
	in_handler.p = p;
	in_handler.rc = 1;
	signal(SIGUSR1, on_usr1_call_library);
	raise(SIGUSR1);
	CHECK(in_handler.rc == 0 && memcmp(in_handler.value, "handled", 7) == 0);
	return 0;
}

/* The kernel gives a handler a PKRU that denies the pool's key; the
 * protected path opens it for the call as it does anywhere else. */
static void signal_handler_calling_the_library_works(void **state)
{
	EXPECT_CHILD(*state, handler_uses_library);
}

static volatile uint8_t *handler_target;
static volatile int handler_code = -1;
static void on_usr1_touch_pool(int sig)
{
	(void)sig;
	handler_code = probe_load(handler_target);
}

static int handler_touches_pool(struct fixture *f)
{
	shmemora_pool *p = attach(f, 0);
	CHECK(p);
	handler_target = raw_at(p, f, 0);
	signal(SIGUSR1, on_usr1_touch_pool);
	raise(SIGUSR1);
	CHECK(handler_code == SEGV_PKUERR);
	return 0;
}

static void mpk_signal_handler_touching_the_pool_faults(void **state)
{
	NEED_MPK((struct fixture *)*state);
	EXPECT_CHILD(*state, handler_touches_pool);
}

/* -------------------------------------------------- the secrets by mode */

static void *read_secrets(void *arg)
{
	shmemora_pool *p = arg;
	void *sec;
	size_t len;
	secrets_mapping(p->secrets, &sec, &len);
	uint8_t copy[64];
	int code = probe_load(sec);
	if (code)
		return (void *)(intptr_t)code;
	memcpy(copy, sec, sizeof copy);
	for (size_t i = 0; i < sizeof copy; i++)
		if (copy[i])
			return NULL; /* read, and not zeros: the token key is out */
	return (void *)(intptr_t)-1;
}

static int secrets_by_thread(struct fixture *f, int expect)
{
	shmemora_pool *p = attach(f, 0);
	CHECK(p);
	pthread_t th;
	void *rc;
	CHECK(pthread_create(&th, NULL, read_secrets, p) == 0 && pthread_join(th, &rc) == 0);
	CHECK((intptr_t)rc == expect);
	return 0;
}
static int secrets_readable(struct fixture *f) { return secrets_by_thread(f, 0); }
static int secrets_fault(struct fixture *f) { return secrets_by_thread(f, SEGV_PKUERR); }

/* No hardware enforcement: any thread reads the token MAC key. */
static void software_mode_lets_any_thread_read_the_token_key(void **state)
{
	struct fixture *f = *state;
	if (shmemora_protection_mode(f->pool) != SHMEMORA_PROTECT_SOFTWARE) {
		skip(); /* mpk mode: mpk_secrets_fault_outside_the_protected_path instead */
		return;
	}
	EXPECT_CHILD(f, secrets_readable);
}

static void mpk_secrets_fault_outside_the_protected_path(void **state)
{
	NEED_MPK((struct fixture *)*state);
	EXPECT_CHILD(*state, secrets_fault);
}

/* ------------------------------------------------------------ MPK only */

static int direct_load(struct fixture *f)
{
	shmemora_pool *p = attach(f, 0);
	CHECK(p);
	CHECK(probe_load(raw_at(p, f, 0)) == SEGV_PKUERR);
	return 0;
}

static void mpk_direct_load_from_the_pool_faults(void **state)
{
	NEED_MPK((struct fixture *)*state);
	EXPECT_CHILD(*state, direct_load);
}

static int second_mapping_bypasses(struct fixture *f)
{
	shmemora_pool *p = attach(f, 0);
	CHECK(p);
	CHECK(lib_write(p, f, 700, "SECRET") == 0);
	CHECK(probe_load(raw_at(p, f, 700)) == SEGV_PKUERR);
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	uint8_t *m = mmap(NULL, p->size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK(probe_load(m + f->raw + 700) == 0 && memcmp(m + f->raw + 700, "SECRET", 6) == 0);
	return 0;
}

static void mpk_second_mapping_bypasses_mpk_without_hardening(void **state)
{
	NEED_MPK((struct fixture *)*state);
	EXPECT_CHILD(*state, second_mapping_bypasses);
}

/* pkey_free does not stop a key being used; pkey_alloc hands the same
 * number back with access allowed (pkeys(7)): a WRPKRU by system call. */
static int key_recycled(struct fixture *f)
{
	shmemora_pool *p = attach(f, 0);
	CHECK(p);
	int key = p->prot.pkey;
	CHECK(syscall(SYS_pkey_free, key) == 0);
	CHECK(syscall(SYS_pkey_alloc, 0UL, 0UL) == key);
	CHECK(probe_load(raw_at(p, f, 0)) == 0);
	return 0;
}

static void mpk_freeing_and_reallocating_the_pool_key_opens_the_pool_without_hardening(void **state)
{
	NEED_MPK((struct fixture *)*state);
	EXPECT_CHILD(*state, key_recycled);
}

static int key_kept(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	CHECK(syscall(SYS_pkey_free, p->prot.pkey) == -1 && errno == EPERM);
	CHECK(syscall(SYS_pkey_free, (long)p->prot.pkey | (1L << 32)) == -1 && errno == EPERM);
	CHECK(probe_load(raw_at(p, f, 0)) == SEGV_PKUERR);
	return 0;
}

static void mpk_hardened_mode_refuses_freeing_the_pool_key(void **state)
{
	NEED_SECCOMP();
	NEED_MPK((struct fixture *)*state);
	EXPECT_CHILD(*state, key_kept);
}

static int rekeyed(struct fixture *f)
{
	shmemora_pool *p = attach(f, 0);
	CHECK(p);
	CHECK(syscall(SYS_pkey_mprotect, p->base, (size_t)p->size, PROT_READ | PROT_WRITE, 0) == 0);
	CHECK(probe_load(raw_at(p, f, 0)) == 0);
	return 0;
}

static void mpk_pkey_mprotect_opens_the_pool_without_hardening(void **state)
{
	NEED_MPK((struct fixture *)*state);
	EXPECT_CHILD(*state, rekeyed);
}

/* ------------------------------------------- turning it on, and for good */

static int env_on(struct fixture *f)
{
	setenv("SHMEMORA_HARDEN", "1", 1);
	shmemora_pool *p = attach(f, 0);
	CHECK(p && shmemora_hardened() == 1);
	return 0;
}

static void environment_turns_hardened_mode_on(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, env_on);
}

static int env_cannot_turn_off(struct fixture *f)
{
	setenv("SHMEMORA_HARDEN", "0", 1);
	shmemora_pool *p = attach(f, 1);
	CHECK(p && shmemora_hardened() == 1);
	return 0;
}

static void environment_cannot_turn_off_what_the_config_asked_for(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, env_cannot_turn_off);
}

static int env_misspelt(struct fixture *f)
{
	setenv("SHMEMORA_HARDEN", "yes", 1);
	shmemora_pool *p;
	CHECK(shmemora_attach(f->path, NULL, &p) == SHMEMORA_E_INVALID);
	CHECK(strstr(shmemora_errmsg(), "SHMEMORA_HARDEN") != NULL);
	CHECK(shmemora_hardened() == 0);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
	unsetenv("SHMEMORA_HARDEN");
	CHECK(shmemora_attach(f->path, NULL, &p) == 0 && shmemora_detach(p) == 0);
	return 0;
}

static void misspelt_environment_fails_the_attach_and_changes_nothing(void **state)
{
	EXPECT_CHILD(*state, env_misspelt);
}

static int env_misspelt_create(struct fixture *f)
{
	char path[300], key[320], root[320];
	snprintf(path, sizeof path, "%s.new", f->path);
	test_key_path(path, key, sizeof key);
	snprintf(root, sizeof root, "%s.root-token", path);
	setenv("SHMEMORA_HARDEN", "on", 1);
	shmemora_pool *p;
	CHECK(shmemora_create(path, NULL, &p) == SHMEMORA_E_INVALID);
	CHECK(access(path, F_OK) != 0 && access(key, F_OK) != 0 && access(root, F_OK) != 0);
	CHECK(shmemora_hardened() == 0);
	return 0;
}

static void misspelt_environment_fails_create_and_leaves_no_file(void **state)
{
	EXPECT_CHILD(*state, env_misspelt_create);
}

static int detach_keeps_mappings(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	uint32_t id = shmemora_host_id(p);
	uint8_t *base = p->base;
	CHECK(shmemora_detach(p) == 0);
	shmemora_host hosts[16];
	size_t count;
	CHECK(shmemora_hosts(f->path, hosts, 16, &count) == 0);
	CHECK(hosts[id].state == SHMEMORA_HOST_FREE);
	unsigned char vec;
	CHECK(mincore(base, 4096, &vec) == 0); /* still mapped */
	CHECK(shmemora_hardened() == 1);
	return 0;
}

static void hardened_detach_releases_the_slot_and_leaves_the_mappings(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, detach_keeps_mappings);
}

static int inherited(struct fixture *f)
{
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	pid_t kid = test_fork();
	if (kid == 0) {
		shmemora_pool *q;
		_exit(shmemora_attach(f->path, NULL, &q) == SHMEMORA_E_IO ? 0 : 1);
	}
	int status;
	CHECK(waitpid(kid, &status, 0) == kid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return 0;
}

static void hardened_mode_is_inherited_by_children(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, inherited);
}

/* What a system call costs under the filter (printed, for the record). */
static double ns_per_call(long (*call)(void *), void *arg, int n)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		call(arg);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
}
static long call_getppid(void *arg) { (void)arg; return syscall(SYS_getppid); }
static long call_madvise(void *arg) { return madvise(arg, 4096, MADV_NORMAL); }

static int cost(struct fixture *f)
{
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(page != MAP_FAILED);
	double g0 = ns_per_call(call_getppid, NULL, 200000);
	double m0 = ns_per_call(call_madvise, page, 20000);
	shmemora_pool *p = attach(f, 1);
	CHECK(p);
	double g1 = ns_per_call(call_getppid, NULL, 200000);
	double m1 = ns_per_call(call_madvise, page, 20000);
	print_message("# %.0f ns a getppid before hardened mode, %.0f after; %.0f ns a madvise, "
		      "%.0f after\n", g0, g1, m0, m1);
	fflush(stdout);
	CHECK(m1 < 100000); /* a filter gone wrong would show here */
	return 0;
}

static void system_call_cost_under_the_filter(void **state)
{
	NEED_SECCOMP();
	EXPECT_CHILD(*state, cost);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	/* The runner itself must never be hardened (setup attaches here). */
	unsetenv("SHMEMORA_HARDEN");
	const struct CMUnitTest tests[] = {
		T(no_pool_descriptor_stays_open_after_create),
		T(no_pool_descriptor_stays_open_after_attach),
		T(no_pool_descriptor_stays_open_after_hardened_attach),
		T(reopened_pool_file_maps_shared_without_hardening),
		T(hardened_mode_refuses_a_second_shared_mapping_of_the_pool),
		T(hardened_mode_refuses_every_new_shared_file_mapping),
		T(hardened_mode_cannot_stop_reading_and_writing_a_reopened_pool_file),
		T(hardened_process_cannot_attach_a_pool_again),
		T(store_still_works_in_hardened_mode),
		T(hardened_mode_reports_its_filter_and_guards),
		T(hardened_mode_refuses_changing_or_replacing_the_protected_mappings),
		T(range_rules_refuse_every_overlapping_range_and_no_short_clear_one),
		T(process_vm_writev_to_itself_writes_the_pool_without_hardening),
		T(hardened_mode_refuses_ptrace_and_cross_process_memory_calls),
		T(hardened_mode_refuses_io_uring_userfaultfd_and_remapping_calls),
		T(another_process_of_the_same_user_writes_an_unhardened_host),
		T(another_process_of_the_same_user_cannot_reach_a_hardened_host),
		T(proc_self_mem_writes_the_pool_without_hardening),
		T(proc_self_mem_is_closed_to_a_hardened_process_that_is_not_root),
		T(proc_self_mem_still_writes_the_pool_of_a_hardened_root_process),
		T(forked_child_using_its_parents_handle_gets_invalid),
		T(forked_child_has_neither_the_parents_secrets_nor_its_caches),
		T(signal_handler_calling_the_library_works),
		T(mpk_signal_handler_touching_the_pool_faults),
		T(software_mode_lets_any_thread_read_the_token_key),
		T(mpk_secrets_fault_outside_the_protected_path),
		T(mpk_direct_load_from_the_pool_faults),
		T(mpk_second_mapping_bypasses_mpk_without_hardening),
		T(mpk_freeing_and_reallocating_the_pool_key_opens_the_pool_without_hardening),
		T(mpk_hardened_mode_refuses_freeing_the_pool_key),
		T(mpk_pkey_mprotect_opens_the_pool_without_hardening),
		T(environment_turns_hardened_mode_on),
		T(environment_cannot_turn_off_what_the_config_asked_for),
		T(misspelt_environment_fails_the_attach_and_changes_nothing),
		T(misspelt_environment_fails_create_and_leaves_no_file),
		T(hardened_detach_releases_the_slot_and_leaves_the_mappings),
		T(hardened_mode_is_inherited_by_children),
		T(system_call_cost_under_the_filter),
	};
	return cmocka_run_group_tests_name("harden", tests, NULL, NULL);
}
