/*
 * test_key.c — the pool key file: format, permissions, ids, and the HMAC.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "crypto.h"

#include <fcntl.h>

static void key_file_round_trips_with_mode_0600(void **state)
{
	(void)state;
	char path[256];
	test_pool_path(path, sizeof path, "key");
	struct pool_key key, loaded;
	assert_shm(0, crypto_key_generate(&key));
	assert_shm(0, crypto_key_save(&key, path, -1));
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_shm(0, crypto_key_load(&loaded, path, -1));
	assert_memory_equal(key.bytes, loaded.bytes, POOL_KEY_BYTES);
	assert_memory_equal(key.id, loaded.id, KEY_ID_BYTES);
	unlink(path);
}

static void existing_key_file_is_never_overwritten(void **state)
{
	(void)state;
	char path[256];
	test_pool_path(path, sizeof path, "keyx");
	struct pool_key a, b;
	assert_shm(0, crypto_key_generate(&a));
	assert_shm(0, crypto_key_generate(&b));
	assert_shm(0, crypto_key_save(&a, path, -1));
	struct file_snapshot snap = test_snapshot(path);
	assert_shm(SHMEMORA_E_EXISTS, crypto_key_save(&b, path, -1));
	assert_unchanged(snap, path);
	unlink(path);
}

static void write_key_text(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

static void malformed_key_files_are_refused(void **state)
{
	(void)state;
	char path[256];
	test_pool_path(path, sizeof path, "keybad");
	const char *bad[] = {
		"",
		"shmemora-key-v1 \n",
		"shmemora-key-v1 00112233\n",
		"shmemora-key-v2 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
		"shmemora-key-v1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",
		"shmemora-key-v1 000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f\n",
		"shmemora-key-v1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"shmemora-key-v1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\nX",
	};
	struct pool_key key;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_key_text(path, bad[i], 0600);
		assert_shm(SHMEMORA_E_KEY, crypto_key_load(&key, path, -1));
		assert_non_null(strstr(shmemora_errmsg(), "malformed"));
	}
	write_key_text(path,
		       "shmemora-key-v1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
		       0600);
	assert_shm(0, crypto_key_load(&key, path, -1));
	assert_int_equal(key.bytes[31], 0x1f);
	unlink(path);
}

static void key_open_to_others_is_refused(void **state)
{
	(void)state;
	char path[256];
	test_pool_path(path, sizeof path, "keyperm");
	struct pool_key key;
	assert_shm(0, crypto_key_generate(&key));
	assert_shm(0, crypto_key_save(&key, path, -1));
	chmod(path, 0640); /* readable by a group that is not the pool's */
	assert_shm(SHMEMORA_E_KEY, crypto_key_load(&key, path, -1));
	assert_non_null(strstr(shmemora_errmsg(), "chmod 600"));
	chmod(path, 0604);
	assert_shm(SHMEMORA_E_KEY, crypto_key_load(&key, path, -1));
	chmod(path, 0660); /* group-writable: never */
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_shm(SHMEMORA_E_KEY, crypto_key_load(&key, path, (long)st.st_gid));
	unlink(path);
}

/* A pool shared with a group: its key file is 0640 and owned by the pool
 * file's group, which attach accepts; the same mode with another group is
 * refused. */
static void key_readable_by_the_pools_group_is_accepted(void **state)
{
	(void)state;
	char path[256];
	test_pool_path(path, sizeof path, "keygroup");
	struct pool_key key;
	assert_shm(0, crypto_key_generate(&key));
	assert_shm(0, crypto_key_save(&key, path, (long)getgid()));
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_shm(0, crypto_key_load(&key, path, (long)st.st_gid));
	assert_shm(SHMEMORA_E_KEY, crypto_key_load(&key, path, (long)st.st_gid + 1));
	assert_non_null(strstr(shmemora_errmsg(), "not the pool"));
	unlink(path);
}

/* A FIFO, a directory or a symbolic link where the key file should be is
 * refused at once: nothing blocks waiting for a writer. */
static void key_file_that_is_not_a_regular_file_is_refused_without_blocking(void **state)
{
	(void)state;
	char path[256], real[300];
	test_pool_path(path, sizeof path, "keyfifo");
	struct pool_key key;
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10); /* a block here would end the test as SIGALRM */
	assert_shm(SHMEMORA_E_KEY, crypto_key_load(&key, path, -1));
	assert_non_null(strstr(shmemora_errmsg(), "not a regular file"));
	unlink(path);
	snprintf(real, sizeof real, "%s.real", path);
	assert_shm(0, crypto_key_generate(&key));
	assert_shm(0, crypto_key_save(&key, real, -1));
	assert_int_equal(symlink(real, path), 0);
	assert_shm(SHMEMORA_E_KEY, crypto_key_load(&key, path, -1));
	assert_non_null(strstr(shmemora_errmsg(), "symbolic link"));
	alarm(0);
	unlink(path);
	unlink(real);
}

/* Token files: a FIFO is refused without blocking, and a token followed by
 * anything but white space is malformed, wherever the junk starts. */
