/*
 * entry.c — the entry protocol (see entry.h).
 *
 * Flush mode (docs/coherence.md): entries are data, not coherent.  A
 * builder writes the entry (alloc_block hands out a block whose first
 * line, with seq, is current in our cache), makes seq even and writes it
 * all back, before the index CAS that names it.  A
 * reader fetches the entry's lines after the slot load that named it (in
 * one go when the slot's hint covers them), and confirms what it read by
 * the slot (index_hit_still) or, found without a slot (walks, check), by
 * fetching the header again.
 *
 * Orderings, and what each pairs with:
 *   build:   fields and bytes, the release store that makes seq even, then
 *            the write-back; pairs with the acquire load of seq in
 *            entry_read.
 *   read:    acquire load of seq, the header and bytes, an acquire fence,
 *            then seq again (entry_unchanged) or the slot again
 *            (index_hit_still): the fence keeps the copies before the
 *            second load.
 *   retire:  release store of an odd seq, then alloc_free's release push:
 *            whoever pops the block (acquire) sees it odd before rebuilding.
 */
#include "entry.h"
#include "error.h"
#include "seqlock.h"
#include "shared.h"

#include <string.h>
#include <time.h>

static struct kv_entry *entry_at(const struct entries *es, uint64_t offset)
{
	return (struct kv_entry *)(es->heap->base + offset);
}

static const uint8_t *key_bytes(const struct entries *es, const struct entry_snap *snap)
{
	return (const uint8_t *)(entry_at(es, snap->offset) + 1);
}

#ifdef SHMEMORA_BOUNDS_CHECK
_Atomic uint64_t entry_bounds_violations;

/* Test builds: every copy out of an entry must lie inside the block its
 * validated snapshot names.  Catches a read past a field that stays inside
 * the mapping (which ASan cannot see). */
static void bounds_check(const struct entries *es, const struct entry_snap *s, const void *p,
			 size_t n)
{
	const uint8_t *block = (const uint8_t *)entry_at(es, s->offset);
	const uint8_t *at = p;
	if (s->size_class >= es->heap->class_count || at < block ||
	    (size_t)(at - block) + n > es->heap->class_size[s->size_class])
		atomic_fetch_add(&entry_bounds_violations, 1); /* a test counter */
}
#else
#define bounds_check(es, s, p, n) ((void)0)
#endif

int entry_class_for(const struct entries *es, size_t key_len, size_t value_len)
{
	return alloc_class_for(es->heap, (uint64_t)ENTRY_HEADER_BYTES + key_len + value_len);
}

/* The words the MAC covers besides the key: the block's offset, which binds
 * the entry to its block (a sealed header copied elsewhere does not
 * verify), and every header field. */
static void mac_record(const struct entry_snap *s, uint64_t rec[6])
{
	rec[0] = s->offset;
	rec[1] = s->ns_hash;
	rec[2] = s->version;
	rec[3] = (uint64_t)s->key_len | (uint64_t)s->value_len << 32;
	rec[4] = (uint64_t)s->ns_gen | (uint64_t)s->owner_epoch << 32;
	rec[5] = (uint64_t)s->owner_host | (uint64_t)s->size_class << 16 |
		 (uint64_t)s->flags << 24 | (uint64_t)s->nonce << 32;
}

/* The MAC of an entry: SipHash-2-4 over its record and its key. */
static uint64_t entry_mac(const struct entries *es, const struct entry_snap *s, const void *key)
{
#ifdef SHMEMORA_UNPROTECTED
	(void)es, (void)s, (void)key;
	return 0; /* the benchmark's baseline: protection compiled out */
#endif
	uint64_t rec[6];
	mac_record(s, rec);
	return siphash24_words(secrets_entry_key(es->secrets), rec, 6, key, s->key_len);
}

/* Does the MAC of a snapshot of `want`'s key verify?  Through want's cache
 * when it has one (entry.h says why a hit is as good as SipHash). */
