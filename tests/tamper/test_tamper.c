/*
 * test_tamper.c — shared metadata edited by a host that writes raw bytes.
 *
 * Two attackers:
 *
 *   flips_and_overwrites_...  one byte flip or offset-looking word at a
 *       time, aimed at live bytes of every metadata kind, each followed by
 *       operations from another host (a separate process); the pool is
 *       restored after every flip, so each flip is judged on its own.
 *       SHMEMORA_TAMPER_FLIPS sets the count (default 2000).
 *
 *   racing_edits_...  an attacker process maps the pool file itself (no
 *       protected path, no key) and, in a tight loop, flips a field of
 *       every kind (entry headers and key bytes, index slots, free-list
 *       heads and links, bump pointers, capability words, namespace
 *       records, host slots), holds it a moment and puts it back, while
 *       writer and reader hosts (processes) work.  SHMEMORA_TEST_SECONDS
 *       sets how long (default 4).
 *
 * What must hold in both: no host crashes (no signal) or hangs (killed
 * after a timeout, which fails the test); a read-only token never writes;
 * every value a get returns is a whole value of exactly the key and
 * namespace asked for (values say whose they are: testutil.h; the attackers
 * leave value bytes alone, which are not authenticated); and in the
 * ASan build the library's bounds hook saw no copy leave its entry's block.
 * Under `make check-sanitize` ASan+UBSan must stay silent too.
 *
 * The racing attacker is run twice: on everything but the allocator, with
 * the rules above, and on the allocator alone (heap headers: bump pointers
 * and free-list heads).  Those edits make honest writers write over live
 * values, which no reader can tell from a value (value bytes carry no MAC:
 * a host that writes raw bytes can destroy values it reaches, docs/
 * security.md); there values may come back damaged and are counted, and
 * everything else must hold.
 */
#include "testutil.h"

#include "clock.h"
#include "entry.h"
#include "index.h"
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
	CHILD_WRONG_VALUE = 21,
	CHILD_OUT_OF_BOUNDS = 22,
	CHILD_SETUP = 30,
};

struct tokens {
	shmemora_token root, ro_a, rw_a, ro_b, rw_b, ro_region;
};

/* Figures the hosts report, in memory shared with them. */
struct tally {
	long integrity_errors, reads, whole_reads, writes, attacks, damaged;
};
static struct tally *tally;

