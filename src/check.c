/*
 * check.c — verify every structure of an attached pool, and repair what can
 * be repaired without touching live data.
 *
 * What is checked, in order:
 *   superblocks   both copies verify and agree with the one attach verified
 *   host registry no impossible states; dead hosts still holding slots
 *   capability    every used entry well-formed (id names its slot, scope,
 *   table         rights, region inside the raw area, depth); live tokens
 *                 whose ancestor is revoked (orphans); quota counts that
 *                 disagree with the table; tokens the caller knows are
 *                 verified with their MAC
 *   namespaces    records in impossible states, interrupted deletions,
 *                 names without a live record, usage counts that disagree
 *   index         every slot names a valid entry whose MAC verifies, whose
 *                 key hashes to a window that contains the slot, and whose
 *                 namespace incarnation is live
 *   free lists    no cycle, every node a free block of its class, never
 *                 also live
 *   partitions    walked block by block from the first to the bump
 *                 pointer; a block neither live nor free is a leak (e.g. a
 *                 host died between allocating and publishing)
 *
 * Repair (SHMEMORA_CHECK_REPAIR) rewrites a damaged superblock copy from the
 * verified one, frees dead hosts' slots, clears index slots that name
 * garbage or dead namespaces, recounts quotas and namespace usage, and,
 * only in partitions whose owner is not alive, rebuilds broken free lists
 * and returns leaked blocks to them.  A live host may be building an entry
 * right now, so its partition is reported, not touched.  Every field read
 * from the pool is read once, through the owning module.
 */
#include "error.h"
#include "namespace.h"
#include "superblock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mark { M_NONE = 0, M_LIVE = 1, M_FREE = 2 };

struct checker {
	shmemora_pool *pool;
	shmemora_check_report *r;
	int repair;
	uint8_t *mark;         /* one byte per 64-byte unit of the partitions */
	uint8_t *host_live;    /* per host slot: alive now */
	uint64_t *used;        /* per capability: what its children cost */
	uint64_t *ns_keys, *ns_bytes; /* per namespace record: what the index holds */
	uint8_t *keybuf;       /* max_key bytes */
};

__attribute__((format(printf, 3, 4)))
static void finding(struct checker *c, int repaired, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->r->problems++;
	if (repaired)
		c->r->repaired++;
	if (c->r->on_finding) {
		char line[300];
		snprintf(line, sizeof line, "%s%s", msg, repaired ? " (repaired)" : "");
		c->r->on_finding(c->r->arg, line);
	}
}

static uint64_t unit_of(const struct checker *c, uint64_t off)
{
	return (off - c->pool->heap.data_offset) / ALLOC_UNIT;
}

/* ------------------------------------------------------------ superblock */

static void check_superblocks(struct checker *c)
{
	shmemora_pool *pool = c->pool;
	static const uint64_t at[2] = { SB_PRIMARY_OFFSET, SB_BACKUP_OFFSET };
	static const char *name[2] = { "primary", "backup" };
	for (int i = 0; i < 2; i++) {
		struct superblock copy;
		coherence_invalidate(&pool->coh, pool->base + at[i], sizeof copy);
		memcpy(&copy, pool->base + at[i], sizeof copy);
		if (memcmp(&copy, &pool->sb, sizeof copy) == 0)
			continue;
		int bad = superblock_verify_copy(&copy, name[i]) != 0;
		if (c->repair) {
			memcpy(pool->base + at[i], &pool->sb, sizeof pool->sb);
			coherence_writeback(&pool->coh, pool->base + at[i], sizeof pool->sb);
		}
		finding(c, c->repair, "%s superblock %s", name[i],
			bad ? "is damaged" : "differs from the verified copy");
	}
}

/* --------------------------------------------------------------- registry */

static void check_registry(struct checker *c)
{
	if (c->repair) /* other machines' hosts are judged by watching them a lease */
		hosts_watch(&c->pool->registry, -1);
	for (uint32_t i = 0; i < c->pool->sb.max_hosts; i++) {
		shmemora_host h;
		hosts_describe(&c->pool->registry, i, NULL, &h);
		c->host_live[i] = h.state == SHMEMORA_HOST_ATTACHED ||
				  h.state == SHMEMORA_HOST_CLAIMING;
		if (h.state != SHMEMORA_HOST_DEAD)
			continue;
		int fixed = c->repair && hosts_reclaim_dead(&c->pool->registry, i) == 0;
		finding(c, fixed, "host slot %u is held by a host that is gone (pid %d)", i, h.pid);
	}
}

