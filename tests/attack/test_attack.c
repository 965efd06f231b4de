/*
 * test_attack.c — the penetration suite: each test tries one attack on the
 * capability tokens or the protected path and asserts that it fails with
 * the right error and changes nothing.
 *
 * Entries are tampered with through the pool file (pwrite), the way a host
 * that writes raw bytes into shared metadata would, so the same tests hold
 * in `mpk` mode, where the library's own mapping is closed to this code.
 */
#include "testutil.h"

#include "captable.h"
#include "crypto.h"
#include "layout.h"
#include "pool.h"

#include <fcntl.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

struct fixture {
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
	uint64_t captable;    /* file offset of the capability fields */
	uint64_t capsync;     /* file offset of the capability sync words */
	uint64_t data;        /* file offset of the data area */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	test_make_pool(f->path, sizeof f->path, "attack", 32u << 20, 0, 64, NULL, &f->pool,
		       &f->root);
	static const char *const names[] = { "usertable", "alpha", "beta" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		assert_shm(0, shmemora_ns_create(f->pool, &f->root, names[i]));
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(f->pool, &info));
	f->captable = info.region_offset[SHMEMORA_REGION_CAPTABLE];
	f->capsync = info.region_offset[SHMEMORA_REGION_CAPSYNC];
	f->data = info.region_offset[SHMEMORA_REGION_RAW];
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

static shmemora_token derive_region(struct fixture *f, const shmemora_token *from,
				    uint64_t off, uint64_t len, uint32_t rights)
{
	shmemora_token t;
	assert_shm(0, shmemora_region_acquire(f->pool, from, off, len, rights, &t));
	return t;
}

/* A write through `t` fails with `want`, and the raw area is unchanged: all
 * of it, since a refused write may aim anywhere (callers use 0, 4096, the
 * region's end, ...). */
static void assert_write_refused(struct fixture *f, const shmemora_token *t, uint64_t off,
				 int want)
{
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(f->pool, &info));
	size_t size = (size_t)info.region_size[SHMEMORA_REGION_RAW];
	assert_true(size > 0);
	uint8_t *before = malloc(size), *after = malloc(size);
	assert_non_null(before);
	assert_non_null(after);
	assert_shm(0, shmemora_region_read(f->pool, &f->root, 0, before, size));
	assert_shm(want, shmemora_region_write(f->pool, t, off, "PWNED!", 6));
	assert_shm(0, shmemora_region_read(f->pool, &f->root, 0, after, size));
	assert_memory_equal(before, after, size);
	free(before);
	free(after);
}

/* A read through `t` fails with `want` and copies nothing out: the buffer,
 * the whole length asked and a guard past it, keeps its fill.  The fill is
 * not 0, which a fresh pool's raw area holds and a leak would copy. */
static void assert_read_refused(struct fixture *f, const shmemora_token *t, uint64_t off,
				uint64_t len, int want)
{
	enum { FILL = 0xa5, GUARD = 64 };
	size_t n = (size_t)len + GUARD;
	uint8_t *buf = malloc(n);
	assert_non_null(buf);
	memset(buf, FILL, n);
	assert_shm(want, shmemora_region_read(f->pool, t, off, buf, len));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf[i], FILL);
	free(buf);
}

/* Overwrites `len` bytes of the table entry of `t` at field offset `at`. */
static void edit_entry(struct fixture *f, const shmemora_token *t, size_t at, const void *v,
		       size_t len)
{
	uint64_t index = t->id & CAP_INDEX_MASK;
	test_write_at(f->path, (off_t)(f->captable + index * sizeof(struct cap_entry) + at), v,
		      len);
}

/* The file offset of the sync word at `at` of token t's entry. */
static off_t sync_word_at(struct fixture *f, const shmemora_token *t, size_t at)
{
	return (off_t)(f->capsync + (t->id & CAP_INDEX_MASK) * sizeof(struct cap_sync) + at);
}

static uint64_t entry_state(struct fixture *f, const shmemora_token *t)
{
	uint64_t w;
	test_read_at(f->path, sync_word_at(f, t, offsetof(struct cap_sync, state)), &w, sizeof w);
	return w;
}

/* Overwrites token t's sync word at `at` (state, used, tomb). */
static void edit_sync(struct fixture *f, const shmemora_token *t, size_t at, uint64_t v)
{
	test_write_at(f->path, sync_word_at(f, t, at), &v, sizeof v);
}

/* ------------------------------------------------------------ forgery */

static void random_tags_are_refused(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 200; i++) {
		shmemora_token t = f->root;
		assert_shm(0, crypto_random(t.tag, sizeof t.tag));
		assert_write_refused(f, &t, 0, SHMEMORA_E_TOKEN_REFUSED);
	}
}

static void every_single_bit_flip_of_a_token_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token good = derive_region(f, &f->root, 0, 4096, SHMEMORA_RIGHTS_ALL);
	/* Every bit of every field: 16 of the key hint, 64 of the id, 128 of
	 * the tag. */
	struct { size_t at, bytes; } fields[] = {
		{ offsetof(shmemora_token, key_hint), sizeof good.key_hint },
		{ offsetof(shmemora_token, id), sizeof good.id },
		{ offsetof(shmemora_token, tag), sizeof good.tag },
	};
	int tried = 0;
	for (size_t k = 0; k < 3; k++) {
		size_t base = fields[k].at;
		for (size_t bit = 0; bit < 8 * fields[k].bytes; bit++) {
			shmemora_token t = good;
			((uint8_t *)&t)[base + bit / 8] ^= (uint8_t)(1u << (bit % 8));
			int rc = shmemora_region_write(f->pool, &t, 0, "x", 1);
			if (rc == 0)
				print_error("field %zu bit %zu flipped was accepted\n", k, bit);
			assert_int_equal(rc, SHMEMORA_E_TOKEN_REFUSED);
			tried++;
		}
	}
	assert_int_equal(tried, 208);
	assert_shm(0, shmemora_region_write(f->pool, &good, 0, "x", 1));
}

