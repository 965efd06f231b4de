/*
 * alloc.c — extents, per-extent free lists and per-thread magazines (see
 * alloc.h).
 *
 * Orderings, and what each pairs with:
 *   - A freed block's free link is written before the release CAS that
 *     pushes it; a pop reads the head with acquire, so the link it follows
 *     is the pushed one.  entry_retire makes the block's seq odd before it
 *     frees the block, so whoever pops it sees it odd before rebuilding.
 *   - State-word CASes are acq_rel: giving an extent back (the last
 *     decrement, after every push) happens before the claim that takes it
 *     again, so the new owner's carving follows every write of the old life.
 *   - The bump pointer is relaxed: a carved block is published to readers
 *     by the index CAS, never by being carved, and the reservation in the
 *     state word (acq_rel) orders the carve after the claim.
 *
 * Every word read from an extent record is read once, validated, and only
 * then used; a damaged list or count makes the operation fail or leave the
 * block alone, never follow a reference out of its extent.  A link that
 * fails validation while the head has moved was overwritten by a racing pop,
 * not damaged: that pop retries.
 */
#include "alloc.h"
#include "error.h"
#include "shared.h"
#include "timing.h"

#include <string.h>

/* How often a reservation may find no block before the extent counts as
 * damaged (each miss means another thread took or carved one meanwhile). */
#define TAKE_SPINS 4096

static struct kv_entry *block_at(const struct heap *h, uint64_t offset)
{
	return (struct kv_entry *)(h->base + offset);
}

/* ------------------------------------------------------------- lifecycle */

int alloc_init(struct heap *h)
{
	for (uint32_t c = 0; c < h->class_count; c++) {
		uint32_t size = h->class_size[c];
		h->class_blocks[c] = (uint32_t)(h->extent_size / size);
		uint32_t cap = MAG_CLASS_BYTES / size;
		h->mag_cap[c] = cap > MAG_MAX ? MAG_MAX : cap;
		atomic_init(&h->current[c], 0);
	}
	h->scan_cursor = 0;
	h->damaged_count = 0;
	if (pthread_mutex_init(&h->switch_lock, NULL) != 0)
		return error_set(SHMEMORA_E_NOMEM, "cannot make the allocator's lock");
	h->lock_made = 1;
	return 0;
}

void alloc_fini(struct heap *h)
{
	if (h->lock_made) {
		pthread_mutex_destroy(&h->switch_lock);
		h->lock_made = 0;
	}
}

size_t alloc_magazine_bytes(void)
{
	return sizeof(struct magazine) * MAG_THREADS;
}

/* ------------------------------------------------------------- geometry */

int alloc_class_for(const struct heap *h, uint64_t bytes)
{
	for (uint32_t i = 0; i < h->class_count; i++)
		if (h->class_size[i] >= bytes)
			return (int)i;
	return -1;
}

bool alloc_block_valid(const struct heap *h, uint64_t offset, int cls)
{
	if (cls < 0 || (uint32_t)cls >= h->class_count || offset % ALLOC_UNIT ||
	    offset < h->data_offset || offset - h->data_offset >= h->data_size)
		return false;
	uint64_t rel = (offset - h->data_offset) & (h->extent_size - 1);
	uint64_t size = h->class_size[cls];
	return rel % size == 0 && size <= h->extent_size - rel;
}

void alloc_header_counters(const struct heap *h, uint32_t host, _Atomic uint64_t **to)
{
	struct heap_header *hh = alloc_header(h, host);
	to[CONT_INDEX] = &hh->index_retries;
	to[CONT_ALLOC] = &hh->alloc_retries;
	to[CONT_FREE] = &hh->free_retries;
	to[CONT_REMOTE_FREE] = &hh->remote_frees;
	to[CONT_WRITES] = &hh->writes;
}

uint64_t alloc_free_link(const struct heap *h, uint64_t offset)
{
	struct kv_entry *e = block_at(h, offset);
	coherence_invalidate(h->coh, &e->free_link, sizeof e->free_link);
	return field_load(&e->free_link);
}

static void set_free_link(const struct heap *h, uint64_t offset, uint64_t ref)
{
	struct kv_entry *e = block_at(h, offset);
	field_store(&e->free_link, ref);
	coherence_writeback(h->coh, &e->free_link, sizeof e->free_link);
}

