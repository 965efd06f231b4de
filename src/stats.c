/*
 * stats.c — shmemora_stats_get: counts of keys, namespaces, index load and
 * space, read from the pool without a token (they reveal no keys or
 * values).
 */
#include "error.h"
#include "pool.h"

static void count_index(shmemora_pool *pool, shmemora_stats *out)
{
	for (uint64_t i = 0; i < pool->index.count; i++) {
		uint64_t v = index_slot_load(&pool->index, i);
		if (!v)
			continue;
		out->index_used++;
		uint64_t off = index_slot_offset(&pool->index, v);
		struct entry_snap snap;
		if (!off || index_slot_is_tentative(v) ||
		    entry_read(&pool->entries, off, NULL, &snap) != ENTRY_OTHER)
			continue;
		if (snap.ns_hash == NS_CATALOG)
			out->namespaces++;
		else
			out->keys++;
	}
}

int shmemora_stats_get(shmemora_pool *pool, shmemora_stats *out)
{
	error_clear();
	if (!pool || !out)
		return error_set(SHMEMORA_E_INVALID, "pool and out are required");
	protect_saved s = protect_open(&pool->prot);
	const struct superblock *sb = &pool->sb;
	out->index_slots = sb->index_slots;
	out->partitions = sb->max_hosts;
	out->size_class_count = sb->size_class_count;
	out->partition_size = sb->partition_size;
	out->keys = out->namespaces = out->index_used = 0;
	count_index(pool, out);
	out->index_load = (double)out->index_used / (double)sb->index_slots;
	for (uint32_t p = 0; p < sb->max_hosts; p++) {
		struct heap_header *hh = alloc_header(&pool->heap, p);
		/* Relaxed below: statistics, each read on its own. */
		if (out->partition_used)
			out->partition_used[p] = atomic_load_explicit(&hh->bump, memory_order_relaxed);
		if (out->allocated)
			for (uint32_t c = 0; c < sb->size_class_count; c++)
				out->allocated[(size_t)p * sb->size_class_count + c] =
					atomic_load_explicit(&hh->allocated[c], memory_order_relaxed);
	}
	protect_close(&pool->prot, s);
	error_clear();
	return 0;
}
