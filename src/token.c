/*
 * token.c — the capability table: mint, derive, revoke, inspect, list, gc.
 *
 * Entry life cycle, every arrow one CAS on the state word (see layout.h):
 *
 *   FREE(g) --claim--> MINTING(g+1) --publish--> LIVE(g+1)
 *   LIVE(g) --revoke--> REVOKED(g+1) --gc--> FREE(g+2)
 *   LIVE(g), expired --gc--> FREE(g+1)
 *   MINTING(g), minter dead --gc--> FREE(g+1)
 *
 * A tag is computed over the fields and the generation the entry has while
 * LIVE, so a revoked entry's tag no longer verifies as live, and an entry
 * set back to LIVE by a raw write (without restoring the old generation) is
 * refused as edited.
 *
 * Revocation is transitive: revoking a token sweeps the table until no live
 * entry has a parent that is not live.  A derive racing with the revocation
 * of its parent re-checks the parent after publishing the child and revokes
 * the child itself if the parent went meanwhile: with both sides using
 * sequentially consistent operations, either the sweep sees the child or
 * the deriver sees the revoked parent.
 */
#include "token.h"
#include "error.h"
#include "hosts.h"
#include "pool.h"
#include "protect.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

/* Every field read or written while others may touch the entry goes
 * through relaxed atomics: the seqlock decides which reads count. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static struct cap_entry *table_of(const struct shmemora_pool *pool)
{
	return pool_region(pool, REGION_CAPTABLE);
}

struct cap_entry *cap_entry_for(const struct shmemora_pool *pool, uint64_t id)
{
	uint64_t index = id & CAP_INDEX_MASK;
	if (index >= pool->sb.cap_entries)
		return NULL;
	return &table_of(pool)[index];
}

bool cap_snapshot(const struct shmemora_pool *pool, const struct cap_entry *e,
		  struct cap_fields *f)
{
	for (int tries = 0; tries < 64; tries++) {
		coherence_invalidate(&pool->coh, e, sizeof *e);
		/* Acquire: pairs with the release store that published LIVE. */
		uint64_t w = atomic_load_explicit(&e->state, memory_order_acquire);
		f->id = LOAD(e->id);
		f->a = LOAD(e->a);
		f->b = LOAD(e->b);
		f->expires_ns = LOAD(e->expires_ns);
		f->parent_id = LOAD(e->parent_id);
		f->rights = LOAD(e->rights);
		f->scope = LOAD(e->scope);
		f->owner_host = LOAD(e->owner_host);
		/* The field loads complete before the state is read again. */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&e->state, memory_order_relaxed) == w) {
			f->state_word = w;
			return true;
		}
	}
	return false;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8); /* little-endian hosts only (layout.h) */
}

void cap_tag(const struct hmac_key *token_key, const struct cap_fields *f,
	     uint8_t tag[SHMEMORA_TAG_BYTES])
{
	/* 52 bytes: one SHA-256 block for the inner hash. */
	uint8_t rec[52];
	put64(rec + 0, f->id);
	put64(rec + 8, f->a);
	put64(rec + 16, f->b);
	put64(rec + 24, f->expires_ns);
	put64(rec + 32, f->parent_id);
	put64(rec + 40, cap_gen_of(f->state_word));
	rec[48] = (uint8_t)f->rights;
	rec[49] = (uint8_t)f->scope;
	rec[50] = (uint8_t)f->owner_host;
	rec[51] = (uint8_t)(f->owner_host >> 8);
	uint8_t mac[32];
	hmac_sha256(token_key, rec, sizeof rec, mac);
	memcpy(tag, mac, SHMEMORA_TAG_BYTES);
}

static uint16_t key_hint(const struct shmemora_pool *pool)
{
	return (uint16_t)(pool->key.id[0] | pool->key.id[1] << 8);
}

