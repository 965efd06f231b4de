/*
 * captable.c — the capability table's mechanics (see captable.h).
 *
 * Ordering.  A minter writes the fields while the state is MINTING, writes
 * them back (flush mode), then publishes LIVE with a sequentially consistent
 * store; readers load the state with acquire, so a LIVE state they see
 * comes with its fields.  The snapshot is a seqlock read: a reader that
 * sees the same state word before and after copying the fields has a copy
 * of one incarnation of the entry.
 *
 * Flush mode.  The sync words (state, used, tomb) are in the coherent sync
 * area: no call here writes them back or invalidates them.  The field line
 * is data: its minter writes it back before publishing, and a reader drops
 * its cached copy after loading the state and before copying the line, so
 * the copy is of memory as it was no earlier than that load (dropping it
 * before the load would let a mint land in between and leave the copy one
 * incarnation behind a state that matches on both loads).
 */
#include "captable.h"
#include "crypto.h"
#include "error.h"
#include "seqlock.h"
#include "shared.h"

#include <string.h>

/* Drops this host's copy of entry `index`'s field line (flush mode). */
static void invalidate_fields(const struct captable *ct, uint64_t index)
{
	coherence_invalidate(ct->coh, &ct->entries[index], sizeof ct->entries[index]);
}

int64_t captable_index(const struct captable *ct, uint64_t id)
{
	uint64_t index = id & CAP_INDEX_MASK;
	return index < ct->count ? (int64_t)index : -1;
}

bool captable_read(const struct captable *ct, uint64_t index, struct cap_raw *raw)
{
	const struct cap_sync *s = &ct->sync[index];
	const struct cap_entry *e = &ct->entries[index];
	/* A handful of tries: only a re-mint in progress changes the state
	 * word, and a minter finishes within microseconds; a word that keeps
	 * changing is being written in a loop by someone who means harm. */
	for (int tries = 0; tries < 64; tries++) {
		/* Acquire: pairs with the seq_cst store that published LIVE, so
		 * the fields written (and written back) before it are visible
		 * below once our stale copy of them is dropped. */
		raw->state = atomic_load_explicit(&s->state, memory_order_acquire);
		invalidate_fields(ct, index);
		seqlock_read(raw->line, e, sizeof raw->line);
		/* Acquire: pairs with the release store of the tomb (revoke). */
		raw->tomb = atomic_load_explicit(&s->tomb, memory_order_acquire);
		/* The loads above complete before the state is read again. */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->state, memory_order_relaxed) == raw->state)
			return true;
	}
	return false;
}

void captable_decode(const struct cap_raw *raw, struct cap_fields *f)
{
	struct cap_entry e;
	memcpy(&e, raw->line, sizeof e);
	f->state_word = raw->state;
	f->tomb = raw->tomb;
	f->id = e.id;
	f->a = e.a;
	f->b = e.b;
	f->expires_ns = e.expires_ns;
	f->parent_id = e.parent_id;
	f->lineage = e.lineage;
	f->quota = e.quota;
	f->ns_gen = e.ns_gen;
	f->owner_host = e.owner_host;
	f->rights = e.rights;
	f->scope = e.scope_depth & 15;
	f->depth = e.scope_depth >> 4;
}

bool captable_snapshot(const struct captable *ct, uint64_t index, struct cap_fields *f)
{
	struct cap_raw raw;
	if (!captable_read(ct, index, &raw))
		return false;
	captable_decode(&raw, f);
	return true;
}

bool captable_unchanged(const struct captable *ct, uint64_t index, const struct cap_raw *raw)
{
	const struct cap_sync *s = &ct->sync[index];
	/* Acquire, and the fence below: as in captable_read. */
	if (atomic_load_explicit(&s->state, memory_order_acquire) != raw->state)
		return false;
	invalidate_fields(ct, index);
	bool same = seqlock_equal(&ct->entries[index], raw->line, sizeof raw->line) &&
		    atomic_load_explicit(&s->tomb, memory_order_acquire) == raw->tomb;
	atomic_thread_fence(memory_order_acquire);
	return same && atomic_load_explicit(&s->state, memory_order_relaxed) == raw->state;
}

bool captable_still(const struct captable *ct, uint64_t id, uint64_t state)
{
	int64_t index = captable_index(ct, id);
	if (index < 0)
		return false;
	const struct cap_sync *s = &ct->sync[index];
	/* Acquire: pairs with the release store of the tomb (revoke). */
	return atomic_load_explicit(&s->state, memory_order_acquire) == state &&
	       atomic_load_explicit(&s->tomb, memory_order_acquire) != id;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8); /* little-endian hosts only (layout.h) */
}