static int counted(int rc)
{
	if (rc == SHMEMORA_E_CORRUPT || rc == SHMEMORA_E_TAMPERED ||
	    rc == SHMEMORA_E_TOKEN_REFUSED || rc == SHMEMORA_E_TRUNCATED)
		__atomic_fetch_add(&tally->integrity_errors, 1, __ATOMIC_RELAXED);
	return rc;
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t key_of(char *key, size_t cap, unsigned i)
{
	return (size_t)snprintf(key, cap, "key%u", i % KEYS);
}

/* Whether a damaged value fails the test (see enum aim_at). */
static int values_must_be_whole = 1;

/* A get of key i of `ns` with `tok`: if it succeeds, the value must be a
 * whole value of that key.  Returns CHILD_OK or CHILD_WRONG_VALUE. */
static int read_and_judge(shmemora_pool *p, const shmemora_token *tok, const char *ns, unsigned i)
{
	char key[16];
	uint8_t buf[1024];
	size_t kl = key_of(key, sizeof key, i), len = 0;
	__atomic_fetch_add(&tally->reads, 1, __ATOMIC_RELAXED);
	if (counted(shmemora_kv_get(p, tok, ns, key, kl, buf, sizeof buf, &len, NULL)) != 0)
		return CHILD_OK;
	if (!test_value_check(buf, len, ns, key, kl, NULL)) {
		if (!values_must_be_whole) {
			__atomic_fetch_add(&tally->damaged, 1, __ATOMIC_RELAXED);
			return CHILD_OK;
		}
		print_error("get %s/%s returned %zu bytes that are not its value\n", ns, key, len);
		return CHILD_WRONG_VALUE;
	}
	__atomic_fetch_add(&tally->whole_reads, 1, __ATOMIC_RELAXED);
	return CHILD_OK;
}

/* Read-only tokens must never write, whatever the metadata says; a token of
 * one namespace never reads another's keys. */
static int try_forbidden(shmemora_pool *p, const struct tokens *t, unsigned i)
{
	char key[16];
	uint8_t buf[256];
	size_t kl = key_of(key, sizeof key, i), len;
	if (shmemora_kv_put(p, &t->ro_a, "a", key, kl, "x", 1) == 0 ||
	    shmemora_kv_delete(p, &t->ro_a, "a", key, kl) == 0 ||
	    shmemora_region_write(p, &t->ro_region, 0, "x", 1) == 0 ||
	    shmemora_kv_get(p, &t->ro_a, "b", key, kl, buf, sizeof buf, &len, NULL) == 0)
		return CHILD_GRANTED_TOO_MUCH;
	return CHILD_OK;
}

static int bounds_result(void)
{
#ifdef SHMEMORA_BOUNDS_CHECK
	if (atomic_load(&entry_bounds_violations)) {
		print_error("the bounds hook saw %llu copies leave their block\n",
			    (unsigned long long)atomic_load(&entry_bounds_violations));
		return CHILD_OUT_OF_BOUNDS;
	}
#endif
	return CHILD_OK;
}

/* ---------------------------------------------------- one flip at a time */

/* The other host: a few operations of every kind, after one flip. */
static int other_host(const char *path, const struct tokens *t)
{
	shmemora_pool *p;
	if (counted(shmemora_attach(path, NULL, &p)))
		return CHILD_REFUSED_ATTACH;
	int rc = CHILD_OK;
	for (unsigned i = 0; i < 8 && rc == CHILD_OK; i++) {
		rc = read_and_judge(p, &t->root, "a", i * 7);
		if (rc == CHILD_OK)
			rc = read_and_judge(p, &t->ro_b, "b", i * 5);
		if (rc == CHILD_OK)
			rc = try_forbidden(p, t, i);
		uint8_t buf[16];
		counted(shmemora_region_read(p, &t->ro_region, 0, buf, sizeof buf));
	}
	/* Writes exercise allocation, the free lists and the index. */
	for (int i = 0; i < 4 && rc == CHILD_OK; i++) {
		char key[16];
		uint8_t val[128];
		size_t kl = (size_t)snprintf(key, sizeof key, "scratch%d", i);
		size_t vl = test_value_make(val, sizeof val, "a", key, kl, 1);
		counted(shmemora_kv_put(p, &t->rw_a, "a", key, kl, val, vl));
		counted(shmemora_kv_delete(p, &t->rw_a, "a", key, kl));
	}
	shmemora_token junk;
	shmemora_region_acquire(p, &t->root, 0, 64, SHMEMORA_RIGHT_READ, &junk);
	shmemora_stats st = { 0 };
	shmemora_stats_get(p, &st);
	shmemora_check_report rep = { 0 };
	shmemora_check(p, 0, &rep);
	shmemora_detach(p);
	return rc == CHILD_OK ? bounds_result() : rc;
}

/* Creates the pool both tests use: namespaces a and b with KEYS keys each,
 * tokens of every kind, some free blocks. */
static void make_tamper_pool(char *path, size_t n, uint64_t size, uint32_t hosts,
			     struct tokens *t, shmemora_info *info)
{
	shmemora_pool *pool;
	test_make_pool(path, n, "tamper", size, hosts, 64, "a", &pool, &t->root);
	assert_shm(0, shmemora_ns_create(pool, &t->root, "b"));
	struct { const char *ns; uint32_t rights; shmemora_token *out; } grants[] = {
		{ "a", SHMEMORA_RIGHT_READ, &t->ro_a },
		{ "a", SHMEMORA_RIGHTS_ALL & ~SHMEMORA_RIGHT_GRANT, &t->rw_a },
		{ "b", SHMEMORA_RIGHT_READ, &t->ro_b },
		{ "b", SHMEMORA_RIGHTS_ALL & ~SHMEMORA_RIGHT_GRANT, &t->rw_b },
	};
	for (size_t i = 0; i < sizeof grants / sizeof grants[0]; i++) {
		shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = grants[i].ns,
				     .rights = grants[i].rights };
		assert_shm(0, shmemora_token_derive(pool, &t->root, &g, grants[i].out));
	}
	assert_shm(0, shmemora_region_acquire(pool, &t->root, 0, 4096, SHMEMORA_RIGHT_READ,
					      &t->ro_region));
	for (unsigned i = 0; i < KEYS; i++) {
		char key[16];
		uint8_t val[512];
		size_t kl = key_of(key, sizeof key, i);
		for (int ns = 0; ns < 2; ns++) {
			const char *name = ns ? "b" : "a";
			size_t vl = test_value_make(val, 64 + 7 * i, name, key, kl, 1);
			assert_shm(0, shmemora_kv_put(pool, &t->root, name, key, kl, val, vl));
		}
	}
	for (int i = 0; i < 8; i++) { /* some free blocks, so lists are non-empty */
		uint8_t val[128];
		size_t vl = test_value_make(val, 100, "a", "key1", 4, 2 + (uint64_t)i);
		assert_shm(0, shmemora_kv_put(pool, &t->root, "a", "key1", 4, val, vl));
	}
	assert_shm(0, shmemora_pool_info(pool, info));
	assert_shm(0, shmemora_detach(pool));
}

