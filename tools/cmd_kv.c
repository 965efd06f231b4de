/*
 * cmd_kv.c — `shmemora ns create`, `put`, `get`, `del` and `stats`: the
 * key-value store from the command line.  Each invocation attaches as a
 * transient host, does one thing through the protected path, and detaches.
 */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const char ns_help[] =
	"Usage: shmemora ns create POOL --token TOKEN NAME\n"
	"\n"
	"Create namespace NAME (a table, e.g. usertable).  The token needs the\n"
	"insert right (i) on the pool or on that namespace.\n"
	"\n"
	"Options:\n"
	"  --token TOKEN  text token or @FILE (default @POOL.root-token)\n"
	"  --key-file F   the pool's key file\n"
	"  -h, --help     this help\n";

const char put_help[] =
	"Usage: shmemora put POOL --token TOKEN NS KEY [VALUE | -]\n"
	"\n"
	"Insert or replace KEY in namespace NS.  The value is VALUE, or standard\n"
	"input when VALUE is '-' or absent.  Needs rights w and i.\n"
	"\n"
	"Options:\n"
	"  --insert       fail (exit 2) if the key exists; needs only i\n"
	"  --update       fail (exit 1) if the key is absent; needs only w\n"
	"  --token TOKEN  text token or @FILE (default @POOL.root-token)\n"
	"  --key-file F   the pool's key file\n"
	"  -h, --help     this help\n";

const char get_help[] =
	"Usage: shmemora get POOL --token TOKEN NS KEY\n"
	"\n"
	"Write the value of KEY in namespace NS to standard output, as stored (no\n"
	"newline added).  Exit 1 if the key is absent.  Needs the read right.\n"
	"\n"
	"Options:\n"
	"  --token TOKEN  text token or @FILE (default @POOL.root-token)\n"
	"  --key-file F   the pool's key file\n"
	"  -h, --help     this help\n";

const char del_help[] =
	"Usage: shmemora del POOL --token TOKEN NS KEY\n"
	"\n"
	"Delete KEY from namespace NS.  Exit 1 if it was absent.  Needs the delete\n"
	"right (d).\n"
	"\n"
	"Options:\n"
	"  --token TOKEN  text token or @FILE (default @POOL.root-token)\n"
	"  --key-file F   the pool's key file\n"
	"  -h, --help     this help\n";

const char stats_help[] =
	"Usage: shmemora stats POOL [--json] [--key-file F]\n"
	"\n"
	"Keys, namespaces, index load factor, and space used per partition (host)\n"
	"and size class.  Scans the index; needs no token (it shows no keys).\n";

struct kv_opts {
	struct attach_opts attach;
	const char *token;
	int json, insert, update;
};

static int parse_kv_opts(const char *cmd, int argc, char **argv, struct kv_opts *o)
{
	static const struct option opts[] = {
		{ "token", required_argument, 0, 't' },
		{ "key-file", required_argument, 0, 'k' },
		{ "json", no_argument, 0, 'j' },
		{ "insert", no_argument, 0, 'i' },
		{ "update", no_argument, 0, 'u' },
		{ 0, 0, 0, 0 },
	};
	memset(o, 0, sizeof *o);
	o->attach.host_id = -1;
	optind = 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't': o->token = optarg; break;
		case 'k': o->attach.key_file = optarg; break;
		case 'j': o->json = 1; break;
		case 'i': o->insert = 1; break;
		case 'u': o->update = 1; break;
		default: return usage_error(cmd, "unknown option");
		}
	}
	return EXIT_OK;
}

/* Token from --token, else the pool's root token file. */
static int kv_token(const char *path, const struct kv_opts *o, shmemora_token *tok)
{
	int rc;
	if (o->token && o->token[0] != '@')
		rc = shmemora_token_parse(o->token, tok);
	else if (o->token)
		rc = shmemora_token_load(o->token + 1, tok);
	else {
		char file[4096];
		snprintf(file, sizeof file, "%s.root-token", path);
		rc = shmemora_token_load(file, tok);
	}
	return rc ? fail(rc) : EXIT_OK;
}

