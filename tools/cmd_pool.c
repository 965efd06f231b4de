/*
 * cmd_pool.c — the pool's life: `shmemora create`, `info`, `hosts` and
 * `destroy`.  create's options are one table of {option, parser, setter},
 * from which its --help is printed too.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- create */

/* How an option's value is read. */
enum value_kind {
	V_FLAG,       /* no value: sets 1 */
	V_SIZE,       /* bytes with K/M/G suffixes, within [min, max] */
	V_NUMBER,     /* decimal, within [min, max] */
	V_TEXT,       /* a path, copied by the setter */
	V_COHERENCE,  /* coherent | flush */
	V_GROUP,      /* a group name or GID */
};

/* Which setter takes it: the library's setters differ in their types. */
enum setter_kind { SET_U64, SET_U32, SET_INT, SET_LONG, SET_TEXT, SET_COHERENCE };

struct create_option {
	const char *name;      /* --NAME */
	const char *value;     /* its value in --help, NULL for a flag */
	enum value_kind kind;
	uint64_t min, max;
	enum setter_kind setter_kind;
	union {
		int (*u64)(shmemora_config *, uint64_t);
		int (*u32)(shmemora_config *, uint32_t);
		int (*i)(shmemora_config *, int);
		int (*l)(shmemora_config *, long);
		int (*text)(shmemora_config *, const char *);
		int (*coherence)(shmemora_config *, enum shmemora_coherence);
	} set;
	const char *help;      /* lines after the first are indented in --help */
};

static const struct create_option create_options[] = {
	{ "size", "S", V_SIZE, 1, UINT64_MAX, SET_U64, { .u64 = shmemora_config_set_size },
	  "pool size, e.g. 64M, 1G (default 1G; devdax: the device)" },
	{ "hosts", "N", V_NUMBER, 1, SHMEMORA_MAX_HOSTS, SET_U32,
	  { .u32 = shmemora_config_set_hosts }, NULL /* says its range: create_help */ },
	{ "coherence", "MODE", V_COHERENCE, 0, 0, SET_COHERENCE,
	  { .coherence = shmemora_config_set_coherence },
	  "coherent (default) or flush (CXL 2.0 without\n"
	  "cross-host coherence: lines written back and invalidated)" },
	{ "key-file", "F", V_TEXT, 0, 0, SET_TEXT, { .text = shmemora_config_set_key_file },
	  "where to write the key (default POOL.key, or\n$SHMEMORA_KEY_FILE)" },
	{ "root-token-file", "F", V_TEXT, 0, 0, SET_TEXT,
	  { .text = shmemora_config_set_root_token_file },
	  "where to write the root token (default POOL.root-token)" },
	{ "group", "G", V_GROUP, 0, 0, SET_LONG, { .l = shmemora_config_set_group },
	  "share the pool with group G (a name or GID): pool file\n"
	  "0660, key file 0640, so its members can attach; the root\n"
	  "token file stays 0600.  You must be root or in the group" },
	{ "capabilities", "N", V_NUMBER, 1, UINT64_MAX, SET_U64,
	  { .u64 = shmemora_config_set_capabilities },
	  "capability table entries (default scales with size)" },
	{ "index-slots", "N", V_NUMBER, 1, UINT64_MAX, SET_U64,
	  { .u64 = shmemora_config_set_index_slots },
	  "KV index slots (default size/256, power of two)" },
	{ "namespaces", "N", V_NUMBER, 1, UINT32_MAX, SET_U32,
	  { .u32 = shmemora_config_set_namespaces },
	  "namespace names the pool can ever hold (default scales\nwith size, 1024 for 1G)" },
	{ "max-key", "S", V_SIZE, 1, SHMEMORA_MAX_KEY_LIMIT, SET_U32,
	  { .u32 = shmemora_config_set_max_key }, "largest key (default 1K)" },
	{ "max-value", "S", V_SIZE, 1, SHMEMORA_MAX_VALUE_LIMIT, SET_U32,
	  { .u32 = shmemora_config_set_max_value },
	  "largest value (default 1M, lowered to fit small pools)" },
	{ "raw-size", "S", V_SIZE, 0, UINT64_MAX, SET_U64, { .u64 = shmemora_config_set_raw_size },
	  "bytes of the raw area for `shmemora region` (default\n1/64 of the pool; 0 for none)" },
	{ "numa-node", "N", V_NUMBER, 0, INT_MAX, SET_INT, { .i = shmemora_config_set_numa_node },
	  "bind the emulated pool's memory to NUMA node N" },
	{ "lease-ms", "MS", V_NUMBER, 100, UINT32_MAX, SET_U32,
	  { .u32 = shmemora_config_set_lease_ms },
	  "heartbeat lease for hosts on other machines (default 30000)" },
	{ "host-id", "N", V_NUMBER, 0, INT_MAX, SET_INT, { .i = shmemora_config_set_host_id },
	  "the host slot this process holds while it creates the\npool (default 0); one out of range fails the create\nafter the superblocks are written, and the medium is\nput back as it was" },
	{ "force", NULL, V_FLAG, 0, 0, SET_INT, { .i = shmemora_config_set_force },
	  "overwrite a devdax device that already holds a pool" },
};
#define NCREATE (sizeof create_options / sizeof create_options[0])

