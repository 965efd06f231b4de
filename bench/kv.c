/*
 * kv.c — the benchmark, `build/kv`: its options and main.
 *
 *   build/kv <nthreads> <value_size> <use_batch> <batch_kvs> <use_mac> [options]
 *   build/kv [options]
 *
 * Loads a YCSB data set, runs a YCSB workload's transactions, and reports
 * throughput and latency percentiles for each phase; with --compare it runs
 * the same workload (same keys, same values) on SHMemora protected, the
 * unprotected build of the same code, LMDB, Redis and memcached, one after
 * the other on this machine, and prints each one's ratio to SHMemora
 * protected.  --mode micro measures SHMemora's own get and put instead.
 * docs/benchmark.md describes every option and the peers' settings.
 *
 * The options are one table: it drives getopt, the --help text, and which
 * options the unprotected twin gets (those that shape the run).  The rest
 * of the benchmark: plan.c (what runs in which order), run.c and worker.c
 * (a store's run), micro.c, twin.c, report.c and plot.c (the output).
 */
#include "cleanup.h"
#include "options.h"
#include "plan.h"
#include "plot.h"
#include "report.h"
#include "twin.h"
#include "ycsb.h"

#include "shmemora.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_id {
	O_MODE, O_WORKLOAD, O_RECORDS, O_OPS, O_DIST, O_THREADS, O_VALUE_SIZE, O_USE_BATCH,
	O_BATCH_KVS, O_VERIFY, O_COHERENCE, O_HOSTS, O_STORE, O_PIPELINE, O_BATCH, O_COMPARE,
	O_PEERS,
	O_TRACE, O_DURATION, O_SIZE, O_DIR, O_REPEAT, O_JSON, O_CSV, O_PLOT, O_SWEEP, O_TIMING,
	O_TWIN_RESULTS, O_HELP,
	O_COUNT
};

struct option_def {
	const char *name;
	const char *arg;      /* the argument's name in --help; NULL for a flag */
	int to_twin;          /* the unprotected twin gets it too: it shapes the run */
	const char *help;     /* lines after the first are indented under it */
};

static const struct option_def defs[O_COUNT] = {
	[O_MODE] = { "mode", "M", 1, "ycsb (default): a YCSB workload; micro: SHMemora's\n"
				     "get and put latency, then get and 50/50 throughput" },
	[O_WORKLOAD] = { "workload", "A..F", 1, "YCSB core workload (default A)" },
	[O_RECORDS] = { "records", "N", 1, "records loaded (default 100000)" },
	[O_OPS] = { "ops", "N", 1, "transactions (default 100000); micro: operations\n"
				     "of each latency row" },
	[O_DIST] = { "distribution", "D", 1, "zipfian, uniform or latest (default: the workload's)" },
	[O_THREADS] = { "threads", "N", 1, "threads per host (default 1), as nthreads" },
	[O_VALUE_SIZE] = { "value-size", "B", 1, "bytes per value (default 256), as value_size" },
	[O_USE_BATCH] = { "use-batch", "0|1", 1, "as use_batch (default 0)" },
	[O_BATCH_KVS] = { "batch-kvs", "N", 1, "as batch_kvs (default 1)" },
	[O_VERIFY] = { "verify", "P", 1, "always, cached or off (default cached; use_mac sets it)" },
	[O_COHERENCE] = { "coherence", "M", 1, "SHMemora's pool: coherent (default) or flush (lines\n"
					      "written back after writes, invalidated before reads)" },
	[O_HOSTS] = { "hosts", "N", 1, "N host processes, each with its own threads" },
	[O_STORE] = { "store", "S", 0, "shmemora (default), lmdb, redis or memcached" },
	[O_PIPELINE] = { "pipeline", "N", 0, "Redis/memcached: requests in flight (default 1)" },
	[O_BATCH] = { "batch", "N", 1, "reads in batches of N, each store with its own multi-key\n"
				       "read (multi_get, LMDB txn, MGET, mget); writes one by one" },
	[O_COMPARE] = { "compare", NULL, 0, "run SHMemora protected, unprotected, LMDB, Redis and\n"
					   "memcached (with and without pipelining) side by side" },
	[O_PEERS] = { "peers", "L", 0, "with --compare, only these of unprotected, lmdb,\n"
				       "redis, memcached (e.g. unprotected,lmdb; default all);\n"
				       "flush adds SHMemora protected in flush mode (never\n"
				       "in the default)" },
	[O_TRACE] = { "trace", "NAME", 1, "replay NAME.spec_load and NAME.spec_trans (YCSB basic)" },
	[O_DURATION] = { "duration", "S", 1, "stop the transactions after S seconds; micro: the\n"
					     "length of each throughput row (default 3)" },
	[O_SIZE] = { "size", "BYTES", 1, "SHMemora's pool size (K, M, G: KiB, MiB, GiB; default:\n"
					 "what the run can hold at once)" },
	[O_DIR] = { "dir", "DIR", 1, "where pools, databases and sockets go (default /dev/shm)" },
	[O_REPEAT] = { "repeat", "N", 0, "run each configuration N times (interleaved); report\n"
					 "medians and the run throughput's min-max" },
	[O_JSON] = { "json", NULL, 0, "machine-readable results (JSON)" },
	[O_CSV] = { "csv", NULL, 0, "machine-readable results (CSV)" },
	[O_PLOT] = { "plot", "DIR", 0, "PNG charts with gnuplot into DIR" },
	[O_SWEEP] = { "sweep-threads", "L", 0, "run once per thread count in L (e.g. 1,2,4)" },
	[O_TIMING] = { "timing", NULL, 1, "where SHMemora's time goes: token lookup, MAC, rights\n"
					  "and bounds, index, copy (off by default: it costs);\n"
					  "and CAS retries per write in the index, allocator\n"
					  "and free path" },
	[O_TWIN_RESULTS] = { "twin-results", NULL, 0, "internal: what --compare runs the\n"
						      "unprotected twin with (raw results on stdout)" },
	[O_HELP] = { "help", NULL, 0, "this help" },
};