static struct tally *map_tally(void)
{
	struct tally *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(t != MAP_FAILED);
	memset(t, 0, sizeof *t);
	return t;
}

/* Where a flip may land: [off, off+len) of the pool, and a name. */
struct target {
	const char *name;
	uint64_t off, len;
};

/* What an attacker aims at.  Edits of the allocator's words (heap headers)
 * make honest writers carve or pop blocks that overlap live entries and
 * write over their values: that destroys values without any reader being
 * able to tell (value bytes carry no MAC), so it is attacked on its own,
 * where a damaged value is counted rather than failed. */
enum aim_at { AIM_ALL, AIM_ALL_BUT_ALLOCATOR, AIM_ALLOCATOR };

/* Targets aimed at live bytes: the superblock, every region of the sync
 * area, the capability entries in use, and the headers and keys of live
 * entries (found through the index of the snapshot). */
static int aim(const uint8_t *snap, const shmemora_info *info, enum aim_at which,
	       struct target *t, int cap)
{
	int n = 0;
	static const struct { const char *name; enum shmemora_region r; } regions[] = {
		{ "registry", SHMEMORA_REGION_REGISTRY },
		{ "capability sync words", SHMEMORA_REGION_CAPSYNC },
		{ "namespace records", SHMEMORA_REGION_NAMESPACES },
		{ "heap headers", SHMEMORA_REGION_HEAP },
	};
	t[n++] = (struct target){ "superblock", 0, SB_BACKUP_OFFSET + sizeof(struct superblock) };
	if (which == AIM_ALLOCATOR) {
		t[n++] = (struct target){ "heap headers", info->region_offset[SHMEMORA_REGION_HEAP],
					  (uint64_t)CACHE_LINE * 16 };
		return n;
	}
	for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++)
		if (which == AIM_ALL || regions[i].r != SHMEMORA_REGION_HEAP)
			t[n++] = (struct target){ regions[i].name, info->region_offset[regions[i].r],
						  (uint64_t)CACHE_LINE * 16 };
	t[n++] = (struct target){ "capability entries", info->region_offset[SHMEMORA_REGION_CAPTABLE],
				  (uint64_t)CACHE_LINE * 8 };
	const uint64_t *slots = (const uint64_t *)(snap + info->region_offset[SHMEMORA_REGION_INDEX]);
	uint64_t data = info->region_offset[SHMEMORA_REGION_DATA];
	for (uint64_t i = 0; i < info->index_slots && n < cap; i++) {
		if (!slots[i])
			continue;
		uint64_t off = (slots[i] & ((1ULL << SLOT_OFFSET_BITS) - 1)) * 64;
		if (off < data || off >= data + info->region_size[SHMEMORA_REGION_DATA])
			continue;
		if (n + 2 > cap)
			break;
		t[n++] = (struct target){ "index slots", info->region_offset[SHMEMORA_REGION_INDEX] +
						       i * 8, 8 };
		/* The header and the first 4 key bytes (every key here is at least
		 * "keyN"): value bytes are not authenticated (a raw writer can
		 * destroy values it reaches; docs/security.md), so an edit there
		 * is not something a reader can tell. */
		t[n++] = (struct target){ "entry headers and keys", off, ENTRY_HEADER_BYTES + 4 };
	}
	return n;
}

