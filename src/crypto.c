/*
 * crypto.c — key file, HMAC-SHA256 and randomness on OpenSSL's libcrypto.
 *
 * Key file format (one line, text so an operator can copy it safely):
 *     shmemora-key-v1 <64 lower-case hex digits>\n
 * Anything else is refused as malformed.  A key file that group or others
 * can access is refused the way ssh refuses an open private key: the pool's
 * protection is only as good as this file's secrecy.
 */
#include "crypto.h"
#include "error.h"
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define KEY_FILE_TAG "shmemora-key-v1 "
#define KEY_FILE_LEN (sizeof(KEY_FILE_TAG) - 1 + 2 * POOL_KEY_BYTES + 1)

int crypto_random(void *buf, size_t len)
{
	if (RAND_bytes(buf, (int)len) != 1)
		return error_set(SHMEMORA_E_IO, "the OS random source failed (RAND_bytes)");
	return 0;
}

void crypto_key_compute_id(struct pool_key *key)
{
	static const char label[] = "shmemora key id v1";
	uint8_t digest[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned len = 0;
	/* EVP failure here means libcrypto is broken; the zero id that results
	 * matches no pool, so attach then fails closed with E_KEY_MISMATCH. */
	memset(digest, 0, sizeof digest);
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, label, sizeof label - 1) == 1 &&
	    EVP_DigestUpdate(ctx, key->bytes, sizeof key->bytes) == 1)
		EVP_DigestFinal_ex(ctx, digest, &len);
	EVP_MD_CTX_free(ctx);
	memcpy(key->id, digest, KEY_ID_BYTES);
}

int crypto_key_generate(struct pool_key *key)
{
	int rc = crypto_random(key->bytes, sizeof key->bytes);
	if (rc)
		return rc;
	crypto_key_compute_id(key);
	return 0;
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int crypto_key_save(const struct pool_key *key, const char *path, long gid)
{
	char line[KEY_FILE_LEN + 1];
	char hex[2 * POOL_KEY_BYTES + 1];
	hex_encode(key->bytes, sizeof key->bytes, hex);
	int n = snprintf(line, sizeof line, "%s%s\n", KEY_FILE_TAG, hex);
	crypto_wipe(hex, sizeof hex);

	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		crypto_wipe(line, sizeof line);
		if (e == EEXIST)
			return error_set(SHMEMORA_E_EXISTS,
					 "key file %s already exists; it may belong to another pool: "
					 "remove it or choose another with --key-file", path);
		return error_set(SHMEMORA_E_KEY, "cannot create key file %s: %s", path,
				 strerror(e));
	}
	int rc = files_share_with_group(fd, path, "key file", gid, 0640);
	if (rc) {
		crypto_wipe(line, sizeof line);
		close(fd);
		unlink(path);
		return rc;
	}
	ssize_t w = write(fd, line, (size_t)n);
	int e = errno;
	crypto_wipe(line, sizeof line);
	if (w != n || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return error_set(SHMEMORA_E_KEY, "cannot write key file %s: %s", path,
				 w < 0 ? strerror(e) : "short write");
	}
	close(fd);
	return 0;
}

/* Who may read a key file: its owner, and the pool file's group when the
 * pool was created for a group (mode 0640, that group); nobody else, and
 * nobody but the owner may write it. */
static int check_key_mode(const char *path, const struct stat *st, long pool_gid)
{
	mode_t m = st->st_mode & 07777;
	if (!(m & 0077))
		return 0;
	if (!(m & 0037) && pool_gid >= 0 && st->st_gid == (gid_t)pool_gid)
		return 0;
	if (!(m & 0037))
		return error_set(SHMEMORA_E_KEY,
				 "key file %s is readable by group %u, which is not the pool "
				 "file's group: run chgrp to the pool's group, or chmod 600 %s",
				 path, (unsigned)st->st_gid, path);
	return error_set(SHMEMORA_E_KEY,
			 "key file %s is accessible by others or writable by its group (mode "
			 "%04o); run: chmod 600 %s (or 640 for a pool shared with a group)", path,
			 (unsigned)m, path);
}

int crypto_key_load(struct pool_key *key, const char *path, long pool_gid)
{
	char line[KEY_FILE_LEN + 2];
	size_t n;
	struct stat st;
	int rc = files_read_small(path, line, sizeof line, &n, &st);
	if (rc == -ENOENT)
		return error_set(SHMEMORA_E_KEY,
				 "key file %s not found: give the pool's key with "
				 "--key-file or SHMEMORA_KEY_FILE", path);
	if (rc == -EACCES || rc == -EPERM)
		return error_set(SHMEMORA_E_PERMISSION,
				 "key file %s: permission denied: this user may not read the pool's "
				 "key; ask its administrator to add you to the pool's group (see "
				 "'shmemora create --group')", path);
	if (rc)
		return error_set(SHMEMORA_E_KEY, "key file %s %s", path, files_problem(rc));
	if ((rc = check_key_mode(path, &st, pool_gid)))
		return rc;
	int ok = n == KEY_FILE_LEN &&
		 memcmp(line, KEY_FILE_TAG, sizeof(KEY_FILE_TAG) - 1) == 0 &&
		 line[KEY_FILE_LEN - 1] == '\n';
	const char *hex = line + sizeof(KEY_FILE_TAG) - 1;
	for (size_t i = 0; ok && i < POOL_KEY_BYTES; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			ok = 0;
		else
			key->bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	crypto_wipe(line, sizeof line);
	if (!ok) {
		crypto_wipe(key->bytes, sizeof key->bytes);
		return error_set(SHMEMORA_E_KEY,
				 "key file %s is malformed (expected one line: "
				 "'shmemora-key-v1 ' and 64 hex digits)", path);
	}
	crypto_key_compute_id(key);
	return 0;
}

int crypto_mac(const struct pool_key *key, const void *data, size_t len,
	       uint8_t out[MAC_BYTES])
{
	unsigned out_len = 0;
	if (!HMAC(EVP_sha256(), key->bytes, sizeof key->bytes, data, len, out, &out_len) ||
	    out_len != MAC_BYTES)
		return error_set(SHMEMORA_E_IO, "HMAC-SHA256 failed in libcrypto");
	return 0;
}

int crypto_derive(const struct pool_key *key, const char *label,
		  const void *salt, size_t salt_len, uint8_t out[MAC_BYTES])
{
	uint8_t buf[256];
	size_t label_len = strlen(label);
	if (label_len + salt_len > sizeof buf)
		return error_set(SHMEMORA_E_INVALID, "derivation input too long");
	memcpy(buf, label, label_len);
	memcpy(buf + label_len, salt, salt_len);
	return crypto_mac(key, buf, label_len + salt_len, out);
}

int crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_wipe(void *buf, size_t len)
{
	OPENSSL_cleanse(buf, len);
}