/* A help text: lines after the first indented under it. */
static void print_help(FILE *f, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			fprintf(f, "\n%23s", "");
		else
			fputc(*p, f);
	}
	fputc('\n', f);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kv <nthreads> <value_size> <use_batch> <batch_kvs> <use_mac> [options]\n"
		"       kv [options]\n"
		"\n"
		"Loads a YCSB data set into SHMemora (or a peer) and runs a YCSB workload;\n"
		"prints load and transaction throughput and latency percentiles.\n"
		"\n"
		"Positional (as the original SHMemora benchmark):\n"
		"  nthreads    threads (per host)\n"
		"  value_size  bytes per value\n"
		"  use_batch   1: mint one token per batch_kvs loaded keys; 0: one per key\n"
		"  batch_kvs   keys per batch token\n"
		"  use_mac     1: verify the MAC on every access (always); 0: off (weak)\n"
		"\n"
		"Options:\n");
	for (int i = 0; i < O_COUNT; i++) {
		char head[40];
		snprintf(head, sizeof head, "--%s%s%s", defs[i].name, defs[i].arg ? " " : "",
			 defs[i].arg ? defs[i].arg : "");
		fprintf(f, "  %-20s ", head);
		print_help(f, defs[i].help);
	}
	fprintf(f, "  %-20s same as --help\n", "-h");
}

/* ------------------------------------------------------------ parsing */

/* A whole number from min to max; with `bytes`, a K, M or G suffix
 * multiplies it by 2^10, 2^20 or 2^30.  Prints why not and returns -1. */
static int parse_u64(const char *what, const char *arg, uint64_t min, uint64_t max, int bytes,
		     uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = arg[0] >= '0' && arg[0] <= '9' ? strtoull(arg, &end, 10) : 0;
	uint64_t mul = 1;
	int ok = arg[0] >= '0' && arg[0] <= '9' && errno == 0;
	if (ok && bytes && *end) {
		const char *units = "KMG";
		const char *u = strchr(units, *end & ~0x20);
		mul = u ? 1ULL << (10 * (u - units + 1)) : 0;
		end += u != NULL;
	}
	ok = ok && !*end && mul && v <= max / mul && v * mul >= min;
	if (!ok) {
		fprintf(stderr, "kv: %s '%s': must be a whole number from %llu to %llu%s\n", what,
			arg, (unsigned long long)min, (unsigned long long)max,
			bytes ? " (K, M or G may follow)" : "");
		return -1;
	}
	*out = v * mul;
	return 0;
}