static bool want_mac_ok(const struct entries *es, const struct entry_snap *snap,
			const struct entry_key *want)
{
	struct entry_cache *c = want->cache;
	if (!c)
		return entry_mac_ok(es, snap, want->key);
	uint64_t rec[6];
	mac_record(snap, rec);
	struct entry_cache_slot *sl = &c->slot[(snap->offset / ALLOC_UNIT) % ENTRY_CACHE_SLOTS];
	if (sl->offset == rec[0] && sl->key_hash == want->key_hash && sl->mac == snap->mac &&
	    memcmp(sl->rec, rec + 1, sizeof sl->rec) == 0)
		return true;
	if (!entry_mac_ok(es, snap, want->key))
		return false;
	sl->offset = rec[0];
	sl->key_hash = want->key_hash;
	sl->mac = snap->mac;
	memcpy(sl->rec, rec + 1, sizeof sl->rec);
	return true;
}

/* Is a snapshot's geometry possible: a block of its class at its offset,
 * lengths within the limits and within that block? */
static bool snapshot_sane(const struct entries *es, const struct entry_snap *s)
{
	if (!alloc_block_valid(es->heap, s->offset, s->size_class))
		return false;
	if (s->key_len < 1 || s->key_len > es->max_key || s->value_len > es->max_value)
		return false;
	return (uint64_t)ENTRY_HEADER_BYTES + s->key_len + s->value_len <=
	       es->heap->class_size[s->size_class];
}

/* A stable entry failed validation: damaged, or changed while read? */
static int corrupt_or_retry(const struct entries *es, const struct entry_snap *snap, bool sane)
{
	if (!entry_unchanged(es, snap))
		return ENTRY_RETRY;
	if (!sane)
		return error_set(SHMEMORA_E_CORRUPT, "entry at offset %llu has an impossible header "
				 "(class %u, key %u bytes, value %u bytes)",
				 (unsigned long long)snap->offset, snap->size_class, snap->key_len,
				 snap->value_len);
	return error_set(SHMEMORA_E_CORRUPT, "entry at offset %llu fails its MAC: its header "
			 "or key was changed by someone without the pool key",
			 (unsigned long long)snap->offset);
}

/*
 * Fetches [offset, offset + bytes) in flush mode (the header at least,
 * never past the data region) and reads the header once into *snap.
 * ENTRY_RETRY while the block is free or being rebuilt, else 0, with
 * snap->fetched the bytes past the header that came with it.  Fetching the
 * lines after the header's before reading the header is sound: everything
 * of the entry was written back before the index named it, and the caller
 * read that name before this.
 */
static int read_header(const struct entries *es, uint64_t offset, uint64_t bytes,
		       struct entry_snap *snap)
{
	const struct heap *h = es->heap;
	uint64_t end = h->data_offset + h->data_size; /* offset: validated, before it */
	struct kv_entry *e = entry_at(es, offset);
	if (bytes < sizeof *e)
		bytes = sizeof *e;
	if (bytes > end - offset)
		bytes = end - offset;
	coherence_invalidate(h->coh, e, bytes);
	snap->fetched = (uint32_t)(bytes - sizeof *e);
	/* Acquire: pairs with the release store that made the seq even in
	 * entry_build, so the header and key below are the built ones. */
	snap->seq = atomic_load_explicit(&e->seq, memory_order_acquire);
	if (snap->seq & 1)
		return ENTRY_RETRY; /* freed or being rebuilt since the slot was read */
	snap->offset = offset;
	snap->ns_hash = field_load(&e->ns_hash);
	snap->version = field_load(&e->version);
	snap->key_len = field_load(&e->key_len);
	snap->value_len = field_load(&e->value_len);
	snap->ns_gen = field_load(&e->ns_gen);
	snap->owner_epoch = field_load(&e->owner_epoch);
	snap->owner_host = field_load(&e->owner_host);
	snap->size_class = field_load(&e->size_class);
	snap->flags = field_load(&e->flags);
	snap->nonce = field_load(&e->nonce);
	snap->mac = field_load(&e->mac);
	return snapshot_sane(es, snap) ? 0 : corrupt_or_retry(es, snap, false);
}

int entry_read(const struct entries *es, uint64_t offset, const struct entry_key *want,
	       struct entry_snap *snap)
{
	if (want)
		return entry_lookup(es, offset, want, 0, snap);
	int rc = read_header(es, offset, 0, snap);
	if (rc)
		return rc;
	return entry_unchanged(es, snap) ? ENTRY_OTHER : ENTRY_RETRY;
}

