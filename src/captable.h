/*
 * captable.h — the capability table: the format of its entries and the
 * mechanics that change them (mint, revoke, free, quota accounting).
 *
 * This module sits below the protected path: it knows how entries are laid
 * out and how their words change, not who may change them.  protect.c
 * decides whether a token is genuine and what it reaches; token.c (the
 * public token API) decides who may derive, revoke and collect.
 *
 * An entry is two parts: sync words in the sync area (state, used, tomb)
 * and one line of fields in the data area (layout.h).  Token ids carry their
 * table slot in the low CAP_INDEX_BITS bits and 40 random bits above, so
 * finding an entry is one load and an id of a freed and reused slot never
 * matches the new occupant.
 *
 * State word: bits 0-1 the state, bits 2-13 the host that minted it, bits
 * 14-63 the generation.  Every arrow is one compare-and-swap:
 *
 *   FREE(g) --claim--> MINTING(g+1) --publish--> LIVE(g+1)
 *   LIVE(g) --revoke--> REVOKED(g+1) --free--> FREE(g+2)
 *   LIVE(g), expired or orphaned --free--> FREE(g+1)
 *   MINTING(g), minter dead --free--> FREE(g+1)
 *
 * A tag is computed over the fields and the generation the entry has while
 * LIVE, so a revoked entry's tag no longer verifies as live.  Revocation also
 * writes the token's id into `tomb`, a second word: setting the state word
 * back to LIVE(g) alone leaves the tomb naming the token, and clearing the
 * tomb alone leaves the state REVOKED, so no single-word write revives it.
 */
#ifndef SHMEMORA_CAPTABLE_H
#define SHMEMORA_CAPTABLE_H

#include "coherence.h"
#include "layout.h"
#include "secrets.h"
#include "shmemora.h"

#include <stdbool.h>

#define CAP_INDEX_BITS 24
#define CAP_INDEX_MASK ((1ULL << CAP_INDEX_BITS) - 1)
#define CAP_MINTER_BITS 12
_Static_assert(MAX_CAPABILITIES <= (1ULL << CAP_INDEX_BITS), "slot fits in the id");
_Static_assert(MAX_HOSTS <= (1u << CAP_MINTER_BITS), "minter fits the state word");

enum cap_state { CAP_FREE = 0, CAP_MINTING = 1, CAP_LIVE = 2, CAP_REVOKED = 3 };

static inline unsigned cap_state_of(uint64_t w) { return (unsigned)(w & 3); }
static inline unsigned cap_minter_of(uint64_t w)
{
	return (unsigned)(w >> 2) & ((1u << CAP_MINTER_BITS) - 1);
}
static inline uint64_t cap_gen_of(uint64_t w) { return w >> (2 + CAP_MINTER_BITS); }
static inline uint64_t cap_word(unsigned state, unsigned minter, uint64_t gen)
{
	return (uint64_t)state | (uint64_t)(minter & ((1u << CAP_MINTER_BITS) - 1)) << 2 |
	       gen << (2 + CAP_MINTER_BITS);
}

/* The table of one attached pool. */
struct captable {
	struct cap_sync *sync;          /* sync area: state, used, tomb */
	struct cap_entry *entries;      /* data area: the fields */
	uint64_t count;
	const struct coherence *coh;
	const struct secrets *secrets;
};

/* A consistent copy of an entry, read once: the only thing callers use. */
struct cap_fields {
	uint64_t state_word;
	uint64_t tomb;
	uint64_t id, a, b, expires_ns, parent_id, lineage;
	uint32_t quota, ns_gen;
	uint16_t owner_host;
	uint8_t rights, scope, depth;
};

/* The slot a token id names, or -1 if it is outside the table. */
int64_t captable_index(const struct captable *ct, uint64_t id);

/* An entry's words as read: the sync words and the raw field line. */
struct cap_raw {
	uint64_t state, tomb;
	uint8_t line[sizeof(struct cap_entry)];
};

/* Copies entry `index` under its seqlock (state word, field line, tomb,
 * state word again).  False if it kept changing (a concurrent re-mint):
 * callers treat that as refused. */
bool captable_read(const struct captable *ct, uint64_t index, struct cap_raw *raw);

/* Decodes a copy into fields. */
void captable_decode(const struct cap_raw *raw, struct cap_fields *f);

/* captable_read, then captable_decode. */
bool captable_snapshot(const struct captable *ct, uint64_t index, struct cap_fields *f);

/* Does entry `index` still hold exactly the words of `raw` (state, tomb and
 * every byte of the line)?  What a verification cache relies on. */
bool captable_unchanged(const struct captable *ct, uint64_t index, const struct cap_raw *raw);

/* Does the token `id` name still hold the state word `state` (LIVE, as
 * seen when it was verified live) with a tomb that does not name it?  The
 * ancestor check of a cached verification: every transition changes the
 * generation, so an unchanged word is the same live incarnation. */
bool captable_still(const struct captable *ct, uint64_t id, uint64_t state);

/* Does the snapshot hold a live token of this id: LIVE, and not tombed? */
static inline bool cap_fields_live(const struct cap_fields *f, uint64_t id)
{
	return f->id == id && cap_state_of(f->state_word) == CAP_LIVE && f->tomb != id;
}

/* The 128-bit tag of a token whose entry reads `f`, computed for the
 * generation of `f`'s state word. */
void captable_tag(const struct captable *ct, const struct cap_fields *f,
		  uint8_t tag[SHMEMORA_TAG_BYTES]);

/*
 * Mints a LIVE entry with the fields of `want` (its id and state are
 * chosen here) for host `host_id`, looking for a free slot from *cursor on,
 * and returns its id and tag.  E_TABLE_FULL when no slot is free.
 */
int captable_mint(struct captable *ct, uint32_t host_id, uint64_t *cursor,
		  const struct cap_fields *want, uint64_t *id, uint8_t tag[SHMEMORA_TAG_BYTES]);

/* LIVE -> REVOKED for the entry whose snapshot is `f` (one CAS, then the
 * tomb).  False if its state word is no longer f->state_word. */
bool captable_revoke(struct captable *ct, uint64_t index, const struct cap_fields *f);

/* Frees the entry whose snapshot is `f` (its state word must still be
 * f->state_word) and credits its parent's quota.  False if it changed. */
bool captable_free(struct captable *ct, uint64_t index, const struct cap_fields *f);

/* Charges `units` against the quota of the token whose (verified) snapshot
 * is `parent`.  E_QUOTA when its descendants would then hold more than its
 * quota. */
int captable_charge(struct captable *ct, const struct cap_fields *parent, uint64_t units);

/* Gives `units` back to the token `parent_id` names, if its slot still
 * holds it (never below zero). */
void captable_credit(struct captable *ct, uint64_t parent_id, uint64_t units);

/* What a token's descendants hold against its quota, and what may still be
 * charged (quota minus used). */
uint64_t captable_used(const struct captable *ct, const struct cap_fields *f);
uint64_t captable_quota_left(const struct captable *ct, const struct cap_fields *f);

/* Sets what a token's descendants hold (check --repair's recount). */
void captable_set_used(struct captable *ct, uint64_t index, uint64_t used);

/* The units a child costs its parent: itself and its own quota. */
static inline uint64_t cap_cost(const struct cap_fields *child)
{
	return 1 + (uint64_t)child->quota;
}

/* Revokes every live entry whose parent is not live, until none is left (one
 * pass per level of a derivation tree, whatever its layout in the table). */
void captable_sweep_orphans(struct captable *ct);

#endif