void create_help(FILE *f)
{
	fprintf(f, "Usage: shmemora create POOL [options]\n"
		   "\n"
		   "Create a pool at POOL: a new file (e.g. /dev/shm/pool, a file on hugetlbfs),\n"
		   "a devdax device (/dev/daxX.Y) or FILE@OFFSET.  Writes a new secret pool key\n"
		   "to the key file (mode 0600; keep it: without it the pool cannot be attached)\n"
		   "and the root token, every right on the whole pool, to the root token file.\n"
		   "\n"
		   "Options:\n");
	for (size_t i = 0; i < NCREATE; i++) {
		const struct create_option *c = &create_options[i];
		char left[40], hosts[64];
		snprintf(left, sizeof left, "--%s%s%s", c->name, c->value ? " " : "",
			 c->value ? c->value : "");
		const char *help = c->help;
		if (!help) { /* --hosts: its range from the library's limit */
			snprintf(hosts, sizeof hosts, "host slots, 1..%u (default 8)",
				 SHMEMORA_MAX_HOSTS);
			help = hosts;
		}
		fprintf(f, "  %-21s ", left);
		for (const char *p = help; *p; p++) {
			fputc(*p, f);
			if (*p == '\n')
				fprintf(f, "%24s", "");
		}
		fputc('\n', f);
	}
	fprintf(f, "  %-21s this help\n", "-h, --help");
}

/* A group name or number into its GID. */
static int parse_group(const char *s, uint64_t *gid)
{
	if (parse_uint(s, (uint64_t)UINT32_MAX - 1, gid) == 0)
		return 0;
	errno = 0;
	struct group *g = getgrnam(s);
	if (!g)
		return -1;
	*gid = g->gr_gid;
	return 0;
}

/* Reads one option's value and hands it to its setter; returns the exit code. */
static int apply_create_option(const struct create_option *c, const char *arg,
			       shmemora_config *cfg)
{
	uint64_t n = 1;
	int bad = 0;
	switch (c->kind) {
	case V_FLAG:
	case V_TEXT:
		break;
	case V_SIZE:
		bad = (c->min == 0 ? parse_size0(arg, &n) : parse_size(arg, &n)) ||
		      n < c->min || n > c->max;
		break;
	case V_NUMBER:
		bad = parse_uint(arg, c->max, &n) || n < c->min;
		break;
	case V_COHERENCE:
		if (strcmp(arg, "coherent") == 0)
			n = SHMEMORA_COHERENT;
		else if (strcmp(arg, "flush") == 0)
			n = SHMEMORA_FLUSH;
		else
			return usage_error("create", "--coherence takes coherent or flush, not '%s'",
					   arg);
		break;
	case V_GROUP:
		if (parse_group(arg, &n))
			return usage_error("create", "--group: no group named '%s' (`getent group` "
					   "lists them)", arg);
		break;
	}
	if (bad && c->kind == V_SIZE)
		return usage_error("create", "bad --%s '%s' (a size such as 64M or 1G, at most "
				   "%" PRIu64 " bytes)", c->name, arg, c->max);
	if (bad)
		return usage_error("create", "bad --%s '%s' (a number, %" PRIu64 "..%" PRIu64 ")",
				   c->name, arg, c->min, c->max);
	int rc = 0;
	switch (c->setter_kind) {
	case SET_U64: rc = c->set.u64(cfg, n); break;
	case SET_U32: rc = c->set.u32(cfg, (uint32_t)n); break;
	case SET_INT: rc = c->set.i(cfg, (int)n); break;
	case SET_LONG: rc = c->set.l(cfg, (long)n); break;
	case SET_TEXT: rc = c->set.text(cfg, arg); break;
	case SET_COHERENCE: rc = c->set.coherence(cfg, (enum shmemora_coherence)n); break;
	}
	return rc ? fail(rc) : EXIT_OK;
}

