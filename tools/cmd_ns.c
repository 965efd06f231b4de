/*
 * cmd_ns.c — `shmemora ns list|create|delete|stat|limit`: namespaces (the
 * store's tables) from the command line.  list and stat attach as
 * observers; the others as a transient host.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const char ns_help[] =
	"Usage: shmemora ns list POOL [--json]\n"
	"       shmemora ns create POOL NS\n"
	"       shmemora ns delete POOL NS\n"
	"       shmemora ns stat POOL NS [--json]\n"
	"       shmemora ns limit POOL NS [--keys N] [--bytes S]\n"
	"\n"
	"Namespaces are the store's tables (e.g. usertable).\n"
	"  list    every namespace the token reaches: name, keys, bytes (keys and\n"
	"          values), limits, incarnation (one more each time the name is\n"
	"          created again).  Walks the whole index.  Needs r.\n"
	"  create  a new namespace.  Needs a pool token with i.\n"
	"  delete  a namespace and every key in it; prints how many keys it removed.\n"
	"          Tokens made for it stay refused, even if the name is created\n"
	"          again.  Needs a pool token with d.\n"
	"  stat    one namespace, as list shows it.  Needs r.\n"
	"  limit   at most N keys and S bytes of keys and values (K/M/G suffixes);\n"
	"          0 removes a limit, one not given is kept.  Writes that would pass\n"
	"          a limit are refused (exit 3).  Set limits right after create or\n"
	"          while the namespace is quiet.  Needs a pool token with g.\n"
	"list and stat attach as observers: they work while every host slot is held.\n"
	"Names are printed with bytes other than printable ASCII as \\xHH.\n"
	"\n"
	"Options:\n"
	"  --json         machine-readable output (list, stat)\n"
	"  --keys N       limit: the most keys (0: none)\n"
	"  --bytes S      limit: the most key and value bytes, e.g. 64M (0: none)\n"
	"  --token TOKEN  text token or @FILE (default: the pool's root token file)\n"
	"  --key-file F   the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n"
	"  -h, --help     this help\n";

static void limit_text(uint64_t v, int bytes, char *out, size_t n)
{
	if (v == 0)
		snprintf(out, n, "-");
	else if (bytes)
		human_bytes(v, out, n);
	else
		snprintf(out, n, "%" PRIu64, v);
}

static void print_ns_json(const shmemora_ns_info *ns)
{
	printf("{ ");
	json_bytes_member(stdout, "name", ns->name, strlen(ns->name));
	printf(", \"keys\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"max_keys\": %" PRIu64
	       ", \"max_bytes\": %" PRIu64 ", \"incarnation\": %u, \"hash\": \"%016" PRIx64 "\" }",
	       ns->keys, ns->bytes, ns->max_keys, ns->max_bytes, ns->generation, ns->hash);
}

static void print_ns_header(void)
{
	printf("%-24s %10s %12s %10s %12s %11s\n", "namespace", "keys", "bytes", "max keys",
	       "max bytes", "incarnation");
}

static void print_ns_row(const shmemora_ns_info *ns)
{
	char name[4 * sizeof ns->name], bytes[32], mk[32], mb[32];
	escape_bytes(ns->name, strlen(ns->name), name);
	human_bytes(ns->bytes, bytes, sizeof bytes);
	limit_text(ns->max_keys, 0, mk, sizeof mk);
	limit_text(ns->max_bytes, 1, mb, sizeof mb);
	printf("%-24s %10" PRIu64 " %12s %10s %12s %11u\n", name, ns->keys, bytes, mk, mb,
	       ns->generation);
}

static int run_list(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	size_t count = 0;
	int rc = shmemora_ns_list(pool, tok, NULL, 0, &count);
	if (rc)
		return fail(rc);
	size_t cap = count + 16; /* room for names created meanwhile */
	shmemora_ns_info *all = calloc(cap, sizeof *all);
	if (!all)
		return fail(SHMEMORA_E_NOMEM);
	if ((rc = shmemora_ns_list(pool, tok, all, cap, &count))) {
		free(all);
		return fail(rc);
	}
	if (count > cap)
		count = cap;
	if (o->json) {
		printf("[");
		for (size_t i = 0; i < count; i++) {
			printf("%s\n  ", i ? "," : "");
			print_ns_json(&all[i]);
		}
		printf("%s]\n", count ? "\n" : "");
	} else {
		print_ns_header();
		for (size_t i = 0; i < count; i++)
			print_ns_row(&all[i]);
	}
	free(all);
	return EXIT_OK;
}

static int run_stat(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	shmemora_ns_info ns;
	int rc = shmemora_ns_stat(pool, tok, o->args[0], &ns);
	if (rc)
		return fail(rc);
	if (o->json) {
		print_ns_json(&ns);
		printf("\n");
	} else {
		print_ns_header();
		print_ns_row(&ns);
	}
	return EXIT_OK;
}

static int run_create(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	int rc = shmemora_ns_create(pool, tok, o->args[0]);
	if (rc)
		return fail(rc);
	printf("created namespace %s\n", o->args[0]);
	return EXIT_OK;
}

static int run_delete(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	uint64_t removed = 0;
	int rc = shmemora_ns_delete(pool, tok, o->args[0], &removed);
	if (rc)
		return fail(rc);
	printf("deleted namespace %s: %" PRIu64 " keys removed\n", o->args[0], removed);
	return EXIT_OK;
}

static int run_limit(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	if (!o->has_keys && !o->has_bytes)
		return usage_error("ns limit", "give --keys N, --bytes S or both");
	shmemora_ns_info ns;
	int rc = shmemora_ns_stat(pool, tok, o->args[0], &ns);
	if (rc)
		return fail(rc);
	uint64_t keys = o->has_keys ? o->max_keys : ns.max_keys;
	uint64_t bytes = o->has_bytes ? o->max_bytes : ns.max_bytes;
	if ((rc = shmemora_ns_set_limits(pool, tok, o->args[0], keys, bytes)))
		return fail(rc);
	char k[32], b[32];
	limit_text(keys, 0, k, sizeof k);
	limit_text(bytes, 1, b, sizeof b);
	printf("namespace %s: at most %s keys, %s of keys and values (- for no limit)\n",
	       o->args[0], k, b);
	return EXIT_OK;
}

int cmd_ns(int argc, char **argv)
{
	static const struct pool_command subs[] = {
		{ "ns list", OPT_TOKEN | OPT_JSON, 0, 0, 1, TOKEN_REQUIRED, run_list },
		{ "ns create", OPT_TOKEN, 1, 1, 0, TOKEN_REQUIRED, run_create },
		{ "ns delete", OPT_TOKEN, 1, 1, 0, TOKEN_REQUIRED, run_delete },
		{ "ns stat", OPT_TOKEN | OPT_JSON, 1, 1, 1, TOKEN_REQUIRED, run_stat },
		{ "ns limit", OPT_TOKEN | OPT_KEYS | OPT_BYTES, 1, 1, 0, TOKEN_REQUIRED, run_limit },
	};
	if (argc >= 2)
		for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
			if (strcmp(argv[1], subs[i].name + 3) == 0)
				return run_pool_command(&subs[i], argc - 1, argv + 1);
	return usage_error("ns", "expected list, create, delete, stat or limit, then POOL");
}