static void every_single_character_change_of_token_text_is_malformed(void **state)
{
	struct fixture *f = *state;
	char text[SHMEMORA_TOKEN_TEXT_LEN + 1];
	assert_shm(0, shmemora_token_format(&f->root, text, sizeof text));
	for (size_t i = 0; i < SHMEMORA_TOKEN_TEXT_LEN; i++) {
		char bad[sizeof text];
		memcpy(bad, text, sizeof bad);
		bad[i] = bad[i] == '0' ? '1' : '0';
		shmemora_token t;
		assert_shm(SHMEMORA_E_TOKEN_MALFORMED, shmemora_token_parse(bad, &t));
	}
}

static void malformed_token_texts_are_told_apart(void **state)
{
	(void)state;
	const char *bad[] = {
		"",
		"shmemora1_",
		"SHMEMORA1_bcae_b5c81ad1fe000000_6bfea91c41d4f9d0ce55b0208a0c8bf2_572ffc69",
		"shmemora1_BCAE_b5c81ad1fe000000_6bfea91c41d4f9d0ce55b0208a0c8bf2_572ffc69",
		"shmemora1_bcae-b5c81ad1fe000000-6bfea91c41d4f9d0ce55b0208a0c8bf2-572ffc69",
		"shmemora1_bcae_b5c81ad1fe000000_6bfea91c41d4f9d0ce55b0208a0c8bf2_572ffc690",
		"shmemora2_bcae_b5c81ad1fe000000_6bfea91c41d4f9d0ce55b0208a0c8bf2_572ffc69",
		"shmemora1_bcae_b5c81ad1fe000000_6bfea91c41d4f9d0ce55b0208a0c8bf_2572ffc69",
	};
	shmemora_token t;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_shm(SHMEMORA_E_TOKEN_MALFORMED, shmemora_token_parse(bad[i], &t));
	assert_shm(SHMEMORA_E_INVALID, shmemora_token_parse(NULL, &t));
}

static void rights_text_round_trips_and_refuses_strangers(void **state)
{
	(void)state;
	char text[6];
	for (uint32_t r = 1; r <= SHMEMORA_RIGHTS_ALL; r++) {
		uint32_t back = 0;
		shmemora_rights_format(r, text);
		assert_shm(0, shmemora_rights_parse(text, &back));
		assert_int_equal(back, r);
	}
	uint32_t r;
	assert_shm(SHMEMORA_E_INVALID, shmemora_rights_parse("rwx", &r));
	assert_shm(SHMEMORA_E_INVALID, shmemora_rights_parse("", &r));
	assert_shm(SHMEMORA_E_INVALID, shmemora_rights_parse("R", &r));
}

static void zero_token_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token t;
	memset(&t, 0, sizeof t);
	t.key_hint = f->root.key_hint;
	assert_write_refused(f, &t, 0, SHMEMORA_E_TOKEN_REFUSED);
	assert_shm(SHMEMORA_E_INVALID, shmemora_region_write(f->pool, NULL, 0, "x", 1));
}

static void id_naming_a_slot_past_the_table_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = f->root;
	t.id = (t.id & ~CAP_INDEX_MASK) | 1000; /* table has 64 entries */
	assert_write_refused(f, &t, 0, SHMEMORA_E_TOKEN_REFUSED);
	assert_non_null(strstr(shmemora_errmsg(), "no slot"));
}

static void token_from_another_pool_is_refused(void **state)
{
	struct fixture *f = *state;
	char other[256], root[300];
	test_pool_path(other, sizeof other, "attack-other");
	test_create_small(other, 16u << 20, 2);
	snprintf(root, sizeof root, "%s.root-token", other);
	shmemora_token foreign;
	assert_shm(0, shmemora_token_load(root, &foreign));
	assert_write_refused(f, &foreign, 0, SHMEMORA_E_TOKEN_REFUSED);
	assert_non_null(strstr(shmemora_errmsg(), "another pool"));
	/* Even with the key hint forged to match, the tag does not verify. */
	foreign.key_hint = f->root.key_hint;
	assert_write_refused(f, &foreign, 0, SHMEMORA_E_TOKEN_REFUSED);
	test_remove_pool(other);
}

static void guessing_ids_works_only_under_the_off_policy(void **state)
{
	struct fixture *f = *state;
	shmemora_token guess = f->root;
	memset(guess.tag, 0x41, sizeof guess.tag); /* right id, made-up tag */
	assert_shm(SHMEMORA_E_TOKEN_REFUSED, shmemora_region_write(f->pool, &guess, 0, "x", 1));
	assert_shm(0, shmemora_set_verify(f->pool, SHMEMORA_VERIFY_ALWAYS));
	assert_shm(SHMEMORA_E_TOKEN_REFUSED, shmemora_region_write(f->pool, &guess, 0, "x", 1));
	/* `off` is the seed's use_mac=0: fast and weak, by documented design. */
	assert_shm(0, shmemora_set_verify(f->pool, SHMEMORA_VERIFY_OFF));
	assert_shm(0, shmemora_region_write(f->pool, &guess, 0, "x", 1));
	/* Even `off` still checks state, rights and bounds. */
	shmemora_token ro = derive_region(f, &f->root, 0, 64, SHMEMORA_RIGHT_READ);
	shmemora_token ro_guess = ro;
	memset(ro_guess.tag, 0x42, sizeof ro_guess.tag);
	assert_write_refused(f, &ro_guess, 0, SHMEMORA_E_DENIED);
	assert_read_refused(f, &ro_guess, 60, 8, SHMEMORA_E_OUT_OF_SCOPE);
}

