/*
 * test_backend.c — backends and coherence: NUMA binding places the pool's
 * pages on the node, flush mode is recorded and its instructions run,
 * page size and alignment are reported.
 */
#include "testutil.h"

#include "coherence.h"
#include "cpu.h"
#include "pool.h"
#include "protect.h"

#include <mntent.h>
#include <numa.h>
#include <numaif.h>

static void numa_binding_places_pages_on_the_node(void **state)
{
	(void)state;
	if (numa_available() < 0) {
		skip();
		return;
	}
#ifdef SHMEMORA_CACHE_MODEL
	/* The cache model replaces the data area's pages in the handle's
	 * mapping by private ones (its cache): placement is the model's. */
	skip();
	return;
#endif
	char pool[256];
	test_pool_path(pool, sizeof pool, "numa");
	int node = numa_max_node(); /* the last node: not just "wherever" */
	shmemora_config *cfg;
	shmemora_pool *p;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, 16u << 20));
	assert_shm(0, shmemora_config_set_numa_node(cfg, node));
	assert_shm(0, shmemora_create(pool, cfg, &p));
	void *pages[4];
	int status[4];
	volatile uint8_t sink = 0;
	/* Under MPK the pool is closed outside the protected path: the test
	 * opens the key for this thread, as the library does inside it. */
	protect_saved opened = protect_open(&p->prot);
	for (int i = 0; i < 4; i++) {
		pages[i] = p->base + (uint64_t)i * (p->size / 4);
		sink += *(volatile uint8_t *)pages[i]; /* map the page: move_pages
							* only reports mapped pages */
	}
	protect_close(&p->prot, opened);
	(void)sink;
	assert_int_equal(numa_move_pages(0, 4, pages, NULL, status, 0), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(status[i], node);
	assert_shm(0, shmemora_detach(p));
	test_remove_pool(pool);
	/* A node that does not exist is refused and leaves nothing behind. */
	assert_shm(0, shmemora_config_set_numa_node(cfg, numa_max_node() + 1));
	assert_shm(SHMEMORA_E_INVALID, shmemora_create(pool, cfg, &p));
	assert_int_equal(access(pool, F_OK), -1);
	shmemora_config_delete(cfg);
}

static void flush_mode_is_recorded_and_used(void **state)
{
	(void)state;
	if (coherence_best_writeback() == COH_NONE) {
		skip(); /* no cache flush instruction on this CPU */
		return;
	}
	char pool[256];
	test_pool_path(pool, sizeof pool, "flush");
	shmemora_config *cfg;
	shmemora_pool *p;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, 16u << 20));
	assert_shm(0, shmemora_config_set_coherence(cfg, SHMEMORA_FLUSH));
	assert_shm(0, shmemora_create(pool, cfg, &p));
	assert_int_equal(p->coh.flush_mode, 1);
	assert_int_not_equal(p->coh.writeback, COH_NONE);
	assert_int_not_equal(p->coh.invalidate, COH_NONE);
	assert_shm(0, shmemora_detach(p));
	shmemora_info info;
	assert_shm(0, shmemora_inspect(pool, NULL, &info));
	assert_int_equal(info.coherence, SHMEMORA_FLUSH);
	assert_shm(0, shmemora_attach(pool, NULL, &p));
	assert_int_equal(p->coh.flush_mode, 1);
	assert_shm(0, shmemora_detach(p));
	shmemora_config_delete(cfg);
	test_remove_pool(pool);
}

/* Each instruction the CPU has runs on shared memory without faulting and
 * without changing what is read back. */
static void flush_instructions_keep_data_intact(void **state)
{
	(void)state;
	const struct cpu_features *f = cpu_features();
	static _Alignas(64) uint8_t buf[4096 + 64];
	enum coh_flush_insn insns[] = { COH_CLFLUSH, COH_CLFLUSHOPT, COH_CLWB };
	int have[] = { f->clflush, f->clflushopt, f->clwb };
	int ran = 0;
	for (int i = 0; i < 3; i++) {
		if (!have[i])
			continue;
		struct coherence coh = {
			.flush_mode = 1, .writeback = insns[i],
			.invalidate = insns[i] == COH_CLWB ? COH_CLFLUSH : insns[i],
		};
		for (size_t j = 0; j < sizeof buf; j++)
			buf[j] = (uint8_t)(j * 13 + (size_t)i);
		coherence_writeback(&coh, buf + 3, sizeof buf - 7);
		coherence_invalidate(&coh, buf + 3, sizeof buf - 7);
		for (size_t j = 0; j < sizeof buf; j++)
			assert_int_equal(buf[j], (uint8_t)(j * 13 + (size_t)i));
		ran++;
	}
	if (!ran)
		skip();
}

