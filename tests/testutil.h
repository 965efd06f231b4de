/*
 * testutil.h — helpers shared by the test programs: unique pool paths under
 * /dev/shm, host processes that die with the test, small pools, file snapshots to prove "nothing changed", and
 * assertions on SHMemora error codes that print the library's message.
 */
#ifndef SHMEMORA_TESTUTIL_H
#define SHMEMORA_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "shmemora.h"

/* A fresh pool path, unique per process and call; key file is path.key.
 * Under $SHMEMORA_TEST_DIR when set (scripts/check-flush.sh gives each
 * mutant run its own, so the pools of a failed run go with it), else
 * /dev/shm. */
static inline void test_pool_path(char *out, size_t n, const char *tag)
{
	static int counter;
	const char *dir = getenv("SHMEMORA_TEST_DIR");
	snprintf(out, n, "%s/shmemora-test-%s-%d-%d", dir && *dir ? dir : "/dev/shm", tag,
		 (int)getpid(), counter++);
}

/* fork() for a test's host processes: the child is killed when the process
 * that forked it ends, so a test that fails, times out or is killed never
 * leaves hosts behind writing to a pool (or filling /dev/shm with logs).
 * Only for forks from a thread that outlives the child (every test forks
 * from its main thread).  A crash in the child is a crash again: cmocka's
 * handlers (which would catch it, report it, and carry on running the rest
 * of the group in the child) are put back to the default, so the parent
 * sees the signal. */
static inline pid_t test_fork(void)
{
	pid_t parent = getpid();
	pid_t kid = fork();
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127); /* the parent ended before the signal was set */
		static const int deadly[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
		for (size_t i = 0; i < sizeof deadly / sizeof deadly[0]; i++)
			signal(deadly[i], SIG_DFL);
	}
	return kid;
}

static inline void test_key_path(const char *pool, char *out, size_t n)
{
	snprintf(out, n, "%s.key", pool);
}

/* Removes a pool file, its key file and root token file, whatever state
 * they are in. */
static inline void test_remove_pool(const char *pool)
{
	char key[512], root[512];
	test_key_path(pool, key, sizeof key);
	snprintf(root, sizeof root, "%s.root-token", pool);
	unlink(pool);
	unlink(key);
	unlink(root);
}

/* The end of a test's pool: its handle detached, when it has one, and its
 * files removed (a fixture's teardown). */
static inline void test_pool_done(shmemora_pool *pool, const char *path)
{
	if (pool)
		shmemora_detach(pool);
	test_remove_pool(path);
}

/* Asserts a SHMemora call returned `want`, printing the message if not. */
#define assert_shm(want, call)                                                      \
	do {                                                                        \
		int rc_ = (call);                                                   \
		if (rc_ != (want))                                                  \
			print_error("%s returned %d (%s), expected %d (%s): %s\n", #call, \
				    rc_, shmemora_strerror(rc_), (int)(want),       \
				    shmemora_strerror(want), shmemora_errmsg());    \
		assert_int_equal(rc_, (want));                                      \
	} while (0)

/* Creates a small pool (default 16 MiB, 8 hosts) and detaches from it. */
static inline void test_create_small(const char *pool, uint64_t size, uint32_t hosts)
{
	shmemora_config *cfg;
	shmemora_pool *p;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, size ? size : 16u << 20));
	assert_shm(0, shmemora_config_set_hosts(cfg, hosts ? hosts : 8));
	assert_shm(0, shmemora_create(pool, cfg, &p));
	assert_shm(0, shmemora_detach(p));
	shmemora_config_delete(cfg);
}

/* Creates a pool at a fresh path for `tag` (size, hosts and capabilities;
 * 0 for defaults), loads its root token and, if `ns` is not NULL, creates
 * that namespace.  The handle stays attached. */
