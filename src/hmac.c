/*
 * hmac.c — RFC 2104 HMAC over libcrypto's SHA-256, with the key states
 * precomputed (see hmac.h for why).
 *
 * SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but
 * remain supported; they are the only libcrypto interface that lets a hashing
 * state be copied by value, which is the whole point here.
 */
#include "hmac.h"
#include "crypto.h"

#include <string.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define BLOCK 64

void hmac_key_init(struct hmac_key *hk, const uint8_t *key, size_t key_len)
{
	uint8_t k[BLOCK] = { 0 };
	if (key_len > BLOCK) {
		SHA256(key, key_len, k);
	} else {
		memcpy(k, key, key_len);
	}
	uint8_t pad[BLOCK];
	for (int i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(&hk->inner);
	SHA256_Update(&hk->inner, pad, BLOCK);
	for (int i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(&hk->outer);
	SHA256_Update(&hk->outer, pad, BLOCK);
	crypto_wipe(k, sizeof k);
	crypto_wipe(pad, sizeof pad);
}

void hmac_sha256(const struct hmac_key *hk, const void *msg, size_t len, uint8_t out[32])
{
	SHA256_CTX ctx = hk->inner;
	uint8_t inner[32];
	SHA256_Update(&ctx, msg, len);
	SHA256_Final(inner, &ctx);
	ctx = hk->outer;
	SHA256_Update(&ctx, inner, sizeof inner);
	SHA256_Final(out, &ctx);
}
