/*
 * protect.c — the protected path (see protect.h for the sequence).
 *
 * The arena.  One private anonymous mapping per pool handle holds what
 * application code must neither read nor forge: the token MAC key (HMAC
 * states derived from the pool key and UUID), the secret hash seeds, and
 * the per-thread verification caches of the `cached` policy.  In `mpk` mode
 * it carries the pool's protection key, like the pool mapping itself.
 *
 * Per-thread caches.  Each thread that verifies a token gets one block of
 * CACHE_SLOTS slots (direct-mapped by token id) in the arena, found through
 * a pthread key and handed back when the thread exits.  A slot holds the
 * fields a full MAC check proved genuine, with the state word they had;
 * a later access by the same token is accepted if the entry's state word is
 * unchanged (revocation bumps it) and then uses the cached fields, not the
 * live ones, so an edit of any other field changes nothing.  A thread that
 * finds no free block verifies with the MAC every time: slower, never
 * weaker.
 *
 * MPK.  WRPKRU is the only way a thread gains access to the pool; the
 * kernel resets PKRU to deny it in signal handlers, and threads inherit
 * their creator's PKRU, which outside open/close denies it too.
 */
#include "protect.h"
#include "error.h"
#include "pool.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"

#define CACHE_THREADS 256
#define CACHE_SLOTS 64
#define TAG_KEY_LABEL "shmemora token key v1"
#define SEED_LABEL "shmemora hash seeds v1"

struct cache_slot {
	uint64_t id;                         /* 0: empty */
	uint8_t tag[SHMEMORA_TAG_BYTES];
	struct cap_fields fields;
};

struct thread_cache {
	struct cache_slot slot[CACHE_SLOTS];
};

struct protect_arena {
	struct hmac_key token_key;
	uint64_t hash_seed[2];
	_Atomic uint64_t cache_used[CACHE_THREADS / 64];
	struct thread_cache cache[CACHE_THREADS];
};

/* ------------------------------------------------------------------ MPK */

static int want_mpk(void)
{
#ifdef SHMEMORA_UNPROTECTED
	return 0; /* the benchmark's baseline: protection compiled out */
#endif
	const char *env = getenv("SHMEMORA_PROTECTION");
	if (env && strcmp(env, "software") == 0)
		return 0;
	return cpu_features()->pku;
}

/* ------------------------------------------------------- thread caches */

/* The pthread key's value packs the key's arena slot in this table with the
 * cache block index, so the destructor can find the arena. */
#define MAX_HANDLES 1024
static struct protect *_Atomic handle_of_key[MAX_HANDLES];

static void release_thread_cache(void *value)
{
	uintptr_t v = (uintptr_t)value;
	unsigned key = (unsigned)(v >> 16), block = (unsigned)(v & 0xffff) - 1;
	if (key >= MAX_HANDLES)
		return;
	struct protect *p = atomic_load(&handle_of_key[key]);
	if (!p || block >= CACHE_THREADS)
		return;
	protect_saved s = protect_open(p);
	memset(&p->arena->cache[block], 0, sizeof p->arena->cache[block]);
	atomic_fetch_and(&p->arena->cache_used[block / 64], ~(1ULL << (block % 64)));
	protect_close(p, s);
}

/* The block this thread used last, for the handle it used it with: one
 * comparison instead of pthread_getspecific on the hot path.  Only a block
 * index is kept in this (application-writable) memory, and it is bounds
 * checked before use. */
static _Thread_local struct {
	uint64_t instance;       /* the handle's instance; 0: none */
	unsigned block;
} last_cache;
/* Instances are never reused, unlike addresses of freed handles. */
static _Atomic uint64_t next_instance = 1;

