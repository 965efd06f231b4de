/*
 * cli.c — what every subcommand of `shmemora` shares: the exit-code table,
 * turning library errors into one line on stderr, reading tokens, attaching,
 * parsing sizes and numbers, and escaping bytes for terminals and JSON.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *prog = "shmemora";

/* ------------------------------------------------------------ exit codes */

/*
 * The exit codes, written once.  exit_code_for() looks a library error up
 * here, `shmemora --help` prints the meanings, and test_cli.sh checks that
 * README.md's table says the same.  An error listed nowhere exits 5.
 */
static const struct exit_class {
	int code;
	const char *meaning;
	int errors[16]; /* library errors that exit with `code`; 0 ends the list */
} exit_classes[] = {
	{ EXIT_OK, "success", { 0 } },
	{ EXIT_NOT_FOUND, "not found (pool, namespace, key, token file)",
	  { SHMEMORA_E_NOT_FOUND } },
	{ EXIT_USAGE,
	  "bad usage or input (not a pool, too new, does not fit, exists, malformed "
	  "token, bad dump)",
	  { SHMEMORA_E_INVALID, SHMEMORA_E_EXISTS, SHMEMORA_E_NOT_POOL, SHMEMORA_E_VERSION,
	    SHMEMORA_E_GEOMETRY, SHMEMORA_E_BAD_PATH, SHMEMORA_E_TOKEN_MALFORMED,
	    SHMEMORA_E_TOO_SMALL } },
	{ EXIT_DENIED,
	  "access denied (token refused, revoked, expired, lacking a right, out of "
	  "scope, over quota; missing, wrong or too open key file; no permission; "
	  "no free host slot; fenced host; a write through an observer)",
	  { SHMEMORA_E_KEY, SHMEMORA_E_KEY_MISMATCH, SHMEMORA_E_FENCED,
	    SHMEMORA_E_TOKEN_REFUSED, SHMEMORA_E_REVOKED, SHMEMORA_E_EXPIRED,
	    SHMEMORA_E_DENIED, SHMEMORA_E_OUT_OF_SCOPE, SHMEMORA_E_WIDEN, SHMEMORA_E_NO_SLOT,
	    SHMEMORA_E_QUOTA, SHMEMORA_E_READ_ONLY, SHMEMORA_E_PERMISSION } },
	{ EXIT_INTEGRITY,
	  "integrity error (corrupt, truncated or tampered pool; damaged dump)",
	  { SHMEMORA_E_TRUNCATED, SHMEMORA_E_CORRUPT, SHMEMORA_E_TAMPERED } },
	{ EXIT_RUNTIME,
	  "other runtime error (I/O, out of memory or space, busy, contended: try again)",
	  { 0 } },
};
#define NCLASSES (sizeof exit_classes / sizeof exit_classes[0])

int exit_code_for(int err)
{
	if (err == SHMEMORA_OK)
		return EXIT_OK;
	for (size_t c = 0; c < NCLASSES; c++)
		for (const int *e = exit_classes[c].errors; *e; e++)
			if (*e == err)
				return exit_classes[c].code;
	return EXIT_RUNTIME;
}

/* One "  CODE  meaning" entry a code, the meaning wrapped at 79 columns
 * with its following lines indented by 5. */
void print_exit_codes(FILE *f)
{
	fprintf(f, "Exit codes:\n");
	for (size_t c = 0; c < NCLASSES; c++) {
		const char *p = exit_classes[c].meaning;
		int col = fprintf(f, "  %d ", exit_classes[c].code);
		while (*p) {
			size_t word = strcspn(p, " ");
			if (col + 1 + (int)word > 79)
				col = fprintf(f, "\n    ");
			col += fprintf(f, " %.*s", (int)word, p);
			p += word;
			p += strspn(p, " ");
		}
		fputc('\n', f);
	}
}

/* ---------------------------------------------------------------- errors */

/* Prints the library's message for `err` and returns the exit code. */
int fail(int err)
{
	const char *msg = shmemora_errmsg();
	fprintf(stderr, "%s: %s\n", prog, *msg ? msg : shmemora_strerror(err));
	return exit_code_for(err);
}