/* Is `ref` a block of class `cls` in extent `x`? */
static bool ref_valid(const struct heap *h, uint64_t x, int cls, uint64_t ref)
{
	return ref && ref <= h->extent_size / ALLOC_UNIT &&
	       alloc_block_valid(h, alloc_extent_start(h, x) + alloc_ref_rel(ref), cls);
}

/* -------------------------------------------------------- one extent */

/* Pops a block off extent x's list: 1 and *offset, 0 when the list is
 * empty, -1 when it is damaged. */
static int pop_free(struct heap *h, uint64_t x, int cls, uint64_t *offset)
{
	_Atomic uint64_t *head = &alloc_extent(h, x)->free_head;
	uint64_t start = alloc_extent_start(h, x);
	/* Acquire: the block's link was written before the release push that
	 * made it the head. */
	uint64_t w = atomic_load_explicit(head, memory_order_acquire);
	while (alloc_head_ref(w) != 0) {
		uint64_t ref = alloc_head_ref(w);
		if (!ref_valid(h, x, cls, ref))
			return -1;
		uint64_t off = start + alloc_ref_rel(ref);
		uint64_t next = alloc_free_link(h, off);
		if (next && !ref_valid(h, x, cls, next)) {
			/* Damage only if the head has not moved: otherwise another
			 * thread popped the block and is already writing it. */
			uint64_t now = atomic_load_explicit(head, memory_order_acquire);
			if (now == w)
				return -1;
			w = now;
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(head, &w,
							  alloc_head_pack(alloc_head_tag(w) + 1, next),
							  memory_order_acquire, memory_order_acquire)) {
			*offset = off;
			return 1;
		}
		contention[CONT_ALLOC]++;
	}
	return 0;
}

/* Carves a fresh block off extent x's bump pointer: 1, 0 when the extent is
 * carved to its end, -1 when the pointer is damaged. */
static int carve(struct heap *h, uint64_t x, int cls, uint64_t *offset)
{
	_Atomic uint64_t *bump = &alloc_extent(h, x)->bump;
	uint64_t size = h->class_size[cls];
	uint64_t at = atomic_load_explicit(bump, memory_order_relaxed);
	for (;;) {
		if (at % size || at > h->extent_size)
			return -1;
		if (size > h->extent_size - at)
			return 0;
		if (atomic_compare_exchange_weak_explicit(bump, &at, at + size,
							  memory_order_relaxed, memory_order_relaxed))
			break;
		contention[CONT_ALLOC]++;
	}
	*offset = alloc_extent_start(h, x) + at;
	return 1;
}

/*
 * Lowers extent x's count by n blocks that are back on its list or were
 * never taken, giving the extent back when they were its last and nobody
 * holds it (so an extent emptied by a free, or by a reservation that found
 * less than it counted, never stays owned and empty).
 */
static void count_down(struct heap *h, uint64_t x, uint64_t n)
{
	struct extent_record *r = alloc_extent(h, x);
	uint64_t s = atomic_load_explicit(&r->state, memory_order_acquire);
	for (;;) {
		if (ext_owner1(s) == 0 || ext_live(s) < n)
			return; /* a count below what was freed: damage, left to check */
		bool last = ext_live(s) == n && !ext_held(s);
		uint64_t ns = last ? ext_pack(ext_gen(s) + 1, 0, false, 0, 0) : s - n;
		uint32_t owner = ext_owner1(s) - 1;
		if (atomic_compare_exchange_weak_explicit(&r->state, &s, ns, memory_order_acq_rel,
							  memory_order_acquire)) {
			if (last && owner < h->hosts)
				atomic_fetch_add_explicit(&alloc_header(h, owner)->extent_returns, 1,
							  memory_order_relaxed); /* a statistic */
			return;
		}
		contention[CONT_FREE]++;
	}
}

/*
 * Takes up to `want` blocks of class `cls` from extent x, which host `host`
 * holds: the count taken (0 when the extent is full or no longer this
 * host's current one), or -1 when its list or bump pointer is damaged.
 */
