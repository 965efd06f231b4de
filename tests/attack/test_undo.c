/*
 * test_undo.c — attacks on revocation by a host that writes raw bytes into
 * the capability table and then puts them back: hiding a token from the
 * revoke sweep, cutting the chain it hangs from, writing back one old word
 * (the state, or the tomb) of a revoked entry, before and after its slot is
 * reused, and setting a whole revoked entry back.  Every refusal is checked
 * with its exact error, in each MAC policy and on hosts that had cached the
 * token, and the store is unchanged by what was refused.
 *
 * The edits go through the pool file, the way a raw-writing host would, so
 * they hold in mpk mode too.
 */
#include "testutil.h"

#include "captable.h"
#include "layout.h"

#include <sys/wait.h>
#include <time.h>

struct fixture {
	char path[256];
	shmemora_pool *pool, *other;  /* two hosts of the pool */
	shmemora_token root;
	uint64_t captable, capsync;   /* file offsets */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	test_make_pool(f->path, sizeof f->path, "undo", 32u << 20, 4, 64, "t", &f->pool, &f->root);
	assert_shm(0, shmemora_attach(f->path, NULL, &f->other));
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(f->pool, &info));
	f->captable = info.region_offset[SHMEMORA_REGION_CAPTABLE];
	f->capsync = info.region_offset[SHMEMORA_REGION_CAPSYNC];
	assert_shm(0, shmemora_kv_put(f->pool, &f->root, "t", "k", 1, "secret", 6));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	shmemora_detach(f->other);
	test_pool_done(f->pool, f->path);
	free(f);
	return 0;
}

static uint64_t slot_of(const shmemora_token *t) { return t->id & CAP_INDEX_MASK; }

static off_t field_at(struct fixture *f, const shmemora_token *t, size_t at)
{
	return (off_t)(f->captable + slot_of(t) * sizeof(struct cap_entry) + at);
}

static off_t sync_at(struct fixture *f, const shmemora_token *t, size_t at)
{
	return (off_t)(f->capsync + slot_of(t) * sizeof(struct cap_sync) + at);
}

static uint64_t read_u64(struct fixture *f, off_t at)
{
	uint64_t v;
	test_read_at(f->path, at, &v, sizeof v);
	return v;
}

static void write_u64(struct fixture *f, off_t at, uint64_t v)
{
	test_write_at(f->path, at, &v, sizeof v);
}

static shmemora_token derive_quota(struct fixture *f, const shmemora_token *from,
				   uint32_t rights, uint32_t quota)
{
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "t", .rights = rights,
			     .quota = quota };
	shmemora_token t;
	assert_shm(0, shmemora_token_derive(f->pool, from, &g, &t));
	return t;
}

static shmemora_token derive_ns(struct fixture *f, const shmemora_token *from, uint32_t rights)
{
	return derive_quota(f, from, rights, 0);
}

/* The error of a get through the other host, and its message. */
static void assert_says(struct fixture *f, const shmemora_token *t, int want, const char *what)
{
	assert_shm(want, shmemora_kv_get(f->other, t, "t", "k", 1, NULL, 0, NULL, NULL));
	assert_non_null(strstr(shmemora_errmsg(), what));
}

/* A get through `pool` with `t` fails with `want`, and copies nothing. */
static void assert_get_refused(shmemora_pool *pool, const shmemora_token *t, int want)
{
	char buf[16] = { 0 };
	size_t len = 99;
	assert_shm(want, shmemora_kv_get(pool, t, "t", "k", 1, buf, sizeof buf, &len, NULL));
	assert_int_equal(buf[0], 0);
}

/* A put through `pool` with `t` fails with `want` and the value stays. */
static void assert_put_refused(struct fixture *f, shmemora_pool *pool, const shmemora_token *t,
			       int want)
{
	assert_shm(want, shmemora_kv_put(pool, t, "t", "k", 1, "PWNED!", 6));
	char buf[16];
	size_t len;
	assert_shm(0, shmemora_kv_get(f->pool, &f->root, "t", "k", 1, buf, sizeof buf, &len, NULL));
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "secret", 6);
}