void captable_tag(const struct captable *ct, const struct cap_fields *f,
		  uint8_t tag[SHMEMORA_TAG_BYTES])
{
	/* Everything the entry says, and the generation: the parent's id is
	 * covered through the lineage, which hashes it. */
	uint8_t rec[72];
	put64(rec + 0, f->id);
	put64(rec + 8, f->a);
	put64(rec + 16, f->b);
	put64(rec + 24, f->expires_ns);
	put64(rec + 32, f->parent_id);
	put64(rec + 40, f->lineage);
	put64(rec + 48, cap_gen_of(f->state_word));
	put64(rec + 56, (uint64_t)f->quota | (uint64_t)f->ns_gen << 32);
	put64(rec + 64, (uint64_t)f->owner_host | (uint64_t)f->rights << 16 |
			(uint64_t)f->scope << 24 | (uint64_t)f->depth << 32);
	uint8_t mac[32];
	hmac_sha256(secrets_token_key(ct->secrets), rec, sizeof rec, mac);
	memcpy(tag, mac, SHMEMORA_TAG_BYTES);
	crypto_wipe(mac, sizeof mac);
}

static void write_fields(struct captable *ct, uint64_t index, const struct cap_fields *f)
{
	struct cap_entry *e = &ct->entries[index];
	/* Every byte of the line is written below, so a stale copy of it in
	 * our cache needs no fetch first: nothing of it is written back. */
	field_store(&e->id, f->id);
	field_store(&e->a, f->a);
	field_store(&e->b, f->b);
	field_store(&e->expires_ns, f->expires_ns);
	field_store(&e->parent_id, f->parent_id);
	field_store(&e->lineage, f->lineage);
	field_store(&e->quota, f->quota);
	field_store(&e->ns_gen, f->ns_gen);
	field_store(&e->reserved, 0u);
	field_store(&e->owner_host, f->owner_host);
	field_store(&e->rights, f->rights);
	field_store(&e->scope_depth, (uint8_t)(f->scope | f->depth << 4));
	coherence_writeback(ct->coh, e, sizeof *e);
}

int captable_mint(struct captable *ct, uint32_t host_id, uint64_t *cursor,
		  const struct cap_fields *want, uint64_t *id, uint8_t tag[SHMEMORA_TAG_BYTES])
{
	uint64_t start = *cursor < ct->count ? *cursor : 0;
	for (uint64_t i = 0; i < ct->count; i++) {
		uint64_t index = (start + i) % ct->count;
		struct cap_sync *s = &ct->sync[index];
		/* Relaxed: only a hint of which slot to try; the CAS below
		 * decides, and orders what follows. */
		uint64_t w = atomic_load_explicit(&s->state, memory_order_relaxed);
		if (cap_state_of(w) != CAP_FREE)
			continue;
		uint64_t gen = cap_gen_of(w) + 1;
		/* Claim: seq_cst, so the claim is ordered before the field
		 * writes for every host that sees those fields. */
		if (!atomic_compare_exchange_strong(&s->state, &w,
						    cap_word(CAP_MINTING, host_id, gen)))
			continue;
		uint64_t rnd;
		int rc = crypto_random(&rnd, sizeof rnd);
		if (rc) {
			/* Back to FREE, at a new generation: nothing was written
			 * under the claim, so no order is needed beyond the CAS's. */
			atomic_store(&s->state, cap_word(CAP_FREE, 0, gen));
			return rc;
		}
		struct cap_fields f = *want;
		f.id = (rnd << CAP_INDEX_BITS) | index;
		f.owner_host = (uint16_t)host_id;
		f.state_word = cap_word(CAP_LIVE, host_id, gen);
		f.tomb = 0;
		write_fields(ct, index, &f);
		/* A new token starts with nothing charged.  Relaxed: published
		 * by the seq_cst store of LIVE below. */
		atomic_store_explicit(&s->used, 0, memory_order_relaxed);
		/* Publish: sequentially consistent, for the derive/revoke race
		 * (the deriver re-reads its parent after this store; the revoker
		 * sweeps after its revoking CAS). */
		atomic_store(&s->state, f.state_word);
		*cursor = index + 1 < ct->count ? index + 1 : 0;
		*id = f.id;
		captable_tag(ct, &f, tag);
		return 0;
	}
	return error_set(SHMEMORA_E_TABLE_FULL,
			 "capability table full (%llu entries): free revoked and expired tokens "
			 "with 'shmemora token gc', or create the pool with more --capabilities",
			 (unsigned long long)ct->count);
}

bool captable_revoke(struct captable *ct, uint64_t index, const struct cap_fields *f)
{
	struct cap_sync *s = &ct->sync[index];
	uint64_t w = f->state_word;
	if (cap_state_of(w) != CAP_LIVE)
		return false;
	uint64_t revoked = cap_word(CAP_REVOKED, cap_minter_of(w), cap_gen_of(w) + 1);
	/* seq_cst: the revocation is ordered before the orphan sweep that
	 * follows it, against the deriver's publish-then-recheck. */
	bool done = atomic_compare_exchange_strong(&s->state, &w, revoked);
	if (done) {
		/* The second word.  Release: pairs with the acquire load in
		 * captable_snapshot. */
		atomic_store_explicit(&s->tomb, f->id, memory_order_release);
	}
	return done;
}