int cli_error(int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s %s: ", prog, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s %s --help')\n", prog, cmd);
	return EXIT_USAGE;
}

int option_error(const char *cmd, int opt, char **argv)
{
	const char *arg = argv[optind - 1];
	if (opt == ':')
		return usage_error(cmd, "option '%s' needs a value", arg);
	if (optopt)
		return usage_error(cmd, "unknown option '-%c'", optopt);
	return usage_error(cmd, "unknown option '%s'", arg);
}

/* --------------------------------------------------------------- numbers */

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

int parse_size0(const char *s, uint64_t *out)
{
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	return parse_size(s, out);
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

/* ------------------------------------------------------- bytes as text */

void escape_bytes(const void *bytes, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = bytes;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\\') {
			*out++ = '\\';
			*out++ = '\\';
		} else if (p[i] > 0x20 && p[i] < 0x7f) {
			*out++ = (char)p[i];
		} else {
			*out++ = '\\';
			*out++ = 'x';
			*out++ = hex[p[i] >> 4];
			*out++ = hex[p[i] & 15];
		}
	}
	*out = '\0';
}

int unescape_bytes(const char *text, uint8_t *out, size_t *len)
{
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		if (*p != '\\') {
			out[n++] = (uint8_t)*p;
		} else if (p[1] == '\\') {
			out[n++] = '\\';
			p++;
		} else if (p[1] == 'x' && isxdigit((unsigned char)p[2]) &&
			   isxdigit((unsigned char)p[3])) {
			char hex[3] = { p[2], p[3], 0 };
			out[n++] = (uint8_t)strtoul(hex, NULL, 16);
			p += 3;
		} else {
			return -1;
		}
	}
	*len = n;
	return 0;
}

void print_escaped(FILE *f, const void *bytes, size_t len)
{
	const unsigned char *p = bytes;
	char piece[4 * 64 + 1];
	for (size_t i = 0; i < len; i += 64) {
		size_t n = len - i < 64 ? len - i : 64;
		escape_bytes(p + i, n, piece);
		fputs(piece, f);
	}
}

size_t utf8_sequence(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t min, c;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80, c = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, c = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates and past U+10FFFF are not UTF-8 */
	if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return len;
}

static int is_utf8(const unsigned char *p, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if ((k = utf8_sequence(p + i, n - i)) == 0)
			return 0;
	return 1;
}

/* The body of a JSON string for UTF-8 bytes, without the quotes. */
static void json_escaped(FILE *f, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(f, "\\u%04x", p[i]);
		else
			fputc(p[i], f);
	}
}

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	json_escaped(f, (const unsigned char *)s, strlen(s));
	fputc('"', f);
}

static void base64(FILE *f, const unsigned char *p, size_t n)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		fputc(abc[v >> 18], f);
		fputc(abc[(v >> 12) & 63], f);
		fputc(i + 1 < n ? abc[(v >> 6) & 63] : '=', f);
		fputc(i + 2 < n ? abc[v & 63] : '=', f);
	}
}

