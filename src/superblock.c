/*
 * superblock.c — seals and verifies the superblock.
 *
 * Layout of the protection (see layout.h):
 *   mac      = HMAC-SHA256(pool key, bytes [0, 472))
 *   checksum = XXH3-64(bytes [0, 504))           -- covers the MAC too
 * The checksum catches accidental damage without the key, in every byte;
 * the MAC catches a deliberate edit by someone who recomputed the checksum.
 * The format version is read before the checksum because a newer format
 * may checksum differently: such a pool is "too new", not "corrupt".
 */
#include "superblock.h"
#include "backend.h"
#include "error.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

static uint64_t checksum_of(const struct superblock *sb)
{
	return XXH3_64bits(sb, offsetof(struct superblock, checksum));
}

int superblock_seal(struct superblock *sb, const struct pool_key *key)
{
	memcpy(sb->magic, SB_MAGIC, sizeof sb->magic);
	sb->format_version = SHMEMORA_FORMAT_VERSION;
	sb->sb_size = sizeof *sb;
	memcpy(sb->key_id, key->id, sizeof sb->key_id);
	int rc = crypto_mac(key, sb, offsetof(struct superblock, mac), sb->mac);
	if (rc)
		return rc;
	sb->checksum = checksum_of(sb);
	return 0;
}

int superblock_verify_copy(const struct superblock *sb, const char *what)
{
	if (memcmp(sb->magic, SB_MAGIC, sizeof sb->magic) != 0)
		return error_set(SHMEMORA_E_NOT_POOL, "%s superblock has no SHMemora signature",
				 what);
	if (sb->format_version > SHMEMORA_FORMAT_VERSION)
		return error_set(SHMEMORA_E_VERSION,
				 "pool format version %u is newer than this library reads (%d): "
				 "upgrade libshmemora", sb->format_version, SHMEMORA_FORMAT_VERSION);
	if (sb->format_version == 0)
		return error_set(SHMEMORA_E_CORRUPT, "%s superblock has format version 0", what);
	if (sb->format_version < SHMEMORA_FORMAT_VERSION)
		return error_set(SHMEMORA_E_VERSION,
				 "pool format version %u is older than this library reads (%d): "
				 "version 3 keeps entries in extents that hosts claim on demand "
				 "instead of one fixed partition per host, and index slots carry a "
				 "build tag (version 2 counted heartbeats instead of wall clocks); "
				 "dump the namespaces with an older shmemora, recreate the pool and "
				 "load them", sb->format_version, SHMEMORA_FORMAT_VERSION);
	uint64_t sum = checksum_of(sb);
	if (sum != sb->checksum)
		return error_set(SHMEMORA_E_CORRUPT,
				 "%s superblock checksum mismatch (stored %016llx, computed %016llx)",
				 what, (unsigned long long)sb->checksum, (unsigned long long)sum);
	int rc = layout_check(sb);
	if (rc)
		return error_wrap(rc, "%s superblock", what);
	return 0;
}

/* Reads a copy; when the medium ends inside it, reads what is there (so the
 * signature can still be judged) and returns E_TRUNCATED. */
static int read_copy(const struct backend *be, uint64_t at, struct superblock *sb)
{
	memset(sb, 0, sizeof *sb);
	uint64_t got;
	int rc = backend_read(be, at, sb, sizeof *sb, &got);
	if (rc)
		return error_wrap(rc, "reading superblock");
	return got == sizeof *sb ? 0 : SHMEMORA_E_TRUNCATED;
}

/* Verifies a copy read at `at`; the message names it. */
static int load_copy(const struct backend *be, uint64_t at, const char *what,
		     struct superblock *sb)
{
	int rc = read_copy(be, at, sb);
	if (rc == SHMEMORA_E_TRUNCATED) {
		if (at == SB_PRIMARY_OFFSET && memcmp(sb->magic, SB_MAGIC, sizeof sb->magic) != 0)
			return error_set(SHMEMORA_E_NOT_POOL,
					 "file of %llu bytes is too short to be a pool and has no "
					 "SHMemora signature", (unsigned long long)be->size);
		return error_set(SHMEMORA_E_TRUNCATED,
				 "file of %llu bytes ends inside the %s superblock",
				 (unsigned long long)be->size, what);
	}
	if (rc)
		return rc;
	return superblock_verify_copy(sb, what);
}

int superblock_read(const struct backend *be, struct superblock *out, int *from_backup)
{
	uint64_t file_size = be->size;
	struct superblock primary, backup;
	char primary_msg[512];
	*from_backup = 0;
	int rc = load_copy(be, SB_PRIMARY_OFFSET, "primary", &primary);
	if (rc == 0) {
		*out = primary;
	} else if (rc == SHMEMORA_E_IO) {
		return rc;
	} else {
		strncpy(primary_msg, shmemora_errmsg(), sizeof primary_msg - 1);
		primary_msg[sizeof primary_msg - 1] = '\0';
		int brc = load_copy(be, SB_BACKUP_OFFSET, "backup", &backup);
		if (brc != 0) {
			/* Report the primary's verdict, unless the primary is not
			 * even a pool while the backup says it was one. */
			if (rc == SHMEMORA_E_NOT_POOL && brc != SHMEMORA_E_NOT_POOL &&
			    brc != SHMEMORA_E_TRUNCATED)
				return error_wrap(brc, "primary superblock wiped; backup unusable");
			if (rc == SHMEMORA_E_NOT_POOL)
				return error_set(rc, "not a SHMemora pool (no signature in either "
						 "superblock copy)");
			if (rc == SHMEMORA_E_VERSION)
				return error_set(rc, "%s", primary_msg);
			return error_set(rc, "%s; the backup copy is damaged too", primary_msg);
		}
		*out = backup;
		*from_backup = 1;
	}
	if (out->pool_size > file_size)
		return error_set(SHMEMORA_E_TRUNCATED,
				 "file is %llu bytes but holds a pool of %llu bytes",
				 (unsigned long long)file_size, (unsigned long long)out->pool_size);
	return 0;
}

int superblock_verify_key(const struct superblock *sb, const struct pool_key *key)
{
	if (!crypto_equal(sb->key_id, key->id, KEY_ID_BYTES)) {
		char have[2 * KEY_ID_BYTES + 1], want[2 * KEY_ID_BYTES + 1];
		hex_encode(key->id, 8, have);
		hex_encode(sb->key_id, 8, want);
		return error_set(SHMEMORA_E_KEY_MISMATCH,
				 "key does not match this pool (key id %s…, pool expects %s…)",
				 have, want);
	}
	uint8_t mac[MAC_BYTES];
	int rc = crypto_mac(key, sb, offsetof(struct superblock, mac), mac);
	if (rc)
		return rc;
	if (!crypto_equal(mac, sb->mac, MAC_BYTES))
		return error_set(SHMEMORA_E_TAMPERED,
				 "superblock MAC does not verify under the pool key: the superblock "
				 "was edited by someone without the key");
	return 0;
}
