/*
 * cmd_stats.c — `shmemora stats`: keys, namespaces, index load, space per
 * host and size class, contention counters, as text, JSON, or the Prometheus text exposition
 * format (for a textfile collector or a scrape wrapper).  Attaches as an
 * observer: it works while every host slot is held.
 */
#include "cli.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const char stats_help[] =
	"Usage: shmemora stats POOL [--json | --prometheus] [--token TOKEN]\n"
	"\n"
	"Keys, namespaces, index load factor, space used per host and size class,\n"
	"and contention: CAS retries per write in the index, the allocator and the\n"
	"free path.  Scans the index; needs no token (it shows no keys).\n"
	"Attaches as an observer: works while every host slot is held.\n"
	"\n"
	"Options:\n"
	"  --json         machine-readable output\n"
	"  --prometheus   the Prometheus text format: metrics named shmemora_*,\n"
	"                 labelled by host and size class, the capability table by\n"
	"                 token state, and, with a pool token (--token, else the root\n"
	"                 token file when readable), keys, bytes and limits per\n"
	"                 namespace (label namespace)\n"
	"  --token TOKEN  for --prometheus's namespace figures: text token or @FILE\n"
	"  --key-file F   the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n"
	"  -h, --help     this help\n";

/* Everything stats shows, gathered before printing. */
struct figures {
	shmemora_info info;
	shmemora_stats st;
	uint64_t tokens[SHMEMORA_TOKEN_ORPHANED + 1]; /* table entries by state */
	shmemora_ns_info *ns;   /* NULL without a token that serves */
	size_t ns_count;
	char ns_note[160];      /* why there are none, for --prometheus */
};

static int gather_stats(shmemora_pool *pool, struct figures *f)
{
	memset(f, 0, sizeof *f);
	snprintf(f->ns_note, sizeof f->ns_note, "no token (give --token)");
	int rc = shmemora_pool_info(pool, &f->info);
	if (rc)
		return rc;
	size_t cells = (size_t)f->info.max_hosts * f->info.size_class_count;
	f->st.allocated = calloc(cells, sizeof *f->st.allocated);
	f->st.host_extents = calloc(f->info.max_hosts, sizeof *f->st.host_extents);
	if (!f->st.allocated || !f->st.host_extents)
		return SHMEMORA_E_NOMEM;
	return shmemora_stats_get(pool, &f->st);
}

static int gather_tokens(shmemora_pool *pool, struct figures *f)
{
	size_t n = 0;
	int rc = shmemora_token_list(pool, NULL, 0, &n);
	if (rc)
		return rc;
	size_t cap = n + 16; /* room for tokens minted meanwhile */
	shmemora_token_info *t = calloc(cap, sizeof *t);
	if (!t)
		return SHMEMORA_E_NOMEM;
	if ((rc = shmemora_token_list(pool, t, cap, &n)) == 0)
		for (size_t i = 0; i < n && i < cap; i++)
			if (t[i].state <= SHMEMORA_TOKEN_ORPHANED)
				f->tokens[t[i].state]++;
	free(t);
	return rc;
}

static int gather_namespaces(shmemora_pool *pool, const shmemora_token *tok, struct figures *f)
{
	size_t n = 0;
	int rc = shmemora_ns_list(pool, tok, NULL, 0, &n);
	if (rc)
		return rc;
	size_t cap = n + 16; /* room for namespaces created meanwhile */
	if (!(f->ns = calloc(cap, sizeof *f->ns)))
		return SHMEMORA_E_NOMEM;
	rc = shmemora_ns_list(pool, tok, f->ns, cap, &f->ns_count);
	if (f->ns_count > cap)
		f->ns_count = cap;
	if (rc) {
		free(f->ns);
		f->ns = NULL;
	}
	return rc;
}

static void release(struct figures *f)
{
	free(f->st.allocated);
	free(f->st.host_extents);
	free(f->ns);
}

static uint64_t allocated(const struct figures *f, uint32_t p, uint32_t c)
{
	return f->st.allocated[(size_t)p * f->st.size_class_count + c];
}

static void print_json(const struct figures *f)
{
	const shmemora_stats *st = &f->st;
	printf("{ \"keys\": %" PRIu64 ", \"namespaces\": %" PRIu64 ", \"index_slots\": %" PRIu64
	       ", \"index_used\": %" PRIu64 ", \"index_load\": %.6f,\n  \"extent_size\": %" PRIu64
	       ", \"extents\": %" PRIu64 ", \"extents_free\": %" PRIu64 ", \"data_used\": %" PRIu64
	       ",\n  \"writes\": %" PRIu64 ", \"index_retries\": %" PRIu64
	       ", \"alloc_retries\": %" PRIu64 ", \"free_retries\": %" PRIu64
	       ", \"remote_frees\": %" PRIu64 ", \"extent_claims\": %" PRIu64
	       ", \"extent_returns\": %" PRIu64 ",\n  \"hosts\": [",
	       st->keys, st->namespaces, st->index_slots, st->index_used, st->index_load,
	       st->extent_size, st->extents, st->extents_free, st->data_used, st->writes,
	       st->index_retries, st->alloc_retries, st->free_retries, st->remote_frees,
	       st->extent_claims, st->extent_returns);
	int first_host = 1;
	for (uint32_t p = 0; p < st->hosts; p++) {
		if (!st->host_extents[p])
			continue;
		printf("%s\n    { \"host\": %u, \"extents\": %" PRIu64 ", \"classes\": [",
		       first_host ? "" : ",", p, st->host_extents[p]);
		first_host = 0;
		int first = 1;
		for (uint32_t c = 0; c < st->size_class_count; c++) {
			if (!allocated(f, p, c))
				continue;
			printf("%s{ \"size\": %u, \"entries\": %" PRIu64 " }", first ? "" : ", ",
			       f->info.size_classes[c], allocated(f, p, c));
			first = 0;
		}
		printf("] }");
	}
	printf("\n  ] }\n");
}

