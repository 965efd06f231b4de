/*
 * shmemora.c — the operator's command: create, inspect and remove pools.
 *
 * Each subcommand is one function taking (argc, argv) after the subcommand
 * name; the table at the bottom maps names to functions and help texts.
 * Library errors become one line on stderr and a documented exit code:
 *   0 success, 1 not found, 2 bad usage or input, 3 access denied,
 *   4 integrity error (corrupt or tampered), 5 other runtime error.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- create */

static const char create_help[] =
	"Usage: shmemora create POOL [options]\n"
	"\n"
	"Create a pool at POOL: a new file (e.g. /dev/shm/pool, a file on hugetlbfs)\n"
	"or a devdax device (/dev/daxX.Y).  Writes a new secret pool key to the key\n"
	"file (mode 0600; keep it: without it the pool cannot be attached).\n"
	"\n"
	"Options:\n"
	"  --size S            pool size, e.g. 64M, 1G (default 1G; devdax: the device)\n"
	"  --hosts N           host slots, 1..4096 (default 8)\n"
	"  --coherence MODE    coherent (default) or flush (CXL 2.0 without\n"
	"                      cross-host coherence: lines written back and invalidated)\n"
	"  --key-file F        where to write the key (default POOL.key, or\n"
	"                      $SHMEMORA_KEY_FILE)\n"
	"  --root-token-file F where to write the root token (default POOL.root-token)\n"
	"  --capabilities N    capability table entries (default scales with size)\n"
	"  --index-slots N     KV index slots (default size/256, power of two)\n"
	"  --max-key S         largest key (default 1K)\n"
	"  --max-value S       largest value (default 1M, lowered to fit small pools)\n"
	"  --raw-size S        bytes of the raw area for `shmemora region` (default\n"
	"                      1/64 of the pool; 0 for none)\n"
	"  --numa-node N       bind the emulated pool's memory to NUMA node N\n"
	"  --lease-ms MS       heartbeat lease for hosts on other machines (default 30000)\n"
	"  --force             overwrite a devdax device that already holds a pool\n"
	"  -h, --help          this help\n";

