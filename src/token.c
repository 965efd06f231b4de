/*
 * token.c — the public token API: derive, revoke, inspect, list, gc.  It
 * decides who may change the capability table; captable.c knows how, and
 * protect.c what a token is and reaches.
 *
 * Derive.  The parent is verified, protect_narrow checks and shapes the
 * child, the parent's quota is charged for it, then the child is minted.
 * A derive racing the revocation of its parent re-checks the parent after
 * publishing the child and revokes the child itself if the parent went
 * meanwhile (both sides use sequentially consistent operations, so either
 * the revoker's sweep sees the child or the deriver sees the revoked
 * parent).  Revocation does not depend on that: every use of a token checks
 * its whole ancestry (protect.c).
 *
 * Revoke marks the token (state and tomb) and sweeps its descendants, so
 * they show as revoked and gc can free them.  gc frees revoked, expired and
 * orphaned entries and those a dead host left half-minted, giving each
 * freed token's units back to its parent's quota.
 */
#include "error.h"
#include "namespace.h"
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The namespace a namespace- or key-scoped grant names: it must exist, and
 * the child is bound to its current incarnation. */
static int grant_namespace(shmemora_pool *pool, const shmemora_grant *g, struct ns_target *t)
{
	if (g->scope != SHMEMORA_SCOPE_NAMESPACE && g->scope != SHMEMORA_SCOPE_KEY)
		return 0;
	if (g->scope == SHMEMORA_SCOPE_KEY && (!g->key || g->key_len == 0 ||
					       g->key_len > pool->sb.max_key))
		return error_set(SHMEMORA_E_INVALID, "a key token needs a key of 1..%u bytes",
				 pool->sb.max_key);
	if (!g->ns)
		return error_set(SHMEMORA_E_INVALID, "a namespace or key token needs a namespace "
				 "name");
	struct ns_view v;
	int rc = op_find_namespace(pool, g->ns, &t->hash, &v);
	if (rc)
		return rc;
	if (ns_state_of(v.state_word) != NS_LIVE)
		return error_set(SHMEMORA_E_NOT_FOUND, "namespace '%s' does not exist: create it "
				 "before deriving tokens for it", g->ns);
	t->gen = ns_gen_of(v.state_word);
	return 0;
}