int token_mint(struct shmemora_pool *pool, const struct cap_fields *want, shmemora_token *out)
{
	int fence = pool_may_write(pool); /* observers and fenced hosts mint nothing */
	if (fence)
		return fence;
	struct cap_entry *table = table_of(pool);
	uint64_t cap = pool->sb.cap_entries;
	/* Hosts start their search in different parts of the table so they
	 * rarely contend for the same free slot, and each handle goes on from
	 * where its last mint ended, so minting many tokens stays linear. */
	uint64_t start = atomic_load_explicit(&pool->mint_cursor, memory_order_relaxed);
	if (start == 0)
		start = (uint64_t)pool->host_id * cap / pool->sb.max_hosts;
	for (uint64_t i = 0; i < cap; i++) {
		uint64_t index = (start + i) % cap;
		struct cap_entry *e = &table[index];
		coherence_invalidate(&pool->coh, &e->state, sizeof e->state);
		uint64_t w = atomic_load_explicit(&e->state, memory_order_relaxed);
		if (cap_state_of(w) != CAP_FREE)
			continue;
		uint64_t gen = cap_gen_of(w) + 1;
		if (!atomic_compare_exchange_strong(&e->state, &w,
						    cap_word(CAP_MINTING, pool->host_id, gen)))
			continue;
		uint64_t rnd;
		int rc = crypto_random(&rnd, sizeof rnd);
		if (rc) {
			atomic_store(&e->state, cap_word(CAP_FREE, 0, gen));
			return rc;
		}
		struct cap_fields f = *want;
		f.id = (rnd << CAP_INDEX_BITS) | index;
		f.owner_host = (uint16_t)pool->host_id;
		f.state_word = cap_word(CAP_LIVE, pool->host_id, gen);
		STORE(e->id, f.id);
		STORE(e->a, f.a);
		STORE(e->b, f.b);
		STORE(e->expires_ns, f.expires_ns);
		STORE(e->parent_id, f.parent_id);
		STORE(e->rights, f.rights);
		STORE(e->scope, f.scope);
		STORE(e->owner_host, f.owner_host);
		STORE(e->reserved, 0);
		coherence_writeback(&pool->coh, e, sizeof *e);
		/* Publish: sequentially consistent, for the derive/revoke race. */
		atomic_store(&e->state, f.state_word);
		coherence_writeback(&pool->coh, &e->state, sizeof e->state);
		atomic_store_explicit(&pool->mint_cursor, index + 1 < cap ? index + 1 : 1,
				      memory_order_relaxed);
		out->key_hint = key_hint(pool);
		out->id = f.id;
		cap_tag(protect_token_key(&pool->prot), &f, out->tag);
		return 0;
	}
	return error_set(SHMEMORA_E_TABLE_FULL,
			 "capability table full (%llu entries): free revoked and expired tokens "
			 "with 'shmemora token gc', or create the pool with more --capabilities",
			 (unsigned long long)cap);
}

uint64_t token_ns_hash(const struct shmemora_pool *pool, const char *ns)
{
	uint64_t h = XXH3_64bits_withSeed(ns, strlen(ns), protect_hash_seed(&pool->prot, 0));
	return h > NS_CATALOG ? h : NS_CATALOG + 1; /* 0 is the namespace catalog's */
}

uint64_t token_key_hash(const struct shmemora_pool *pool, uint64_t ns_hash, const void *key,
			size_t len)
{
	return XXH3_64bits_withSeed(key, len, protect_hash_seed(&pool->prot, 1) ^ ns_hash);
}

/* CAS an entry from the state in `f` to REVOKED, bumping its generation. */
static bool revoke_entry(struct shmemora_pool *pool, struct cap_entry *e, uint64_t w)
{
	uint64_t revoked = cap_word(CAP_REVOKED, cap_minter_of(w), cap_gen_of(w) + 1);
	bool done = atomic_compare_exchange_strong(&e->state, &w, revoked);
	coherence_writeback(&pool->coh, &e->state, sizeof e->state);
	return done;
}

/* Is the entry `parent_id` names live right now? */
static bool parent_live(const struct shmemora_pool *pool, uint64_t parent_id)
{
	struct cap_entry *pe = cap_entry_for(pool, parent_id);
	struct cap_fields pf;
	return pe && cap_snapshot(pool, pe, &pf) && pf.id == parent_id &&
	       cap_state_of(pf.state_word) == CAP_LIVE;
}

