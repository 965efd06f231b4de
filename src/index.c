/*
 * index.c — the lock-free hash index (protocol in index.h).
 *
 * Reading an entry is entry.c's seqlock read.  Memory of a freed entry
 * stays mapped, so a reader racing a free reads garbage at worst, which the
 * seq check then discards; every length it uses comes from a snapshot that
 * was validated first.
 *
 * Retry bounds.  A lookup starts over only when an entry it was reading was
 * retired under it, i.e. when a writer replaced that key meanwhile; a
 * thousand such losses in a row means the key is being rewritten without
 * pause, and the caller gets E_CONTENDED rather than a spin of unbounded
 * length.  A publisher waits (yielding) only behind another live writer's
 * tentative slot for the same key, which that writer resolves within one
 * window scan; FIND_ATTEMPTS and PUBLISH_ATTEMPTS bound both.
 */
#include "index.h"
#include "error.h"
#include "timing.h"

#include <sched.h>

#define FIND_ATTEMPTS 1000
#define PUBLISH_ATTEMPTS 100000

uint64_t index_slot_offset(const struct kv_index *ix, uint64_t v)
{
	const struct heap *h = ix->entries->heap;
	uint64_t off = (v & ((1ULL << SLOT_OFFSET_BITS) - 1)) * 64;
	if (off < h->data_offset || off - h->data_offset >= h->data_size)
		return 0;
	return off;
}

uint64_t index_window_position(const struct kv_index *ix, uint64_t h, unsigned i)
{
	uint64_t buckets = ix->count / SLOTS_PER_BUCKET;
	uint64_t b = ((h & (buckets - 1)) + i / SLOTS_PER_BUCKET) & (buckets - 1);
	return b * SLOTS_PER_BUCKET + i % SLOTS_PER_BUCKET;
}

_Atomic uint64_t *index_window_slot(const struct kv_index *ix, uint64_t h, unsigned i)
{
	return &ix->slots[index_window_position(ix, h, i)];
}

bool index_in_window(const struct kv_index *ix, uint64_t h, uint64_t pos)
{
	uint64_t buckets = ix->count / SLOTS_PER_BUCKET;
	uint64_t home = h & (buckets - 1), bucket = pos / SLOTS_PER_BUCKET;
	return ((bucket - home) & (buckets - 1)) < PROBE_BUCKETS;
}

/* Reads slot s.  Acquire: pairs with the CAS that published the slot, so
 * the entry it names is built (and, in flush mode, written back: the
 * builder's write-back precedes its publishing CAS).  Slots are in the sync
 * area, coherent in both modes: nothing to invalidate. */
static uint64_t load_slot(_Atomic uint64_t *s)
{
	return atomic_load_explicit(s, memory_order_acquire);
}

void index_prefetch_bucket(const struct kv_index *ix, uint64_t hash)
{
	/* A bucket is one line: the first holds most keys (low load). */
	__builtin_prefetch(index_window_slot(ix, hash, 0), 0, 3);
}

void index_prefetch_entries(const struct kv_index *ix, uint64_t hash)
{
	_Atomic uint64_t *bucket = index_window_slot(ix, hash, 0);
	for (unsigned i = 0; i < SLOTS_PER_BUCKET; i++) {
		/* Relaxed: a hint; index_find loads the slot again for real. */
		uint64_t v = atomic_load_explicit(&bucket[i], memory_order_relaxed);
		if (v && index_slot_fp_matches(v, hash)) {
			uint64_t off = index_slot_offset(ix, v);
			const uint8_t *e = ix->entries->heap->base + off;
			/* The header, and as much of the value as the slot's hint
			 * says, four lines at most. */
			uint64_t bytes = index_slot_entry_bytes(v);
			for (uint64_t at = 0; off && at < bytes && at < 4 * 64; at += 64)
				__builtin_prefetch(e + at, 0, 3);
		}
	}
}

uint64_t index_slot_load(const struct kv_index *ix, uint64_t pos)
{
	return atomic_load(&ix->slots[pos]); /* seq_cst: see index.h */
}

