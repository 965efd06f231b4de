/*
 * alloc.h — the block allocator: extents that hosts claim on demand, one
 * size class per extent, and per-thread magazines.
 *
 * The data region is cut into extents (layout.h).  A host claims a free
 * extent for a size class when it needs room, carves blocks of that class
 * from it and reuses the extent's freed blocks, and the extent goes back to
 * the pool once its last block is freed and no host is carving from it.  So
 * one host can fill the whole data region, and hosts never contend on
 * allocation: only an extent's owner allocates from it.  Any host frees, by
 * pushing onto the free list of the block's own extent.
 *
 * The extent records live in the heap region of the sync area (every word
 * in them is changed by compare-and-swap); the blocks are data.  This module
 * owns the encoding of an extent's state word and list head, and one word of
 * a block: `free_link` (the next block while the block is on a free list).
 * Everything else in a block belongs to entry.c.
 *
 * Counting.  An extent's state word counts its blocks that are out of its
 * free list ("live": in an entry, being built, or in a thread's magazine).
 * An allocating thread raises the count before it takes blocks, and a freer
 * pushes a block before it lowers the count, so when the count is zero no
 * list operation is in flight and the list holds every block ever carved:
 * the extent can be given back whole, by one compare-and-swap.
 *
 * Magazines.  Each thread of a host keeps up to a few free blocks per class,
 * taken from an extent in one batch and given back in batches, so the
 * host's threads do not meet on one extent's words for every allocation and
 * free.  Blocks freed into other hosts' held extents are batched too: one
 * push of a linked chain and one count change per extent (a block of an
 * extent nobody holds goes at once, with the whole batch, so that the
 * extent can go back to the pool as soon as it is empty).  What a killed
 * process held in its magazines stays counted as live until `shmemora
 * check --repair` finds those blocks neither in an entry nor on a list and
 * frees them.  The magazines live in the protected arena (protect.h), keyed like
 * the pool, so application code cannot plant a block in one.
 */
#ifndef SHMEMORA_ALLOC_H
#define SHMEMORA_ALLOC_H

#include "coherence.h"
#include "layout.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALLOC_UNIT 64

/*
 * An extent's state word:
 *   bits  0-24  live: blocks out of the free list
 *   bits 25-30  size class
 *   bit  31     held: its owner carves from it now (its current extent)
 *   bits 32-47  owner host + 1; 0: free (every other field but the
 *               generation is then zero)
 *   bits 48-63  generation, bumped each time the extent is given back
 */
#define EXT_LIVE_BITS 25
#define EXT_LIVE_MASK ((1ULL << EXT_LIVE_BITS) - 1)
#define EXT_HELD (1ULL << 31)

static inline uint64_t ext_live(uint64_t w) { return w & EXT_LIVE_MASK; }
static inline unsigned ext_class(uint64_t w) { return (unsigned)(w >> 25) & 0x3f; }
static inline bool ext_held(uint64_t w) { return (w & EXT_HELD) != 0; }
static inline unsigned ext_owner1(uint64_t w) { return (unsigned)(w >> 32) & 0xffff; }
static inline uint64_t ext_gen(uint64_t w) { return w >> 48; }
static inline uint64_t ext_pack(uint64_t gen, unsigned owner1, bool held, unsigned cls,
				uint64_t live)
{
	return gen << 48 | (uint64_t)owner1 << 32 | (held ? EXT_HELD : 0) |
	       (uint64_t)cls << 25 | live;
}
_Static_assert(MAX_HOSTS < 0xffff, "owner + 1 fits 16 bits");
_Static_assert(SIZE_CLASSES_MAX <= 64, "a class fits 6 bits");

/*
 * A block reference, as list heads and free links store it: 0 for none,
 * else the block's offset within its extent / 64, plus one.  A list head
 * packs a 28-bit tag (bumped on every change, against ABA) above one.
 */
#define HEAD_REF_BITS 36