/* Fills cfg from argv; returns the exit code, and the POOL path in *path. */
static int parse_create(int argc, char **argv, shmemora_config *cfg, const char **path)
{
	struct option opts[NCREATE + 1];
	for (size_t i = 0; i < NCREATE; i++)
		opts[i] = (struct option){ create_options[i].name,
					   create_options[i].value ? required_argument : no_argument,
					   0, (int)i + 256 };
	memset(&opts[NCREATE], 0, sizeof opts[NCREATE]);
	opterr = 0;
	int opt, code;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt < 256)
			return option_error("create", opt, argv);
		if ((code = apply_create_option(&create_options[opt - 256], optarg, cfg)))
			return code;
	}
	if (optind != argc - 1)
		return usage_error("create", "expected one POOL path");
	*path = argv[optind];
	return EXIT_OK;
}

/* What create says when it is done: the pool, and the root token once. */
static int report_created(const char *path, shmemora_pool *pool, const shmemora_config *cfg)
{
	shmemora_info info;
	shmemora_token root;
	char root_path[PATH_MAX], text[SHMEMORA_TOKEN_TEXT_LEN + 1], size[32];
	int rc = shmemora_pool_info(pool, &info);
	if (rc == 0)
		rc = shmemora_root_token_path(path, cfg, root_path, sizeof root_path);
	if (rc == 0)
		rc = shmemora_token_load(root_path, &root);
	if (rc == 0)
		rc = shmemora_token_format(&root, text, sizeof text);
	if (rc)
		return fail(rc);
	human_bytes(info.size, size, sizeof size);
	printf("created pool %s: %s, %u host slots, coherence %s, backend %s\n", path, size,
	       info.max_hosts, shmemora_coherence_name(info.coherence),
	       shmemora_backend_name(info.backend));
	printf("pool key written to its key file: keep it secret and safe\n");
	/* The root token is shown once; it stays in its file (mode 0600). */
	printf("root token (every right on the whole pool; also in %s):\n%s\n", root_path, text);
	return EXIT_OK;
}

int cmd_create(int argc, char **argv)
{
	shmemora_config *cfg;
	int rc = shmemora_config_new(&cfg);
	if (rc)
		return fail(rc);
	const char *path = NULL;
	shmemora_pool *pool;
	int code = parse_create(argc, argv, cfg, &path);
	if (code == EXIT_OK && (rc = shmemora_create(path, cfg, &pool)))
		code = fail(rc);
	if (code == EXIT_OK)
		code = cli_detach(pool, report_created(path, pool, cfg));
	shmemora_config_delete(cfg);
	return code;
}

/* ------------------------------------------------------------------ info */

const char info_help[] =
	"Usage: shmemora info POOL [--key-file F] [--json]\n"
	"\n"
	"Show a pool's format, geometry, coherence mode, the protection mode this CPU\n"
	"offers (mpk or software) and how many hosts are attached.  Needs no key;\n"
	"when the key file is present (POOL.key, $SHMEMORA_KEY_FILE or --key-file)\n"
	"the superblock's MAC is verified too.\n"
	"\n"
	"Options:\n"
	"  --key-file F   verify the superblock MAC with this key\n"
	"  --json         machine-readable output\n"
	"  -h, --help     this help\n";

