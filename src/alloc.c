/*
 * alloc.c — per-host size-class allocation (see alloc.h).
 *
 * A partition is carved by a bump pointer; freed blocks go onto one
 * Treiber stack per size class.  Only the owner pops, anyone pushes.  Heads
 * carry a 28-bit tag so that a pop racing pushes by other hosts can never
 * install a stale next link (ABA), even if two processes ever act for the
 * same slot after fencing.
 *
 * Every link read from shared memory is read once, validated, and only then
 * followed; a damaged list makes allocation fall back to the bump pointer
 * instead of following it out of bounds.  A link that fails validation
 * while the head has moved was overwritten by a racing pop, not damaged:
 * that pop retries.
 *
 * The retire -> free -> reuse chain: entry_retire makes a block's seq odd
 * before alloc_free pushes it with a release CAS; alloc_block pops it with
 * an acquire CAS, so whoever rebuilds the block sees it odd and readers
 * still holding it from its previous life see the seq change.
 */
#include "alloc.h"
#include "error.h"
#include "shared.h"

uint64_t alloc_partition_start(const struct heap *h, uint32_t host)
{
	return h->data_offset + (uint64_t)host * h->partition_size;
}

struct heap_header *alloc_header(const struct heap *h, uint32_t host)
{
	return &h->headers[host];
}

static struct kv_entry *block_at(const struct heap *h, uint64_t offset)
{
	return (struct kv_entry *)(h->base + offset);
}

int alloc_class_for(const struct heap *h, uint64_t bytes)
{
	for (uint32_t i = 0; i < h->class_count; i++)
		if (h->class_size[i] >= bytes)
			return (int)i;
	return -1;
}

int alloc_block_owner(const struct heap *h, uint64_t offset, int cls)
{
	if (cls < 0 || (uint32_t)cls >= h->class_count || offset % ALLOC_UNIT ||
	    offset < h->data_offset || offset - h->data_offset >= h->data_size)
		return -1;
	uint64_t host = (offset - h->data_offset) / h->partition_size;
	uint64_t rel = (offset - h->data_offset) % h->partition_size;
	if (h->class_size[cls] > h->partition_size - rel)
		return -1;
	return (int)host;
}

int alloc_carved_class(const struct heap *h, uint64_t offset)
{
	struct kv_entry *e = block_at(h, offset);
	coherence_invalidate(h->coh, e, sizeof *e);
	return field_load(&e->size_class);
}

uint64_t alloc_free_link(const struct heap *h, uint64_t offset)
{
	struct kv_entry *e = block_at(h, offset);
	coherence_invalidate(h->coh, &e->free_link, sizeof e->free_link);
	return field_load(&e->free_link);
}

/* Is `ref` a reference to a block that can be of partition `host`? */
static bool ref_in_partition(const struct heap *h, uint64_t ref)
{
	return ref <= h->partition_size / ALLOC_UNIT;
}

/* Pops a block off host's list of class `cls`: 1 and *offset, or 0 when the
 * list is empty or damaged (the caller carves instead). */
static int pop_free(struct heap *h, uint32_t host, int cls, uint64_t *offset)
{
	struct heap_header *hh = alloc_header(h, host);
	uint64_t start = alloc_partition_start(h, host);
	_Atomic uint64_t *head = &hh->free_head[cls];
	/* Acquire: the block's contents (its next link) were written before
	 * the release push that made it the head. */
	uint64_t w = atomic_load_explicit(head, memory_order_acquire);
	while (alloc_head_ref(w) != 0) {
		uint64_t ref = alloc_head_ref(w);
		uint64_t off = start + alloc_ref_rel(ref);
		if (!ref_in_partition(h, ref) || alloc_block_owner(h, off, cls) != (int)host)
			return 0; /* damaged list: leave it to `shmemora check` */
		uint64_t next = alloc_free_link(h, off);
		if (!ref_in_partition(h, next)) {
			/* Either the list is damaged, or another thread of this
			 * host popped the block and already wrote an entry over
			 * the link.  Only an unchanged head means damage; a race
			 * must retry, or every lost race would carve a new block
			 * and fill the partition while the list holds free ones. */
			uint64_t now = atomic_load_explicit(head, memory_order_acquire);
			if (now == w)
				return 0;
			w = now;
			continue;
		}
		/* Acquire on success: pairs with the release push (alloc_free). */
		if (atomic_compare_exchange_weak_explicit(head, &w,
							  alloc_head_pack(alloc_head_tag(w) + 1, next),
							  memory_order_acquire, memory_order_acquire)) {
			*offset = off;
			return 1;
		}
	}
	return 0;
}

/* Carves a fresh block of class `cls` off host's bump pointer. */
static int carve(struct heap *h, uint32_t host, int cls, uint64_t *offset)
{
	struct heap_header *hh = alloc_header(h, host);
	uint64_t size = h->class_size[cls];
	/* Relaxed: the bump pointer orders nothing; a block is published to
	 * readers by the index CAS, not by being carved. */
	uint64_t at = atomic_load_explicit(&hh->bump, memory_order_relaxed);
	for (;;) {
		/* A bump pointer is only ever advanced by whole blocks: anything
		 * else was written by someone else, and must not be carved. */
		if (at % ALLOC_UNIT)
			return error_set(SHMEMORA_E_CORRUPT, "host %u's partition bump pointer (%llu) "
					 "is damaged: run 'shmemora check'", host,
					 (unsigned long long)at);
		if (at > h->partition_size || size > h->partition_size - at)
			return error_set(SHMEMORA_E_NO_SPACE,
					 "host %u's partition is full (%llu bytes): delete keys, or "
					 "create the pool larger or with fewer hosts", host,
					 (unsigned long long)h->partition_size);
		if (atomic_compare_exchange_weak_explicit(&hh->bump, &at, at + size,
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	*offset = alloc_partition_start(h, host) + at;
	/* Record the class at once so the partition stays walkable block by
	 * block (shmemora check) even if we die right here. */
	struct kv_entry *e = block_at(h, *offset);
	field_store(&e->size_class, (uint8_t)cls);
	coherence_writeback(h->coh, e, sizeof *e);
	return 0;
}

int alloc_block(struct heap *h, uint32_t host, int cls, uint64_t *offset)
{
	int rc = pop_free(h, host, cls, offset) ? 0 : carve(h, host, cls, offset);
	if (rc == 0)
		atomic_fetch_add_explicit(&alloc_header(h, host)->allocated[cls], 1,
					  memory_order_relaxed); /* a statistic */
	return rc;
}

void alloc_free(struct heap *h, uint64_t offset, int cls)
{
	int host = alloc_block_owner(h, offset, cls);
	if (host < 0)
		return; /* not a block: never push garbage onto a list */
	struct heap_header *hh = alloc_header(h, (uint32_t)host);
	uint64_t rel = offset - alloc_partition_start(h, (uint32_t)host);
	struct kv_entry *e = block_at(h, offset);
	_Atomic uint64_t *head = &hh->free_head[cls];
	uint64_t w = atomic_load_explicit(head, memory_order_relaxed);
	do {
		field_store(&e->free_link, alloc_head_ref(w));
		coherence_writeback(h->coh, &e->free_link, sizeof e->free_link);
		/* Release: the next link is visible before the block is. */
	} while (!atomic_compare_exchange_weak_explicit(head, &w,
							alloc_head_pack(alloc_head_tag(w) + 1, alloc_ref(rel)),
							memory_order_release, memory_order_relaxed));
	atomic_fetch_sub_explicit(&hh->allocated[cls], 1, memory_order_relaxed); /* a statistic */
}
