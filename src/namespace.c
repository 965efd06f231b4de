/*
 * namespace.c — namespace life cycle and catalog (see namespace.h).
 *
 * Creating, deleting and limiting a namespace are administration: they need
 * a pool token (with i, d and g respectively).  Listing and stat need the r
 * right and show only what the token reaches.
 */
#include "namespace.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A catalog entry is rewritten only by namespace create and delete of that
 * one name; losing a thousand races in a row means it is being recreated
 * without pause, and the caller gets E_CONTENDED instead of a spin. */
#define CATALOG_ATTEMPTS 1000

/* ------------------------------------------------------------ catalog */

/* The catalog key of a namespace: its name, in namespace NS_CATALOG. */
static void catalog_key(shmemora_pool *pool, const char *ns, struct entry_key *k, uint64_t *hash)
{
	*k = (struct entry_key){ .ns_hash = NS_CATALOG, .key = ns, .len = strlen(ns) };
	*hash = secrets_key_hash(pool->secrets, NS_CATALOG, ns, k->len);
}

/* Publishes (or replaces) the catalog entry of `ns`; its value is the
 * incarnation, for `check`. */
static int catalog_put(shmemora_pool *pool, const char *ns, uint32_t gen)
{
	struct entry_key k;
	uint64_t hash;
	catalog_key(pool, ns, &k, &hash);
	struct entry_snap built;
	int rc = entry_build(&pool->entries, pool->host_id, pool->epoch, pool_magazine(pool), &k, &gen, sizeof gen, 1,
			     &built);
	for (int attempt = 0; rc == 0 && attempt < CATALOG_ATTEMPTS; attempt++) {
		struct index_hit hit;
		int found = index_find(&pool->index, &k, hash, &hit);
		if (found < 0) {
			rc = found;
		} else if (found == 0) {
			rc = index_publish_new(&pool->index, &k, hash, &built, &hit);
			if (rc == 0)
				return 0;
			if (rc == 1)
				rc = 0; /* another creator's: replace it */
		} else if (index_replace(&pool->index, &hit, &built, NULL)) {
			pool_retire(pool, hit.snap.offset, hit.snap.size_class);
			return 0;
		}
	}
	if (rc == 0)
		rc = error_set(SHMEMORA_E_CONTENDED, "namespace '%s': its catalog entry kept "
			       "changing", ns);
	pool_retire(pool, built.offset, built.size_class);
	return rc;
}

static void catalog_remove(shmemora_pool *pool, const char *ns)
{
	struct entry_key k;
	uint64_t hash;
	catalog_key(pool, ns, &k, &hash);
	struct index_hit hit;
	for (int attempt = 0; attempt < CATALOG_ATTEMPTS; attempt++) {
		if (index_find(&pool->index, &k, hash, &hit) != 1)
			return;
		if (index_remove(&pool->index, &hit)) {
			pool_retire(pool, hit.snap.offset, hit.snap.size_class);
			return;
		}
	}
}

struct names_walk {
	struct ns_name *names;
	size_t count, cap;
	shmemora_pool *pool;
};

static int collect_name(void *arg, const struct index_item *it)
{
	struct names_walk *w = arg;
	if (it->snap.ns_hash != NS_CATALOG || it->snap.key_len > NS_NAME_MAX)
		return 0;
	if (w->count == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		struct ns_name *n = realloc(w->names, cap * sizeof *n);
		if (!n)
			return SHMEMORA_E_NOMEM;
		w->names = n;
		w->cap = cap;
	}
	struct ns_name *n = &w->names[w->count++];
	memcpy(n->name, it->key, it->snap.key_len);
	n->name[it->snap.key_len] = '\0';
	n->hash = secrets_ns_hash(w->pool->secrets, n->name, it->snap.key_len);
	return 0;
}

int namespace_names(shmemora_pool *pool, struct ns_name **names, size_t *count)
{
	struct names_walk w = { .pool = pool };
	uint8_t *keybuf = malloc(pool->sb.max_key);
	int rc = keybuf ? index_walk(&pool->index, 0, keybuf, collect_name, &w, NULL)
			: SHMEMORA_E_NOMEM;
	free(keybuf);
	if (rc) {
		free(w.names);
		return error_set(rc, "out of memory listing namespaces");
	}
	*names = w.names;
	*count = w.count;
	return 0;
}

const char *namespace_name_of(const struct ns_name *names, size_t count, uint64_t hash)
{
	for (size_t i = 0; i < count; i++)
		if (names[i].hash == hash)
			return names[i].name;
	return NULL;
}

/* ------------------------------------------------------------- usage */

/* Keys and bytes of one namespace incarnation, counted by walking the
 * index (when its usage is not kept counted). */
struct usage_walk {
	uint64_t hash;
	uint32_t gen;
	uint64_t keys, bytes;
};

static int count_usage(void *arg, const struct index_item *it)
{
	struct usage_walk *u = arg;
	if (it->snap.ns_hash == u->hash && it->snap.ns_gen == u->gen) {
		u->keys++;
		u->bytes += (uint64_t)it->snap.key_len + it->snap.value_len;
	}
	return 0;
}

