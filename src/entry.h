/*
 * entry.h — KV entries: their header, their MAC and their seqlock.  This
 * module owns the entry protocol; the index, the KV operations and `check`
 * all go through it.
 *
 * An entry is built whole in a block its writer allocates, sealed with
 * a MAC, and made readable by making its seq even; only then may an index
 * slot name it.  Once built it never changes, until it is retired (seq made
 * odd and different) and freed.
 *
 * Reading is a seqlock read in three steps:
 *   entry_read()      reads seq and every header field ONCE into a local
 *                     snapshot, validates the snapshot (class, block bounds,
 *                     lengths within the block), and tells whether the
 *                     entry holds the wanted key, checking its MAC when it
 *                     does;
 *   entry_copy_value  copies the value, sized from the snapshot only;
 *   entry_unchanged   rechecks seq and the MAC: a reader that sees the same
 *                     even seq and MAC before and after has a copy of one
 *                     whole entry.  (The MAC too because a host that writes
 *                     raw bytes could set seq back to a value a reader saw
 *                     while the block was rebuilt; a rebuild never keeps
 *                     the MAC, since every build draws a new nonce.)  Not
 *                     when the block's extent may have gone back and come
 *                     again for another size class meanwhile: the offset
 *                     can then lie inside another entry, whose key or value
 *                     bytes (anyone's to choose) can equal the old seq
 *                     while the old MAC is still there beyond its end.  A
 *                     reader that hands bytes out confirms by its slot.
 * A reader that found the entry through an index slot may confirm by the
 * slot instead (index_hit_still): an entry is retired only after its slot
 * stops naming it, and a slot names a build by its seq (index.h's build
 * tag), so a slot that holds the same value before and after the reads
 * names an entry that was neither retired nor rebuilt in between.  That
 * costs one coherent load instead of a second fetch of the header (flush
 * mode).
 * Nothing after entry_read() looks at the header in the pool again, so a
 * host that rewrites a length in a loop cannot make a reader copy more than
 * the snapshot it validated, and the MAC (SipHash under a key derived from
 * the pool key, over the block's offset, the header and the key) means a
 * host without the pool key cannot make an entry say anything its writer
 * did not: not another length, not another key, not another place.  Value
 * bytes are not covered by the MAC: a host that can write raw bytes can
 * destroy values it reaches, but cannot make a reader return bytes from
 * outside the entry it asked for.
 */
#ifndef SHMEMORA_ENTRY_H
#define SHMEMORA_ENTRY_H

