/*
 * test_hmac.c — the precomputed-state HMAC-SHA256 against RFC 4231's test
 * vectors and against libcrypto's HMAC() on random keys and messages.
 */
#include "testutil.h"

#include "crypto.h"
#include "hmac.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void check_vector(const char *key_hex, const char *msg_hex, const char *mac_hex,
			 size_t compare_bytes)
{
	uint8_t key[256], msg[256], want[32], got[32];
	size_t kl = unhex(key_hex, key), ml = unhex(msg_hex, msg);
	unhex(mac_hex, want);
	struct hmac_key hk;
	hmac_key_init(&hk, key, kl);
	hmac_sha256(&hk, msg, ml, got);
	assert_memory_equal(got, want, compare_bytes);
}

static void rfc4231_test_cases(void **state)
{
	(void)state;
	/* Test case 1 */
	check_vector("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
		     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32);
	/* Test case 2 */
	check_vector("4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
		     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32);
	/* Test case 3 */
	check_vector("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		     "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
		     "dddddddddddddddddddddddddddd",
		     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32);
	/* Test case 4 */
	check_vector("0102030405060708090a0b0c0d0e0f10111213141516171819",
		     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
		     "cdcdcdcdcdcdcdcdcdcdcdcdcdcd",
		     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32);
	/* Test case 5: output truncated to 128 bits, as SHMemora's tags are. */
	check_vector("0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c",
		     "546573742057697468205472756e636174696f6e",
		     "a3b6167473100ee06e0c796c2955552b", 16);
	/* Test case 6: a key longer than one block. */
	check_vector("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		     "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b65"
		     "79202d2048617368204b6579204669727374",
		     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32);
}

static void matches_libcrypto_on_random_inputs(void **state)
{
	(void)state;
	uint8_t key[200], msg[300], want[32], got[32];
	for (int round = 0; round < 2000; round++) {
		size_t kl = 1 + (size_t)round % sizeof key, ml = (size_t)(round * 7) % sizeof msg;
		assert_shm(0, crypto_random(key, kl));
		assert_shm(0, crypto_random(msg, ml ? ml : 1));
		unsigned wl = 0;
		assert_non_null(HMAC(EVP_sha256(), key, (int)kl, msg, ml, want, &wl));
		struct hmac_key hk;
		hmac_key_init(&hk, key, kl);
		hmac_sha256(&hk, msg, ml, got);
		assert_memory_equal(got, want, 32);
	}
}

static void precomputed_state_is_reusable(void **state)
{
	(void)state;
	struct hmac_key hk;
	uint8_t key[32] = { 7 }, a[32], b[32];
	hmac_key_init(&hk, key, sizeof key);
	hmac_sha256(&hk, "abc", 3, a);
	hmac_sha256(&hk, "xyz", 3, b);
	hmac_sha256(&hk, "abc", 3, b);
	assert_memory_equal(a, b, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4231_test_cases),
		cmocka_unit_test(matches_libcrypto_on_random_inputs),
		cmocka_unit_test(precomputed_state_is_reusable),
	};
	return cmocka_run_group_tests_name("hmac", tests, NULL, NULL);
}