/* ------------------------------------------------------- capability table */

/* What is wrong with a used entry's fields, or NULL. */
static const char *bad_entry(const struct checker *c, uint64_t i, const struct cap_fields *f)
{
	uint64_t raw = c->pool->sb.region[REGION_RAW].size;
	if ((f->id & CAP_INDEX_MASK) != i)
		return "its id names another slot";
	if (f->scope > SHMEMORA_SCOPE_KEY)
		return "unknown scope";
	if (f->rights == 0 || f->rights & ~(uint32_t)SHMEMORA_RIGHTS_ALL)
		return "impossible rights";
	if (f->scope == SHMEMORA_SCOPE_REGION && (f->a > raw || f->b > raw - f->a || f->b == 0))
		return "region outside the raw area";
	if (f->depth > MAX_TOKEN_DEPTH || (f->depth == 0) != (f->parent_id == 0))
		return "impossible place in the derivation tree";
	if (f->parent_id && captable_index(&c->pool->caps, f->parent_id) < 0)
		return "parent id names no slot";
	return NULL;
}

static void check_token_entry(struct checker *c, uint64_t i, const struct cap_fields *f)
{
	shmemora_pool *pool = c->pool;
	unsigned st = cap_state_of(f->state_word);
	if (st == CAP_MINTING) {
		unsigned minter = cap_minter_of(f->state_word);
		if (minter >= pool->sb.max_hosts || !c->host_live[minter])
			finding(c, 0, "capability %llu: left half-minted by host %u (freed by "
				"'shmemora token gc')", (unsigned long long)i, minter);
		return;
	}
	/* Charged to its parent whatever else is wrong with it. */
	int64_t pi = captable_index(&pool->caps, f->parent_id);
	if (f->parent_id && pi >= 0)
		c->used[pi] += cap_cost(f);
	const char *bad = bad_entry(c, i, f);
	if (bad) {
		finding(c, 0, "capability %llu (token %016llx): %s (its tag no longer verifies; "
			"revoke or gc it)", (unsigned long long)i, (unsigned long long)f->id, bad);
		return;
	}
	if (st == CAP_LIVE && f->tomb != f->id)
		c->r->tokens_live++;
	else
		c->r->tokens_revoked++;
	if (st == CAP_LIVE && f->tomb == f->id)
		finding(c, 0, "capability %llu (token %016llx): its state says live but its tomb "
			"says revoked (a revocation was undone by a raw write); it is refused",
			(unsigned long long)i, (unsigned long long)f->id);
	else if (st == CAP_LIVE && protect_ancestry_live(&pool->prot, f) != 0)
		finding(c, 0, "capability %llu (token %016llx) is live but %s; it is refused, and "
			"'shmemora token gc' frees it", (unsigned long long)i,
			(unsigned long long)f->id, shmemora_errmsg());
}

static void check_quotas(struct checker *c)
{
	shmemora_pool *pool = c->pool;
	for (uint64_t i = 0; i < pool->sb.cap_entries; i++) {
		struct cap_fields f;
		if (!captable_snapshot(&pool->caps, i, &f) || cap_state_of(f.state_word) == CAP_FREE ||
		    cap_state_of(f.state_word) == CAP_MINTING)
			continue;
		uint64_t have = captable_used(&pool->caps, &f);
		if (have == c->used[i])
			continue;
		if (c->repair)
			captable_set_used(&pool->caps, i, c->used[i]);
		finding(c, c->repair, "capability %llu (token %016llx): its quota count says %llu, "
			"its descendants hold %llu", (unsigned long long)i, (unsigned long long)f.id,
			(unsigned long long)have, (unsigned long long)c->used[i]);
	}
}

static void check_captable(struct checker *c)
{
	shmemora_pool *pool = c->pool;
	for (uint64_t i = 0; i < pool->sb.cap_entries; i++) {
		struct cap_fields f;
		if (captable_snapshot(&pool->caps, i, &f) && cap_state_of(f.state_word) != CAP_FREE)
			check_token_entry(c, i, &f);
	}
	check_quotas(c);
	for (size_t t = 0; t < c->r->token_count; t++) {
		struct cap_fields f;
		if (protect_verify(&pool->prot, &c->r->tokens[t], VERIFY_FORCE_MAC, &f) != 0)
			finding(c, 0, "token %016llx: %s", (unsigned long long)c->r->tokens[t].id,
				shmemora_errmsg());
	}
}