static int read_stdin(uint8_t **buf, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap);
	size_t got;
	while (b && (got = fread(b + n, 1, cap - n, stdin)) > 0) {
		n += got;
		if (n == cap) {
			uint8_t *bigger = realloc(b, cap * 2);
			if (!bigger) {
				free(b);
				b = NULL;
				break;
			}
			b = bigger;
			cap *= 2;
		}
	}
	if (!b || ferror(stdin)) {
		free(b);
		fprintf(stderr, "%s: reading standard input failed\n", prog);
		return EXIT_RUNTIME;
	}
	*buf = b;
	*len = n;
	return EXIT_OK;
}

/* Runs one keyed command: argv after the command name is POOL [opts] ARGS. */
static int run_kv(const char *cmd, int argc, char **argv, int min_args, int max_args,
		  int (*op)(shmemora_pool *, const shmemora_token *, const struct kv_opts *,
			    int, char **))
{
	struct kv_opts o;
	int code = parse_kv_opts(cmd, argc, argv, &o);
	if (code)
		return code;
	int nargs = argc - optind;
	char **args = argv + optind;
	if (nargs < 1 + min_args || nargs > 1 + max_args)
		return usage_error(cmd, "wrong number of arguments");
	shmemora_token tok;
	if ((code = kv_token(args[0], &o, &tok)))
		return code;
	shmemora_pool *pool;
	o.attach.observer = strcmp(cmd, "get") == 0; /* reads need no host slot */
	if ((code = cli_attach(args[0], &o.attach, &pool)))
		return code;
	code = op(pool, &tok, &o, nargs - 1, args + 1);
	int drc = shmemora_detach(pool);
	if (drc && code == EXIT_OK)
		code = fail(drc);
	return code;
}

static int op_ns_create(shmemora_pool *pool, const shmemora_token *tok,
			const struct kv_opts *o, int n, char **a)
{
	(void)o, (void)n;
	int rc = shmemora_ns_create(pool, tok, a[0]);
	if (rc)
		return fail(rc);
	printf("created namespace %s\n", a[0]);
	return EXIT_OK;
}

static int op_put(shmemora_pool *pool, const shmemora_token *tok, const struct kv_opts *o,
		  int n, char **a)
{
	uint8_t *buf = NULL;
	const void *value;
	size_t len;
	int code;
	if (n == 3 && strcmp(a[2], "-") != 0) {
		value = a[2];
		len = strlen(a[2]);
	} else {
		if ((code = read_stdin(&buf, &len)))
			return code;
		value = buf;
	}
	int rc = o->insert ? shmemora_kv_insert(pool, tok, a[0], a[1], strlen(a[1]), value, len)
		 : o->update ? shmemora_kv_update(pool, tok, a[0], a[1], strlen(a[1]), value, len)
			     : shmemora_kv_put(pool, tok, a[0], a[1], strlen(a[1]), value, len);
	free(buf);
	return rc ? fail(rc) : EXIT_OK;
}

static int op_get(shmemora_pool *pool, const shmemora_token *tok, const struct kv_opts *o,
		  int n, char **a)
{
	(void)o, (void)n;
	size_t len = 0;
	int rc = shmemora_kv_get(pool, tok, a[0], a[1], strlen(a[1]), NULL, 0, &len, NULL);
	if (rc != 0 && rc != SHMEMORA_E_TOO_SMALL)
		return fail(rc);
	for (int attempt = 0; attempt < 16; attempt++) {
		uint8_t *buf = malloc(len ? len : 1);
		if (!buf)
			return fail(SHMEMORA_E_NOMEM);
		size_t cap = len;
		rc = shmemora_kv_get(pool, tok, a[0], a[1], strlen(a[1]), buf, cap, &len, NULL);
		if (rc == 0 && fwrite(buf, 1, len, stdout) != len)
			rc = SHMEMORA_E_IO;
		free(buf);
		if (rc != SHMEMORA_E_TOO_SMALL) /* grew meanwhile: again with the new size */
			break;
	}
	return rc ? fail(rc) : EXIT_OK;
}