/* Reads the entry slot position `pos` names, with its key and MAC, for a
 * walk: 1 and item filled, 0 when the slot is empty, tentative or names an
 * invalid entry, or E_CONTENDED.  An entry replaced under us leaves the slot
 * naming its successor (a replace keeps the slot): read that instead, so a
 * key present throughout is never skipped. */
static int walk_item(struct kv_index *ix, uint64_t pos, uint8_t *keybuf, struct index_item *item)
{
	for (int attempt = 0; attempt < FIND_ATTEMPTS; attempt++) {
		uint64_t v = index_slot_load(ix, pos);
		if (v == 0 || index_slot_is_tentative(v))
			return 0;
		uint64_t off = index_slot_offset(ix, v);
		if (!off)
			return 0;
		int m = entry_read(ix->entries, off, NULL, &item->snap);
		if (m < ENTRY_RETRY)
			return 0;
		if (m == ENTRY_RETRY)
			continue;
		entry_copy_key(ix->entries, &item->snap, keybuf);
		if (!entry_unchanged(ix->entries, &item->snap))
			continue;
		if (!entry_mac_ok(ix->entries, &item->snap, keybuf))
			return 0;
		item->pos = pos;
		item->slot = &ix->slots[pos];
		item->slot_value = v;
		item->key = keybuf;
		return 1;
	}
	return error_set(SHMEMORA_E_CONTENDED, "index slot %llu kept changing during a walk",
			 (unsigned long long)pos);
}

int index_walk(struct kv_index *ix, uint64_t from, uint8_t *keybuf, index_visit visit,
	       void *arg, uint64_t *next)
{
	for (uint64_t pos = from; pos < ix->count; pos++) {
		for (int again = 0; again < FIND_ATTEMPTS; again++) {
			struct index_item item;
			int got = walk_item(ix, pos, keybuf, &item);
			if (got < 0) {
				if (next)
					*next = pos;
				return got;
			}
			if (!got)
				break;
			int rc = visit(arg, &item);
			if (rc == INDEX_WALK_AGAIN)
				continue;
			if (rc) {
				if (next)
					*next = pos + 1;
				return rc;
			}
			break;
		}
	}
	if (next)
		*next = ix->count;
	return 0;
}

/* Does slot s still hold v, after the reads of the entry it named?  Then
 * those reads were of one whole entry (entry.h: an entry is retired only
 * after its slot stops naming it, and a rebuild changes the build tag). */
static bool slot_still(_Atomic uint64_t *s, uint64_t v)
{
	/* The entry's reads complete before the slot is read again. */
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(s, memory_order_relaxed) == v;
}

/* Reads the entry slot value v names, for key k.  Returns an enum
 * entry_read_result or E_CORRUPT; MATCH and OTHER are the caller's to
 * confirm with slot_still. */
static int read_named(struct kv_index *ix, const struct entry_key *k, uint64_t v,
		      struct entry_snap *snap)
{
	uint64_t off = index_slot_offset(ix, v);
	if (!off)
		return error_set(SHMEMORA_E_CORRUPT, "index slot %016llx points outside the data "
				 "region", (unsigned long long)v);
	return entry_lookup(ix->entries, off, k, index_slot_entry_bytes(v), snap);
}

int index_find(struct kv_index *ix, const struct entry_key *k, uint64_t hash,
	       struct index_hit *hit)
{
	for (int attempt = 0; attempt < FIND_ATTEMPTS; attempt++) {
		bool retry = false;
		for (unsigned i = 0; i < INDEX_WINDOW && !retry; i++) {
			_Atomic uint64_t *s = index_window_slot(ix, hash, i);
			uint64_t v = load_slot(s);
			if (v == 0 || index_slot_is_tentative(v) || !index_slot_fp_matches(v, hash))
				continue;
			int m = read_named(ix, k, v, &hit->snap);
			if (m < ENTRY_RETRY)
				return m;
			if (m == ENTRY_RETRY) {
				retry = true;
			} else if (m == ENTRY_OTHER) {
				/* Another key's entry, or ours replaced and its block
				 * rebuilt for another key since we read the slot: then
				 * the slot has moved on, and the key is still here. */
				retry = !slot_still(s, v);
			} else {
				/* Still published in this slot? Then it was live, and
				 * whole as read, at a moment between the two loads. */
				if (!slot_still(s, v)) {
					retry = true;
					continue;
				}
				hit->slot = s;
				hit->slot_value = v;
				return 1;
			}
		}
		if (!retry)
			return 0;
	}
	return error_set(SHMEMORA_E_CONTENDED, "index lookup kept racing concurrent writers "
			 "of this key (%d attempts)", FIND_ATTEMPTS);
}