static inline uint64_t alloc_ref(uint64_t rel) { return rel / ALLOC_UNIT + 1; }
static inline uint64_t alloc_ref_rel(uint64_t ref) { return (ref - 1) * ALLOC_UNIT; }
static inline uint64_t alloc_head_pack(uint64_t tag, uint64_t ref)
{
	return (tag & ((1ULL << (64 - HEAD_REF_BITS)) - 1)) << HEAD_REF_BITS | ref;
}
static inline uint64_t alloc_head_ref(uint64_t head)
{
	return head & ((1ULL << HEAD_REF_BITS) - 1);
}
static inline uint64_t alloc_head_tag(uint64_t head) { return head >> HEAD_REF_BITS; }

/* One thread's magazine (see above).  Lives in the magazine mapping. */
#define MAG_MAX 16           /* blocks per class, at most */
#define MAG_CLASS_BYTES 32768u /* ... and at most this many bytes of them */
#define REMOTE_MAX 32        /* frees into other hosts' extents, batched */
struct magazine {
	uint32_t count[SIZE_CLASSES_MAX];
	uint64_t block[SIZE_CLASSES_MAX][MAG_MAX];
	uint32_t remote_count;
	uint8_t remote_class[REMOTE_MAX];
	uint64_t remote[REMOTE_MAX];
};
#define MAG_THREADS 256      /* threads per handle with a magazine; more go without */

/* The allocator of one attached pool.  Everything after `coh` is this
 * process's own state, for the host slot it holds. */
struct heap {
	uint8_t *base;                  /* the pool mapping */
	struct heap_header *headers;    /* one per host */
	struct extent_record *extents;  /* one per extent */
	uint64_t data_offset;           /* the data region */
	uint64_t data_size;
	uint64_t extent_size;
	uint64_t extent_count;
	uint32_t hosts;
	uint32_t class_count;
	const uint32_t *class_size;     /* the verified superblock's classes */
	const struct coherence *coh;

	uint32_t class_blocks[SIZE_CLASSES_MAX]; /* blocks of a class per extent */
	uint32_t mag_cap[SIZE_CLASSES_MAX];      /* magazine capacity per class */
	_Atomic uint64_t current[SIZE_CLASSES_MAX]; /* extent carved from, + 1; 0 none */
	pthread_mutex_t switch_lock;    /* one thread of the host changes extents */
	uint64_t scan_cursor;           /* where the next extent search starts */
#define ALLOC_DAMAGED_MAX 64
	uint64_t damaged[ALLOC_DAMAGED_MAX]; /* extents found damaged: not carved again */
	uint32_t damaged_count;
	struct magazine *mags;          /* MAG_THREADS of them (in the arena), or NULL */
	uint32_t epoch;                 /* the slot's epoch we hold it at (batch marks) */
	int lock_made;
};

/* Sets up this process's state of `h` (base .. coh filled in by the
 * caller).  E_NOMEM. */
int alloc_init(struct heap *h);
void alloc_fini(struct heap *h);

/* Bytes the magazines of MAG_THREADS threads take (the caller provides them,
 * zeroed, in h->mags). */
size_t alloc_magazine_bytes(void);

/* Thread slot `slot`'s magazine, or NULL (no slot, or none mapped). */
static inline struct magazine *alloc_magazine(const struct heap *h, int slot)
{
	return h->mags && slot >= 0 && slot < MAG_THREADS ? &h->mags[slot] : NULL;
}

/* The size class index for `bytes`, or -1 if none is large enough. */
int alloc_class_for(const struct heap *h, uint64_t bytes);

/*
 * Allocates a block of class `cls` for host `host` and returns its pool
 * offset: from `mag` (may be NULL) when it has one, else from the host's
 * extents, claiming a free extent when they are full.  E_NO_SPACE when
 * the data region is full, E_CORRUPT when an extent's words are damaged.
 */
int alloc_block(struct heap *h, uint32_t host, struct magazine *mag, int cls,
		uint64_t *offset);

/*
 * Frees the block at pool offset `offset` of class `cls`, on behalf of host
 * `host` (UINT32_MAX: none), into `mag` when the block is the host's own and
 * the magazine has room, else onto its extent's list.  Other hosts' blocks
 * are batched in `mag` when there is one and their extent is held (its
 * owner carves from it); into an extent nobody carves from, the block goes
 * at once, with the whole batch (its blocks of that extent among them), so
 * that an emptied extent goes back to the pool.  The caller has made the block
 * unreadable first (entry_retire).  A block whose extent does not hold
 * class `cls` is left alone (damage: `shmemora check` reports it).
 */
