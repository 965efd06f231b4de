/*
 * crypto.h — the pool key, HMAC-SHA256 and randomness (OpenSSL libcrypto).
 *
 * The pool key is 32 random bytes held in a key file (mode 0600) and never
 * in the pool.  The pool records only the key id, a one-way fingerprint of
 * the key, so a wrong key is told apart from a tampered superblock.
 */
#ifndef SHMEMORA_CRYPTO_H
#define SHMEMORA_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define POOL_KEY_BYTES 32
#define KEY_ID_BYTES 16
#define MAC_BYTES 32

struct pool_key {
	uint8_t bytes[POOL_KEY_BYTES];
	uint8_t id[KEY_ID_BYTES];
};

/* Fills `buf` from the OS's randomness (RAND_bytes). */
int crypto_random(void *buf, size_t len);

/* A fresh key with its id. */
int crypto_key_generate(struct pool_key *key);

/* Computes key->id from key->bytes: SHA-256("shmemora key id v1" || key),
 * first 16 bytes. */
void crypto_key_compute_id(struct pool_key *key);

/* Writes the key file: created exclusively, mode 0600 (0640 and group
 * `gid` for a pool shared with a group; -1 for none), fsynced.  E_EXISTS if
 * the file exists, E_KEY if it cannot be written, E_PERMISSION. */
int crypto_key_save(const struct pool_key *key, const char *path, long gid);

/* Reads and validates a key file.  E_KEY for a missing, malformed or too
 * open file (the message says which), E_PERMISSION when this user may not
 * read it.  The file may be readable by its owner only (mode 0600), or also
 * by group `pool_gid` (mode 0640: a pool created for a group; -1 for
 * none). */
int crypto_key_load(struct pool_key *key, const char *path, long pool_gid);

/* HMAC-SHA256 of `len` bytes under the pool key. */
int crypto_mac(const struct pool_key *key, const void *data, size_t len,
	       uint8_t out[MAC_BYTES]);

/* A secret derived from the key for one purpose: HMAC(key, label || salt).
 * Used e.g. for the index hash seed, so the seed is secret yet needs no
 * storage. */
int crypto_derive(const struct pool_key *key, const char *label,
		  const void *salt, size_t salt_len, uint8_t out[MAC_BYTES]);

/* Constant-time equality (CRYPTO_memcmp): 1 if equal. */
int crypto_equal(const void *a, const void *b, size_t len);

/* Erases secret bytes so the compiler cannot drop the store. */
void crypto_wipe(void *buf, size_t len);

/* Lower-case hex of `len` bytes into `out` (2*len+1 bytes). */
void hex_encode(const uint8_t *in, size_t len, char *out);


#endif