static int cmd_create(int argc, char **argv)
{
	enum { O_SIZE = 256, O_HOSTS, O_COH, O_KEY, O_CAPS, O_SLOTS, O_MAXKEY, O_MAXVAL,
	       O_NUMA, O_LEASE, O_FORCE, O_ROOT, O_RAW };
	static const struct option opts[] = {
		{ "size", required_argument, 0, O_SIZE },
		{ "hosts", required_argument, 0, O_HOSTS },
		{ "coherence", required_argument, 0, O_COH },
		{ "key-file", required_argument, 0, O_KEY },
		{ "capabilities", required_argument, 0, O_CAPS },
		{ "index-slots", required_argument, 0, O_SLOTS },
		{ "max-key", required_argument, 0, O_MAXKEY },
		{ "max-value", required_argument, 0, O_MAXVAL },
		{ "numa-node", required_argument, 0, O_NUMA },
		{ "lease-ms", required_argument, 0, O_LEASE },
		{ "force", no_argument, 0, O_FORCE },
		{ "root-token-file", required_argument, 0, O_ROOT },
		{ "raw-size", required_argument, 0, O_RAW },
		{ 0, 0, 0, 0 },
	};
	shmemora_config *cfg;
	int rc = shmemora_config_new(&cfg);
	if (rc)
		return fail(rc);
	int opt, code = EXIT_OK;
	uint64_t v;
	const char *root_file = NULL;
	while (code == EXIT_OK && (opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		rc = 0;
		switch (opt) {
		case O_SIZE:
			if (parse_size(optarg, &v))
				code = usage_error("create", "bad --size '%s' (e.g. 64M, 1G)", optarg);
			else
				rc = shmemora_config_set_size(cfg, v);
			break;
		case O_HOSTS:
			if (parse_uint(optarg, 4096, &v) || v == 0)
				code = usage_error("create", "bad --hosts '%s' (1..4096)", optarg);
			else
				rc = shmemora_config_set_hosts(cfg, (uint32_t)v);
			break;
		case O_COH:
			if (strcmp(optarg, "coherent") == 0)
				rc = shmemora_config_set_coherence(cfg, SHMEMORA_COHERENT);
			else if (strcmp(optarg, "flush") == 0)
				rc = shmemora_config_set_coherence(cfg, SHMEMORA_FLUSH);
			else
				code = usage_error("create", "bad --coherence '%s' (coherent or flush)",
						   optarg);
			break;
		case O_KEY:
			rc = shmemora_config_set_key_file(cfg, optarg);
			break;
		case O_CAPS:
			if (parse_uint(optarg, UINT64_MAX, &v))
				code = usage_error("create", "bad --capabilities '%s'", optarg);
			else
				rc = shmemora_config_set_capabilities(cfg, v);
			break;
		case O_SLOTS:
			if (parse_uint(optarg, UINT64_MAX, &v))
				code = usage_error("create", "bad --index-slots '%s'", optarg);
			else
				rc = shmemora_config_set_index_slots(cfg, v);
			break;
		case O_MAXKEY:
		case O_MAXVAL:
			if (parse_size(optarg, &v) || v > UINT32_MAX)
				code = usage_error("create", "bad %s '%s'",
						   opt == O_MAXKEY ? "--max-key" : "--max-value", optarg);
			else if (opt == O_MAXKEY)
				rc = shmemora_config_set_max_key(cfg, (uint32_t)v);
			else
				rc = shmemora_config_set_max_value(cfg, (uint32_t)v);
			break;
		case O_NUMA:
			if (parse_uint(optarg, INT_MAX, &v))
				code = usage_error("create", "bad --numa-node '%s'", optarg);
			else
				rc = shmemora_config_set_numa_node(cfg, (int)v);
			break;
		case O_LEASE:
			if (parse_uint(optarg, UINT32_MAX, &v))
				code = usage_error("create", "bad --lease-ms '%s'", optarg);
			else
				rc = shmemora_config_set_lease_ms(cfg, (uint32_t)v);
			break;
		case O_FORCE:
			rc = shmemora_config_set_force(cfg, 1);
			break;
		case O_RAW:
			if (strcmp(optarg, "0") == 0)
				v = 0;
			else if (parse_size(optarg, &v)) {
				code = usage_error("create", "bad --raw-size '%s'", optarg);
				break;
			}
			rc = shmemora_config_set_raw_size(cfg, v);
			break;
		case O_ROOT:
			root_file = optarg;
			rc = shmemora_config_set_root_token_file(cfg, optarg);
			break;
		default:
			code = usage_error("create", "unknown option");
		}
		if (rc)
			code = fail(rc);
	}
	if (code == EXIT_OK && optind != argc - 1)
		code = usage_error("create", "expected one POOL path");
	if (code != EXIT_OK) {
		shmemora_config_delete(cfg);
		return code;
	}
	const char *path = argv[optind];
	shmemora_pool *pool;
	rc = shmemora_create(path, cfg, &pool);
	shmemora_config_delete(cfg);
	if (rc)
		return fail(rc);
	shmemora_info info;
	rc = shmemora_pool_info(pool, &info);
	int drc = shmemora_detach(pool);
	if (rc || drc)
		return fail(rc ? rc : drc);
	char size[32];
	human_bytes(info.size, size, sizeof size);
	printf("created pool %s: %s, %u host slots, coherence %s, backend %s\n", path, size,
	       info.max_hosts, shmemora_coherence_name(info.coherence),
	       shmemora_backend_name(info.backend));
	printf("pool key written to its key file (mode 0600): keep it secret and safe\n");
	/* The root token is shown once; it stays in its file (mode 0600). */
	char root_path[PATH_MAX], text[SHMEMORA_TOKEN_TEXT_LEN + 1];
	snprintf(root_path, sizeof root_path, "%s", root_file ? root_file : path);
	if (!root_file)
		strncat(root_path, ".root-token", sizeof root_path - strlen(root_path) - 1);
	shmemora_token root;
	if ((rc = shmemora_token_load(root_path, &root)))
		return fail(rc);
	shmemora_token_format(&root, text, sizeof text);
	printf("root token (every right on the whole pool; also in %s):\n%s\n", root_path, text);
	return EXIT_OK;
}

/* ------------------------------------------------------------------ info */

static const char info_help[] =
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
	[SHMEMORA_REGION_HEAP] = "heap_headers",
	[SHMEMORA_REGION_CAPTABLE] = "capability_table",
	[SHMEMORA_REGION_PARTITIONS] = "data_partitions",
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
	       "    \"partition_size\": %" PRIu64 ",\n    \"size_classes\": [",
	       in->format_version, uuid, keyid, in->key_verified ? "true" : "false",
	       in->sb_from_backup ? "true" : "false", in->size, in->created_unix_ns,
	       shmemora_backend_name(in->backend), in->page_size, in->alignment,
	       shmemora_coherence_name(in->coherence), shmemora_protection_name(in->protection),
	       in->protection == SHMEMORA_PROTECT_MPK ? "true" : "false", in->flush_instruction,
	       in->max_hosts, in->hosts_attached, in->lease_ms, in->max_key, in->max_value,
	       in->capabilities, in->index_slots, in->namespaces, in->partition_size);
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
	human_bytes(in->partition_size, part, sizeof part);
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
	printf("partition        %s per host\n", part);
	printf("regions          %-18s %14s %14s\n", "", "offset", "size");
	for (int r = 0; r < SHMEMORA_REGION_COUNT; r++)
		printf("                 %-18s %14" PRIu64 " %14" PRIu64 "\n", region_names[r],
		       in->region_offset[r], in->region_size[r]);
	printf("size classes    ");
	for (uint32_t i = 0; i < in->size_class_count; i++)
		printf(" %u", in->size_classes[i]);
	printf("\n");
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'j' },
		{ "key-file", required_argument, 0, 'k' },
		{ 0, 0, 0, 0 },
	};
	int json = 0, opt;
	const char *key_file = NULL;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'k')
			key_file = optarg;
		else
			return usage_error("info", "unknown option");
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

