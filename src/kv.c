/*
 * kv.c — namespaces and key-value operations, on the index (index.c), the
 * allocator (alloc.c) and the protected path (protect.c).
 *
 * Every operation: open the pool, authorize the token for the namespace and
 * key (one function, authorize()), check the namespace exists, then work
 * lock-free:
 *   - write paths build a complete new entry in this host's partition and
 *     publish it with one CAS on the index slot; the entry it replaces is
 *     retired (seq made odd) and freed to its owner's list;
 *   - read paths find the slot, copy under the entry's seqlock, and retry
 *     if the entry changed meanwhile.
 *
 * Built with -DSHMEMORA_UNPROTECTED (the benchmark's baseline), authorize()
 * admits everything: the same code with protection compiled out.
 */
#include "alloc.h"
#include "error.h"
#include "index.h"
#include "pool.h"
#include "protect.h"
#include "seqlock.h"
#include "timing.h"
#include "token.h"

#include <string.h>

#define NS_NAME_MAX 255
#define RETRIES 100000

/* ------------------------------------------------------- authorization */

/* What an operation reaches: one key, some keys of the namespace (multi_get
 * checks each key afterwards), or the namespace as a whole (ns_create). */
enum cover { COVER_KEY, COVER_SOME_KEYS, COVER_NAMESPACE };

/* Verifies the token and its rights once; `f` then serves covers(). */
static int token_check(shmemora_pool *pool, const shmemora_token *tok, uint32_t need,
		       struct cap_fields *f)
{
#ifdef SHMEMORA_UNPROTECTED
	(void)pool, (void)tok, (void)need;
	memset(f, 0, sizeof *f);
	f->scope = SHMEMORA_SCOPE_POOL;
	return 0;
#else
	int rc = protect_verify(pool, tok, 0, 0, f);
	return rc ? rc : protect_require_rights(f, need);
#endif
}

/* Does a verified token reach this namespace (and key)? */
static int covers(shmemora_pool *pool, const struct cap_fields *f, uint64_t ns_hash,
		  enum cover cover, const void *key, size_t key_len)
{
	switch (f->scope) {
	case SHMEMORA_SCOPE_POOL:
		return 0;
	case SHMEMORA_SCOPE_NAMESPACE:
		if (f->a == ns_hash)
			return 0;
		break;
	case SHMEMORA_SCOPE_KEY:
		if (f->a == ns_hash && (cover == COVER_SOME_KEYS ||
					(cover == COVER_KEY &&
					 f->b == token_key_hash(pool, ns_hash, key, key_len))))
			return 0;
		break;
	}
	return error_set(SHMEMORA_E_OUT_OF_SCOPE, "token %016llx does not cover this %s",
			 (unsigned long long)f->id,
			 f->scope == SHMEMORA_SCOPE_KEY ? "key" : f->scope == SHMEMORA_SCOPE_REGION
			 ? "namespace (it is a raw region token)" : "namespace");
}

static int authorize(shmemora_pool *pool, const shmemora_token *tok, uint64_t ns_hash,
		     enum cover cover, const void *key, size_t key_len, uint32_t need)
{
	struct cap_fields f;
	int rc = token_check(pool, tok, need, &f);
	return rc ? rc : covers(pool, &f, ns_hash, cover, key, key_len);
}

/* -------------------------------------------------------------- entries */

/* A key the caller passed: present, and 1..max_key bytes.  Checked before
 * anything reads it, the scope check's hash included. */
static int check_key(const shmemora_pool *pool, const void *key, size_t key_len)
{
	if (!key)
		return error_set(SHMEMORA_E_INVALID, "key is NULL");
	if (key_len < 1 || key_len > pool->sb.max_key)
		return error_set(SHMEMORA_E_INVALID, "key of %zu bytes: keys are 1..%u bytes",
				 key_len, pool->sb.max_key);
	return 0;
}

static int check_lengths(const shmemora_pool *pool, const void *key, size_t key_len,
			 size_t value_len)
{
	int rc = check_key(pool, key, key_len);
	if (rc)
		return rc;
	if (value_len > pool->sb.max_value)
		return error_set(SHMEMORA_E_INVALID, "value of %zu bytes: values are at most %u "
				 "bytes in this pool", value_len, pool->sb.max_value);
	return 0;
}