/* Retries per write, as text ("-" before any write was counted). */
static void per_write(uint64_t n, uint64_t writes, char *out, size_t len)
{
	if (writes)
		snprintf(out, len, "%.4f per write", (double)n / (double)writes);
	else
		snprintf(out, len, "-");
}

static void print_text(const struct figures *f)
{
	const shmemora_stats *st = &f->st;
	char ext[32], used[32], data[32];
	human_bytes(st->extent_size, ext, sizeof ext);
	human_bytes(st->data_used, used, sizeof used);
	human_bytes(st->extent_size * st->extents, data, sizeof data);
	printf("keys             %" PRIu64 "\n", st->keys);
	printf("namespaces       %" PRIu64 "\n", st->namespaces);
	printf("index            %" PRIu64 " of %" PRIu64 " slots used (load %.4f)\n",
	       st->index_used, st->index_slots, st->index_load);
	printf("data             %s in blocks of %s (%" PRIu64 " extents of %s, %" PRIu64
	       " free)\n", used, data, st->extents, ext, st->extents_free);
	for (uint32_t p = 0; p < st->hosts; p++) {
		if (!st->host_extents[p])
			continue;
		printf("  host %-4u %" PRIu64 " extents;", p, st->host_extents[p]);
		for (uint32_t c = 0; c < st->size_class_count; c++)
			if (allocated(f, p, c))
				printf(" %" PRIu64 "x%uB", allocated(f, p, c), f->info.size_classes[c]);
		printf("\n");
	}
	char ix[48], al[48], fr[48];
	per_write(st->index_retries, st->writes, ix, sizeof ix);
	per_write(st->alloc_retries, st->writes, al, sizeof al);
	per_write(st->free_retries, st->writes, fr, sizeof fr);
	printf("writes           %" PRIu64 " (each thread adds its counts every 64 writes and at detach)\n",
	       st->writes);
	printf("CAS retries      index %s, allocator %s, free path %s\n", ix, al, fr);
	printf("remote frees     %" PRIu64 "; extents claimed %" PRIu64 ", given back %" PRIu64
	       "\n", st->remote_frees, st->extent_claims, st->extent_returns);
}

/* ------------------------------------------------------------ Prometheus */

/* A label value: '\\', '"' and newline escaped as the format says; bytes
 * that are not UTF-8 written as the text \xHH (its backslash escaped). */
static void prom_label_value(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0, k; i < n; i += k) {
		k = utf8_sequence(p + i, n - i);
		if (k == 0) {
			printf("\\\\x%02x", p[i]);
			k = 1;
		} else if (p[i] == '\\' || p[i] == '"') {
			printf("\\%c", p[i]);
		} else if (p[i] == '\n') {
			printf("\\n");
		} else {
			fwrite(p + i, 1, k, stdout);
		}
	}
}

