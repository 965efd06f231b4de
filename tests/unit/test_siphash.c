/*
 * test_siphash.c — the hand-written SipHash-2-4 (src/siphash.c) against
 * libcrypto's EVP_MAC "SIPHASH" for every length up to 256 bytes and random
 * keys, and against the reference vectors of the SipHash paper.
 */
#include "testutil.h"

#include "siphash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* libcrypto's SipHash-2-4, 64-bit output. */
static uint64_t reference(const uint8_t key[16], const void *msg, size_t len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	assert_non_null(mac);
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	size_t size = 8;
	OSSL_PARAM params[] = { OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
				OSSL_PARAM_END };
	assert_int_equal(EVP_MAC_init(ctx, key, 16, params), 1);
	assert_int_equal(EVP_MAC_update(ctx, msg, len), 1);
	uint8_t out[8];
	size_t out_len;
	assert_int_equal(EVP_MAC_final(ctx, out, &out_len, sizeof out), 1);
	assert_int_equal(out_len, 8);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	uint64_t v;
	memcpy(&v, out, 8);
	return v;
}

static void paper_vectors(void **state)
{
	(void)state;
	/* Key 00..0f, message 00..(n-1): the paper's appendix and the
	 * reference implementation's vectors.h. */
	uint8_t k[16], m[64];
	for (int i = 0; i < 16; i++)
		k[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		m[i] = (uint8_t)i;
	struct siphash_key key;
	siphash_key_init(&key, k);
	assert_true(siphash24(&key, m, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(siphash24(&key, m, 1) == 0x74f839c593dc67fdULL);
	assert_true(siphash24(&key, m, 15) == 0xa129ca6149be45e5ULL);
	assert_true(siphash24(&key, m, 63) == 0x958a324ceb064572ULL);
}

static void every_length_matches_libcrypto(void **state)
{
	(void)state;
	uint8_t k[16], m[256];
	for (int round = 0; round < 8; round++) {
		assert_int_equal(RAND_bytes(k, sizeof k), 1);
		assert_int_equal(RAND_bytes(m, sizeof m), 1);
		struct siphash_key key;
		siphash_key_init(&key, k);
		for (size_t n = 0; n <= sizeof m; n++)
			assert_true(siphash24(&key, m, n) == reference(k, m, n));
	}
}

static void words_then_bytes_equal_the_concatenation(void **state)
{
	(void)state;
	uint8_t k[16], m[256];
	assert_int_equal(RAND_bytes(k, sizeof k), 1);
	assert_int_equal(RAND_bytes(m, sizeof m), 1);
	struct siphash_key key;
	siphash_key_init(&key, k);
	uint64_t words[8];
	memcpy(words, m, sizeof words);
	for (size_t nw = 0; nw <= 8; nw++)
		for (size_t tail = 0; tail <= 100; tail++)
			assert_true(siphash24_words(&key, words, nw, m + 8 * nw, tail) ==
				    reference(k, m, 8 * nw + tail));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paper_vectors),
		cmocka_unit_test(every_length_matches_libcrypto),
		cmocka_unit_test(words_then_bytes_equal_the_concatenation),
	};
	return cmocka_run_group_tests_name("siphash", tests, NULL, NULL);
}