static void assert_refused_in_every_policy(struct fixture *f, const shmemora_token *t, int want)
{
	static const enum shmemora_verify policies[] = {
		SHMEMORA_VERIFY_CACHED, SHMEMORA_VERIFY_ALWAYS, SHMEMORA_VERIFY_OFF,
	};
	for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
		assert_shm(0, shmemora_set_verify(f->other, policies[i]));
		assert_get_refused(f->other, t, want);
		assert_put_refused(f, f->other, t, want);
	}
	assert_shm(0, shmemora_set_verify(f->other, SHMEMORA_VERIFY_CACHED));
}

/* --------------------------------------------- hidden from the sweep */

/* The child's parent link is edited away while its parent is revoked and
 * put back after: the sweep misses it, its entry is exactly as minted and
 * its MAC verifies, yet it is refused at use, on every host and in every
 * policy, `check` reports it, and gc frees it. */
static void child_hidden_from_the_sweep_is_refused_at_use(void **state)
{
	struct fixture *f = *state;
	shmemora_token parent = derive_ns(f, &f->root, SHMEMORA_RIGHTS_ALL);
	shmemora_token child = derive_ns(f, &parent, SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_WRITE);
	char buf[16];
	size_t len;
	assert_shm(0, shmemora_kv_get(f->other, &child, "t", "k", 1, buf, sizeof buf, &len, NULL));
	off_t link = field_at(f, &child, offsetof(struct cap_entry, parent_id));
	uint64_t saved = read_u64(f, link);
	write_u64(f, link, 0); /* looks like a root: the sweep passes it by */
	assert_shm(0, shmemora_token_revoke(f->pool, &parent));
	write_u64(f, link, saved); /* exactly as minted again */
	assert_refused_in_every_policy(f, &child, SHMEMORA_E_REVOKED);
	assert_says(f, &child, SHMEMORA_E_REVOKED, "ancestor");
	shmemora_token_info info;
	assert_shm(0, shmemora_token_inspect(f->pool, &child, &info));
	assert_int_equal(info.state, SHMEMORA_TOKEN_ORPHANED);
	shmemora_check_report r = { 0 };
	assert_shm(0, shmemora_check(f->pool, 0, &r));
	assert_true(r.problems >= 1);
	uint64_t freed;
	assert_shm(0, shmemora_token_gc(f->pool, &freed));
	assert_int_equal(freed, 2); /* the parent and the orphan */
}

/* The same with the child's state word hidden (made to look free) during
 * the sweep. */
static void child_whose_state_was_hidden_during_the_sweep_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token parent = derive_ns(f, &f->root, SHMEMORA_RIGHTS_ALL);
	shmemora_token child = derive_ns(f, &parent, SHMEMORA_RIGHT_READ);
	off_t word = sync_at(f, &child, offsetof(struct cap_sync, state));
	uint64_t saved = read_u64(f, word);
	write_u64(f, word, cap_word(CAP_FREE, 0, cap_gen_of(saved)));
	assert_shm(0, shmemora_token_revoke(f->pool, &parent));
	write_u64(f, word, saved);
	assert_refused_in_every_policy(f, &child, SHMEMORA_E_REVOKED);
}

/* A grandchild whose parent's own link is edited to skip the revoked
 * grandparent: the chain no longer matches the lineage its tag covers. */
static void cutting_a_revoked_ancestor_out_of_the_chain_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token grand = derive_ns(f, &f->root, SHMEMORA_RIGHTS_ALL);
	shmemora_token parent = derive_ns(f, &grand, SHMEMORA_RIGHTS_ALL);
	shmemora_token child = derive_ns(f, &parent, SHMEMORA_RIGHT_READ);
	off_t link = field_at(f, &parent, offsetof(struct cap_entry, parent_id));
	uint64_t saved = read_u64(f, link);
	write_u64(f, link, 0);
	assert_shm(0, shmemora_token_revoke(f->pool, &grand));
	/* Parent revived by the sweep's miss?  Make sure: set it live again. */
	off_t pstate = sync_at(f, &parent, offsetof(struct cap_sync, state));
	off_t ptomb = sync_at(f, &parent, offsetof(struct cap_sync, tomb));
	uint64_t pw = read_u64(f, pstate);
	if (cap_state_of(pw) == CAP_REVOKED) {
		write_u64(f, pstate, cap_word(CAP_LIVE, cap_minter_of(pw), cap_gen_of(pw) - 1));
		write_u64(f, ptomb, 0);
	}
	/* The parent now claims to be a root, and so the chain is cut. */
	assert_refused_in_every_policy(f, &child, SHMEMORA_E_TOKEN_REFUSED);
	assert_says(f, &child, SHMEMORA_E_TOKEN_REFUSED, "was edited");
	write_u64(f, link, saved);
	assert_refused_in_every_policy(f, &child, SHMEMORA_E_REVOKED);
}

