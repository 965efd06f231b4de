/*
 * test_badinput.c — every kind of bad pool input gets its own clear error and
 * leaves the file exactly as it was.
 */
#include "testutil.h"

#include "layout.h"

#include <fcntl.h>
#include <sys/types.h>

static int attach_code(const char *pool)
{
	shmemora_pool *p = NULL;
	int rc = shmemora_attach(pool, NULL, &p);
	if (rc == 0)
		shmemora_detach(p);
	return rc;
}

/* Attach and inspect both refuse with `want`, and the file is unchanged. */
static void assert_refused_untouched(const char *pool, int want)
{
	struct file_snapshot snap = test_snapshot(pool);
	assert_shm(want, attach_code(pool));
	assert_true(strlen(shmemora_errmsg()) > 10);
	shmemora_info info;
	assert_shm(want, shmemora_inspect(pool, NULL, &info));
	assert_unchanged(snap, pool);
}

static void truncated_pool_file_is_refused(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "trunc");
	test_create_small(pool, 16u << 20, 2);
	assert_int_equal(truncate(pool, 8u << 20), 0);
	assert_refused_untouched(pool, SHMEMORA_E_TRUNCATED);
	assert_non_null(strstr(shmemora_errmsg(), "holds a pool of"));
	/* Cut inside the backup superblock copy, primary damaged. */
	assert_int_equal(truncate(pool, SB_BACKUP_OFFSET + 100), 0);
	uint8_t byte; /* flipped, not overwritten: a constant could equal it */
	test_read_at(pool, 20, &byte, 1);
	byte ^= 0xff;
	test_write_at(pool, 20, &byte, 1);
	assert_refused_untouched(pool, SHMEMORA_E_CORRUPT);
	test_remove_pool(pool);
}

static void file_that_is_not_a_pool_is_refused(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "notpool");
	uint8_t buf[64 << 10];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	FILE *f = fopen(pool, "wb");
	assert_non_null(f);
	fwrite(buf, 1, sizeof buf, f);
	fclose(f);
	assert_refused_untouched(pool, SHMEMORA_E_NOT_POOL);
	assert_non_null(strstr(shmemora_errmsg(), "not a SHMemora pool"));
	unlink(pool);
}

static void empty_and_tiny_files_are_not_pools(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "empty");
	FILE *f = fopen(pool, "wb");
	fclose(f);
	assert_refused_untouched(pool, SHMEMORA_E_NOT_POOL);
	f = fopen(pool, "wb");
	fputs("hello", f);
	fclose(f);
	assert_refused_untouched(pool, SHMEMORA_E_NOT_POOL);
	/* A signature but nothing after it: a pool cut short. */
	f = fopen(pool, "wb");
	fputs("SHMEMORA\1\0\0\0", f);
	fclose(f);
	assert_refused_untouched(pool, SHMEMORA_E_TRUNCATED);
	unlink(pool);
}

static void newer_format_version_is_refused(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "version");
	test_create_small(pool, 16u << 20, 2);
	struct superblock sb;
	for (off_t at = SB_PRIMARY_OFFSET; at <= SB_BACKUP_OFFSET; at += SB_BACKUP_OFFSET) {
		test_read_at(pool, at, &sb, sizeof sb);
		sb.format_version = SHMEMORA_FORMAT_VERSION + 1;
		sb.checksum = XXH3_64bits(&sb, offsetof(struct superblock, checksum));
		test_write_at(pool, at, &sb, sizeof sb);
	}
	assert_refused_untouched(pool, SHMEMORA_E_VERSION);
	assert_non_null(strstr(shmemora_errmsg(), "upgrade"));
	test_remove_pool(pool);
}

static void flipped_byte_in_both_superblocks_is_corrupt(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "flip");
	test_create_small(pool, 16u << 20, 2);
	for (off_t at = SB_PRIMARY_OFFSET; at <= SB_BACKUP_OFFSET; at += SB_BACKUP_OFFSET) {
		uint8_t b;
		test_read_at(pool, at + 130, &b, 1);
		b ^= 0x10;
		test_write_at(pool, at + 130, &b, 1);
	}
	assert_refused_untouched(pool, SHMEMORA_E_CORRUPT);
	test_remove_pool(pool);
}

static void pool_too_small_is_refused_and_leaves_nothing(void **state)
{
	(void)state;
	char pool[256], key[300];
	test_pool_path(pool, sizeof pool, "small");
	test_key_path(pool, key, sizeof key);
	shmemora_config *cfg;
	shmemora_pool *p;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, 128u << 10));
	assert_shm(SHMEMORA_E_GEOMETRY, shmemora_create(pool, cfg, &p));
	assert_non_null(strstr(shmemora_errmsg(), "use --size"));
	assert_int_equal(access(pool, F_OK), -1);
	assert_int_equal(access(key, F_OK), -1);
	shmemora_config_delete(cfg);
}

static void directory_is_refused(void **state)
{
	(void)state;
	shmemora_pool *p;
	assert_shm(SHMEMORA_E_BAD_PATH, shmemora_attach("/dev/shm", NULL, &p));
	assert_non_null(strstr(shmemora_errmsg(), "directory"));
	assert_shm(SHMEMORA_E_BAD_PATH, shmemora_create("/dev/shm", NULL, &p));
	shmemora_info info;
	assert_shm(SHMEMORA_E_BAD_PATH, shmemora_inspect("/dev/shm", NULL, &info));
}