/* Builds a complete, published-ready entry (seq even) in this host's
 * partition. */
static int build_entry(shmemora_pool *pool, uint64_t ns_hash, const void *key, size_t key_len,
		       const void *value, size_t value_len, uint64_t version, uint64_t *offset)
{
	int cls = alloc_class_for(pool, sizeof(struct kv_entry) + key_len + value_len);
	if (cls < 0)
		return error_set(SHMEMORA_E_INVALID, "entry too large for any size class");
	int rc = pool_may_write(pool); /* fence: our partition may be another's now */
	if (rc)
		return rc;
	rc = alloc_entry(pool, cls, offset);
	if (rc)
		return rc;
	struct kv_entry *e = (struct kv_entry *)(pool->base + *offset);
	uint64_t seq = atomic_load_explicit(&e->seq, memory_order_relaxed);
	/* Readers that still hold this block from its previous life read these
	 * fields racily and then discard what they read (seq changed). */
	__atomic_store_n(&e->ns_hash, ns_hash, __ATOMIC_RELAXED);
	__atomic_store_n(&e->version, version, __ATOMIC_RELAXED);
	__atomic_store_n(&e->key_len, (uint32_t)key_len, __ATOMIC_RELAXED);
	__atomic_store_n(&e->value_len, (uint32_t)value_len, __ATOMIC_RELAXED);
	__atomic_store_n(&e->size_class, (uint8_t)cls, __ATOMIC_RELAXED);
	__atomic_store_n(&e->owner_host, (uint16_t)pool->host_id, __ATOMIC_RELAXED);
	__atomic_store_n(&e->owner_epoch, pool->epoch, __ATOMIC_RELAXED);
	seqlock_write((uint8_t *)(e + 1), key, key_len);
	if (value_len)
		seqlock_write((uint8_t *)(e + 1) + key_len, value, value_len);
	coherence_writeback(&pool->coh, e, sizeof *e + key_len + value_len);
	/* Release: the contents are written before the entry reads as stable. */
	atomic_store_explicit(&e->seq, seq + 1, memory_order_release);
	coherence_writeback(&pool->coh, &e->seq, sizeof e->seq);
	return 0;
}

/* Sets the version of an entry we built and have not published. */
static void set_version(shmemora_pool *pool, uint64_t offset, uint64_t version)
{
	struct kv_entry *e = (struct kv_entry *)(pool->base + offset);
	__atomic_store_n(&e->version, version, __ATOMIC_RELAXED);
	coherence_writeback(&pool->coh, e, sizeof *e);
}

/* Retires an entry no slot names any more, and frees it. */
static void retire_entry(shmemora_pool *pool, uint64_t offset)
{
	struct kv_entry *e = (struct kv_entry *)(pool->base + offset);
	uint64_t seq = atomic_load_explicit(&e->seq, memory_order_relaxed);
	int cls = __atomic_load_n(&e->size_class, __ATOMIC_RELAXED);
	/* Odd, and different: any reader still copying it sees the change and
	 * retries. */
	atomic_store_explicit(&e->seq, (seq & 1) ? seq + 2 : seq + 1, memory_order_release);
	coherence_writeback(&pool->coh, &e->seq, sizeof e->seq);
	alloc_free(pool, offset, cls);
}

/*
 * Reads an entry's version and value length, and copies its value into buf
 * when it fits, all under the seqlock of `hit`.  Returns 0, -1 if the entry
 * changed (caller retries), or E_TOO_SMALL.
 */
