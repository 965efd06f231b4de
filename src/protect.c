/*
 * protect.c — the protected path (see protect.h for the sequence).
 *
 * Verification of a token, in full:
 *   1. its id names a slot, whose snapshot (captable_snapshot) carries the
 *      same id, a LIVE state and a tomb that does not name it;
 *   2. its tag is the HMAC of that snapshot (unless the policy is `off`);
 *   3. it has not expired;
 *   4. every ancestor is live: the walk follows parent ids `depth` levels
 *      up, each ancestor's snapshot must be live, and the keyed hash of the
 *      ids met (root first) must equal the token's lineage, which its tag
 *      covers.  So revocation is checked when a token is used, not only when
 *      a sweep passes: a descendant hidden from the sweep, or whose parent
 *      was edited to point elsewhere, is refused all the same.
 *
 * Per-thread caches (the `cached` policy).  Each thread that verifies a
 * token gets one block of CACHE_SLOTS slots (direct-mapped by token id),
 * found through a pthread key and handed back when the thread exits.  A slot
 * holds the whole snapshot a full check accepted and the ids of the
 * ancestors it walked.  A later access is accepted only if a fresh snapshot
 * equals the cached one in every word (state, tomb and fields: so no single
 * word written back brings a revoked token to life here either) and every
 * cached ancestor is still live; the cached fields, not the live ones, are
 * then used.  A thread that finds no free block verifies fully every time:
 * slower, never weaker.
 *
 * Revocations seen here.  A host that writes raw bytes can set every word
 * of a revoked entry back (state and tomb both); no check of the pool can
 * tell that from a live token.  So each handle also remembers, in its
 * arena, the ids it has seen revoked (by its own revoke, or when a check
 * found a token or an ancestor revoked or gone) and refuses them from then
 * on, whatever the pool says.  A host that never looked while the token was
 * revoked cannot know; docs/security.md says so.
 *
 * MPK.  WRPKRU is the only way a thread gains access to the pool; the
 * kernel resets PKRU to deny it in signal handlers, and threads inherit
 * their creator's PKRU, which outside open/close denies it too.
 *
 * Fork.  The arena and the secrets are MADV_DONTFORK.  A child that uses
 * its parent's handle is refused with E_INVALID before anything reads them
 * (protect_owned, one load and a comparison per verification), so it gets
 * an error, not a fault, and never the parent's secrets.
 */
#include "protect.h"
#include "clock.h"
#include "cpu.h"
#include "error.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* 256 threads per handle have a cache block; more still work, uncached. */
#define CACHE_THREADS 256
#define CACHE_SLOTS 64

struct cache_slot {
	uint64_t id;                         /* 0: empty */
	uint64_t seen;                       /* revocations seen here when verified */
	uint8_t tag[SHMEMORA_TAG_BYTES];
	struct cap_raw raw;                  /* the entry's words when verified */
	struct cap_fields fields;            /* ... decoded */
	uint64_t ancestor[MAX_TOKEN_DEPTH];  /* parent first; fields.depth of them */
	uint64_t ancestor_state[MAX_TOKEN_DEPTH]; /* their state words when verified */
};

struct thread_cache {
	struct cache_slot slot[CACHE_SLOTS];
};

/* Ids of tokens this handle has seen revoked (or gone while they were an
 * ancestor), so that a host that once saw a revocation refuses the token
 * even if every word of its entry is set back later.  Lossy when full. */
#define REVOKED_SLOTS 4096
#define REVOKED_PROBE 8

