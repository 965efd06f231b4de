/*
 * nstable.h — the namespace table: one record per namespace name ever
 * created, in the sync area, found by its keyed name hash.
 *
 * A record says whether its namespace exists now, and which incarnation:
 * deleting a namespace and creating it again gives a new incarnation, and
 * entries and tokens carry the incarnation they were made for, so nothing
 * of the old namespace reaches into the new one.  A record also holds the
 * namespace's limits and, when limits are set, its usage counters.
 *
 * Records are open-addressed (linear probing from hash % count).  Once a
 * record is claimed for a hash (its ns_hash word set by compare-and-swap)
 * it belongs to that hash for good, so probe sequences never break; the
 * table holds as many distinct names as it has records.
 *
 * State word: bits 0-1 the state, bit 2 COUNTED (usage is counted), bits
 * 32-63 the incarnation.  Every transition is one compare-and-swap:
 *
 *   FREE(0) / DELETED(g) --create--> LIVE(g+1)
 *   LIVE(g) --delete--> DELETING(g) --done--> DELETED(g)
 *   LIVE(g) --limits--> LIVE(g) | COUNTED
 */
#ifndef SHMEMORA_NSTABLE_H
#define SHMEMORA_NSTABLE_H

#include "layout.h"

#include <stdbool.h>
#include <stdint.h>

enum ns_state { NS_FREE = 0, NS_LIVE = 1, NS_DELETING = 2, NS_DELETED = 3 };
#define NS_COUNTED 4u

static inline unsigned ns_state_of(uint64_t w) { return (unsigned)(w & 3); }
static inline uint32_t ns_gen_of(uint64_t w) { return (uint32_t)(w >> 32); }
static inline bool ns_counted(uint64_t w) { return (w & NS_COUNTED) != 0; }
static inline uint64_t ns_word(unsigned state, bool counted, uint32_t gen)
{
	return (uint64_t)state | (counted ? NS_COUNTED : 0) | (uint64_t)gen << 32;
}

struct nstable {
	struct ns_record *records;      /* sync area */
	uint32_t count;
};

/* A record read once. */
struct ns_view {
	uint32_t index;
	uint64_t ns_hash;
	uint64_t state_word;
	uint64_t keys, bytes, max_keys, max_bytes;
};

/* Finds the record of `ns_hash`: 1 and *index, or 0 if no record was ever
 * claimed for it. */
int nstable_find(const struct nstable *t, uint64_t ns_hash, uint32_t *index);

/* Finds or claims the record of `ns_hash`.  E_NO_SPACE when the table is
 * full of other names. */
int nstable_claim(struct nstable *t, uint64_t ns_hash, uint32_t *index);

/* Reads record `index` once. */
void nstable_read(const struct nstable *t, uint32_t index, struct ns_view *v);

/* Reads record `index`'s state word alone, sequentially consistent: a
 * writer's recheck after it published (the deletion race). */
uint64_t nstable_state(const struct nstable *t, uint32_t index);

/* Reads record `index`'s hash and state word (what every operation
 * checks): false if the record is not the one of `ns_hash`. */
bool nstable_state_of(const struct nstable *t, uint32_t index, uint64_t ns_hash,
		      uint64_t *state);

/* Changes record `index`'s state word from `expect` to `want`, sequentially
 * consistent (namespace deletion races writers on it).  False if it moved. */
bool nstable_transition(struct nstable *t, uint32_t index, uint64_t expect, uint64_t want);

/* Sets the limits of record `index` (0 = none). */
void nstable_set_limits(struct nstable *t, uint32_t index, uint64_t max_keys,
			uint64_t max_bytes);

/* Reserves `keys` and `bytes` (each may be negative) against the limits of
 * a COUNTED record: E_QUOTA (and nothing changed) if a limit would be
 * passed.  Releases (negative amounts) always succeed. */
int nstable_charge(struct nstable *t, uint32_t index, int64_t keys, int64_t bytes);

/* Sets the counters outright (a recount). */
void nstable_set_usage(struct nstable *t, uint32_t index, uint64_t keys, uint64_t bytes);

#endif