static int take_from(struct heap *h, uint32_t host, uint64_t x, int cls, uint64_t *out,
		     uint32_t want)
{
	_Atomic uint64_t *state = &alloc_extent(h, x)->state;
	uint64_t w = atomic_load_explicit(state, memory_order_acquire);
	uint32_t n;
	for (;;) {
		if (ext_owner1(w) != host + 1 || ext_class(w) != (unsigned)cls || !ext_held(w))
			return 0;
		uint64_t live = ext_live(w);
		if (live >= h->class_blocks[cls])
			return 0;
		n = h->class_blocks[cls] - live < want ? (uint32_t)(h->class_blocks[cls] - live) : want;
		if (atomic_compare_exchange_weak_explicit(state, &w, w + n, memory_order_acq_rel,
							  memory_order_acquire))
			break;
		contention[CONT_ALLOC]++;
	}
	/* The reservation guarantees n blocks between the list and the uncarved
	 * rest (a freer pushes before it lowers the count); a miss means a
	 * racing thread moved one from one to the other, so look again.  A
	 * damaged list is left alone (check --repair mends it) and the rest of
	 * the extent is still carved. */
	uint32_t got = 0;
	bool list_ok = true;
	for (int spins = 0; got < n && spins < TAKE_SPINS; spins++) {
		int rc = list_ok ? pop_free(h, x, cls, &out[got]) : 0;
		if (rc < 0) {
			list_ok = false;
			rc = 0;
		}
		if (rc == 0)
			rc = carve(h, x, cls, &out[got]);
		if (rc < 0 || (rc == 0 && !list_ok))
			break; /* damaged, or nothing left but a damaged list */
		got += (uint32_t)rc;
	}
	/* What we reserved and did not take.  Another of our threads may have
	 * let x go meanwhile (it switched extents): then this may be its last
	 * count, and x goes back. */
	if (got < n)
		count_down(h, x, n - got);
	return got ? (int)got : -1;
}

/* Host `host` stops carving from extent x: it is no longer held, and goes
 * back to the pool if no block of it is live.  1 if it went back. */
static int let_go(struct heap *h, uint64_t x, uint32_t host)
{
	_Atomic uint64_t *state = &alloc_extent(h, x)->state;
	uint64_t w = atomic_load_explicit(state, memory_order_acquire);
	for (;;) {
		if (ext_owner1(w) != host + 1)
			return 0;
		int give_back = ext_live(w) == 0;
		uint64_t nw = give_back ? ext_pack(ext_gen(w) + 1, 0, false, 0, 0) : w & ~EXT_HELD;
		if (nw == w)
			return 0;
		if (atomic_compare_exchange_weak_explicit(state, &w, nw, memory_order_acq_rel,
							  memory_order_acquire)) {
			if (give_back)
				atomic_fetch_add_explicit(&alloc_header(h, host)->extent_returns, 1,
							  memory_order_relaxed); /* a statistic */
			return give_back;
		}
	}
}

int alloc_repair_extent(struct heap *h, uint64_t x, uint64_t w, const uint64_t *off,
			uint64_t n, uint64_t live)
{
	struct extent_record *r = alloc_extent(h, x);
	uint64_t start = alloc_extent_start(h, x);
	if (n) {
		for (uint64_t i = 0; i + 1 < n; i++)
			set_free_link(h, off[i], alloc_ref(off[i + 1] - start));
		uint64_t head = atomic_load_explicit(&r->free_head, memory_order_relaxed);
		do { /* release: the links before the chain (pairs with pop's acquire) */
			set_free_link(h, off[n - 1], alloc_head_ref(head));
		} while (!atomic_compare_exchange_weak_explicit(&r->free_head, &head,
								alloc_head_pack(alloc_head_tag(head) + 1,
										alloc_ref(off[0] - start)),
								memory_order_release,
								memory_order_relaxed));
	}
	/* Pushed first: once the count is right a remote free may give the
	 * extent back, and nothing may be pushed onto it after that. */
	uint64_t nw = live ? ext_pack(ext_gen(w), ext_owner1(w), false, ext_class(w), live)
			   : ext_pack(ext_gen(w) + 1, 0, false, 0, 0);
	return atomic_compare_exchange_strong_explicit(&r->state, &w, nw, memory_order_acq_rel,
						       memory_order_relaxed);
}

/* ---------------------------------------------------- choosing extents */

/*
 * Claims extent x if it is free: it becomes host's, of class cls, held,
 * with an empty list and nothing carved.  The caller holds the switch lock.
 *
 * In two steps.  The first CAS makes x ours but not held: take_from refuses
 * an extent that is not held, so a thread of ours whose current[] still
 * names x from its previous life (read before x was let go and given back)
 * cannot reserve in it and pop that life's list, or carve at its bump
 * pointer, while we reset them.  Nothing else changes the word meanwhile:
 * adopt and let_go run under the switch lock we hold, a free finds no live
 * block to count down, and check --repair touches only dead hosts'
 * extents.  The second CAS makes x held with release, after the reset, so
 * whoever reserves in it (acquire) finds the empty list and the bump
 * pointer at 0, on any memory model.  It fails only if x was taken from us
 * meanwhile (our slot reclaimed, and check --repair gave x back).
 */
