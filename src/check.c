/*
 * check.c — verify every structure of an attached pool, and repair what can
 * be repaired without touching live data.
 *
 * What is checked, in order:
 *   superblocks   both copies verify and agree with the one attach verified
 *   host registry no impossible states; dead hosts still holding slots
 *   capability    every used entry well-formed (id names its slot, scope,
 *   table         rights, region inside the raw area, parent present);
 *                 tokens the caller knows are verified with their MAC
 *   index         every slot names a valid, published entry whose key
 *                 hashes to a window that contains the slot
 *   free lists    no cycle, every node a free block of its class, never
 *                 also live
 *   partitions    walked block by block from the first to the bump
 *                 pointer; a block neither live nor free is a leak (e.g. a
 *                 host died between allocating and publishing)
 *
 * Repair (SHMEMORA_CHECK_REPAIR) rewrites a damaged superblock copy from the
 * verified one, frees dead hosts' slots, clears index slots that name
 * garbage, and, only in partitions whose owner is not alive, rebuilds broken
 * free lists and returns leaked blocks to them.  A live host may be
 * building an entry right now, so its partition is reported, not touched.
 */
#include "alloc.h"
#include "error.h"
#include "hosts.h"
#include "index.h"
#include "pool.h"
#include "protect.h"
#include "superblock.h"
#include "token.h"

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
	return (off - c->pool->sb.region[REGION_PARTITIONS].offset) / 64;
}

/* ------------------------------------------------------------ superblock */