static void coherent_mode_needs_no_instructions(void **state)
{
	(void)state;
	struct coherence coh;
	assert_shm(0, coherence_init(&coh, 0));
#ifdef SHMEMORA_CACHE_MODEL
	/* The cache model build runs every pool in flush mode (docs/coherence.md). */
	assert_int_equal(coh.flush_mode, 1);
	return;
#endif
	assert_int_equal(coh.writeback, COH_NONE);
	uint8_t x = 1;
	coherence_writeback(&coh, &x, 1); /* no-ops */
	coherence_invalidate(&coh, &x, 1);
	assert_string_equal(coherence_insn_name(COH_CLWB), "clwb");
	assert_string_equal(coherence_insn_name(COH_NONE), "none");
}

static void file_backend_reports_page_size_and_alignment(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "page");
	test_create_small(pool, 16u << 20, 2);
	shmemora_info info;
	assert_shm(0, shmemora_inspect(pool, NULL, &info));
	assert_int_equal(info.backend, SHMEMORA_BACKEND_FILE);
	assert_int_equal(info.page_size, (uint32_t)sysconf(_SC_PAGESIZE));
	assert_int_equal(info.alignment, 4096);
	assert_string_equal(shmemora_backend_name(info.backend), "file");
	test_remove_pool(pool);
}

static void protection_mode_matches_the_cpu(void **state)
{
	(void)state;
	enum shmemora_protection mode = shmemora_protection_available();
	assert_int_equal(mode == SHMEMORA_PROTECT_MPK, cpu_features()->pku);
	assert_string_equal(shmemora_protection_name(mode),
			    cpu_features()->pku ? "mpk" : "software");
}

/* A hugetlbfs mount with room for a 16 MiB pool, or NULL. */
static const char *hugetlbfs_mount(void)
{
	static char dir[256];
	FILE *m = setmntent("/proc/mounts", "r");
	struct mntent *e;
	const char *found = NULL;
	while (m && (e = getmntent(m))) {
		if (strcmp(e->mnt_type, "hugetlbfs") == 0 && access(e->mnt_dir, W_OK) == 0) {
			snprintf(dir, sizeof dir, "%s", e->mnt_dir);
			found = dir;
			break;
		}
	}
	if (m)
		endmntent(m);
	return found;
}

static void hugetlbfs_pool_uses_huge_pages_and_their_alignment(void **state)
{
	(void)state;
	const char *dir = hugetlbfs_mount();
	if (!dir) {
		skip(); /* no writable hugetlbfs mount on this machine */
		return;
	}
	char pool[300], key[300], root[300];
	snprintf(pool, sizeof pool, "%s/shmemora-test-%d", dir, (int)getpid());
	test_pool_path(key, sizeof key, "hugekey");
	test_pool_path(root, sizeof root, "hugeroot");
	shmemora_config *cfg;
	shmemora_pool *p;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, 16u << 20));
	assert_shm(0, shmemora_config_set_hosts(cfg, 2));
	/* The key cannot live on hugetlbfs: refused until named elsewhere. */
	assert_shm(SHMEMORA_E_INVALID, shmemora_create(pool, cfg, &p));
	assert_int_equal(access(pool, F_OK), -1);
	assert_shm(0, shmemora_config_set_key_file(cfg, key));
	assert_shm(0, shmemora_config_set_root_token_file(cfg, root));
	int rc = shmemora_create(pool, cfg, &p);
	if (rc == SHMEMORA_E_IO) {
		skip(); /* mounted, but no free huge pages */
		shmemora_config_delete(cfg);
		return;
	}
	assert_shm(0, rc);
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(p, &info));
	assert_int_equal(info.backend, SHMEMORA_BACKEND_HUGETLBFS);
	assert_true(info.page_size >= (2u << 20));
	assert_int_equal(info.alignment, info.page_size);
	for (int r = 0; r < SHMEMORA_REGION_COUNT; r++)
		assert_int_equal(info.region_offset[r] % info.alignment, 0);
	assert_int_equal((uintptr_t)p->base % info.alignment, 0);
	assert_shm(0, shmemora_detach(p));
	assert_shm(0, shmemora_destroy(pool, cfg));
	assert_int_equal(access(key, F_OK), -1);
	assert_int_equal(access(root, F_OK), -1);
	shmemora_config_delete(cfg);
}

