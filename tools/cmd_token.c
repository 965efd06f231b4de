/*
 * cmd_token.c — `shmemora token ...` and `shmemora region ...`: capability
 * tokens and raw region access from the command line.  Each invocation
 * attaches as a transient host, does one thing, and detaches.
 *
 * A TOKEN argument is a token's text form, or @FILE to read it from a file
 * (cli_read_token; the root token lives in the pool's root token file).
 */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char token_help[] =
	"Usage: shmemora token SUBCOMMAND POOL ...\n"
	"\n"
	"Capability tokens.  A TOKEN is a token's text (shmemora1_...) or @FILE.\n"
	"\n"
	"  token derive POOL [--from TOKEN] (--region OFF:LEN | --namespace NS |\n"
	"               --key NS/KEY) --rights R [--expires SECONDS] [--quota N]\n"
	"        derive a narrower token and print it.  R is a subset of rwidg\n"
	"        (read, write, insert, delete, grant).  --from defaults to the\n"
	"        pool's root token file; it must hold the grant right (g).\n"
	"        --quota: tokens the new one's descendants may hold (default: an\n"
	"        eighth of the table below a root token, else half of what the\n"
	"        parent has left)\n"
	"  token revoke POOL TOKEN      revoke TOKEN and everything derived from it\n"
	"  token list POOL [--json]     list the capability table (never tags)\n"
	"  token inspect POOL TOKEN [--json]   verify TOKEN and show its entry\n"
	"  token gc POOL                free revoked and expired entries\n"
	"\n"
	"list and inspect show each entry's state (live, revoked, expired, minting,\n"
	"or orphaned: an ancestor was revoked, so it is refused, and the next sweep\n"
	"revokes it), scope, rights, depth (derivations below its root), quota used\n"
	"of quota, and for a namespace or key token the namespace's name, or\n"
	"(deleted) when that namespace is gone.  list and inspect attach as\n"
	"observers: they work while every host slot is held.\n"
	"\n"
	"Options for all:\n"
	"  --key-file F   the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n"
	"  -h, --help     this help\n"
	"\n"
	"Exit codes: 2 for a malformed token, 3 for a refused one (forged, revoked,\n"
	"expired, lacking a right, out of scope).\n";

const char region_help[] =
	"Usage: shmemora region read POOL --token TOKEN OFF LEN\n"
	"       shmemora region write POOL --token TOKEN OFF < DATA\n"
	"\n"
	"Raw access to the raw area through the protected path: `read` copies LEN\n"
	"bytes at offset OFF to standard output, `write` copies standard input to\n"
	"offset OFF.  The token must grant r (read) or w (write) on that range.\n"
	"write is all or nothing: it reads the whole input first (refusing input\n"
	"larger than the raw area), then writes it in one call, so a refused write\n"
	"writes no byte.  read attaches as an observer.\n"
	"\n"
	"Options:\n"
	"  --token TOKEN  text token or @FILE (default: the pool's root token file)\n"
	"  --key-file F   the pool's key file\n"
	"  -h, --help     this help\n";

static const char *scope_name(enum shmemora_scope s)
{
	switch (s) {
	case SHMEMORA_SCOPE_POOL: return "pool";
	case SHMEMORA_SCOPE_REGION: return "region";
	case SHMEMORA_SCOPE_NAMESPACE: return "namespace";
	case SHMEMORA_SCOPE_KEY: return "key";
	}
	return "?";
}

static const char *state_name(enum shmemora_token_state s)
{
	switch (s) {
	case SHMEMORA_TOKEN_LIVE: return "live";
	case SHMEMORA_TOKEN_REVOKED: return "revoked";
	case SHMEMORA_TOKEN_EXPIRED: return "expired";
	case SHMEMORA_TOKEN_MINTING: return "minting";
	case SHMEMORA_TOKEN_ORPHANED: return "orphaned";
	}
	return "?";
}

/* The namespace a namespace or key token was made for, as printed. */
static void token_ns(const shmemora_token_info *t, char *out, size_t n)
{
	char name[4 * sizeof t->ns_name];
	if (!t->ns_name[0]) {
		snprintf(out, n, "(deleted)");
		return;
	}
	escape_bytes(t->ns_name, strlen(t->ns_name), name);
	snprintf(out, n, "%s", name);
}

