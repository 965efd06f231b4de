/*
 * dump.c — writing and verifying the dump format (dump.h,
 * docs/dump-format.md).  The writer hashes every byte it writes, so the
 * trailer's checksum covers the whole dump; each record also carries its
 * own check, so that `load --partial` can tell how far a damaged dump is
 * sound.  The verifier trusts no length before it has checked it against
 * both the bytes that remain and the pool's limits.
 */
#include "dump.h"
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack, for a record's check */
#include <xxhash.h>

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---------------------------------------------------------------- writer */

/* Writes bytes and adds them to the running hash. */
static int emit(struct dump_writer *w, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, w->out) != n)
		return -1;
	XXH3_64bits_update(w->hash, p, n);
	w->bytes += n;
	return 0;
}

int dump_begin(struct dump_writer *w, FILE *out, const char *ns)
{
	size_t n = strlen(ns);
	w->out = out;
	w->records = w->bytes = 0;
	if (!(w->hash = XXH3_createState()) || XXH3_64bits_reset(w->hash) != XXH_OK) {
		XXH3_freeState(w->hash);
		errno = ENOMEM;
		return -1;
	}
	uint8_t head[DUMP_HEADER_FIXED];
	memcpy(head, DUMP_MAGIC, DUMP_MAGIC_LEN);
	put32(head + 8, DUMP_VERSION);
	put32(head + 12, 0);
	put32(head + 16, (uint32_t)n);
	return emit(w, head, sizeof head) || emit(w, ns, n) ? -1 : 0;
}

int dump_add(struct dump_writer *w, const shmemora_scan_item *it)
{
	uint8_t fixed[DUMP_RECORD_FIXED], check[DUMP_RECORD_CHECK];
	put32(fixed, (uint32_t)it->key_len);
	put32(fixed + 4, (uint32_t)it->value_len);
	put64(fixed + 8, it->version);
	XXH3_state_t record;
	XXH3_64bits_reset(&record);
	XXH3_64bits_update(&record, fixed, sizeof fixed);
	XXH3_64bits_update(&record, it->key, it->key_len);
	XXH3_64bits_update(&record, it->value, it->value_len);
	put64(check, XXH3_64bits_digest(&record));
	if (emit(w, fixed, sizeof fixed) || emit(w, it->key, it->key_len) ||
	    emit(w, it->value, it->value_len) || emit(w, check, sizeof check))
		return -1;
	w->records++;
	return 0;
}

int dump_finish(struct dump_writer *w)
{
	uint8_t tail[DUMP_TRAILER];
	put32(tail, 0);
	put64(tail + 4, w->records);
	int rc = emit(w, tail, 12);
	put64(tail + 12, XXH3_64bits_digest(w->hash));
	if (rc == 0 && fwrite(tail + 12, 1, 8, w->out) != 8)
		rc = -1;
	if (rc == 0 && fflush(w->out) != 0)
		rc = -1;
	w->bytes += 8;
	XXH3_freeState(w->hash);
	w->hash = NULL;
	return rc;
}

void dump_abandon(struct dump_writer *w)
{
	XXH3_freeState(w->hash);
	w->hash = NULL;
}

/* -------------------------------------------------------------- verifier */

static int damaged(struct dump_view *v, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int damaged(struct dump_view *v, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->problem, sizeof v->problem, fmt, ap);
	va_end(ap);
	v->code = code;
	v->complete = 0;
	return 0;
}

static int verify_header(const uint8_t *buf, size_t len, struct dump_view *v)
{
	if (len < DUMP_MAGIC_LEN || memcmp(buf, DUMP_MAGIC, DUMP_MAGIC_LEN) != 0)
		return damaged(v, EXIT_USAGE, "not a SHMemora dump (its first bytes are not the "
			       "dump magic): was it written by `shmemora dump`?");
	if (len < DUMP_HEADER_FIXED)
		return damaged(v, EXIT_INTEGRITY, "truncated: the dump ends inside its header");
	uint32_t version = get32(buf + 8), flags = get32(buf + 12), n = get32(buf + 16);
	if (version != DUMP_VERSION)
		return damaged(v, EXIT_USAGE, "dump format version %" PRIu32 ", but this shmemora "
			       "reads version %u only: load it with the shmemora that wrote it",
			       version, DUMP_VERSION);
	if (flags != 0)
		return damaged(v, EXIT_USAGE, "dump flags %#" PRIx32 " unknown to this shmemora "
			       "(it knows none): load it with the shmemora that wrote it", flags);
	if (n == 0 || n > SHMEMORA_NS_NAME_MAX)
		return damaged(v, EXIT_INTEGRITY, "damaged header: a namespace name of %" PRIu32
			       " bytes (1..%d)", n, SHMEMORA_NS_NAME_MAX);
	if (len - DUMP_HEADER_FIXED < n)
		return damaged(v, EXIT_INTEGRITY, "truncated: the dump ends inside its header");
	if (memchr(buf + DUMP_HEADER_FIXED, '\0', n))
		return damaged(v, EXIT_INTEGRITY, "damaged header: a NUL byte in the namespace name");
	memcpy(v->ns, buf + DUMP_HEADER_FIXED, n);
	v->ns[n] = '\0';
	v->first = v->good_end = DUMP_HEADER_FIXED + n;
	return 1;
}

