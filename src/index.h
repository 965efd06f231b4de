/*
 * index.h — the lock-free hash index of the KV store.
 *
 * A table of 8-byte slots in 64-byte buckets.  A key hashes (XXH3, seeded
 * with a per-pool secret) to a home bucket; it may sit in any slot of the
 * PROBE_BUCKETS buckets from there (its window).  A slot is empty (0) or
 * holds a fingerprint of the hash and the entry's offset; slots change only
 * by compare-and-swap.  There are no tombstones: a delete empties the slot,
 * so a lookup that misses scans its whole window (four cache lines).
 *
 * A new key is first published TENTATIVE, invisible to readers; the writer
 * then scans the window for the same key.  If another slot holds it
 * confirmed, or tentative at a lower position, this writer backs out;
 * otherwise it confirms.  So a key is never in two confirmed slots, and a
 * reader never sees a value that is then withdrawn.  A tentative slot left
 * by a dead host is cleared by whoever finds it in the way.
 */
#ifndef SHMEMORA_INDEX_H
#define SHMEMORA_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROBE_BUCKETS 4
#define SLOTS_PER_BUCKET 8

struct shmemora_pool;
struct kv_entry;

/* What a key hashes to. */
struct index_key {
	uint64_t ns_hash;
	const void *key;
	size_t len;
	uint64_t hash;
};

void index_hash(const struct shmemora_pool *pool, struct index_key *k);

/* A confirmed slot holding the key, and the entry it points at, read
 * consistently: `seq` is the entry's (even) seqlock value at the time. */
struct index_hit {
	_Atomic uint64_t *slot;
	uint64_t slot_value;
	uint64_t offset;
	struct kv_entry *entry;
	uint64_t seq;
};

/* Finds the key.  Returns 1 and fills `hit` if present, 0 if absent, or a
 * negative error (E_CORRUPT for a slot or entry that fails validation). */
int index_find(struct shmemora_pool *pool, const struct index_key *k, struct index_hit *hit);

/* Publishes the entry at `offset` for a key that was absent.  Returns 0,
 * 1 if the key turned out to be present (another writer won; `hit` filled),
 * or a negative error (E_NO_SPACE when the window is full). */
int index_publish_new(struct shmemora_pool *pool, const struct index_key *k, uint64_t offset,
		      struct index_hit *hit);

/* Replaces the entry of `hit` by the one at `offset` (CAS on the slot).
 * Returns true if the slot still held hit's entry. */
bool index_replace(struct shmemora_pool *pool, const struct index_hit *hit, uint64_t offset);

/* Empties hit's slot if it still holds hit's entry. */
bool index_remove(struct shmemora_pool *pool, const struct index_hit *hit);

/* Is a tentative slot abandoned: its publisher's incarnation gone? */
bool index_tentative_abandoned(const struct shmemora_pool *pool, uint64_t slot_value);

/* Validates a slot value and returns its entry offset (0 if invalid). */
uint64_t index_slot_offset(const struct shmemora_pool *pool, uint64_t slot_value);

#endif