static void print_info_json(const shmemora_token_info *t)
{
	char rights[6];
	shmemora_rights_format(t->rights, rights);
	printf("{ \"id\": \"%016" PRIx64 "\", \"index\": %u, \"state\": \"%s\", "
	       "\"scope\": \"%s\", \"offset\": %" PRIu64 ", \"length\": %" PRIu64 ", "
	       "\"ns_hash\": \"%016" PRIx64 "\", \"key_hash\": \"%016" PRIx64 "\", ",
	       t->id, t->index, state_name(t->state), scope_name(t->scope), t->offset, t->length,
	       t->ns_hash, t->key_hash);
	if (t->scope == SHMEMORA_SCOPE_NAMESPACE || t->scope == SHMEMORA_SCOPE_KEY) {
		if (t->ns_name[0])
			json_bytes_member(stdout, "ns_name", t->ns_name, strlen(t->ns_name));
		else
			printf("\"ns_name\": null");
		printf(", \"ns_deleted\": %s, \"ns_incarnation\": %u, ",
		       t->ns_name[0] ? "false" : "true", t->ns_generation);
	}
	printf("\"rights\": \"%s\", \"expires_unix_ns\": %" PRIu64 ", \"owner_host\": %u, "
	       "\"parent_id\": \"%016" PRIx64 "\", \"generation\": %" PRIu64 ", \"depth\": %u, "
	       "\"quota\": %u, \"quota_used\": %" PRIu64 " }",
	       rights, t->expires_unix_ns, t->owner_host, t->parent_id, t->generation, t->depth,
	       t->quota, t->quota_used);
}

static void print_info_header(void)
{
	printf("%-16s  %-8s %-9s %-5s %-5s %-11s %-20s %-16s %-9s %s\n", "id", "state", "scope",
	       "right", "depth", "quota", "expires", "parent", "minted by", "covers");
}

static void print_info_row(const shmemora_token_info *t)
{
	char rights[6], what[1100], ns[1030], expires[32] = "never", quota[32];
	shmemora_rights_format(t->rights, rights);
	if (t->scope == SHMEMORA_SCOPE_REGION) {
		snprintf(what, sizeof what, "[%" PRIu64 ", +%" PRIu64 ")", t->offset, t->length);
	} else if (t->scope == SHMEMORA_SCOPE_POOL) {
		snprintf(what, sizeof what, "everything");
	} else {
		token_ns(t, ns, sizeof ns);
		snprintf(what, sizeof what, "%s %s", t->scope == SHMEMORA_SCOPE_KEY ? "a key of ns"
			 : "ns", ns);
	}
	if (t->expires_unix_ns) {
		time_t secs = (time_t)(t->expires_unix_ns / 1000000000ull);
		struct tm tm;
		gmtime_r(&secs, &tm);
		strftime(expires, sizeof expires, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	char parent[17] = "-";
	if (t->parent_id)
		snprintf(parent, sizeof parent, "%016" PRIx64, t->parent_id);
	if (t->quota == UINT32_MAX) /* a root token's: no limit */
		snprintf(quota, sizeof quota, "%" PRIu64 "/-", t->quota_used);
	else
		snprintf(quota, sizeof quota, "%" PRIu64 "/%u", t->quota_used, t->quota);
	printf("%016" PRIx64 "  %-8s %-9s %-5s %-5u %-11s %-20s %-16s host %-4u %s\n", t->id,
	       state_name(t->state), scope_name(t->scope), rights, t->depth, quota, expires,
	       parent, t->owner_host, what);
}

/* Parses the options common to token and region commands. */
struct token_opts {
	struct attach_opts attach;
	int json;
	const char *from, *token, *region, *ns, *key, *rights, *expires, *quota;
};

static int parse_opts(const char *cmd, int argc, char **argv, struct token_opts *o)
{
	enum { O_KEYFILE = 256, O_JSON, O_FROM, O_TOKEN, O_REGION, O_NS, O_KEY, O_RIGHTS,
	       O_EXPIRES, O_QUOTA };
	static const struct option opts[] = {
		{ "key-file", required_argument, 0, O_KEYFILE },
		{ "json", no_argument, 0, O_JSON },
		{ "from", required_argument, 0, O_FROM },
		{ "token", required_argument, 0, O_TOKEN },
		{ "region", required_argument, 0, O_REGION },
		{ "namespace", required_argument, 0, O_NS },
		{ "key", required_argument, 0, O_KEY },
		{ "rights", required_argument, 0, O_RIGHTS },
		{ "expires", required_argument, 0, O_EXPIRES },
		{ "quota", required_argument, 0, O_QUOTA },
		{ 0, 0, 0, 0 },
	};
	memset(o, 0, sizeof *o);
	o->attach.host_id = -1;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case O_KEYFILE: o->attach.key_file = optarg; break;
		case O_JSON: o->json = 1; break;
		case O_FROM: o->from = optarg; break;
		case O_TOKEN: o->token = optarg; break;
		case O_REGION: o->region = optarg; break;
		case O_NS: o->ns = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_RIGHTS: o->rights = optarg; break;
		case O_EXPIRES: o->expires = optarg; break;
		case O_QUOTA: o->quota = optarg; break;
		default: return option_error(cmd, opt, argv);
		}
	}
	return EXIT_OK;
}