static void fifo_and_char_device_are_refused(void **state)
{
	(void)state;
	char fifo[256];
	test_pool_path(fifo, sizeof fifo, "fifo");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	shmemora_pool *p;
	assert_shm(SHMEMORA_E_BAD_PATH, shmemora_attach(fifo, NULL, &p));
	unlink(fifo);
	/* /dev/null is a character device but not devdax. */
	assert_shm(SHMEMORA_E_BAD_PATH, shmemora_attach("/dev/null", NULL, &p));
	assert_non_null(strstr(shmemora_errmsg(), "not a devdax"));
}

static void missing_pool_is_not_found(void **state)
{
	(void)state;
	shmemora_pool *p;
	assert_shm(SHMEMORA_E_NOT_FOUND, shmemora_attach("/dev/shm/shmemora-none", NULL, &p));
	assert_shm(SHMEMORA_E_INVALID, shmemora_attach(NULL, NULL, &p));
	assert_shm(SHMEMORA_E_INVALID, shmemora_attach("", NULL, &p));
}

static void create_never_overwrites_a_pool_or_key(void **state)
{
	(void)state;
	char pool[256], key[300];
	test_pool_path(pool, sizeof pool, "exists");
	test_key_path(pool, key, sizeof key);
	test_create_small(pool, 16u << 20, 2);
	struct file_snapshot snap = test_snapshot(pool), ksnap = test_snapshot(key);
	shmemora_pool *p;
	assert_shm(SHMEMORA_E_EXISTS, shmemora_create(pool, NULL, &p));
	assert_unchanged(snap, pool);
	assert_unchanged(ksnap, key);
	/* A stray key file blocks create and create leaves no pool file. */
	test_remove_pool(pool);
	FILE *f = fopen(key, "w");
	fclose(f);
	assert_shm(SHMEMORA_E_EXISTS, shmemora_create(pool, NULL, &p));
	assert_int_equal(access(pool, F_OK), -1);
	unlink(key);
}

static void destroy_needs_the_key_and_no_live_hosts(void **state)
{
	(void)state;
	char pool[256], key[300];
	test_pool_path(pool, sizeof pool, "destroy");
	test_key_path(pool, key, sizeof key);
	shmemora_config *cfg;
	shmemora_pool *p;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, 16u << 20));
	assert_shm(0, shmemora_create(pool, cfg, &p));
	assert_shm(SHMEMORA_E_BUSY, shmemora_destroy(pool, NULL));
	assert_int_equal(access(pool, F_OK), 0);
	assert_shm(0, shmemora_detach(p));
	/* Not a pool: nothing removed. */
	assert_shm(SHMEMORA_E_NOT_POOL, shmemora_destroy("/etc/hostname", NULL));
	assert_shm(0, shmemora_destroy(pool, NULL));
	assert_int_equal(access(pool, F_OK), -1);
	assert_int_equal(access(key, F_OK), -1);
	shmemora_config_delete(cfg);
}

static void config_setters_refuse_impossible_values(void **state)
{
	(void)state;
	shmemora_config *cfg;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_hosts(cfg, 0));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_hosts(cfg, 5000));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_size(cfg, 10));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_coherence(cfg, 9));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_key_file(cfg, ""));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_numa_node(cfg, -2));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_lease_ms(cfg, 5));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_host_id(cfg, -5));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_max_value(cfg, 0));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_index_slots(cfg, 1));
	assert_shm(SHMEMORA_E_INVALID, shmemora_config_set_size(NULL, 1u << 30));
	shmemora_config_delete(cfg);
	shmemora_config_delete(NULL);
}

static void every_error_code_has_a_name(void **state)
{
	(void)state;
	for (int code = SHMEMORA_E_FENCED; code <= SHMEMORA_E_INVALID; code++)
		assert_string_not_equal(shmemora_strerror(code), "unknown error code");
	assert_string_equal(shmemora_strerror(-1), "unknown error code");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(truncated_pool_file_is_refused),
		cmocka_unit_test(file_that_is_not_a_pool_is_refused),
		cmocka_unit_test(empty_and_tiny_files_are_not_pools),
		cmocka_unit_test(newer_format_version_is_refused),
		cmocka_unit_test(flipped_byte_in_both_superblocks_is_corrupt),
		cmocka_unit_test(pool_too_small_is_refused_and_leaves_nothing),
		cmocka_unit_test(directory_is_refused),
		cmocka_unit_test(fifo_and_char_device_are_refused),
		cmocka_unit_test(missing_pool_is_not_found),
		cmocka_unit_test(create_never_overwrites_a_pool_or_key),
		cmocka_unit_test(destroy_needs_the_key_and_no_live_hosts),
		cmocka_unit_test(config_setters_refuse_impossible_values),
		cmocka_unit_test(every_error_code_has_a_name),
	};
	return cmocka_run_group_tests_name("badinput", tests, NULL, NULL);
}
