/*
 * op.c — the common start of every key-value and namespace operation (see
 * op.h).
 */
#include "op.h"
#include "error.h"
#include "timing.h"

#include <string.h>

int op_begin(struct kv_op *op, shmemora_pool *pool, const shmemora_token *tok, uint32_t need)
{
	error_clear();
	memset(op, 0, sizeof *op);
	if (!pool)
		return error_set(SHMEMORA_E_INVALID, "pool is NULL");
	op->pool = pool;
	op->saved = protect_open(&pool->prot);
	op->open = true;
	op->slot = protect_thread_slot(&pool->prot);
	if (need & (SHMEMORA_RIGHT_WRITE | SHMEMORA_RIGHT_INSERT | SHMEMORA_RIGHT_DELETE))
		contention[CONT_WRITES]++;
#ifdef SHMEMORA_UNPROTECTED
	(void)tok, (void)need;
	op->token.scope = SHMEMORA_SCOPE_POOL;
	op->token.rights = SHMEMORA_RIGHTS_ALL;
	return 0;
#else
	int rc = protect_verify(&pool->prot, tok, 0, &op->token);
	return rc ? rc : protect_require_rights(&op->token, need);
#endif
}

void op_end(struct kv_op *op)
{
	if (op->open) {
		pool_share_contention(op->pool, false);
		protect_close(&op->pool->prot, op->saved);
		op->open = false;
	}
}

int op_check_ns_name(const char *ns)
{
	size_t n = ns ? strnlen(ns, NS_NAME_MAX + 1) : 0;
	bool ok = n >= 1 && n <= NS_NAME_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = ns[i] != '/' && (unsigned char)ns[i] >= 0x20 && ns[i] != 0x7f;
	if (!ok)
		return error_set(SHMEMORA_E_INVALID, "namespace name '%.64s%s' refused: names are "
				 "1..%d bytes, without '/' or control characters",
				 ns ? ns : "", n > 64 ? "…" : "", NS_NAME_MAX);
	return 0;
}

/* The record of `hash`, through the handle's cache. */
static int record_of(shmemora_pool *pool, uint64_t hash, uint32_t *index)
{
	unsigned at = (unsigned)(hash % NS_CACHE);
	/* Relaxed: a torn pair is caught by the hash check on the record. */
	if (atomic_load_explicit(&pool->ns_cache[at].hash, memory_order_relaxed) == hash) {
		*index = atomic_load_explicit(&pool->ns_cache[at].index, memory_order_relaxed);
		if (*index < pool->nstable.count)
			return 1;
	}
	if (!nstable_find(&pool->nstable, hash, index))
		return 0;
	atomic_store_explicit(&pool->ns_cache[at].index, *index, memory_order_relaxed);
	atomic_store_explicit(&pool->ns_cache[at].hash, hash, memory_order_relaxed);
	return 1;
}

/* The last namespace name this thread resolved, for this handle: a name
 * equal to it byte for byte is valid and has this hash, so the common case
 * (one namespace, many operations) skips the check and the hash.  Only a
 * hash is kept in this application-writable memory; the record it leads
 * to is checked against it. */
static _Thread_local struct {
	uint64_t instance;            /* the handle's; 0: none */
	size_t len;
	uint64_t hash;
	char name[NS_NAME_MAX + 1];
} last_ns;

static int name_hash(shmemora_pool *pool, const char *ns, uint64_t *hash)
{
	size_t len = ns ? strnlen(ns, NS_NAME_MAX + 1) : 0;
	if (last_ns.instance == pool->prot.instance && len == last_ns.len &&
	    memcmp(ns, last_ns.name, len) == 0) {
		*hash = last_ns.hash;
		return 0;
	}
	int rc = op_check_ns_name(ns);
	if (rc)
		return rc;
	*hash = secrets_ns_hash(pool->secrets, ns, len);
	last_ns.instance = pool->prot.instance;
	last_ns.len = len;
	last_ns.hash = *hash;
	memcpy(last_ns.name, ns, len);
	return 0;
}

/* The record of namespace `ns` and its state word: E_NOT_FOUND if no
 * record was ever claimed for it. */
static int find_record(shmemora_pool *pool, const char *ns, uint64_t *hash, uint32_t *index,
		       uint64_t *state)
{
	int rc = name_hash(pool, ns, hash);
	if (rc)
		return rc;
	if (record_of(pool, *hash, index) &&
	    nstable_state_of(&pool->nstable, *index, *hash, state))
		return 0;
	/* Not cached, or a cache entry forged to point elsewhere. */
	if (nstable_find(&pool->nstable, *hash, index) &&
	    nstable_state_of(&pool->nstable, *index, *hash, state))
		return 0;
	return error_set(SHMEMORA_E_NOT_FOUND, "namespace '%s' does not exist: create it "
			 "with 'shmemora ns create' or shmemora_ns_create()", ns);
}

int op_find_namespace(shmemora_pool *pool, const char *ns, uint64_t *hash, struct ns_view *view)
{
	uint32_t index;
	uint64_t state;
	int rc = find_record(pool, ns, hash, &index, &state);
	if (rc == 0)
		nstable_read(&pool->nstable, index, view);
	return rc;
}

int op_namespace(struct kv_op *op, const char *ns, enum op_cover cover)
{
	uint64_t state;
	int rc = find_record(op->pool, ns, &op->ns.hash, &op->ns_index, &state);
	if (rc)
		return rc;
	unsigned st = ns_state_of(state);
	if (st != NS_LIVE)
		return error_set(SHMEMORA_E_NOT_FOUND, "namespace '%s' does not exist%s", ns,
				 st == NS_DELETING ? " (it is being deleted)"
				 : st == NS_DELETED ? " (it was deleted)" : "");
	op->ns.gen = ns_gen_of(state);
	op->ns_counted = ns_counted(state);
	uint64_t t = TIMING_START();
	rc = cover == COVER_NAMESPACE ? protect_require_namespace(&op->token, &op->ns)
				      : protect_require_some_keys(&op->token, &op->ns);
	TIMING_ADD(PHASE_RIGHTS, t);
	return rc;
}

int op_key(struct kv_op *op, const void *key, size_t len, struct entry_key *k, uint64_t *hash)
{
	if (!key)
		return error_set(SHMEMORA_E_INVALID, "key is NULL");
	if (len < 1 || len > op->pool->sb.max_key)
		return error_set(SHMEMORA_E_INVALID, "key of %zu bytes: keys are 1..%u bytes", len,
				 op->pool->sb.max_key);
	*hash = secrets_key_hash(op->pool->secrets, op->ns.hash, key, len);
	*k = (struct entry_key){ op->ns.hash, op->ns.gen, key, len, *hash,
				 entry_cache_of(&op->pool->entries, op->slot) };
	uint64_t t = TIMING_START();
	int rc = protect_require_key(&op->token, &op->ns, *hash);
	TIMING_ADD(PHASE_RIGHTS, t);
	return rc;
}

bool op_ns_still_live(const struct kv_op *op)
{
	uint64_t w = nstable_state(&op->pool->nstable, op->ns_index);
	return ns_state_of(w) == NS_LIVE && ns_gen_of(w) == op->ns.gen;
}