/* -------------------------------------------- one word written back */

/* The revoked token's state word alone set back to exactly what it was
 * while live: the tomb still names it. */
static void writing_back_the_live_state_word_alone_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_ns(f, &f->root, SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_WRITE);
	off_t word = sync_at(f, &t, offsetof(struct cap_sync, state));
	uint64_t live = read_u64(f, word);
	assert_shm(0, shmemora_token_revoke(f->pool, &t));
	write_u64(f, word, live);
	assert_refused_in_every_policy(f, &t, SHMEMORA_E_REVOKED);
}

/* The tomb alone cleared: the state still says revoked. */
static void clearing_the_tomb_alone_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_ns(f, &f->root, SHMEMORA_RIGHT_READ);
	assert_shm(0, shmemora_token_revoke(f->pool, &t));
	write_u64(f, sync_at(f, &t, offsetof(struct cap_sync, tomb)), 0);
	assert_refused_in_every_policy(f, &t, SHMEMORA_E_REVOKED);
}

/* A host caches the token; it is revoked, collected, its slot reused by a
 * new token; then the old state word is written back.  The caching host
 * compares every word, not only the state: the id differs. */
static void old_state_word_after_reuse_is_refused_by_a_caching_host(void **state)
{
	struct fixture *f = *state;
	shmemora_token old = derive_ns(f, &f->root, SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_WRITE);
	char buf[16];
	size_t len;
	assert_shm(0, shmemora_kv_get(f->other, &old, "t", "k", 1, buf, sizeof buf, &len, NULL));
	off_t word = sync_at(f, &old, offsetof(struct cap_sync, state));
	uint64_t live = read_u64(f, word);
	assert_shm(0, shmemora_token_revoke(f->pool, &old));
	uint64_t freed;
	assert_shm(0, shmemora_token_gc(f->pool, &freed));
	shmemora_token fresh;
	int tries = 0;
	do {
		fresh = derive_ns(f, &f->root, SHMEMORA_RIGHT_READ);
	} while (slot_of(&fresh) != slot_of(&old) && ++tries < 64);
	assert_int_equal(slot_of(&fresh), slot_of(&old));
	write_u64(f, word, live);
	write_u64(f, sync_at(f, &old, offsetof(struct cap_sync, tomb)), 0);
	assert_shm(0, shmemora_set_verify(f->other, SHMEMORA_VERIFY_CACHED));
	assert_get_refused(f->other, &old, SHMEMORA_E_TOKEN_REFUSED);
	assert_put_refused(f, f->other, &old, SHMEMORA_E_TOKEN_REFUSED);
}

/* A whole revoked entry set back (state and tomb): no check of the pool can
 * tell it from a live token, but a host that saw the revocation remembers
 * and refuses it. */
static void full_rollback_is_refused_by_hosts_that_saw_the_revocation(void **state)
{
	struct fixture *f = *state;
	shmemora_token t = derive_ns(f, &f->root, SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_WRITE);
	char buf[16];
	size_t len;
	assert_shm(0, shmemora_kv_get(f->other, &t, "t", "k", 1, buf, sizeof buf, &len, NULL));
	off_t word = sync_at(f, &t, offsetof(struct cap_sync, state));
	off_t tomb = sync_at(f, &t, offsetof(struct cap_sync, tomb));
	uint64_t live = read_u64(f, word);
	assert_shm(0, shmemora_token_revoke(f->pool, &t));
	/* The other host uses it once while revoked, and so sees it. */
	assert_get_refused(f->other, &t, SHMEMORA_E_REVOKED);
	write_u64(f, word, live);
	write_u64(f, tomb, 0);
	/* The revoking host and the one that saw it both refuse. */
	assert_get_refused(f->pool, &t, SHMEMORA_E_REVOKED);
	assert_refused_in_every_policy(f, &t, SHMEMORA_E_REVOKED);
	assert_says(f, &t, SHMEMORA_E_REVOKED, "saw it revoked");
}

