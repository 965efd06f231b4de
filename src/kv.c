/*
 * kv.c — key-value operations: insert, put, update, cas, delete, get and
 * multi_get, on the index (index.c), the entries (entry.c) and the
 * protected path (op.c, protect.c).
 *
 * Every operation: op_begin (open the pool, verify the token and its
 * rights), op_namespace (the namespace's live incarnation, and scope), op_key
 * (the key, and scope), then lock-free work:
 *   - write paths build a complete new entry in a block of this host's
 *     extents and publish it with one CAS on the index slot; the entry it
 *     replaces is retired (seq made odd) and freed (into this thread's
 *     magazine, or its extent's list).  A writer then
 *     checks that its namespace was not deleted meanwhile, and takes its
 *     entry back if it was (see namespace.c);
 *   - read paths find the slot, copy under the entry's seqlock from the
 *     validated snapshot, and retry if the entry changed meanwhile.
 *
 * Retry bounds: a write starts over only when another writer changed the
 * key between our lookup and our CAS, a read only when the entry it copied
 * was retired meanwhile; WRITE_ATTEMPTS and READ_ATTEMPTS are far beyond
 * what a key under any real load loses in a row, and exist so that a key
 * rewritten without pause ends in E_CONTENDED rather than a livelock.
 */
#include "error.h"
#include "op.h"
#include "timing.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WRITE_ATTEMPTS 100000
#define READ_ATTEMPTS 100000

enum write_mode { W_INSERT, W_PUT, W_UPDATE, W_CAS };

static const uint32_t write_rights[] = {
	[W_INSERT] = SHMEMORA_RIGHT_INSERT,
	[W_PUT] = SHMEMORA_RIGHT_INSERT | SHMEMORA_RIGHT_WRITE,
	[W_UPDATE] = SHMEMORA_RIGHT_WRITE,
	[W_CAS] = SHMEMORA_RIGHT_WRITE,
};

/* A write being prepared: the key, and the entry built for it (if any). */
struct write {
	struct kv_op *op;
	struct entry_key k;
	uint64_t hash;
	const void *value;
	size_t value_len;
	struct entry_snap built;
	bool have_built;
};

static uint64_t entry_bytes(size_t key_len, size_t value_len)
{
	return (uint64_t)key_len + value_len;
}

/* Counts a change of the namespace's usage when its limits are on. */
static int charge(struct kv_op *op, int64_t keys, int64_t bytes)
{
	if (!op->ns_counted || (keys == 0 && bytes == 0))
		return 0;
	return nstable_charge(&op->pool->nstable, op->ns_index, keys, bytes);
}

/* The entry to publish, at `version`.  A retry (the slot changed under
 * us) builds it again rather than rewriting the version of the one built
 * before: one path writes every entry (entry_build), so its seq protocol
 * and its write-back are the only ones, and retries are rare (0.0001 per
 * write under YCSB-A's zipfian, docs/benchmark.md).  The fence first: a
 * host whose slot was taken over must not allocate from extents that are
 * now another process's. */
static int prepare(struct write *w, uint64_t version)
{
	shmemora_pool *pool = w->op->pool;
	int rc = pool_may_write(pool);
	if (rc)
		return rc;
	if (w->have_built) {
		/* Never published: back to our magazine, likely to be taken
		 * again just below. */
		pool_retire(pool, w->built.offset, w->built.size_class);
		w->have_built = false;
	}
	uint64_t t = TIMING_START();
	rc = entry_build(&pool->entries, pool->host_id, pool->epoch, pool_magazine(pool), &w->k, w->value,
			     w->value_len, version, &w->built);
	TIMING_ADD(PHASE_COPY, t);
	w->have_built = rc == 0;
	return rc;
}

/* After publishing in `slot` (holding `v`): was the namespace deleted
 * meanwhile?  Then take the entry back.  The recheck is sequentially
 * consistent, as is the publishing CAS and the deleter's state change and
 * scan: either the deleter's scan sees our slot, or we see its state. */