static void forged_token_cannot_revoke_a_genuine_one(void **state)
{
	struct fixture *f = *state;
	shmemora_token victim = derive_region(f, &f->root, 0, 64, SHMEMORA_RIGHTS_ALL);
	shmemora_token forged = victim;
	forged.tag[5] ^= 1;
	assert_shm(SHMEMORA_E_TOKEN_REFUSED, shmemora_token_revoke(f->pool, &forged));
	assert_shm(0, shmemora_region_write(f->pool, &victim, 0, "ok", 2));
}

/* --------------------------------------------------- revoke and expiry */

static void revoked_token_is_refused_as_revoked(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 0, 4096, SHMEMORA_RIGHTS_ALL);
	assert_shm(0, shmemora_region_write(f->pool, &t, 0, "ok", 2));
	assert_shm(0, shmemora_token_revoke(f->pool, &t));
	assert_write_refused(f, &t, 0, SHMEMORA_E_REVOKED);
	assert_read_refused(f, &t, 0, 8, SHMEMORA_E_REVOKED);
	/* Revoking again is allowed and harmless. */
	assert_shm(0, shmemora_token_revoke(f->pool, &t));
}

static void tokens_of_a_revoked_parent_are_revoked(void **state)
{
	struct fixture *f = *state;
	shmemora_token parent = derive_region(f, &f->root, 0, 4096, SHMEMORA_RIGHTS_ALL);
	shmemora_token child = derive_region(f, &parent, 0, 1024, SHMEMORA_RIGHTS_ALL);
	shmemora_token grandchild = derive_region(f, &child, 0, 64, SHMEMORA_RIGHT_READ);
	shmemora_token sibling = derive_region(f, &f->root, 8192, 64, SHMEMORA_RIGHTS_ALL);
	assert_shm(0, shmemora_token_revoke(f->pool, &parent));
	assert_write_refused(f, &child, 0, SHMEMORA_E_REVOKED);
	assert_read_refused(f, &grandchild, 0, 8, SHMEMORA_E_REVOKED);
	/* A revoked parent cannot derive either. */
	shmemora_token t;
	assert_shm(SHMEMORA_E_REVOKED, shmemora_region_acquire(f->pool, &child, 0, 8,
							   SHMEMORA_RIGHT_READ, &t));
	/* Other branches are untouched. */
	assert_shm(0, shmemora_region_write(f->pool, &sibling, 8192, "ok", 2));
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void expired_token_is_refused_as_expired(void **state)
{
	struct fixture *f = *state;
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_REGION, .offset = 0, .length = 64,
			     .rights = SHMEMORA_RIGHTS_ALL,
			     .expires_unix_ns = now_ns() + 50 * 1000000ull };
	shmemora_token t, child;
	assert_shm(0, shmemora_token_derive(f->pool, &f->root, &g, &t));
	g.expires_unix_ns = 0; /* inherits the parent's expiry */
	assert_shm(0, shmemora_token_derive(f->pool, &t, &g, &child));
	assert_shm(0, shmemora_region_write(f->pool, &t, 0, "ok", 2));
	struct timespec ms = { 0, 80 * 1000000 };
	nanosleep(&ms, NULL);
	assert_write_refused(f, &t, 0, SHMEMORA_E_EXPIRED);
	assert_write_refused(f, &child, 0, SHMEMORA_E_EXPIRED);
}

static void expiry_in_the_past_cannot_be_derived(void **state)
{
	struct fixture *f = *state;
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_REGION, .offset = 0, .length = 64,
			     .rights = SHMEMORA_RIGHT_READ, .expires_unix_ns = now_ns() - 1 };
	shmemora_token t;
	assert_shm(SHMEMORA_E_INVALID, shmemora_token_derive(f->pool, &f->root, &g, &t));
}