/* Revokes every live entry whose parent is not live, until none is left:
 * one pass per level of the derivation tree. */
static void sweep_orphans(struct shmemora_pool *pool)
{
	struct cap_entry *table = table_of(pool);
	for (bool changed = true; changed;) {
		changed = false;
		for (uint64_t i = 0; i < pool->sb.cap_entries; i++) {
			struct cap_fields f;
			if (!cap_snapshot(pool, &table[i], &f) ||
			    cap_state_of(f.state_word) != CAP_LIVE || f.parent_id == 0)
				continue;
			if (!parent_live(pool, f.parent_id) &&
			    revoke_entry(pool, &table[i], f.state_word))
				changed = true;
		}
	}
}

/* Checks that `g` asks for no more than the parent `pf` holds, and fills
 * the child's scope fields. */
static int narrow_scope(struct shmemora_pool *pool, const struct cap_fields *pf,
			const shmemora_grant *g, struct cap_fields *child)
{
	uint64_t data_size = pool->sb.region[REGION_RAW].size;
	child->scope = (uint16_t)g->scope;
	switch (g->scope) {
	case SHMEMORA_SCOPE_POOL:
		if (pf->scope != SHMEMORA_SCOPE_POOL)
			return error_set(SHMEMORA_E_WIDEN, "only a pool token can grant a pool token");
		return 0;
	case SHMEMORA_SCOPE_REGION: {
		if (g->length == 0)
			return error_set(SHMEMORA_E_INVALID, "a region token needs a length > 0");
		if (pf->scope != SHMEMORA_SCOPE_POOL && pf->scope != SHMEMORA_SCOPE_REGION)
			return error_set(SHMEMORA_E_WIDEN, "a namespace or key token cannot grant "
					 "a region");
		int rc = protect_require_region(pf, data_size, g->offset, g->length);
		if (rc)
			return rc == SHMEMORA_E_OUT_OF_SCOPE
				? error_set(SHMEMORA_E_WIDEN, "region [%llu, +%llu) is not inside "
					    "the parent's", (unsigned long long)g->offset,
					    (unsigned long long)g->length)
				: rc;
		child->a = g->offset;
		child->b = g->length;
		return 0;
	}
	case SHMEMORA_SCOPE_NAMESPACE:
	case SHMEMORA_SCOPE_KEY: {
		if (!g->ns || !*g->ns)
			return error_set(SHMEMORA_E_INVALID, "a namespace or key token needs a "
					 "namespace name");
		if (g->scope == SHMEMORA_SCOPE_KEY && (!g->key || g->key_len == 0 ||
						       g->key_len > pool->sb.max_key))
			return error_set(SHMEMORA_E_INVALID, "a key token needs a key of 1..%u bytes",
					 pool->sb.max_key);
		child->a = token_ns_hash(pool, g->ns);
		child->b = g->scope == SHMEMORA_SCOPE_KEY
			? token_key_hash(pool, child->a, g->key, g->key_len) : 0;
		bool inside = pf->scope == SHMEMORA_SCOPE_POOL ||
			      (pf->scope == SHMEMORA_SCOPE_NAMESPACE && pf->a == child->a) ||
			      (pf->scope == SHMEMORA_SCOPE_KEY && g->scope == SHMEMORA_SCOPE_KEY &&
			       pf->a == child->a && pf->b == child->b);
		if (!inside)
			return error_set(SHMEMORA_E_WIDEN, "the parent token does not cover "
					 "namespace '%s'%s", g->ns,
					 g->scope == SHMEMORA_SCOPE_KEY ? " and that key" : "");
		return 0;
	}
	}
	return error_set(SHMEMORA_E_INVALID, "unknown scope %d", (int)g->scope);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int derive_locked(shmemora_pool *pool, const shmemora_token *parent,
			 const shmemora_grant *g, shmemora_token *out)
{
	struct cap_fields pf, child = { 0 };
	int rc = protect_verify(pool, parent, 0, 0, &pf);
	if (rc || (rc = protect_require_rights(&pf, SHMEMORA_RIGHT_GRANT)))
		return rc;
	if (g->rights & ~pf.rights)
		return error_set(SHMEMORA_E_WIDEN, "the child asks for rights the parent "
				 "lacks (parent holds %#x, asked %#x)", pf.rights, g->rights);
	if ((rc = narrow_scope(pool, &pf, g, &child)))
		return rc;
	child.rights = g->rights;
	child.expires_ns = g->expires_unix_ns ? g->expires_unix_ns : pf.expires_ns;
	if (pf.expires_ns && child.expires_ns > pf.expires_ns)
		return error_set(SHMEMORA_E_WIDEN, "the child would expire after its parent");
	if (g->expires_unix_ns && g->expires_unix_ns <= realtime_ns())
		return error_set(SHMEMORA_E_INVALID, "the expiry asked for is in the past");
	child.parent_id = pf.id;
	if ((rc = token_mint(pool, &child, out)))
		return rc;
	if (!parent_live(pool, pf.id)) {
		/* The parent was revoked while we minted: so is the child. */
		struct cap_entry *e = cap_entry_for(pool, out->id);
		revoke_entry(pool, e, atomic_load(&e->state));
		memset(out, 0, sizeof *out);
		return error_set(SHMEMORA_E_REVOKED, "the parent token was revoked meanwhile");
	}
	return 0;
}

int shmemora_token_derive(shmemora_pool *pool, const shmemora_token *parent,
			  const shmemora_grant *grant, shmemora_token *out)
{
	error_clear();
	if (!pool || !parent || !grant || !out)
		return error_set(SHMEMORA_E_INVALID, "derive: pool, parent, grant and out are "
				 "required");
	if (grant->rights == 0 || (grant->rights & ~(uint32_t)SHMEMORA_RIGHTS_ALL))
		return error_set(SHMEMORA_E_INVALID, "derive: rights %#x are not a non-empty "
				 "subset of rwidg", grant->rights);
	protect_saved s = protect_open(&pool->prot);
	int rc = derive_locked(pool, parent, grant, out);
	protect_close(&pool->prot, s);
	return rc;
}

int shmemora_region_acquire(shmemora_pool *pool, const shmemora_token *parent,
			    uint64_t offset, uint64_t length, uint32_t rights,
			    shmemora_token *out)
{
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_REGION, .offset = offset,
			     .length = length, .rights = rights };
	return shmemora_token_derive(pool, parent, &g, out);
}