static int confirm_namespace(struct write *w, _Atomic uint64_t *slot, uint64_t v)
{
	if (op_ns_still_live(w->op))
		return 0;
	shmemora_pool *pool = w->op->pool;
	if (index_clear_slot(&pool->index, slot, v))
		pool_retire(pool, w->built.offset, w->built.size_class);
	w->have_built = false;
	return error_set(SHMEMORA_E_NOT_FOUND, "the namespace was deleted while this write ran");
}

/* The key is absent: publish it new.  1 means present after all (again). */
static int write_new(struct write *w, enum write_mode mode, uint64_t *new_version)
{
	if (mode == W_UPDATE || mode == W_CAS)
		return error_set(SHMEMORA_E_NOT_FOUND, "no such key");
	int rc = prepare(w, 1);
	if (rc == 0)
		rc = charge(w->op, 1, (int64_t)entry_bytes(w->k.len, w->value_len));
	if (rc)
		return rc;
	struct index_hit hit;
	rc = index_publish_new(&w->op->pool->index, &w->k, w->hash, &w->built, &hit);
	if (rc != 0) {
		charge(w->op, -1, -(int64_t)entry_bytes(w->k.len, w->value_len));
		return rc;
	}
	w->have_built = false; /* published: no longer ours to retire */
	/* The fence again: a write published as we lost our slot is not
	 * acknowledged (it may have landed, like one whose caller timed out). */
	if ((rc = pool_may_write(w->op->pool)))
		return rc;
	w->have_built = true;
	if ((rc = confirm_namespace(w, hit.slot, hit.slot_value)))
		return rc;
	w->have_built = false;
	if (new_version)
		*new_version = 1;
	return 0;
}

/* The key is present in `hit`: replace it.  1 means it changed meanwhile. */
static int write_over(struct write *w, enum write_mode mode, uint64_t expected,
		      const struct index_hit *hit, uint64_t *new_version)
{
	shmemora_pool *pool = w->op->pool;
	if (mode == W_INSERT)
		return error_set(SHMEMORA_E_EXISTS, "key already exists");
	uint64_t cur = hit->snap.version;
	if (mode == W_CAS && cur != expected)
		return error_set(SHMEMORA_E_CONFLICT, "key is at version %llu, not %llu",
				 (unsigned long long)cur, (unsigned long long)expected);
	int64_t growth = (int64_t)w->value_len - (int64_t)hit->snap.value_len;
	int rc = prepare(w, cur + 1);
	if (rc == 0)
		rc = charge(w->op, 0, growth);
	if (rc)
		return rc;
	uint64_t mine;
	if (!index_replace(&pool->index, hit, &w->built, &mine)) {
		charge(w->op, 0, -growth);
		return 1;
	}
	/* Fenced meanwhile: not acknowledged, and neither our entry nor the
	 * one it replaced is touched again (`check --repair` collects). */
	if ((rc = pool_may_write(pool))) {
		w->have_built = false;
		return rc;
	}
	pool_retire(pool, hit->snap.offset, hit->snap.size_class);
	if ((rc = confirm_namespace(w, hit->slot, mine)))
		return rc;
	w->have_built = false;
	if (new_version)
		*new_version = cur + 1;
	return 0;
}