static void concurrent_revoke_stops_another_process_at_once(void **state)
{
	struct fixture *f = *state;
#if defined(__SANITIZE_THREAD__)
	/* It forks a host while this process runs its handle's heartbeat
	 * thread, and ThreadSanitizer cannot follow a child of a threaded
	 * process that starts threads; the plain and ASan builds run it. */
	skip();
#endif
	shmemora_token t = derive_region(f, &f->root, 0, 4096, SHMEMORA_RIGHT_READ);
	int go[2], revoked[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(revoked), 0);
	pid_t kid = test_fork();
	if (kid == 0) {
		/* Another host: reads in a loop with the token until told the
		 * revoke returned; the very next read must be refused. */
		shmemora_pool *p;
		if (shmemora_attach(f->path, NULL, &p))
			_exit(10);
		uint8_t buf[64];
		long ok = 0;
		if (write(go[1], "g", 1) != 1)
			_exit(11);
		fcntl(revoked[0], F_SETFL, O_NONBLOCK);
		for (;;) {
			char c;
			int told = read(revoked[0], &c, 1) == 1;
			int rc = shmemora_region_read(p, &t, 0, buf, sizeof buf);
			if (told) {
				shmemora_detach(p);
				_exit(rc == SHMEMORA_E_REVOKED && ok > 0 ? 0 : 12);
			}
			if (rc == 0)
				ok++;
			else if (rc != SHMEMORA_E_REVOKED)
				_exit(13);
		}
	}
	/* Our copy of the write end goes, so a child that dies before it says
	 * go ends the read (0 bytes) instead of blocking it for ever. */
	close(go[1]);
	char c;
	assert_int_equal(read(go[0], &c, 1), 1);
	struct timespec ms = { 0, 20 * 1000000 };
	nanosleep(&ms, NULL);
	assert_shm(0, shmemora_token_revoke(f->pool, &t));
	assert_int_equal(write(revoked[1], "r", 1), 1);
	int status;
	assert_int_equal(waitpid(kid, &status, 0), kid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(go[0]), close(revoked[0]), close(revoked[1]);
}

struct reader_arg {
	struct fixture *f;
	shmemora_token t;
	int first, after;
	pthread_barrier_t *cached, *revoked;
};

static void *cached_reader(void *p)
{
	struct reader_arg *a = p;
	uint8_t buf[8];
	a->first = shmemora_region_read(a->f->pool, &a->t, 0, buf, sizeof buf);
	a->first |= shmemora_region_read(a->f->pool, &a->t, 0, buf, sizeof buf); /* cache hit */
	pthread_barrier_wait(a->cached);
	pthread_barrier_wait(a->revoked);
	a->after = shmemora_region_read(a->f->pool, &a->t, 0, buf, sizeof buf);
	return NULL;
}

static void revoke_reaches_a_thread_that_cached_the_token(void **state)
{
	struct fixture *f = *state;
	pthread_barrier_t cached, revoked;
	pthread_barrier_init(&cached, NULL, 2);
	pthread_barrier_init(&revoked, NULL, 2);
	struct reader_arg a = { f, derive_region(f, &f->root, 0, 64, SHMEMORA_RIGHT_READ), -1, 0,
				&cached, &revoked };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, cached_reader, &a), 0);
	pthread_barrier_wait(&cached);
	assert_shm(0, shmemora_token_revoke(f->pool, &a.t));
	pthread_barrier_wait(&revoked);
	pthread_join(th, NULL);
	assert_int_equal(a.first, 0);
	assert_int_equal(a.after, SHMEMORA_E_REVOKED);
	pthread_barrier_destroy(&cached);
	pthread_barrier_destroy(&revoked);
}

/* -------------------------------------------------------------- bounds */

static void access_one_byte_before_the_region_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 4096, 4096, SHMEMORA_RIGHTS_ALL);
	assert_write_refused(f, &t, 4095, SHMEMORA_E_OUT_OF_SCOPE);
	assert_read_refused(f, &t, 4095, 1, SHMEMORA_E_OUT_OF_SCOPE);
}

static void access_one_byte_past_the_region_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 4096, 4096, SHMEMORA_RIGHTS_ALL);
	assert_read_refused(f, &t, 8192 - 8, 9, SHMEMORA_E_OUT_OF_SCOPE);
	assert_read_refused(f, &t, 8192, 1, SHMEMORA_E_OUT_OF_SCOPE);
	assert_write_refused(f, &t, 8192 - 5, SHMEMORA_E_OUT_OF_SCOPE); /* 6 bytes */
}

static void access_exactly_at_the_bounds_is_allowed(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 4096, 4096, SHMEMORA_RIGHTS_ALL);
	uint8_t buf[4096];
	assert_shm(0, shmemora_region_read(f->pool, &t, 4096, buf, sizeof buf));
	assert_shm(0, shmemora_region_write(f->pool, &t, 8192 - 6, "PWNED!", 6));
	assert_shm(0, shmemora_region_read(f->pool, &t, 8191, buf, 1));
	assert_shm(0, shmemora_region_read(f->pool, &t, 8192, buf, 0));
}

static void offset_plus_length_overflow_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 4096, 4096, SHMEMORA_RIGHTS_ALL);
	uint8_t buf[16];
	/* offset + length wraps around to a small number. */
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE,
		   shmemora_region_read(f->pool, &t, UINT64_MAX - 4, buf, 16));
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE,
		   shmemora_region_read(f->pool, &f->root, UINT64_MAX - 4, buf, 16));
	/* A length that wraps when added to a valid offset. */
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE,
		   shmemora_region_write(f->pool, &t, 4097, buf, SIZE_MAX - 8));
}

static void root_token_cannot_reach_past_the_data_area(void **state)
{
	struct fixture *f = *state;
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(f->pool, &info));
	uint64_t size = info.region_size[SHMEMORA_REGION_RAW];
	uint8_t buf[8];
	assert_shm(0, shmemora_region_read(f->pool, &f->root, size - 8, buf, 8));
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE, shmemora_region_read(f->pool, &f->root, size - 7, buf, 8));
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE, shmemora_region_read(f->pool, &f->root, size, buf, 1));
}

static void token_of_another_region_is_out_of_scope(void **state)
{
	struct fixture *f = *state;
	shmemora_token a = derive_region(f, &f->root, 0, 4096, SHMEMORA_RIGHTS_ALL);
	derive_region(f, &f->root, 4096, 4096, SHMEMORA_RIGHTS_ALL);
	assert_write_refused(f, &a, 4096, SHMEMORA_E_OUT_OF_SCOPE);
	assert_read_refused(f, &a, 6000, 8, SHMEMORA_E_OUT_OF_SCOPE);
}

static void namespace_token_grants_no_raw_region_access(void **state)
{
	struct fixture *f = *state;
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "usertable",
			     .rights = SHMEMORA_RIGHTS_ALL };
	shmemora_token t;
	assert_shm(0, shmemora_token_derive(f->pool, &f->root, &g, &t));
	assert_write_refused(f, &t, 0, SHMEMORA_E_OUT_OF_SCOPE);
	assert_read_refused(f, &t, 0, 8, SHMEMORA_E_OUT_OF_SCOPE);
}

/* -------------------------------------------------------------- rights */

static void read_only_token_cannot_write(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 0, 4096, SHMEMORA_RIGHT_READ);
	assert_write_refused(f, &t, 0, SHMEMORA_E_DENIED);
	assert_non_null(strstr(shmemora_errmsg(), "lacks the right 'w'"));
}