static bool claim(struct heap *h, uint64_t x, uint32_t host, int cls)
{
	struct extent_record *r = alloc_extent(h, x);
	uint64_t w = atomic_load_explicit(&r->state, memory_order_relaxed);
	if (ext_owner1(w) != 0 || w != ext_pack(ext_gen(w), 0, false, 0, 0))
		return false; /* owned, or damaged: never take a word we do not understand */
	uint64_t mine = ext_pack(ext_gen(w), host + 1, false, (unsigned)cls, 0);
	if (!atomic_compare_exchange_strong_explicit(&r->state, &w, mine, memory_order_acq_rel,
						     memory_order_relaxed))
		return false;
	/* Ours alone now: nobody carves or frees in an extent with no live
	 * block that nobody else holds.  The head keeps its tag moving. */
	uint64_t head = atomic_load_explicit(&r->free_head, memory_order_relaxed);
	atomic_store_explicit(&r->free_head, alloc_head_pack(alloc_head_tag(head) + 1, 0),
			      memory_order_relaxed);
	atomic_store_explicit(&r->bump, 0, memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&r->state, &mine, mine | EXT_HELD,
						     memory_order_release, memory_order_relaxed))
		return false;
	atomic_fetch_add_explicit(&alloc_header(h, host)->extent_claims, 1,
				  memory_order_relaxed); /* a statistic */
	return true;
}

static bool is_damaged(const struct heap *h, uint64_t x)
{
	for (uint32_t i = 0; i < h->damaged_count && i < ALLOC_DAMAGED_MAX; i++)
		if (h->damaged[i] == x)
			return true;
	return false;
}

/* Takes up extent x if it is host's, of class cls, not held, and has at
 * least `room` free blocks (and this process has not found it damaged). */
static bool adopt(struct heap *h, uint64_t x, uint32_t host, int cls, uint64_t room)
{
	if (is_damaged(h, x))
		return false;
	_Atomic uint64_t *state = &alloc_extent(h, x)->state;
	uint64_t w = atomic_load_explicit(state, memory_order_relaxed);
	while (ext_owner1(w) == host + 1 && ext_class(w) == (unsigned)cls && !ext_held(w) &&
	       ext_live(w) + room <= h->class_blocks[cls]) {
		if (atomic_compare_exchange_weak_explicit(state, &w, w | EXT_HELD,
							  memory_order_acq_rel, memory_order_relaxed))
			return true;
	}
	return false;
}

/* Finds an extent for host's class cls, starting at the scan cursor: one
 * of its own with `room` free blocks when room > 0, else a free one. */
static bool find_extent(struct heap *h, uint32_t host, int cls, uint64_t room, uint64_t *x)
{
	for (uint64_t i = 0; i < h->extent_count; i++) {
		uint64_t at = (h->scan_cursor + i) % h->extent_count;
		if (room ? adopt(h, at, host, cls, room) : claim(h, at, host, cls)) {
			h->scan_cursor = at;
			*x = at;
			return true;
		}
	}
	return false;
}

/*
 * Host's current extent for class cls is full (it was `seen`, + 1; 0 for
 * none): one thread of the host picks the next one, preferring its own
 * extents with an eighth free, then a free extent, then any room at all.
 */
static int switch_extent(struct heap *h, uint32_t host, int cls, uint64_t seen)
{
	pthread_mutex_lock(&h->switch_lock);
	/* Relaxed: the lock orders the threads that change it. */
	if (atomic_load_explicit(&h->current[cls], memory_order_relaxed) != seen) {
		pthread_mutex_unlock(&h->switch_lock);
		return 0; /* another thread of this host switched already */
	}
	uint64_t plenty = h->class_blocks[cls] / 8 ? h->class_blocks[cls] / 8 : 1;
	uint64_t x = 0;
	bool found = find_extent(h, host, cls, plenty, &x) || find_extent(h, host, cls, 0, &x) ||
		     find_extent(h, host, cls, 1, &x);
	if (seen)
		let_go(h, seen - 1, host);
	atomic_store_explicit(&h->current[cls], found ? x + 1 : 0, memory_order_relaxed);
	pthread_mutex_unlock(&h->switch_lock);
	if (!found)
		return error_set(SHMEMORA_E_NO_SPACE,
				 "the data region is full (all %llu extents hold live entries of "
				 "their size class): delete keys, or create a larger pool",
				 (unsigned long long)h->extent_count);
	return 0;
}

