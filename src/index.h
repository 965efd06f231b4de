/*
 * index.h — the lock-free hash index of the KV store.
 *
 * A table of 8-byte slots in 64-byte buckets, in the sync area.  A key
 * hashes (secrets_key_hash: XXH3 seeded with a per-pool secret and the
 * namespace) to a home bucket; it may sit in any slot of the PROBE_BUCKETS
 * buckets from there (its window).  A slot is empty (0) or holds a
 * fingerprint of the hash and the entry's offset; slots change only by
 * compare-and-swap.  There are no tombstones: a delete empties the slot, so
 * a lookup that misses scans its whole window (four cache lines).
 *
 * A new key is first published TENTATIVE, invisible to readers; the writer
 * then scans the window for the same key.  If another slot holds it
 * confirmed, or tentative at a lower position, this writer backs out;
 * otherwise it confirms.  So a key is never in two confirmed slots, and a
 * reader never sees a value that is then withdrawn.  A tentative slot left
 * by a dead host is cleared by whoever finds it in the way.
 *
 * This module owns the slot word's format; everyone else (check, stats,
 * tests) decodes slots with the functions below.
 */
#ifndef SHMEMORA_INDEX_H
#define SHMEMORA_INDEX_H

#include "entry.h"
#include "hosts.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROBE_BUCKETS 4
#define SLOTS_PER_BUCKET 8
#define INDEX_WINDOW (PROBE_BUCKETS * SLOTS_PER_BUCKET)

/*
 * Slot word: bit 63 TENTATIVE, bits 52..62 fingerprint (11 bits of the
 * hash), bits 48..51 the entry's lines, bits 36..47 the build tag, bits
 * 0..35 the entry's pool offset / 64.
 *
 * The entry's lines (header, key and value: 1 to 16, stored less one; 16
 * for a longer entry) let a reader in flush mode fetch the whole entry in
 * one go as soon as it has read the slot, instead of the header first and
 * then, once it knows the lengths, the rest: one trip to memory, not two.
 * They are a hint: lengths still come from the validated header, and a
 * wrong count (a raw writer's) only fetches other lines or fewer.
 *
 * The build tag is the entry's seq / 2, which grows by one with every build
 * of a block.  Without it a writer that read a slot, and then compares and
 * swaps it, could succeed on a later entry built in the same block (freed
 * and reused meanwhile: the free lists are LIFO, so at once) and replace
 * it with a version computed from the old one (ABA: two puts, one version;
 * a compare-and-swap on a version that was no longer current).  With it
 * the block would have to be rebuilt a multiple of 4096 times in between.
 */
#define SLOT_TENTATIVE (1ULL << 63)
#define SLOT_FP_SHIFT 52
#define SLOT_FP_MASK 0x7ffULL
#define SLOT_LINES_SHIFT 48
#define SLOT_LINES_MASK 0xfULL
#define SLOT_TAG_SHIFT 36
#define SLOT_TAG_MASK 0xfffULL
#define SLOT_OFFSET_BITS 36
_Static_assert(((1ULL << SLOT_OFFSET_BITS) - 1) * 64 >= MAX_POOL_SIZE - 64,
	       "a slot reaches every entry of the largest pool");

/* The slot value naming built entry `e` with fingerprint `fp_bits` (a hash
 * shifted into place, or another slot value's fingerprint bits). */
static inline uint64_t index_slot_naming(uint64_t fp_bits, const struct entry_snap *e)
{
	uint64_t lines = ((uint64_t)ENTRY_HEADER_BYTES + e->key_len + e->value_len + 63) / 64;
	if (lines > SLOT_LINES_MASK + 1)
		lines = SLOT_LINES_MASK + 1;
	return (fp_bits & SLOT_FP_MASK << SLOT_FP_SHIFT) | (lines - 1) << SLOT_LINES_SHIFT |
	       ((e->seq >> 1) & SLOT_TAG_MASK) << SLOT_TAG_SHIFT | e->offset / 64;
}

/* The bytes of the entry a slot value names, as far as its hint goes. */
static inline uint64_t index_slot_entry_bytes(uint64_t v)
{
	return (((v >> SLOT_LINES_SHIFT) & SLOT_LINES_MASK) + 1) * 64;
}

static inline uint64_t index_slot_make(uint64_t hash, const struct entry_snap *e, bool tentative)
{
	return (tentative ? SLOT_TENTATIVE : 0) | index_slot_naming(hash, e);
}
static inline bool index_slot_is_tentative(uint64_t v) { return (v & SLOT_TENTATIVE) != 0; }
static inline bool index_slot_fp_matches(uint64_t v, uint64_t hash)
{
	return ((v >> SLOT_FP_SHIFT) & SLOT_FP_MASK) == ((hash >> SLOT_FP_SHIFT) & SLOT_FP_MASK);
}

/* The index of one attached pool. */
struct kv_index {
	_Atomic uint64_t *slots;        /* sync area */
	uint64_t count;                 /* a power of two, >= SLOTS_PER_BUCKET */
	struct entries *entries;
	const struct registry *registry;
};