static const char *const region_names[SHMEMORA_REGION_COUNT] = {
	[SHMEMORA_REGION_SUPERBLOCK] = "superblock",
	[SHMEMORA_REGION_REGISTRY] = "host_registry",
	[SHMEMORA_REGION_CAPSYNC] = "capability_sync",
	[SHMEMORA_REGION_NAMESPACES] = "namespaces",
	[SHMEMORA_REGION_INDEX] = "kv_index",
	[SHMEMORA_REGION_HEAP] = "heap",
	[SHMEMORA_REGION_CAPTABLE] = "capability_table",
	[SHMEMORA_REGION_DATA] = "data_extents",
	[SHMEMORA_REGION_RAW] = "raw_area",
};
_Static_assert(SHMEMORA_REGION_COUNT == 9, "a name for every region");

static void print_info_json(const char *path, const shmemora_info *in)
{
	char uuid[37], keyid[33];
	format_uuid(in->uuid, uuid);
	format_hex(in->key_id, 16, keyid);
	printf("{\n  \"pool\": ");
	json_string(stdout, path);
	printf(",\n  \"format_version\": %u,\n  \"uuid\": \"%s\",\n  \"key_id\": \"%s\",\n"
	       "  \"key_verified\": %s,\n  \"superblock_from_backup\": %s,\n"
	       "  \"size\": %" PRIu64 ",\n  \"created_unix_ns\": %" PRIu64 ",\n"
	       "  \"backend\": \"%s\",\n  \"page_size\": %u,\n  \"alignment\": %u,\n"
	       "  \"coherence\": \"%s\",\n  \"protection\": \"%s\",\n"
	       "  \"hardware_enforcement\": %s,\n  \"flush_instruction\": \"%s\",\n"
	       "  \"hosts\": { \"max\": %u, \"attached\": %u, \"lease_ms\": %u },\n"
	       "  \"geometry\": {\n    \"max_key\": %u,\n    \"max_value\": %u,\n"
	       "    \"capabilities\": %" PRIu64 ",\n    \"index_slots\": %" PRIu64 ",\n"
	       "    \"namespaces\": %u,\n"
	       "    \"extent_size\": %" PRIu64 ",\n    \"extents\": %" PRIu64 ",\n"
	       "    \"size_classes\": [",
	       in->format_version, uuid, keyid, in->key_verified ? "true" : "false",
	       in->sb_from_backup ? "true" : "false", in->size, in->created_unix_ns,
	       shmemora_backend_name(in->backend), in->page_size, in->alignment,
	       shmemora_coherence_name(in->coherence), shmemora_protection_name(in->protection),
	       in->protection == SHMEMORA_PROTECT_MPK ? "true" : "false", in->flush_instruction,
	       in->max_hosts, in->hosts_attached, in->lease_ms, in->max_key, in->max_value,
	       in->capabilities, in->index_slots, in->namespaces, in->extent_size,
	       in->extents);
	for (uint32_t i = 0; i < in->size_class_count; i++)
		printf("%s%u", i ? ", " : "", in->size_classes[i]);
	printf("],\n    \"regions\": {\n");
	for (int r = 0; r < SHMEMORA_REGION_COUNT; r++)
		printf("      \"%s\": { \"offset\": %" PRIu64 ", \"size\": %" PRIu64 " }%s\n",
		       region_names[r], in->region_offset[r], in->region_size[r],
		       r + 1 < SHMEMORA_REGION_COUNT ? "," : "");
	printf("    }\n  }\n}\n");
}

