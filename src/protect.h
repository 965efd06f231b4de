/*
 * protect.h — the protected path: the reference monitor of each host.
 *
 * Every byte of the pool that the library reads or writes on a caller's
 * behalf passes through here, in this order:
 *   open (MPK: grant this thread access to the pool's key)
 *   verify the token: find its entry, check its tag (per policy), its state
 *     and its expiry, giving a trusted copy of its fields
 *   authorize: rights and scope (overflow-safe bounds for regions)
 *   copy / compare / compare-and-swap
 *   close (MPK: take the access away again)
 *
 * In `mpk` mode the pool mapping and the protected arena (the token MAC key
 * and the per-thread verification caches) carry the pool's protection key,
 * whose access is disabled in every thread outside open/close, so neither
 * stray application code nor a forged cache entry can reach them.  In
 * `software` mode the checks are the same and open/close do nothing.
 */
#ifndef SHMEMORA_PROTECT_H
#define SHMEMORA_PROTECT_H

#include "crypto.h"
#include "hmac.h"
#include "shmemora.h"
#include "token.h"

#include <pthread.h>

struct protect_arena; /* private to protect.c */

struct protect {
	enum shmemora_protection mode;
	int pkey;                       /* -1 in software mode */
	enum shmemora_verify verify;
	struct protect_arena *arena;    /* token key, hash seeds, thread caches */
	size_t arena_size;
	pthread_key_t thread_key;       /* this thread's cache in the arena */
	uint64_t instance;              /* unique per handle in this process */
	int thread_key_made;
};

/* Sets up the arena and, where the CPU has PKU (and SHMEMORA_PROTECTION is
 * not "software"), the protection key on the arena and the pool mapping.
 * Called once the pool key is verified and the pool mapped. */
int protect_init(struct protect *p, const struct pool_key *key, const uint8_t uuid[16],
		 void *base, uint64_t size);
void protect_fini(struct protect *p);

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

/* Constant-time equality of two tags: no early exit on the first
 * differing byte, so timing reveals nothing about a valid tag. */
static inline int tag_equal(const uint8_t a[SHMEMORA_TAG_BYTES], const uint8_t b[SHMEMORA_TAG_BYTES])
{
	uint64_t a0, a1, b0, b1;
	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* The token MAC key and hash seeds: only between open and close. */
const struct hmac_key *protect_token_key(const struct protect *p);
uint64_t protect_hash_seed(const struct protect *p, int which);

/* Verifies `tok` under the handle's policy (or always with the MAC when
 * `force_mac`) and fills `out` with trusted fields.  `allow_dead` accepts a
 * revoked or expired token whose tag verifies (for revoke and inspect).
 * Only between open and close. */
int protect_verify(struct shmemora_pool *pool, const shmemora_token *tok, int force_mac,
		   int allow_dead, struct cap_fields *out);

/* Rights check: E_DENIED naming the missing rights. */
int protect_require_rights(const struct cap_fields *f, uint32_t need);

/* Region check: [off, off+len) inside both the token's scope and the data
 * area of `data_size` bytes, with no arithmetic that can wrap. */
int protect_require_region(const struct cap_fields *f, uint64_t data_size, uint64_t off,
			   uint64_t len);

#endif