static int write_in_path(struct kv_op *op, const char *ns, const void *key, size_t key_len,
			 const void *value, size_t value_len, enum write_mode mode,
			 uint64_t expected, uint64_t *new_version)
{
	shmemora_pool *pool = op->pool;
	if (!value && value_len)
		return error_set(SHMEMORA_E_INVALID, "value is NULL");
	if (value_len > pool->sb.max_value)
		return error_set(SHMEMORA_E_INVALID, "value of %zu bytes: values are at most %u "
				 "bytes in this pool", value_len, pool->sb.max_value);
	struct write w = { .op = op, .value = value, .value_len = value_len };
	int rc = op_namespace(op, ns, COVER_KEY);
	if (rc == 0)
		rc = op_key(op, key, key_len, &w.k, &w.hash);
	for (int attempt = 0; rc == 0 && attempt < WRITE_ATTEMPTS; attempt++) {
		struct index_hit hit;
		uint64_t t = TIMING_START();
		int found = index_find(&pool->index, &w.k, w.hash, &hit);
		TIMING_ADD(PHASE_INDEX, t);
		if (found < 0) {
			rc = found;
			break;
		}
		int r = found ? write_over(&w, mode, expected, &hit, new_version)
			      : write_new(&w, mode, new_version);
		if (r != 1) {
			rc = r;
			break;
		}
		if (attempt + 1 == WRITE_ATTEMPTS)
			rc = error_set(SHMEMORA_E_CONTENDED, "write kept racing other writers of this "
				       "key (%d attempts)", WRITE_ATTEMPTS);
	}
	/* Built but never published: freed, unless we are fenced (its free
	 * list may be another host's now; `check --repair` collects it). */
	if (w.have_built && rc != SHMEMORA_E_FENCED)
		pool_retire(pool, w.built.offset, w.built.size_class);
	return rc;
}

static int write_op(shmemora_pool *pool, const shmemora_token *tok, const char *ns,
		    const void *key, size_t key_len, const void *value, size_t value_len,
		    enum write_mode mode, uint64_t expected, uint64_t *new_version)
{
	struct kv_op op;
	int rc = op_begin(&op, pool, tok, write_rights[mode]);
	if (rc == 0)
		rc = write_in_path(&op, ns, key, key_len, value, value_len, mode, expected,
				   new_version);
	op_end(&op);
	return rc;
}

int shmemora_kv_insert(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		       const void *key, size_t key_len, const void *value, size_t value_len)
{
	return write_op(pool, token, ns, key, key_len, value, value_len, W_INSERT, 0, NULL);
}

int shmemora_kv_put(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		    const void *key, size_t key_len, const void *value, size_t value_len)
{
	return write_op(pool, token, ns, key, key_len, value, value_len, W_PUT, 0, NULL);
}

int shmemora_kv_update(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		       const void *key, size_t key_len, const void *value, size_t value_len)
{
	return write_op(pool, token, ns, key, key_len, value, value_len, W_UPDATE, 0, NULL);
}

int shmemora_kv_cas(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		    const void *key, size_t key_len, uint64_t expected_version,
		    const void *value, size_t value_len, uint64_t *new_version)
{
	return write_op(pool, token, ns, key, key_len, value, value_len, W_CAS, expected_version,
			new_version);
}

static int delete_in_path(struct kv_op *op, const char *ns, const void *key, size_t key_len)
{
	shmemora_pool *pool = op->pool;
	struct entry_key k;
	uint64_t hash;
	int rc = op_namespace(op, ns, COVER_KEY);
	if (rc == 0)
		rc = op_key(op, key, key_len, &k, &hash);
	for (int attempt = 0; rc == 0 && attempt < WRITE_ATTEMPTS; attempt++) {
		struct index_hit hit;
		int found = index_find(&pool->index, &k, hash, &hit);
		if (found <= 0)
			return found < 0 ? found : error_set(SHMEMORA_E_NOT_FOUND, "no such key");
		if ((rc = pool_may_write(pool))) /* the fence, before the removal */
			return rc;
		if (index_remove(&pool->index, &hit)) {
			/* And after it: a removal as we lost the slot is not
			 * acknowledged, and its entry is left to `check`. */
			if ((rc = pool_may_write(pool)))
				return rc;
			pool_retire(pool, hit.snap.offset, hit.snap.size_class);
			charge(op, -1, -(int64_t)entry_bytes(hit.snap.key_len, hit.snap.value_len));
			return 0;
		}
	}
	return rc ? rc : error_set(SHMEMORA_E_CONTENDED, "delete kept racing other writers of "
				   "this key (%d attempts)", WRITE_ATTEMPTS);
}