/* ------------------------------------------------------------------ index */

static void clear_slot(struct checker *c, _Atomic uint64_t *s, uint64_t v)
{
	if (c->repair)
		index_clear_slot(&c->pool->index, s, v);
}

/* The namespace record of an entry's namespace, when that incarnation is
 * live: 1 and *rec, else 0. */
static int live_namespace(const struct checker *c, const struct entry_snap *e, uint32_t *rec)
{
	struct ns_view v;
	if (!nstable_find(&c->pool->nstable, e->ns_hash, rec))
		return 0;
	nstable_read(&c->pool->nstable, *rec, &v);
	return ns_state_of(v.state_word) == NS_LIVE && ns_gen_of(v.state_word) == e->ns_gen;
}

/* Validates the confirmed entry of slot `pos`; returns what is wrong, or
 * NULL with *snap filled. */
static const char *bad_slot_entry(struct checker *c, uint64_t pos, uint64_t off,
				  struct entry_snap *snap)
{
	shmemora_pool *pool = c->pool;
	int m = entry_read(&pool->entries, off, NULL, snap);
	if (m == ENTRY_RETRY)
		return "names a free or unfinished entry";
	if (m < 0)
		return "names a malformed entry";
	entry_copy_key(&pool->entries, snap, c->keybuf);
	if (!entry_mac_ok(&pool->entries, snap, c->keybuf))
		return "names an entry whose MAC does not verify (edited without the key)";
	uint64_t hash = secrets_key_hash(pool->secrets, snap->ns_hash, c->keybuf, snap->key_len);
	if (!index_in_window(&pool->index, hash, pos))
		return "holds a key that does not hash near it";
	if (c->mark[unit_of(c, off)] == M_LIVE)
		return "names an entry another slot names too";
	return NULL;
}

static void check_slot(struct checker *c, uint64_t pos)
{
	shmemora_pool *pool = c->pool;
	_Atomic uint64_t *s = &pool->index.slots[pos];
	uint64_t v = index_slot_load(&pool->index, pos);
	if (!v)
		return;
	uint64_t off = index_slot_offset(&pool->index, v);
	if (!off) {
		clear_slot(c, s, v);
		finding(c, c->repair, "index slot %llu names no valid block (%016llx)",
			(unsigned long long)pos, (unsigned long long)v);
		return;
	}
	if (index_slot_is_tentative(v)) {
		if (index_tentative_abandoned(&pool->index, v)) {
			clear_slot(c, s, v);
			finding(c, c->repair, "index slot %llu: a tentative key left by a dead host",
				(unsigned long long)pos);
		}
		return;
	}
	struct entry_snap snap;
	const char *bad = bad_slot_entry(c, pos, off, &snap);
	if (bad) {
		clear_slot(c, s, v);
		finding(c, c->repair, "index slot %llu %s", (unsigned long long)pos, bad);
		return;
	}
	uint32_t rec = 0;
	if (snap.ns_hash != NS_CATALOG && !live_namespace(c, &snap, &rec)) {
		if (c->repair && index_clear_slot(&pool->index, s, v))
			entry_retire(&pool->entries, off, snap.size_class);
		finding(c, c->repair, "index slot %llu: a key of a deleted namespace",
			(unsigned long long)pos);
		return;
	}
	c->mark[unit_of(c, off)] = M_LIVE;
	if (snap.ns_hash == NS_CATALOG) {
		c->r->namespaces++;
	} else {
		c->r->keys++;
		c->ns_keys[rec]++;
		c->ns_bytes[rec] += (uint64_t)snap.key_len + snap.value_len;
	}
}

static void check_index(struct checker *c)
{
	for (uint64_t pos = 0; pos < c->pool->index.count; pos++)
		check_slot(c, pos);
}

/* ------------------------------------------------------------- namespaces */

