/*
 * pool.h — the attached pool handle, shared by the modules built on it
 * (token table, protected path, KV store), and the write fence they call.
 */
#ifndef SHMEMORA_POOL_H
#define SHMEMORA_POOL_H

#include "coherence.h"
#include "crypto.h"
#include "hosts.h"
#include "layout.h"
#include "protect.h"

struct shmemora_pool {
	char *path;
	uint8_t *base;                 /* the mapping; regions at base + offset */
	uint64_t size;
	struct superblock sb;          /* verified private copy: never re-read */
	struct pool_key key;           /* bytes wiped once `prot` holds what it needs */
	struct protect prot;           /* the protected path's state */
	struct coherence coh;
	struct registry registry;
	enum shmemora_backend backend;
	uint32_t page_size;
	int sb_from_backup;
	uint32_t host_id;              /* UINT32_MAX for an observer */
	uint32_t epoch;
	int observer;                  /* attached without a host slot: reads only */
	struct beat *beat;             /* the heartbeat thread (NULL for observers) */
	_Atomic int fenced;            /* the heartbeat thread found the slot reclaimed */
	/* Namespaces seen to exist (never deleted, so never stale).  Process
	 * memory: a forged entry only lets an operation reach a namespace
	 * that does not exist, which its token still has to cover. */
#define NS_CACHE 64
	_Atomic uint64_t ns_cache[NS_CACHE];
	_Atomic unsigned ns_cache_next;
	_Atomic uint64_t mint_cursor;  /* where this handle's next mint looks first */
};

/*
 * The write fence: 0 while this handle may write, else E_FENCED (its host
 * slot no longer holds its epoch: reclaimed while it was frozen or cut off)
 * or E_READ_ONLY (an observer).  Reads the slot's owner word once.  Called
 * before a host allocates from its partition and before every publishing
 * CAS, and once more after it: a write whose publication is not followed by
 * a passing check is never acknowledged (it may have landed, like a write
 * whose caller timed out).  Only between protect_open and protect_close.
 */
int pool_may_write(struct shmemora_pool *pool);

/* Address of a region of an attached pool. */
static inline void *pool_region(const struct shmemora_pool *pool, enum region_id r)
{
	return pool->base + pool->sb.region[r].offset;
}

#endif