void json_bytes_member(FILE *f, const char *name, const void *bytes, size_t len)
{
	const unsigned char *p = bytes;
	if (is_utf8(p, len)) {
		fprintf(f, "\"%s\": \"", name);
		json_escaped(f, p, len);
	} else {
		fprintf(f, "\"%s_base64\": \"", name);
		base64(f, p, len);
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

static int read_all(FILE *in, size_t limit, uint8_t **buf, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap);
	if (!b)
		return -1;
	for (;;) {
		if (n == cap) {
			if (cap > limit) {
				free(b);
				errno = EFBIG;
				return -1;
			}
			uint8_t *bigger = realloc(b, cap * 2);
			if (!bigger) {
				free(b);
				errno = ENOMEM;
				return -1;
			}
			b = bigger;
			cap *= 2;
		}
		size_t got = fread(b + n, 1, cap - n, in);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(in)) {
		int e = errno;
		free(b);
		errno = e ? e : EIO;
		return -1;
	}
	if (n > limit) {
		free(b);
		errno = EFBIG;
		return -1;
	}
	*buf = b;
	*len = n;
	return 0;
}

int read_stdin(const char *cmd, uint64_t limit, const char *limit_name, const char *undone,
	       uint8_t **buf, size_t *len)
{
	if (read_all(stdin, limit > SIZE_MAX ? SIZE_MAX : (size_t)limit, buf, len) == 0)
		return EXIT_OK;
	if (errno == EFBIG)
		return cli_error(EXIT_USAGE, "%s: standard input is larger than %s (%" PRIu64
				 " bytes): %s", cmd, limit_name, limit, undone);
	return cli_error(EXIT_RUNTIME, "%s: reading standard input failed: %s: %s", cmd,
			 strerror(errno), undone);
}

/* ---------------------------------------------------------------- tokens */

int cli_root_token_path(const char *pool_path, char *out, size_t len)
{
	int rc = shmemora_root_token_path(pool_path, NULL, out, len);
	return rc ? fail(rc) : EXIT_OK;
}

int cli_read_token(const char *arg, const char *pool_path, shmemora_token *out)
{
	int rc;
	if (!arg) {
		char root[PATH_MAX];
		int code = cli_root_token_path(pool_path, root, sizeof root);
		if (code)
			return code;
		rc = shmemora_token_load(root, out);
		if (rc == SHMEMORA_E_NOT_FOUND)
			return cli_error(exit_code_for(rc),
					 "no --token given, and the pool's root token file %s "
					 "does not exist: give --token TOKEN or --token @FILE", root);
		return rc ? fail(rc) : EXIT_OK;
	}
	if (arg[0] == '@') {
		rc = shmemora_token_load(arg + 1, out);
		return rc ? fail(rc) : EXIT_OK;
	}
	rc = shmemora_token_parse(arg, out);
	struct stat st;
	if (rc == SHMEMORA_E_TOKEN_MALFORMED && stat(arg, &st) == 0)
		return cli_error(exit_code_for(rc), "'%s' is not a token, but a file of that "
				 "name exists: did you mean @%s?", arg, arg);
	return rc ? fail(rc) : EXIT_OK;
}

/* ------------------------------------------------------------- attaching */

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

int cli_detach(shmemora_pool *pool, int code)
{
	int rc = shmemora_detach(pool);
	return rc && code == EXIT_OK ? fail(rc) : code;
}

/* ------------------------------------------------- pool commands' options */

static int parse_cmd_opts(const struct pool_command *pc, int argc, char **argv,
			  struct cmd_opts *o)
{
	enum { O_KEYFILE = 256 };
	static const struct option_bit {
		struct option opt;
		unsigned bit;
	} table[] = {
		{ { "key-file", required_argument, 0, O_KEYFILE }, 0 },
		{ { "token", required_argument, 0, 't' }, OPT_TOKEN },
		{ { "json", no_argument, 0, 'j' }, OPT_JSON },
		{ { "insert", no_argument, 0, 'i' }, OPT_INSERT },
		{ { "update", no_argument, 0, 'u' }, OPT_UPDATE },
		{ { "match", required_argument, 0, 'm' }, OPT_MATCH },
		{ { "count", required_argument, 0, 'c' }, OPT_COUNT },
		{ { "values", no_argument, 0, 'v' }, OPT_VALUES },
		{ { "keys", required_argument, 0, 'K' }, OPT_KEYS },
		{ { "bytes", required_argument, 0, 'B' }, OPT_BYTES },
		{ { "partial", no_argument, 0, 'p' }, OPT_PARTIAL },
		{ { "prometheus", no_argument, 0, 'P' }, OPT_PROMETHEUS },
		{ { "escaped", no_argument, 0, 'e' }, OPT_ESCAPED },
	};
	enum { N = sizeof table / sizeof table[0] };
	/* getopt_long sees only the options this command takes */
	struct option opts[N + 1];
	int n = 0;
	for (int i = 0; i < N; i++)
		if (!table[i].bit || (pc->options & table[i].bit))
			opts[n++] = table[i].opt;
	memset(&opts[n], 0, sizeof opts[n]);

	memset(o, 0, sizeof *o);
	o->attach.host_id = -1;
	o->attach.observer = pc->observer;
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case O_KEYFILE: o->attach.key_file = optarg; break;
		case 't': o->token = optarg; break;
		case 'j': o->json = 1; break;
		case 'i': o->insert = 1; break;
		case 'u': o->update = 1; break;
		case 'm': o->match = optarg; break;
		case 'v': o->values = 1; break;
		case 'p': o->partial = 1; break;
		case 'P': o->prometheus = 1; break;
		case 'e': o->escaped = 1; break;
		case 'c':
			if (parse_uint(optarg, UINT64_MAX, &o->count) || o->count == 0)
				return usage_error(pc->name, "--count takes a number > 0, not '%s'",
						   optarg);
			o->has_count = 1;
			break;
		case 'K':
			if (parse_uint(optarg, UINT64_MAX, &o->max_keys))
				return usage_error(pc->name, "--keys takes a number (0: no limit), "
						   "not '%s'", optarg);
			o->has_keys = 1;
			break;
		case 'B':
			if (parse_size0(optarg, &o->max_bytes))
				return usage_error(pc->name, "--bytes takes a size such as 64M "
						   "(0: no limit), not '%s'", optarg);
			o->has_bytes = 1;
			break;
		default:
			return option_error(pc->name, opt, argv);
		}
	}
	int nargs = argc - optind;
	if (nargs < 1)
		return usage_error(pc->name, "expected a POOL path");
	o->pool = argv[optind];
	o->nargs = nargs - 1;
	o->args = argv + optind + 1;
	if (o->nargs < pc->min_args || o->nargs > pc->max_args)
		return usage_error(pc->name, "expected %d%s argument%s after POOL, not %d",
				   pc->min_args, pc->max_args > pc->min_args ? " or more" : "",
				   pc->max_args == 1 ? "" : "s", o->nargs);
	return EXIT_OK;
}

