/*
 * cmd_ns.c — `shmemora ns create`: namespaces (the store's tables) from the
 * command line.
 */
#include "cli.h"

#include <string.h>

const char ns_help[] =
	"Usage: shmemora ns create POOL NS [--token TOKEN]\n"
	"\n"
	"Create namespace NS (a table, e.g. usertable).  The token needs the insert\n"
	"right (i) on the pool.\n"
	"\n"
	"Options:\n"
	"  --token TOKEN  text token or @FILE (default: the pool's root token file)\n"
	"  --key-file F   the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n"
	"  -h, --help     this help\n";

static int run_create(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	int rc = shmemora_ns_create(pool, tok, o->args[0]);
	if (rc)
		return fail(rc);
	printf("created namespace %s\n", o->args[0]);
	return EXIT_OK;
}

int cmd_ns(int argc, char **argv)
{
	static const struct pool_command create = { "ns create", OPT_TOKEN, 1, 1, 0,
						    TOKEN_REQUIRED, run_create };
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return run_pool_command(&create, argc - 1, argv + 1);
	return usage_error("ns", "expected: ns create POOL NS");
}