static int op_del(shmemora_pool *pool, const shmemora_token *tok, const struct kv_opts *o,
		  int n, char **a)
{
	(void)o, (void)n;
	int rc = shmemora_kv_delete(pool, tok, a[0], a[1], strlen(a[1]));
	return rc ? fail(rc) : EXIT_OK;
}

int cmd_ns(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "create") != 0)
		return usage_error("ns", "expected: ns create POOL --token T NAME");
	return run_kv("ns create", argc - 1, argv + 1, 1, 1, op_ns_create);
}

int cmd_put(int argc, char **argv) { return run_kv("put", argc, argv, 2, 3, op_put); }
int cmd_get(int argc, char **argv) { return run_kv("get", argc, argv, 2, 2, op_get); }
int cmd_del(int argc, char **argv) { return run_kv("del", argc, argv, 2, 2, op_del); }

int cmd_stats(int argc, char **argv)
{
	struct kv_opts o;
	int code = parse_kv_opts("stats", argc, argv, &o);
	if (code)
		return code;
	if (argc - optind != 1)
		return usage_error("stats", "expected one POOL path");
	shmemora_pool *pool;
	o.attach.observer = 1;
	if ((code = cli_attach(argv[optind], &o.attach, &pool)))
		return code;
	shmemora_info info;
	shmemora_stats st = { 0 };
	int rc = shmemora_pool_info(pool, &info);
	size_t cells = (size_t)info.max_hosts * info.size_class_count;
	st.allocated = calloc(cells, sizeof *st.allocated);
	st.partition_used = calloc(info.max_hosts, sizeof *st.partition_used);
	if (!st.allocated || !st.partition_used)
		rc = SHMEMORA_E_NOMEM;
	if (rc == 0)
		rc = shmemora_stats_get(pool, &st);
	if (rc == 0 && o.json) {
		printf("{ \"keys\": %" PRIu64 ", \"namespaces\": %" PRIu64 ", \"index_slots\": %" PRIu64
		       ", \"index_used\": %" PRIu64 ", \"index_load\": %.6f, \"partition_size\": %" PRIu64
		       ",\n  \"partitions\": [", st.keys, st.namespaces, st.index_slots, st.index_used,
		       st.index_load, st.partition_size);
		for (uint32_t p = 0; p < st.partitions; p++) {
			printf("%s\n    { \"host\": %u, \"bytes_used\": %" PRIu64 ", \"classes\": [",
			       p ? "," : "", p, st.partition_used[p]);
			int first = 1;
			for (uint32_t c = 0; c < st.size_class_count; c++) {
				uint64_t n = st.allocated[(size_t)p * st.size_class_count + c];
				if (!n)
					continue;
				printf("%s{ \"size\": %u, \"entries\": %" PRIu64 " }", first ? "" : ", ",
				       info.size_classes[c], n);
				first = 0;
			}
			printf("] }");
		}
		printf("\n  ] }\n");
	} else if (rc == 0) {
		char part[32];
		human_bytes(st.partition_size, part, sizeof part);
		printf("keys             %" PRIu64 "\n", st.keys);
		printf("namespaces       %" PRIu64 "\n", st.namespaces);
		printf("index            %" PRIu64 " of %" PRIu64 " slots used (load %.4f)\n",
		       st.index_used, st.index_slots, st.index_load);
		printf("partitions       %u of %s each\n", st.partitions, part);
		for (uint32_t p = 0; p < st.partitions; p++) {
			if (st.partition_used[p] <= 4096)
				continue;
			char used[32];
			human_bytes(st.partition_used[p], used, sizeof used);
			printf("  host %-4u %s carved;", p, used);
			for (uint32_t c = 0; c < st.size_class_count; c++) {
				uint64_t n = st.allocated[(size_t)p * st.size_class_count + c];
				if (n)
					printf(" %" PRIu64 "x%uB", n, info.size_classes[c]);
			}
			printf("\n");
		}
	}
	free(st.allocated);
	free(st.partition_used);
	int drc = shmemora_detach(pool);
	if (rc)
		return fail(rc);
	return drc ? fail(drc) : EXIT_OK;
}
