/*
 * index.c — the lock-free hash index (protocol in index.h).
 *
 * Slot value: bit 63 TENTATIVE, bits 48..62 fingerprint (15 bits of the
 * hash), bits 0..47 the entry's pool offset / 64.  Empty is 0.
 *
 * Reading an entry is a seqlock read: load seq (acquire), read, fence, load
 * seq again.  Memory of a freed entry stays mapped, so a reader racing a
 * free reads garbage at worst, which the seq check then discards; every
 * length it reads is bounded before it is used.
 */
#include "index.h"
#include "alloc.h"
#include "error.h"
#include "hosts.h"
#include "pool.h"
#include "seqlock.h"

#include <sched.h>
#include <string.h>
#include <xxhash.h>

#define TENTATIVE (1ULL << 63)
#define FP_SHIFT 48
#define FP_MASK 0x7fffULL
#define OFF_MASK ((1ULL << 48) - 1)

static _Atomic uint64_t *slots_of(const struct shmemora_pool *pool)
{
	return pool_region(pool, REGION_INDEX);
}

/* XXH3 of the key, seeded with the pool's secret index seed mixed with the
 * namespace: each namespace hashes with its own keyed function, and no one
 * without the pool key can aim keys at one bucket. */
void index_hash(const struct shmemora_pool *pool, struct index_key *k)
{
	uint64_t seed = protect_hash_seed(&pool->prot, 1) ^ (k->ns_hash * 0x9e3779b97f4a7c15ULL);
	k->hash = XXH3_64bits_withSeed(k->key, k->len, seed);
}

static uint64_t fingerprint(uint64_t hash) { return (hash >> FP_SHIFT) & FP_MASK; }

static uint64_t slot_make(uint64_t hash, uint64_t offset, bool tentative)
{
	return (tentative ? TENTATIVE : 0) | fingerprint(hash) << FP_SHIFT | (offset / 64);
}

uint64_t index_slot_offset(const struct shmemora_pool *pool, uint64_t v)
{
	uint64_t off = (v & OFF_MASK) * 64;
	const struct layout_region *r = &pool->sb.region[REGION_PARTITIONS];
	if (off < r->offset || off - r->offset >= r->size)
		return 0;
	return off;
}

/* Slot i of the window of hash h. */
static _Atomic uint64_t *window_slot(const struct shmemora_pool *pool, uint64_t h, unsigned i)
{
	uint64_t buckets = pool->sb.index_slots / SLOTS_PER_BUCKET;
	uint64_t b = ((h & (buckets - 1)) + i / SLOTS_PER_BUCKET) & (buckets - 1);
	return &slots_of(pool)[b * SLOTS_PER_BUCKET + i % SLOTS_PER_BUCKET];
}

#define WINDOW (PROBE_BUCKETS * SLOTS_PER_BUCKET)

/*
 * Reads the entry a slot points at and tells whether it holds key `k`.
 * Returns 1 (match, *seq set), 0 (another key), -1 (changed under us:
 * retry) or E_CORRUPT (the slot or entry fails validation).
 */
static int entry_matches(struct shmemora_pool *pool, const struct index_key *k, uint64_t v,
			 uint64_t *offset, uint64_t *seq)
{
	uint64_t off = index_slot_offset(pool, v);
	if (!off)
		return error_set(SHMEMORA_E_CORRUPT, "index slot %016llx points outside the data "
				 "partitions", (unsigned long long)v);
	struct kv_entry *e = (struct kv_entry *)(pool->base + off);
	coherence_invalidate(&pool->coh, e, sizeof *e + k->len);
	uint64_t s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
	if (s1 & 1)
		return -1; /* freed or being rebuilt since we read the slot */
	uint8_t cls = __atomic_load_n(&e->size_class, __ATOMIC_RELAXED);
	uint32_t klen = __atomic_load_n(&e->key_len, __ATOMIC_RELAXED);
	uint32_t vlen = __atomic_load_n(&e->value_len, __ATOMIC_RELAXED);
	uint64_t ns = __atomic_load_n(&e->ns_hash, __ATOMIC_RELAXED);
	int sane = alloc_check_block(pool, off, cls) >= 0 && klen <= pool->sb.max_key &&
		   vlen <= pool->sb.max_value &&
		   sizeof *e + (uint64_t)klen + vlen <= pool->sb.size_class[cls];
	int match = sane && ns == k->ns_hash && klen == k->len &&
		    seqlock_equal((const uint8_t *)(e + 1), k->key, k->len);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&e->seq, memory_order_relaxed) != s1)
		return -1;
	if (!sane)
		return error_set(SHMEMORA_E_CORRUPT, "entry at offset %llu has an impossible header "
				 "(class %u, key %u bytes, value %u bytes)", (unsigned long long)off,
				 cls, klen, vlen);
	*offset = off;
	*seq = s1;
	return match;
}

int index_find(struct shmemora_pool *pool, const struct index_key *k, struct index_hit *hit)
{
	for (int attempt = 0; attempt < 1000; attempt++) {
		int retry = 0;
		for (unsigned i = 0; i < WINDOW && !retry; i++) {
			_Atomic uint64_t *s = window_slot(pool, k->hash, i);
			coherence_invalidate(&pool->coh, s, sizeof *s);
			/* Acquire: pairs with the release CAS that published the
			 * slot, so the entry it names is fully written. */
			uint64_t v = atomic_load_explicit(s, memory_order_acquire);
			if (v == 0 || (v & TENTATIVE) || ((v >> FP_SHIFT) & FP_MASK) != fingerprint(k->hash))
				continue;
			uint64_t off, seq;
			int m = entry_matches(pool, k, v, &off, &seq);
			if (m < -1)
				return m;
			if (m == -1) {
				retry = 1;
			} else if (m == 1) {
				/* Still published in this slot? Then it was live at a
				 * moment between the two loads. */
				if (atomic_load_explicit(s, memory_order_acquire) != v) {
					retry = 1;
					continue;
				}
				*hit = (struct index_hit){ s, v, off, (struct kv_entry *)(pool->base + off), seq };
				return 1;
			}
		}
		if (!retry)
			return 0;
	}
	return error_set(SHMEMORA_E_BUSY, "index lookup kept racing concurrent writers");
}