bool index_tentative_abandoned(const struct kv_index *ix, uint64_t v)
{
	uint64_t off = index_slot_offset(ix, v);
	struct entry_snap snap;
	if (!off || entry_read(ix->entries, off, NULL, &snap) != ENTRY_OTHER)
		return true;
	/* The entry names the host incarnation that built it.  If the slot has
	 * moved on (killed, and taken over by a new process) or its holder is
	 * dead, nobody will ever confirm this slot. */
	return !hosts_incarnation_alive(ix->registry, snap.owner_host, snap.owner_epoch);
}

bool index_clear_slot(struct kv_index *ix, _Atomic uint64_t *s, uint64_t v)
{
	/* seq_cst, like every slot CAS: see index_publish_new. */
	(void)ix;
	bool ok = atomic_compare_exchange_strong(s, &v, 0);
	if (!ok)
		contention[CONT_INDEX]++;
	return ok;
}

/*
 * Does slot s name an entry of key k?  ENTRY_MATCH with *v and *snap, 0
 * when it does not, or an error.  An entry that changed while it was read
 * (retired by a replace, or its block rebuilt for another key) leaves the
 * slot naming its successor, which may well be of our key: look again until
 * the slot holds still over a read.  (Taking such an entry for "not ours"
 * let a writer that read the slot of another writer's new key just as that
 * writer replaced it confirm a second slot for the key.)
 */
static int slot_names_key(struct kv_index *ix, const struct entry_key *k, uint64_t hash,
			  _Atomic uint64_t *s, uint64_t *v, struct entry_snap *snap)
{
	for (int attempt = 0; attempt < FIND_ATTEMPTS; attempt++) {
		*v = atomic_load(s); /* seq_cst: see competitor() */
		if (*v == 0 || !index_slot_fp_matches(*v, hash))
			return 0;
		int m = read_named(ix, k, *v & ~SLOT_TENTATIVE, snap);
		if (m < ENTRY_RETRY)
			return m;
		if (m != ENTRY_RETRY && slot_still(s, *v))
			return m == ENTRY_MATCH ? ENTRY_MATCH : 0;
	}
	return error_set(SHMEMORA_E_CONTENDED, "an index slot in this key's window kept "
			 "changing while a new key was published (%d attempts)", FIND_ATTEMPTS);
}

/*
 * After placing our tentative slot at window position `mine`: is there a
 * competitor that wins?  Returns 1 (we lose: a confirmed copy, hit filled,
 * or a live tentative one at a lower position: *wait), 0 (we win), or <0.
 *
 * The loads here are sequentially consistent, and so is the CAS that placed
 * our tentative slot: two writers of one key each store their slot and then
 * load the other's (a store-buffering pattern), and only sequential
 * consistency guarantees that at least one of them sees the other.  With
 * release/acquire both could miss each other and both confirm.
 */
static int competitor(struct kv_index *ix, const struct entry_key *k, uint64_t hash,
		      unsigned mine, struct index_hit *hit, bool *wait)
{
	*wait = false;
	for (unsigned i = 0; i < INDEX_WINDOW; i++) {
		if (i == mine)
			continue;
		_Atomic uint64_t *s = index_window_slot(ix, hash, i);
		uint64_t v;
		struct entry_snap snap;
		int m = slot_names_key(ix, k, hash, s, &v, &snap);
		if (m < 0)
			return m;
		if (m != ENTRY_MATCH)
			continue; /* empty, or another key's */
		if (!index_slot_is_tentative(v)) {
			*hit = (struct index_hit){ s, v, snap };
			return 1;
		}
		if (i < mine) {
			if (index_tentative_abandoned(ix, v)) {
				index_clear_slot(ix, s, v);
				continue;
			}
			*wait = true; /* a live writer ahead of us: let it finish */
			return 1;
		}
	}
	return 0;
}

