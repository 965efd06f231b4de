/*
 * test_backend.c — backends and coherence: NUMA binding places the pool's
 * pages on the node, flush mode is recorded and its instructions run,
 * page size and alignment are reported.
 */
#include "testutil.h"

#include "coherence.h"
#include "cpu.h"
#include "pool.h"

#include <numa.h>
#include <numaif.h>

static void numa_binding_places_pages_on_the_node(void **state)
{
	(void)state;
	if (numa_available() < 0) {
		skip();
		return;
	}
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
	for (int i = 0; i < 4; i++) {
		pages[i] = p->base + (uint64_t)i * (p->size / 4);
		sink += *(volatile uint8_t *)pages[i]; /* map the page: move_pages
							* only reports mapped pages */
	}
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
		struct coherence coh = { 1, insns[i], insns[i] == COH_CLWB ? COH_CLFLUSH : insns[i] };
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numa_binding_places_pages_on_the_node),
		cmocka_unit_test(flush_mode_is_recorded_and_used),
		cmocka_unit_test(flush_instructions_keep_data_intact),
		cmocka_unit_test(coherent_mode_needs_no_instructions),
		cmocka_unit_test(file_backend_reports_page_size_and_alignment),
		cmocka_unit_test(protection_mode_matches_the_cpu),
	};
	return cmocka_run_group_tests_name("backend", tests, NULL, NULL);
}