void alloc_free(struct heap *h, uint32_t host, struct magazine *mag, uint64_t offset,
		int cls);

/* Gives every block of `mag` back to its extent (a thread ends, or the
 * handle detaches).  Only while the host still holds its slot: see
 * alloc_drop_magazine. */
void alloc_flush_magazine(struct heap *h, struct magazine *mag);

/* Forgets every block of `mag` without freeing any (a thread of a host
 * that lost its slot ends).  Its own blocks are the slot's new holder's
 * now, or check --repair's, which may have freed them already; its
 * batched remote frees are left to check --repair too.  Freeing them
 * again would push blocks that may be live by now. */
void alloc_drop_magazine(struct magazine *mag);

/*
 * A new holder of host slot `host` takes over its extents: none is its
 * current one any more, and those without live blocks go back to the pool.
 * Called at attach, before the first allocation.
 */
void alloc_adopt_host(struct heap *h, uint32_t host);

/* The handle detaches: every magazine is flushed and the host's extents
 * are let go as alloc_adopt_host does. */
void alloc_release_host(struct heap *h, uint32_t host);

/* Is `offset` the start of a block of class `cls` by geometry alone
 * (inside the data region, at a multiple of the class size within its
 * extent)?  What a reader checks before it copies from a block. */
bool alloc_block_valid(const struct heap *h, uint64_t offset, int cls);

/* The extent `offset` lies in (the caller has validated the offset). */
static inline uint64_t alloc_extent_of(const struct heap *h, uint64_t offset)
{
	return (offset - h->data_offset) / h->extent_size;
}

/* Pool offset of extent `x`'s first byte. */
static inline uint64_t alloc_extent_start(const struct heap *h, uint64_t x)
{
	return h->data_offset + x * h->extent_size;
}

/* Extent `x`'s record. */
static inline struct extent_record *alloc_extent(const struct heap *h, uint64_t x)
{
	return &h->extents[x];
}

/* Host `host`'s header (counters). */
static inline struct heap_header *alloc_header(const struct heap *h, uint32_t host)
{
	return &h->headers[host];
}

/* Host `host`'s shared counters, in the order of enum contention_kind
 * (timing.h). */
void alloc_header_counters(const struct heap *h, uint32_t host, _Atomic uint64_t **to);

/* The free link of the block at `offset`, a block reference (for walking a
 * list), or a batch mark (below). */
uint64_t alloc_free_link(const struct heap *h, uint64_t offset);

/*
 * A block freed into another host's extent waits in the freeing thread's
 * batch, still counted live in its extent, for as long as that thread
 * frees fewer than REMOTE_MAX such blocks: no grace period can tell it from
 * a leak.  So while it waits its free link says who holds it: bit 63 set,
 * the holder's slot epoch in bits 16-47, the slot in bits 0-15 (a block
 * reference never reaches bit 36).  check --repair leaves a block so marked
 * alone while that slot is held at that epoch; the mark is overwritten when
 * the batch pushes the block.
 */
#define ALLOC_BATCH_MARK (1ULL << 63)
static inline uint64_t alloc_batch_mark(uint32_t host, uint32_t epoch)
{
	return ALLOC_BATCH_MARK | (uint64_t)epoch << 16 | (host & 0xffff);
}
static inline bool alloc_link_is_batch_mark(uint64_t link) { return link >> 63; }
static inline uint32_t alloc_batch_mark_host(uint64_t link) { return (uint32_t)(link & 0xffff); }
static inline uint32_t alloc_batch_mark_epoch(uint64_t link)
{
	return (uint32_t)(link >> 16);
}

/*
 * check --repair, on an extent whose owner is dead and whose state word
 * read `w`: pushes the n blocks at `off` (none live, none on its list, each
 * made unreadable already) onto its list as one chain, then sets its count
 * to `live` and clears its held bit (giving it back when live is 0), if the
 * state word is still `w`.  1 when the count was set; 0 when the word had
 * changed (a free by another host: the count stays high, which only keeps
 * the extent from going back, until the next repair).
 */
int alloc_repair_extent(struct heap *h, uint64_t x, uint64_t w, const uint64_t *off,
			uint64_t n, uint64_t live);

#endif