/* Places `tentative` in the first empty slot of the window: its position,
 * or INDEX_WINDOW when the window is full. */
static unsigned claim_empty(struct kv_index *ix, uint64_t hash, uint64_t tentative)
{
	for (unsigned i = 0; i < INDEX_WINDOW; i++) {
		_Atomic uint64_t *s = index_window_slot(ix, hash, i);
		uint64_t expect = 0;
		/* seq_cst, not merely release: the store half of the
		 * store-buffering pattern in competitor(); release also orders
		 * our entry's contents before the slot names it. */
		if (load_slot(s) == 0 &&
		    atomic_compare_exchange_strong_explicit(s, &expect, tentative,
							    memory_order_seq_cst,
							    memory_order_relaxed))
			return i;
		if (expect != 0)
			contention[CONT_INDEX]++; /* taken between our load and CAS */
	}
	return INDEX_WINDOW;
}

int index_publish_new(struct kv_index *ix, const struct entry_key *k, uint64_t hash,
		      const struct entry_snap *e, struct index_hit *hit)
{
	uint64_t confirmed = index_slot_make(hash, e, false);
	uint64_t tentative = confirmed | SLOT_TENTATIVE;
	for (int attempt = 0; attempt < PUBLISH_ATTEMPTS; attempt++) {
		unsigned mine = claim_empty(ix, hash, tentative);
		if (mine == INDEX_WINDOW)
			return error_set(SHMEMORA_E_NO_SPACE,
					 "the index has no free slot near this key's home bucket "
					 "(%llu slots): create the pool with more --index-slots",
					 (unsigned long long)ix->count);
		_Atomic uint64_t *s = index_window_slot(ix, hash, mine);
		bool wait;
		int c = competitor(ix, k, hash, mine, hit, &wait);
		if (c == 0) {
			uint64_t expect = tentative;
			/* seq_cst: a confirmed slot is what readers look for. */
			if (atomic_compare_exchange_strong(s, &expect, confirmed)) {
				hit->slot = s;
				hit->slot_value = confirmed;
				return 0;
			}
			contention[CONT_INDEX]++;
			continue; /* cleared as if we were dead: place it again */
		}
		/* We lose (or must wait): withdraw our tentative slot. */
		index_clear_slot(ix, s, tentative);
		if (c < 0)
			return c;
		if (!wait)
			return 1;
		contention[CONT_INDEX]++;
		sched_yield();
	}
	return error_set(SHMEMORA_E_CONTENDED, "publishing a new key kept racing another "
			 "writer of it (%d attempts)", PUBLISH_ATTEMPTS);
}

bool index_replace(struct kv_index *ix, const struct index_hit *hit, const struct entry_snap *e,
		   uint64_t *now)
{
	(void)ix;
	uint64_t expect = hit->slot_value;
	uint64_t want = index_slot_naming(hit->slot_value, e);
	/* seq_cst (so also release): the new entry is built before it is
	 * named, and the replace is ordered against namespace deletion's
	 * state change (kv.c). */
	bool ok = atomic_compare_exchange_strong(hit->slot, &expect, want);
	if (ok && now)
		*now = want;
	if (!ok)
		contention[CONT_INDEX]++;
	return ok;
}

bool index_hit_still(const struct kv_index *ix, const struct index_hit *hit)
{
	(void)ix;
	return slot_still(hit->slot, hit->slot_value);
}

bool index_item_still(const struct kv_index *ix, const struct index_item *item)
{
	(void)ix;
	return slot_still(item->slot, item->slot_value);
}

bool index_remove(struct kv_index *ix, const struct index_hit *hit)
{
	return index_clear_slot(ix, hit->slot, hit->slot_value);
}
