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
 *   extents       every owned extent's state word, its free list (no
 *                 cycle, every node a free block of its class, never also
 *                 live) and its blocks, walked from the first to the bump
 *                 pointer: a block neither live nor free is held by its
 *                 host's threads (magazines, builds in flight) while the
 *                 host lives, and a leak once it is dead
 *
 * Repair (SHMEMORA_CHECK_REPAIR) rewrites a damaged superblock copy from the
 * verified one, frees dead hosts' slots, clears index slots that name
 * garbage or dead namespaces, recounts quotas and namespace usage, and,
 * only in extents whose owner is not alive, rebuilds broken free lists,
 * returns leaked blocks to them and gives back extents left empty.  A live
 * host (this handle's own included) may be building an entry right now,
 * or hold blocks in its threads' magazines, so its extents are reported,
 * not touched.  Every field read from the pool is read once, through the
 * owning module.
 */
#include "error.h"
#include "namespace.h"
#include "superblock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum mark { M_NONE = 0, M_LIVE = 1, M_FREE = 2 };

struct checker {
	shmemora_pool *pool;
	shmemora_check_report *r;
	int repair;
	uint8_t *mark;         /* one byte per 64-byte unit of the data region */
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
			entry_retire(&pool->entries, off, snap.size_class, UINT32_MAX, NULL);
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

/* ------------------------------------------------------------ extents */

/* What a walk of one extent found. */
struct extent_walk {
	uint64_t x, w, start, size, bump;  /* the extent, its state word as read */
	unsigned cls;
	uint32_t owner;
	uint64_t listed, live, held;
	uint64_t batched;                  /* in a live host's batch of remote frees */
	const char *bad_list;              /* why its free list is broken, or NULL */
	int fix;                           /* repair it: its owner is not alive */
};

/* Undoes the FREE marks a list walk made (up to `n` nodes from `ref`), so
 * the block walk finds those blocks unaccounted for. */
static void unmark_list(struct checker *c, const struct extent_walk *e, uint64_t ref, uint64_t n)
{
	struct heap *h = &c->pool->heap;
	for (uint64_t i = 0; i <= n && ref && ref <= h->extent_size / ALLOC_UNIT; i++) {
		uint64_t off = e->start + alloc_ref_rel(ref);
		if (c->mark[unit_of(c, off)] != M_FREE)
			break;
		c->mark[unit_of(c, off)] = M_NONE;
		ref = alloc_free_link(h, off);
	}
}

/* Is this stable entry whole: its key read and its MAC verified? */
static bool entry_published(struct checker *c, const struct entry_snap *snap)
{
	entry_copy_key(&c->pool->entries, snap, c->keybuf);
	return entry_mac_ok(&c->pool->entries, snap, c->keybuf);
}

/* Walks the extent's free list, marking its blocks FREE; e->bad_list says
 * what is wrong with it. */
static void walk_list(struct checker *c, struct extent_walk *e, uint64_t ref)
{
	shmemora_pool *pool = c->pool;
	struct heap *h = &pool->heap;
	for (e->listed = 0; ref; e->listed++) {
		uint64_t rel = alloc_ref_rel(ref);
		uint64_t off = e->start + rel;
		if (ref > h->extent_size / ALLOC_UNIT || rel >= e->bump ||
		    !alloc_block_valid(h, off, (int)e->cls)) {
			e->bad_list = "a link leaves the carved blocks of its class";
			return;
		}
		uint64_t u = unit_of(c, off);
		if (c->mark[u] == M_FREE) {
			e->bad_list = "it loops";
			return;
		}
		if (c->mark[u] == M_LIVE) {
			e->bad_list = "a block on it is also live";
			return;
		}
		/* A free block is retired (odd seq) or was never built (a block
		 * a magazine took and gave back unused holds what it held before
		 * it was carved); only a whole entry with a MAC that verifies is
		 * one that is published. */
		struct entry_snap snap;
		if (entry_read(&pool->entries, off, NULL, &snap) == ENTRY_OTHER &&
		    entry_published(c, &snap)) {
			e->bad_list = "a block on it is a published entry";
			return;
		}
		c->mark[u] = M_FREE;
		ref = alloc_free_link(h, off);
	}
}

/* Reads extent x's words once and checks them; 0 when the extent is free
 * or cannot be walked (a finding says why). */
static int read_extent(struct checker *c, uint64_t x, struct extent_walk *e)
{
	struct heap *h = &c->pool->heap;
	struct extent_record *r = alloc_extent(h, x);
	memset(e, 0, sizeof *e);
	e->x = x;
	e->start = alloc_extent_start(h, x);
	/* Acquire: pairs with the claim (or the last free) that set it. */
	e->w = atomic_load_explicit(&r->state, memory_order_acquire);
	if (ext_owner1(e->w) == 0) {
		if (e->w != ext_pack(ext_gen(e->w), 0, false, 0, 0))
			finding(c, 0, "extent %llu: free, but its state word says more (%016llx)",
				(unsigned long long)x, (unsigned long long)e->w);
		return 0;
	}
	e->owner = ext_owner1(e->w) - 1;
	e->cls = ext_class(e->w);
	if (e->owner >= c->pool->sb.max_hosts || e->cls >= h->class_count) {
		finding(c, 0, "extent %llu: its state word names host %u and size class %u, "
			"which do not exist; its blocks cannot be walked", (unsigned long long)x,
			e->owner, e->cls);
		return 0;
	}
	e->size = h->class_size[e->cls];
	/* Relaxed: a bound for the walk; an owner carving meanwhile adds
	 * blocks that are then simply not walked. */
	e->bump = atomic_load_explicit(&r->bump, memory_order_relaxed);
	if (e->bump > h->extent_size || e->bump % e->size) {
		finding(c, 0, "extent %llu: bump pointer %llu is out of range",
			(unsigned long long)x, (unsigned long long)e->bump);
		return 0;
	}
	e->fix = c->repair && !c->host_live[e->owner];
	return 1;
}

/* Is the block at `off` (neither live nor free) waiting in the batch of
 * remote frees of a host that holds its slot now, at the epoch it marked
 * the block with (alloc.h)?  Such a block is that host's to push. */
static bool batched_by_live_host(struct checker *c, uint64_t off)
{
	uint64_t link = alloc_free_link(&c->pool->heap, off);
	return alloc_link_is_batch_mark(link) &&
	       hosts_incarnation_alive(&c->pool->registry, alloc_batch_mark_host(link),
				       alloc_batch_mark_epoch(link));
}

/* Counts the extent's carved blocks by their marks; with `leaks`, also
 * lists the blocks that are neither live nor free (up to `cap`).  In a dead
 * host's extent, a block another host's batch holds is not a leak. */
static void walk_blocks(struct checker *c, struct extent_walk *e, uint64_t *leaks,
			uint64_t cap)
{
	for (uint64_t rel = 0; rel + e->size <= e->bump; rel += e->size) {
		uint8_t m = c->mark[unit_of(c, e->start + rel)];
		if (m == M_LIVE) {
			e->live++;
		} else if (m != M_FREE) {
			if (!c->host_live[e->owner] && batched_by_live_host(c, e->start + rel)) {
				e->batched++;
				continue;
			}
			if (leaks && e->held < cap)
				leaks[e->held] = e->start + rel;
			e->held++;
		}
	}
}

/* Is host slot i held now (a host may have attached since the check began)? */
static int host_alive_now(struct checker *c, uint32_t i)
{
	shmemora_host h;
	hosts_describe(&c->pool->registry, i, NULL, &h);
	return h.state == SHMEMORA_HOST_ATTACHED || h.state == SHMEMORA_HOST_CLAIMING;
}

/*
 * Frees the leaked blocks of a dead host's extent.  A block another host is
 * freeing right now (its key deleted: retired, not yet pushed) also looks
 * leaked, so the leaks are freed only if the extent's state word and list
 * head are unchanged after a grace period: a push or a count change in
 * between means a free was in flight, and the extent is left for the next
 * run.  A free that waits in a live host's batch cannot be seen that way (it
 * may wait for ever): its block carries the batcher's mark (alloc.h), and
 * walk_blocks counts it as that host's; a mark that appears during the
 * grace period is a free in flight too.  What remains is a host paused for
 * the whole grace period between retiring a block of a dead host's extent
 * and marking or pushing it (docs/api.md).
 */
#define REPAIR_GRACE_NS 20000000L
static int free_leaks(struct checker *c, const struct extent_walk *e, uint64_t head,
		      const uint64_t *leaks, uint64_t n)
{
	struct extent_record *r = alloc_extent(&c->pool->heap, e->x);
	struct timespec grace = { 0, REPAIR_GRACE_NS };
	nanosleep(&grace, NULL);
	if (atomic_load(&r->state) != e->w || atomic_load(&r->free_head) != head ||
	    atomic_load(&r->bump) != e->bump || host_alive_now(c, e->owner))
		return 0; /* a free in flight, or a new holder of the slot at work */
	/* A free that batched a block since the walk (its host retired it just
	 * before we looked, and marked it after) is in flight too. */
	for (uint64_t i = 0; i < n; i++)
		if (batched_by_live_host(c, leaks[i]))
			return 0;
	for (uint64_t i = 0; i < n; i++)
		entry_make_unreadable(&c->pool->entries, leaks[i]);
	/* Back on the list, and the count made what the index says is live plus
	 * what live hosts' batches hold (the leaks a dead thread held were
	 * counted; blocks cut off a broken list were not: either way none of
	 * them is out of the list now). */
	return alloc_repair_extent(&c->pool->heap, e->x, e->w, leaks, n, e->live + e->batched);
}

static void check_extent(struct checker *c, uint64_t x, uint64_t *leaks)
{
	shmemora_pool *pool = c->pool;
	struct heap *h = &pool->heap;
	struct extent_walk e;
	if (!read_extent(c, x, &e))
		return;
	struct extent_record *r = alloc_extent(h, x);
	uint64_t head = atomic_load_explicit(&r->free_head, memory_order_acquire);
	walk_list(c, &e, alloc_head_ref(head));
	if (e.bad_list) {
		if (e.fix) {
			/* Empty the list; its blocks count as leaks below.  Its
			 * owner is dead: only other hosts' frees push here, and
			 * the CAS keeps theirs. */
			unmark_list(c, &e, alloc_head_ref(head), e.listed);
			uint64_t empty = alloc_head_pack(alloc_head_tag(head) + 1, 0);
			if (atomic_compare_exchange_strong(&r->free_head, &head, empty))
				head = empty;
			else
				e.fix = 0;
		}
		finding(c, e.fix, "extent %llu (host %u, size class %u): free list broken (%s)%s",
			(unsigned long long)x, e.owner, h->class_size[e.cls], e.bad_list,
			e.fix || !c->repair ? "" : "; not touched");
		e.listed = 0;
	}
	uint64_t cap = h->extent_size / ALLOC_UNIT;
	walk_blocks(c, &e, e.fix ? leaks : NULL, cap);
	c->r->live_blocks += e.live;
	c->r->free_blocks += e.listed;
	if (ext_live(e.w) < e.live)
		finding(c, 0, "extent %llu: its count says %llu live blocks, the index names %llu",
			(unsigned long long)x, (unsigned long long)ext_live(e.w),
			(unsigned long long)e.live);
	if (c->host_live[e.owner]) {
		c->r->held_blocks += e.held; /* its threads' magazines, builds in flight */
		return;
	}
	c->r->held_blocks += e.batched; /* other hosts' batches: theirs to push */
	/* Anything to mend: leaks, a count the walk disagrees with, or the
	 * held bit of a host that will never carve again. */
	bool mend = e.held || ext_live(e.w) != e.live + e.batched || ext_held(e.w);
	int fixed = e.fix && mend && free_leaks(c, &e, head, leaks, e.held);
	if (e.held) {
		c->r->leaked_blocks += e.held;
		finding(c, fixed, "extent %llu (host %u, not alive): %llu block(s) neither live nor "
			"free (held by its threads when it died, or being built)%s",
			(unsigned long long)x, e.owner, (unsigned long long)e.held,
			fixed || !c->repair ? "" : e.fix ? "; it changed meanwhile: run the repair "
			"again" : "; not touched");
	}
}

static void check_extents(struct checker *c)
{
	uint64_t *leaks = c->repair ? malloc(c->pool->heap.extent_size / ALLOC_UNIT *
					     sizeof *leaks) : NULL;
	if (c->repair && !leaks) {
		finding(c, 0, "out of memory for the extent walk: extents not checked");
		return;
	}
	for (uint64_t x = 0; x < c->pool->heap.extent_count; x++)
		check_extent(c, x, leaks);
	free(leaks);
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
	r->live_blocks = r->free_blocks = r->leaked_blocks = r->held_blocks = 0;
	r->tokens_live = r->tokens_revoked = 0;
	struct checker c;
	rc = checker_init(&c, pool, flags, r);
	if (rc == 0) {
		protect_saved s = protect_open(&pool->prot);
		check_superblocks(&c);
		check_registry(&c);
		check_captable(&c);
		check_index(&c);
		check_namespaces(&c);
		check_extents(&c);
		protect_close(&pool->prot, s);
		error_clear();
	}
	checker_fini(&c);
	return rc;
}
