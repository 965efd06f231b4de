/*
 * token_text.c — the text form of a token, and token files.
 *
 *   shmemora1_KKKK_IIIIIIIIIIIIIIII_TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT_CCCCCCCC
 *
 * K key hint (2 bytes), I id (8 bytes, big-endian hex so it reads like the
 * number), T tag (16 bytes), C the low 32 bits of XXH3-64 over everything
 * before the last '_'.  The checksum is not security: it only lets a typo be
 * reported as "malformed" instead of "forged".
 */
#include "crypto.h"
#include "error.h"
#include "files.h"
#include "shmemora.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define PREFIX "shmemora1_"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
/* Offsets of the parts in the text. */
#define AT_HINT PREFIX_LEN
#define AT_ID (AT_HINT + 4 + 1)
#define AT_TAG (AT_ID + 16 + 1)
#define AT_SUM (AT_TAG + 32 + 1)
#define TEXT_LEN (AT_SUM + 8)
#define TOKEN_FILE_MAX 4096      /* a token and white space: anything larger is not one */
_Static_assert(TEXT_LEN == SHMEMORA_TOKEN_TEXT_LEN, "documented token length");

static const char right_letters[] = "rwidg"; /* bit i is right_letters[i] */

void shmemora_rights_format(uint32_t rights, char out[6])
{
	int n = 0;
	for (int i = 0; i < 5; i++)
		if (rights & (1u << i))
			out[n++] = right_letters[i];
	out[n] = '\0';
}

int shmemora_rights_parse(const char *text, uint32_t *rights)
{
	uint32_t r = 0;
	if (!text || !*text || !rights)
		return error_set(SHMEMORA_E_INVALID, "rights: a non-empty subset of rwidg");
	for (const char *p = text; *p; p++) {
		const char *at = strchr(right_letters, *p);
		if (!at)
			return error_set(SHMEMORA_E_INVALID, "rights '%s': '%c' is not one of rwidg",
					 text, *p);
		r |= 1u << (at - right_letters);
	}
	*rights = r;
	return 0;
}

static uint32_t text_checksum(const char *text)
{
	return (uint32_t)XXH3_64bits(text, AT_SUM - 1);
}

int shmemora_token_format(const shmemora_token *t, char *buf, size_t len)
{
	if (!t || !buf || len < TEXT_LEN + 1)
		return error_set(SHMEMORA_E_INVALID, "token_format: buffer of %d bytes needed",
				 (int)TEXT_LEN + 1);
	char tag[2 * SHMEMORA_TAG_BYTES + 1];
	hex_encode(t->tag, sizeof t->tag, tag);
	snprintf(buf, len, PREFIX "%04x_%016llx_%s_", t->key_hint,
		 (unsigned long long)t->id, tag);
	snprintf(buf + AT_SUM, len - AT_SUM, "%08x", text_checksum(buf));
	return 0;
}

static int malformed(const char *why)
{
	return error_set(SHMEMORA_E_TOKEN_MALFORMED,
			 "malformed token (%s): expected shmemora1_ followed by 4, 16, 32 and "
			 "8 lower-case hex digits separated by '_'", why);
}

static int parse_hex(const char *s, size_t digits, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < digits; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

int shmemora_token_parse(const char *text, shmemora_token *out)
{
	error_clear();
	if (!text || !out)
		return error_set(SHMEMORA_E_INVALID, "token_parse: text and out are required");
	while (isspace((unsigned char)*text))
		text++;
	size_t n = strlen(text);
	while (n && isspace((unsigned char)text[n - 1]))
		n--;
	if (n != TEXT_LEN)
		return malformed(n < TEXT_LEN ? "too short" : "too long");
	if (memcmp(text, PREFIX, PREFIX_LEN) != 0)
		return malformed("wrong prefix");
	if (text[AT_ID - 1] != '_' || text[AT_TAG - 1] != '_' || text[AT_SUM - 1] != '_')
		return malformed("separators misplaced");
	uint64_t hint, id, sum, half;
	shmemora_token t;
	memset(&t, 0, sizeof t);
	if (parse_hex(text + AT_HINT, 4, &hint) || parse_hex(text + AT_ID, 16, &id) ||
	    parse_hex(text + AT_SUM, 8, &sum))
		return malformed("not hex");
	for (int i = 0; i < 2; i++) {
		if (parse_hex(text + AT_TAG + 16 * i, 16, &half))
			return malformed("not hex");
		for (int b = 0; b < 8; b++)
			t.tag[8 * i + b] = (uint8_t)(half >> (56 - 8 * b));
	}
	if ((uint32_t)sum != text_checksum(text))
		return malformed("checksum mismatch: mistyped or cut");
	t.key_hint = (uint16_t)hint;
	t.id = id;
	*out = t;
	return 0;
}

int shmemora_token_load(const char *path, shmemora_token *out)
{
	error_clear();
	if (!path || !out)
		return error_set(SHMEMORA_E_INVALID, "token_load: path and out are required");
	/* The whole file, which must hold the token and nothing else but white
	 * space: junk after a token is refused, not ignored. */
	char buf[TOKEN_FILE_MAX + 1];
	size_t n;
	struct stat st;
	int rc = files_read_small(path, buf, TOKEN_FILE_MAX, &n, &st);
	if (rc == -ENOENT)
		return error_set(SHMEMORA_E_NOT_FOUND, "token file %s not found", path);
	if (rc == -EACCES || rc == -EPERM)
		return error_set(SHMEMORA_E_PERMISSION, "token file %s: permission denied", path);
	if (rc)
		return error_set(SHMEMORA_E_INVALID, "token file %s %s", path, files_problem(rc));
	buf[n] = '\0';
	if (strlen(buf) != n)
		rc = error_set(SHMEMORA_E_TOKEN_MALFORMED, "a NUL byte in it");
	else
		rc = shmemora_token_parse(buf, out);
	crypto_wipe(buf, sizeof buf);
	return rc ? error_wrap(rc, "token file %s", path) : 0;
}

int shmemora_token_save(const shmemora_token *token, const char *path)
{
	error_clear();
	char text[TEXT_LEN + 2];
	int rc = shmemora_token_format(token, text, sizeof text);
	if (rc)
		return rc;
	strcat(text, "\n");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		crypto_wipe(text, sizeof text);
		return error_set(e == EEXIST ? SHMEMORA_E_EXISTS : SHMEMORA_E_IO,
				 "cannot create token file %s: %s", path, strerror(e));
	}
	ssize_t w = write(fd, text, TEXT_LEN + 1);
	crypto_wipe(text, sizeof text);
	if (w != TEXT_LEN + 1 || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return error_set(SHMEMORA_E_IO, "cannot write token file %s", path);
	}
	close(fd);
	return 0;
}
