/*
 * pool.h — the attached pool handle, shared by the modules that implement
 * the public API (pool, kv, region, token, check, stats), and the write
 * fence they call.
 *
 * The handle owns one context per module below it, each bound to its
 * regions of the mapping by pool_bind() from the verified superblock; the
 * lower modules see only their own context, never the handle.
 */
#ifndef SHMEMORA_POOL_H
#define SHMEMORA_POOL_H

#include "alloc.h"
#include "captable.h"
#include "coherence.h"
#include "crypto.h"
#include "entry.h"
#include "hosts.h"
#include "index.h"
#include "layout.h"
#include "nstable.h"
#include "protect.h"
#include "secrets.h"

struct shmemora_pool {
	char *path;
	uint8_t *base;                 /* the mapping; regions at base + offset */
	uint64_t size;
	struct superblock sb;          /* verified private copy: never re-read */
	struct pool_key key;           /* bytes wiped once the secrets are derived */
	struct secrets *secrets;
	struct protect prot;           /* the protected path's state */
	struct coherence coh;
	struct registry registry;
	struct captable caps;
	struct heap heap;
	struct entries entries;
	struct kv_index index;
	struct nstable nstable;
	enum shmemora_backend backend;
	uint32_t page_size;
	int sb_from_backup;
	uint32_t host_id;              /* UINT32_MAX for an observer */
	uint32_t epoch;
	int observer;                  /* attached without a host slot: reads only */
	struct beat *beat;             /* the heartbeat thread (NULL for observers) */
	_Atomic int fenced;            /* the heartbeat thread found the slot reclaimed */
	/* Namespace hash -> record index, learnt by lookups.  Records never
	 * move once claimed, so an entry is never stale; a forged one only
	 * makes an operation read another record, whose state and hash it
	 * still checks. */
#define NS_CACHE 64
	struct {
		_Atomic uint64_t hash;
		_Atomic uint32_t index;
	} ns_cache[NS_CACHE];
	_Atomic uint64_t mint_cursor;  /* where this handle's next mint looks first */
};

/*
 * The write fence: 0 while this handle may write, else E_FENCED (its host
 * slot no longer holds its epoch: reclaimed while it was frozen or cut off)
 * or E_READ_ONLY (an observer).  Reads the slot's owner word once.  Called
 * before a host allocates from its extents and before every publishing
 * CAS, and once more after it: a write whose publication is not followed by
 * a passing check is never acknowledged (it may have landed, like a write
 * whose caller timed out).  Only between protect_open and protect_close.
 */
int pool_may_write(struct shmemora_pool *pool);

/* Adds this thread's contention counts (timing.h) to its host's counters in
 * the heap region: every CONTENTION_BATCH writes, or `now` (at detach).  A
 * thread that uses several pools credits each batch to the pool that flushes
 * it.  Only between protect_open and protect_close. */
void pool_share_contention(struct shmemora_pool *pool, bool now);

/* Address of a region of an attached pool. */
static inline void *pool_region(const struct shmemora_pool *pool, enum region_id r)
{
	return pool->base + pool->sb.region[r].offset;
}

/* Binds every module context of the handle to its regions (after the
 * mapping and the secrets exist; again whenever the secrets move). */
void pool_bind(struct shmemora_pool *pool);

/* Bytes of the protected arena each handle gives its threads: the
 * allocator's magazines, then the entries' MAC caches. */
static inline size_t pool_thread_area_bytes(void)
{
	return alloc_magazine_bytes() + sizeof(struct entry_cache) * MAG_THREADS;
}

/* This thread's allocator magazine for the handle, or NULL. */
static inline struct magazine *pool_magazine(const struct shmemora_pool *pool)
{
	return alloc_magazine(&pool->heap, protect_thread_slot(&pool->prot));
}

/* Retires an entry this host took out of the index (entry_retire, with
 * this thread's magazine). */
static inline void pool_retire(struct shmemora_pool *pool, uint64_t offset, int cls)
{
	entry_retire(&pool->entries, offset, cls, pool->host_id, pool_magazine(pool));
}

/* The key hint a token minted for this pool carries. */
static inline uint16_t pool_key_hint(const struct shmemora_pool *pool)
{
	return (uint16_t)(pool->key.id[0] | pool->key.id[1] << 8);
}

#endif
