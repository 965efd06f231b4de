/*
 * test_check.c — shmemora_check finds each kind of damage, --repair mends it,
 * and a second check is clean; live keys survive every repair.
 */
#include "testutil.h"

#include "alloc.h"
#include "layout.h"
#include "pool.h"

#include <signal.h>
#include <sys/wait.h>

struct fixture {
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	test_make_pool(f->path, sizeof f->path, "check", 32u << 20, 4, 0, "t", &f->pool, &f->root);
	for (int i = 0; i < 100; i++) {
		char k[16];
		snprintf(k, sizeof k, "key%d", i);
		assert_shm(0, shmemora_kv_put(f->pool, &f->root, "t", k, strlen(k), k, strlen(k)));
	}
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

static shmemora_check_report run_check(struct fixture *f, int flags)
{
	shmemora_check_report r = { .tokens = &f->root, .token_count = 1 };
	assert_shm(0, shmemora_check(f->pool, flags, &r));
	return r;
}

static void assert_keys_intact(struct fixture *f)
{
	for (int i = 0; i < 100; i++) {
		char k[16], buf[16];
		size_t len;
		snprintf(k, sizeof k, "key%d", i);
		assert_shm(0, shmemora_kv_get(f->pool, &f->root, "t", k, strlen(k), buf, sizeof buf,
					      &len, NULL));
		assert_int_equal(len, strlen(k));
		assert_memory_equal(buf, k, len);
	}
}

/* Repair, then a second check finds nothing, and every key is intact. */
static void assert_repairs_clean(struct fixture *f)
{
	shmemora_check_report r = run_check(f, SHMEMORA_CHECK_REPAIR);
	assert_true(r.problems > 0);
	assert_int_equal(r.repaired, r.problems);
	r = run_check(f, 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.leaked_blocks, 0);
	assert_keys_intact(f);
}

static void healthy_pool_is_clean(void **state)
{
	struct fixture *f = *state;
	shmemora_check_report r = run_check(f, 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.keys, 100);
	assert_int_equal(r.namespaces, 1);
	assert_int_equal(r.live_blocks, 101);
	assert_int_equal(r.tokens_live, 1);
}

static void block_of_a_host_that_died_before_publishing_is_a_leak(void **state)
{
	struct fixture *f = *state;
	pid_t kid = test_fork();
	if (kid == 0) {
		shmemora_pool *p;
		uint64_t off;
		if (shmemora_attach(f->path, NULL, &p))
			_exit(1);
		protect_saved s = protect_open(&p->prot);
		for (int i = 0; i < 5; i++) /* no magazine: one block each */
			if (alloc_block(&p->heap, p->host_id, NULL, 2, &off))
				_exit(2);
		protect_close(&p->prot, s);
		raise(SIGKILL); /* dies holding five unpublished blocks */
	}
	int status;
	waitpid(kid, &status, 0);
	shmemora_check_report r = run_check(f, 0);
	assert_int_equal(r.leaked_blocks, 5);
	assert_true(r.problems >= 2); /* the leak and the dead host's slot */
	assert_repairs_clean(f);
}

/* The blocks a killed process held in its threads' magazines (taken in a
 * batch, or freed by its own deletes) are leaks once it is dead: check
 * counts exactly those, repair frees them, and the dead host's extents go
 * back to the pool once nothing in them is live. */
static void blocks_in_a_killed_hosts_magazine_are_recovered(void **state)
{
	struct fixture *f = *state;
	shmemora_stats before = { 0 };
	assert_shm(0, shmemora_stats_get(f->pool, &before));
	pid_t kid = test_fork();
	if (kid == 0) {
		shmemora_pool *p;
		shmemora_token root = f->root; /* text-equal token, inherited */
		if (shmemora_attach(f->path, NULL, &p))
			_exit(255);
		for (int i = 0; i < 20; i++) {
			char k[16];
			snprintf(k, sizeof k, "kid%d", i);
			if (shmemora_kv_put(p, &root, "t", k, strlen(k), "v", 1))
				_exit(254);
		}
		for (int i = 0; i < 20; i++) {
			char k[16];
			snprintf(k, sizeof k, "kid%d", i);
			if (shmemora_kv_delete(p, &root, "t", k, strlen(k)))
				_exit(253);
		}
		protect_saved s = protect_open(&p->prot);
		struct magazine *m = pool_magazine(p);
		uint32_t held = m ? m->remote_count : 0;
		for (uint32_t c = 0; m && c < p->heap.class_count; c++)
			held += m->count[c];
		protect_close(&p->prot, s);
		if (held == 0 || held > 250)
			_exit(252);
		_exit((int)held); /* dies without detaching: the magazine is lost */
	}
	int status;
	waitpid(kid, &status, 0);
	assert_true(WIFEXITED(status));
	int held = WEXITSTATUS(status);
	assert_true(held > 0 && held <= 250);
	shmemora_check_report r = run_check(f, 0);
	assert_int_equal(r.leaked_blocks, (uint64_t)held);
	assert_repairs_clean(f);
	shmemora_stats after = { 0 };
	assert_shm(0, shmemora_stats_get(f->pool, &after));
	assert_int_equal(after.extents_free, before.extents_free); /* the kid's went back */
}

static void garbage_index_slot_is_cleared(void **state)
{
	struct fixture *f = *state;
	protect_saved s = protect_open(&f->pool->prot);
	_Atomic uint64_t *slots = pool_region(f->pool, REGION_INDEX);
	uint64_t i = 7;
	while (atomic_load(&slots[i]))
		i++;
	atomic_store(&slots[i], 0x00000000deadbeefULL); /* names no block */
	protect_close(&f->pool->prot, s);
	assert_int_equal(run_check(f, 0).problems, 1);
	assert_repairs_clean(f);
}

/* Another host puts three keys, deletes two and detaches: its extent keeps
 * one live block, and its free list the two freed blocks and those its
 * magazine took and never used.  Returns the extent. */
static uint64_t extent_with_two_free_blocks(struct fixture *f)
{
	pid_t kid = test_fork();
	if (kid == 0) {
		shmemora_pool *p;
		shmemora_token root = f->root;
		if (shmemora_attach(f->path, NULL, &p))
			_exit(1);
		for (int i = 1; i <= 3; i++) {
			char k[4] = { 'x', (char)('0' + i), 0 };
			if (shmemora_kv_put(p, &root, "t", k, 2, k, 2))
				_exit(2);
		}
		if (shmemora_kv_delete(p, &root, "t", "x1", 2) ||
		    shmemora_kv_delete(p, &root, "t", "x2", 2) || shmemora_detach(p))
			_exit(3);
		_exit(0);
	}
	int status;
	waitpid(kid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct heap *h = &f->pool->heap;
	protect_saved s = protect_open(&f->pool->prot);
	uint64_t found = UINT64_MAX;
	for (uint64_t x = 0; x < h->extent_count && found == UINT64_MAX; x++) {
		uint64_t w = atomic_load(&alloc_extent(h, x)->state);
		if (ext_owner1(w) && ext_owner1(w) - 1 != f->pool->host_id &&
		    alloc_head_ref(atomic_load(&alloc_extent(h, x)->free_head)))
			found = x;
	}
	protect_close(&f->pool->prot, s);
	assert_true(found != UINT64_MAX);
	return found;
}

static void free_list_loop_is_found_and_rebuilt(void **state)
{
	struct fixture *f = *state;
	uint64_t x = extent_with_two_free_blocks(f);
	uint64_t free_before = run_check(f, 0).free_blocks; /* its two and its unused */
	assert_true(free_before >= 2);
	/* Make the head block's link point to itself. */
	protect_saved s = protect_open(&f->pool->prot);
	struct heap *h = &f->pool->heap;
	uint64_t ref = alloc_head_ref(atomic_load(&alloc_extent(h, x)->free_head));
	struct kv_entry *e = (struct kv_entry *)(f->pool->base + alloc_extent_start(h, x) +
						 alloc_ref_rel(ref));
	e->free_link = ref; /* next = itself */
	protect_close(&f->pool->prot, s);
	shmemora_check_report r = run_check(f, 0);
	assert_true(r.problems >= 1);
	r = run_check(f, SHMEMORA_CHECK_REPAIR);
	assert_int_equal(r.repaired, r.problems);
	r = run_check(f, 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.free_blocks, free_before); /* all back on a sound list */
	/* The store allocates and frees without harm. */
	assert_shm(0, shmemora_kv_put(f->pool, &f->root, "t", "key1", 4, "key1", 4));
	assert_shm(0, shmemora_kv_put(f->pool, &f->root, "t", "key2", 4, "key2", 4));
	assert_shm(0, shmemora_kv_delete(f->pool, &f->root, "t", "x3", 2));
	assert_keys_intact(f);
}

static void damaged_backup_superblock_is_rewritten(void **state)
{
	struct fixture *f = *state;
	protect_saved s = protect_open(&f->pool->prot);
	f->pool->base[SB_BACKUP_OFFSET + 100] ^= 0x55;
	protect_close(&f->pool->prot, s);
	assert_int_equal(run_check(f, 0).problems, 1);
	assert_repairs_clean(f);
	shmemora_info info;
	assert_shm(0, shmemora_inspect(f->path, NULL, &info));
	assert_int_equal(info.sb_from_backup, 0);
}

static void edited_capability_entry_is_reported(void **state)
{
	struct fixture *f = *state;
	shmemora_token t;
	assert_shm(0, shmemora_region_acquire(f->pool, &f->root, 0, 64, SHMEMORA_RIGHT_READ, &t));
	protect_saved s = protect_open(&f->pool->prot);
	struct cap_entry *table = pool_region(f->pool, REGION_CAPTABLE);
	table[t.id & CAP_INDEX_MASK].rights = 0x40; /* impossible rights */
	protect_close(&f->pool->prot, s);
	shmemora_check_report r = run_check(f, 0);
	assert_int_equal(r.problems, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(healthy_pool_is_clean),
		T(block_of_a_host_that_died_before_publishing_is_a_leak),
		T(blocks_in_a_killed_hosts_magazine_are_recovered),
		T(garbage_index_slot_is_cleared),
		T(free_list_loop_is_found_and_rebuilt),
		T(damaged_backup_superblock_is_rewritten),
		T(edited_capability_entry_is_reported),
	};
	return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
