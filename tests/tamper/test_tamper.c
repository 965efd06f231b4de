/*
 * test_tamper.c — random byte flips and offset overwrites in every metadata
 * region, each followed by operations from another host (a separate
 * process).  That host must not crash (no signal), must not hang (it is
 * killed after a timeout, which fails the test), and must never be granted
 * what its tokens do not grant: writes with read-only tokens always fail.
 * Under `make check-sanitize` the same runs under ASan+UBSan, which must
 * stay silent.  Integrity errors are counted and reported.
 *
 * The pool is restored from a snapshot after every flip, so each flip is
 * judged on its own.  SHMEMORA_TAMPER_FLIPS sets the count (default 2000).
 */
#include "testutil.h"

#include "layout.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define KEYS 64

enum child_result {
	CHILD_OK = 0,
	CHILD_REFUSED_ATTACH = 10,
	CHILD_GRANTED_TOO_MUCH = 20,
	CHILD_SETUP = 30,
};

struct tokens {
	shmemora_token root, ro_ns, ro_region;
};

/* Integrity errors the other hosts saw, in memory shared with them. */
static long *integrity_errors;

static int counted(int rc)
{
	if (rc == SHMEMORA_E_CORRUPT || rc == SHMEMORA_E_TAMPERED ||
	    rc == SHMEMORA_E_TOKEN_REFUSED || rc == SHMEMORA_E_TRUNCATED)
		__atomic_fetch_add(integrity_errors, 1, __ATOMIC_RELAXED);
	return rc;
}

/* The other host: a few operations of every kind; counts integrity errors
 * in the exit code's upper bits (capped). */
