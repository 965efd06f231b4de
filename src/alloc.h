/*
 * alloc.h — the per-host partitioned size-class allocator.
 *
 * Each host allocates only from its own partition, so hosts never contend
 * on allocation.  Any host may free a block; it goes back to the free list
 * of the partition it lives in, lock-free.  The lists' heads and the bump
 * pointers live in the heap region of the sync area (they are changed by
 * compare-and-swap); the blocks themselves are data.
 *
 * A block is a whole number of cache lines at a multiple of 64 bytes.  This
 * module owns two words of a block: `free_link` (the next block, while the
 * block is on a free list) and `size_class` (written when the block is
 * carved, so a partition can be walked block by block).  Everything else in
 * a block belongs to entry.c.
 */
#ifndef SHMEMORA_ALLOC_H
#define SHMEMORA_ALLOC_H

#include "coherence.h"
#include "layout.h"

#include <stdbool.h>
#include <stdint.h>

#define ALLOC_UNIT 64

/* The allocator of one attached pool. */
struct heap {
	uint8_t *base;                  /* the pool mapping */
	struct heap_header *headers;    /* sync area: one per host */
	uint64_t data_offset;           /* the partitions region */
	uint64_t data_size;
	uint64_t partition_size;
	uint32_t hosts;
	uint32_t class_count;
	const uint32_t *class_size;     /* the verified superblock's classes */
	const struct coherence *coh;
};

/*
 * A block reference, as list heads and free links store it: 0 for none,
 * else the block's partition-relative offset / 64, plus one.  A list head
 * packs a 28-bit tag (bumped on every change, against ABA) above one.
 */
#define HEAD_REF_BITS 36
_Static_assert(((1ULL << HEAD_REF_BITS) - 1) * ALLOC_UNIT >= MAX_POOL_SIZE - ALLOC_UNIT,
	       "a reference reaches any block of the largest pool's partition");

static inline uint64_t alloc_ref(uint64_t rel) { return rel / ALLOC_UNIT + 1; }
static inline uint64_t alloc_ref_rel(uint64_t ref) { return (ref - 1) * ALLOC_UNIT; }
static inline uint64_t alloc_head_pack(uint64_t tag, uint64_t ref)
{
	return tag << HEAD_REF_BITS | ref;
}
static inline uint64_t alloc_head_ref(uint64_t head)
{
	return head & ((1ULL << HEAD_REF_BITS) - 1);
}
static inline uint64_t alloc_head_tag(uint64_t head) { return head >> HEAD_REF_BITS; }

/* The size class index for `bytes`, or -1 if none is large enough. */
int alloc_class_for(const struct heap *h, uint64_t bytes);

/*
 * Allocates a block of class `cls` from host `host`'s partition and returns
 * its pool offset.  SHMEMORA_E_NO_SPACE when the partition is full,
 * E_CORRUPT when its bump pointer was damaged.
 */
int alloc_block(struct heap *h, uint32_t host, int cls, uint64_t *offset);

/* Frees the block at pool offset `offset` of class `cls` to its owner's
 * list.  The caller has made the block unreadable first (entry_retire). */
void alloc_free(struct heap *h, uint64_t offset, int cls);

/* Validates that `offset` names a block start of class `cls` inside a
 * partition: in range, aligned, and the block within its partition.
 * Returns the partition (host) index, or -1. */
int alloc_block_owner(const struct heap *h, uint64_t offset, int cls);

/* Pool offset of partition `host`'s first byte. */
uint64_t alloc_partition_start(const struct heap *h, uint32_t host);

/* The allocator header of partition `host`. */
struct heap_header *alloc_header(const struct heap *h, uint32_t host);

/* The class recorded in the block at `offset` when it was carved (for
 * walking a partition: validate it with alloc_block_owner). */
int alloc_carved_class(const struct heap *h, uint64_t offset);

/* The free link of the block at `offset`, a block reference (for walking a
 * list). */
uint64_t alloc_free_link(const struct heap *h, uint64_t offset);

#endif