static int read_entry(shmemora_pool *pool, const struct index_hit *hit, void *buf, size_t cap,
		      size_t *value_len, uint64_t *version)
{
	struct kv_entry *e = hit->entry;
	uint32_t klen = __atomic_load_n(&e->key_len, __ATOMIC_RELAXED);
	uint32_t vlen = __atomic_load_n(&e->value_len, __ATOMIC_RELAXED);
	uint64_t ver = __atomic_load_n(&e->version, __ATOMIC_RELAXED);
	/* Lengths were validated against the class when the slot was matched;
	 * they cannot have changed without the seq changing. */
	int fits = buf && vlen <= cap;
	if (fits && vlen) {
		coherence_invalidate(&pool->coh, (uint8_t *)(e + 1) + klen, vlen);
		seqlock_read(buf, (uint8_t *)(e + 1) + klen, vlen);
	}
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&e->seq, memory_order_relaxed) != hit->seq)
		return -1;
	if (value_len)
		*value_len = vlen;
	if (version)
		*version = ver;
	if (!fits && buf)
		return error_set(SHMEMORA_E_TOO_SMALL, "value is %u bytes, buffer %zu", vlen, cap);
	return 0;
}

/* ----------------------------------------------------------- namespaces */

static int check_ns_name(const char *ns)
{
	size_t n = ns ? strnlen(ns, NS_NAME_MAX + 1) : 0;
	if (n == 0 || n > NS_NAME_MAX || strchr(ns, '/'))
		return error_set(SHMEMORA_E_INVALID, "namespace names are 1..%d bytes without '/'",
				 NS_NAME_MAX);
	return 0;
}

static int ns_known(shmemora_pool *pool, uint64_t ns_hash)
{
	for (int i = 0; i < NS_CACHE; i++)
		if (atomic_load_explicit(&pool->ns_cache[i], memory_order_relaxed) == ns_hash)
			return 1;
	return 0;
}

/* Namespaces are never deleted, so once seen to exist, always exist. */
static int require_ns(shmemora_pool *pool, const char *ns, uint64_t ns_hash)
{
	if (ns_known(pool, ns_hash))
		return 0;
	struct index_key k = { NS_CATALOG, ns, strlen(ns), 0 };
	index_hash(pool, &k);
	struct index_hit hit;
	int rc = index_find(pool, &k, &hit);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return error_set(SHMEMORA_E_NOT_FOUND, "namespace '%s' does not exist: create it "
				 "with 'shmemora ns create' or shmemora_ns_create()", ns);
	unsigned at = atomic_fetch_add_explicit(&pool->ns_cache_next, 1, memory_order_relaxed);
	atomic_store_explicit(&pool->ns_cache[at % NS_CACHE], ns_hash, memory_order_relaxed);
	return 0;
}

/* Common start of every operation: names, lengths, token, namespace.  With
 * COVER_KEY the key is checked and the token must cover it; with
 * COVER_SOME_KEYS (multi_get) some keys of `ns`, each item checked later. */
static int begin_fields(shmemora_pool *pool, const shmemora_token *tok, const char *ns,
			enum cover cover, const void *key, size_t key_len, size_t value_len,
			uint32_t need, uint64_t *ns_hash, struct cap_fields *f)
{
	int rc;
	if (!pool)
		return error_set(SHMEMORA_E_INVALID, "pool is NULL");
	if ((rc = check_ns_name(ns)))
		return rc;
	if (cover == COVER_KEY && (rc = check_lengths(pool, key, key_len, value_len)))
		return rc;
	*ns_hash = token_ns_hash(pool, ns);
	if ((rc = token_check(pool, tok, need, f)))
		return rc;
	uint64_t t = TIMING_START();
	rc = covers(pool, f, *ns_hash, cover, key, key_len);
	TIMING_ADD(PHASE_RIGHTS, t);
	if (rc)
		return rc;
	return require_ns(pool, ns, *ns_hash);
}

static int begin(shmemora_pool *pool, const shmemora_token *tok, const char *ns,
		 const void *key, size_t key_len, size_t value_len, uint32_t need,
		 uint64_t *ns_hash)
{
	struct cap_fields f;
	return begin_fields(pool, tok, ns, COVER_KEY, key, key_len, value_len, need, ns_hash, &f);
}

