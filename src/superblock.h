/*
 * superblock.h — encoding and verifying the superblock's two copies.
 *
 * Verification happens in two steps because the key is not always at hand:
 * superblock_read() needs no key (checksum, version, geometry: what `info`
 * can trust), superblock_verify_key() then checks the key id and the MAC
 * (what attach requires before it trusts anything else in the pool).
 */
#ifndef SHMEMORA_SUPERBLOCK_H
#define SHMEMORA_SUPERBLOCK_H

#include "crypto.h"
#include "layout.h"

/* Fills magic, version, size, key id; computes MAC then checksum. */
int superblock_seal(struct superblock *sb, const struct pool_key *key);

/*
 * Verifies one copy without the key: magic (E_NOT_POOL), format version
 * (E_VERSION), checksum (E_CORRUPT), geometry (E_CORRUPT).  `what` names the
 * copy in messages ("primary", "backup").
 */
int superblock_verify_copy(const struct superblock *sb, const char *what);

struct backend;

/*
 * Reads both copies from the medium (backend_read: pread on files, the
 * mapping on devdax, never read(2) there) and returns the
 * primary if it verifies, else the backup with *from_backup = 1.  When
 * neither verifies, returns the primary's error (the backup's when the
 * primary does not even look like a pool but the backup does).  Then checks
 * the pool fits the file (E_TRUNCATED).
 */
int superblock_read(const struct backend *be, struct superblock *out, int *from_backup);

/* Key id (E_KEY_MISMATCH, message with both ids) and MAC (E_TAMPERED). */
int superblock_verify_key(const struct superblock *sb, const struct pool_key *key);

#endif