static void write_only_token_cannot_read(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 0, 4096, SHMEMORA_RIGHT_WRITE);
	assert_read_refused(f, &t, 0, 8, SHMEMORA_E_DENIED);
	int eq;
	assert_shm(SHMEMORA_E_DENIED, shmemora_region_compare(f->pool, &t, 0, "x", 1, &eq));
}

static void read_only_token_cannot_compare_and_swap(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 0, 4096, SHMEMORA_RIGHT_READ);
	uint64_t expected = 0;
	int swapped = -1;
	assert_shm(SHMEMORA_E_DENIED, shmemora_region_cas64(f->pool, &t, 0, &expected, 42, &swapped));
	assert_int_equal(swapped, -1);
	uint64_t word;
	assert_shm(0, shmemora_region_read(f->pool, &f->root, 0, &word, 8));
	assert_int_equal(word, 0);
}

static void unaligned_compare_and_swap_is_invalid(void **state)
{
	struct fixture *f = *state;
	uint64_t expected = 0;
	int swapped;
	assert_shm(SHMEMORA_E_INVALID,
		   shmemora_region_cas64(f->pool, &f->root, 3, &expected, 1, &swapped));
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(f->pool, &info));
	if (info.coherence == SHMEMORA_FLUSH) {
		/* No cross-host atomic on the non-coherent raw area (test_flush). */
		assert_shm(SHMEMORA_E_UNSUPPORTED,
			   shmemora_region_cas64(f->pool, &f->root, 8, &expected, 7, &swapped));
		return;
	}
	assert_shm(0, shmemora_region_cas64(f->pool, &f->root, 8, &expected, 7, &swapped));
	assert_int_equal(swapped, 1);
	assert_shm(0, shmemora_region_cas64(f->pool, &f->root, 8, &expected, 9, &swapped));
	assert_int_equal(swapped, 0);
	assert_int_equal(expected, 7);
}

static void derive_without_grant_right_is_denied(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 0, 4096,
					 SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_WRITE);
	shmemora_token c;
	assert_shm(SHMEMORA_E_DENIED, shmemora_region_acquire(f->pool, &t, 0, 64,
							  SHMEMORA_RIGHT_READ, &c));
}

static void derive_cannot_widen_rights(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 0, 4096,
					 SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_GRANT);
	shmemora_token c;
	assert_shm(SHMEMORA_E_WIDEN, shmemora_region_acquire(f->pool, &t, 0, 64,
							 SHMEMORA_RIGHT_WRITE, &c));
	assert_shm(SHMEMORA_E_WIDEN, shmemora_region_acquire(
					      f->pool, &t, 0, 64,
					      SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_DELETE, &c));
}

static void derive_cannot_widen_region(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 4096, 4096, SHMEMORA_RIGHTS_ALL);
	shmemora_token c;
	assert_shm(SHMEMORA_E_WIDEN, shmemora_region_acquire(f->pool, &t, 4096, 4097,
							 SHMEMORA_RIGHT_READ, &c));
	assert_shm(SHMEMORA_E_WIDEN, shmemora_region_acquire(f->pool, &t, 4095, 10,
							 SHMEMORA_RIGHT_READ, &c));
	assert_shm(SHMEMORA_E_WIDEN, shmemora_region_acquire(f->pool, &t, 5000, UINT64_MAX,
							 SHMEMORA_RIGHT_READ, &c));
	assert_shm(SHMEMORA_E_WIDEN, shmemora_region_acquire(f->pool, &t, UINT64_MAX - 1, 4,
							 SHMEMORA_RIGHT_READ, &c));
	assert_shm(SHMEMORA_E_INVALID, shmemora_region_acquire(f->pool, &t, 4096, 0,
							   SHMEMORA_RIGHT_READ, &c));
}

static void derive_cannot_extend_expiry(void **state)
{
	struct fixture *f = *state;
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_REGION, .offset = 0, .length = 64,
			     .rights = SHMEMORA_RIGHTS_ALL,
			     .expires_unix_ns = now_ns() + 60ull * 1000000000ull };
	shmemora_token t, c;
	assert_shm(0, shmemora_token_derive(f->pool, &f->root, &g, &t));
	g.expires_unix_ns += 1000000000ull;
	assert_shm(SHMEMORA_E_WIDEN, shmemora_token_derive(f->pool, &t, &g, &c));
}

static void region_token_cannot_derive_wider_scopes(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 0, 4096, SHMEMORA_RIGHTS_ALL);
	shmemora_grant pool = { .scope = SHMEMORA_SCOPE_POOL, .rights = SHMEMORA_RIGHT_READ };
	shmemora_grant ns = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "usertable",
			      .rights = SHMEMORA_RIGHT_READ };
	shmemora_token c;
	assert_shm(SHMEMORA_E_WIDEN, shmemora_token_derive(f->pool, &t, &pool, &c));
	assert_shm(SHMEMORA_E_WIDEN, shmemora_token_derive(f->pool, &t, &ns, &c));
}

static void namespace_token_cannot_derive_another_namespace(void **state)
{
	struct fixture *f = *state;
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "alpha",
			     .rights = SHMEMORA_RIGHTS_ALL };
	shmemora_token a, c;
	assert_shm(0, shmemora_token_derive(f->pool, &f->root, &g, &a));
	g.ns = "beta";
	assert_shm(SHMEMORA_E_WIDEN, shmemora_token_derive(f->pool, &a, &g, &c));
	shmemora_grant k = { .scope = SHMEMORA_SCOPE_KEY, .ns = "beta", .key = "k1",
			     .key_len = 2, .rights = SHMEMORA_RIGHT_READ };
	assert_shm(SHMEMORA_E_WIDEN, shmemora_token_derive(f->pool, &a, &k, &c));
	k.ns = "alpha";
	assert_shm(0, shmemora_token_derive(f->pool, &a, &k, &c)); /* a key inside: fine */
}