/* A revoked ancestor set back with one word: its descendants stay refused. */
static void an_ancestor_revived_by_one_word_leaves_descendants_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token parent = derive_ns(f, &f->root, SHMEMORA_RIGHTS_ALL);
	shmemora_token child = derive_ns(f, &parent, SHMEMORA_RIGHT_READ);
	off_t word = sync_at(f, &parent, offsetof(struct cap_sync, state));
	uint64_t live = read_u64(f, word);
	assert_shm(0, shmemora_token_revoke(f->pool, &parent));
	write_u64(f, word, live);
	assert_refused_in_every_policy(f, &child, SHMEMORA_E_REVOKED);
}

/* ----------------------------------------------------- cascades */

/* Revokes and collects token t, so its slot is the table's only free one. */
static void free_slot(struct fixture *f, const shmemora_token *t)
{
	uint64_t freed;
	assert_shm(0, shmemora_token_revoke(f->pool, t));
	assert_shm(0, shmemora_token_gc(f->pool, &freed));
	assert_int_equal(freed, 1);
}

/* A chain whose every child sits in a lower table slot than its parent (the
 * table is kept full, and one low slot at a time is freed for the next
 * child), so a sweep that goes through the table once in order meets each
 * child before its parent is revoked: one revocation must still mark every
 * descendant revoked, not only refused. */
static void revocation_cascades_over_a_tree_laid_against_table_order(void **state)
{
	struct fixture *f = *state;
	shmemora_token fill[64];
	int n = 0;
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "t",
			     .rights = SHMEMORA_RIGHT_READ };
	while (n < 64 && shmemora_token_derive(f->pool, &f->root, &g, &fill[n]) == 0)
		n++;
	assert_int_equal(n, 63); /* the table is full: 64 slots, one the root's */
	free_slot(f, &fill[n - 1]);
	shmemora_token chain[5];
	chain[0] = derive_quota(f, &f->root, SHMEMORA_RIGHTS_ALL, 40);
	for (int i = 1; i < 5; i++) {
		free_slot(f, &fill[4 - i]);
		chain[i] = derive_quota(f, &chain[i - 1], SHMEMORA_RIGHTS_ALL, 30 - 6 * (uint32_t)i);
		assert_true(slot_of(&chain[i]) < slot_of(&chain[i - 1]));
	}
	assert_shm(0, shmemora_token_revoke(f->pool, &chain[0]));
	for (int i = 1; i < 5; i++) {
		shmemora_token_info info;
		assert_shm(0, shmemora_token_inspect(f->pool, &chain[i], &info));
		assert_int_equal(info.state, SHMEMORA_TOKEN_REVOKED);
		assert_get_refused(f->other, &chain[i], SHMEMORA_E_REVOKED);
	}
}

/* One round of the race below: two hosts derive from `parent` as fast as
 * they can while this one revokes it.  Returns how many children were
 * minted; fails if one of them is usable, or left live-looking. */
