/*
 * nstable.c — the namespace table's records (see nstable.h).
 */
#include "nstable.h"
#include "error.h"

static struct ns_record *record(const struct nstable *t, uint32_t index)
{
	return &t->records[index];
}

/* Records are in the sync area, coherent in both modes: no call here
 * writes back or invalidates. */
static uint64_t load_word(_Atomic uint64_t *w)
{
	/* Acquire: pairs with the seq_cst transitions and the release stores
	 * of the limits. */
	return atomic_load_explicit(w, memory_order_acquire);
}

int nstable_find(const struct nstable *t, uint64_t ns_hash, uint32_t *index)
{
	for (uint32_t i = 0; i < t->count; i++) {
		uint32_t at = (uint32_t)((ns_hash + i) % t->count);
		uint64_t h = load_word(&record(t, at)->ns_hash);
		if (h == ns_hash) {
			*index = at;
			return 1;
		}
		if (h == 0)
			return 0;
	}
	return 0;
}

int nstable_claim(struct nstable *t, uint64_t ns_hash, uint32_t *index)
{
	for (uint32_t i = 0; i < t->count; i++) {
		uint32_t at = (uint32_t)((ns_hash + i) % t->count);
		_Atomic uint64_t *w = &record(t, at)->ns_hash;
		uint64_t h = load_word(w);
		if (h == 0) {
			/* seq_cst: two creators of one name both probing here must
			 * agree on which record is its. */
			if (atomic_compare_exchange_strong(w, &h, ns_hash)) {
				*index = at;
				return 0;
			}
			/* Lost the race: h now holds the winner's hash. */
		}
		if (h == ns_hash) {
			*index = at;
			return 0;
		}
	}
	return error_set(SHMEMORA_E_NO_SPACE, "the namespace table is full (%u names): create "
			 "the pool with more --namespaces", t->count);
}

void nstable_read(const struct nstable *t, uint32_t index, struct ns_view *v)
{
	struct ns_record *r = record(t, index);
	v->index = index;
	v->ns_hash = load_word(&r->ns_hash);
	v->state_word = load_word(&r->state);
	v->keys = load_word(&r->keys);
	v->bytes = load_word(&r->bytes);
	v->max_keys = load_word(&r->max_keys);
	v->max_bytes = load_word(&r->max_bytes);
}

uint64_t nstable_state(const struct nstable *t, uint32_t index)
{
	return atomic_load(&record(t, index)->state); /* seq_cst: see nstable.h */
}

bool nstable_state_of(const struct nstable *t, uint32_t index, uint64_t ns_hash,
		      uint64_t *state)
{
	struct ns_record *r = record(t, index);
	if (load_word(&r->ns_hash) != ns_hash)
		return false;
	*state = load_word(&r->state);
	return true;
}

bool nstable_transition(struct nstable *t, uint32_t index, uint64_t expect, uint64_t want)
{
	_Atomic uint64_t *w = &record(t, index)->state;
	/* seq_cst: the store half of the deletion race (namespace.h): the
	 * deleter's DELETING is ordered before its seq_cst scan. */
	return atomic_compare_exchange_strong(w, &expect, want);
}

void nstable_set_limits(struct nstable *t, uint32_t index, uint64_t max_keys,
			uint64_t max_bytes)
{
	struct ns_record *r = record(t, index);
	/* Release: a writer that sees the new limit sees it whole. */
	atomic_store_explicit(&r->max_keys, max_keys, memory_order_release);
	atomic_store_explicit(&r->max_bytes, max_bytes, memory_order_release);
}

void nstable_set_usage(struct nstable *t, uint32_t index, uint64_t keys, uint64_t bytes)
{
	struct ns_record *r = record(t, index);
	/* Relaxed: usage counts order nothing else. */
	atomic_store_explicit(&r->keys, keys, memory_order_relaxed);
	atomic_store_explicit(&r->bytes, bytes, memory_order_relaxed);
}

/* Adds `delta` to counter `c`, refusing to pass `limit` (0: none) when it
 * grows; never below zero when it shrinks.  Returns false if refused. */
static bool add_within(_Atomic uint64_t *c, int64_t delta, uint64_t limit)
{
	uint64_t v = load_word(c);
	uint64_t want;
	do {
		if (delta >= 0) {
			if (limit && ((uint64_t)delta > limit || v > limit - (uint64_t)delta))
				return false;
			want = v + (uint64_t)delta;
		} else {
			uint64_t d = (uint64_t)-delta;
			want = v > d ? v - d : 0;
		}
		/* Relaxed: a usage count orders nothing else. */
	} while (!atomic_compare_exchange_weak_explicit(c, &v, want, memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

int nstable_charge(struct nstable *t, uint32_t index, int64_t keys, int64_t bytes)
{
	struct ns_record *r = record(t, index);
	uint64_t max_keys = load_word(&r->max_keys);
	uint64_t max_bytes = load_word(&r->max_bytes);
	if (!add_within(&r->keys, keys, max_keys))
		return error_set(SHMEMORA_E_QUOTA, "the namespace holds its limit of %llu keys: "
				 "delete keys, or raise the limit with 'shmemora ns limit'",
				 (unsigned long long)max_keys);
	if (!add_within(&r->bytes, bytes, max_bytes)) {
		add_within(&r->keys, -keys, 0);
		return error_set(SHMEMORA_E_QUOTA, "the namespace would pass its limit of %llu "
				 "bytes: delete keys, or raise the limit with 'shmemora ns limit'",
				 (unsigned long long)max_bytes);
	}
	return 0;
}
