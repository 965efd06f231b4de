/*
 * test_superblock.c — sealing, verifying and falling back to the backup copy.
 */
#include "testutil.h"

#include "crypto.h"
#include "layout.h"
#include "superblock.h"

static struct superblock sealed(struct pool_key *key)
{
	struct superblock sb;
	memset(&sb, 0, sizeof sb);
	struct geometry_request req = { .pool_size = 64u << 20, .max_hosts = 4 };
	assert_shm(0, layout_plan(&req, &sb));
	sb.lease_ms = 30000;
	assert_shm(0, crypto_key_generate(key));
	assert_shm(0, crypto_random(sb.uuid, sizeof sb.uuid));
	assert_shm(0, superblock_seal(&sb, key));
	return sb;
}

static void sealed_superblock_verifies(void **state)
{
	(void)state;
	struct pool_key key;
	struct superblock sb = sealed(&key);
	assert_shm(0, superblock_verify_copy(&sb, "test"));
	assert_shm(0, superblock_verify_key(&sb, &key));
}

static void every_single_byte_flip_is_detected_without_the_key(void **state)
{
	(void)state;
	struct pool_key key;
	struct superblock good = sealed(&key);
	for (size_t i = 0; i < sizeof good; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			struct superblock sb = good;
			((uint8_t *)&sb)[i] ^= (uint8_t)(1u << bit);
			int rc = superblock_verify_copy(&sb, "test");
			if (rc == 0)
				print_error("flip of bit %d in byte %zu went unnoticed\n", bit, i);
			assert_int_not_equal(rc, 0);
		}
	}
}

static void edit_with_recomputed_checksum_is_caught_by_the_mac(void **state)
{
	(void)state;
	struct pool_key key;
	struct superblock sb = sealed(&key);
	sb.lease_ms = 1; /* a field an attacker might like to change */
	sb.checksum = XXH3_64bits(&sb, offsetof(struct superblock, checksum));
	assert_shm(0, superblock_verify_copy(&sb, "test")); /* checksum alone passes */
	assert_shm(SHMEMORA_E_TAMPERED, superblock_verify_key(&sb, &key));
}

static void wrong_key_is_told_apart_from_tampering(void **state)
{
	(void)state;
	struct pool_key key, other;
	struct superblock sb = sealed(&key);
	assert_shm(0, crypto_key_generate(&other));
	assert_shm(SHMEMORA_E_KEY_MISMATCH, superblock_verify_key(&sb, &other));
	assert_non_null(strstr(shmemora_errmsg(), "pool expects"));
}

static void newer_format_version_is_refused_as_too_new(void **state)
{
	(void)state;
	struct pool_key key;
	struct superblock sb = sealed(&key);
	sb.format_version = SHMEMORA_FORMAT_VERSION + 1;
	assert_shm(SHMEMORA_E_VERSION, superblock_verify_copy(&sb, "test"));
	assert_non_null(strstr(shmemora_errmsg(), "newer"));
}

/* On a real pool file: every byte flip of the primary is survived by using
 * the backup, and the file is not written by attach's verification. */
static void damaged_primary_falls_back_to_backup(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "sbflip");
	test_create_small(pool, 16u << 20, 2);
	uint8_t orig[sizeof(struct superblock)];
	test_read_at(pool, SB_PRIMARY_OFFSET, orig, sizeof orig);
	for (size_t i = 0; i < sizeof orig; i++) {
		uint8_t bad[sizeof orig];
		memcpy(bad, orig, sizeof bad);
		bad[i] ^= 0x40;
		test_write_at(pool, SB_PRIMARY_OFFSET, bad, sizeof bad);
		shmemora_info info;
		assert_shm(0, shmemora_inspect(pool, NULL, &info));
		assert_int_equal(info.sb_from_backup, 1);
		assert_int_equal(info.key_verified, 1);
		uint8_t now[sizeof orig];
		test_read_at(pool, SB_PRIMARY_OFFSET, now, sizeof now);
		assert_memory_equal(now, bad, sizeof now); /* inspect wrote nothing */
	}
	test_write_at(pool, SB_PRIMARY_OFFSET, orig, sizeof orig);
	/* Attaching works from the backup too. */
	uint8_t bad[sizeof orig];
	memcpy(bad, orig, sizeof bad);
	bad[100] ^= 1;
	test_write_at(pool, SB_PRIMARY_OFFSET, bad, sizeof bad);
	shmemora_pool *p;
	assert_shm(0, shmemora_attach(pool, NULL, &p));
	shmemora_info info;
	assert_shm(0, shmemora_pool_info(p, &info));
	assert_int_equal(info.sb_from_backup, 1);
	assert_shm(0, shmemora_detach(p));
	test_remove_pool(pool);
}

static void both_copies_damaged_is_corrupt_and_untouched(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "sbboth");
	test_create_small(pool, 16u << 20, 2);
	uint8_t b = 0;
	test_read_at(pool, 60, &b, 1);
	b ^= 0xff;
	test_write_at(pool, SB_PRIMARY_OFFSET + 60, &b, 1);
	test_write_at(pool, SB_BACKUP_OFFSET + 60, &b, 1);
	struct file_snapshot snap = test_snapshot(pool);
	shmemora_pool *p;
	assert_shm(SHMEMORA_E_CORRUPT, shmemora_attach(pool, NULL, &p));
	assert_non_null(strstr(shmemora_errmsg(), "backup"));
	shmemora_info info;
	assert_shm(SHMEMORA_E_CORRUPT, shmemora_inspect(pool, NULL, &info));
	assert_unchanged(snap, pool);
	test_remove_pool(pool);
}

static void tampered_primary_is_refused_not_bypassed(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "sbmac");
	test_create_small(pool, 16u << 20, 2);
	struct superblock sb;
	test_read_at(pool, SB_PRIMARY_OFFSET, &sb, sizeof sb);
	sb.lease_ms = 100;
	sb.checksum = XXH3_64bits(&sb, offsetof(struct superblock, checksum));
	test_write_at(pool, SB_PRIMARY_OFFSET, &sb, sizeof sb);
	shmemora_pool *p;
	assert_shm(SHMEMORA_E_TAMPERED, shmemora_attach(pool, NULL, &p));
	test_remove_pool(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sealed_superblock_verifies),
		cmocka_unit_test(every_single_byte_flip_is_detected_without_the_key),
		cmocka_unit_test(edit_with_recomputed_checksum_is_caught_by_the_mac),
		cmocka_unit_test(wrong_key_is_told_apart_from_tampering),
		cmocka_unit_test(newer_format_version_is_refused_as_too_new),
		cmocka_unit_test(damaged_primary_falls_back_to_backup),
		cmocka_unit_test(both_copies_damaged_is_corrupt_and_untouched),
		cmocka_unit_test(tampered_primary_is_refused_not_bypassed),
	};
	return cmocka_run_group_tests_name("superblock", tests, NULL, NULL);
}