int shmemora_ns_create(shmemora_pool *pool, const shmemora_token *token, const char *ns)
{
	error_clear();
	int rc;
	if (!pool)
		return error_set(SHMEMORA_E_INVALID, "pool is NULL");
	if ((rc = check_ns_name(ns)))
		return rc;
	protect_saved s = protect_open(&pool->prot);
	uint64_t ns_hash = token_ns_hash(pool, ns);
	rc = authorize(pool, token, ns_hash, COVER_NAMESPACE, NULL, 0, SHMEMORA_RIGHT_INSERT);
	if (rc == 0) {
		struct index_key k = { NS_CATALOG, ns, strlen(ns), 0 };
		index_hash(pool, &k);
		struct index_hit hit;
		uint64_t off;
		rc = index_find(pool, &k, &hit);
		if (rc == 1) {
			rc = error_set(SHMEMORA_E_EXISTS, "namespace '%s' already exists", ns);
		} else if (rc == 0 && (rc = build_entry(pool, NS_CATALOG, ns, k.len, NULL, 0, 1,
							 &off)) == 0 &&
			   (rc = pool_may_write(pool)) == 0) { /* fence, before publishing */
			rc = index_publish_new(pool, &k, off, &hit);
			if (rc == 0) {
				rc = pool_may_write(pool); /* fence, after: else not acknowledged */
			} else {
				retire_entry(pool, off);
				if (rc == 1)
					rc = error_set(SHMEMORA_E_EXISTS, "namespace '%s' already "
						       "exists", ns);
			}
		}
	}
	protect_close(&pool->prot, s);
	return rc;
}

/* -------------------------------------------------------------- writes */

enum write_mode { W_INSERT, W_PUT, W_UPDATE, W_CAS };

static int write_locked(shmemora_pool *pool, const shmemora_token *tok, const char *ns,
			const void *key, size_t key_len, const void *value, size_t value_len,
			enum write_mode mode, uint64_t expected, uint64_t *new_version)
{
	static const uint32_t need[] = {
		[W_INSERT] = SHMEMORA_RIGHT_INSERT,
		[W_PUT] = SHMEMORA_RIGHT_INSERT | SHMEMORA_RIGHT_WRITE,
		[W_UPDATE] = SHMEMORA_RIGHT_WRITE,
		[W_CAS] = SHMEMORA_RIGHT_WRITE,
	};
	if (!value && value_len)
		return error_set(SHMEMORA_E_INVALID, "value is NULL");
	uint64_t ns_hash;
	int rc = begin(pool, tok, ns, key, key_len, value_len, need[mode], &ns_hash);
	if (rc)
		return rc;
	struct index_key k = { ns_hash, key, key_len, 0 };
	index_hash(pool, &k);
	uint64_t off = 0;
	for (int attempt = 0; attempt < RETRIES; attempt++) {
		struct index_hit hit;
		uint64_t t = TIMING_START();
		rc = index_find(pool, &k, &hit);
		TIMING_ADD(PHASE_INDEX, t);
		if (rc < 0)
			break;
		if (rc == 0) {
			/* Absent. */
			if (mode == W_UPDATE || mode == W_CAS) {
				rc = error_set(SHMEMORA_E_NOT_FOUND, "no such key");
				break;
			}
			uint64_t tc = TIMING_START();
			if (!off && (rc = build_entry(pool, ns_hash, key, key_len, value, value_len,
						      1, &off)))
				return rc;
			TIMING_ADD(PHASE_COPY, tc);
			set_version(pool, off, 1);
			if ((rc = pool_may_write(pool))) /* fence, before publishing */
				break;
			rc = index_publish_new(pool, &k, off, &hit);
			if (rc == 0) {
				/* Fence, after: a write published as we lost the
				 * slot is not acknowledged. */
				if ((rc = pool_may_write(pool)))
					return rc;
				if (new_version)
					*new_version = 1;
				return 0;
			}
			if (rc < 0)
				break;
			/* Present after all: fall through to the present case
			 * on the next round. */
			continue;
		}
		/* Present. */
		if (mode == W_INSERT) {
			rc = error_set(SHMEMORA_E_EXISTS, "key already exists");
			break;
		}
		uint64_t cur;
		size_t vlen;
		if (read_entry(pool, &hit, NULL, 0, &vlen, &cur) != 0)
			continue; /* changed while we looked: again */
		if (mode == W_CAS && cur != expected) {
			rc = error_set(SHMEMORA_E_CONFLICT, "key is at version %llu, not %llu",
				       (unsigned long long)cur, (unsigned long long)expected);
			break;
		}
		uint64_t tc = TIMING_START();
		if (!off && (rc = build_entry(pool, ns_hash, key, key_len, value, value_len,
					      cur + 1, &off)))
			return rc;
		TIMING_ADD(PHASE_COPY, tc);
		set_version(pool, off, cur + 1);
		if ((rc = pool_may_write(pool))) /* fence, before publishing */
			break;
		if (index_replace(pool, &hit, off)) {
			/* Fence, after: not acknowledged, and the entry we
			 * replaced is left to `shmemora check --repair`. */
			if ((rc = pool_may_write(pool)))
				return rc;
			retire_entry(pool, hit.offset);
			if (new_version)
				*new_version = cur + 1;
			return 0;
		}
	}
	/* Built but never published: freed, unless we are fenced (the free list
	 * it would go on belongs to our slot's new holder; check reclaims it). */
	if (off && rc != SHMEMORA_E_FENCED)
		retire_entry(pool, off);
	if (rc > 0)
		rc = error_set(SHMEMORA_E_BUSY, "write kept racing other writers of this key");
	return rc;
}

