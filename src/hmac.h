/*
 * hmac.h — HMAC-SHA256 with precomputed inner and outer states.
 *
 * The protected path MACs a 52-byte token record on every access in the
 * `always` policy.  HMAC() from libcrypto re-derives the padded key states
 * on every call (two extra SHA-256 blocks) and allocates a context; here the
 * states are computed once per pool, so a short message costs exactly two
 * SHA-256 compressions.  SHA-256 itself is libcrypto's (SHA-NI/AVX code);
 * only the HMAC construction (RFC 2104) is ours, and tests/unit/test_hmac.c
 * checks it against RFC 4231's vectors and against libcrypto's HMAC().
 */
#ifndef SHMEMORA_HMAC_H
#define SHMEMORA_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/sha.h>

struct hmac_key {
	SHA256_CTX inner; /* SHA-256 state after absorbing key ^ ipad */
	SHA256_CTX outer; /* SHA-256 state after absorbing key ^ opad */
};

/* Precomputes the states for `key` (any length; longer than a block is
 * hashed first, as RFC 2104 says). */
void hmac_key_init(struct hmac_key *hk, const uint8_t *key, size_t key_len);

/* HMAC-SHA256(key, msg) into out[32]. */
void hmac_sha256(const struct hmac_key *hk, const void *msg, size_t len, uint8_t out[32]);

#endif