static int race_round(struct fixture *f, shmemora_pool *pool, const char *path,
		      const shmemora_token *root)
{
	shmemora_grant pg = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "t",
			      .rights = SHMEMORA_RIGHTS_ALL, .quota = 2000 };
	shmemora_token parent;
	assert_shm(0, shmemora_token_derive(pool, root, &pg, &parent));
	int pipes[2][2], ready[2][2];
	pid_t kid[2];
	for (int h = 0; h < 2; h++) {
		assert_int_equal(pipe(pipes[h]), 0);
		assert_int_equal(pipe(ready[h]), 0);
		kid[h] = test_fork();
		if (kid[h] == 0) {
			close(pipes[h][0]);
			close(ready[h][0]);
			shmemora_pool *p;
			if (shmemora_attach(path, NULL, &p))
				_exit(1);
			/* Attached: from here on the derives race the revoke (an
			 * attach can take longer than the pause, e.g. under the
			 * cache model, which copies the pool into the host's cache). */
			if (write(ready[h][1], "r", 1) != 1)
				_exit(3);
			close(ready[h][1]);
			shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "t",
					     .rights = SHMEMORA_RIGHT_READ };
			for (int i = 0; i < 500; i++) {
				shmemora_token c;
				int rc = shmemora_token_derive(p, &parent, &g, &c);
				if (rc == 0 && write(pipes[h][1], &c, sizeof c) != sizeof c)
					_exit(2);
				if (rc != 0)
					break;
			}
			shmemora_detach(p);
			_exit(0);
		}
		close(pipes[h][1]);
		close(ready[h][1]);
	}
	for (int h = 0; h < 2; h++) {
		char r;
		assert_int_equal(read(ready[h][0], &r, 1), 1);
		close(ready[h][0]);
	}
	struct timespec pause = { 0, 300 * 1000 };
	nanosleep(&pause, NULL);
	assert_shm(0, shmemora_token_revoke(pool, &parent));
	int minted = 0;
	for (int h = 0; h < 2; h++) {
		shmemora_token c;
		while (read(pipes[h][0], &c, sizeof c) == sizeof c) {
			minted++;
			assert_shm(SHMEMORA_E_REVOKED,
				   shmemora_kv_get(f->other, &c, "t", "k", 1, NULL, 0, NULL, NULL));
			/* Marked revoked, by the sweep or by the deriver's recheck of
			 * the parent: never left live-looking. */
			shmemora_token_info info;
			assert_shm(0, shmemora_token_inspect(pool, &c, &info));
			assert_int_equal(info.state, SHMEMORA_TOKEN_REVOKED);
		}
		close(pipes[h][0]);
		int status;
		assert_int_equal(waitpid(kid[h], &status, 0), kid[h]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	uint64_t freed;
	assert_shm(0, shmemora_token_gc(pool, &freed));
	return minted;
}

/* Hosts derive from one parent while another host revokes it, round after
 * round: no child minted from it is usable, each is marked revoked (the
 * deriver rechecks its parent after publishing, the revoker sweeps after
 * revoking), and after gc nothing of it is left. */
static void derives_racing_a_revoke_on_several_hosts_leave_nothing_usable(void **state)
{
	struct fixture *f = *state;
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
	test_make_pool(path, sizeof path, "undo-race", 32u << 20, 4, 4096, "t", &pool, &root);
	shmemora_detach(f->other);
	assert_shm(0, shmemora_attach(path, NULL, &f->other));
	int minted = 0, rounds = 20;
	for (int r = 0; r < rounds; r++)
		minted += race_round(f, pool, path, &root);
	shmemora_check_report rep = { 0 };
	assert_shm(0, shmemora_check(pool, 0, &rep));
	assert_int_equal(rep.problems, 0);
	shmemora_detach(f->other);
	assert_shm(0, shmemora_attach(f->path, NULL, &f->other));
	assert_shm(0, shmemora_detach(pool));
	test_remove_pool(path);
	print_message("# %d rounds: %d children minted while their parent was being revoked, all "
		      "refused and marked revoked\n", rounds, minted);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(child_hidden_from_the_sweep_is_refused_at_use),
		T(child_whose_state_was_hidden_during_the_sweep_is_refused),
		T(cutting_a_revoked_ancestor_out_of_the_chain_is_refused),
		T(writing_back_the_live_state_word_alone_is_refused),
		T(clearing_the_tomb_alone_is_refused),
		T(old_state_word_after_reuse_is_refused_by_a_caching_host),
		T(full_rollback_is_refused_by_hosts_that_saw_the_revocation),
		T(an_ancestor_revived_by_one_word_leaves_descendants_refused),
		T(revocation_cascades_over_a_tree_laid_against_table_order),
		T(derives_racing_a_revoke_on_several_hosts_leave_nothing_usable),
	};
	return cmocka_run_group_tests_name("undo", tests, NULL, NULL);
}