static void check_namespaces(struct checker *c)
{
	shmemora_pool *pool = c->pool;
	for (uint32_t i = 0; i < pool->nstable.count; i++) {
		struct ns_view v;
		nstable_read(&pool->nstable, i, &v);
		unsigned st = ns_state_of(v.state_word);
		if (v.ns_hash == 0) {
			if (v.state_word != 0)
				finding(c, 0, "namespace record %u: a state without a name", i);
			continue;
		}
		if (st == NS_DELETING)
			finding(c, 0, "namespace record %u: a deletion was interrupted; run "
				"'shmemora ns delete' on it again", i);
		if (st != NS_LIVE || !ns_counted(v.state_word) ||
		    (v.keys == c->ns_keys[i] && v.bytes == c->ns_bytes[i]))
			continue;
		if (c->repair)
			nstable_set_usage(&pool->nstable, i, c->ns_keys[i], c->ns_bytes[i]);
		finding(c, c->repair, "namespace record %u: its usage says %llu keys and %llu bytes, "
			"the index holds %llu and %llu", i, (unsigned long long)v.keys,
			(unsigned long long)v.bytes, (unsigned long long)c->ns_keys[i],
			(unsigned long long)c->ns_bytes[i]);
	}
}

/* ---------------------------------------------------- lists and partitions */

/* Undoes the FREE marks a list walk made (up to `n` nodes from `ref`), so
 * the partition walk gives those blocks back to the rebuilt list. */
static void unmark_list(struct checker *c, uint32_t p, uint64_t ref, uint64_t n)
{
	struct heap *h = &c->pool->heap;
	uint64_t start = alloc_partition_start(h, p);
	for (uint64_t i = 0; i <= n && ref && ref <= h->partition_size / ALLOC_UNIT; i++) {
		uint64_t off = start + alloc_ref_rel(ref);
		if (c->mark[unit_of(c, off)] != M_FREE)
			break;
		c->mark[unit_of(c, off)] = M_NONE;
		ref = alloc_free_link(h, off);
	}
}

/* Walks one free list, marking its blocks; returns what is wrong, or NULL. */
static const char *walk_list(struct checker *c, uint32_t p, uint32_t cls, uint64_t ref,
			     uint64_t *n)
{
	shmemora_pool *pool = c->pool;
	struct heap *h = &pool->heap;
	uint64_t start = alloc_partition_start(h, p), max_nodes = h->partition_size / ALLOC_UNIT;
	for (*n = 0; ref; (*n)++) {
		if (ref > max_nodes)
			return "a link is out of range";
		uint64_t off = start + alloc_ref_rel(ref);
		if (alloc_block_owner(h, off, (int)cls) != (int)p)
			return "a link leaves the partition";
		uint64_t u = unit_of(c, off);
		if (c->mark[u] == M_FREE)
			return "it loops";
		if (c->mark[u] == M_LIVE)
			return "a block on it is also live";
		struct entry_snap snap;
		if (entry_read(&pool->entries, off, NULL, &snap) != ENTRY_RETRY)
			return "a block on it is marked published";
		c->mark[u] = M_FREE;
		ref = alloc_free_link(h, off);
	}
	return NULL;
}

static void check_free_lists(struct checker *c)
{
	shmemora_pool *pool = c->pool;
	for (uint32_t p = 0; p < pool->sb.max_hosts; p++) {
		struct heap_header *hh = alloc_header(&pool->heap, p);
		for (uint32_t cls = 0; cls < pool->sb.size_class_count; cls++) {
			uint64_t head = atomic_load_explicit(&hh->free_head[cls], memory_order_acquire);
			uint64_t n;
			const char *bad = walk_list(c, p, cls, alloc_head_ref(head), &n);
			if (!bad)
				continue;
			int fix = c->repair && !c->host_live[p];
			if (fix) {
				/* Empty the list; the walk below gives its blocks back. */
				unmark_list(c, p, alloc_head_ref(head), n);
				/* seq_cst store: its host is dead, nobody pops; the
				 * partition walk below pushes with release CASes. */
				atomic_store(&hh->free_head[cls], 0);
			}
			finding(c, fix, "partition %u, size class %u: free list broken (%s)%s", p,
				pool->sb.size_class[cls], bad,
				fix || !c->repair ? "" : "; its host is alive, not touched");
		}
	}
}