static void token_file_with_junk_or_not_a_file_is_refused(void **state)
{
	(void)state;
	char path[256];
	test_pool_path(path, sizeof path, "tokfile");
	shmemora_token t = { .key_hint = 0x1234, .id = 42 };
	char text[SHMEMORA_TOKEN_TEXT_LEN + 1];
	assert_shm(0, shmemora_token_format(&t, text, sizeof text));
	size_t junk_at[] = { 1, 100, 200, 3000 };
	for (size_t i = 0; i < sizeof junk_at / sizeof junk_at[0]; i++) {
		FILE *fp = fopen(path, "w");
		fprintf(fp, "%s\n%*sx\n", text, (int)junk_at[i], "");
		fclose(fp);
		shmemora_token got;
		assert_shm(SHMEMORA_E_TOKEN_MALFORMED, shmemora_token_load(path, &got));
	}
	FILE *fp = fopen(path, "w");
	fprintf(fp, "  %s \n\n", text);
	fclose(fp);
	shmemora_token got;
	assert_shm(0, shmemora_token_load(path, &got));
	assert_true(got.id == 42);
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_shm(SHMEMORA_E_INVALID, shmemora_token_load(path, &got));
	assert_non_null(strstr(shmemora_errmsg(), "not a regular file"));
	alarm(0);
	unlink(path);
}

static void missing_key_file_says_how_to_name_one(void **state)
{
	(void)state;
	struct pool_key key;
	assert_shm(SHMEMORA_E_KEY, crypto_key_load(&key, "/dev/shm/shmemora-no-such-key", -1));
	assert_non_null(strstr(shmemora_errmsg(), "--key-file"));
}

static void key_id_is_a_deterministic_fingerprint(void **state)
{
	(void)state;
	struct pool_key a, b;
	assert_shm(0, crypto_key_generate(&a));
	b = a;
	crypto_key_compute_id(&b);
	assert_memory_equal(a.id, b.id, KEY_ID_BYTES);
	b.bytes[0] ^= 1;
	crypto_key_compute_id(&b);
	assert_memory_not_equal(a.id, b.id, KEY_ID_BYTES);
	/* The id does not reveal the key. */
	assert_memory_not_equal(a.id, a.bytes, KEY_ID_BYTES);
}

/* RFC 4231's vectors use keys of other lengths than a pool key's 32 bytes;
 * this checks a 32-byte key against the openssl command's HMAC. */
static void hmac_matches_rfc2104_construction(void **state)
{
	(void)state;
	struct pool_key key;
	for (int i = 0; i < POOL_KEY_BYTES; i++)
		key.bytes[i] = (uint8_t)i;
	const char msg[] = "what do ya want for nothing?";
	uint8_t mac[MAC_BYTES];
	assert_shm(0, crypto_mac(&key, msg, sizeof msg - 1, mac));
	/* Expected value computed with: printf 'what do ya want for nothing?' |
	 * openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f */
	static const uint8_t want[MAC_BYTES] = {
		0x09, 0x98, 0x05, 0xf4, 0xac, 0x31, 0x07, 0x86, 0x96, 0x85, 0x65, 0xc0,
		0x98, 0xdb, 0x51, 0x5c, 0xc5, 0x08, 0x62, 0xb4, 0x20, 0xae, 0x31, 0xe2,
		0x02, 0x38, 0x31, 0x23, 0x44, 0xbe, 0xd3, 0x6a,
	};
	assert_memory_equal(mac, want, MAC_BYTES);
}

static void pool_with_wrong_or_missing_key_is_refused(void **state)
{
	(void)state;
	char pool[256], other[256], key[300], otherkey[300];
	test_pool_path(pool, sizeof pool, "wrongkey");
	test_pool_path(other, sizeof other, "wrongkey2");
	test_create_small(pool, 16u << 20, 2);
	test_create_small(other, 16u << 20, 2);
	test_key_path(pool, key, sizeof key);
	test_key_path(other, otherkey, sizeof otherkey);
	shmemora_config *cfg;
	shmemora_pool *p;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_key_file(cfg, otherkey));
	assert_shm(SHMEMORA_E_KEY_MISMATCH, shmemora_attach(pool, cfg, &p));
	/* The environment variable is the default when no key file is set. */
	setenv("SHMEMORA_KEY_FILE", otherkey, 1);
	assert_shm(SHMEMORA_E_KEY_MISMATCH, shmemora_attach(pool, NULL, &p));
	setenv("SHMEMORA_KEY_FILE", key, 1);
	assert_shm(0, shmemora_attach(pool, NULL, &p));
	assert_shm(0, shmemora_detach(p));
	unsetenv("SHMEMORA_KEY_FILE");
	unlink(key);
	assert_shm(SHMEMORA_E_KEY, shmemora_attach(pool, NULL, &p));
	shmemora_config_delete(cfg);
	test_remove_pool(pool);
	test_remove_pool(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_file_round_trips_with_mode_0600),
		cmocka_unit_test(existing_key_file_is_never_overwritten),
		cmocka_unit_test(malformed_key_files_are_refused),
		cmocka_unit_test(key_open_to_others_is_refused),
		cmocka_unit_test(key_readable_by_the_pools_group_is_accepted),
		cmocka_unit_test(key_file_that_is_not_a_regular_file_is_refused_without_blocking),
		cmocka_unit_test(token_file_with_junk_or_not_a_file_is_refused),
		cmocka_unit_test(missing_key_file_says_how_to_name_one),
		cmocka_unit_test(key_id_is_a_deterministic_fingerprint),
		cmocka_unit_test(hmac_matches_rfc2104_construction),
		cmocka_unit_test(pool_with_wrong_or_missing_key_is_refused),
	};
	return cmocka_run_group_tests_name("key", tests, NULL, NULL);
}