int shmemora_token_revoke(shmemora_pool *pool, const shmemora_token *token)
{
	error_clear();
	if (!pool || !token)
		return error_set(SHMEMORA_E_INVALID, "revoke: pool and token are required");
	protect_saved s = protect_open(&pool->prot);
	struct cap_fields f;
	int rc = pool_may_write(pool); /* observers and fenced hosts revoke nothing */
	if (rc == 0)
		rc = protect_verify(pool, token, 1, 1, &f);
	if (rc == 0) {
		struct cap_entry *e = cap_entry_for(pool, token->id);
		if (cap_state_of(f.state_word) == CAP_LIVE && !revoke_entry(pool, e, f.state_word)) {
			/* Changed under us: it can only have been revoked too. */
			struct cap_fields now;
			if (!cap_snapshot(pool, e, &now) || now.id != f.id ||
			    cap_state_of(now.state_word) != CAP_REVOKED)
				rc = error_set(SHMEMORA_E_TOKEN_REFUSED, "token %016llx changed "
					       "while being revoked", (unsigned long long)f.id);
		}
		sweep_orphans(pool);
	}
	protect_close(&pool->prot, s);
	return rc;
}

static void describe(const struct cap_fields *f, uint64_t index, shmemora_token_info *out)
{
	memset(out, 0, sizeof *out);
	out->id = f->id;
	out->index = (uint32_t)index;
	out->scope = (enum shmemora_scope)f->scope;
	if (f->scope == SHMEMORA_SCOPE_REGION) {
		out->offset = f->a;
		out->length = f->b;
	} else {
		out->ns_hash = f->a;
		out->key_hash = f->b;
	}
	out->rights = f->rights;
	out->expires_unix_ns = f->expires_ns;
	out->owner_host = f->owner_host;
	out->parent_id = f->parent_id;
	out->generation = cap_gen_of(f->state_word);
	switch (cap_state_of(f->state_word)) {
	case CAP_REVOKED: out->state = SHMEMORA_TOKEN_REVOKED; break;
	case CAP_MINTING: out->state = SHMEMORA_TOKEN_MINTING; break;
	default:
		out->state = f->expires_ns && realtime_ns() >= f->expires_ns
			? SHMEMORA_TOKEN_EXPIRED : SHMEMORA_TOKEN_LIVE;
	}
}

