/*
 * cmd_kv.c — `shmemora put`, `get`, `del` and `keys`: the key-value store
 * from the command line.  Each invocation attaches (reads as an observer,
 * which claims no host slot), does one thing through the protected path, and
 * detaches.  Keys are taken from argv as given; values are binary-safe on
 * standard input and output, and `keys` escapes what it prints.
 */
#include "cli.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN_OPTION \
	"  --token TOKEN  text token or @FILE (default: the pool's root token file)\n" \
	"  --key-file F   the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n" \
	"  -h, --help     this help\n"

#define ESCAPED_OPTION \
	"  --escaped      KEY (and VALUE) are written as `keys` prints them: \\xHH for\n" \
	"                 a byte, \\\\ for a backslash (so any key can be named)\n"

const char put_help[] =
	"Usage: shmemora put POOL NS KEY VALUE [--token TOKEN]\n"
	"       shmemora put POOL NS KEY [-] [--token TOKEN] < FILE\n"
	"\n"
	"Insert or replace KEY in namespace NS.  The value is VALUE, or standard\n"
	"input when VALUE is '-' or absent (read whole, at most the pool's max value;\n"
	"refused when standard input is a terminal and VALUE is absent).  Needs\n"
	"rights w and i.\n"
	"\n"
	"Options:\n"
	"  --insert       fail (exit 2) if the key exists; needs only i\n"
	"  --update       fail (exit 1) if the key is absent; needs only w\n"
	ESCAPED_OPTION
	TOKEN_OPTION;

const char get_help[] =
	"Usage: shmemora get POOL NS KEY [--token TOKEN]\n"
	"\n"
	"Write the value of KEY in namespace NS to standard output, as stored (no\n"
	"newline added).  Exit 1 if the key is absent.  Needs the read right.\n"
	"Attaches as an observer: works while every host slot is held.\n"
	"\n"
	"Options:\n"
	ESCAPED_OPTION
	TOKEN_OPTION;

const char del_help[] =
	"Usage: shmemora del POOL NS KEY [--token TOKEN]\n"
	"\n"
	"Delete KEY from namespace NS.  Exit 1 if it was absent.  Needs the delete\n"
	"right (d).\n"
	"\n"
	"Options:\n"
	ESCAPED_OPTION
	TOKEN_OPTION;

const char keys_help[] =
	"Usage: shmemora keys POOL NS [--match GLOB] [--count N] [--values] [--json]\n"
	"                             [--token TOKEN]\n"
	"\n"
	"List the keys of namespace NS that the token reaches, one a line, in index\n"
	"order.  Bytes other than printable ASCII are written as \\xHH (space, tab\n"
	"and newline too) and a backslash as \\\\, so each line is one key; with\n"
	"--values a tab and the value, escaped the same way, follow the key.\n"
	"Needs the read right.  Attaches as an observer: works while every host\n"
	"slot is held.  `get --escaped` takes a key as printed here.\n"
	"\n"
	"Under concurrent writers (a scan, as Redis SCAN): every key present from the\n"
	"start of the listing to its end is listed exactly once; a key listed existed\n"
	"at some moment during it (with its value and version of that moment); keys\n"
	"inserted or deleted meanwhile may or may not be listed.\n"
	"\n"
	"Options:\n"
	"  --match GLOB   only keys that GLOB matches (fnmatch(3), on the key as\n"
	"                 printed; a backslash is literal: write [*] for a literal *)\n"
	"  --count N      stop after N keys\n"
	"  --values       print each key's value too\n"
	"  --json         a JSON array of {\"key\", \"version\"[, \"value\"]}; a key or\n"
	"                 value that is not UTF-8 is given as \"key_base64\" or\n"
	"                 \"value_base64\" instead\n"
	TOKEN_OPTION;

/* -------------------------------------------------------- put, get, del */

/* A KEY or VALUE argument: as given, or decoded with --escaped (into a
 * buffer *to_free, freed by the caller). */
static int arg_bytes(const struct cmd_opts *o, const char *cmd, const char *arg,
		     uint8_t **to_free, const void **bytes, size_t *len)
{
	*to_free = NULL;
	*bytes = arg;
	*len = strlen(arg);
	if (!o->escaped)
		return EXIT_OK;
	if (!(*to_free = malloc(*len + 1)))
		return fail(SHMEMORA_E_NOMEM);
	if (unescape_bytes(arg, *to_free, len))
		return usage_error(cmd, "with --escaped, a backslash starts \\xHH or \\\\ only: "
				   "'%s'", arg);
	*bytes = *to_free;
	return EXIT_OK;
}

/* The value of a put: argv's VALUE, or standard input read whole. */
static int put_value(const struct cmd_opts *o, shmemora_pool *pool, uint8_t **buf,
		     const void **value, size_t *len)
{
	*buf = NULL;
	if (o->nargs == 3 && strcmp(o->args[2], "-") != 0)
		return arg_bytes(o, "put", o->args[2], buf, value, len);
	if (o->nargs == 2 && isatty(STDIN_FILENO))
		return usage_error("put", "no VALUE given and standard input is a terminal: give "
				   "it as 'put POOL NS KEY VALUE', or pipe it in ('... | shmemora "
				   "put POOL NS KEY -')");
	shmemora_info info;
	int rc = shmemora_pool_info(pool, &info);
	if (rc)
		return fail(rc);
	int code = read_stdin("put", info.max_value, "this pool's max value", "nothing written",
			      buf, len);
	*value = *buf;
	return code;
}