static int write_op(shmemora_pool *pool, const shmemora_token *tok, const char *ns,
		    const void *key, size_t key_len, const void *value, size_t value_len,
		    enum write_mode mode, uint64_t expected, uint64_t *new_version)
{
	error_clear();
	if (!pool)
		return error_set(SHMEMORA_E_INVALID, "pool is NULL");
	protect_saved s = protect_open(&pool->prot);
	int rc = write_locked(pool, tok, ns, key, key_len, value, value_len, mode, expected,
			      new_version);
	protect_close(&pool->prot, s);
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

int shmemora_kv_delete(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		       const void *key, size_t key_len)
{
	error_clear();
	if (!pool)
		return error_set(SHMEMORA_E_INVALID, "pool is NULL");
	protect_saved s = protect_open(&pool->prot);
	uint64_t ns_hash;
	int rc = begin(pool, token, ns, key, key_len, 0, SHMEMORA_RIGHT_DELETE, &ns_hash);
	if (rc == 0) {
		struct index_key k = { ns_hash, key, key_len, 0 };
		index_hash(pool, &k);
		rc = SHMEMORA_E_BUSY;
		for (int attempt = 0; attempt < RETRIES; attempt++) {
			struct index_hit hit;
			int found = index_find(pool, &k, &hit);
			if (found < 0) {
				rc = found;
				break;
			}
			if (found == 0) {
				rc = error_set(SHMEMORA_E_NOT_FOUND, "no such key");
				break;
			}
			int fence = pool_may_write(pool); /* before publishing the removal */
			if (fence) {
				rc = fence;
				break;
			}
			if (index_remove(pool, &hit)) {
				/* After: a removal as we lost the slot is not
				 * acknowledged, and its entry is left to check. */
				rc = pool_may_write(pool);
				if (rc == 0)
					retire_entry(pool, hit.offset);
				break;
			}
		}
		if (rc == SHMEMORA_E_BUSY)
			error_set(rc, "delete kept racing other writers of this key");
	}
	protect_close(&pool->prot, s);
	return rc;
}

/* --------------------------------------------------------------- reads */

/* One key's get, after authorization. */
/* One key's lookup and copy; the caller has checked the key (check_key). */
static int get_one(shmemora_pool *pool, uint64_t ns_hash, const void *key, size_t key_len,
		   void *buf, size_t cap, size_t *value_len, uint64_t *version)
{
	struct index_key k = { ns_hash, key, key_len, 0 };
	index_hash(pool, &k);
	for (int attempt = 0; attempt < RETRIES; attempt++) {
		struct index_hit hit;
		uint64_t t = TIMING_START();
		int rc = index_find(pool, &k, &hit);
		TIMING_ADD(PHASE_INDEX, t);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return error_set(SHMEMORA_E_NOT_FOUND, "no such key");
		size_t vlen;
		uint64_t ver;
		t = TIMING_START();
		rc = read_entry(pool, &hit, buf ? buf : (void *)"", buf ? cap : 0, &vlen, &ver);
		TIMING_ADD(PHASE_COPY, t);
		if (rc == -1)
			continue;
		if (value_len)
			*value_len = vlen;
		if (version)
			*version = ver;
		return rc;
	}
	return error_set(SHMEMORA_E_BUSY, "read kept racing writers of this key");
}

int shmemora_kv_get(shmemora_pool *pool, const shmemora_token *token, const char *ns,
		    const void *key, size_t key_len, void *buf, size_t cap, size_t *value_len,
		    uint64_t *version)
{
	error_clear();
	if (!pool)
		return error_set(SHMEMORA_E_INVALID, "pool is NULL");
	protect_saved s = protect_open(&pool->prot);
	uint64_t ns_hash;
	int rc = begin(pool, token, ns, key, key_len, 0, SHMEMORA_RIGHT_READ, &ns_hash);
	if (rc == 0)
		rc = get_one(pool, ns_hash, key, key_len, buf, cap, value_len, version);
	protect_close(&pool->prot, s);
	return rc;
}

int shmemora_kv_multi_get(shmemora_pool *pool, const shmemora_token *token, const char *ns,
			  shmemora_kv_item *items, size_t count)
{
	error_clear();
	if (!pool || (count && !items))
		return error_set(SHMEMORA_E_INVALID, "pool and items are required");
	protect_saved s = protect_open(&pool->prot);
	uint64_t ns_hash;
	struct cap_fields f;
	int rc = begin_fields(pool, token, ns, COVER_SOME_KEYS, NULL, 0, 0, SHMEMORA_RIGHT_READ,
			      &ns_hash, &f);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		shmemora_kv_item *it = &items[i];
		it->rc = check_key(pool, it->key, it->key_len);
		if (it->rc == 0)
			it->rc = covers(pool, &f, ns_hash, COVER_KEY, it->key, it->key_len);
		if (it->rc == 0)
			it->rc = get_one(pool, ns_hash, it->key, it->key_len, it->buf, it->cap,
					 &it->value_len, &it->version);
	}
	protect_close(&pool->prot, s);
	return rc;
}