/* One flip of the copy of the pool: a bit flip, or an offset-looking word. */
static uint64_t flip(int fd, const uint8_t *snap, size_t size, const struct target *t,
		     uint64_t *rs)
{
	uint64_t at = t->off + next_rand(rs) % t->len;
	if (next_rand(rs) & 1) {
		uint8_t b = snap[at] ^ (uint8_t)(1u << (next_rand(rs) % 8));
		assert_int_equal(pwrite(fd, &b, 1, (off_t)at), 1);
		return at;
	}
	uint64_t w = next_rand(rs);
	switch (w % 4) {
	case 0: w = (w >> 8) % size; break;        /* inside the pool */
	case 1: w = size + (w >> 40); break;        /* past it */
	case 2: w = ((w >> 8) % size) / 64; break; /* in 64-byte units */
	default: break;
	}
	at &= ~(uint64_t)7;
	assert_int_equal(pwrite(fd, &w, 8, (off_t)at), 8);
	return at;
}

static void run_other_host(const char *path, const struct tokens *t, const char *what,
			   int i, uint64_t at, long *refused)
{
	pid_t kid = test_fork();
	if (kid == 0) {
		alarm(20); /* a hang ends as SIGALRM: reported below */
		_exit(other_host(path, t));
	}
	int status = 0;
	assert_int_equal(waitpid(kid, &status, 0), kid);
	if (WIFSIGNALED(status))
		fail_msg("flip %d in the %s at %llu: the other host died of signal %d", i, what,
			 (unsigned long long)at, WTERMSIG(status));
	assert_true(WIFEXITED(status));
	switch (WEXITSTATUS(status)) {
	case CHILD_OK:
		return;
	case CHILD_REFUSED_ATTACH:
		(*refused)++;
		return;
	case CHILD_GRANTED_TOO_MUCH:
		fail_msg("flip %d in the %s at %llu: a token was granted what it does not grant",
			 i, what, (unsigned long long)at);
		return;
	case CHILD_WRONG_VALUE:
		fail_msg("flip %d in the %s at %llu: a get returned bytes that are not the value "
			 "asked for", i, what, (unsigned long long)at);
		return;
	default:
		fail_msg("flip %d in the %s at %llu: the other host exited %d", i, what,
			 (unsigned long long)at, WEXITSTATUS(status));
	}
}

static void flips_and_overwrites_never_crash_hang_leak_or_grant_access(void **state)
{
	(void)state;
	const char *env = getenv("SHMEMORA_TAMPER_FLIPS");
	int flips = env ? atoi(env) : 2000;
	tally = map_tally();
	char path[256];
	struct tokens t;
	shmemora_info info;
	make_tamper_pool(path, sizeof path, 8u << 20, 4, &t, &info);
	size_t size = (size_t)info.size;
	uint8_t *snap = malloc(size);
	test_read_at(path, 0, snap, size);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct target target[512];
	int ntargets = aim(snap, &info, AIM_ALL, target, 512);
	long refused = 0, on_entries = 0;
	uint64_t rs = 0x2545F4914F6CDD1DULL;
	for (int i = 0; i < flips; i++) {
		/* Half the flips on the sync area and the table, half on live
		 * index slots and entries. */
		int ti = (i & 1) ? (int)(next_rand(&rs) % 6)
				 : 6 + (int)(next_rand(&rs) % (uint64_t)(ntargets - 6));
		on_entries += ti >= 6;
		uint64_t at = flip(fd, snap, size, &target[ti], &rs);
		run_other_host(path, &t, target[ti].name, i, at, &refused);
		assert_int_equal(pwrite(fd, snap, size, 0), (ssize_t)size);
	}
	close(fd);
	free(snap);
	print_message("# %d flips/overwrites (%ld on live index slots, entry headers and keys); "
		      "%ld refused at attach, %ld integrity errors reported, %ld of %ld gets "
		      "returned whole values; no crash, no hang, no wrong value, no write "
		      "granted\n", flips, on_entries, refused, tally->integrity_errors,
		      tally->whole_reads, tally->reads);
	munmap(tally, sizeof *tally);
	test_remove_pool(path);
}