static void check_superblocks(struct checker *c)
{
	shmemora_pool *pool = c->pool;
	static const uint64_t at[2] = { SB_PRIMARY_OFFSET, SB_BACKUP_OFFSET };
	static const char *name[2] = { "primary", "backup" };
	for (int i = 0; i < 2; i++) {
		struct superblock copy;
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

static void check_captable(struct checker *c)
{
	shmemora_pool *pool = c->pool;
	struct cap_entry *table = pool_region(pool, REGION_CAPTABLE);
	uint64_t raw = pool->sb.region[REGION_RAW].size;
	for (uint64_t i = 0; i < pool->sb.cap_entries; i++) {
		struct cap_fields f;
		if (!cap_snapshot(pool, &table[i], &f))
			continue;
		unsigned st = cap_state_of(f.state_word);
		if (st == CAP_FREE)
			continue;
		if (st == CAP_LIVE)
			c->r->tokens_live++;
		else if (st == CAP_REVOKED)
			c->r->tokens_revoked++;
		if (st == CAP_MINTING) {
			unsigned minter = cap_minter_of(f.state_word);
			if (minter >= pool->sb.max_hosts || !c->host_live[minter])
				finding(c, 0, "capability %llu: left half-minted by host %u "
					"(freed by 'shmemora token gc')", (unsigned long long)i, minter);
			continue;
		}
		const char *bad = NULL;
		if ((f.id & CAP_INDEX_MASK) != i)
			bad = "its id names another slot";
		else if (f.scope > SHMEMORA_SCOPE_KEY)
			bad = "unknown scope";
		else if (f.rights == 0 || f.rights & ~(uint32_t)SHMEMORA_RIGHTS_ALL)
			bad = "impossible rights";
		else if (f.scope == SHMEMORA_SCOPE_REGION &&
			 (f.a > raw || f.b > raw - f.a || f.b == 0))
			bad = "region outside the raw area";
		else if (f.parent_id && !cap_entry_for(pool, f.parent_id))
			bad = "parent id names no slot";
		if (bad)
			finding(c, 0, "capability %llu (token %016llx): %s (its tag no longer "
				"verifies; revoke or gc it)", (unsigned long long)i,
				(unsigned long long)f.id, bad);
	}
	for (size_t t = 0; t < c->r->token_count; t++) {
		struct cap_fields f;
		if (protect_verify(pool, &c->r->tokens[t], 1, 1, &f) != 0)
			finding(c, 0, "token %016llx: %s", (unsigned long long)c->r->tokens[t].id,
				shmemora_errmsg());
	}
}

/* ------------------------------------------------------------------ index */

static void clear_slot(struct checker *c, _Atomic uint64_t *s, uint64_t v)
{
	if (c->repair) {
		atomic_compare_exchange_strong(s, &v, 0);
		coherence_writeback(&c->pool->coh, s, sizeof *s);
	}
}

static void check_index(struct checker *c)
{
	shmemora_pool *pool = c->pool;
	_Atomic uint64_t *slots = pool_region(pool, REGION_INDEX);
	uint64_t buckets = pool->sb.index_slots / SLOTS_PER_BUCKET;
	for (uint64_t i = 0; i < pool->sb.index_slots; i++) {
		uint64_t v = atomic_load_explicit(&slots[i], memory_order_acquire);
		if (!v)
			continue;
		uint64_t off = index_slot_offset(pool, v);
		struct kv_entry *e = off ? (struct kv_entry *)(pool->base + off) : NULL;
		int cls = e ? __atomic_load_n(&e->size_class, __ATOMIC_RELAXED) : -1;
		int owner = e ? alloc_check_block(pool, off, cls) : -1;
		if (owner < 0) {
			clear_slot(c, &slots[i], v);
			finding(c, c->repair, "index slot %llu names no valid block (%016llx)",
				(unsigned long long)i, (unsigned long long)v);
			continue;
		}
		if (v >> 63) { /* tentative */
			if (index_tentative_abandoned(pool, v)) {
				clear_slot(c, &slots[i], v);
				finding(c, c->repair, "index slot %llu: a tentative key left by dead "
					"host %d", (unsigned long long)i, owner);
			}
			continue;
		}
		uint64_t seq = atomic_load_explicit(&e->seq, memory_order_acquire);
		uint32_t klen = e->key_len, vlen = e->value_len;
		if ((seq & 1) || klen < 1 || klen > pool->sb.max_key || vlen > pool->sb.max_value ||
		    sizeof *e + (uint64_t)klen + vlen > pool->sb.size_class[cls]) {
			clear_slot(c, &slots[i], v);
			finding(c, c->repair, "index slot %llu: entry at %llu is %s",
				(unsigned long long)i, (unsigned long long)off,
				(seq & 1) ? "free or unfinished" : "malformed");
			continue;
		}
		struct index_key k = { e->ns_hash, (const uint8_t *)(e + 1), klen, 0 };
		index_hash(pool, &k);
		uint64_t home = k.hash & (buckets - 1), bucket = i / SLOTS_PER_BUCKET;
		if (((bucket - home) & (buckets - 1)) >= PROBE_BUCKETS) {
			clear_slot(c, &slots[i], v);
			finding(c, c->repair, "index slot %llu: its key does not hash near it",
				(unsigned long long)i);
			continue;
		}
		uint64_t u = unit_of(c, off);
		if (c->mark[u] == M_LIVE) {
			finding(c, 0, "entry at %llu is named by two index slots",
				(unsigned long long)off);
			continue;
		}
		c->mark[u] = M_LIVE;
		if (e->ns_hash == NS_CATALOG)
			c->r->namespaces++;
		else
			c->r->keys++;
	}
}

/* ---------------------------------------------------- lists and partitions */

/* Undoes the FREE marks a list walk made (up to `n` nodes from its head),
 * so the partition walk gives those blocks back to the rebuilt list. */
static void unmark_list(struct checker *c, uint32_t p, uint64_t head_rel, uint64_t n)
{
	shmemora_pool *pool = c->pool;
	uint64_t start = alloc_partition_start(pool, p), rel = head_rel;
	for (uint64_t i = 0; i <= n && rel && rel < pool->sb.partition_size && rel % 64 == 0; i++) {
		uint64_t u = unit_of(c, start + rel);
		if (c->mark[u] != M_FREE)
			break;
		c->mark[u] = M_NONE;
		rel = __atomic_load_n(&((struct kv_entry *)(pool->base + start + rel))->ns_hash,
				      __ATOMIC_RELAXED);
	}
}

static void check_free_lists(struct checker *c)
{
	shmemora_pool *pool = c->pool;
	uint64_t max_nodes = pool->sb.partition_size / 64;
	for (uint32_t p = 0; p < pool->sb.max_hosts; p++) {
		struct partition_header *ph = alloc_partition(pool, p);
		uint64_t start = alloc_partition_start(pool, p);
		for (uint32_t cls = 0; cls < pool->sb.size_class_count; cls++) {
			uint64_t h = atomic_load(&ph->free_head[cls]);
			uint64_t rel = (h & ((1ULL << 34) - 1)) * 64, n = 0;
			const char *bad = NULL;
			while (rel && !bad) {
				uint64_t off = start + rel;
				if (alloc_check_block(pool, off, (int)cls) != (int)p) {
					bad = "a link leaves the partition";
					break;
				}
				struct kv_entry *e = (struct kv_entry *)(pool->base + off);
				uint64_t u = unit_of(c, off);
				if (c->mark[u] == M_FREE)
					bad = "it loops";
				else if (c->mark[u] == M_LIVE)
					bad = "a block on it is also live";
				else if (!(atomic_load(&e->seq) & 1))
					bad = "a block on it is marked published";
				else if (++n > max_nodes)
					bad = "it is longer than the partition";
				if (bad)
					break;
				c->mark[u] = M_FREE;
				rel = __atomic_load_n(&e->ns_hash, __ATOMIC_RELAXED);
				if (rel % 64 || rel >= pool->sb.partition_size)
					bad = "a link is misaligned or out of range";
			}
			if (!bad)
				continue;
			int fix = c->repair && !c->host_live[p];
			if (fix) {
				/* Empty the list; the walk below gives its blocks back. */
				unmark_list(c, p, (h & ((1ULL << 34) - 1)) * 64, n);
				atomic_store(&ph->free_head[cls], 0);
			}
			finding(c, fix, "partition %u, size class %u: free list broken (%s)%s", p,
				pool->sb.size_class[cls], bad,
				fix || !c->repair ? "" : "; its host is alive, not touched");
		}
	}
}

static void walk_partitions(struct checker *c)
{
	shmemora_pool *pool = c->pool;
	for (uint32_t p = 0; p < pool->sb.max_hosts; p++) {
		struct partition_header *ph = alloc_partition(pool, p);
		uint64_t start = alloc_partition_start(pool, p);
		uint64_t end = atomic_load(&ph->bump);
		if (end == 0)
			continue;
		if (end < PARTITION_HEADER_BYTES || end > pool->sb.partition_size || end % 64) {
			finding(c, 0, "partition %u: bump pointer %llu is out of range", p,
				(unsigned long long)end);
			continue;
		}
		int fix = c->repair && !c->host_live[p];
		uint64_t live[SIZE_CLASSES_MAX] = { 0 }, leaks = 0;
		for (uint64_t pos = PARTITION_HEADER_BYTES; pos < end;) {
			uint64_t off = start + pos;
			struct kv_entry *e = (struct kv_entry *)(pool->base + off);
			int cls = __atomic_load_n(&e->size_class, __ATOMIC_RELAXED);
			if (alloc_check_block(pool, off, cls) != (int)p ||
			    pool->sb.size_class[cls] > end - pos) {
				finding(c, 0, "partition %u: block at %llu has an impossible size "
					"class; the rest of the partition cannot be walked", p,
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
				if (fix) {
					uint64_t seq = atomic_load(&e->seq);
					atomic_store(&e->seq, (seq & 1) ? seq + 2 : seq + 1);
					alloc_free(pool, off, cls);
				}
			}
			pos += pool->sb.size_class[cls];
		}
		if (leaks)
			finding(c, fix, "partition %u: %llu block(s) neither live nor free (leaked, "
				"e.g. by a host that died before publishing)%s", p,
				(unsigned long long)leaks,
				fix || !c->repair ? "" : "; its host is alive, not touched");
		if (fix) /* counters agree with what the walk found */
			for (uint32_t k = 0; k < pool->sb.size_class_count; k++)
				atomic_store(&ph->allocated[k], live[k]);
	}
}

int shmemora_check(shmemora_pool *pool, int flags, shmemora_check_report *report)
{
	error_clear();
	if (!pool || !report)
		return error_set(SHMEMORA_E_INVALID, "check: pool and report are required");
	shmemora_check_report *r = report;
	r->problems = r->repaired = r->keys = r->namespaces = 0;
	r->live_blocks = r->free_blocks = r->leaked_blocks = 0;
	r->tokens_live = r->tokens_revoked = 0;
	struct checker c = { pool, r, (flags & SHMEMORA_CHECK_REPAIR) != 0, NULL, NULL };
	c.mark = calloc(pool->sb.region[REGION_PARTITIONS].size / 64 + 1, 1);
	c.host_live = calloc(pool->sb.max_hosts, 1);
	int rc = 0;
	if (!c.mark || !c.host_live) {
		rc = error_set(SHMEMORA_E_NOMEM, "check: out of memory for the block map");
	} else {
		protect_saved s = protect_open(&pool->prot);
		check_superblocks(&c);
		check_registry(&c);
		if (pool->host_id < pool->sb.max_hosts) /* an observer has none */
			c.host_live[pool->host_id] = 0; /* our own partition: we are not writing */
		check_captable(&c);
		check_index(&c);
		check_free_lists(&c);
		walk_partitions(&c);
		protect_close(&pool->prot, s);
	}
	free(c.mark);
	free(c.host_live);
	return rc;
}
