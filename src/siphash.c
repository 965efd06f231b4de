/*
 * siphash.c — SipHash-2-4 (see siphash.h for why it is written here).
 *
 * Written from the specification in the SipHash paper: four 64-bit words of
 * state initialised from the key and four constants; each 8-byte
 * little-endian message word is absorbed with two SipRounds; the last word
 * carries the message length in its top byte; finalisation XORs 0xff into v2
 * and runs four SipRounds.
 */
#include "siphash.h"

#include <string.h>

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3)                                        \
	do {                                                            \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                  \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                  \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
	} while (0)

void siphash_key_init(struct siphash_key *key, const uint8_t bytes[16])
{
	memcpy(&key->k0, bytes, 8);   /* little-endian hosts only (layout.h) */
	memcpy(&key->k1, bytes + 8, 8);
}

uint64_t siphash24_words(const struct siphash_key *key, const uint64_t *words, size_t nwords,
			 const void *tail, size_t tail_len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ key->k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ key->k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ key->k0;
	uint64_t v3 = 0x7465646279746573ULL ^ key->k1;
#define ABSORB(m)                                   \
	do {                                        \
		uint64_t m_ = (m);                  \
		v3 ^= m_;                           \
		SIPROUND(v0, v1, v2, v3);           \
		SIPROUND(v0, v1, v2, v3);           \
		v0 ^= m_;                           \
	} while (0)
	for (size_t i = 0; i < nwords; i++)
		ABSORB(words[i]);
	const uint8_t *p = tail;
	size_t n = tail_len;
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t m;
		memcpy(&m, p, 8);
		ABSORB(m);
	}
	uint64_t last = (uint64_t)((nwords * 8 + tail_len) & 0xff) << 56;
	for (size_t i = 0; i < n; i++)
		last |= (uint64_t)p[i] << (8 * i);
	ABSORB(last);
#undef ABSORB
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len)
{
	return siphash24_words(key, NULL, 0, data, len);
}
