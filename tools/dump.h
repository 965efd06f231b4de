/*
 * dump.h — the dump format of `shmemora dump` and `shmemora load`: writing
 * one as a scan goes, and verifying one whole before a key is loaded.
 * docs/dump-format.md documents it byte for byte; this is its one
 * implementation.
 *
 *   header   magic "\x89SHMDUMP", u32 version, u32 flags, u32 name length,
 *            the namespace's name
 *   records  u32 key length (1..), u32 value length, u64 version, key, value,
 *            u64 XXH3-64 of the record's bytes before it
 *   trailer  u32 0 (no key is empty), u64 record count, u64 XXH3-64 of every
 *            byte before it
 * Integers are little-endian.
 */
#ifndef SHMEMORA_DUMP_H
#define SHMEMORA_DUMP_H

#include "shmemora.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DUMP_MAGIC "\x89SHMDUMP"
#define DUMP_MAGIC_LEN 8
#define DUMP_VERSION 1u
#define DUMP_HEADER_FIXED 20     /* magic, version, flags, name length */
#define DUMP_RECORD_FIXED 16     /* key length, value length, version */
#define DUMP_RECORD_CHECK 8      /* after key and value */
#define DUMP_TRAILER 20          /* end marker, count, checksum */

/* A dump being written. */
struct dump_writer {
	FILE *out;
	void *hash;          /* XXH3 state of everything written */
	uint64_t records, bytes;
};

/* Starts a dump of namespace `ns` on `out`: 0, or -1 with errno. */
int dump_begin(struct dump_writer *w, FILE *out, const char *ns);
/* Appends one record: 0, or -1 with errno. */
int dump_add(struct dump_writer *w, const shmemora_scan_item *item);
/* Writes the trailer and frees the writer: 0, or -1 with errno. */
int dump_finish(struct dump_writer *w);
/* Frees the writer without a trailer (the dump stays incomplete). */
void dump_abandon(struct dump_writer *w);

/* What verifying a dump found. */
struct dump_view {
	char ns[SHMEMORA_NS_NAME_MAX + 1]; /* the namespace it was taken from */
	uint64_t records;     /* records that verified, from the first on */
	size_t first;         /* offset of the first record */
	size_t good_end;      /* offset just past the last record that verified */
	int complete;         /* 1: every record, the count and the checksum verified */
	int code;             /* when not complete: EXIT_USAGE (not a dump, another
			       * version, past the pool's limits) or EXIT_INTEGRITY
			       * (damaged, truncated) */
	char problem[256];    /* when not complete: what is wrong, and where */
};

/*
 * Verifies the whole dump in buf: magic, version, flags, name, each record's
 * lengths (keys 1..max_key, values up to max_value) and check, the trailer's
 * count and checksum, and that nothing follows it.  Fills *v either way;
 * returns v->complete.
 */
int dump_verify(const uint8_t *buf, size_t len, uint32_t max_key, uint32_t max_value,
		struct dump_view *v);

/* One record of a verified dump. */
struct dump_record {
	const uint8_t *key, *value;
	uint32_t key_len, value_len;
	uint64_t version;
};
/* Reads the record at *off (which dump_verify passed) and moves past it. */
void dump_record_at(const uint8_t *buf, size_t *off, struct dump_record *r);

#endif