/* A confirmed slot holding the key, and a snapshot of its entry read
 * consistently with it. */
struct index_hit {
	_Atomic uint64_t *slot;
	uint64_t slot_value;
	struct entry_snap snap;
};

/* The entry offset a slot value names, validated to lie in the data
 * data region on a 64-byte boundary; 0 if it does not. */
uint64_t index_slot_offset(const struct kv_index *ix, uint64_t v);

/*
 * Batched lookups (multi_get) overlap the cache misses of several keys, as
 * MICA and Cuckoo++ do: first every key's home bucket is prefetched, then
 * the entries its slots name (fingerprint matches only), then each key is
 * looked up as usual, by then mostly from cache.  Prefetches are hints:
 * they read nothing that a decision uses.
 */
void index_prefetch_bucket(const struct kv_index *ix, uint64_t hash);
void index_prefetch_entries(const struct kv_index *ix, uint64_t hash);

/* Slot i (0..INDEX_WINDOW-1) of the window of hash h, and its position. */
_Atomic uint64_t *index_window_slot(const struct kv_index *ix, uint64_t h, unsigned i);
uint64_t index_window_position(const struct kv_index *ix, uint64_t h, unsigned i);

/* Does slot position `pos` lie in the window of hash `h`? */
bool index_in_window(const struct kv_index *ix, uint64_t h, uint64_t pos);

/* Reads slot position `pos` (sequentially consistent: scans that race
 * writers rely on it, see namespace.c); its value, 0 when empty. */
uint64_t index_slot_load(const struct kv_index *ix, uint64_t pos);

/* A confirmed entry met by index_walk: its slot, and a snapshot whose key
 * was copied to `key` and whose MAC verified over that copy. */
struct index_item {
	uint64_t pos;
	_Atomic uint64_t *slot;
	uint64_t slot_value;
	struct entry_snap snap;
	const uint8_t *key;
};

/* What index_walk calls for each item: 0 to go on, INDEX_WALK_AGAIN to have
 * the same slot read again (its entry changed while the visitor read it),
 * anything else to stop (index_walk then returns it). */
typedef int (*index_visit)(void *arg, const struct index_item *item);
#define INDEX_WALK_AGAIN 0x7fff0001

/*
 * Visits the confirmed, valid entries of slots [from, count) in slot order
 * (`keybuf` holds max_key bytes).  Entries that fail validation or their MAC
 * are skipped (`check` reports them).  Stops early when `visit` returns
 * nonzero; *next (if not NULL) is then the position after the one that
 * stopped, else `count`.  Because a published key keeps its slot until it
 * is deleted (a replace keeps the slot), a key present for a whole walk is
 * visited exactly once.  E_CONTENDED when a slot never held still.
 */
int index_walk(struct kv_index *ix, uint64_t from, uint8_t *keybuf, index_visit visit,
	       void *arg, uint64_t *next);

/* Finds the key (whose hash is `hash`).  Returns 1 and fills `hit` if
 * present, 0 if absent, or a negative error: E_CORRUPT for a slot or entry
 * that fails validation, E_CONTENDED when writers kept changing it. */
int index_find(struct kv_index *ix, const struct entry_key *k, uint64_t hash,
	       struct index_hit *hit);

/* Publishes the built entry `e` for a key that was absent.  Returns 0
 * (hit's slot and slot_value say where), 1 if the key turned out to be
 * present (another writer won; `hit` filled), or a negative error
 * (E_NO_SPACE when the window is full, E_CONTENDED). */
int index_publish_new(struct kv_index *ix, const struct entry_key *k, uint64_t hash,
		      const struct entry_snap *e, struct index_hit *hit);

/* Does hit's slot still hold the value it held when the hit was found?
 * Then everything read from its entry since the slot was first read is of
 * one whole entry: an entry is retired only after its slot stops naming
 * it, and a rebuild changes the build tag (entry.h).  Reads before the call
 * complete before the slot is read again. */
bool index_hit_still(const struct kv_index *ix, const struct index_hit *hit);

/* The same for an item of a walk (its slot and the value it was read at). */
bool index_item_still(const struct kv_index *ix, const struct index_item *item);

/* Replaces the entry of `hit` by the built entry `e` (CAS on the slot).
 * Returns true if the slot still held hit's entry, with *now (if not NULL)
 * the slot's new value. */
bool index_replace(struct kv_index *ix, const struct index_hit *hit, const struct entry_snap *e,
		   uint64_t *now);

/* Empties hit's slot if it still holds hit's entry. */
bool index_remove(struct kv_index *ix, const struct index_hit *hit);

/* Empties slot `s` if it still holds `v` (check, namespace deletion). */
bool index_clear_slot(struct kv_index *ix, _Atomic uint64_t *s, uint64_t v);

/* Is a tentative slot abandoned: its publisher's incarnation gone? */
bool index_tentative_abandoned(const struct kv_index *ix, uint64_t v);

#endif