/* --------------------------------------------------------------- stats */

int shmemora_stats_get(shmemora_pool *pool, shmemora_stats *out)
{
	error_clear();
	if (!pool || !out)
		return error_set(SHMEMORA_E_INVALID, "pool and out are required");
	protect_saved s = protect_open(&pool->prot);
	const struct superblock *sb = &pool->sb;
	out->index_slots = sb->index_slots;
	out->partitions = sb->max_hosts;
	out->size_class_count = sb->size_class_count;
	out->partition_size = sb->partition_size;
	out->keys = out->namespaces = out->index_used = 0;
	_Atomic uint64_t *slots = pool_region(pool, REGION_INDEX);
	for (uint64_t i = 0; i < sb->index_slots; i++) {
		uint64_t v = atomic_load_explicit(&slots[i], memory_order_acquire);
		if (!v)
			continue;
		out->index_used++;
		uint64_t off = index_slot_offset(pool, v);
		if (!off || (v >> 63))
			continue;
		struct kv_entry *e = (struct kv_entry *)(pool->base + off);
		if (__atomic_load_n(&e->ns_hash, __ATOMIC_RELAXED) == NS_CATALOG)
			out->namespaces++;
		else
			out->keys++;
	}
	out->index_load = (double)out->index_used / (double)sb->index_slots;
	for (uint32_t p = 0; p < sb->max_hosts; p++) {
		struct partition_header *ph = alloc_partition(pool, p);
		if (out->partition_used) {
			uint64_t b = atomic_load(&ph->bump);
			out->partition_used[p] = b ? b : PARTITION_HEADER_BYTES;
		}
		if (out->allocated)
			for (uint32_t c = 0; c < sb->size_class_count; c++)
				out->allocated[(size_t)p * sb->size_class_count + c] =
					atomic_load(&ph->allocated[c]);
	}
	protect_close(&pool->prot, s);
	return 0;
}