bool index_tentative_abandoned(const struct shmemora_pool *pool, uint64_t v)
{
	uint64_t off = index_slot_offset(pool, v);
	if (!off)
		return true;
	/* The entry names the host incarnation that built it.  If the slot has
	 * moved on (killed, and taken over by a new process) or its holder is
	 * dead, nobody will ever confirm this slot. */
	const struct kv_entry *e = (const struct kv_entry *)(pool->base + off);
	uint32_t host = __atomic_load_n(&e->owner_host, __ATOMIC_RELAXED);
	uint32_t epoch = __atomic_load_n(&e->owner_epoch, __ATOMIC_RELAXED);
	return !hosts_incarnation_alive(&pool->registry, host, epoch);
}

/* After placing our tentative slot at window position `mine`: is there a
 * competitor that wins?  Returns 1 (we lose: a confirmed copy, hit filled,
 * or a live tentative one at a lower position), 0 (we win), or <0 error. */
static int competitor(struct shmemora_pool *pool, const struct index_key *k, unsigned mine,
		      struct index_hit *hit, bool *wait)
{
	*wait = false;
	for (unsigned i = 0; i < WINDOW; i++) {
		if (i == mine)
			continue;
		_Atomic uint64_t *s = window_slot(pool, k->hash, i);
		coherence_invalidate(&pool->coh, s, sizeof *s);
		uint64_t v = atomic_load(s);
		if (v == 0 || ((v >> FP_SHIFT) & FP_MASK) != fingerprint(k->hash))
			continue;
		uint64_t off, seq;
		int m = entry_matches(pool, k, v & ~TENTATIVE, &off, &seq);
		if (m < -1)
			return m;
		if (m != 1)
			continue; /* another key, or changing: not a copy of ours */
		if (!(v & TENTATIVE)) {
			*hit = (struct index_hit){ s, v, off, (struct kv_entry *)(pool->base + off), seq };
			return 1;
		}
		if (i < mine) {
			if (index_tentative_abandoned(pool, v)) {
				uint64_t expect = v;
				atomic_compare_exchange_strong(s, &expect, 0);
				continue;
			}
			*wait = true; /* a live writer ahead of us: let it finish */
			return 1;
		}
	}
	return 0;
}

int index_publish_new(struct shmemora_pool *pool, const struct index_key *k, uint64_t offset,
		      struct index_hit *hit)
{
	uint64_t confirmed = slot_make(k->hash, offset, false);
	uint64_t tentative = confirmed | TENTATIVE;
	for (int attempt = 0; attempt < 100000; attempt++) {
		/* Claim the first empty slot of the window. */
		unsigned mine = WINDOW;
		_Atomic uint64_t *s = NULL;
		for (unsigned i = 0; i < WINDOW; i++) {
			s = window_slot(pool, k->hash, i);
			coherence_invalidate(&pool->coh, s, sizeof *s);
			uint64_t expect = 0;
			/* Release: our entry is written before the slot names it. */
			if (atomic_load_explicit(s, memory_order_relaxed) == 0 &&
			    atomic_compare_exchange_strong_explicit(s, &expect, tentative,
								    memory_order_seq_cst,
								    memory_order_relaxed)) {
				mine = i;
				break;
			}
		}
		if (mine == WINDOW)
			return error_set(SHMEMORA_E_NO_SPACE,
					 "the index has no free slot near this key's home bucket "
					 "(%llu slots): create the pool with more --index-slots",
					 (unsigned long long)pool->sb.index_slots);
		coherence_writeback(&pool->coh, s, sizeof *s);
		bool wait;
		int c = competitor(pool, k, mine, hit, &wait);
		if (c == 0) {
			uint64_t expect = tentative;
			if (atomic_compare_exchange_strong(s, &expect, confirmed)) {
				coherence_writeback(&pool->coh, s, sizeof *s);
				return 0;
			}
			/* Cleared as if we were dead: place it again. */
			continue;
		}
		/* We lose (or must wait): withdraw our tentative slot. */
		uint64_t expect = tentative;
		atomic_compare_exchange_strong(s, &expect, 0);
		coherence_writeback(&pool->coh, s, sizeof *s);
		if (c < 0)
			return c;
		if (!wait)
			return 1;
		sched_yield();
	}
	return error_set(SHMEMORA_E_BUSY, "publishing a new key kept racing another writer");
}

bool index_replace(struct shmemora_pool *pool, const struct index_hit *hit, uint64_t offset)
{
	uint64_t expect = hit->slot_value;
	uint64_t fp_hash = ((hit->slot_value >> FP_SHIFT) & FP_MASK) << FP_SHIFT;
	uint64_t v = fp_hash | (offset / 64);
	/* Release via seq_cst: the new entry is written before it is named. */
	bool ok = atomic_compare_exchange_strong(hit->slot, &expect, v);
	coherence_writeback(&pool->coh, hit->slot, sizeof *hit->slot);
	return ok;
}

bool index_remove(struct shmemora_pool *pool, const struct index_hit *hit)
{
	uint64_t expect = hit->slot_value;
	bool ok = atomic_compare_exchange_strong(hit->slot, &expect, 0);
	coherence_writeback(&pool->coh, hit->slot, sizeof *hit->slot);
	return ok;
}