static void walk_partition(struct checker *c, uint32_t p)
{
	shmemora_pool *pool = c->pool;
	struct heap *h = &pool->heap;
	struct heap_header *hh = alloc_header(h, p);
	uint64_t start = alloc_partition_start(h, p);
	/* Relaxed: a bound for the walk; a live host may carve past it
	 * meanwhile, and its new blocks are then simply not walked. */
	uint64_t end = atomic_load_explicit(&hh->bump, memory_order_relaxed);
	if (end > h->partition_size || end % ALLOC_UNIT) {
		finding(c, 0, "partition %u: bump pointer %llu is out of range", p,
			(unsigned long long)end);
		return;
	}
	int fix = c->repair && !c->host_live[p];
	uint64_t live[SIZE_CLASSES_MAX] = { 0 }, leaks = 0;
	for (uint64_t pos = 0; pos < end;) {
		uint64_t off = start + pos;
		int cls = alloc_carved_class(h, off);
		if (alloc_block_owner(h, off, cls) != (int)p || h->class_size[cls] > end - pos) {
			finding(c, 0, "partition %u: block at %llu has an impossible size class; "
				"the rest of the partition cannot be walked", p,
				(unsigned long long)pos);
			break;
		}
		uint8_t m = c->mark[unit_of(c, off)];
		if (m == M_LIVE) {
			c->r->live_blocks++;
			live[cls]++;
		} else if (m == M_FREE) {
			c->r->free_blocks++;
		} else {
			c->r->leaked_blocks++;
			leaks++;
			if (fix)
				entry_retire(&pool->entries, off, cls);
		}
		pos += h->class_size[cls];
	}
	if (leaks)
		finding(c, fix, "partition %u: %llu block(s) neither live nor free (leaked, e.g. by "
			"a host that died before publishing)%s", p, (unsigned long long)leaks,
			fix || !c->repair ? "" : "; its host is alive, not touched");
	if (fix) /* statistics agree with what the walk found (no order needed) */
		for (uint32_t k = 0; k < pool->sb.size_class_count; k++)
			atomic_store_explicit(&hh->allocated[k], live[k], memory_order_relaxed);
}

static void walk_partitions(struct checker *c)
{
	for (uint32_t p = 0; p < c->pool->sb.max_hosts; p++)
		walk_partition(c, p);
}

/* ------------------------------------------------------------------ check */

static int checker_init(struct checker *c, shmemora_pool *pool, int flags,
			shmemora_check_report *r)
{
	memset(c, 0, sizeof *c);
	c->pool = pool;
	c->r = r;
	c->repair = (flags & SHMEMORA_CHECK_REPAIR) != 0;
	c->mark = calloc(pool->heap.data_size / ALLOC_UNIT + 1, 1);
	c->host_live = calloc(pool->sb.max_hosts, 1);
	c->used = calloc(pool->sb.cap_entries, sizeof *c->used);
	c->ns_keys = calloc(pool->sb.ns_entries, sizeof *c->ns_keys);
	c->ns_bytes = calloc(pool->sb.ns_entries, sizeof *c->ns_bytes);
	c->keybuf = malloc(pool->sb.max_key);
	if (!c->mark || !c->host_live || !c->used || !c->ns_keys || !c->ns_bytes || !c->keybuf)
		return error_set(SHMEMORA_E_NOMEM, "check: out of memory for its maps");
	return 0;
}

static void checker_fini(struct checker *c)
{
	free(c->mark);
	free(c->host_live);
	free(c->used);
	free(c->ns_keys);
	free(c->ns_bytes);
	free(c->keybuf);
}

int shmemora_check(shmemora_pool *pool, int flags, shmemora_check_report *report)
{
	error_clear();
	if (!pool || !report)
		return error_set(SHMEMORA_E_INVALID, "check: pool and report are required");
	int rc = protect_owned(&pool->prot);
	if (rc)
		return rc;
	shmemora_check_report *r = report;
	r->problems = r->repaired = r->keys = r->namespaces = 0;
	r->live_blocks = r->free_blocks = r->leaked_blocks = 0;
	r->tokens_live = r->tokens_revoked = 0;
	struct checker c;
	rc = checker_init(&c, pool, flags, r);
	if (rc == 0) {
		protect_saved s = protect_open(&pool->prot);
		check_superblocks(&c);
		check_registry(&c);
		if (pool->host_id < pool->sb.max_hosts) /* an observer has none */
			c.host_live[pool->host_id] = 0; /* our own partition: we are not writing */
		check_captable(&c);
		check_index(&c);
		check_namespaces(&c);
		check_free_lists(&c);
		walk_partitions(&c);
		protect_close(&pool->prot, s);
		error_clear();
	}
	checker_fini(&c);
	return rc;
}
