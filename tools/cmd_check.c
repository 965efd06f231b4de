/*
 * cmd_check.c — `shmemora check POOL [--repair] [--json]`: verify every
 * structure of a pool and optionally repair what can be repaired safely.
 * Exit 0 when the pool is clean (or every finding was repaired), 4 with the
 * list of what is wrong.
 */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char check_help[] =
	"Usage: shmemora check POOL [--repair] [--json] [--token TOKEN]... [--key-file F]\n"
	"\n"
	"Verify both superblock copies, the host registry, the capability table, the\n"
	"index (every slot names a valid entry whose key hashes near it), and every\n"
	"extent of the data region: its record, its free list (no cycles, no block\n"
	"both free and live) and every block (in a dead host's extent, a block neither\n"
	"live nor free is a leak: held by its threads, or being built, when it died;\n"
	"in a live host's, it is held, and counted apart).  The root token (the\n"
	"pool's root token file, when readable) and any --token (text or @FILE) are\n"
	"verified with their MAC.  Attaches as an observer: works while every host\n"
	"slot is held.\n"
	"\n"
	"  --repair   rewrite a damaged superblock copy, free dead hosts' slots, clear\n"
	"             index slots naming garbage, and in extents of hosts that are\n"
	"             not alive rebuild broken free lists, return leaked blocks and\n"
	"             give back extents left empty.\n"
	"             Published keys are never touched.\n"
	"  --json     machine-readable output\n"
	"\n"
	"Exit codes: 0 clean (or everything repaired), 4 problems remain.\n";

struct lines {
	char **v;
	size_t n;
};

static void collect(void *arg, const char *line)
{
	struct lines *l = arg;
	char **v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (!v)
		return;
	l->v = v;
	l->v[l->n++] = strdup(line);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repair", no_argument, 0, 'r' },
		{ "json", no_argument, 0, 'j' },
		{ "token", required_argument, 0, 't' },
		{ "key-file", required_argument, 0, 'k' },
		{ 0, 0, 0, 0 },
	};
	struct attach_opts ao = { NULL, -1, 1 }; /* an observer: never takes a live slot */
	int repair = 0, json = 0, opt;
	shmemora_token tokens[17];
	size_t ntok = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt == 'r') {
			repair = 1;
		} else if (opt == 'j') {
			json = 1;
		} else if (opt == 'k') {
			ao.key_file = optarg;
		} else if (opt == 't') {
			if (ntok == 16)
				return usage_error("check", "at most 16 --token");
			/* the pool path is not known yet: no default is wanted here */
			int code = cli_read_token(optarg, NULL, &tokens[ntok]);
			if (code)
				return code;
			ntok++;
		} else {
			return option_error("check", opt, argv);
		}
	}
	if (optind != argc - 1)
		return usage_error("check", "expected one POOL path");
	const char *path = argv[optind];
	/* The root token too, when its file is there and readable. */
	char root[PATH_MAX];
	if (shmemora_root_token_path(path, NULL, root, sizeof root) == 0 &&
	    shmemora_token_load(root, &tokens[ntok]) == 0)
		ntok++;
	shmemora_pool *pool;
	int code = cli_attach(path, &ao, &pool);
	if (code)
		return code;
	struct lines found = { NULL, 0 };
	shmemora_check_report r = { .on_finding = collect, .arg = &found, .tokens = tokens,
				    .token_count = ntok };
	int rc = shmemora_check(pool, repair ? SHMEMORA_CHECK_REPAIR : 0, &r);
	if ((code = cli_detach(pool, rc ? fail(rc) : EXIT_OK)))
		return code;
	int clean = r.problems == r.repaired;
	if (json) {
		printf("{ \"clean\": %s, \"problems\": %" PRIu64 ", \"repaired\": %" PRIu64
		       ", \"keys\": %" PRIu64 ", \"namespaces\": %" PRIu64 ", \"live_blocks\": %" PRIu64
		       ", \"free_blocks\": %" PRIu64 ", \"leaked_blocks\": %" PRIu64
		       ", \"held_blocks\": %" PRIu64 ", \"tokens_live\": %" PRIu64
		       ", \"tokens_revoked\": %" PRIu64 ",\n  \"findings\": [",
		       clean ? "true" : "false", r.problems, r.repaired, r.keys, r.namespaces,
		       r.live_blocks, r.free_blocks, r.leaked_blocks, r.held_blocks, r.tokens_live,
		       r.tokens_revoked);
		for (size_t i = 0; i < found.n; i++) {
			printf("%s\n    ", i ? "," : "");
			json_string(stdout, found.v[i]);
		}
		printf("%s] }\n", found.n ? "\n  " : "");
	} else {
		for (size_t i = 0; i < found.n; i++)
			printf("%s\n", found.v[i]);
		printf("%s: %" PRIu64 " keys, %" PRIu64 " namespaces, %" PRIu64 " live / %" PRIu64
		       " free / %" PRIu64 " leaked / %" PRIu64 " held blocks, %" PRIu64
		       " live tokens: %s\n", path, r.keys, r.namespaces, r.live_blocks, r.free_blocks,
		       r.leaked_blocks, r.held_blocks, r.tokens_live,
		       r.problems == 0 ? "clean"
		       : clean ? "all problems repaired" : "PROBLEMS FOUND");
	}
	for (size_t i = 0; i < found.n; i++)
		free(found.v[i]);
	free(found.v);
	return clean ? EXIT_OK : EXIT_INTEGRITY;
}