int dump_verify(const uint8_t *buf, size_t len, uint32_t max_key, uint32_t max_value,
		struct dump_view *v)
{
	memset(v, 0, sizeof *v);
	if (!verify_header(buf, len, v))
		return 0;
	size_t off = v->first;
	for (;;) {
		uint64_t at = v->records + 1;
		if (len - off < 4)
			return damaged(v, EXIT_INTEGRITY, "truncated after %" PRIu64 " records "
				       "(byte %zu): the dump has no trailer", v->records, off);
		uint32_t klen = get32(buf + off);
		if (klen == 0)
			break; /* the trailer */
		if (len - off < DUMP_RECORD_FIXED)
			return damaged(v, EXIT_INTEGRITY, "truncated inside record %" PRIu64
				       " (byte %zu)", at, off);
		uint32_t vlen = get32(buf + off + 4);
		if (klen > SHMEMORA_MAX_KEY_LIMIT || vlen > SHMEMORA_MAX_VALUE_LIMIT)
			return damaged(v, EXIT_INTEGRITY, "record %" PRIu64 " (byte %zu) is damaged: "
				       "lengths %" PRIu32 " and %" PRIu32 " that no pool allows", at, off,
				       klen, vlen);
		if (klen > max_key)
			return damaged(v, EXIT_USAGE, "record %" PRIu64 " (byte %zu) has a key of %"
				       PRIu32 " bytes; this pool's keys are at most %" PRIu32 " (load "
				       "it into a pool created with a larger --max-key)", at, off, klen,
				       max_key);
		if (vlen > max_value)
			return damaged(v, EXIT_USAGE, "record %" PRIu64 " (byte %zu) has a value of %"
				       PRIu32 " bytes; this pool's values are at most %" PRIu32 " (load "
				       "it into a pool created with a larger --max-value)", at, off, vlen,
				       max_value);
		size_t whole = DUMP_RECORD_FIXED + (size_t)klen + vlen + DUMP_RECORD_CHECK;
		if (len - off < whole)
			return damaged(v, EXIT_INTEGRITY, "truncated inside record %" PRIu64
				       " (byte %zu)", at, off);
		size_t body = whole - DUMP_RECORD_CHECK;
		if (XXH3_64bits(buf + off, body) != get64(buf + off + body))
			return damaged(v, EXIT_INTEGRITY, "record %" PRIu64 " (byte %zu) fails its "
				       "check: the dump is damaged there", at, off);
		off += whole;
		v->records++;
		v->good_end = off;
	}
	if (len - off < DUMP_TRAILER)
		return damaged(v, EXIT_INTEGRITY, "truncated inside the trailer (byte %zu)", off);
	uint64_t count = get64(buf + off + 4);
	if (count != v->records)
		return damaged(v, EXIT_INTEGRITY, "the trailer counts %" PRIu64 " records, the dump "
			       "holds %" PRIu64 ": records were removed or added", count, v->records);
	if (XXH3_64bits(buf, off + 12) != get64(buf + off + 12))
		return damaged(v, EXIT_INTEGRITY, "the checksum in the trailer does not match the "
			       "dump: it is damaged");
	if (len - off != DUMP_TRAILER)
		return damaged(v, EXIT_INTEGRITY, "%zu bytes follow the trailer (byte %zu): not one "
			       "whole dump", len - off - DUMP_TRAILER, off + DUMP_TRAILER);
	v->complete = 1;
	return 1;
}

void dump_record_at(const uint8_t *buf, size_t *off, struct dump_record *r)
{
	const uint8_t *p = buf + *off;
	r->key_len = get32(p);
	r->value_len = get32(p + 4);
	r->version = get64(p + 8);
	r->key = p + DUMP_RECORD_FIXED;
	r->value = r->key + r->key_len;
	*off += DUMP_RECORD_FIXED + (size_t)r->key_len + r->value_len + DUMP_RECORD_CHECK;
}