int shmemora_token_inspect(shmemora_pool *pool, const shmemora_token *token,
			   shmemora_token_info *out)
{
	error_clear();
	if (!pool || !token || !out)
		return error_set(SHMEMORA_E_INVALID, "inspect: pool, token and out are required");
	protect_saved s = protect_open(&pool->prot);
	struct cap_fields f;
	int rc = protect_verify(pool, token, 1, 1, &f);
	if (rc == 0)
		describe(&f, token->id & CAP_INDEX_MASK, out);
	protect_close(&pool->prot, s);
	return rc;
}

int shmemora_token_list(shmemora_pool *pool, shmemora_token_info *out, size_t cap,
			size_t *count)
{
	error_clear();
	if (!pool || !count || (cap && !out))
		return error_set(SHMEMORA_E_INVALID, "list: pool, out and count are required");
	protect_saved s = protect_open(&pool->prot);
	struct cap_entry *table = table_of(pool);
	size_t n = 0;
	for (uint64_t i = 0; i < pool->sb.cap_entries; i++) {
		struct cap_fields f;
		if (!cap_snapshot(pool, &table[i], &f) || cap_state_of(f.state_word) == CAP_FREE)
			continue;
		if (n < cap)
			describe(&f, i, &out[n]);
		n++;
	}
	protect_close(&pool->prot, s);
	*count = n;
	return 0;
}

int shmemora_token_gc(shmemora_pool *pool, uint64_t *freed)
{
	error_clear();
	if (!pool)
		return error_set(SHMEMORA_E_INVALID, "gc: pool is NULL");
	struct host_identity self;
	int rc = host_identity_self(&self);
	if (rc)
		return rc;
	protect_saved s = protect_open(&pool->prot);
	if ((rc = pool_may_write(pool))) { /* observers and fenced hosts free nothing */
		protect_close(&pool->prot, s);
		return rc;
	}
	struct cap_entry *table = table_of(pool);
	uint64_t now = realtime_ns(), n = 0;
	for (uint64_t i = 0; i < pool->sb.cap_entries; i++) {
		struct cap_fields f;
		if (!cap_snapshot(pool, &table[i], &f))
			continue;
		uint64_t w = f.state_word;
		bool dead;
		switch (cap_state_of(w)) {
		case CAP_REVOKED:
			dead = true;
			break;
		case CAP_LIVE:
			dead = f.expires_ns && now >= f.expires_ns;
			break;
		case CAP_MINTING: {
			shmemora_host h;
			unsigned minter = cap_minter_of(w);
			dead = minter >= pool->sb.max_hosts;
			if (!dead) {
				hosts_describe(&pool->registry, minter, &self, &h);
				dead = h.state == SHMEMORA_HOST_FREE || h.state == SHMEMORA_HOST_DEAD;
			}
			break;
		}
		default:
			dead = false;
		}
		if (dead && atomic_compare_exchange_strong(&table[i].state, &w,
							   cap_word(CAP_FREE, 0, cap_gen_of(w) + 1))) {
			coherence_writeback(&pool->coh, &table[i].state, sizeof table[i].state);
			n++;
		}
	}
	protect_close(&pool->prot, s);
	if (freed)
		*freed = n;
	return 0;
}
