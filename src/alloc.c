/*
 * alloc.c — per-host size-class allocation (see alloc.h).
 *
 * A partition is carved by a bump pointer; freed blocks go onto one
 * Treiber stack per size class.  Only the owner pops, anyone pushes.  Heads
 * carry a 30-bit tag so that a pop racing pushes by other hosts can never
 * install a stale next link (ABA), even if two processes ever act for the
 * same slot after fencing.
 *
 * Every link read from shared memory is validated before it is followed;
 * a damaged list makes allocation fall back to the bump pointer instead of
 * following it out of bounds.  A link that fails validation while the head
 * has moved was overwritten by a racing pop, not damaged: that pop retries.
 */
#include "alloc.h"
#include "error.h"
#include "pool.h"

#define UNIT 64
#define OFF_BITS 34
#define OFF_MASK ((1ULL << OFF_BITS) - 1)

static uint64_t head_pack(uint64_t tag, uint64_t rel) { return tag << OFF_BITS | (rel / UNIT); }
static uint64_t head_rel(uint64_t h) { return (h & OFF_MASK) * UNIT; }
static uint64_t head_tag(uint64_t h) { return h >> OFF_BITS; }

uint64_t alloc_partition_start(const struct shmemora_pool *pool, uint32_t host)
{
	return pool->sb.region[REGION_PARTITIONS].offset + (uint64_t)host * pool->sb.partition_size;
}

struct partition_header *alloc_partition(const struct shmemora_pool *pool, uint32_t host)
{
	return (struct partition_header *)(pool->base + alloc_partition_start(pool, host));
}

int alloc_class_for(const struct shmemora_pool *pool, uint64_t bytes)
{
	for (uint32_t i = 0; i < pool->sb.size_class_count; i++)
		if (pool->sb.size_class[i] >= bytes)
			return (int)i;
	return -1;
}

int alloc_check_block(const struct shmemora_pool *pool, uint64_t offset, int cls)
{
	const struct superblock *sb = &pool->sb;
	uint64_t lo = sb->region[REGION_PARTITIONS].offset;
	if (cls < 0 || (uint32_t)cls >= sb->size_class_count || offset % UNIT ||
	    offset < lo || offset - lo >= sb->region[REGION_PARTITIONS].size)
		return -1;
	uint64_t host = (offset - lo) / sb->partition_size;
	uint64_t rel = (offset - lo) % sb->partition_size;
	if (rel < PARTITION_HEADER_BYTES || sb->size_class[cls] > sb->partition_size - rel)
		return -1;
	return (int)host;
}

int alloc_entry(struct shmemora_pool *pool, int cls, uint64_t *offset)
{
	uint32_t host = pool->host_id;
	struct partition_header *ph = alloc_partition(pool, host);
	uint64_t start = alloc_partition_start(pool, host);
	uint64_t size = pool->sb.size_class[cls];

	coherence_invalidate(&pool->coh, &ph->free_head[cls], sizeof ph->free_head[cls]);
	uint64_t h = atomic_load_explicit(&ph->free_head[cls], memory_order_acquire);
	while (head_rel(h) != 0) {
		uint64_t off = start + head_rel(h);
		if (alloc_check_block(pool, off, cls) != (int)host)
			break; /* damaged list: leave it to `shmemora check` */
		struct kv_entry *e = (struct kv_entry *)(pool->base + off);
		coherence_invalidate(&pool->coh, e, sizeof *e);
		uint64_t next = __atomic_load_n(&e->ns_hash, __ATOMIC_RELAXED);
		if (next % UNIT || next >= pool->sb.partition_size) {
			/* Either the list is damaged, or another thread of this
			 * host popped the block and already wrote an entry over
			 * the link.  Only an unchanged head means damage; a race
			 * must retry, or every lost race would carve a new block
			 * and fill the partition while the list holds free ones. */
			coherence_invalidate(&pool->coh, &ph->free_head[cls],
					     sizeof ph->free_head[cls]);
			uint64_t now = atomic_load_explicit(&ph->free_head[cls],
							    memory_order_acquire);
			if (now == h)
				break; /* damaged list: leave it to `shmemora check` */
			h = now;
			continue;
		}
		uint64_t nh = head_pack(head_tag(h) + 1, next);
		/* Acquire: the block's contents (its next link) were written
		 * before the release push that made it the head. */
		if (atomic_compare_exchange_weak_explicit(&ph->free_head[cls], &h, nh,
							  memory_order_acquire,
							  memory_order_acquire)) {
			__atomic_store_n(&e->size_class, (uint8_t)cls, __ATOMIC_RELAXED);
			atomic_fetch_add_explicit(&ph->allocated[cls], 1, memory_order_relaxed);
			*offset = off;
			return 0;
		}
	}
	uint64_t used = atomic_load_explicit(&ph->bump, memory_order_relaxed);
	for (;;) {
		uint64_t at = used ? used : PARTITION_HEADER_BYTES;
		/* A bump pointer is only ever advanced by whole blocks: anything
		 * else was written by someone else, and must not be carved. */
		if (at % UNIT || at < PARTITION_HEADER_BYTES)
			return error_set(SHMEMORA_E_CORRUPT, "host %u's partition bump pointer (%llu) "
					 "is damaged: run 'shmemora check'", host,
					 (unsigned long long)used);
		if (at > pool->sb.partition_size || size > pool->sb.partition_size - at)
			return error_set(SHMEMORA_E_NO_SPACE,
					 "host %u's partition is full (%llu bytes): delete keys, or "
					 "create the pool larger or with fewer hosts", host,
					 (unsigned long long)pool->sb.partition_size);
		if (atomic_compare_exchange_weak_explicit(&ph->bump, &used, at + size,
							  memory_order_relaxed,
							  memory_order_relaxed)) {
			struct kv_entry *e = (struct kv_entry *)(pool->base + start + at);
			/* A fresh block: seq 1, odd, "being built"; its class is
			 * recorded at once so the partition stays walkable block
			 * by block (shmemora check) even if we die right here. */
			__atomic_store_n(&e->size_class, (uint8_t)cls, __ATOMIC_RELAXED);
			atomic_store_explicit(&e->seq, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&ph->allocated[cls], 1, memory_order_relaxed);
			coherence_writeback(&pool->coh, &ph->bump, sizeof ph->bump);
			*offset = start + at;
			return 0;
		}
	}
}

void alloc_free(struct shmemora_pool *pool, uint64_t offset, int cls)
{
	int host = alloc_check_block(pool, offset, cls);
	if (host < 0)
		return; /* not a block: never push garbage onto a list */
	struct partition_header *ph = alloc_partition(pool, (uint32_t)host);
	uint64_t rel = offset - alloc_partition_start(pool, (uint32_t)host);
	struct kv_entry *e = (struct kv_entry *)(pool->base + offset);
	coherence_invalidate(&pool->coh, &ph->free_head[cls], sizeof ph->free_head[cls]);
	uint64_t h = atomic_load_explicit(&ph->free_head[cls], memory_order_relaxed);
	do {
		__atomic_store_n(&e->ns_hash, head_rel(h), __ATOMIC_RELAXED);
		coherence_writeback(&pool->coh, e, sizeof *e);
		/* Release: the next link is visible before the block is. */
	} while (!atomic_compare_exchange_weak_explicit(&ph->free_head[cls], &h,
							head_pack(head_tag(h) + 1, rel),
							memory_order_release, memory_order_relaxed));
	atomic_fetch_sub_explicit(&ph->allocated[cls], 1, memory_order_relaxed);
	coherence_writeback(&pool->coh, &ph->free_head[cls], sizeof ph->free_head[cls]);
}