static void key_token_cannot_derive_another_key(void **state)
{
	struct fixture *f = *state;
	shmemora_grant k = { .scope = SHMEMORA_SCOPE_KEY, .ns = "alpha", .key = "k1",
			     .key_len = 2, .rights = SHMEMORA_RIGHTS_ALL };
	shmemora_token a, c;
	assert_shm(0, shmemora_token_derive(f->pool, &f->root, &k, &a));
	k.key = "k2";
	assert_shm(SHMEMORA_E_WIDEN, shmemora_token_derive(f->pool, &a, &k, &c));
	shmemora_grant ns = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "alpha",
			      .rights = SHMEMORA_RIGHT_READ };
	assert_shm(SHMEMORA_E_WIDEN, shmemora_token_derive(f->pool, &a, &ns, &c));
}

static void derive_with_no_rights_or_unknown_rights_is_invalid(void **state)
{
	struct fixture *f = *state;
	shmemora_token c;
	assert_shm(SHMEMORA_E_INVALID, shmemora_region_acquire(f->pool, &f->root, 0, 8, 0, &c));
	assert_shm(SHMEMORA_E_INVALID, shmemora_region_acquire(f->pool, &f->root, 0, 8, 64, &c));
}

/* ------------------------------------------- tampering with the table */

/* Each edit of a live entry's fields makes its token refused at the next
 * access under `always`, and under `cached` for a handle that has not
 * verified it yet. */
static void assert_edit_detected(struct fixture *f, size_t at, const void *v, size_t len)
{
	shmemora_token t = derive_region(f, &f->root, 4096, 4096, SHMEMORA_RIGHT_READ);
	edit_entry(f, &t, at, v, len);
	assert_shm(0, shmemora_set_verify(f->pool, SHMEMORA_VERIFY_ALWAYS));
	assert_write_refused(f, &t, 4096, SHMEMORA_E_TOKEN_REFUSED);
	assert_read_refused(f, &t, 4096, 8, SHMEMORA_E_TOKEN_REFUSED);
	assert_shm(0, shmemora_set_verify(f->pool, SHMEMORA_VERIFY_CACHED));
	assert_read_refused(f, &t, 4096, 8, SHMEMORA_E_TOKEN_REFUSED);
	assert_non_null(strstr(shmemora_errmsg(), "edited"));
}

static void edited_entry_with_wider_bounds_is_detected(void **state)
{
	uint64_t huge = 1ULL << 40, zero = 0;
	assert_edit_detected(*state, offsetof(struct cap_entry, b), &huge, 8);
	assert_edit_detected(*state, offsetof(struct cap_entry, a), &zero, 8);
}

static void edited_entry_with_more_rights_is_detected(void **state)
{
	uint8_t all = SHMEMORA_RIGHTS_ALL;
	assert_edit_detected(*state, offsetof(struct cap_entry, rights), &all, 1);
}

static void edited_entry_with_later_expiry_is_detected(void **state)
{
	uint64_t later = UINT64_MAX;
	assert_edit_detected(*state, offsetof(struct cap_entry, expires_ns), &later, 8);
}

static void edited_entry_with_wider_scope_is_detected(void **state)
{
	uint8_t pool = SHMEMORA_SCOPE_POOL | 1 << 4; /* depth 1 */
	assert_edit_detected(*state, offsetof(struct cap_entry, scope_depth), &pool, 1);
}

static void edited_entry_parent_or_owner_is_detected(void **state)
{
	uint64_t orphan = 0;
	uint16_t owner = 7;
	assert_edit_detected(*state, offsetof(struct cap_entry, parent_id), &orphan, 8);
	assert_edit_detected(*state, offsetof(struct cap_entry, owner_host), &owner, 2);
}

static void unrevoking_an_entry_by_raw_write_is_detected(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 0, 64, SHMEMORA_RIGHTS_ALL);
	assert_shm(0, shmemora_token_revoke(f->pool, &t));
	uint64_t w = entry_state(f, &t);
	assert_int_equal(cap_state_of(w), CAP_REVOKED);
	/* LIVE at the revoked generation: the tag no longer verifies. */
	uint64_t live = cap_word(CAP_LIVE, cap_minter_of(w), cap_gen_of(w));
	edit_sync(f, &t, offsetof(struct cap_sync, state), live);
	assert_write_refused(f, &t, 0, SHMEMORA_E_TOKEN_REFUSED);
	assert_shm(0, shmemora_set_verify(f->pool, SHMEMORA_VERIFY_ALWAYS));
	assert_write_refused(f, &t, 0, SHMEMORA_E_TOKEN_REFUSED);
}

static void cached_verification_sees_every_edit(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 4096, 64, SHMEMORA_RIGHT_READ);
	uint8_t buf[8];
	assert_shm(0, shmemora_region_read(f->pool, &t, 4096, buf, 8)); /* now cached */
	uint8_t all = SHMEMORA_RIGHTS_ALL;
	uint64_t wide = 1ULL << 30;
	edit_entry(f, &t, offsetof(struct cap_entry, rights), &all, 1);
	edit_entry(f, &t, offsetof(struct cap_entry, b), &wide, 8);
	/* The cache sees the entry changed and verifies afresh, with the MAC,
	 * which refuses the edit: no widening, in any mode. */
	assert_write_refused(f, &t, 4096, SHMEMORA_E_TOKEN_REFUSED);
	assert_read_refused(f, &t, 8192, 8, SHMEMORA_E_TOKEN_REFUSED);
	assert_shm(0, shmemora_set_verify(f->pool, SHMEMORA_VERIFY_ALWAYS));
	assert_read_refused(f, &t, 4096, 8, SHMEMORA_E_TOKEN_REFUSED);
}