/* ------------------------------------------------------ racing attacker */

/* A writer host: rewrites keys of its namespace with values of changing
 * sizes (so blocks of several classes are freed and reused). */
static int writer_host(const char *path, const shmemora_token *tok, const char *ns,
		       uint64_t deadline_ns, uint64_t seed)
{
	shmemora_pool *p;
	if (counted(shmemora_attach(path, NULL, &p)))
		return CHILD_REFUSED_ATTACH;
	uint8_t val[600];
	for (uint64_t version = 2; clock_monotonic_ns() < deadline_ns; version++) {
		char key[16];
		size_t kl = key_of(key, sizeof key, (unsigned)next_rand(&seed));
		size_t vl = test_value_make(val, 64 + next_rand(&seed) % 500, ns, key, kl, version);
		if (next_rand(&seed) % 16 == 0)
			counted(shmemora_kv_delete(p, tok, ns, key, kl));
		if (counted(shmemora_kv_put(p, tok, ns, key, kl, val, vl)) == 0)
			__atomic_fetch_add(&tally->writes, 1, __ATOMIC_RELAXED);
	}
	shmemora_detach(p);
	return bounds_result();
}

/* A reader host: gets keys of both namespaces and judges every value. */
static int reader_host(const char *path, const struct tokens *t, uint64_t deadline_ns,
		       uint64_t seed)
{
	shmemora_pool *p;
	if (counted(shmemora_attach(path, NULL, &p)))
		return CHILD_REFUSED_ATTACH;
	int rc = CHILD_OK;
	for (unsigned n = 0; rc == CHILD_OK && clock_monotonic_ns() < deadline_ns; n++) {
		unsigned i = (unsigned)next_rand(&seed);
		rc = read_and_judge(p, &t->ro_a, "a", i);
		if (rc == CHILD_OK)
			rc = read_and_judge(p, &t->ro_b, "b", i);
		if (rc == CHILD_OK && n % 64 == 0)
			rc = try_forbidden(p, t, i);
	}
	shmemora_detach(p);
	return rc == CHILD_OK ? bounds_result() : rc;
}

/* The attacker: no protected path, its own mapping of the file.  Each round
 * picks a live field, flips a bit of it (or writes an offset-looking word),
 * holds it a moment, and puts the old value back unless an honest host has
 * changed the word meanwhile. */
static int attacker(const char *path, const shmemora_info *info, enum aim_at which,
		    uint64_t deadline_ns, uint64_t seed)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return CHILD_SETUP;
	uint8_t *base = mmap(NULL, info->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return CHILD_SETUP;
	struct target target[512];
	while (clock_monotonic_ns() < deadline_ns) {
		int n = aim(base, info, which, target, 512);
		for (int round = 0; round < 256 && n > 1; round++) {
			const struct target *tg = &target[1 + next_rand(&seed) % (uint64_t)(n - 1)];
			/* Whole words: inside an entry, its header's, but never its
			 * free-list link (the allocator's word, attacked apart). */
			uint64_t len = tg->len > ENTRY_HEADER_BYTES ? ENTRY_HEADER_BYTES : tg->len;
			uint64_t at = (tg->off + next_rand(&seed) % len) & ~(uint64_t)7;
			if (tg->len > ENTRY_HEADER_BYTES && at - tg->off == 8)
				continue;
			_Atomic uint64_t *w = (_Atomic uint64_t *)(void *)(base + at);
			uint64_t old = atomic_load(w), bad = old ^ (1ULL << (next_rand(&seed) % 64));
			if (next_rand(&seed) % 4 == 0)
				bad = (next_rand(&seed) >> 8) % info->size;
			atomic_store(w, bad);
			for (uint64_t spin = next_rand(&seed) % 20000; spin; spin--)
				__asm__ volatile("" ::: "memory");
			atomic_compare_exchange_strong(w, &bad, old); /* the undo */
			__atomic_fetch_add(&tally->attacks, 1, __ATOMIC_RELAXED);
		}
	}
	munmap(base, info->size);
	return CHILD_OK;
}

