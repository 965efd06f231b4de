/*
 * stats.c — shmemora_stats_get: counts of keys, namespaces, index load,
 * space by host and size class, and the hosts' contention counters, read
 * from the pool without a token (they reveal no keys or values).
 */
#include "error.h"
#include "pool.h"

#include <string.h>

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

/* The extents: how many each host holds, its blocks out of free lists per
 * class, and the free ones. */
static void count_extents(shmemora_pool *pool, shmemora_stats *out)
{
	const struct heap *h = &pool->heap;
	uint32_t classes = pool->sb.size_class_count;
	for (uint64_t x = 0; x < h->extent_count; x++) {
		/* Relaxed: statistics, one word read once per extent. */
		uint64_t w = atomic_load_explicit(&alloc_extent(h, x)->state, memory_order_relaxed);
		unsigned owner1 = ext_owner1(w), cls = ext_class(w);
		if (owner1 == 0) {
			out->extents_free++;
			continue;
		}
		if (owner1 > pool->sb.max_hosts || cls >= classes)
			continue; /* damaged: check reports it */
		out->data_used += ext_live(w) * h->class_size[cls];
		if (out->host_extents)
			out->host_extents[owner1 - 1]++;
		if (out->allocated)
			out->allocated[(size_t)(owner1 - 1) * classes + cls] += ext_live(w);
	}
}

/* The hosts' shared counters, summed. */
static void sum_counters(shmemora_pool *pool, shmemora_stats *out)
{
	for (uint32_t p = 0; p < pool->sb.max_hosts; p++) {
		const struct heap_header *hh = alloc_header(&pool->heap, p);
		/* Relaxed below: statistics, each read on its own. */
		out->writes += atomic_load_explicit(&hh->writes, memory_order_relaxed);
		out->index_retries += atomic_load_explicit(&hh->index_retries, memory_order_relaxed);
		out->alloc_retries += atomic_load_explicit(&hh->alloc_retries, memory_order_relaxed);
		out->free_retries += atomic_load_explicit(&hh->free_retries, memory_order_relaxed);
		out->remote_frees += atomic_load_explicit(&hh->remote_frees, memory_order_relaxed);
		out->extent_claims += atomic_load_explicit(&hh->extent_claims, memory_order_relaxed);
		out->extent_returns += atomic_load_explicit(&hh->extent_returns,
							    memory_order_relaxed);
	}
}

int shmemora_stats_get(shmemora_pool *pool, shmemora_stats *out)
{
	error_clear();
	if (!pool || !out)
		return error_set(SHMEMORA_E_INVALID, "pool and out are required");
	protect_saved s = protect_open(&pool->prot);
	const struct superblock *sb = &pool->sb;
	uint64_t *allocated = out->allocated, *host_extents = out->host_extents;
	if (allocated)
		memset(allocated, 0, sizeof *allocated * sb->max_hosts * sb->size_class_count);
	if (host_extents)
		memset(host_extents, 0, sizeof *host_extents * sb->max_hosts);
	memset(out, 0, sizeof *out);
	out->allocated = allocated;
	out->host_extents = host_extents;
	out->index_slots = sb->index_slots;
	out->hosts = sb->max_hosts;
	out->size_class_count = sb->size_class_count;
	out->extent_size = sb->extent_size;
	out->extents = pool->heap.extent_count;
	count_index(pool, out);
	out->index_load = (double)out->index_used / (double)sb->index_slots;
	count_extents(pool, out);
	sum_counters(pool, out);
	protect_close(&pool->prot, s);
	error_clear();
	return 0;
}