int shmemora_kv_delete(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		       const void *key, size_t key_len)
{
	struct kv_op op;
	int rc = op_begin(&op, pool, token, SHMEMORA_RIGHT_DELETE);
	if (rc == 0)
		rc = delete_in_path(&op, ns, key, key_len);
	op_end(&op);
	return rc;
}

/* --------------------------------------------------------------- reads */

/* One key's lookup and copy; the key is checked and hashed (op_key). */
static int get_one(struct kv_op *op, const struct entry_key *k, uint64_t hash, void *buf,
		   size_t cap, size_t *value_len, uint64_t *version)
{
	shmemora_pool *pool = op->pool;
	for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		struct index_hit hit;
		uint64_t t = TIMING_START();
		int rc = index_find(&pool->index, k, hash, &hit);
		TIMING_ADD(PHASE_INDEX, t);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return error_set(SHMEMORA_E_NOT_FOUND, "no such key");
		/* Sized from the validated snapshot, never from the pool.  No
		 * buffer is a buffer of 0 bytes: the length is still reported. */
		bool fits = hit.snap.value_len <= (buf ? cap : 0);
		t = TIMING_START();
		if (fits && hit.snap.value_len)
			entry_copy_value(&pool->entries, &hit.snap, buf);
		bool whole = index_hit_still(&pool->index, &hit);
		TIMING_ADD(PHASE_COPY, t);
		if (!whole)
			continue;
		if (value_len)
			*value_len = hit.snap.value_len;
		if (version)
			*version = hit.snap.version;
		if (!fits)
			return error_set(SHMEMORA_E_TOO_SMALL, "value is %u bytes, buffer %zu",
					 hit.snap.value_len, buf ? cap : 0);
		return 0;
	}
	return error_set(SHMEMORA_E_CONTENDED, "read kept racing writers of this key "
			 "(%d attempts)", READ_ATTEMPTS);
}

int shmemora_kv_get(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		    const void *key, size_t key_len, void *buf, size_t cap, size_t *value_len,
		    uint64_t *version)
{
	struct kv_op op;
	struct entry_key k;
	uint64_t hash;
	int rc = op_begin(&op, pool, token, SHMEMORA_RIGHT_READ);
	if (rc == 0)
		rc = op_namespace(&op, ns, COVER_KEY);
	if (rc == 0)
		rc = op_key(&op, key, key_len, &k, &hash);
	if (rc == 0)
		rc = get_one(&op, &k, hash, buf, cap, value_len, version);
	op_end(&op);
	return rc;
}

/* Keys a multi_get looks up together: enough to overlap their misses,
 * few enough that the prefetched lines are still cached when used. */
#define GET_BATCH 16

/* Looks up items[0..n) (n <= GET_BATCH) in three passes: hash and prefetch
 * every key's bucket, prefetch the entries their slots name, then read
 * each (index.h).  The checks and the reads are get's own. */
