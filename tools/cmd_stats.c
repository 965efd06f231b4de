/*
 * cmd_stats.c — `shmemora stats`: keys, namespaces, index load and space per
 * partition and size class, as text or JSON.  Attaches as an observer: it
 * works while every host slot is held.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const char stats_help[] =
	"Usage: shmemora stats POOL [--json] [--key-file F]\n"
	"\n"
	"Keys, namespaces, index load factor, and space used per partition (host)\n"
	"and size class.  Scans the index; needs no token (it shows no keys).\n"
	"Attaches as an observer: works while every host slot is held.\n"
	"\n"
	"Options:\n"
	"  --json         machine-readable output\n"
	"  --key-file F   the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n"
	"  -h, --help     this help\n";

/* Everything stats shows, gathered before printing. */
struct figures {
	shmemora_info info;
	shmemora_stats st;
};

static int gather_stats(shmemora_pool *pool, struct figures *f)
{
	memset(f, 0, sizeof *f);
	int rc = shmemora_pool_info(pool, &f->info);
	if (rc)
		return rc;
	size_t cells = (size_t)f->info.max_hosts * f->info.size_class_count;
	f->st.allocated = calloc(cells, sizeof *f->st.allocated);
	f->st.partition_used = calloc(f->info.max_hosts, sizeof *f->st.partition_used);
	if (!f->st.allocated || !f->st.partition_used)
		return SHMEMORA_E_NOMEM;
	return shmemora_stats_get(pool, &f->st);
}

static void release(struct figures *f)
{
	free(f->st.allocated);
	free(f->st.partition_used);
}

static uint64_t allocated(const struct figures *f, uint32_t p, uint32_t c)
{
	return f->st.allocated[(size_t)p * f->st.size_class_count + c];
}

static void print_json(const struct figures *f)
{
	const shmemora_stats *st = &f->st;
	printf("{ \"keys\": %" PRIu64 ", \"namespaces\": %" PRIu64 ", \"index_slots\": %" PRIu64
	       ", \"index_used\": %" PRIu64 ", \"index_load\": %.6f, \"partition_size\": %" PRIu64
	       ",\n  \"partitions\": [", st->keys, st->namespaces, st->index_slots, st->index_used,
	       st->index_load, st->partition_size);
	for (uint32_t p = 0; p < st->partitions; p++) {
		printf("%s\n    { \"host\": %u, \"bytes_used\": %" PRIu64 ", \"classes\": [",
		       p ? "," : "", p, st->partition_used[p]);
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

static void print_text(const struct figures *f)
{
	const shmemora_stats *st = &f->st;
	char part[32];
	human_bytes(st->partition_size, part, sizeof part);
	printf("keys             %" PRIu64 "\n", st->keys);
	printf("namespaces       %" PRIu64 "\n", st->namespaces);
	printf("index            %" PRIu64 " of %" PRIu64 " slots used (load %.4f)\n",
	       st->index_used, st->index_slots, st->index_load);
	printf("partitions       %u of %s each\n", st->partitions, part);
	for (uint32_t p = 0; p < st->partitions; p++) {
		if (st->partition_used[p] <= 4096)
			continue;
		char used[32];
		human_bytes(st->partition_used[p], used, sizeof used);
		printf("  host %-4u %s carved;", p, used);
		for (uint32_t c = 0; c < st->size_class_count; c++)
			if (allocated(f, p, c))
				printf(" %" PRIu64 "x%uB", allocated(f, p, c), f->info.size_classes[c]);
		printf("\n");
	}
}

static int run_stats(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	(void)tok;
	struct figures f;
	int rc = gather_stats(pool, &f);
	if (rc == 0 && o->json)
		print_json(&f);
	else if (rc == 0)
		print_text(&f);
	release(&f);
	return rc ? fail(rc) : EXIT_OK;
}

int cmd_stats(int argc, char **argv)
{
	static const struct pool_command pc = { "stats", OPT_JSON, 0, 0, 1, TOKEN_NONE,
						run_stats };
	return run_pool_command(&pc, argc, argv);
}