/* XXH3 of a whole file: what "left as it was" is checked against. */
static uint64_t file_hash(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		XXH3_64bits_update(st, buf, n);
	fclose(f);
	uint64_t h = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return h;
}

/* A file whose bytes are all non-zero and distinct per page: 2 MiB of
 * "device header" (what the emulated NVDIMM keeps there) and 30 MiB of
 * "device" where a pool goes at offset 2 MiB. */
static void make_medium(const char *path)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (uint32_t i = 0; i < (32u << 20) / 4; i++) {
		uint32_t v = i * 2654435761u | 1;
		assert_int_equal(fwrite(&v, 4, 1, f), 1);
	}
	fclose(f);
}

/*
 * FILE@OFFSET: a pool that starts 2 MiB into an existing file, as a
 * process on the machine sees its guests' device-DAX.  Create writes only
 * from the offset on; a create that fails after it began writing puts every
 * byte back; attach and destroy work there; destroy wipes the superblocks
 * and leaves the file.
 */
static void file_at_offset_holds_a_pool_and_a_failed_create_restores_it(void **state)
{
	(void)state;
	char file[256], pool[300], key[320], root[320];
	test_pool_path(file, sizeof file, "medium");
	snprintf(pool, sizeof pool, "%s@2M", file);
	snprintf(key, sizeof key, "%s.key", file);
	snprintf(root, sizeof root, "%s.root", file);
	make_medium(file);
	uint64_t before = file_hash(file);
	uint8_t head_before[4096], head_after[4096];
	test_read_at(file, 0, head_before, sizeof head_before);

	shmemora_config *cfg;
	shmemora_pool *p;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_key_file(cfg, key));
	assert_shm(0, shmemora_config_set_root_token_file(cfg, root));
	assert_shm(0, shmemora_config_set_hosts(cfg, 4));
	/* Fails after the superblocks are written (slot 9 of 4 hosts). */
	assert_shm(0, shmemora_config_set_host_id(cfg, 9));
	assert_shm(SHMEMORA_E_INVALID, shmemora_create(pool, cfg, &p));
	assert_int_equal(file_hash(file), before);
	assert_int_equal(access(key, F_OK), -1);
	assert_int_equal(access(root, F_OK), -1);
	/* An offset that is not a multiple of the page size is refused. */
	char bad[300];
	snprintf(bad, sizeof bad, "%s@1000", file);
	assert_shm(0, shmemora_config_set_host_id(cfg, -1));
	assert_shm(SHMEMORA_E_INVALID, shmemora_create(bad, cfg, &p));

	assert_shm(0, shmemora_create(pool, cfg, &p));
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(p, &info));
	assert_int_equal(info.size, 30u << 20);
	assert_shm(0, shmemora_detach(p));
	test_read_at(file, 0, head_after, sizeof head_after);
	assert_memory_equal(head_before, head_after, sizeof head_before);
	/* A second create is refused without force: the medium holds a pool. */
	assert_shm(SHMEMORA_E_EXISTS, shmemora_create(pool, cfg, &p));
	assert_true(strstr(shmemora_errmsg(), "already holds a SHMemora pool") != NULL);
	assert_shm(0, shmemora_attach(pool, cfg, &p));
	assert_shm(0, shmemora_detach(p));
	assert_shm(0, shmemora_inspect(pool, key, &info));
	assert_int_equal(info.key_verified, 1);
	assert_shm(0, shmemora_destroy(pool, cfg));
	assert_int_equal(access(file, F_OK), 0);
	assert_int_equal(access(key, F_OK), -1);
	assert_shm(SHMEMORA_E_NOT_POOL, shmemora_inspect(pool, NULL, &info));
	shmemora_config_delete(cfg);
	unlink(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numa_binding_places_pages_on_the_node),
		cmocka_unit_test(file_at_offset_holds_a_pool_and_a_failed_create_restores_it),
		cmocka_unit_test(flush_mode_is_recorded_and_used),
		cmocka_unit_test(flush_instructions_keep_data_intact),
		cmocka_unit_test(coherent_mode_needs_no_instructions),
		cmocka_unit_test(file_backend_reports_page_size_and_alignment),
		cmocka_unit_test(protection_mode_matches_the_cpu),
		cmocka_unit_test(hugetlbfs_pool_uses_huge_pages_and_their_alignment),
	};
	return cmocka_run_group_tests_name("backend", tests, NULL, NULL);
}
