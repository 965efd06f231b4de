/*
 * protect.h — the protected path: the reference monitor of each host.  This
 * one module answers "is this token genuine?" and "what does it reach?".
 *
 * Every byte of the pool that the library reads or writes on a caller's
 * behalf passes through here, in this order:
 *   open (MPK: grant this thread access to the pool's key)
 *   verify the token: find its entry, check its tag (per policy), its state,
 *     its tomb, its expiry and that every ancestor is still live, giving a
 *     trusted copy of its fields
 *   authorize: rights, and scope: a region (overflow-safe bounds), a
 *     namespace (and its incarnation), a key
 *   copy / compare / compare-and-swap
 *   close (MPK: take the access away again)
 *
 * In `mpk` mode the pool mapping, the secrets (secrets.h) and the
 * per-thread verification caches carry the pool's protection key, whose
 * access is disabled in every thread outside open/close, so neither stray
 * application code nor a forged cache entry can reach them.  In `software`
 * mode the checks are the same and open/close do nothing.
 */
#ifndef SHMEMORA_PROTECT_H
#define SHMEMORA_PROTECT_H

#include "captable.h"
#include "forkgen.h"
#include "secrets.h"
#include "shmemora.h"

#include <pthread.h>

struct protect_arena; /* private to protect.c */

struct protect {
	enum shmemora_protection mode;
	int pkey;                       /* -1 in software mode */
	_Atomic int verify;             /* enum shmemora_verify; any thread may set it */
	struct captable *caps;          /* the table tokens are checked against */
	struct secrets *secrets;        /* wiped by protect_fini, unmapped by the pool */
	uint16_t key_hint;              /* the pool key id's first two bytes */
	struct protect_arena *arena;    /* thread caches */
	size_t arena_size;
	pthread_key_t thread_key;       /* this thread's cache in the arena */
	uint64_t instance;              /* unique per handle in this process */
	int thread_key_made;
	unsigned born;                  /* forkgen_now() at init: see protect_owned */
};

/* Sets up the caches and, where the CPU has PKU (and SHMEMORA_PROTECTION is
 * not "software"), the protection key on the pool mapping, the secrets and
 * the caches.  Called once the pool is mapped and the secrets derived. */
int protect_init(struct protect *p, struct captable *caps, struct secrets *secrets,
		 uint16_t key_hint, void *base, uint64_t size);

/* Wipes the secrets (on the protected path), unmaps the caches and frees
 * the protection key.  In a forked child, given the parent's handle, it
 * touches none of them: the child does not have them. */
void protect_fini(struct protect *p);

/* Address space the arena takes (its size in whole pages). */
size_t protect_arena_bytes(const struct protect *p);

/* Moves the arena to [dest, dest + protect_arena_bytes(p)) with its caches
 * and protection key (mremap).  Only while no other thread can use the
 * handle (hardened mode, at the end of attach).  E_IO, nothing moved. */
int protect_move_arena(struct protect *p, void *dest);

/* Was this handle made by this process, not inherited by a forked child?
 * The arena and the secrets are MADV_DONTFORK, so a child has neither: it
 * must attach the pool itself.  One load and a comparison (forkgen.h). */
static inline bool protect_forked(const struct protect *p)
{
	return __builtin_expect(p->born != forkgen_now(), 0);
}

/* 0, or E_INVALID saying the handle belongs to the parent process.
 * protect_verify asks it first; calls that take no token but reach the
 * secrets (token list and gc, check) ask it on entry. */
int protect_owned(const struct protect *p);

/* Opens and closes this thread's access to the pool (WRPKRU); nestable.
 * Inline: in software mode they cost one branch each. */
typedef uint32_t protect_saved;

#if defined(__x86_64__)
static inline uint32_t protect_rdpkru(void)
{
	uint32_t eax, edx;
	__asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}
static inline void protect_wrpkru(uint32_t v)
{
	__asm__ volatile(".byte 0x0f, 0x01, 0xef" : : "a"(v), "c"(0), "d"(0) : "memory");
}
#else
static inline uint32_t protect_rdpkru(void) { return 0; }
static inline void protect_wrpkru(uint32_t v) { (void)v; }
#endif