static int derive_in_path(shmemora_pool *pool, const shmemora_token *parent,
			  const shmemora_grant *g, shmemora_token *out)
{
	struct cap_fields pf, child;
	struct ns_target ns = { 0, 0 };
	int rc = pool_may_write(pool); /* observers and fenced hosts mint nothing */
	if (rc || (rc = protect_verify(&pool->prot, parent, 0, &pf)) ||
	    (rc = protect_require_rights(&pf, SHMEMORA_RIGHT_GRANT)) ||
	    (rc = grant_namespace(pool, g, &ns)) ||
	    (rc = protect_narrow(&pool->prot, &pf, g, &ns, pool->sb.region[REGION_RAW].size,
				 &child)) ||
	    (rc = captable_charge(&pool->caps, &pf, cap_cost(&child))))
		return rc;
	/* Relaxed: the cursor is a hint of where to look (process memory). */
	uint64_t cursor = atomic_load_explicit(&pool->mint_cursor, memory_order_relaxed);
	if (cursor == 0)
		cursor = (uint64_t)pool->host_id * pool->sb.cap_entries / pool->sb.max_hosts;
	shmemora_token t = { .key_hint = pool_key_hint(pool) };
	rc = captable_mint(&pool->caps, pool->host_id, &cursor, &child, &t.id, t.tag);
	atomic_store_explicit(&pool->mint_cursor, cursor, memory_order_relaxed);
	if (rc) {
		captable_credit(&pool->caps, pf.id, cap_cost(&child));
		return rc;
	}
	int64_t pi = captable_index(&pool->caps, pf.id);
	struct cap_fields now;
	if (!captable_snapshot(&pool->caps, (uint64_t)pi, &now) || !cap_fields_live(&now, pf.id)) {
		/* The parent was revoked while we minted: so is the child. */
		int64_t ci = captable_index(&pool->caps, t.id);
		struct cap_fields cf;
		if (captable_snapshot(&pool->caps, (uint64_t)ci, &cf))
			captable_revoke(&pool->caps, (uint64_t)ci, &cf);
		crypto_wipe(&t, sizeof t);
		return error_set(SHMEMORA_E_REVOKED, "the parent token was revoked meanwhile");
	}
	*out = t;
	crypto_wipe(&t, sizeof t);
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
	int rc = derive_in_path(pool, parent, grant, out);
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

static int revoke_in_path(shmemora_pool *pool, const shmemora_token *token)
{
	struct cap_fields f;
	int rc = pool_may_write(pool); /* observers and fenced hosts revoke nothing */
	if (rc || (rc = protect_verify(&pool->prot, token, VERIFY_FORCE_MAC | VERIFY_ALLOW_DEAD,
				       &f)))
		return rc;
	uint64_t index = (uint64_t)captable_index(&pool->caps, token->id);
	protect_remember_revoked(&pool->prot, f.id);
	if (cap_state_of(f.state_word) == CAP_LIVE && !captable_revoke(&pool->caps, index, &f)) {
		/* Changed under us: it can only have been revoked too. */
		struct cap_fields now;
		if (!captable_snapshot(&pool->caps, index, &now) || now.id != f.id ||
		    cap_state_of(now.state_word) != CAP_REVOKED)
			rc = error_set(SHMEMORA_E_TOKEN_REFUSED, "token %016llx changed while being "
				       "revoked", (unsigned long long)f.id);
	}
	captable_sweep_orphans(&pool->caps);
	return rc;
}

int shmemora_token_revoke(shmemora_pool *pool, const shmemora_token *token)
{
	error_clear();
	if (!pool || !token)
		return error_set(SHMEMORA_E_INVALID, "revoke: pool and token are required");
	protect_saved s = protect_open(&pool->prot);
	int rc = revoke_in_path(pool, token);
	protect_close(&pool->prot, s);
	return rc;
}

/* The state a user sees: revoked, minting, expired, orphaned or live. */
static enum shmemora_token_state visible_state(const shmemora_pool *pool,
					       const struct cap_fields *f)
{
	switch (cap_state_of(f->state_word)) {
	case CAP_REVOKED: return SHMEMORA_TOKEN_REVOKED;
	case CAP_MINTING: return SHMEMORA_TOKEN_MINTING;
	}
	if (f->tomb == f->id)
		return SHMEMORA_TOKEN_REVOKED;
	if (f->expires_ns && clock_realtime_ns() >= f->expires_ns)
		return SHMEMORA_TOKEN_EXPIRED;
	if (protect_ancestry_live(&pool->prot, f) != 0)
		return SHMEMORA_TOKEN_ORPHANED;
	return SHMEMORA_TOKEN_LIVE;
}

static void describe(shmemora_pool *pool, const struct cap_fields *f, uint64_t index,
		     const struct ns_name *names, size_t name_count, shmemora_token_info *out)
{
	memset(out, 0, sizeof *out);
	out->id = f->id;
	out->index = (uint32_t)index;
	out->scope = (enum shmemora_scope)f->scope;
	if (f->scope == SHMEMORA_SCOPE_REGION) {
		out->offset = f->a;
		out->length = f->b;
	} else if (f->scope != SHMEMORA_SCOPE_POOL) {
		out->ns_hash = f->a;
		out->key_hash = f->b;
		out->ns_generation = f->ns_gen;
		const char *name = namespace_name_of(names, name_count, f->a);
		struct ns_view v;
		uint32_t rec;
		/* The name only while that incarnation lives. */
		if (name && nstable_find(&pool->nstable, f->a, &rec)) {
			nstable_read(&pool->nstable, rec, &v);
			if (ns_state_of(v.state_word) == NS_LIVE && ns_gen_of(v.state_word) == f->ns_gen)
				snprintf(out->ns_name, sizeof out->ns_name, "%s", name);
		}
	}
	out->rights = f->rights;
	out->expires_unix_ns = f->expires_ns;
	out->owner_host = f->owner_host;
	out->parent_id = f->parent_id;
	out->generation = cap_gen_of(f->state_word);
	out->depth = f->depth;
	out->quota = f->quota;
	out->quota_used = captable_used(&pool->caps, f);
	out->state = visible_state(pool, f);
}

static int inspect_in_path(shmemora_pool *pool, const shmemora_token *token,
			   shmemora_token_info *out)
{
	struct cap_fields f;
	int rc = protect_verify(&pool->prot, token, VERIFY_FORCE_MAC | VERIFY_ALLOW_DEAD, &f);
	if (rc)
		return rc;
	struct ns_name *names = NULL;
	size_t n = 0;
	if (f.scope == SHMEMORA_SCOPE_NAMESPACE || f.scope == SHMEMORA_SCOPE_KEY)
		if ((rc = namespace_names(pool, &names, &n)))
			return rc;
	describe(pool, &f, token->id & CAP_INDEX_MASK, names, n, out);
	free(names);
	error_clear();
	return 0;
}

int shmemora_token_inspect(shmemora_pool *pool, const shmemora_token *token,
			   shmemora_token_info *out)
{
	error_clear();
	if (!pool || !token || !out)
		return error_set(SHMEMORA_E_INVALID, "inspect: pool, token and out are required");
	protect_saved s = protect_open(&pool->prot);
	int rc = inspect_in_path(pool, token, out);
	protect_close(&pool->prot, s);
	return rc;
}

static int list_in_path(shmemora_pool *pool, shmemora_token_info *out, size_t cap,
			size_t *count)
{
	struct ns_name *names;
	size_t n_names, n = 0;
	int rc = namespace_names(pool, &names, &n_names);
	if (rc)
		return rc;
	for (uint64_t i = 0; i < pool->sb.cap_entries; i++) {
		struct cap_fields f;
		if (!captable_snapshot(&pool->caps, i, &f) || cap_state_of(f.state_word) == CAP_FREE)
			continue;
		if (n < cap)
			describe(pool, &f, i, names, n_names, &out[n]);
		n++;
	}
	free(names);
	error_clear();
	*count = n;
	return 0;
}

int shmemora_token_list(shmemora_pool *pool, shmemora_token_info *out, size_t cap,
			size_t *count)
{
	error_clear();
	if (!pool || !count || (cap && !out))
		return error_set(SHMEMORA_E_INVALID, "list: pool, out and count are required");
	int rc = protect_owned(&pool->prot);
	if (rc)
		return rc;
	protect_saved s = protect_open(&pool->prot);
	rc = list_in_path(pool, out, cap, count);
	protect_close(&pool->prot, s);
	return rc;
}

/* Can gc free this entry: revoked, expired, orphaned, or minting by a host
 * that is gone? */
static bool collectable(shmemora_pool *pool, const struct cap_fields *f)
{
	switch (cap_state_of(f->state_word)) {
	case CAP_REVOKED:
		return true;
	case CAP_LIVE:
		return visible_state(pool, f) != SHMEMORA_TOKEN_LIVE;
	case CAP_MINTING: {
		unsigned minter = cap_minter_of(f->state_word);
		if (minter >= pool->sb.max_hosts)
			return true;
		shmemora_host h;
		hosts_describe(&pool->registry, minter, NULL, &h);
		return h.state == SHMEMORA_HOST_FREE || h.state == SHMEMORA_HOST_DEAD;
	}
	}
	return false;
}

static uint64_t gc_in_path(shmemora_pool *pool)
{
	captable_sweep_orphans(&pool->caps);
	uint64_t n = 0;
	for (uint64_t i = 0; i < pool->sb.cap_entries; i++) {
		struct cap_fields f;
		if (captable_snapshot(&pool->caps, i, &f) && collectable(pool, &f) &&
		    captable_free(&pool->caps, i, &f))
			n++;
	}
	error_clear();
	return n;
}

int shmemora_token_gc(shmemora_pool *pool, uint64_t *freed)
{
	error_clear();
	if (!pool)
		return error_set(SHMEMORA_E_INVALID, "gc: pool is NULL");
	/* A parent's handle would judge every derived token orphaned (no
	 * lineage key here) and free it: refuse before anything is read. */
	int rc = protect_owned(&pool->prot);
	if (rc)
		return rc;
	protect_saved s = protect_open(&pool->prot);
	uint64_t n = 0;
	rc = pool_may_write(pool); /* observers and fenced hosts free nothing */
	if (rc == 0)
		n = gc_in_path(pool);
	protect_close(&pool->prot, s);
	if (freed)
		*freed = n;
	return rc;
}