static void prom_family(const char *name, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void print_prometheus(const char *path, const struct figures *f)
{
	const shmemora_info *in = &f->info;
	const shmemora_stats *st = &f->st;
	prom_family("shmemora_pool_info", "The pool's fixed facts as labels (value 1).");
	printf("shmemora_pool_info{pool=\"");
	prom_label_value(path, strlen(path));
	printf("\",format_version=\"%u\",backend=\"%s\",coherence=\"%s\",protection=\"%s\"} 1\n",
	       in->format_version, shmemora_backend_name(in->backend),
	       shmemora_coherence_name(in->coherence), shmemora_protection_name(in->protection));
	const struct {
		const char *name, *help;
		uint64_t value;
	} scalars[] = {
		{ "shmemora_pool_size_bytes", "Size of the pool in bytes.", in->size },
		{ "shmemora_hosts_max", "Host slots of the pool.", in->max_hosts },
		{ "shmemora_hosts_attached", "Host slots held by live hosts.", in->hosts_attached },
		{ "shmemora_keys", "Published keys, in every namespace.", st->keys },
		{ "shmemora_namespaces", "Namespaces that exist.", st->namespaces },
		{ "shmemora_index_slots", "Slots of the KV index.", st->index_slots },
		{ "shmemora_index_used_slots", "Non-empty slots of the KV index.", st->index_used },
		{ "shmemora_extent_size_bytes", "Bytes per extent of the data region.",
		  st->extent_size },
		{ "shmemora_extents", "Extents of the data region.", st->extents },
		{ "shmemora_extents_free", "Extents held by no host.", st->extents_free },
		{ "shmemora_data_used_bytes", "Bytes of the blocks out of free lists.",
		  st->data_used },
		{ "shmemora_writes_total", "Write operations, as the hosts report them.",
		  st->writes },
		{ "shmemora_index_cas_retries_total", "Index compare-and-swaps that lost a race.",
		  st->index_retries },
		{ "shmemora_alloc_cas_retries_total",
		  "Allocator compare-and-swaps that lost a race.", st->alloc_retries },
		{ "shmemora_free_cas_retries_total",
		  "Free-path compare-and-swaps that lost a race.", st->free_retries },
		{ "shmemora_remote_frees_total", "Blocks freed into another host's extent.",
		  st->remote_frees },
		{ "shmemora_extent_claims_total", "Extents claimed by hosts.", st->extent_claims },
		{ "shmemora_extent_returns_total", "Extents given back to the pool.",
		  st->extent_returns },
		{ "shmemora_capabilities", "Entries of the capability table.", in->capabilities },
	};
	for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
		prom_family(scalars[i].name, scalars[i].help);
		printf("%s %" PRIu64 "\n", scalars[i].name, scalars[i].value);
	}
	prom_family("shmemora_index_load_ratio", "Used index slots over all index slots.");
	printf("shmemora_index_load_ratio %.6f\n", st->index_load);
	prom_family("shmemora_host_extents", "Extents a host holds (hosts with any).");
	for (uint32_t p = 0; p < st->hosts; p++)
		if (st->host_extents[p])
			printf("shmemora_host_extents{host=\"%u\"} %" PRIu64 "\n", p,
			       st->host_extents[p]);
	prom_family("shmemora_allocated_entries",
		    "Blocks out of free lists per host and size class (live entries, builds in "
		    "flight, and blocks in the host's threads' caches).");
	for (uint32_t p = 0; p < st->hosts; p++)
		for (uint32_t c = 0; c < st->size_class_count; c++)
			if (allocated(f, p, c))
				printf("shmemora_allocated_entries{host=\"%u\",size_class_bytes=\"%u\"} "
				       "%" PRIu64 "\n", p, in->size_classes[c], allocated(f, p, c));
	static const char *const states[] = { "live", "revoked", "expired", "minting",
					      "orphaned" };
	prom_family("shmemora_tokens", "Used capability table entries by state.");
	for (int s = 0; s <= SHMEMORA_TOKEN_ORPHANED; s++)
		printf("shmemora_tokens{state=\"%s\"} %" PRIu64 "\n", states[s], f->tokens[s]);
	if (!f->ns) {
		printf("# shmemora: no per-namespace figures: %s\n", f->ns_note);
		return;
	}
	static const struct {
		const char *name, *help;
		size_t offset;
	} per_ns[] = {
		{ "shmemora_namespace_keys", "Keys in a namespace.", offsetof(shmemora_ns_info, keys) },
		{ "shmemora_namespace_bytes", "Key and value bytes in a namespace.",
		  offsetof(shmemora_ns_info, bytes) },
		{ "shmemora_namespace_max_keys", "A namespace's key limit (0: none).",
		  offsetof(shmemora_ns_info, max_keys) },
		{ "shmemora_namespace_max_bytes", "A namespace's byte limit (0: none).",
		  offsetof(shmemora_ns_info, max_bytes) },
	};
	for (size_t m = 0; m < sizeof per_ns / sizeof per_ns[0]; m++) {
		prom_family(per_ns[m].name, per_ns[m].help);
		for (size_t i = 0; i < f->ns_count; i++) {
			uint64_t v;
			memcpy(&v, (const char *)&f->ns[i] + per_ns[m].offset, sizeof v);
			printf("%s{namespace=\"", per_ns[m].name);
			prom_label_value(f->ns[i].name, strlen(f->ns[i].name));
			printf("\"} %" PRIu64 "\n", v);
		}
	}
}

static int run_stats(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	if (o->json && o->prometheus)
		return usage_error("stats", "--json and --prometheus exclude each other");
	struct figures f;
	int rc = gather_stats(pool, &f);
	if (rc == 0 && o->prometheus)
		rc = gather_tokens(pool, &f);
	if (rc == 0 && o->prometheus && tok) {
		rc = gather_namespaces(pool, tok, &f);
		if (rc && !o->token) {
			/* the root token found by default did not serve: go without */
			snprintf(f.ns_note, sizeof f.ns_note, "%s", shmemora_errmsg());
			rc = 0;
		}
	}
	if (rc == 0 && o->prometheus)
		print_prometheus(o->pool, &f);
	else if (rc == 0 && o->json)
		print_json(&f);
	else if (rc == 0)
		print_text(&f);
	release(&f);
	return rc ? fail(rc) : EXIT_OK;
}

int cmd_stats(int argc, char **argv)
{
	static const struct pool_command pc = { "stats", OPT_TOKEN | OPT_JSON | OPT_PROMETHEUS,
						0, 0, 1, TOKEN_OPTIONAL, run_stats };
	return run_pool_command(&pc, argc, argv);
}