/* Writers, readers and the attacker for SHMEMORA_TEST_SECONDS; returns
 * how long it ran.  Fails the test on a crash, a hang, a forbidden write, a
 * copy out of bounds, or (when values must be whole) a wrong value. */
static int race(enum aim_at which)
{
	const char *env = getenv("SHMEMORA_TEST_SECONDS");
	int seconds = env ? atoi(env) : 4;
	tally = map_tally();
	values_must_be_whole = which != AIM_ALLOCATOR;
	char path[256];
	struct tokens t;
	shmemora_info info;
	make_tamper_pool(path, sizeof path, 32u << 20, 8, &t, &info);
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)seconds * 1000000000ull;
	enum { WRITER_A, WRITER_B, READER_1, READER_2, ATTACKER, HOSTS };
	static const char *const role[HOSTS] = { "writer of a", "writer of b", "reader",
						 "reader", "attacker" };
	pid_t kid[HOSTS];
	for (int h = 0; h < HOSTS; h++) {
		kid[h] = test_fork();
		assert_true(kid[h] >= 0);
		if (kid[h] == 0) {
			alarm((unsigned)seconds + 60); /* a hang ends as SIGALRM */
			uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(h + 1);
			_exit(h == WRITER_A ? writer_host(path, &t.rw_a, "a", deadline, seed)
			      : h == WRITER_B ? writer_host(path, &t.rw_b, "b", deadline, seed)
			      : h == ATTACKER ? attacker(path, &info, which, deadline, seed)
			      : reader_host(path, &t, deadline, seed));
		}
	}
	int failed = 0;
	for (int h = 0; h < HOSTS; h++) {
		int status = 0;
		assert_int_equal(waitpid(kid[h], &status, 0), kid[h]);
		if (WIFSIGNALED(status)) {
			print_error("the %s died of signal %d\n", role[h], WTERMSIG(status));
			failed = 1;
		} else if (WEXITSTATUS(status) != CHILD_OK &&
			   WEXITSTATUS(status) != CHILD_REFUSED_ATTACH) {
			print_error("the %s exited %d\n", role[h], WEXITSTATUS(status));
			failed = 1;
		}
	}
	assert_false(failed);
	assert_true(tally->attacks > 0 && tally->whole_reads > 0);
	/* What is left can be checked and repaired without harm. */
	shmemora_pool *pool;
	assert_shm(0, shmemora_attach(path, NULL, &pool));
	shmemora_check_report rep = { 0 };
	assert_shm(0, shmemora_check(pool, SHMEMORA_CHECK_REPAIR, &rep));
	assert_shm(0, shmemora_detach(pool));
	char damaged[96] = "";
	if (which == AIM_ALLOCATOR)
		snprintf(damaged, sizeof damaged, " (%ld values damaged by writes through it)",
			 tally->damaged);
	print_message("# %d s racing %s: %ld edits undone and redone, %ld writes, %ld of %ld gets "
		      "returned whole values of the right key%s, %ld integrity errors; check "
		      "--repair then found %llu problems\n", seconds,
		      which == AIM_ALLOCATOR ? "the allocator" : "all other metadata",
		      tally->attacks, tally->writes, tally->whole_reads, tally->reads, damaged,
		      tally->integrity_errors, (unsigned long long)rep.problems);
	munmap(tally, sizeof *tally);
	test_remove_pool(path);
	return seconds;
}

static void racing_edits_never_crash_hang_leak_or_grant_access(void **state)
{
	(void)state;
	race(AIM_ALL_BUT_ALLOCATOR);
}

static void racing_allocator_edits_never_crash_hang_or_read_out_of_bounds(void **state)
{
	(void)state;
	race(AIM_ALLOCATOR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flips_and_overwrites_never_crash_hang_leak_or_grant_access),
		cmocka_unit_test(racing_edits_never_crash_hang_leak_or_grant_access),
		cmocka_unit_test(racing_allocator_edits_never_crash_hang_or_read_out_of_bounds),
	};
	return cmocka_run_group_tests_name("tamper", tests, NULL, NULL);
}