static int build_grant(const struct token_opts *o, shmemora_grant *g, char *ns_buf,
		       size_t ns_len)
{
	memset(g, 0, sizeof *g);
	int scopes = !!o->region + !!o->ns + !!o->key;
	if (scopes != 1)
		return usage_error("token derive", "give exactly one of --region, --namespace, --key");
	if (!o->rights || shmemora_rights_parse(o->rights, &g->rights))
		return usage_error("token derive", "--rights must be a non-empty subset of rwidg");
	if (o->region) {
		const char *colon = strchr(o->region, ':');
		char off[64];
		if (!colon || (size_t)(colon - o->region) >= sizeof off)
			return usage_error("token derive", "--region takes OFF:LEN, e.g. 0:4K");
		memcpy(off, o->region, (size_t)(colon - o->region));
		off[colon - o->region] = '\0';
		if (parse_size0(off, &g->offset) || parse_size(colon + 1, &g->length))
			return usage_error("token derive", "bad --region '%s' (OFF:LEN, e.g. 0:4K)",
					   o->region);
		g->scope = SHMEMORA_SCOPE_REGION;
	} else if (o->ns) {
		g->scope = SHMEMORA_SCOPE_NAMESPACE;
		g->ns = o->ns;
	} else {
		const char *slash = strchr(o->key, '/');
		if (!slash || slash == o->key || !slash[1] || (size_t)(slash - o->key) >= ns_len)
			return usage_error("token derive", "--key takes NS/KEY");
		memcpy(ns_buf, o->key, (size_t)(slash - o->key));
		ns_buf[slash - o->key] = '\0';
		g->scope = SHMEMORA_SCOPE_KEY;
		g->ns = ns_buf;
		g->key = slash + 1;
		g->key_len = strlen(slash + 1);
	}
	if (o->expires) {
		uint64_t secs;
		if (parse_uint(o->expires, UINT32_MAX, &secs) || secs == 0)
			return usage_error("token derive", "--expires takes a number of seconds > 0");
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		g->expires_unix_ns = ((uint64_t)now.tv_sec + secs) * 1000000000ull +
				     (uint64_t)now.tv_nsec;
	}
	uint64_t quota = 0;
	if (o->quota && (parse_uint(o->quota, UINT32_MAX, &quota) || quota == 0))
		return usage_error("token derive", "--quota takes a number of tokens > 0");
	g->quota = (uint32_t)quota;
	return EXIT_OK;
}

static int token_derive(shmemora_pool *pool, const char *path, const struct token_opts *o)
{
	shmemora_grant g;
	char ns[256];
	int code = build_grant(o, &g, ns, sizeof ns);
	if (code)
		return code;
	shmemora_token parent, child;
	if ((code = cli_read_token(o->from, path, &parent)))
		return code;
	int rc = shmemora_token_derive(pool, &parent, &g, &child);
	if (rc)
		return fail(rc);
	char text[SHMEMORA_TOKEN_TEXT_LEN + 1];
	shmemora_token_format(&child, text, sizeof text);
	printf("%s\n", text);
	return EXIT_OK;
}

static int token_list(shmemora_pool *pool, int json)
{
	size_t count = 0;
	int rc = shmemora_token_list(pool, NULL, 0, &count);
	if (rc)
		return fail(rc);
	shmemora_token_info *all = calloc(count ? count : 1, sizeof *all);
	if (!all)
		return fail(SHMEMORA_E_NOMEM);
	size_t cap = count;
	if ((rc = shmemora_token_list(pool, all, cap, &count))) {
		free(all);
		return fail(rc);
	}
	if (count > cap)
		count = cap; /* minted meanwhile: show what we have room for */
	if (json) {
		printf("[");
		for (size_t i = 0; i < count; i++) {
			printf("%s\n  ", i ? "," : "");
			print_info_json(&all[i]);
		}
		printf("%s]\n", count ? "\n" : "");
	} else {
		print_info_header();
		for (size_t i = 0; i < count; i++)
			print_info_row(&all[i]);
	}
	free(all);
	return EXIT_OK;
}