static inline void test_make_pool(char *path, size_t path_len, const char *tag, uint64_t size,
				  uint32_t hosts, uint64_t caps, const char *ns,
				  shmemora_pool **pool, shmemora_token *root)
{
	test_pool_path(path, path_len, tag);
	shmemora_config *cfg;
	assert_shm(0, shmemora_config_new(&cfg));
	if (size)
		assert_shm(0, shmemora_config_set_size(cfg, size));
	if (hosts)
		assert_shm(0, shmemora_config_set_hosts(cfg, hosts));
	if (caps)
		assert_shm(0, shmemora_config_set_capabilities(cfg, caps));
	assert_shm(0, shmemora_create(path, cfg, pool));
	shmemora_config_delete(cfg);
	char file[600];
	snprintf(file, sizeof file, "%s.root-token", path);
	assert_shm(0, shmemora_token_load(file, root));
	if (ns)
		assert_shm(0, shmemora_ns_create(*pool, root, ns));
}

/*
 * Values that say whose they are: "<ns>/<key>/<version>/", filler derived
 * from them, and an XXH3-64 of all that in the last 8 bytes.  A reader can
 * tell a whole, correct value from a torn one, one of another key or
 * namespace, or one with bytes added or cut.
 */
#define TEST_VALUE_MIN 64

static inline size_t test_value_make(uint8_t *buf, size_t len, const char *ns, const char *key,
				     size_t key_len, uint64_t version)
{
	if (len < TEST_VALUE_MIN)
		len = TEST_VALUE_MIN;
	int n = snprintf((char *)buf, len - 8, "%s/%.*s/%llu/", ns, (int)key_len, key,
			 (unsigned long long)version);
	size_t at = n < 0 ? 0 : (size_t)n;
	if (at > len - 8)
		at = len - 8;
	uint64_t x = XXH3_64bits(buf, at);
	for (size_t i = at; i < len - 8; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		buf[i] = (uint8_t)(x >> 56);
	}
	uint64_t sum = XXH3_64bits(buf, len - 8);
	memcpy(buf + len - 8, &sum, 8);
	return len;
}

/* 1 if `buf` (len bytes) is a whole value of exactly this key, with its
 * version in *version (may be NULL); 0 if not. */
static inline int test_value_check(const uint8_t *buf, size_t len, const char *ns,
				   const char *key, size_t key_len, uint64_t *version)
{
	if (len < TEST_VALUE_MIN)
		return 0;
	uint64_t sum;
	memcpy(&sum, buf + len - 8, 8);
	if (sum != XXH3_64bits(buf, len - 8))
		return 0;
	char head[600];
	int n = snprintf(head, sizeof head, "%s/%.*s/", ns, (int)key_len, key);
	if (n < 0 || (size_t)n >= len - 8 || memcmp(buf, head, (size_t)n) != 0)
		return 0;
	char *end;
	unsigned long long v = strtoull((const char *)buf + n, &end, 10);
	if (end == (const char *)buf + n || *end != '/')
		return 0;
	if (version)
		*version = v;
	return 1;
}

/* Hash of a whole file, and its size: two snapshots equal means untouched. */
struct file_snapshot {
	uint64_t hash;
	off_t size;
	int exists;
};

static inline struct file_snapshot test_snapshot(const char *path)
{
	struct file_snapshot s = { 0, 0, 0 };
	FILE *f = fopen(path, "rb");
	if (!f)
		return s;
	s.exists = 1;
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	char buf[1 << 16];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		XXH3_64bits_update(st, buf, n);
		s.size += (off_t)n;
	}
	s.hash = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	fclose(f);
	return s;
}

static inline void assert_unchanged(struct file_snapshot before, const char *path)
{
	struct file_snapshot after = test_snapshot(path);
	assert_int_equal(before.exists, after.exists);
	assert_int_equal(before.size, after.size);
	assert_true(before.hash == after.hash);
}

/* pread/pwrite helpers on a pool file. */
static inline void test_read_at(const char *path, off_t off, void *buf, size_t len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseeko(f, off, SEEK_SET), 0);
	assert_int_equal(fread(buf, 1, len, f), len);
	fclose(f);
}

static inline void test_write_at(const char *path, off_t off, const void *buf, size_t len)
{
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseeko(f, off, SEEK_SET), 0);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

#endif
