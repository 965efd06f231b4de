/*
 * secrets.h — the per-pool secrets every host derives from the pool key,
 * and the keyed functions built on them.
 *
 * From the pool key and the pool's UUID, attach derives one key per purpose
 * (HMAC(pool key, label || uuid)), so no purpose can be turned against
 * another:
 *   token key    HMAC-SHA256 tags of capability tokens
 *   lineage key  SipHash of a token's chain of ancestors (cap_entry.lineage)
 *   entry key    SipHash MACs of KV entry headers (kv_entry.mac)
 *   hash seeds   XXH3 seeds of namespace names and keys, so nobody without
 *                the key can aim keys at one index bucket (hash flooding)
 *
 * They live in their own private anonymous mapping, never in the pool, kept
 * out of core dumps and child processes.  In MPK mode protect.c gives that
 * mapping the pool's protection key, so only code on the protected path can
 * read it: call the accessors (and secrets_wipe) only between protect_open
 * and protect_close.
 */
#ifndef SHMEMORA_SECRETS_H
#define SHMEMORA_SECRETS_H

#include "crypto.h"
#include "hmac.h"
#include "siphash.h"

#include <stddef.h>
#include <stdint.h>

struct secrets;

/* Derives the secrets of the pool with `uuid` from `key` into a new
 * mapping.  E_NOMEM, E_IO. */
int secrets_create(const struct pool_key *key, const uint8_t uuid[16], struct secrets **out);

/* Overwrites the secrets with zeros (protect_fini, on the protected path,
 * while the pool's key still reaches them). */
void secrets_wipe(struct secrets *s);

/* Unmaps; NULL is accepted.  Wipe first: this does not touch the secrets,
 * which in MPK mode it could not reach.  In a forked child, given the
 * parent's secrets (which the child does not have), does nothing. */
void secrets_destroy(struct secrets *s);

/* Address space the whole mapping takes (the header page and the secrets). */
size_t secrets_footprint(void);

/* Moves the whole mapping to [dest, dest + secrets_footprint()), with its
 * pages and protection key (mremap), and points *s at the new place; every
 * other pointer to the secrets is the caller's to update.  Nothing moves on
 * failure (E_IO).  Hardened mode moves them under a guard (harden.c). */
int secrets_move(struct secrets **s, void *dest);

/* The page that holds them (for the protection key and hardened mode). */
void secrets_mapping(const struct secrets *s, void **addr, size_t *len);

const struct hmac_key *secrets_token_key(const struct secrets *s);
const struct siphash_key *secrets_entry_key(const struct secrets *s);

/* Keyed hash of a namespace name; never 0 (NS_CATALOG, below). */
uint64_t secrets_ns_hash(const struct secrets *s, const char *name, size_t len);

/* The namespace hash of the catalog, whose keys are namespace names. */
#define NS_CATALOG 0ULL

/* Keyed hash of a key within a namespace: the index hash, and what a key
 * token's scope records. */
uint64_t secrets_key_hash(const struct secrets *s, uint64_t ns_hash, const void *key, size_t len);

/* The lineage of a child of the token whose lineage is `parent_lineage`
 * and id `parent_id`.  A root token's lineage is 0. */
uint64_t secrets_lineage(const struct secrets *s, uint64_t parent_lineage, uint64_t parent_id);

#endif