/* Takes up to `want` blocks of class cls for host: the count, or an error. */
static int take(struct heap *h, uint32_t host, int cls, uint64_t *out, uint32_t want)
{
	/* Each round either takes blocks or moves to another extent; a bound
	 * keeps a pool whose extents others fill as fast as we find them from
	 * spinning for ever. */
	uint64_t damaged = 0;
	for (uint64_t round = 0; round < h->extent_count + 8; round++) {
		uint64_t cur = atomic_load_explicit(&h->current[cls], memory_order_relaxed);
		if (cur && cur <= h->extent_count) {
			int n = take_from(h, host, cur - 1, cls, out, want);
			if (n > 0)
				return n;
			if (n < 0) {
				/* Damaged: never carve from it again in this process
				 * (check --repair mends it); move on. */
				pthread_mutex_lock(&h->switch_lock);
				if (!is_damaged(h, cur - 1) && h->damaged_count < ALLOC_DAMAGED_MAX)
					h->damaged[h->damaged_count++] = cur - 1;
				pthread_mutex_unlock(&h->switch_lock);
				damaged = cur;
			}
		}
		int rc = switch_extent(h, host, cls, cur);
		if (rc == SHMEMORA_E_NO_SPACE && damaged)
			return error_set(SHMEMORA_E_CORRUPT, "extent %llu's free list or bump pointer "
					 "is damaged and no other extent has room: run 'shmemora check "
					 "--repair'", (unsigned long long)(damaged - 1));
		if (rc)
			return rc;
	}
	return error_set(SHMEMORA_E_CONTENDED, "no extent kept free blocks long enough to take "
			 "one; try again");
}

/* -------------------------------------------------------------- freeing */

/*
 * Puts n blocks of extent x back on its list (one CAS for the chain) and
 * lowers its count by n (one CAS), giving the extent back when that was its
 * last live block and nobody holds it.
 */
static void release_blocks(struct heap *h, uint64_t x, const uint64_t *off, uint32_t n)
{
	struct extent_record *r = alloc_extent(h, x);
	uint64_t start = alloc_extent_start(h, x);
	for (uint32_t i = 0; i + 1 < n; i++)
		set_free_link(h, off[i], alloc_ref(off[i + 1] - start));
	uint64_t w = atomic_load_explicit(&r->free_head, memory_order_relaxed);
	for (;;) {
		set_free_link(h, off[n - 1], alloc_head_ref(w));
		/* Release: the links are visible before the chain is. */
		if (atomic_compare_exchange_weak_explicit(&r->free_head, &w,
							  alloc_head_pack(alloc_head_tag(w) + 1,
									  alloc_ref(off[0] - start)),
							  memory_order_release, memory_order_relaxed))
			break;
		contention[CONT_FREE]++;
	}
	count_down(h, x, n);
}

/* Sorts blocks by offset, so blocks of one extent are adjacent. */
static void sort_offsets(uint64_t *off, uint8_t *cls, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		uint64_t o = off[i];
		uint8_t c = cls ? cls[i] : 0;
		uint32_t j = i;
		for (; j > 0 && off[j - 1] > o; j--) {
			off[j] = off[j - 1];
			if (cls)
				cls[j] = cls[j - 1];
		}
		off[j] = o;
		if (cls)
			cls[j] = c;
	}
}

/* Releases n blocks, sorted by offset, extent by extent. */
static void release_sorted(struct heap *h, const uint64_t *off, uint32_t n)
{
	for (uint32_t i = 0; i < n;) {
		uint64_t x = alloc_extent_of(h, off[i]);
		uint32_t j = i + 1;
		while (j < n && alloc_extent_of(h, off[j]) == x)
			j++;
		release_blocks(h, x, off + i, j - i);
		i = j;
	}
}

/* Gives back the older half of a full magazine class. */
static void spill(struct heap *h, struct magazine *mag, int cls)
{
	uint32_t n = mag->count[cls], half = n / 2 ? n / 2 : n;
	uint64_t out[MAG_MAX];
	memcpy(out, mag->block[cls], half * sizeof *out);
	memmove(mag->block[cls], mag->block[cls] + half, (n - half) * sizeof *out);
	mag->count[cls] = n - half;
	sort_offsets(out, NULL, half);
	release_sorted(h, out, half);
}

