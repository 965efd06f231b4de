/*
 * cli.c — what every subcommand of `shmemora` shares: turning library errors
 * into one line on stderr and an exit code, and parsing sizes and numbers.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *prog = "shmemora";

int exit_code_for(int err)
{
	switch (err) {
	case SHMEMORA_OK:
		return EXIT_OK;
	case SHMEMORA_E_NOT_FOUND:
		return EXIT_NOT_FOUND;
	case SHMEMORA_E_INVALID:
	case SHMEMORA_E_EXISTS:
	case SHMEMORA_E_NOT_POOL:
	case SHMEMORA_E_VERSION:
	case SHMEMORA_E_GEOMETRY:
	case SHMEMORA_E_BAD_PATH:
		return EXIT_USAGE;
	case SHMEMORA_E_TOKEN_MALFORMED:
		return EXIT_USAGE;
	case SHMEMORA_E_KEY:
	case SHMEMORA_E_KEY_MISMATCH:
	case SHMEMORA_E_FENCED:
	case SHMEMORA_E_TOKEN_REFUSED:
	case SHMEMORA_E_REVOKED:
	case SHMEMORA_E_EXPIRED:
	case SHMEMORA_E_DENIED:
	case SHMEMORA_E_OUT_OF_SCOPE:
	case SHMEMORA_E_WIDEN:
	case SHMEMORA_E_NO_SLOT:
	case SHMEMORA_E_QUOTA:
	case SHMEMORA_E_READ_ONLY:
	case SHMEMORA_E_PERMISSION:
		return EXIT_DENIED;
	case SHMEMORA_E_TOO_SMALL:
		return EXIT_USAGE;
	case SHMEMORA_E_TRUNCATED:
	case SHMEMORA_E_CORRUPT:
	case SHMEMORA_E_TAMPERED:
		return EXIT_INTEGRITY;
	}
	return EXIT_RUNTIME;
}

/* Prints the library's message for `err` and returns the exit code. */
int fail(int err)
{
	const char *msg = shmemora_errmsg();
	fprintf(stderr, "%s: %s\n", prog, *msg ? msg : shmemora_strerror(err));
	return exit_code_for(err);
}

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s %s: ", prog, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s %s --help'.\n", prog, cmd);
	return EXIT_USAGE;
}

/* "1G", "512MiB", "64m", "4096": bytes, or -1 for anything else. */
int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
		end += strlen(end);
	if (*end || v == 0 || (shift && v > (ULLONG_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

void human_bytes(uint64_t v, char *out, size_t n)
{
	static const char *unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;
	double d = (double)v;
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%" PRIu64 " bytes", v);
	else if (d == (double)(uint64_t)d)
		snprintf(out, n, "%.0f %s", d, unit[u]);
	else
		snprintf(out, n, "%.2f %s", d, unit[u]);
}

void format_uuid(const uint8_t u[16], char *out)
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

void format_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* A JSON string literal with the escapes JSON requires. */
void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* True when argv holds -h or --help before any "--". */
int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}


int cli_attach(const char *path, const struct attach_opts *o, shmemora_pool **out)
{
	shmemora_config *cfg;
	int rc = shmemora_config_new(&cfg);
	if (rc == 0 && o->key_file)
		rc = shmemora_config_set_key_file(cfg, o->key_file);
	if (rc == 0 && o->host_id >= 0)
		rc = shmemora_config_set_host_id(cfg, o->host_id);
	if (rc == 0)
		rc = shmemora_config_set_observer(cfg, o->observer);
	if (rc == 0)
		rc = shmemora_attach(path, cfg, out);
	shmemora_config_delete(cfg);
	return rc ? fail(rc) : EXIT_OK;
}