static void print_info_text(const char *path, const shmemora_info *in)
{
	char uuid[37], keyid[33], size[32], page[32], align[32], part[32], mk[32], mv[32];
	format_uuid(in->uuid, uuid);
	format_hex(in->key_id, 8, keyid);
	human_bytes(in->size, size, sizeof size);
	human_bytes(in->page_size, page, sizeof page);
	human_bytes(in->alignment, align, sizeof align);
	human_bytes(in->extent_size, part, sizeof part);
	human_bytes(in->max_key, mk, sizeof mk);
	human_bytes(in->max_value, mv, sizeof mv);
	if (in->sb_from_backup)
		printf("WARNING: the primary superblock is damaged; this pool was read from "
		       "its backup copy\n");
	printf("pool             %s\n", path);
	printf("format version   %u\n", in->format_version);
	printf("uuid             %s\n", uuid);
	printf("key id           %s… (%s)\n", keyid,
	       in->key_verified ? "superblock MAC verified with the key"
				: "no key file: checksum verified, MAC not checked");
	printf("size             %s (%" PRIu64 " bytes)\n", size, in->size);
	printf("backend          %s, page size %s, regions aligned to %s\n",
	       shmemora_backend_name(in->backend), page, align);
	printf("coherence        %s\n", shmemora_coherence_name(in->coherence));
	if (in->protection == SHMEMORA_PROTECT_MPK)
		printf("protection       mpk (memory protection keys available on this CPU)\n");
	else
		printf("protection       software (this CPU or kernel has no PKU: access checks "
		       "run in software, hardware enforcement is OFF)\n");
	printf("flush insn       %s\n", in->flush_instruction);
	printf("hosts            %u attached of %u slots (lease %u ms)\n", in->hosts_attached,
	       in->max_hosts, in->lease_ms);
	printf("max key / value  %s / %s\n", mk, mv);
	printf("capabilities     %" PRIu64 " entries\n", in->capabilities);
	printf("index slots      %" PRIu64 "\n", in->index_slots);
	printf("namespaces       %u records\n", in->namespaces);
	printf("data             %" PRIu64 " extents of %s, claimed by hosts as they need "
	       "them\n", in->extents, part);
	printf("regions          %-18s %14s %14s\n", "", "offset", "size");
	for (int r = 0; r < SHMEMORA_REGION_COUNT; r++)
		printf("                 %-18s %14" PRIu64 " %14" PRIu64 "\n", region_names[r],
		       in->region_offset[r], in->region_size[r]);
	printf("size classes    ");
	for (uint32_t i = 0; i < in->size_class_count; i++)
		printf(" %u", in->size_classes[i]);
	printf("\n");
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'j' },
		{ "key-file", required_argument, 0, 'k' },
		{ 0, 0, 0, 0 },
	};
	int json = 0, opt;
	const char *key_file = NULL;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'k')
			key_file = optarg;
		else
			return option_error("info", opt, argv);
	}
	if (optind != argc - 1)
		return usage_error("info", "expected one POOL path");
	shmemora_info info;
	int rc = shmemora_inspect(argv[optind], key_file, &info);
	if (rc)
		return fail(rc);
	if (json)
		print_info_json(argv[optind], &info);
	else
		print_info_text(argv[optind], &info);
	return EXIT_OK;
}

/* ----------------------------------------------------------------- hosts */

const char hosts_help[] =
	"Usage: shmemora hosts POOL [--all] [--json]\n"
	"\n"
	"List the pool's host slots that are in use (attached, being claimed, or held\n"
	"by a host that died and whose slot the next attach will reclaim).\n"
	"\n"
	"Options:\n"
	"  --all        list free slots too\n"
	"  --json       machine-readable output\n"
	"  -h, --help   this help\n";