int cmd_token(int argc, char **argv)
{
	if (argc < 3)
		return usage_error("token", "expected SUBCOMMAND POOL");
	const char *sub = argv[1], *path = argv[2];
	struct token_opts o;
	/* Options follow POOL: parse from there on. */
	int code = parse_opts("token", argc - 2, argv + 2, &o);
	if (code)
		return code;
	int nargs = argc - 2 - optind; /* positional arguments after POOL */
	char **args = argv + 2 + optind;
	int wants_token = strcmp(sub, "revoke") == 0 || strcmp(sub, "inspect") == 0;
	if (strcmp(sub, "derive") && strcmp(sub, "list") && strcmp(sub, "gc") && !wants_token)
		return usage_error("token", "unknown subcommand '%s' (derive, revoke, list, "
				   "inspect, gc)", sub);
	if (nargs != wants_token)
		return usage_error("token", wants_token ? "expected POOL TOKEN" : "expected POOL");
	shmemora_token tok;
	if (wants_token && (code = cli_read_token(args[0], path, &tok)))
		return code;

	shmemora_pool *pool;
	o.attach.observer = strcmp(sub, "list") == 0 || strcmp(sub, "inspect") == 0;
	if ((code = cli_attach(path, &o.attach, &pool)))
		return code;
	int rc = 0;
	if (strcmp(sub, "derive") == 0) {
		code = token_derive(pool, path, &o);
	} else if (strcmp(sub, "list") == 0) {
		code = token_list(pool, o.json);
	} else if (strcmp(sub, "gc") == 0) {
		uint64_t freed = 0;
		if ((rc = shmemora_token_gc(pool, &freed)) == 0)
			printf("freed %" PRIu64 " entries\n", freed);
	} else if (strcmp(sub, "revoke") == 0) {
		if ((rc = shmemora_token_revoke(pool, &tok)) == 0)
			printf("revoked %016" PRIx64 " and every token derived from it\n", tok.id);
	} else {
		shmemora_token_info info;
		if ((rc = shmemora_token_inspect(pool, &tok, &info)) == 0) {
			if (o.json) {
				print_info_json(&info);
				printf("\n");
			} else {
				print_info_header();
				print_info_row(&info);
			}
		}
	}
	if (rc)
		code = fail(rc);
	return cli_detach(pool, code);
}

static int region_read(shmemora_pool *pool, const shmemora_token *tok, uint64_t off,
		       uint64_t len)
{
	static uint8_t buf[1 << 16];
	while (len) {
		size_t n = len < sizeof buf ? (size_t)len : sizeof buf;
		int rc = shmemora_region_read(pool, tok, off, buf, n);
		if (rc)
			return fail(rc);
		if (fwrite(buf, 1, n, stdout) != n) {
			fprintf(stderr, "%s: writing to standard output failed\n", prog);
			return EXIT_RUNTIME;
		}
		off += n;
		len -= n;
	}
	return EXIT_OK;
}

/* All or nothing: the whole input is read first, then written in one call,
 * so a token that covers only part of the range writes no byte. */
static int region_write(shmemora_pool *pool, const shmemora_token *tok, uint64_t off)
{
	shmemora_info info;
	int rc = shmemora_pool_info(pool, &info);
	if (rc)
		return fail(rc);
	uint8_t *buf;
	size_t len;
	int code = read_stdin("region write", info.region_size[SHMEMORA_REGION_RAW],
			      "the raw area", "nothing written", &buf, &len);
	if (code)
		return code;
	rc = shmemora_region_write(pool, tok, off, buf, len);
	free(buf);
	return rc ? fail(rc) : EXIT_OK;
}

int cmd_region(int argc, char **argv)
{
	if (argc < 3)
		return usage_error("region", "expected read|write POOL");
	const char *sub = argv[1], *path = argv[2];
	int is_read = strcmp(sub, "read") == 0;
	if (!is_read && strcmp(sub, "write") != 0)
		return usage_error("region", "unknown subcommand '%s' (read, write)", sub);
	struct token_opts o;
	int code = parse_opts("region", argc - 2, argv + 2, &o);
	if (code)
		return code;
	int nargs = argc - 2 - optind;
	char **args = argv + 2 + optind;
	uint64_t off, len = 0;
	if (nargs != (is_read ? 2 : 1) || parse_size0(args[0], &off) ||
	    (is_read && parse_size0(args[1], &len)))
		return usage_error("region", is_read ? "expected POOL OFF LEN" : "expected POOL OFF");
	shmemora_token tok;
	if ((code = cli_read_token(o.token, path, &tok)))
		return code;
	shmemora_pool *pool;
	o.attach.observer = is_read;
	if ((code = cli_attach(path, &o.attach, &pool)))
		return code;
	return cli_detach(pool, is_read ? region_read(pool, &tok, off, len)
				       : region_write(pool, &tok, off));
}
