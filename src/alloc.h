/*
 * alloc.h — the per-host partitioned size-class allocator.
 *
 * Each host allocates only from its own partition, so hosts never contend
 * on allocation.  Any host may free an entry; it goes back to the free list
 * of the partition it lives in, lock-free.  The lists' heads live in the
 * partition header, so a host that later takes over a slot resumes them.
 */
#ifndef SHMEMORA_ALLOC_H
#define SHMEMORA_ALLOC_H

#include "layout.h"

#include <stdint.h>

struct shmemora_pool;

/* The size class index for an entry of `bytes`, or -1 if none is large
 * enough. */
int alloc_class_for(const struct shmemora_pool *pool, uint64_t bytes);

/* Allocates a block of class `cls` from this host's partition; the block's
 * seq word is odd (not yet published).  Returns its pool offset, or 0 with
 * E_FULL-style error (SHMEMORA_E_NO_SPACE) when the partition is full. */
int alloc_entry(struct shmemora_pool *pool, int cls, uint64_t *offset);

/* Frees the block at pool offset `offset` (of class `cls`) to its owner's
 * list.  Its seq word must already be odd. */
void alloc_free(struct shmemora_pool *pool, uint64_t offset, int cls);

/* Validates that `offset` names a block start of class `cls` inside a
 * partition: in range, aligned, and the block within its partition.
 * Returns the partition (host) index, or -1. */
int alloc_check_block(const struct shmemora_pool *pool, uint64_t offset, int cls);

/* Pool offset of partition `host`'s first byte. */
uint64_t alloc_partition_start(const struct shmemora_pool *pool, uint32_t host);

/* The header of partition `host`. */
struct partition_header *alloc_partition(const struct shmemora_pool *pool, uint32_t host);

#endif