static void flush_remote(struct heap *h, struct magazine *mag)
{
	uint32_t n = mag->remote_count;
	mag->remote_count = 0;
	sort_offsets(mag->remote, mag->remote_class, n);
	release_sorted(h, mag->remote, n);
}

void alloc_free(struct heap *h, uint32_t host, struct magazine *mag, uint64_t offset, int cls)
{
	if (!alloc_block_valid(h, offset, cls))
		return; /* not a block: never push garbage onto a list */
	uint64_t x = alloc_extent_of(h, offset);
	/* Read once: which host's extent it is decides where the block goes. */
	uint64_t w = atomic_load_explicit(&alloc_extent(h, x)->state, memory_order_relaxed);
	if (ext_owner1(w) == 0 || ext_class(w) != (unsigned)cls || ext_live(w) == 0)
		return; /* not a live block of this class: damage, left to check */
	bool own = host < h->hosts && ext_owner1(w) == host + 1;
	if (own && mag && h->mag_cap[cls]) {
		if (mag->count[cls] == h->mag_cap[cls])
			spill(h, mag, cls);
		mag->block[cls][mag->count[cls]++] = offset;
		return;
	}
	if (!own)
		contention[CONT_REMOTE_FREE]++;
	if (!own && mag && mag->remote_count < REMOTE_MAX) {
		/* Into an extent nobody carves from, the batch goes at once: these
		 * may be its last blocks, and then it must go back to the pool
		 * now, not once this thread frees REMOTE_MAX more. */
		bool now = !ext_held(w);
		/* A block that waits is marked ours: check --repair must not take
		 * it for a dead owner's leak (alloc.h). */
		if (!now)
			set_free_link(h, offset, alloc_batch_mark(host, h->epoch));
		mag->remote[mag->remote_count] = offset;
		mag->remote_class[mag->remote_count++] = (uint8_t)cls;
		if (now || mag->remote_count == REMOTE_MAX)
			flush_remote(h, mag);
		return;
	}
	release_blocks(h, x, &offset, 1);
}

void alloc_drop_magazine(struct magazine *mag)
{
	if (mag)
		memset(mag, 0, sizeof *mag);
}

void alloc_flush_magazine(struct heap *h, struct magazine *mag)
{
	if (!mag)
		return;
	for (uint32_t c = 0; c < h->class_count; c++) {
		uint32_t n = mag->count[c] <= MAG_MAX ? mag->count[c] : 0;
		mag->count[c] = 0;
		sort_offsets(mag->block[c], NULL, n);
		release_sorted(h, mag->block[c], n);
	}
	if (mag->remote_count > REMOTE_MAX)
		mag->remote_count = 0;
	flush_remote(h, mag);
}

/* ----------------------------------------------------------- allocation */

int alloc_block(struct heap *h, uint32_t host, struct magazine *mag, int cls, uint64_t *offset)
{
	if (mag && mag->count[cls]) {
		*offset = mag->block[cls][--mag->count[cls]];
		return 0;
	}
	/* A second guard behind the write fence, which keeps observers out:
	 * `host` indexes the per-host headers below. */
	if (host >= h->hosts)
		return error_set(SHMEMORA_E_READ_ONLY, "no host slot to allocate for (an observer "
				 "handle cannot write)");
	uint64_t got[MAG_MAX];
	uint32_t want = mag && h->mag_cap[cls] > 1 ? h->mag_cap[cls] / 2 : 1;
	int n = take(h, host, cls, got, want);
	if (n < 0)
		return n;
	*offset = got[0];
	for (int i = n - 1; i > 0; i--)
		mag->block[cls][mag->count[cls]++] = got[i];
	return 0;
}

/* ------------------------------------------------------- host lifecycle */

void alloc_adopt_host(struct heap *h, uint32_t host)
{
	for (uint32_t c = 0; c < SIZE_CLASSES_MAX; c++)
		atomic_store_explicit(&h->current[c], 0, memory_order_relaxed);
	for (uint64_t x = 0; x < h->extent_count; x++)
		let_go(h, x, host);
}

void alloc_release_host(struct heap *h, uint32_t host)
{
	for (int t = 0; h->mags && t < MAG_THREADS; t++)
		alloc_flush_magazine(h, &h->mags[t]);
	alloc_adopt_host(h, host);
}