static const char hosts_help[] =
	"Usage: shmemora hosts POOL [--all] [--json]\n"
	"\n"
	"List the pool's host slots that are in use (attached, being claimed, or held\n"
	"by a host that died and whose slot the next attach will reclaim).\n"
	"\n"
	"Options:\n"
	"  --all        list free slots too\n"
	"  --json       machine-readable output\n"
	"  -h, --help   this help\n";

static int cmd_hosts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'j' },
		{ "all", no_argument, 0, 'a' },
		{ 0, 0, 0, 0 },
	};
	int json = 0, all = 0, opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'a')
			all = 1;
		else
			return usage_error("hosts", "unknown option");
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

static const char destroy_help[] =
	"Usage: shmemora destroy POOL [--key-file F] [--root-token-file F] [--force]\n"
	"\n"
	"Remove a pool: delete the pool file, its key file and its root token file\n"
	"(POOL.root-token) (a devdax device has\n"
	"both superblock copies wiped).  Needs the pool's key, so a mistyped path\n"
	"cannot remove another pool.  Refuses while live hosts are attached.\n"
	"\n"
	"Options:\n"
	"  --key-file F   the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n"
	"  --root-token-file F  the root token file to remove (default POOL.root-token)\n"
	"  --force        remove even though hosts appear to be attached\n"
	"  -h, --help     this help\n";

static int cmd_destroy(int argc, char **argv)
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
	while (code == EXIT_OK && (opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'k')
			rc = shmemora_config_set_key_file(cfg, optarg);
		else if (opt == 'r')
			rc = shmemora_config_set_root_token_file(cfg, optarg);
		else if (opt == 'f')
			rc = shmemora_config_set_force(cfg, 1);
		else
			code = usage_error("destroy", "unknown option");
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

/* ------------------------------------------------------------- dispatch */

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
	const char *summary;
};

static const struct command commands[] = {
	{ "create", cmd_create, create_help, "create a pool and its key file" },
	{ "info", cmd_info, info_help, "show a pool's format, geometry and protection mode" },
	{ "hosts", cmd_hosts, hosts_help, "list the hosts attached to a pool" },
	{ "destroy", cmd_destroy, destroy_help, "remove a pool and its key file" },
	{ "token", cmd_token, token_help, "derive, revoke, list, inspect, gc capability tokens" },
	{ "region", cmd_region, region_help, "read or write raw bytes through the protected path" },
	{ "ns", cmd_ns, ns_help, "create a namespace (table)" },
	{ "put", cmd_put, put_help, "insert or replace a key" },
	{ "get", cmd_get, get_help, "print a key's value" },
	{ "del", cmd_del, del_help, "delete a key" },
	{ "stats", cmd_stats, stats_help, "keys, space per partition and size class, index load" },
	{ "check", cmd_check, check_help, "verify every structure; --repair leaks and dead hosts" },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
	fprintf(f, "Usage: shmemora COMMAND [options]\n\n"
		   "SHMemora: a protective key-value store for CXL shared memory pools.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'shmemora COMMAND --help' describes each command.\n"
		   "Exit codes: 0 success, 1 not found, 2 bad usage or input, 3 access denied,\n"
		   "4 integrity error (corrupt or tampered), 5 other runtime error.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
		if (argc > 2)
			for (size_t i = 0; i < NCOMMANDS; i++)
				if (strcmp(argv[2], commands[i].name) == 0) {
					fputs(commands[i].help, stdout);
					return EXIT_OK;
				}
		print_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
		printf("shmemora %s (pool format %d)\n", shmemora_version(), SHMEMORA_FORMAT_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(name, commands[i].name) != 0)
			continue;
		if (wants_help(argc - 1, argv + 1)) {
			fputs(commands[i].help, stdout);
			return EXIT_OK;
		}
		opterr = 1;
		return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: unknown command '%s'\n\n", prog, name);
	print_usage(stderr);
	return EXIT_USAGE;
}