static int other_host(const char *path, const struct tokens *t)
{
	shmemora_pool *p;
	int rc = counted(shmemora_attach(path, NULL, &p));
	if (rc)
		return CHILD_REFUSED_ATTACH;
	char key[16], buf[512];
	size_t len;
	for (int i = 0; i < 8; i++) {
		size_t kl = (size_t)snprintf(key, sizeof key, "key%d", (i * 7) % KEYS);
		counted(shmemora_kv_get(p, &t->root, "t", key, kl, buf, sizeof buf, &len, NULL));
		/* Read-only tokens must never write, whatever the metadata says. */
		if (shmemora_kv_put(p, &t->ro_ns, "t", key, kl, "x", 1) == 0 ||
		    shmemora_kv_delete(p, &t->ro_ns, "t", key, kl) == 0 ||
		    shmemora_region_write(p, &t->ro_region, 0, "x", 1) == 0)
			return CHILD_GRANTED_TOO_MUCH;
		counted(shmemora_region_read(p, &t->ro_region, 0, buf, 16));
	}
	/* Writes with the root token exercise allocation and the free lists. */
	for (int i = 0; i < 4; i++) {
		size_t kl = (size_t)snprintf(key, sizeof key, "scratch%d", i);
		counted(shmemora_kv_put(p, &t->root, "t", key, kl, "scratch value", 13));
		counted(shmemora_kv_delete(p, &t->root, "t", key, kl));
	}
	shmemora_token junk;
	shmemora_region_acquire(p, &t->root, 0, 64, SHMEMORA_RIGHT_READ, &junk);
	shmemora_stats st = { 0 };
	shmemora_stats_get(p, &st);
	shmemora_check_report rep = { 0 };
	shmemora_check(p, 0, &rep);
	shmemora_detach(p);
	return CHILD_OK;
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void flips_and_overwrites_never_crash_hang_or_grant_access(void **state)
{
	(void)state;
	const char *env = getenv("SHMEMORA_TAMPER_FLIPS");
	int flips = env ? atoi(env) : 2000;
	integrity_errors = mmap(NULL, sizeof *integrity_errors, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(integrity_errors != MAP_FAILED);
	*integrity_errors = 0;
	char path[256];
	shmemora_pool *pool;
	struct tokens t;
	test_make_pool(path, sizeof path, "tamper", 8u << 20, 4, 64, "t", &pool, &t.root);
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "t",
			     .rights = SHMEMORA_RIGHT_READ };
	assert_shm(0, shmemora_token_derive(pool, &t.root, &g, &t.ro_ns));
	assert_shm(0, shmemora_region_acquire(pool, &t.root, 0, 4096, SHMEMORA_RIGHT_READ,
					      &t.ro_region));
	char key[16], value[14 + KEYS];
	memset(value, 'v', sizeof value);
	for (int i = 0; i < KEYS; i++) {
		size_t kl = (size_t)snprintf(key, sizeof key, "key%d", i);
		assert_shm(0, shmemora_kv_put(pool, &t.root, "t", key, kl, value, 14 + (size_t)i));
	}
	for (int i = 0; i < 8; i++) /* some free blocks, so lists are non-empty */
		assert_shm(0, shmemora_kv_put(pool, &t.root, "t", "key1", 4, "v", 1));
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(pool, &info));
	assert_shm(0, shmemora_detach(pool));

	/* Snapshot of the whole pool: restored after every flip. */
	size_t size = (size_t)info.size;
	uint8_t *snap = malloc(size);
	test_read_at(path, 0, snap, size);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);

	/* Where to aim: each metadata region, and the used part of partition 0
	 * (partition headers and entry headers). */
	struct { const char *name; uint64_t off, len; } target[] = {
		{ "superblock", 0, SB_BACKUP_OFFSET + sizeof(struct superblock) },
		{ "registry", info.region_offset[SHMEMORA_REGION_REGISTRY], 64 * info.max_hosts },
		{ "capability table", info.region_offset[SHMEMORA_REGION_CAPTABLE],
		  info.region_size[SHMEMORA_REGION_CAPTABLE] },
		{ "index", info.region_offset[SHMEMORA_REGION_INDEX],
		  info.region_size[SHMEMORA_REGION_INDEX] },
		{ "partition header", info.region_offset[SHMEMORA_REGION_PARTITIONS], 1024 },
		{ "entries", info.region_offset[SHMEMORA_REGION_PARTITIONS] + 4096, 64 * 200 },
	};
	const int ntargets = (int)(sizeof target / sizeof target[0]);
	long per_target[6] = { 0 }, refused_attach = 0;
	uint64_t rs = 0x2545F4914F6CDD1DULL;
	for (int i = 0; i < flips; i++) {
		int ti = i % ntargets;
		uint64_t at = target[ti].off + next_rand(&rs) % target[ti].len;
		if (next_rand(&rs) & 1) {
			uint8_t b = snap[at] ^ (uint8_t)(1 + next_rand(&rs) % 255);
			assert_int_equal(pwrite(fd, &b, 1, (off_t)at), 1);
		} else {
			/* An offset-looking word: inside, outside, misaligned. */
			uint64_t w = next_rand(&rs);
			switch (w % 4) {
			case 0: w = (w >> 8) % size; break;
			case 1: w = size + (w >> 40); break;
			case 2: w = ((w >> 8) % size) / 64; break;
			default: break;
			}
			at &= ~(uint64_t)7;
			assert_int_equal(pwrite(fd, &w, 8, (off_t)at), 8);
		}
		pid_t kid = fork();
		if (kid == 0) {
			alarm(20); /* a hang ends as SIGALRM: reported below */
			_exit(other_host(path, &t));
		}
		int status = 0;
		assert_int_equal(waitpid(kid, &status, 0), kid);
		if (WIFSIGNALED(status))
			fail_msg("flip %d in the %s at %llu: the other host died of signal %d", i,
				 target[ti].name, (unsigned long long)at, WTERMSIG(status));
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) == CHILD_GRANTED_TOO_MUCH)
			fail_msg("flip %d in the %s at %llu: a read-only token was allowed to write",
				 i, target[ti].name, (unsigned long long)at);
		if (WEXITSTATUS(status) == CHILD_REFUSED_ATTACH)
			refused_attach++;
		else
			assert_int_equal(WEXITSTATUS(status), CHILD_OK);
		per_target[ti]++;
		assert_int_equal(pwrite(fd, snap, size, 0), (ssize_t)size);
	}
	close(fd);
	free(snap);
	print_message("# %d flips/overwrites (%ld superblock, %ld registry, %ld table, %ld index, "
		      "%ld partition header, %ld entries); %ld refused at attach, %ld integrity "
		      "errors reported; no crash, no hang, no write granted to a read-only "
		      "token\n", flips, per_target[0], per_target[1], per_target[2], per_target[3],
		      per_target[4], per_target[5], refused_attach, *integrity_errors);
	munmap(integrity_errors, sizeof *integrity_errors);
	test_remove_pool(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flips_and_overwrites_never_crash_hang_or_grant_access),
	};
	return cmocka_run_group_tests_name("tamper", tests, NULL, NULL);
}