/* This thread's cache block, claiming one on first use; NULL if none left. */
static struct thread_cache *thread_cache(const struct protect *p)
{
	if (last_cache.instance == p->instance && last_cache.block < CACHE_THREADS)
		return &p->arena->cache[last_cache.block];
	if (!p->thread_key_made)
		return NULL;
	uintptr_t v = (uintptr_t)pthread_getspecific(p->thread_key);
	if (v) {
		last_cache.instance = p->instance;
		last_cache.block = (unsigned)(v & 0xffff) - 1;
		return &p->arena->cache[last_cache.block];
	}
	for (unsigned w = 0; w < CACHE_THREADS / 64; w++) {
		uint64_t used = atomic_load(&p->arena->cache_used[w]);
		while (~used) {
			unsigned bit = (unsigned)__builtin_ctzll(~used);
			if (atomic_compare_exchange_weak(&p->arena->cache_used[w], &used,
							 used | (1ULL << bit))) {
				unsigned block = w * 64 + bit;
				v = (uintptr_t)p->thread_key << 16 | (block + 1);
				if (pthread_setspecific(p->thread_key, (void *)v) != 0) {
					atomic_fetch_and(&p->arena->cache_used[w], ~(1ULL << bit));
					return NULL;
				}
				last_cache.instance = p->instance;
				last_cache.block = block;
				return &p->arena->cache[block];
			}
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */

int protect_init(struct protect *p, const struct pool_key *key, const uint8_t uuid[16],
		 void *base, uint64_t size)
{
	memset(p, 0, sizeof *p);
	p->pkey = -1;
	p->instance = atomic_fetch_add(&next_instance, 1);
	p->verify = SHMEMORA_VERIFY_CACHED;
	p->arena_size = sizeof(struct protect_arena);
	p->arena = mmap(NULL, p->arena_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->arena == MAP_FAILED) {
		p->arena = NULL;
		return error_set(SHMEMORA_E_NOMEM, "cannot map the protected arena: %s",
				 strerror(errno));
	}
	/* The arena must never reach a core dump or a child process. */
	madvise(p->arena, p->arena_size, MADV_DONTDUMP);
	madvise(p->arena, p->arena_size, MADV_DONTFORK);

	uint8_t derived[MAC_BYTES];
	int rc = crypto_derive(key, TAG_KEY_LABEL, uuid, 16, derived);
	if (rc == 0) {
		hmac_key_init(&p->arena->token_key, derived, sizeof derived);
		rc = crypto_derive(key, SEED_LABEL, uuid, 16, derived);
		memcpy(p->arena->hash_seed, derived, sizeof p->arena->hash_seed);
	}
	crypto_wipe(derived, sizeof derived);
	if (rc)
		goto fail;

	if (pthread_key_create(&p->thread_key, release_thread_cache) == 0) {
		if (p->thread_key < MAX_HANDLES) {
			p->thread_key_made = 1;
		} else {
			pthread_key_delete(p->thread_key);
		}
	}

	p->mode = SHMEMORA_PROTECT_SOFTWARE;
	if (want_mpk()) {
		int pkey = pkey_alloc(0, PKEY_DISABLE_ACCESS);
		if (pkey < 0) {
			rc = error_set(SHMEMORA_E_UNSUPPORTED, "pkey_alloc failed: %s",
				       strerror(errno));
			goto fail;
		}
		if (pkey_mprotect(base, size, PROT_READ | PROT_WRITE, pkey) != 0 ||
		    pkey_mprotect(p->arena, p->arena_size, PROT_READ | PROT_WRITE, pkey) != 0) {
			rc = error_set(SHMEMORA_E_IO, "pkey_mprotect failed: %s", strerror(errno));
			pkey_mprotect(base, size, PROT_READ | PROT_WRITE, 0);
			pkey_free(pkey);
			goto fail;
		}
		p->pkey = pkey;
		p->mode = SHMEMORA_PROTECT_MPK;
	}
	if (p->thread_key_made)
		atomic_store(&handle_of_key[p->thread_key], p);
	return 0;
fail:
	protect_fini(p);
	return rc;
}

void protect_fini(struct protect *p)
{
	if (p->thread_key_made) {
		atomic_store(&handle_of_key[p->thread_key], NULL);
		pthread_key_delete(p->thread_key);
		p->thread_key_made = 0;
	}
	if (p->arena) {
		protect_saved s = protect_open(p);
		crypto_wipe(&p->arena->token_key, sizeof p->arena->token_key);
		crypto_wipe(p->arena->hash_seed, sizeof p->arena->hash_seed);
		protect_close(p, s);
		munmap(p->arena, p->arena_size);
		p->arena = NULL;
	}
	if (p->pkey >= 0) {
		pkey_free(p->pkey);
		p->pkey = -1;
	}
}

const struct hmac_key *protect_token_key(const struct protect *p)
{
	return &p->arena->token_key;
}

uint64_t protect_hash_seed(const struct protect *p, int which)
{
	return p->arena->hash_seed[which & 1];
}

/* --------------------------------------------------------- verification */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int refused(const char *why, uint64_t id)
{
	return error_set(SHMEMORA_E_TOKEN_REFUSED, "token %016llx refused: %s",
			 (unsigned long long)id, why);
}

/* Full check of a snapshot: MAC (unless policy off), then state. */
static int check_snapshot(const struct shmemora_pool *pool, const shmemora_token *tok,
			  int use_mac, int allow_dead, struct cap_fields *f)
{
	unsigned state = cap_state_of(f->state_word);
	if (f->id != tok->id || state == CAP_FREE || state == CAP_MINTING)
		return refused("no live entry has this id (never minted, or freed by gc)",
			       tok->id);
	if (use_mac) {
		/* A revoked entry is one generation past the one its tag was
		 * minted for: check the tag against that one, so a genuine
		 * revoked token says "revoked" and a forged one "refused". */
		struct cap_fields minted = *f;
		if (state == CAP_REVOKED)
			minted.state_word = cap_word(CAP_LIVE, 0, cap_gen_of(f->state_word) - 1);
		uint8_t tag[SHMEMORA_TAG_BYTES];
		uint64_t t = TIMING_START();
		cap_tag(protect_token_key(&pool->prot), &minted, tag);
		int genuine = tag_equal(tag, tok->tag);
		TIMING_ADD(PHASE_MAC, t);
		if (!genuine)
			return refused("its tag does not verify (a forged token, or its table "
				       "entry was edited)", tok->id);
	}
	if (state == CAP_REVOKED && !allow_dead)
		return error_set(SHMEMORA_E_REVOKED, "token %016llx was revoked",
				 (unsigned long long)tok->id);
	if (f->expires_ns && now_ns() >= f->expires_ns && !allow_dead)
		return error_set(SHMEMORA_E_EXPIRED, "token %016llx expired",
				 (unsigned long long)tok->id);
	return 0;
}

static int verify(struct shmemora_pool *pool, const shmemora_token *tok, int force_mac,
		  int allow_dead, struct cap_fields *out);

/* The whole check, timed as "lookup" less what the MAC took. */
int protect_verify(struct shmemora_pool *pool, const shmemora_token *tok, int force_mac,
		   int allow_dead, struct cap_fields *out)
{
	uint64_t t = TIMING_START(), mac_before = timing_on ? timing_ticks[PHASE_MAC] : 0;
	int rc = verify(pool, tok, force_mac, allow_dead, out);
	if (__builtin_expect(timing_on, 0)) {
		TIMING_ADD(PHASE_LOOKUP, t);
		timing_ticks[PHASE_LOOKUP] -= timing_ticks[PHASE_MAC] - mac_before;
		timing_ops++;
	}
	return rc;
}

static int verify(struct shmemora_pool *pool, const shmemora_token *tok, int force_mac,
		  int allow_dead, struct cap_fields *out)
{
	if (!tok)
		return error_set(SHMEMORA_E_INVALID, "token is NULL");
	if (tok->key_hint != (uint16_t)(pool->key.id[0] | pool->key.id[1] << 8))
		return refused("it was minted for another pool (its key hint differs from this "
			       "pool's key id)", tok->id);
	struct cap_entry *e = cap_entry_for(pool, tok->id);
	if (!e)
		return refused("its id names no slot of this pool's table", tok->id);

	enum shmemora_verify policy = force_mac ? SHMEMORA_VERIFY_ALWAYS : pool->prot.verify;
	struct thread_cache *tc = NULL;
	struct cache_slot *slot = NULL;
	if (policy == SHMEMORA_VERIFY_CACHED && (tc = thread_cache(&pool->prot))) {
		slot = &tc->slot[tok->id % CACHE_SLOTS];
		if (slot->id == tok->id && tag_equal(slot->tag, tok->tag)) {
			coherence_invalidate(&pool->coh, &e->state, sizeof e->state);
			uint64_t w = atomic_load_explicit(&e->state, memory_order_acquire);
			if (w == slot->fields.state_word) {
				*out = slot->fields;
				/* Expiry is rechecked on every access: time moves on. */
				return check_snapshot(pool, tok, 0, allow_dead, out);
			}
			slot->id = 0; /* changed since: verify afresh */
		}
	}
	if (!cap_snapshot(pool, e, out))
		return refused("its entry kept changing while being read", tok->id);
	int rc = check_snapshot(pool, tok, policy != SHMEMORA_VERIFY_OFF, allow_dead, out);
	if (rc == 0 && slot && cap_state_of(out->state_word) == CAP_LIVE) {
		slot->id = tok->id;
		memcpy(slot->tag, tok->tag, sizeof slot->tag);
		slot->fields = *out;
	}
	return rc;
}

int protect_require_rights(const struct cap_fields *f, uint32_t need)
{
	uint64_t t = TIMING_START();
	uint32_t missing = need & ~f->rights;
	TIMING_ADD(PHASE_RIGHTS, t);
	if (!missing)
		return 0;
	char want[6], have[6];
	shmemora_rights_format(missing, want);
	shmemora_rights_format(f->rights, have);
	return error_set(SHMEMORA_E_DENIED, "token %016llx lacks the right '%s' (it holds '%s')",
			 (unsigned long long)f->id, want, have);
}

int protect_require_region(const struct cap_fields *f, uint64_t data_size, uint64_t off,
			   uint64_t len)
{
	uint64_t lo = 0, size = data_size;
	if (f->scope == SHMEMORA_SCOPE_REGION) {
		lo = f->a;
		size = f->b;
	} else if (f->scope != SHMEMORA_SCOPE_POOL) {
		return error_set(SHMEMORA_E_OUT_OF_SCOPE,
				 "token %016llx is a namespace or key token: it grants no raw "
				 "region access", (unsigned long long)f->id);
	}
	/* [off, off+len) within [lo, lo+size) within [0, data_size), written so
	 * that nothing can wrap: compare offsets, then lengths left. */
	if (off < lo || off - lo > size || len > size - (off - lo) ||
	    lo > data_size || size > data_size - lo)
		return error_set(SHMEMORA_E_OUT_OF_SCOPE,
				 "access [%llu, +%llu) is outside token %016llx's region [%llu, +%llu)",
				 (unsigned long long)off, (unsigned long long)len,
				 (unsigned long long)f->id, (unsigned long long)lo,
				 (unsigned long long)size);
	return 0;
}

/* ---------------------------------------------------------- public API */

int shmemora_set_verify(shmemora_pool *pool, enum shmemora_verify policy)
{
	if (!pool || (policy != SHMEMORA_VERIFY_CACHED && policy != SHMEMORA_VERIFY_ALWAYS &&
		      policy != SHMEMORA_VERIFY_OFF))
		return error_set(SHMEMORA_E_INVALID, "set_verify: bad pool or policy");
	pool->prot.verify = policy;
	return 0;
}

enum shmemora_protection shmemora_protection_mode(const shmemora_pool *pool)
{
	return pool ? pool->prot.mode : SHMEMORA_PROTECT_SOFTWARE;
}