static int walk_usage(shmemora_pool *pool, struct usage_walk *u)
{
	uint8_t *keybuf = malloc(pool->sb.max_key);
	if (!keybuf)
		return error_set(SHMEMORA_E_NOMEM, "out of memory walking the index");
	index_walk(&pool->index, 0, keybuf, count_usage, u, NULL);
	free(keybuf);
	return 0;
}

/* Fills `out` for the namespace of record view `v` named `name`. */
static int describe(shmemora_pool *pool, const char *name, const struct ns_view *v,
		    shmemora_ns_info *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", name);
	out->hash = v->ns_hash;
	out->generation = ns_gen_of(v->state_word);
	out->max_keys = v->max_keys;
	out->max_bytes = v->max_bytes;
	out->limited = ns_counted(v->state_word);
	if (out->limited) {
		out->keys = v->keys;
		out->bytes = v->bytes;
		return 0;
	}
	struct usage_walk u = { v->ns_hash, out->generation, 0, 0 };
	int rc = walk_usage(pool, &u);
	out->keys = u.keys;
	out->bytes = u.bytes;
	return rc;
}

/* ---------------------------------------------------------- public API */

/* The token must be a pool token: namespaces are administered as a whole. */
static int require_pool_token(const struct kv_op *op, const char *what)
{
	int rc = pool_may_write(op->pool); /* observers and fenced hosts change nothing */
	if (rc)
		return rc;
	if (op->token.scope == SHMEMORA_SCOPE_POOL)
		return 0;
	return error_set(SHMEMORA_E_OUT_OF_SCOPE, "%s a namespace needs a pool token; token "
			 "%016llx is scoped narrower", what, (unsigned long long)op->token.id);
}

static int create_in_path(struct kv_op *op, const char *ns)
{
	shmemora_pool *pool = op->pool;
	int rc = op_check_ns_name(ns);
	if (rc || (rc = require_pool_token(op, "creating")))
		return rc;
	uint64_t hash = secrets_ns_hash(pool->secrets, ns, strlen(ns));
	uint32_t index;
	if ((rc = nstable_claim(&pool->nstable, hash, &index)))
		return rc;
	struct ns_view v;
	nstable_read(&pool->nstable, index, &v);
	switch (ns_state_of(v.state_word)) {
	case NS_LIVE:
		return error_set(SHMEMORA_E_EXISTS, "namespace '%s' already exists", ns);
	case NS_DELETING:
		return error_set(SHMEMORA_E_BUSY, "namespace '%s' is being deleted; if the host "
				 "deleting it died, run 'shmemora ns delete' again", ns);
	}
	uint32_t gen = ns_gen_of(v.state_word) + 1;
	if (!nstable_transition(&pool->nstable, index, v.state_word, ns_word(NS_LIVE, false, gen)))
		return error_set(SHMEMORA_E_EXISTS, "namespace '%s' was created meanwhile", ns);
	nstable_set_limits(&pool->nstable, index, 0, 0);
	nstable_set_usage(&pool->nstable, index, 0, 0);
	return catalog_put(pool, ns, gen);
}

int shmemora_ns_create(shmemora_pool *pool, const shmemora_token *token, const char *ns)
{
	struct kv_op op;
	int rc = op_begin(&op, pool, token, SHMEMORA_RIGHT_INSERT);
	if (rc == 0)
		rc = create_in_path(&op, ns);
	op_end(&op);
	return rc;
}

/* Removes every entry of one namespace incarnation. */
struct delete_walk {
	shmemora_pool *pool;
	uint64_t hash;
	uint32_t gen;
	uint64_t removed;
};

static int remove_entry(void *arg, const struct index_item *it)
{
	struct delete_walk *d = arg;
	if (it->snap.ns_hash != d->hash || it->snap.ns_gen != d->gen)
		return 0;
	if (index_clear_slot(&d->pool->index, it->slot, it->slot_value)) {
		pool_retire(d->pool, it->snap.offset, it->snap.size_class);
		d->removed++;
	}
	return 0;
}

static int delete_in_path(struct kv_op *op, const char *ns, uint64_t *removed)
{
	shmemora_pool *pool = op->pool;
	uint64_t hash;
	struct ns_view v;
	int rc = require_pool_token(op, "deleting");
	if (rc || (rc = op_find_namespace(pool, ns, &hash, &v)))
		return rc;
	unsigned state = ns_state_of(v.state_word);
	uint32_t gen = ns_gen_of(v.state_word);
	if (state != NS_LIVE && state != NS_DELETING)
		return error_set(SHMEMORA_E_NOT_FOUND, "namespace '%s' does not exist", ns);
	uint64_t deleting = ns_word(NS_DELETING, false, gen);
	if (state == NS_LIVE && !nstable_transition(&pool->nstable, v.index, v.state_word, deleting))
		return error_set(SHMEMORA_E_CONTENDED, "namespace '%s' changed while being deleted; "
				 "try again", ns);
	struct delete_walk d = { pool, hash, gen, 0 };
	uint8_t *keybuf = malloc(pool->sb.max_key);
	if (!keybuf)
		return error_set(SHMEMORA_E_NOMEM, "out of memory deleting a namespace");
	index_walk(&pool->index, 0, keybuf, remove_entry, &d, NULL);
	free(keybuf);
	catalog_remove(pool, ns);
	nstable_set_usage(&pool->nstable, v.index, 0, 0);
	nstable_transition(&pool->nstable, v.index, deleting, ns_word(NS_DELETED, false, gen));
	if (removed)
		*removed = d.removed;
	return 0;
}