int entry_lookup(const struct entries *es, uint64_t offset, const struct entry_key *want,
		 uint64_t bytes, struct entry_snap *snap)
{
	int rc = read_header(es, offset, bytes, snap);
	if (rc)
		return rc;
	if (snap->ns_hash != want->ns_hash || snap->ns_gen != want->ns_gen ||
	    snap->key_len != want->len)
		return ENTRY_OTHER;
	/* The key, and the value a lookup goes on to copy, as far as the
	 * first fetch did not bring them: bounded by the validated snapshot,
	 * inside the block. */
	uint32_t need = snap->key_len + snap->value_len;
	bounds_check(es, snap, key_bytes(es, snap), need);
	if (snap->fetched < need) {
		coherence_invalidate(es->heap->coh, key_bytes(es, snap) + snap->fetched,
				     need - snap->fetched);
		snap->fetched = need;
	}
	if (!seqlock_equal(key_bytes(es, snap), want->key, want->len))
		return ENTRY_OTHER;
	/* Over the caller's key, which equalled the entry's: the bytes in
	 * the pool are not read again. */
	return want_mac_ok(es, snap, want) ? ENTRY_MATCH : corrupt_or_retry(es, snap, true);
}

bool entry_mac_ok(const struct entries *es, const struct entry_snap *snap, const void *key)
{
	return entry_mac(es, snap, key) == snap->mac;
}

void entry_copy_value(const struct entries *es, const struct entry_snap *snap, void *buf)
{
	if (!snap->value_len)
		return;
	const uint8_t *src = key_bytes(es, snap) + snap->key_len;
	bounds_check(es, snap, src, snap->value_len);
	if (snap->fetched < snap->key_len + snap->value_len) /* else fetched with the key */
		coherence_invalidate(es->heap->coh, src, snap->value_len);
	seqlock_read(buf, src, snap->value_len);
}

void entry_copy_key(const struct entries *es, const struct entry_snap *snap, void *buf)
{
	bounds_check(es, snap, key_bytes(es, snap), snap->key_len);
	coherence_invalidate(es->heap->coh, key_bytes(es, snap), snap->key_len);
	seqlock_read(buf, key_bytes(es, snap), snap->key_len);
}

bool entry_unchanged(const struct entries *es, const struct entry_snap *snap)
{
	struct kv_entry *e = entry_at(es, snap->offset);
	/* The copies before this point complete before seq is read again. */
	atomic_thread_fence(memory_order_acquire);
	coherence_invalidate(es->heap->coh, e, sizeof *e);
	return atomic_load_explicit(&e->seq, memory_order_relaxed) == snap->seq &&
	       field_load(&e->mac) == snap->mac;
}

/* A new nonce for each build: xorshift per thread, seeded from the
 * thread's stack address and the clock, so two builds of one block (by any
 * hosts) share a nonce with odds of 2^-32 at most. */
static uint32_t next_nonce(void)
{
	static _Thread_local uint64_t state;
	if (!state) {
		uintptr_t here = (uintptr_t)&state;
		state = (uint64_t)here * 0x9e3779b97f4a7c15ULL ^ (uint64_t)clock();
		state |= 1;
	}
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (uint32_t)(state >> 16);
}

/* Writes the header fields of `s` and its MAC into the block. */
static void write_header(struct entries *es, struct entry_snap *s, const void *key)
{
	struct kv_entry *e = entry_at(es, s->offset);
	s->mac = entry_mac(es, s, key);
	/* Readers still holding this block from its previous life read these
	 * racily and then discard what they read (seq changed). */
	field_store(&e->ns_hash, s->ns_hash);
	field_store(&e->version, s->version);
	field_store(&e->key_len, s->key_len);
	field_store(&e->value_len, s->value_len);
	field_store(&e->ns_gen, s->ns_gen);
	field_store(&e->owner_epoch, s->owner_epoch);
	field_store(&e->owner_host, s->owner_host);
	field_store(&e->size_class, s->size_class);
	field_store(&e->flags, s->flags);
	field_store(&e->nonce, s->nonce);
	field_store(&e->mac, s->mac);
}