static inline protect_saved protect_open(const struct protect *p)
{
	if (p->pkey < 0)
		return 0;
	uint32_t old = protect_rdpkru();
	protect_wrpkru(old & ~(3u << (2 * p->pkey)));
	return old;
}

static inline void protect_close(const struct protect *p, protect_saved saved)
{
	if (p->pkey >= 0)
		protect_wrpkru(saved);
}

/* Constant-time equality of two tags: no early exit on the first differing
 * byte, so timing reveals nothing about a valid tag (tests/stress/
 * test_consttime.c measures it).  crypto_equal is the same over any length;
 * this one is inlined for the 16 bytes of every verification. */
static inline int protect_tag_equal(const uint8_t a[SHMEMORA_TAG_BYTES],
				    const uint8_t b[SHMEMORA_TAG_BYTES])
{
	uint64_t a0, a1, b0, b1;
	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* How protect_verify treats a token. */
enum verify_flags {
	VERIFY_FORCE_MAC = 1,   /* check the tag whatever the handle's policy */
	VERIFY_ALLOW_DEAD = 2,  /* accept a revoked or expired token whose tag verifies
				 * (revoke and inspect), without checking its ancestors */
};

/* Verifies `tok` and fills `out` with its trusted fields.  Errors:
 * E_TOKEN_REFUSED, E_REVOKED (the token or an ancestor), E_EXPIRED,
 * E_INVALID.  Only between open and close. */
int protect_verify(struct protect *p, const shmemora_token *tok, unsigned flags,
		   struct cap_fields *out);

/* Remembers that the token `id` was revoked (or is gone): this handle
 * refuses it from then on, even if its entry is set back to live. */
void protect_remember_revoked(const struct protect *p, uint64_t id);

/* For a snapshot of a live entry: are all its ancestors live, and its
 * chain the one it was minted under?  0, E_REVOKED or E_TOKEN_REFUSED.
 * (list, gc and check ask this of entries nobody presented.) */
int protect_ancestry_live(const struct protect *p, const struct cap_fields *f);

/* Rights check: E_DENIED naming the missing rights. */
int protect_require_rights(const struct cap_fields *f, uint32_t need);

/* Region check: [off, off+len) inside both the token's scope and the raw
 * area of `area_size` bytes, with no arithmetic that can wrap. */
int protect_require_region(const struct cap_fields *f, uint64_t area_size, uint64_t off,
			   uint64_t len);

/* A namespace as an operation sees it: its hash and live incarnation. */
struct ns_target {
	uint64_t hash;
	uint32_t gen;
};

/* Does the token reach namespace `ns` as a whole (a pool token, or a
 * namespace token of that incarnation)?  E_OUT_OF_SCOPE. */
int protect_require_namespace(const struct cap_fields *f, const struct ns_target *ns);

/* Does the token reach some keys of `ns` (the above, or a key token of it)? */
int protect_require_some_keys(const struct cap_fields *f, const struct ns_target *ns);

/* Does the token reach key `key_hash` of `ns` (secrets_key_hash)? */
int protect_require_key(const struct cap_fields *f, const struct ns_target *ns,
			uint64_t key_hash);

/* Would the token reach a key of this hash?  (A cheap test for scans.) */
static inline int protect_reaches_key(const struct cap_fields *f, uint64_t key_hash)
{
	return f->scope != SHMEMORA_SCOPE_KEY || f->b == key_hash;
}

/*
 * Derivation: checks that `g` asks for no more than `parent` holds (rights,
 * scope, expiry, depth, quota) and fills `child` (scope fields, rights,
 * expiry, parent, lineage, depth, quota).  For a namespace or key scope
 * `ns` is the live namespace the grant names; `raw_size` bounds regions.
 * E_WIDEN, E_INVALID, E_QUOTA.
 */
int protect_narrow(const struct protect *p, const struct cap_fields *parent,
		   const shmemora_grant *g, const struct ns_target *ns, uint64_t raw_size,
		   struct cap_fields *child);

#endif