struct protect_arena {
	_Atomic uint64_t cache_used[CACHE_THREADS / 64];
	_Atomic uint64_t revoked[REVOKED_SLOTS];
	_Atomic uint64_t revocations_seen;   /* bumped by each new id above */
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
	/* seq_cst, process memory: pairs with protect_init/fini's stores. */
	struct protect *p = atomic_load(&handle_of_key[key]);
	if (!p || block >= CACHE_THREADS || protect_forked(p))
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
	/* The block bitmap is process memory shared by this handle's threads:
	 * a CAS claims a block (seq_cst: simple, and off the hot path). */
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

/* Gives the pool mapping, the secrets and the caches the key `pkey`. */
static int protect_mappings(struct protect *p, void *base, uint64_t size, int pkey)
{
	void *sec;
	size_t sec_len;
	secrets_mapping(p->secrets, &sec, &sec_len);
	if (pkey_mprotect(base, size, PROT_READ | PROT_WRITE, pkey) != 0 ||
	    pkey_mprotect(sec, sec_len, PROT_READ | PROT_WRITE, pkey) != 0 ||
	    pkey_mprotect(p->arena, p->arena_size, PROT_READ | PROT_WRITE, pkey) != 0)
		return error_set(SHMEMORA_E_IO, "pkey_mprotect failed: %s", strerror(errno));
	return 0;
}

static int enable_mpk(struct protect *p, void *base, uint64_t size)
{
	int pkey = pkey_alloc(0, PKEY_DISABLE_ACCESS);
	if (pkey < 0)
		return error_set(SHMEMORA_E_UNSUPPORTED, "pkey_alloc failed: %s", strerror(errno));
	int rc = protect_mappings(p, base, size, pkey);
	if (rc) {
		protect_mappings(p, base, size, 0);
		pkey_free(pkey);
		return rc;
	}
	p->pkey = pkey;
	p->mode = SHMEMORA_PROTECT_MPK;
	return 0;
}

int protect_init(struct protect *p, struct captable *caps, struct secrets *secrets,
		 uint16_t key_hint, void *base, uint64_t size)
{
	memset(p, 0, sizeof *p);
	forkgen_init();
	p->born = forkgen_now();
	p->pkey = -1;
	p->caps = caps;
	p->secrets = secrets;
	p->key_hint = key_hint;
	p->instance = atomic_fetch_add(&next_instance, 1);
	atomic_store(&p->verify, SHMEMORA_VERIFY_CACHED);
	p->arena_size = sizeof(struct protect_arena);
	p->arena = mmap(NULL, p->arena_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->arena == MAP_FAILED) {
		p->arena = NULL;
		return error_set(SHMEMORA_E_NOMEM, "cannot map the protected arena: %s",
				 strerror(errno));
	}
	/* The caches hold verified fields: never in a core dump or a child. */
	madvise(p->arena, p->arena_size, MADV_DONTDUMP);
	madvise(p->arena, p->arena_size, MADV_DONTFORK);
	if (pthread_key_create(&p->thread_key, release_thread_cache) == 0) {
		if (p->thread_key < MAX_HANDLES)
			p->thread_key_made = 1;
		else
			pthread_key_delete(p->thread_key);
	}
	p->mode = SHMEMORA_PROTECT_SOFTWARE;
	if (want_mpk()) {
		int rc = enable_mpk(p, base, size);
		if (rc) {
			protect_fini(p);
			return rc;
		}
	}
	if (p->thread_key_made)
		atomic_store(&handle_of_key[p->thread_key], p);
	return 0;
}

void protect_fini(struct protect *p)
{
	if (p->thread_key_made) {
		atomic_store(&handle_of_key[p->thread_key], NULL);
		pthread_key_delete(p->thread_key);
		p->thread_key_made = 0;
	}
	if (protect_forked(p)) {
		/* The parent's arena, secrets and key: not ours to touch. */
		p->arena = NULL;
		p->secrets = NULL;
		p->pkey = -1;
		return;
	}
	if (p->secrets) {
		/* Wiped here, while the key still reaches them: once it is
		 * freed no thread can open their page again. */
		protect_saved s = protect_open(p);
		secrets_wipe(p->secrets);
		protect_close(p, s);
		p->secrets = NULL;
	}
	if (p->arena) {
		munmap(p->arena, p->arena_size);
		p->arena = NULL;
	}
	if (p->pkey >= 0) {
		pkey_free(p->pkey);
		p->pkey = -1;
	}
}

size_t protect_arena_bytes(const struct protect *p)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (p->arena_size + page - 1) & ~(page - 1);
}

