/*
 * token.h — the capability table: entries, their tags, and the operations
 * that change them (mint, derive, revoke, gc).
 *
 * Token ids carry their table slot in the low CAP_INDEX_BITS bits and 40
 * random bits above, so finding an entry is one load and an id of a freed
 * and reused slot never matches the new occupant.  Entry fields are read
 * with a seqlock: state word, fields, state word again; a change in between
 * means the entry was re-minted and the snapshot is thrown away.
 */
#ifndef SHMEMORA_TOKEN_H
#define SHMEMORA_TOKEN_H

#include "hmac.h"
#include "layout.h"
#include "shmemora.h"

#include <stdbool.h>

#define CAP_INDEX_BITS 24
#define CAP_INDEX_MASK ((1ULL << CAP_INDEX_BITS) - 1)
_Static_assert(MAX_CAPABILITIES <= (1ULL << CAP_INDEX_BITS), "slot fits in the id");

enum cap_state { CAP_FREE = 0, CAP_MINTING = 1, CAP_LIVE = 2, CAP_REVOKED = 3 };

static inline unsigned cap_state_of(uint64_t w) { return (unsigned)(w & 3); }
static inline unsigned cap_minter_of(uint64_t w) { return (unsigned)(w >> 2) & 0xfff; }
static inline uint64_t cap_gen_of(uint64_t w) { return w >> 14; }
static inline uint64_t cap_word(unsigned state, unsigned minter, uint64_t gen)
{
	return (uint64_t)state | (uint64_t)(minter & 0xfff) << 2 | gen << 14;
}

/* A consistent copy of an entry's fields and the state word they go with. */
struct cap_fields {
	uint64_t state_word;
	uint64_t id, a, b, expires_ns, parent_id;
	uint32_t rights;
	uint16_t scope, owner_host;
};

struct shmemora_pool;

/* The entry a token id names, or NULL if the id's slot is out of range. */
struct cap_entry *cap_entry_for(const struct shmemora_pool *pool, uint64_t id);

/* Seqlock snapshot of `e` into `f`.  Returns false if the entry kept
 * changing (a concurrent re-mint); the caller treats it as refused. */
bool cap_snapshot(const struct shmemora_pool *pool, const struct cap_entry *e,
		  struct cap_fields *f);

/* The 128-bit tag of a snapshot: HMAC over id, fields and generation. */
void cap_tag(const struct hmac_key *token_key, const struct cap_fields *f,
	     uint8_t tag[SHMEMORA_TAG_BYTES]);

/* Mints a LIVE entry with the fields of `want` (id, state ignored) and
 * returns its token.  E_TABLE_FULL when no slot is free. */
int token_mint(struct shmemora_pool *pool, const struct cap_fields *want, shmemora_token *out);

/* The namespace hash under which namespaces themselves are recorded (keys:
 * namespace names).  token_ns_hash() never returns it. */
#define NS_CATALOG 0ULL

/* Keyed 64-bit hashes for namespace and key scopes. */
uint64_t token_ns_hash(const struct shmemora_pool *pool, const char *ns);
uint64_t token_key_hash(const struct shmemora_pool *pool, uint64_t ns_hash, const void *key,
			size_t len);

#endif