static void edited_entry_id_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 0, 64, SHMEMORA_RIGHTS_ALL);
	uint64_t other = t.id ^ (1ULL << 40);
	edit_entry(f, &t, offsetof(struct cap_entry, id), &other, 8);
	assert_write_refused(f, &t, 0, SHMEMORA_E_TOKEN_REFUSED);
	/* A token for the edited id does not exist either. */
	shmemora_token forged = t;
	forged.id = other;
	assert_write_refused(f, &forged, 0, SHMEMORA_E_TOKEN_REFUSED);
}

static void old_token_of_a_reused_slot_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token old = derive_region(f, &f->root, 0, 64, SHMEMORA_RIGHTS_ALL);
	assert_shm(0, shmemora_token_revoke(f->pool, &old));
	uint64_t freed;
	assert_shm(0, shmemora_token_gc(f->pool, &freed));
	assert_int_equal(freed, 1);
	/* Minting moves on through the table; keep minting until the freed
	 * slot comes round again. */
	shmemora_token fresh;
	int tries = 0;
	do {
		fresh = derive_region(f, &f->root, 0, 64, SHMEMORA_RIGHTS_ALL);
	} while ((fresh.id & CAP_INDEX_MASK) != (old.id & CAP_INDEX_MASK) && ++tries < 64);
	assert_int_equal(fresh.id & CAP_INDEX_MASK, old.id & CAP_INDEX_MASK);
	assert_write_refused(f, &old, 0, SHMEMORA_E_TOKEN_REFUSED);
	assert_shm(0, shmemora_region_write(f->pool, &fresh, 0, "ok", 2));
}

static void full_table_is_a_clear_error_and_gc_frees(void **state)
{
	struct fixture *f = *state;
	shmemora_token t[64];
	int n = 0, rc;
	while ((rc = shmemora_region_acquire(f->pool, &f->root, 0, 64, SHMEMORA_RIGHT_READ,
					     &t[n])) == 0)
		n++;
	assert_int_equal(rc, SHMEMORA_E_TABLE_FULL);
	assert_non_null(strstr(shmemora_errmsg(), "token gc"));
	assert_int_equal(n, 63); /* 64 entries, one is the root */
	uint64_t freed;
	assert_shm(0, shmemora_token_gc(f->pool, &freed));
	assert_int_equal(freed, 0); /* gc never frees live tokens */
	assert_shm(0, shmemora_token_revoke(f->pool, &t[0]));
	assert_shm(0, shmemora_token_gc(f->pool, &freed));
	assert_int_equal(freed, 1);
	shmemora_token again;
	assert_shm(0, shmemora_region_acquire(f->pool, &f->root, 0, 64, SHMEMORA_RIGHT_READ,
					      &again));
}

static void listing_the_table_reveals_no_tags(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_region(f, &f->root, 0, 64, SHMEMORA_RIGHTS_ALL);
	/* The raw table bytes do not contain the tag anywhere. */
	uint8_t table[64 * sizeof(struct cap_entry)];
	test_read_at(f->path, (off_t)f->captable, table, sizeof table);
	for (size_t i = 0; i + SHMEMORA_TAG_BYTES <= sizeof table; i++)
		assert_memory_not_equal(table + i, t.tag, SHMEMORA_TAG_BYTES);
	size_t n;
	shmemora_token_info info[4];
	assert_shm(0, shmemora_token_list(f->pool, info, 4, &n));
	assert_int_equal(n, 2);
}

/* --------------------------------------------------------------- MPK */

/* Runs `attack` in a child with a SIGSEGV handler and reports how it died:
 * 0 if it faulted with SEGV_PKUERR, 1 if it did not fault, 2 if another
 * fault. */
static volatile sig_atomic_t fault_code;
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
#ifdef SEGV_PKUERR
	_exit(si->si_code == SEGV_PKUERR ? 0 : 2);
#else
	(void)si;
	_exit(2);
#endif
}

static int run_mpk_attack(struct fixture *f, void (*attack)(volatile uint8_t *pool))
{
	pid_t kid = test_fork();
	if (kid == 0) {
		struct sigaction sa = { 0 };
		sa.sa_sigaction = on_segv;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSEGV, &sa, NULL);
		shmemora_pool *p;
		if (shmemora_attach(f->path, NULL, &p))
			_exit(3);
		attack(p->base); /* application code with a stray pointer */
		_exit(1);
	}
	int status;
	waitpid(kid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 4;
}

static void load_from_main_thread(volatile uint8_t *pool) { (void)pool[100000]; }
static void store_from_main_thread(volatile uint8_t *pool) { pool[100000] = 1; }

static void *thread_load(void *p)
{
	(void)((volatile uint8_t *)p)[100000];
	return NULL;
}
static void load_from_new_thread(volatile uint8_t *pool)
{
	pthread_t th;
	pthread_create(&th, NULL, thread_load, (void *)pool);
	pthread_join(th, NULL);
}

/* A thread that exists before the pool is attached (and so before its
 * protection key is allocated) must be kept out too. */
static volatile uint8_t *early_target;
static pthread_barrier_t early_ready;
static void *early_thread(void *unused)
{
	(void)unused;
	pthread_barrier_wait(&early_ready); /* the main thread attaches meanwhile */
	pthread_barrier_wait(&early_ready);
	(void)early_target[100000];
	return NULL;
}