void captable_credit(struct captable *ct, uint64_t parent_id, uint64_t units)
{
	int64_t pi = captable_index(ct, parent_id);
	if (!parent_id || pi < 0)
		return;
	struct cap_fields pf;
	if (!captable_snapshot(ct, (uint64_t)pi, &pf) || pf.id != parent_id ||
	    cap_state_of(pf.state_word) == CAP_FREE || cap_state_of(pf.state_word) == CAP_MINTING)
		return;
	struct cap_sync *s = &ct->sync[pi];
	uint64_t used = atomic_load_explicit(&s->used, memory_order_relaxed);
	/* A re-mint of the parent's slot resets `used` to 0 first, which
	 * fails this CAS; never below zero. */
	while (!atomic_compare_exchange_weak_explicit(&s->used, &used,
						      used > units ? used - units : 0,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

bool captable_free(struct captable *ct, uint64_t index, const struct cap_fields *f)
{
	struct cap_sync *s = &ct->sync[index];
	uint64_t w = f->state_word;
	if (cap_state_of(w) == CAP_FREE)
		return false;
	/* seq_cst, like every state transition: a free is ordered against a
	 * deriver's recheck of its parent and a verifier's reads alike. */
	if (!atomic_compare_exchange_strong(&s->state, &w,
					    cap_word(CAP_FREE, 0, cap_gen_of(w) + 1)))
		return false;
	/* An entry left MINTING by a dead host may hold half its fields: its
	 * parent's charge is left for 'shmemora check --repair' to recount. */
	if (cap_state_of(f->state_word) != CAP_MINTING)
		captable_credit(ct, f->parent_id, cap_cost(f));
	return true;
}

uint64_t captable_used(const struct captable *ct, const struct cap_fields *f)
{
	int64_t index = captable_index(ct, f->id);
	if (index < 0)
		return 0;
	const struct cap_sync *s = &ct->sync[index];
	/* Relaxed: a count, read for display and for a default quota; the
	 * charge itself is a CAS. */
	return atomic_load_explicit(&s->used, memory_order_relaxed);
}

uint64_t captable_quota_left(const struct captable *ct, const struct cap_fields *f)
{
	uint64_t used = captable_used(ct, f);
	return used < f->quota ? f->quota - used : 0;
}

void captable_set_used(struct captable *ct, uint64_t index, uint64_t used)
{
	struct cap_sync *s = &ct->sync[index];
	/* Relaxed: a recount by `check --repair`, which runs on a quiet pool. */
	atomic_store_explicit(&s->used, used, memory_order_relaxed);
}

int captable_charge(struct captable *ct, const struct cap_fields *parent, uint64_t units)
{
	int64_t index = captable_index(ct, parent->id);
	if (index < 0)
		return error_set(SHMEMORA_E_TOKEN_REFUSED, "token %016llx names no slot",
				 (unsigned long long)parent->id);
	struct cap_sync *s = &ct->sync[index];
	/* Relaxed: the CAS below rereads it if it moved. */
	uint64_t used = atomic_load_explicit(&s->used, memory_order_relaxed);
	do {
		if (used > parent->quota || units > parent->quota - used)
			return error_set(SHMEMORA_E_QUOTA,
					 "token %016llx's quota is exhausted: its descendants hold "
					 "%llu of %u; revoke some and run 'shmemora token gc', or "
					 "derive from a token with a larger quota",
					 (unsigned long long)parent->id, (unsigned long long)used,
					 parent->quota);
		/* Relaxed: the count needs no ordering with the fields; the
		 * child is published by its own seq_cst store. */
	} while (!atomic_compare_exchange_weak_explicit(&s->used, &used, used + units,
							memory_order_relaxed,
							memory_order_relaxed));
	return 0;
}

/* Is the parent of live entry `f` live (same id in its slot, LIVE, not
 * tombed)? */
static bool parent_live(const struct captable *ct, const struct cap_fields *f)
{
	int64_t pi = captable_index(ct, f->parent_id);
	struct cap_fields pf;
	return pi >= 0 && captable_snapshot(ct, (uint64_t)pi, &pf) &&
	       cap_fields_live(&pf, f->parent_id);
}

void captable_sweep_orphans(struct captable *ct)
{
	/* Until a pass changes nothing: a child that sits before its parent
	 * in the table is found on the pass after the parent's revocation. */
	for (bool changed = true; changed;) {
		changed = false;
		for (uint64_t i = 0; i < ct->count; i++) {
			struct cap_fields f;
			if (!captable_snapshot(ct, i, &f) || !cap_fields_live(&f, f.id) ||
			    f.parent_id == 0)
				continue;
			if (!parent_live(ct, &f) && captable_revoke(ct, i, &f))
				changed = true;
		}
	}
}