int cmd_hosts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'j' },
		{ "all", no_argument, 0, 'a' },
		{ 0, 0, 0, 0 },
	};
	int json = 0, all = 0, opt;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'a')
			all = 1;
		else
			return option_error("hosts", opt, argv);
	}
	if (optind != argc - 1)
		return usage_error("hosts", "expected one POOL path");
	size_t count = 0;
	int rc = shmemora_hosts(argv[optind], NULL, 0, &count);
	if (rc)
		return fail(rc);
	shmemora_host *hosts = calloc(count, sizeof *hosts);
	if (!hosts) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return EXIT_RUNTIME;
	}
	rc = shmemora_hosts(argv[optind], hosts, count, &count);
	if (rc) {
		free(hosts);
		return fail(rc);
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	int first = 1;
	if (json)
		printf("[");
	else
		printf("%-6s %-9s %-7s %-8s %-14s %s\n", "host", "state", "epoch", "pid",
		       "heartbeat", "machine");
	for (size_t i = 0; i < count; i++) {
		const shmemora_host *h = &hosts[i];
		if (!all && h->state == SHMEMORA_HOST_FREE)
			continue;
		double age = h->heartbeat_unix_ns && now_ns > h->heartbeat_unix_ns
			? (double)(now_ns - h->heartbeat_unix_ns) / 1e9 : 0.0;
		char boot[33];
		format_hex(h->boot_id, 16, boot);
		if (json) {
			printf("%s\n  { \"host_id\": %u, \"state\": \"%s\", \"epoch\": %u, "
			       "\"pid\": %d, \"heartbeat_unix_ns\": %" PRIu64 ", \"boot_id\": \"%s\", "
			       "\"same_machine\": %s }", first ? "" : ",", h->host_id,
			       shmemora_host_state_name(h->state), h->epoch, h->pid,
			       h->heartbeat_unix_ns, boot, h->same_machine ? "true" : "false");
		} else {
			char beat[32] = "-";
			if (h->heartbeat_unix_ns)
				snprintf(beat, sizeof beat, "%.1f s ago", age);
			char pid[16] = "-";
			if (h->state != SHMEMORA_HOST_FREE) {
				snprintf(pid, sizeof pid, "%d", h->pid);
			} else {
				strcpy(beat, "-");
			}
			printf("%-6u %-9s %-7u %-8s %-14s %s\n", h->host_id,
			       shmemora_host_state_name(h->state), h->epoch, pid, beat,
			       h->state == SHMEMORA_HOST_FREE ? "-"
			       : h->same_machine ? "this machine" : "other (boot id differs)");
		}
		first = 0;
	}
	if (json)
		printf("%s]\n", first ? "" : "\n");
	free(hosts);
	return EXIT_OK;
}

/* --------------------------------------------------------------- destroy */

const char destroy_help[] =
	"Usage: shmemora destroy POOL [--key-file F] [--root-token-file F] [--force]\n"
	"\n"
	"Remove a pool: delete the pool file, its key file and its root token file (a\n"
	"devdax device or FILE@OFFSET has both superblock copies wiped).  Needs the\n"
	"pool's key, so a mistyped path cannot remove another pool.  Refuses while live\n"
	"hosts are attached.\n"
	"\n"
	"Options:\n"
	"  --key-file F          the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n"
	"  --root-token-file F   the root token file to remove (default POOL.root-token)\n"
	"  --force               remove even though hosts appear to be attached\n"
	"  -h, --help            this help\n";

int cmd_destroy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-file", required_argument, 0, 'k' },
		{ "root-token-file", required_argument, 0, 'r' },
		{ "force", no_argument, 0, 'f' },
		{ 0, 0, 0, 0 },
	};
	shmemora_config *cfg;
	int rc = shmemora_config_new(&cfg);
	if (rc)
		return fail(rc);
	int opt, code = EXIT_OK;
	while (code == EXIT_OK && (opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt == 'k')
			rc = shmemora_config_set_key_file(cfg, optarg);
		else if (opt == 'r')
			rc = shmemora_config_set_root_token_file(cfg, optarg);
		else if (opt == 'f')
			rc = shmemora_config_set_force(cfg, 1);
		else
			code = option_error("destroy", opt, argv);
		if (rc)
			code = fail(rc);
	}
	if (code == EXIT_OK && optind != argc - 1)
		code = usage_error("destroy", "expected one POOL path");
	if (code == EXIT_OK) {
		rc = shmemora_destroy(argv[optind], cfg);
		if (rc)
			code = fail(rc);
		else
			printf("destroyed pool %s\n", argv[optind]);
	}
	shmemora_config_delete(cfg);
	return code;
}