static int run_mpk_early_thread_attack(struct fixture *f)
{
	pid_t kid = test_fork();
	if (kid == 0) {
		struct sigaction sa = { 0 };
		sa.sa_sigaction = on_segv;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSEGV, &sa, NULL);
		pthread_barrier_init(&early_ready, NULL, 2);
		pthread_t th;
		pthread_create(&th, NULL, early_thread, NULL);
		pthread_barrier_wait(&early_ready);
		shmemora_pool *p;
		if (shmemora_attach(f->path, NULL, &p))
			_exit(3);
		early_target = p->base;
		pthread_barrier_wait(&early_ready);
		pthread_join(th, NULL);
		_exit(1);
	}
	int status;
	waitpid(kid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 4;
}

static void mpk_direct_load_from_thread_created_before_attach_faults(void **state)
{
	struct fixture *f = *state;
	if (shmemora_protection_mode(f->pool) != SHMEMORA_PROTECT_MPK) {
		skip(); /* no PKU on this CPU: nothing to enforce */
		return;
	}
	assert_int_equal(run_mpk_early_thread_attack(f), 0);
}

static volatile uint8_t *signal_target;
static void on_usr1(int sig)
{
	(void)sig;
	(void)signal_target[100000];
}
static void load_from_signal_handler(volatile uint8_t *pool)
{
	signal_target = pool;
	signal(SIGUSR1, on_usr1);
	raise(SIGUSR1);
}

#define MPK_TEST(name, attack)                                                      \
	static void name(void **state)                                              \
	{                                                                           \
		struct fixture *f = *state;                                         \
		if (shmemora_protection_mode(f->pool) != SHMEMORA_PROTECT_MPK) {    \
			skip(); /* no PKU on this CPU: nothing to enforce */        \
			return;                                                     \
		}                                                                   \
		assert_int_equal(run_mpk_attack(f, attack), 0);                     \
	}
MPK_TEST(mpk_direct_load_from_main_thread_faults, load_from_main_thread)
MPK_TEST(mpk_direct_store_from_main_thread_faults, store_from_main_thread)
MPK_TEST(mpk_direct_load_from_thread_created_after_attach_faults, load_from_new_thread)
MPK_TEST(mpk_direct_load_from_signal_handler_faults, load_from_signal_handler)

static void software_mode_says_so(void **state)
{
	struct fixture *f = *state;
	enum shmemora_protection m = shmemora_protection_mode(f->pool);
	assert_int_equal(m == SHMEMORA_PROTECT_MPK,
			 shmemora_protection_available() == SHMEMORA_PROTECT_MPK &&
				 !(getenv("SHMEMORA_PROTECTION") &&
				   strcmp(getenv("SHMEMORA_PROTECTION"), "software") == 0));
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(f->pool, &info));
	assert_int_equal(info.protection, m);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(random_tags_are_refused),
		T(every_single_bit_flip_of_a_token_is_refused),
		T(every_single_character_change_of_token_text_is_malformed),
		T(malformed_token_texts_are_told_apart),
		T(rights_text_round_trips_and_refuses_strangers),
		T(zero_token_is_refused),
		T(id_naming_a_slot_past_the_table_is_refused),
		T(token_from_another_pool_is_refused),
		T(guessing_ids_works_only_under_the_off_policy),
		T(forged_token_cannot_revoke_a_genuine_one),
		T(revoked_token_is_refused_as_revoked),
		T(tokens_of_a_revoked_parent_are_revoked),
		T(expired_token_is_refused_as_expired),
		T(expiry_in_the_past_cannot_be_derived),
		T(concurrent_revoke_stops_another_process_at_once),
		T(revoke_reaches_a_thread_that_cached_the_token),
		T(access_one_byte_before_the_region_is_refused),
		T(access_one_byte_past_the_region_is_refused),
		T(access_exactly_at_the_bounds_is_allowed),
		T(offset_plus_length_overflow_is_refused),
		T(root_token_cannot_reach_past_the_data_area),
		T(token_of_another_region_is_out_of_scope),
		T(namespace_token_grants_no_raw_region_access),
		T(read_only_token_cannot_write),
		T(write_only_token_cannot_read),
		T(read_only_token_cannot_compare_and_swap),
		T(unaligned_compare_and_swap_is_invalid),
		T(derive_without_grant_right_is_denied),
		T(derive_cannot_widen_rights),
		T(derive_cannot_widen_region),
		T(derive_cannot_extend_expiry),
		T(region_token_cannot_derive_wider_scopes),
		T(namespace_token_cannot_derive_another_namespace),
		T(key_token_cannot_derive_another_key),
		T(derive_with_no_rights_or_unknown_rights_is_invalid),
		T(edited_entry_with_wider_bounds_is_detected),
		T(edited_entry_with_more_rights_is_detected),
		T(edited_entry_with_later_expiry_is_detected),
		T(edited_entry_with_wider_scope_is_detected),
		T(edited_entry_parent_or_owner_is_detected),
		T(unrevoking_an_entry_by_raw_write_is_detected),
		T(cached_verification_sees_every_edit),
		T(edited_entry_id_is_refused),
		T(old_token_of_a_reused_slot_is_refused),
		T(full_table_is_a_clear_error_and_gc_frees),
		T(listing_the_table_reveals_no_tags),
		T(mpk_direct_load_from_main_thread_faults),
		T(mpk_direct_store_from_main_thread_faults),
		T(mpk_direct_load_from_thread_created_after_attach_faults),
		T(mpk_direct_load_from_thread_created_before_attach_faults),
		T(mpk_direct_load_from_signal_handler_faults),
		T(software_mode_says_so),
	};
	return cmocka_run_group_tests_name("attack", tests, NULL, NULL);
}
