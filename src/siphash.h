/*
 * siphash.h — SipHash-2-4 (Aumasson and Bernstein, 2012), a keyed 64-bit
 * pseudo-random function: the MAC of KV entry headers and of token
 * lineages.
 *
 * Why hand-written: a get verifies one entry MAC, and libcrypto's EVP_MAC
 * "SIPHASH" costs about twice this code per call (context re-initialisation
 * and parameter handling around a 50-byte input), which a get cannot afford.
 * tests/unit/test_siphash.c checks this code against libcrypto's output for
 * every length up to 256 bytes and against the reference vectors of the
 * paper.
 *
 * siphash24_words takes a few whole words and then bytes, so a caller
 * hashes a record of fields followed by a key without copying them into one
 * buffer.
 */
#ifndef SHMEMORA_SIPHASH_H
#define SHMEMORA_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1;              /* the 16-byte key, little-endian halves */
};

/* The key from 16 bytes. */
void siphash_key_init(struct siphash_key *key, const uint8_t bytes[16]);

/* SipHash-2-4 over `nwords` 64-bit words (as little-endian bytes) followed
 * by `tail_len` bytes: the same result as siphash24 over their
 * concatenation, without copying them into one buffer (the entry MAC of
 * every get). */
uint64_t siphash24_words(const struct siphash_key *key, const uint64_t *words, size_t nwords,
			 const void *tail, size_t tail_len);

/* One call over one buffer. */
uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len);

#endif