static int parse_int(const char *what, const char *arg, int min, int max, int *out)
{
	uint64_t v;
	if (parse_u64(what, arg, (uint64_t)min, (uint64_t)max, 0, &v))
		return -1;
	*out = (int)v;
	return 0;
}

/* Which of `names` arg is; prints the choices and returns -1 if none. */
static int parse_name(const char *what, const char *arg, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(arg, names[i]))
			return i;
	fprintf(stderr, "kv: %s '%s': must be one of", what, arg);
	for (int i = 0; i < n; i++)
		fprintf(stderr, "%s %s", i ? "," : "", names[i]);
	fprintf(stderr, "\n");
	return -1;
}

static const char *const peer_names[] = { "unprotected", "lmdb", "redis", "memcached",
					   "flush" };
#define PEER_NAMES 5

/* A comma-separated list of peer names into PEER_* bits. */
static int parse_peers(const char *list, unsigned *bits)
{
	*bits = 0;
	while (*list) {
		size_t n = strcspn(list, ",");
		char name[32];
		snprintf(name, sizeof name, "%.*s", (int)(n < 31 ? n : 31), list);
		int i = parse_name("--peers", name, peer_names, PEER_NAMES);
		if (i < 0)
			return -1;
		*bits |= 1u << i;
		list += n + (list[n] == ',');
	}
	return *bits ? 0 : parse_name("--peers", "", peer_names, PEER_NAMES);
}

/* A comma-separated list of thread counts. */
static int parse_sweep(const char *list, struct options *o)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", list);
	o->nsweep = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (o->nsweep == SWEEP_MAX) {
			fprintf(stderr, "kv: --sweep-threads: at most %d thread counts\n", SWEEP_MAX);
			return -1;
		}
		if (parse_int("--sweep-threads", t, 1, 256, &o->sweep[o->nsweep++]))
			return -1;
	}
	if (!o->nsweep)
		fprintf(stderr, "kv: --sweep-threads '%s': no thread count\n", list);
	return o->nsweep ? 0 : -1;
}