static void get_batch(struct kv_op *op, shmemora_kv_item *items, size_t n)
{
	struct entry_key k[GET_BATCH];
	uint64_t hash[GET_BATCH];
	struct kv_index *ix = &op->pool->index;
	for (size_t i = 0; i < n; i++) {
		items[i].rc = op_key(op, items[i].key, items[i].key_len, &k[i], &hash[i]);
		if (items[i].rc == 0)
			index_prefetch_bucket(ix, hash[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (items[i].rc == 0)
			index_prefetch_entries(ix, hash[i]);
	for (size_t i = 0; i < n; i++)
		if (items[i].rc == 0)
			items[i].rc = get_one(op, &k[i], hash[i], items[i].buf, items[i].cap,
					      &items[i].value_len, &items[i].version);
}

int shmemora_kv_multi_get(shmemora_pool *pool, const shmemora_token *token, const char *ns,
			  shmemora_kv_item *items, size_t count)
{
	struct kv_op op;
	int rc = op_begin(&op, pool, token, SHMEMORA_RIGHT_READ);
	if (rc == 0 && count && !items)
		rc = error_set(SHMEMORA_E_INVALID, "items is NULL");
	if (rc == 0)
		rc = op_namespace(&op, ns, COVER_SOME_KEYS);
	for (size_t i = 0; rc == 0 && i < count; i += GET_BATCH)
		get_batch(&op, items + i, count - i < GET_BATCH ? count - i : GET_BATCH);
	op_end(&op);
	return rc;
}

/* ---------------------------------------------------------------- scan */

struct scan {
	struct kv_op *op;
	int with_values;
	uint8_t *value;                 /* max_value bytes when values are asked */
	size_t left;                    /* keys still to visit in this call */
	int (*visit)(void *arg, const shmemora_scan_item *item);
	void *arg;
	int stopped;                    /* what visit returned, if nonzero */
};

/* One entry of the walk: a key of the namespace the token reaches? */
static int scan_item(void *arg, const struct index_item *it)
{
	struct scan *sc = arg;
	struct kv_op *op = sc->op;
	const struct entry_snap *e = &it->snap;
	if (e->ns_hash != op->ns.hash || e->ns_gen != op->ns.gen)
		return 0;
	if (op->token.scope == SHMEMORA_SCOPE_KEY &&
	    !protect_reaches_key(&op->token, secrets_key_hash(op->pool->secrets, e->ns_hash,
								   it->key, e->key_len)))
		return 0;
	shmemora_scan_item item = { it->key, e->key_len, NULL, e->value_len, e->version };
	if (sc->with_values) {
		entry_copy_value(&op->pool->entries, e, sc->value);
		/* Confirmed by the slot too, as a get is: seq and MAC at the
		 * entry's offset are not enough once its extent went back and
		 * came again for another size class, where that offset can be the
		 * middle of another entry, whose key bytes can equal the old seq
		 * while the old MAC is still beyond its end (test_alloc_races). */
		if (!entry_unchanged(&op->pool->entries, e) ||
		    !index_item_still(&op->pool->index, it))
			return INDEX_WALK_AGAIN; /* replaced meanwhile: read its successor */
		item.value = sc->value;
	}
	int rc = sc->visit(sc->arg, &item);
	if (rc) {
		sc->stopped = rc;
		return 1;
	}
	return --sc->left == 0;
}

static int scan_in_path(struct kv_op *op, const char *ns, uint64_t *cursor, struct scan *sc)
{
	shmemora_pool *pool = op->pool;
	if (*cursor >= pool->index.count)
		return error_set(SHMEMORA_E_INVALID, "scan cursor %llu is past the index (%llu slots)",
				 (unsigned long long)*cursor, (unsigned long long)pool->index.count);
	int rc = op_namespace(op, ns, COVER_SOME_KEYS);
	if (rc)
		return rc;
	uint8_t *keybuf = malloc(pool->sb.max_key);
	sc->value = sc->with_values ? malloc(pool->sb.max_value ? pool->sb.max_value : 1) : NULL;
	if (!keybuf || (sc->with_values && !sc->value)) {
		free(keybuf);
		free(sc->value);
		return error_set(SHMEMORA_E_NOMEM, "out of memory for a scan");
	}
	uint64_t next;
	rc = index_walk(&pool->index, *cursor, keybuf, scan_item, sc, &next);
	*cursor = next >= pool->index.count ? 0 : next;
	free(keybuf);
	free(sc->value);
	if (sc->stopped)
		return sc->stopped;
	return rc < 0 ? rc : 0;
}

int shmemora_kv_scan(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		     uint64_t *cursor, size_t count, int with_values,
		     int (*visit)(void *arg, const shmemora_scan_item *item), void *arg)
{
	struct kv_op op;
	int rc = op_begin(&op, pool, token, SHMEMORA_RIGHT_READ);
	if (rc == 0 && (!cursor || !visit))
		rc = error_set(SHMEMORA_E_INVALID, "scan: cursor and visit are required");
	struct scan sc = { &op, with_values, NULL, count ? count : SIZE_MAX, visit, arg, 0 };
	if (rc == 0)
		rc = scan_in_path(&op, ns, cursor, &sc);
	op_end(&op);
	return rc;
}