int shmemora_ns_delete(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		       uint64_t *removed)
{
	struct kv_op op;
	int rc = op_begin(&op, pool, token, SHMEMORA_RIGHT_DELETE);
	if (rc == 0)
		rc = delete_in_path(&op, ns, removed);
	op_end(&op);
	return rc;
}

static int stat_in_path(struct kv_op *op, const char *ns, shmemora_ns_info *out)
{
	int rc = op_namespace(op, ns, COVER_SOME_KEYS);
	if (rc)
		return rc;
	struct ns_view v;
	nstable_read(&op->pool->nstable, op->ns_index, &v);
	return describe(op->pool, ns, &v, out);
}

int shmemora_ns_stat(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		     shmemora_ns_info *out)
{
	struct kv_op op;
	int rc = op_begin(&op, pool, token, SHMEMORA_RIGHT_READ);
	if (rc == 0 && !out)
		rc = error_set(SHMEMORA_E_INVALID, "ns_stat: out is NULL");
	if (rc == 0)
		rc = stat_in_path(&op, ns, out);
	op_end(&op);
	return rc;
}

static int list_in_path(struct kv_op *op, shmemora_ns_info *out, size_t cap, size_t *count)
{
	shmemora_pool *pool = op->pool;
	struct ns_name *names;
	size_t n;
	int rc = namespace_names(pool, &names, &n);
	if (rc)
		return rc;
	size_t listed = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint32_t index;
		struct ns_view v;
		if (!nstable_find(&pool->nstable, names[i].hash, &index))
			continue;
		nstable_read(&pool->nstable, index, &v);
		struct ns_target t = { names[i].hash, ns_gen_of(v.state_word) };
		if (ns_state_of(v.state_word) != NS_LIVE ||
		    protect_require_some_keys(&op->token, &t) != 0)
			continue;
		if (listed < cap)
			rc = describe(pool, names[i].name, &v, &out[listed]);
		listed++;
	}
	free(names);
	error_clear(); /* scope refusals above are not the call's error */
	*count = listed;
	return rc;
}

int shmemora_ns_list(shmemora_pool *pool, const shmemora_token *token, shmemora_ns_info *out,
		     size_t cap, size_t *count)
{
	struct kv_op op;
	int rc = op_begin(&op, pool, token, SHMEMORA_RIGHT_READ);
	if (rc == 0 && (!count || (cap && !out)))
		rc = error_set(SHMEMORA_E_INVALID, "ns_list: out and count are required");
	if (rc == 0)
		rc = list_in_path(&op, out, cap, count);
	op_end(&op);
	return rc;
}

static int limits_in_path(struct kv_op *op, const char *ns, uint64_t max_keys,
			  uint64_t max_bytes)
{
	shmemora_pool *pool = op->pool;
	int rc = require_pool_token(op, "limiting");
	if (rc || (rc = op_namespace(op, ns, COVER_NAMESPACE)))
		return rc;
	struct ns_view v;
	nstable_read(&pool->nstable, op->ns_index, &v);
	nstable_set_limits(&pool->nstable, op->ns_index, max_keys, max_bytes);
	if (ns_counted(v.state_word))
		return 0;
	/* Start counting, then count what is there.  Writes that land between
	 * the two are counted twice or not at all: set limits on a quiet
	 * namespace (or at once after creating it) for exact figures. */
	if (!nstable_transition(&pool->nstable, op->ns_index, v.state_word,
				v.state_word | NS_COUNTED))
		return error_set(SHMEMORA_E_CONTENDED, "namespace '%s' changed meanwhile", ns);
	struct usage_walk u = { op->ns.hash, op->ns.gen, 0, 0 };
	if ((rc = walk_usage(pool, &u)))
		return rc;
	nstable_set_usage(&pool->nstable, op->ns_index, u.keys, u.bytes);
	return 0;
}

int shmemora_ns_set_limits(shmemora_pool *pool, const shmemora_token *token, const char *ns,
			   uint64_t max_keys, uint64_t max_bytes)
{
	struct kv_op op;
	int rc = op_begin(&op, pool, token, SHMEMORA_RIGHT_GRANT);
	if (rc == 0)
		rc = limits_in_path(&op, ns, max_keys, max_bytes);
	op_end(&op);
	return rc;
}
