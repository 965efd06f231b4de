/*
 * cmd_kv.c — `shmemora put`, `get` and `del`: the key-value store from the
 * command line.  Each invocation attaches (get as an observer, which claims
 * no host slot), does one thing through the protected path, and detaches.
 * Keys are taken from argv as given; values are binary-safe on standard
 * input and output.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_OPTION \
	"  --token TOKEN  text token or @FILE (default: the pool's root token file)\n" \
	"  --key-file F   the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n" \
	"  -h, --help     this help\n"

const char put_help[] =
	"Usage: shmemora put POOL NS KEY VALUE [--token TOKEN]\n"
	"       shmemora put POOL NS KEY [-] [--token TOKEN] < FILE\n"
	"\n"
	"Insert or replace KEY in namespace NS.  The value is VALUE, or standard\n"
	"input when VALUE is '-' or absent (read whole, at most the pool's max\n"
	"value).  Needs rights w and i.\n"
	"\n"
	"Options:\n"
	"  --insert       fail (exit 2) if the key exists; needs only i\n"
	"  --update       fail (exit 1) if the key is absent; needs only w\n"
	TOKEN_OPTION;

const char get_help[] =
	"Usage: shmemora get POOL NS KEY [--token TOKEN]\n"
	"\n"
	"Write the value of KEY in namespace NS to standard output, as stored (no\n"
	"newline added).  Exit 1 if the key is absent.  Needs the read right.\n"
	"Attaches as an observer: works while every host slot is held.\n"
	"\n"
	"Options:\n"
	TOKEN_OPTION;

const char del_help[] =
	"Usage: shmemora del POOL NS KEY [--token TOKEN]\n"
	"\n"
	"Delete KEY from namespace NS.  Exit 1 if it was absent.  Needs the delete\n"
	"right (d).\n"
	"\n"
	"Options:\n"
	TOKEN_OPTION;

/* -------------------------------------------------------- put, get, del */

/* The value of a put: argv's VALUE, or standard input read whole. */
static int put_value(const struct cmd_opts *o, shmemora_pool *pool, uint8_t **buf,
		     const void **value, size_t *len)
{
	*buf = NULL;
	if (o->nargs == 3 && strcmp(o->args[2], "-") != 0) {
		*value = o->args[2];
		*len = strlen(o->args[2]);
		return EXIT_OK;
	}
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
	const char *ns = o->args[0], *key = o->args[1];
	uint8_t *buf;
	const void *value;
	size_t len;
	int code = put_value(o, pool, &buf, &value, &len);
	if (code)
		return code;
	int rc = o->insert ? shmemora_kv_insert(pool, tok, ns, key, strlen(key), value, len)
		 : o->update ? shmemora_kv_update(pool, tok, ns, key, strlen(key), value, len)
			     : shmemora_kv_put(pool, tok, ns, key, strlen(key), value, len);
	free(buf);
	return rc ? fail(rc) : EXIT_OK;
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
	const char *ns = o->args[0], *key = o->args[1];
	int rc = del ? shmemora_kv_delete(pool, tok, ns, key, strlen(key))
		     : get_value(pool, tok, ns, key, strlen(key));
	return rc ? fail(rc) : EXIT_OK;
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
		"put", OPT_TOKEN | OPT_INSERT | OPT_UPDATE, 2, 3, 0, TOKEN_REQUIRED,
		run_put };
	return run_pool_command(&pc, argc, argv);
}

int cmd_get(int argc, char **argv)
{
	static const struct pool_command pc = { "get", OPT_TOKEN, 2, 2, 1,
						TOKEN_REQUIRED, run_get };
	return run_pool_command(&pc, argc, argv);
}

int cmd_del(int argc, char **argv)
{
	static const struct pool_command pc = { "del", OPT_TOKEN, 2, 2, 0,
						TOKEN_REQUIRED, run_del };
	return run_pool_command(&pc, argc, argv);
}