#include "alloc.h"
#include "secrets.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A thread's cache of verified MACs.  The MAC is a function of the block's
 * offset, the header fields and the key; a header read again with every
 * field equal to one whose MAC verified, at the same offset, for a key with
 * the same keyed hash (whose bytes entry_read has compared with the
 * caller's), would verify again, so SipHash is skipped.  Any edit of any
 * field, and every rebuild (a new nonce), misses.  It lives in the
 * protected arena (pool.c), one per thread slot, so application code
 * cannot plant an entry in it.
 */
#define ENTRY_CACHE_SLOTS 4096     /* 256 KiB per thread: within L2 */
struct entry_cache_slot {
	uint64_t offset;        /* 0: empty (no entry lives at offset 0) */
	uint64_t key_hash;
	uint64_t rec[5];        /* the MAC's header words but the offset */
	uint64_t mac;
};
struct entry_cache {
	struct entry_cache_slot slot[ENTRY_CACHE_SLOTS];
};

/* The entries of one attached pool. */
struct entries {
	struct heap *heap;
	const struct secrets *secrets;
	uint32_t max_key, max_value;
	struct entry_cache *caches;     /* one per thread slot (in the arena), or NULL */
};

/* Thread slot `slot`'s MAC cache, or NULL. */
static inline struct entry_cache *entry_cache_of(const struct entries *es, int slot)
{
	return es->caches && slot >= 0 && slot < MAG_THREADS ? &es->caches[slot] : NULL;
}

/* A key a caller asks about.  With `cache` (and `key_hash`, the keyed hash
 * of the namespace and key: secrets_key_hash), a MAC that verified before
 * is not computed again. */
struct entry_key {
	uint64_t ns_hash;
	uint32_t ns_gen;
	const void *key;
	size_t len;
	uint64_t key_hash;
	struct entry_cache *cache;
};

/* A header read once; what every later step uses. */
struct entry_snap {
	uint64_t offset;
	uint64_t seq;
	uint64_t ns_hash, version, mac;
	uint32_t key_len, value_len, ns_gen, owner_epoch, nonce;
	uint16_t owner_host;
	uint8_t size_class, flags;
	uint32_t fetched;  /* bytes after the header fetched since (flush mode) */
};

enum entry_read_result {
	ENTRY_RETRY = -1,  /* free, being rebuilt, or changed while read: look again */
	ENTRY_OTHER = 0,   /* a whole entry of another key */
	ENTRY_MATCH = 1,   /* a whole entry of the wanted key, its MAC verified */
};

/*
 * Reads and validates the entry at pool offset `offset`.  With `want`, also
 * compares its key and verifies its MAC when the key matches.  Returns an
 * enum entry_read_result, or E_CORRUPT when a stable entry fails
 * validation (a damaged or tampered header, or a MAC that does not verify).
 * With `want` NULL, ENTRY_OTHER means "a valid header was read" (its key
 * and MAC are the caller's to check: entry_copy_key, entry_mac_ok).
 *
 * With `want`, a result is rechecked here only when it would be an error
 * (to tell a change from damage): the caller confirms MATCH and OTHER by
 * the slot that named the entry (index_hit_still, see above).  A match
 * fetches the value's lines with the key's (flush mode), so that
 * entry_copy_value need not fetch them again.  Without `want` the read is
 * rechecked here (entry_unchanged).
 */
int entry_read(const struct entries *es, uint64_t offset, const struct entry_key *want,
	       struct entry_snap *snap);

/* entry_read with `want`, fetching in flush mode the first `bytes` of the
 * entry (a slot's hint: index.h) with the header, in one go. */
int entry_lookup(const struct entries *es, uint64_t offset, const struct entry_key *want,
		 uint64_t bytes, struct entry_snap *snap);

/* Copies the snapshot's value (its value_len bytes, which the caller has
 * room for) into buf. */
void entry_copy_value(const struct entries *es, const struct entry_snap *snap, void *buf);

/* Copies the snapshot's key (key_len bytes) into buf. */
void entry_copy_key(const struct entries *es, const struct entry_snap *snap, void *buf);

/* Does the MAC of the snapshot verify for this key (the caller's copy)? */
bool entry_mac_ok(const struct entries *es, const struct entry_snap *snap, const void *key);

/* Has the entry kept the seq and MAC of the snapshot (so what was read
 * since is one whole entry)? */
bool entry_unchanged(const struct entries *es, const struct entry_snap *snap);

/*
 * Builds a complete entry for `k` with `value` in a block host `host`
 * allocates (through `mag`, this thread's magazine, may be NULL), sealed and
 * readable (seq even), not yet named by any slot; `built` gets its snapshot
 * (built->offset is where it is).  E_NO_SPACE, E_CORRUPT (a damaged extent
 * record), E_CONTENDED.
 */
int entry_build(struct entries *es, uint32_t host, uint32_t epoch, struct magazine *mag,
		const struct entry_key *k, const void *value, size_t value_len, uint64_t version,
		struct entry_snap *built);

/* Makes an entry that no slot names any more unreadable (seq odd and
 * different, so a reader still copying it retries) and frees its block, on
 * behalf of `host` through `mag` (alloc_free).  `cls` is the class its
 * snapshot or its builder knows.  The caller read the entry since it last
 * changed (or built it): in flush mode its header line is current in this
 * host's cache. */
void entry_retire(struct entries *es, uint64_t offset, int cls, uint32_t host,
		  struct magazine *mag);

/* The first half of entry_retire: seq made odd and different, the block not
 * freed (check --repair frees what it finds in a batch). */
void entry_make_unreadable(struct entries *es, uint64_t offset);

#ifdef SHMEMORA_BOUNDS_CHECK
/* Test builds (the ASan tree): copies out of an entry that strayed outside
 * its block; the tamper tests require 0. */
extern _Atomic uint64_t entry_bounds_violations;
#endif

/* The size class an entry for this key and value length needs, or -1. */
int entry_class_for(const struct entries *es, size_t key_len, size_t value_len);

#endif