int protect_move_arena(struct protect *p, void *dest)
{
	size_t len = protect_arena_bytes(p);
	void *moved = mremap(p->arena, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
	if (moved == MAP_FAILED)
		return error_set(SHMEMORA_E_IO, "cannot move the protected arena: %s",
				 strerror(errno));
	p->arena = moved;
	return 0;
}

/* --------------------------------------------------------- verification */

int protect_owned(const struct protect *p)
{
	if (!protect_forked(p))
		return 0;
	return error_set(SHMEMORA_E_INVALID, "this pool handle was attached by the process "
			 "this one was forked from: a forked child has neither its secrets nor "
			 "its caches; attach the pool again in the child");
}

static int refused(const char *why, uint64_t id)
{
	return error_set(SHMEMORA_E_TOKEN_REFUSED, "token %016llx refused: %s",
			 (unsigned long long)id, why);
}

static int revoked(uint64_t id, uint64_t which)
{
	if (which == id)
		return error_set(SHMEMORA_E_REVOKED, "token %016llx was revoked",
				 (unsigned long long)id);
	return error_set(SHMEMORA_E_REVOKED, "token %016llx: its ancestor %016llx was revoked",
			 (unsigned long long)id, (unsigned long long)which);
}

/* ----------------------------------------------- revocations seen here */

static unsigned revoked_home(uint64_t id)
{
	return (unsigned)((id * 0x9e3779b97f4a7c15ULL) >> 52) % REVOKED_SLOTS;
}

void protect_remember_revoked(const struct protect *p, uint64_t id)
{
	if (!id)
		return;
	_Atomic uint64_t *set = p->arena->revoked;
	unsigned home = revoked_home(id);
	for (unsigned i = 0; i < REVOKED_PROBE; i++) {
		_Atomic uint64_t *at = &set[(home + i) % REVOKED_SLOTS];
		/* Relaxed: an id, set once; lookups tolerate a late view. */
		uint64_t have = atomic_load_explicit(at, memory_order_relaxed);
		if (have == id)
			return;
		if (have == 0 && atomic_compare_exchange_strong_explicit(
				    at, &have, id, memory_order_relaxed, memory_order_relaxed))
			goto added;
	}
	atomic_store_explicit(&set[home], id, memory_order_relaxed); /* full: forget one */
added:
	/* Every thread's cached verifications predate this: make them
	 * verify afresh (release: after the id is in the set). */
	atomic_fetch_add_explicit(&p->arena->revocations_seen, 1, memory_order_release);
}

static bool seen_revoked(const struct protect *p, uint64_t id)
{
	unsigned home = revoked_home(id);
	/* Relaxed: see protect_remember_revoked; a late view only delays a
	 * refusal the pool's own words already make. */
	for (unsigned i = 0; i < REVOKED_PROBE; i++)
		if (atomic_load_explicit(&p->arena->revoked[(home + i) % REVOKED_SLOTS],
					 memory_order_relaxed) == id)
			return true;
	return false;
}

/* Step 2: the tag.  A revoked entry is one generation past the one its tag
 * was minted for: check against that one, so a genuine revoked token says
 * "revoked" and a forged one "refused". */
static int check_tag(const struct protect *p, const shmemora_token *tok,
		     const struct cap_fields *f)
{
	struct cap_fields minted = *f;
	if (cap_state_of(f->state_word) == CAP_REVOKED)
		minted.state_word = cap_word(CAP_LIVE, cap_minter_of(f->state_word),
					     cap_gen_of(f->state_word) - 1);
	uint8_t tag[SHMEMORA_TAG_BYTES];
	uint64_t t = TIMING_START();
	captable_tag(p->caps, &minted, tag);
	int genuine = protect_tag_equal(tag, tok->tag);
	TIMING_ADD(PHASE_MAC, t);
	return genuine ? 0 : refused("its tag does not verify (a forged token, or its table "
				     "entry was edited)", tok->id);
}

/* Steps 1 and 3, on a snapshot whose tag (if the policy asks) is checked. */
static int check_state(const struct protect *p, const shmemora_token *tok,
		       const struct cap_fields *f, unsigned flags)
{
	unsigned state = cap_state_of(f->state_word);
	bool dead_ok = flags & VERIFY_ALLOW_DEAD;
	if (state == CAP_REVOKED || f->tomb == tok->id) {
		protect_remember_revoked(p, tok->id);
		if (!dead_ok)
			return revoked(tok->id, tok->id);
	} else if (state != CAP_LIVE) {
		return refused("no live entry has this id", tok->id);
	}
	if (f->expires_ns && clock_realtime_ns() >= f->expires_ns && !dead_ok)
		return error_set(SHMEMORA_E_EXPIRED, "token %016llx expired",
				 (unsigned long long)tok->id);
	return 0;
}

/* Step 4: every ancestor live, and the chain the one the token was minted
 * under.  Fills ancestor[] (parent first) and, if not NULL, state[] with
 * each one's state word. */
static int check_ancestry(const struct protect *p, const struct cap_fields *f,
			  uint64_t ancestor[MAX_TOKEN_DEPTH], uint64_t *state)
{
	if (f->depth > MAX_TOKEN_DEPTH || (f->depth == 0) != (f->parent_id == 0))
		return refused("its entry's place in the derivation tree is impossible", f->id);
	uint64_t id = f->parent_id;
	for (unsigned level = 0; level < f->depth; level++) {
		if (id == 0) /* a root before the depth says: a link was edited */
			return refused("the chain of tokens it was derived from was edited", f->id);
		int64_t index = captable_index(p->caps, id);
		struct cap_fields af;
		if (index < 0 || !captable_snapshot(p->caps, (uint64_t)index, &af))
			return revoked(f->id, id);
		if (!cap_fields_live(&af, id) || seen_revoked(p, id)) {
			/* Revoked, or gone: ids are never reused, so for good. */
			protect_remember_revoked(p, id);
			return revoked(f->id, id);
		}
		ancestor[level] = id;
		if (state)
			state[level] = af.state_word;
		id = af.parent_id;
	}
	uint64_t lineage = 0;
	for (unsigned level = f->depth; level-- > 0;)
		lineage = secrets_lineage(p->secrets, lineage, ancestor[level]);
	if (lineage != f->lineage)
		return refused("the chain of tokens it was derived from was edited", f->id);
	return 0;
}

int protect_ancestry_live(const struct protect *p, const struct cap_fields *f)
{
	uint64_t ancestor[MAX_TOKEN_DEPTH];
	return check_ancestry(p, f, ancestor, NULL);
}

/* A cache hit: the entry holds exactly the words that were verified, and
 * every cached ancestor is still the live token it was (its state word is
 * the same: any revoke, free or re-mint since changed its generation; and
 * its tomb does not name it, should the state word have been set back). */
static bool cache_still_valid(const struct protect *p, const struct cache_slot *slot,
			      uint64_t index)
{
	/* Acquire: pairs with the release bump in protect_remember_revoked. */
	if (atomic_load_explicit(&p->arena->revocations_seen, memory_order_acquire) != slot->seen)
		return false;
	if (!captable_unchanged(p->caps, index, &slot->raw))
		return false;
	for (unsigned level = 0; level < slot->fields.depth; level++) {
		uint64_t id = slot->ancestor[level];
		if (!captable_still(p->caps, id, slot->ancestor_state[level]))
			return false;
	}
	return true;
}

static int verify(struct protect *p, const shmemora_token *tok, unsigned flags,
		  struct cap_fields *out)
{
	if (protect_forked(p))
		return protect_owned(p);
	if (!tok)
		return error_set(SHMEMORA_E_INVALID, "token is NULL");
	if (tok->key_hint != p->key_hint)
		return refused("it was minted for another pool (its key hint differs from this "
			       "pool's key id)", tok->id);
	int64_t index = captable_index(p->caps, tok->id);
	if (index < 0)
		return refused("its id names no slot of this pool's table", tok->id);

	enum shmemora_verify policy = (flags & VERIFY_FORCE_MAC)
		? SHMEMORA_VERIFY_ALWAYS : (enum shmemora_verify)atomic_load_explicit(
			&p->verify, memory_order_relaxed);
	struct thread_cache *tc = NULL;
	struct cache_slot *slot = NULL;
	if (policy == SHMEMORA_VERIFY_CACHED && (tc = thread_cache(p))) {
		slot = &tc->slot[tok->id % CACHE_SLOTS];
		if (slot->id == tok->id && protect_tag_equal(slot->tag, tok->tag)) {
			if (cache_still_valid(p, slot, (uint64_t)index)) {
				*out = slot->fields;
				/* Expiry is rechecked on every access: time moves on. */
				return check_state(p, tok, out, flags);
			}
			slot->id = 0; /* changed since: verify afresh */
		}
	}
	uint64_t seen = atomic_load_explicit(&p->arena->revocations_seen, memory_order_acquire);
	struct cap_raw raw;
	if (!captable_read(p->caps, (uint64_t)index, &raw))
		return refused("its entry kept changing while being read", tok->id);
	captable_decode(&raw, out);
	if (out->id != tok->id)
		return refused("no live entry has this id (never minted, or freed by gc)", tok->id);
	int rc = 0;
	if (policy != SHMEMORA_VERIFY_OFF)
		rc = check_tag(p, tok, out);
	if (rc == 0)
		rc = check_state(p, tok, out, flags);
	if (rc == 0 && !(flags & VERIFY_ALLOW_DEAD) && seen_revoked(p, tok->id))
		rc = error_set(SHMEMORA_E_REVOKED, "token %016llx was revoked (this host saw it "
			       "revoked; its entry has been set back since)",
			       (unsigned long long)tok->id);
	uint64_t ancestor[MAX_TOKEN_DEPTH], ancestor_state[MAX_TOKEN_DEPTH];
	if (rc == 0 && !(flags & VERIFY_ALLOW_DEAD))
		rc = check_ancestry(p, out, ancestor, ancestor_state);
	if (rc == 0 && slot && cap_fields_live(out, tok->id) && !(flags & VERIFY_ALLOW_DEAD)) {
		slot->id = tok->id;
		slot->seen = seen;
		memcpy(slot->tag, tok->tag, sizeof slot->tag);
		slot->raw = raw;
		slot->fields = *out;
		memcpy(slot->ancestor, ancestor, sizeof(uint64_t) * out->depth);
		memcpy(slot->ancestor_state, ancestor_state, sizeof(uint64_t) * out->depth);
	}
	return rc;
}

/* The whole check, timed as "lookup" less what the MAC took. */
int protect_verify(struct protect *p, const shmemora_token *tok, unsigned flags,
		   struct cap_fields *out)
{
	uint64_t t = TIMING_START(), mac_before = timing_on ? timing_ticks[PHASE_MAC] : 0;
	int rc = verify(p, tok, flags, out);
	if (__builtin_expect(timing_on, 0)) {
		TIMING_ADD(PHASE_LOOKUP, t);
		timing_ticks[PHASE_LOOKUP] -= timing_ticks[PHASE_MAC] - mac_before;
		timing_ops++;
	}
	return rc;
}

/* -------------------------------------------------------- authorization */

int protect_require_rights(const struct cap_fields *f, uint32_t need)
{
	uint64_t t = TIMING_START();
	uint32_t missing = need & ~(uint32_t)f->rights;
	TIMING_ADD(PHASE_RIGHTS, t);
	if (!missing)
		return 0;
	char want[6], have[6];
	shmemora_rights_format(missing, want);
	shmemora_rights_format(f->rights, have);
	return error_set(SHMEMORA_E_DENIED, "token %016llx lacks the right '%s' (it holds '%s')",
			 (unsigned long long)f->id, want, have);
}

/* [off, off+len) within [lo, lo+size) within [0, area): written so that
 * nothing can wrap: compare offsets, then lengths left. */
static bool range_inside(uint64_t off, uint64_t len, uint64_t lo, uint64_t size, uint64_t area)
{
	return !(off < lo || off - lo > size || len > size - (off - lo) || lo > area ||
		 size > area - lo);
}

int protect_require_region(const struct cap_fields *f, uint64_t area_size, uint64_t off,
			   uint64_t len)
{
	uint64_t lo = 0, size = area_size;
	if (f->scope == SHMEMORA_SCOPE_REGION) {
		lo = f->a;
		size = f->b;
	} else if (f->scope != SHMEMORA_SCOPE_POOL) {
		return error_set(SHMEMORA_E_OUT_OF_SCOPE,
				 "token %016llx is a namespace or key token: it grants no raw "
				 "region access", (unsigned long long)f->id);
	}
	if (!range_inside(off, len, lo, size, area_size))
		return error_set(SHMEMORA_E_OUT_OF_SCOPE,
				 "access [%llu, +%llu) is outside token %016llx's region [%llu, +%llu)",
				 (unsigned long long)off, (unsigned long long)len,
				 (unsigned long long)f->id, (unsigned long long)lo,
				 (unsigned long long)size);
	return 0;
}

static int out_of_scope(const struct cap_fields *f, const char *what)
{
	return error_set(SHMEMORA_E_OUT_OF_SCOPE, "token %016llx does not cover this %s",
			 (unsigned long long)f->id,
			 f->scope == SHMEMORA_SCOPE_REGION ? "namespace (it is a raw region token)"
							   : what);
}

/* Is the token scoped to this incarnation of this namespace? */
static bool same_namespace(const struct cap_fields *f, const struct ns_target *ns)
{
	return f->a == ns->hash && f->ns_gen == ns->gen;
}

int protect_require_namespace(const struct cap_fields *f, const struct ns_target *ns)
{
	if (f->scope == SHMEMORA_SCOPE_POOL ||
	    (f->scope == SHMEMORA_SCOPE_NAMESPACE && same_namespace(f, ns)))
		return 0;
	return out_of_scope(f, "namespace");
}

int protect_require_some_keys(const struct cap_fields *f, const struct ns_target *ns)
{
	if (f->scope == SHMEMORA_SCOPE_KEY && same_namespace(f, ns))
		return 0;
	return protect_require_namespace(f, ns);
}

int protect_require_key(const struct cap_fields *f, const struct ns_target *ns,
			uint64_t key_hash)
{
	if (f->scope == SHMEMORA_SCOPE_KEY)
		return same_namespace(f, ns) && f->b == key_hash ? 0 : out_of_scope(f, "key");
	return protect_require_namespace(f, ns);
}

/* -------------------------------------------------------------- derive */

/* The child's scope fields, inside the parent's. */
static int narrow_scope(const struct protect *p, const struct cap_fields *pf,
			const shmemora_grant *g, const struct ns_target *ns, uint64_t raw_size,
			struct cap_fields *child)
{
	child->scope = (uint8_t)g->scope;
	switch (g->scope) {
	case SHMEMORA_SCOPE_POOL:
		if (pf->scope != SHMEMORA_SCOPE_POOL)
			return error_set(SHMEMORA_E_WIDEN, "only a pool token can grant a pool token");
		return 0;
	case SHMEMORA_SCOPE_REGION:
		if (g->length == 0)
			return error_set(SHMEMORA_E_INVALID, "a region token needs a length > 0");
		if (pf->scope != SHMEMORA_SCOPE_POOL && pf->scope != SHMEMORA_SCOPE_REGION)
			return error_set(SHMEMORA_E_WIDEN, "a namespace or key token cannot grant "
					 "a region");
		if (protect_require_region(pf, raw_size, g->offset, g->length) != 0)
			return error_set(SHMEMORA_E_WIDEN, "region [%llu, +%llu) is not inside "
					 "the parent's", (unsigned long long)g->offset,
					 (unsigned long long)g->length);
		child->a = g->offset;
		child->b = g->length;
		return 0;
	case SHMEMORA_SCOPE_NAMESPACE:
	case SHMEMORA_SCOPE_KEY: {
		child->a = ns->hash;
		child->ns_gen = ns->gen;
		child->b = g->scope == SHMEMORA_SCOPE_KEY
			? secrets_key_hash(p->secrets, ns->hash, g->key, g->key_len) : 0;
		int rc = g->scope == SHMEMORA_SCOPE_KEY ? protect_require_key(pf, ns, child->b)
							: protect_require_namespace(pf, ns);
		if (rc)
			return error_set(SHMEMORA_E_WIDEN, "the parent token does not cover "
					 "namespace '%s'%s", g->ns,
					 g->scope == SHMEMORA_SCOPE_KEY ? " and that key" : "");
		return 0;
	}
	}
	return error_set(SHMEMORA_E_INVALID, "unknown scope %d", (int)g->scope);
}

/* The quota a child gets: what was asked, or by default an eighth of the
 * table under a root token (whose own quota is unlimited), so no tenant
 * given a token by the administrator can fill more than that, and half of
 * what its parent has left under any other, so a tenant can hand on
 * tokens that hand on tokens.  None without the grant right. */
static int child_quota(const struct protect *p, const struct cap_fields *pf,
		       const shmemora_grant *g, struct cap_fields *child)
{
	uint64_t left = captable_quota_left(p->caps, pf);
	if (left > p->caps->count)
		left = p->caps->count;
	if (left == 0)
		return error_set(SHMEMORA_E_QUOTA, "token %016llx's quota is exhausted: its "
				 "descendants hold all %u tokens it may grant; revoke some and run "
				 "'shmemora token gc'", (unsigned long long)pf->id, pf->quota);
	if (!(g->rights & SHMEMORA_RIGHT_GRANT)) {
		child->quota = 0;
		return 0;
	}
	if (g->quota == 0) {
		child->quota = (uint32_t)((left - 1) / (pf->depth == 0 ? 8 : 2));
		return 0;
	}
	if (g->quota > left - 1)
		return error_set(SHMEMORA_E_QUOTA, "a quota of %u is more than token %016llx can "
				 "give (%llu left, one of them for the child itself)", g->quota,
				 (unsigned long long)pf->id, (unsigned long long)(left - 1));
	child->quota = g->quota;
	return 0;
}

int protect_narrow(const struct protect *p, const struct cap_fields *pf,
		   const shmemora_grant *g, const struct ns_target *ns, uint64_t raw_size,
		   struct cap_fields *child)
{
	memset(child, 0, sizeof *child);
	if (g->rights & ~(uint32_t)pf->rights)
		return error_set(SHMEMORA_E_WIDEN, "the child asks for rights the parent "
				 "lacks (parent holds %#x, asked %#x)", pf->rights, g->rights);
	if (pf->depth >= MAX_TOKEN_DEPTH)
		return error_set(SHMEMORA_E_WIDEN, "token %016llx is %u derivations below its root, "
				 "the most there may be", (unsigned long long)pf->id, pf->depth);
	int rc = narrow_scope(p, pf, g, ns, raw_size, child);
	if (rc)
		return rc;
	child->rights = (uint8_t)g->rights;
	child->expires_ns = g->expires_unix_ns ? g->expires_unix_ns : pf->expires_ns;
	if (pf->expires_ns && child->expires_ns > pf->expires_ns)
		return error_set(SHMEMORA_E_WIDEN, "the child would expire after its parent");
	if (g->expires_unix_ns && g->expires_unix_ns <= clock_realtime_ns())
		return error_set(SHMEMORA_E_INVALID, "the expiry asked for is in the past");
	child->parent_id = pf->id;
	child->depth = (uint8_t)(pf->depth + 1);
	child->lineage = secrets_lineage(p->secrets, pf->lineage, pf->id);
	return child_quota(p, pf, g, child);
}