int entry_build(struct entries *es, uint32_t host, uint32_t epoch, struct magazine *mag,
		const struct entry_key *k, const void *value, size_t value_len, uint64_t version,
		struct entry_snap *built)
{
	uint64_t at;
	uint64_t *offset = &at;
	int cls = entry_class_for(es, k->len, value_len);
	if (cls < 0)
		return error_set(SHMEMORA_E_INVALID, "entry too large for any size class");
	int rc = alloc_block(es->heap, host, mag, cls, offset);
	if (rc)
		return rc;
	struct kv_entry *e = entry_at(es, *offset);
	const struct coherence *coh = es->heap->coh;
	/* No fetch first: a popped block's first line is current in our cache
	 * (the pop read its free link there), and so is one of our magazine's.
	 * A block carved in an extent claimed again may hold a stale line of
	 * its earlier life here, even an even seq: so the seq goes odd before
	 * any field is written, as a seqlock writer's does, and a line an
	 * eviction (or another host's read, in coherent mode) catches half
	 * written reads as "being rebuilt", never as a stable entry.  Every
	 * other byte a reader uses is written below; what follows the value in
	 * its last line is never read.  Relaxed load: the acquire pop ordered
	 * us after the block's retire; the release fence orders the odd store
	 * before the field stores (Boehm's seqlock writer). */
	uint64_t seq = atomic_load_explicit(&e->seq, memory_order_relaxed) | 1;
	atomic_store_explicit(&e->seq, seq, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	struct entry_snap s = {
		.offset = *offset, .ns_hash = k->ns_hash, .version = version,
		.key_len = (uint32_t)k->len, .value_len = (uint32_t)value_len,
		.ns_gen = k->ns_gen, .owner_epoch = epoch, .owner_host = (uint16_t)host,
		.size_class = (uint8_t)cls, .nonce = next_nonce(),
	};
	write_header(es, &s, k->key);
	seqlock_write((uint8_t *)(e + 1), k->key, k->len);
	if (value_len)
		seqlock_write((uint8_t *)(e + 1) + k->len, value, value_len);
	/* Even, and different from the value a retired block leaves (odd):
	 * one more than the block's last build (the slot's build tag grows)
	 * for a block popped from a list or taken from our magazine, whose
	 * first line is current here.  A block carved in an extent given back
	 * and claimed again holds old bytes here (stale, in flush mode, if we
	 * read them in its earlier life): any value will do for readers, who
	 * compare seq and MAC at the old offset with the bytes there now, and
	 * the build tag then repeats an old one only by chance, while the ABA
	 * it guards against would need the extent emptied, given back and
	 * claimed again between a writer's read of a slot and its CAS.
	 * Release: the contents are written before the entry reads as stable. */
	s.seq = (seq | 1) + 1;
	atomic_store_explicit(&e->seq, s.seq, memory_order_release);
	/* One write-back of it all, before the index CAS that names it: no
	 * host reads the new entry before that.  A reader still holding the
	 * block's previous entry may meet the new seq before the new bytes
	 * reach memory; it confirms by its slot or by seq and MAC, which have
	 * both changed, and reads again. */
	coherence_writeback(coh, e, sizeof *e + k->len + value_len);
	*built = s;
	return 0;
}

void entry_make_unreadable(struct entries *es, uint64_t offset)
{
	struct kv_entry *e = entry_at(es, offset);
	/* No fetch: the caller read this entry (or built it), and only the one
	 * that took it out of its slot retires it, so our copy of seq is
	 * current. */
	uint64_t seq = atomic_load_explicit(&e->seq, memory_order_relaxed);
	/* Odd, and different: any reader still copying it sees the change and
	 * retries.  Release: the push that frees the block (release) carries it
	 * to whoever pops the block (acquire).  In flush mode the line goes to
	 * memory with the free link written beside seq when the block is put
	 * on a list (alloc.c); while it sits in a magazine nobody needs it:
	 * a reader of the old entry confirms by its slot, which has changed,
	 * or by the bytes a rebuild writes back. */
	atomic_store_explicit(&e->seq, (seq & 1) ? seq + 2 : seq + 1, memory_order_release);
}

void entry_retire(struct entries *es, uint64_t offset, int cls, uint32_t host,
		  struct magazine *mag)
{
	entry_make_unreadable(es, offset);
	alloc_free(es->heap, host, mag, offset, cls);
}