static int run_put(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	if (o->insert && o->update)
		return usage_error("put", "--insert and --update exclude each other");
	const char *ns = o->args[0];
	uint8_t *kbuf, *vbuf = NULL;
	const void *key, *value;
	size_t klen, len;
	int code = arg_bytes(o, "put", o->args[1], &kbuf, &key, &klen);
	if (code == EXIT_OK)
		code = put_value(o, pool, &vbuf, &value, &len);
	int rc = 0;
	if (code == EXIT_OK)
		rc = o->insert ? shmemora_kv_insert(pool, tok, ns, key, klen, value, len)
		     : o->update ? shmemora_kv_update(pool, tok, ns, key, klen, value, len)
				 : shmemora_kv_put(pool, tok, ns, key, klen, value, len);
	free(kbuf);
	free(vbuf);
	return code ? code : rc ? fail(rc) : EXIT_OK;
}

/* Copies KEY's value to stdout; returns a library error or 0. */
static int get_value(shmemora_pool *pool, const shmemora_token *tok, const char *ns,
		     const void *key, size_t klen)
{
	size_t len = 0;
	int rc = shmemora_kv_get(pool, tok, ns, key, klen, NULL, 0, &len, NULL);
	if (rc != 0 && rc != SHMEMORA_E_TOO_SMALL)
		return rc;
	for (int attempt = 0; attempt < 16; attempt++) {
		uint8_t *buf = malloc(len ? len : 1);
		if (!buf)
			return SHMEMORA_E_NOMEM;
		size_t cap = len;
		rc = shmemora_kv_get(pool, tok, ns, key, klen, buf, cap, &len, NULL);
		if (rc == 0 && fwrite(buf, 1, len, stdout) != len)
			rc = SHMEMORA_E_IO;
		free(buf);
		if (rc != SHMEMORA_E_TOO_SMALL) /* grew meanwhile: again with the new size */
			break;
	}
	return rc;
}

/* get and del: one KEY, one call. */
static int run_on_key(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o,
		      int del)
{
	uint8_t *kbuf;
	const void *key;
	size_t klen;
	int code = arg_bytes(o, del ? "del" : "get", o->args[1], &kbuf, &key, &klen);
	int rc = code ? 0
		 : del ? shmemora_kv_delete(pool, tok, o->args[0], key, klen)
		       : get_value(pool, tok, o->args[0], key, klen);
	free(kbuf);
	return code ? code : rc ? fail(rc) : EXIT_OK;
}

static int run_get(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	return run_on_key(pool, tok, o, 0);
}

static int run_del(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	return run_on_key(pool, tok, o, 1);
}

int cmd_put(int argc, char **argv)
{
	static const struct pool_command pc = {
		"put", OPT_TOKEN | OPT_INSERT | OPT_UPDATE | OPT_ESCAPED, 2, 3, 0, TOKEN_REQUIRED,
		run_put };
	return run_pool_command(&pc, argc, argv);
}

int cmd_get(int argc, char **argv)
{
	static const struct pool_command pc = { "get", OPT_TOKEN | OPT_ESCAPED, 2, 2, 1,
						TOKEN_REQUIRED, run_get };
	return run_pool_command(&pc, argc, argv);
}

int cmd_del(int argc, char **argv)
{
	static const struct pool_command pc = { "del", OPT_TOKEN | OPT_ESCAPED, 2, 2, 0,
						TOKEN_REQUIRED, run_del };
	return run_pool_command(&pc, argc, argv);
}

/* ------------------------------------------------------------------ keys */

struct keys_walk {
	const struct cmd_opts *o;
	char *escaped;      /* a key as printed, for --match: 4 * max key + 1 bytes */
	uint64_t listed;
};

static int list_key(void *arg, const shmemora_scan_item *it)
{
	struct keys_walk *w = arg;
	const struct cmd_opts *o = w->o;
	if (o->match) {
		escape_bytes(it->key, it->key_len, w->escaped);
		if (fnmatch(o->match, w->escaped, FNM_NOESCAPE) != 0)
			return 0;
	}
	if (o->json) {
		printf("%s\n  { ", w->listed ? "," : "");
		json_bytes_member(stdout, "key", it->key, it->key_len);
		printf(", \"version\": %" PRIu64, it->version);
		if (o->values) {
			printf(", ");
			json_bytes_member(stdout, "value", it->value, it->value_len);
		}
		printf(" }");
	} else {
		print_escaped(stdout, it->key, it->key_len);
		if (o->values) {
			putchar('\t');
			print_escaped(stdout, it->value, it->value_len);
		}
		putchar('\n');
	}
	w->listed++;
	return o->has_count && w->listed >= o->count; /* nonzero stops the scan */
}

static int run_keys(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	shmemora_info info;
	int rc = shmemora_pool_info(pool, &info);
	if (rc)
		return fail(rc);
	struct keys_walk w = { o, malloc(4 * (size_t)info.max_key + 1), 0 };
	if (!w.escaped)
		return fail(SHMEMORA_E_NOMEM);
	if (o->json)
		printf("[");
	uint64_t cursor = 0;
	do {
		rc = shmemora_kv_scan(pool, tok, o->args[0], &cursor, 1024, o->values, list_key, &w);
	} while (rc == 0 && cursor != 0);
	free(w.escaped);
	if (rc < 0)
		return fail(rc);
	if (o->json)
		printf("%s]\n", w.listed ? "\n" : "");
	return EXIT_OK;
}

int cmd_keys(int argc, char **argv)
{
	static const struct pool_command pc = {
		"keys", OPT_TOKEN | OPT_MATCH | OPT_COUNT | OPT_VALUES | OPT_JSON, 1, 1, 1,
		TOKEN_REQUIRED, run_keys };
	return run_pool_command(&pc, argc, argv);
}