static int parse_duration(const char *arg, double *out)
{
	char *end;
	double v = strtod(arg, &end);
	if (end == arg || *end || !isfinite(v) || v <= 0 || v > 1e6) {
		fprintf(stderr, "kv: --duration '%s': must be seconds, more than 0\n", arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* Applies one option; -1 (after a message) if its argument is wrong. */
static int apply_option(struct options *o, enum opt_id id, const char *arg)
{
	static const char *const modes[] = { "ycsb", "micro" };
	static const char *const dists[] = { [YCSB_ZIPFIAN] = "zipfian", [YCSB_UNIFORM] = "uniform",
					     [YCSB_LATEST] = "latest" };
	static const char *const policies[] = { [SHMEMORA_VERIFY_CACHED] = "cached",
						[SHMEMORA_VERIFY_ALWAYS] = "always",
						[SHMEMORA_VERIFY_OFF] = "off" };
	static const char *const stores[] = { "shmemora", "lmdb", "redis", "memcached" };
	static const char *const coherence_modes[] = { [SHMEMORA_COHERENT] = "coherent",
						       [SHMEMORA_FLUSH] = "flush" };
	uint64_t v;
	int i;
	switch (id) {
	case O_MODE: return (i = parse_name("--mode", arg, modes, 2)) < 0 ? -1
			    : (o->mode = (enum kv_mode)i, 0);
	case O_WORKLOAD:
		if (strlen(arg) != 1 || !ycsb_workload(arg[0]))
			return parse_name("--workload", arg, (const char *const[]){ "A", "B", "C", "D",
											"E", "F" }, 6);
		o->workload = (char)(arg[0] & ~0x20);
		return 0;
	case O_RECORDS: return parse_u64("--records", arg, 1, 1ULL << 36, 0, &o->records);
	case O_OPS: return parse_u64("--ops", arg, 1, 1ULL << 48, 0, &o->ops);
	case O_DIST: return (o->dist = parse_name("--distribution", arg, dists, 3)) < 0 ? -1 : 0;
	case O_THREADS: return parse_int("--threads", arg, 1, 256, &o->threads);
	case O_VALUE_SIZE:
		if (parse_u64("--value-size", arg, 1, 1 << 20, 0, &v))
			return -1;
		o->value_size = (size_t)v;
		return 0;
	case O_USE_BATCH: return parse_int("--use-batch", arg, 0, 1, &o->use_batch);
	case O_BATCH_KVS:
		if (parse_u64("--batch-kvs", arg, 1, UINT32_MAX, 0, &v))
			return -1;
		o->batch_kvs = (uint32_t)v;
		return 0;
	case O_VERIFY: return (o->verify = parse_name("--verify", arg, policies, 3)) < 0 ? -1 : 0;
	case O_COHERENCE:
		return (o->coherence = parse_name("--coherence", arg, coherence_modes, 2)) < 0 ? -1
											      : 0;
	case O_HOSTS: return parse_int("--hosts", arg, 1, HOSTS_MAX, &o->hosts);
	case O_STORE: return parse_name("--store", arg, stores, 4) < 0 ? -1 : (o->store = arg, 0);
	case O_PIPELINE: return parse_int("--pipeline", arg, 1, STORE_BATCH_MAX, &o->pipeline);
	case O_BATCH: return parse_int("--batch", arg, 1, STORE_BATCH_MAX, &o->batch);
	case O_COMPARE: o->compare = 1; return 0;
	case O_PEERS: return parse_peers(arg, &o->peers);
	case O_TRACE: o->trace = arg; return 0;
	case O_DURATION: return parse_duration(arg, &o->duration);
	case O_SIZE: return parse_u64("--size", arg, 1, 1ULL << 50, 1, &o->size);
	case O_DIR: o->dir = arg; return 0;
	case O_REPEAT: return parse_int("--repeat", arg, 1, REPEAT_MAX, &o->repeat);
	case O_JSON: o->json = 1; return 0;
	case O_CSV: o->csv = 1; return 0;
	case O_PLOT: o->plot = arg; return 0;
	case O_SWEEP: return parse_sweep(arg, o);
	case O_TIMING: o->timing = 1; return 0;
	case O_TWIN_RESULTS: o->twin_results = 1; return 0;
	case O_HELP: case O_COUNT: break;
	}
	return 0;
}

/* Remembers an argument for the twin. */
static int to_twin(struct options *o, const char *arg)
{
	if (o->twin_argc == TWIN_ARGS_MAX) {
		fprintf(stderr, "kv: more than %d arguments\n", TWIN_ARGS_MAX);
		return -1;
	}
	o->twin_argv[o->twin_argc++] = arg;
	return 0;
}

/* The seed's five numbers, when the command line starts with them. */
static int parse_positional(int argc, char **argv, struct options *o, int *used)
{
	int pos = 0;
	while (pos < 5 && pos + 1 < argc && argv[pos + 1][0] != '-')
		pos++;
	*used = pos;
	if (!pos)
		return 0;
	if (pos != 5) {
		fprintf(stderr, "kv: the positional form is five numbers: nthreads value_size "
			"use_batch batch_kvs use_mac; see kv --help\n");
		return -1;
	}
	uint64_t v[5];
	static const char *const what[5] = { "nthreads", "value_size", "use_batch", "batch_kvs",
					     "use_mac" };
	static const uint64_t max[5] = { 256, 1 << 20, UINT32_MAX, UINT32_MAX, UINT32_MAX };
	for (int i = 0; i < 5; i++)
		if (parse_u64(what[i], argv[i + 1], i == 0 || i == 1 || i == 3, max[i], 0, &v[i]) ||
		    to_twin(o, argv[i + 1]))
			return -1;
	o->threads = (int)v[0];
	o->value_size = (size_t)v[1];
	o->use_batch = v[2] != 0;
	o->batch_kvs = (uint32_t)v[3];
	o->use_mac = v[4] != 0;
	o->verify = o->use_mac ? SHMEMORA_VERIFY_ALWAYS : SHMEMORA_VERIFY_OFF;
	return 0;
}

/* Combinations the options cannot make; -1 after a message. */
static int check_options(const struct options *o)
{
	const char *why = NULL;
	int most = o->nsweep ? 0 : o->threads;
	for (int i = 0; i < o->nsweep; i++)
		most = o->sweep[i] > most ? o->sweep[i] : most;
	if (most * o->hosts > 256)
		why = "threads times hosts is more than 256";
	else if (o->mode == MODE_MICRO && (o->hosts > 1 || o->trace))
		why = "--mode micro runs in one process, without --hosts or --trace";
	else if (o->mode == MODE_MICRO && o->compare && o->peers != PEER_ALL &&
		 o->peers != PEER_UNPROTECTED)
		why = "--mode micro compares with the unprotected twin only";
	else if (o->mode == MODE_MICRO && strcmp(o->store, "shmemora"))
		why = "--mode micro measures SHMemora only";
	else if (o->mode == MODE_MICRO && o->batch > 1)
		why = "--mode micro reads one key at a time; --batch is for the YCSB mode";
	else if (o->batch > 1 && o->pipeline > 1)
		why = "--batch and --pipeline are two ways to send many reads at once: choose one";
	if (why)
		fprintf(stderr, "kv: %s; see kv --help\n", why);
	return why ? -1 : 0;
}

/* Fills o from the command line.  Returns -1 to go on, or the exit code:
 * 0 after --help, 2 for a bad argument. */
static int parse_args(int argc, char **argv, struct options *o)
{
	*o = (struct options){ .threads = 1, .hosts = 1, .pipeline = 1, .batch = 1,
			       .batch_kvs = 1, .value_size = 256, .records = 100000, .ops = 100000,
			       .workload = 'A', .dist = -1, .verify = SHMEMORA_VERIFY_CACHED,
			       .use_mac = -1, .store = "shmemora", .peers = PEER_ALL,
			       .repeat = 1, .dir = "/dev/shm" };
	struct option longopts[O_COUNT + 1];
	static char flag[O_COUNT][32]; /* "--name", as the twin gets it */
	for (int i = 0; i < O_COUNT; i++) {
		longopts[i] = (struct option){ defs[i].name, defs[i].arg ? required_argument
							     : no_argument, NULL, 256 + i };
		snprintf(flag[i], sizeof flag[i], "--%s", defs[i].name);
	}
	longopts[O_COUNT] = (struct option){ 0, 0, 0, 0 };
	int used;
	if (parse_positional(argc, argv, o, &used))
		return 2;
	optind = used + 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		enum opt_id id = opt == 'h' ? O_HELP : (enum opt_id)(opt - 256);
		if (opt == '?' || opt < 0 || (opt != 'h' && opt - 256 >= O_COUNT)) {
			fprintf(stderr, "kv: see kv --help\n"); /* getopt said what was wrong */
			return 2;
		}
		if (id == O_HELP) {
			usage(stdout);
			return 0;
		}
		if (apply_option(o, id, optarg))
			return 2;
		if (defs[id].to_twin &&
		    (to_twin(o, flag[id]) || (defs[id].arg && to_twin(o, optarg))))
			return 2;
	}
	if (optind != argc) {
		fprintf(stderr, "kv: unexpected argument '%s'; see kv --help\n", argv[optind]);
		return 2;
	}
	return check_options(o) ? 2 : -1;
}

/* Prints the rows as the options ask. */
static void print_results(const struct options *o, const struct result *rows, int n)
{
	if (o->json)
		report_json(stdout, rows, n);
	else if (o->csv)
		report_csv(stdout, rows, n);
	else
		report_table(stdout, o, rows, n);
	if (o->timing && !o->json && !o->csv)
		report_timing(stdout);
}

int main(int argc, char **argv)
{
	struct options o;
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	cleanup_on_signals();
	struct traces traces;
	if (o.trace) {
		char err[1200];
		if (traces_read(o.trace, &traces, err, sizeof err)) {
			fprintf(stderr, "kv: %s\n", err);
			return 2;
		}
		o.traces = &traces;
		o.records = traces.loaded; /* what the header and the sizing count */
		o.ops = traces.run_n;
		if (traces.load_skipped + traces.run_skipped && !o.twin_results)
			fprintf(stderr, "kv: %s: %llu + %llu lines skipped (not YCSB records)\n",
				o.trace, (unsigned long long)traces.load_skipped,
				(unsigned long long)traces.run_skipped);
	}
	if (o.timing)
		shmemora_timing_enable(1);
	struct result *rows;
	int n;
	rc = plan_run(&o, &rows, &n);
	if (rc < 0)
		return 5;
	if (o.twin_results) {
		if (twin_send(rows, n))
			rc = 5;
	} else {
		print_results(&o, rows, n);
		if (o.plot && plot_charts(o.plot, &o, rows, n))
			rc = rc ? rc : 5;
	}
	free(rows);
	if (o.traces)
		traces_free(&traces);
	return rc;
}
