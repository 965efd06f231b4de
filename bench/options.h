/*
 * options.h — what a `build/kv` run was asked to do: the parsed command
 * line.  kv.c fills it and checks it; the rest of the benchmark only reads
 * it.  docs/benchmark.md describes each option.
 */
#ifndef SHMEMORA_BENCH_OPTIONS_H
#define SHMEMORA_BENCH_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

enum kv_mode {
	MODE_YCSB,   /* load a YCSB data set, run a workload's transactions */
	MODE_MICRO,  /* get and put latency, then get and 50/50 throughput */
};

/* The peers --compare runs beside SHMemora protected (--peers picks some).
 * PEER_FLUSH, SHMemora protected in flush coherence mode, runs only when
 * named: it is not one of "all". */
enum { PEER_UNPROTECTED = 1, PEER_LMDB = 2, PEER_REDIS = 4, PEER_MEMCACHED = 8, PEER_ALL = 15,
       PEER_FLUSH = 16 };

#define SWEEP_MAX 16          /* thread counts in --sweep-threads */
#define TWIN_ARGS_MAX 128     /* the twin's argv, before its own additions */
#define REPEAT_MAX 100

struct traces;                /* run.h: a --trace read into memory */

struct options {
	enum kv_mode mode;
	char workload;             /* 'A'..'F' */
	int dist;                  /* enum ycsb_dist, or -1: the workload's own */
	uint64_t records, ops;
	size_t value_size;
	int threads, hosts;
	int use_batch;             /* SHMemora load: one token per batch_kvs keys */
	uint32_t batch_kvs;
	int verify;                /* enum shmemora_verify */
	int coherence;             /* --coherence: enum shmemora_coherence of SHMemora's pool */
	int use_mac;               /* the positional use_mac, or -1 when not given */
	const char *store;         /* --store: the one store to run */
	int pipeline;              /* Redis, memcached: requests in flight */
	int batch;                 /* --batch: reads per multi-key request (1: none) */
	int compare;
	unsigned peers;            /* --compare: PEER_* bits to run beside SHMemora */
	const char *trace;         /* --trace NAME */
	double duration;           /* seconds, or 0: until --ops */
	uint64_t size;             /* --size: the SHMemora pool's bytes, or 0: sized for the run */
	const char *dir;           /* where the scratch directories go */
	int repeat;                /* runs of each configuration (medians reported) */
	int json, csv, timing;
	const char *plot;          /* --plot DIR */
	int sweep[SWEEP_MAX], nsweep;
	int twin_results;          /* internal: this is the twin, write raw results */

	/* Set after parsing. */
	const struct traces *traces;  /* --trace, read once */
	const char *twin_argv[TWIN_ARGS_MAX]; /* the arguments that shape the run, */
	int twin_argc;                        /* canonical, for the unprotected twin */
};

#endif