int run_pool_command(const struct pool_command *pc, int argc, char **argv)
{
	struct cmd_opts o;
	int code = parse_cmd_opts(pc, argc, argv, &o);
	if (code)
		return code;
	shmemora_token tok;
	const shmemora_token *use = NULL;
	if (pc->token == TOKEN_REQUIRED || (pc->token == TOKEN_OPTIONAL && o.token)) {
		if ((code = cli_read_token(o.token, o.pool, &tok)))
			return code;
		use = &tok;
	} else if (pc->token == TOKEN_OPTIONAL) {
		char root[PATH_MAX];
		if (shmemora_root_token_path(o.pool, NULL, root, sizeof root) == 0 &&
		    shmemora_token_load(root, &tok) == 0)
			use = &tok;
	}
	shmemora_pool *pool;
	if ((code = cli_attach(o.pool, &o.attach, &pool)))
		return code;
	return cli_detach(pool, pc->run(pool, use, &o));
}

/* -------------------------------------------------------------- progress */

static uint64_t monotonic_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void progress_start(struct progress *p, const char *what)
{
	p->what = what;
	p->on = isatty(STDERR_FILENO);
	p->shown = 0;
	p->last_ns = monotonic_ns();
}

static void progress_print(const struct progress *p, uint64_t items, uint64_t bytes,
			   const char *end)
{
	char b[32];
	human_bytes(bytes, b, sizeof b);
	fprintf(stderr, "\r%s: %" PRIu64 " keys, %s%s", p->what, items, b, end);
	fflush(stderr);
}

void progress_update(struct progress *p, uint64_t items, uint64_t bytes)
{
	if (!p->on || (items & 255))
		return;
	uint64_t now = monotonic_ns();
	if (now - p->last_ns < 500000000ull)
		return;
	p->last_ns = now;
	p->shown = 1;
	progress_print(p, items, bytes, "");
}

void progress_end(struct progress *p, uint64_t items, uint64_t bytes)
{
	if (p->shown) /* a long one: the line ends with the totals */
		progress_print(p, items, bytes, "\n");
}
