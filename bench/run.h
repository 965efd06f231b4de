/*
 * run.h — running one store: its session (scratch directory, pool or
 * server, load), its phases (threads in this process, or host processes),
 * and what a run yields (struct result), which the reports print.
 *
 * A store run: session_open → session_load → run_phase (or the hosts) →
 * session_close.  run_store() does all of it for the YCSB mode; micro.c
 * uses the session for its own measurements.
 */
#ifndef SHMEMORA_BENCH_RUN_H
#define SHMEMORA_BENCH_RUN_H

#include "options.h"
#include "store.h"
#include "ycsb_trace.h"

#include "shmemora.h"

#define QUANTILES 101          /* q[i]: the i-th percentile, for the CDF */
#define HOSTS_MAX 64
#define RESULT_ERROR_MAX STORE_ERROR_MAX

struct phase {
	uint64_t ops;
	uint64_t requests;         /* calls into the store: a batch or pipeline is one */
	double seconds;
	double mops;               /* ops / seconds / 1e6 */
	uint64_t samples;          /* latencies taken; 0: not timed per operation */
	double p50, p99, p999;     /* ns */
	double q[QUANTILES];
	uint64_t begin_ns, end_ns; /* the timed span, CLOCK_MONOTONIC: comparable
				    * across host processes */
};

/* One host process's share of a --hosts run. */
struct host_summary {
	uint64_t ops;
	double seconds, mops, p50, p99;
};

/* One row of the report.  With --repeat N, every figure is the median of
 * that figure over the N runs (each taken on its own), and mops_min and
 * mops_max give the spread of the run throughput. */
struct result {
	char store[40];
	char test[24];             /* micro mode: which measurement; "" for YCSB */
	int pipeline;
	int batch;
	int threads;
	struct phase load, run;
	int repeats;               /* runs behind the figures */
	double mops_min, mops_max; /* run throughput's lowest and highest */
	char error[RESULT_ERROR_MAX];
	int nhosts;                /* --hosts > 1: each host's transactions */
	struct host_summary host[HOSTS_MAX];
};

/* A --trace, read once: the load trace's records and the transactions. */
struct traces {
	struct trace_record *load, *run;
	size_t load_n, run_n;
	uint64_t loaded;           /* INSERTs of the load trace: the records */
	uint64_t run_inserts, run_writes;
	uint64_t load_skipped, run_skipped; /* lines that are not YCSB records */
	size_t key_max;
};

/* Reads NAME.spec_load and NAME.spec_trans; -1 with a message in err. */
int traces_read(const char *name, struct traces *t, char *err, size_t cap);
void traces_free(struct traces *t);

/* One store, started and loaded. */
struct session {
	struct options o;          /* a copy, with this run's pipeline */
	const struct store_driver *drv;
	struct store_cfg cfg;
	void *global, *proc;
	uint64_t *inserted;        /* records that exist (YCSB inserts claim more) */
	uint64_t inserted_store;
	uint8_t *value;            /* every value written */
};

int session_open(struct session *s, const struct options *o, const struct store_driver *drv,
		 int pipeline, char *error);
void session_close(struct session *s);

/* Runs one phase on `threads` threads of this process: the load (load=1)
 * or the transactions.  Threads are numbered first.. of `of` in all. */
void run_phase(const struct session *s, void *proc, int load, int first, int of,
	       struct phase *out, char *error);

/* Fills a phase's percentiles from its latency samples (sorts them). */
void phase_latency(struct phase *p, uint32_t *lat, size_t n);

/* Starts a result row for this store. */
void result_init(struct result *r, const struct store_driver *drv, const struct options *o,
		 int pipeline);

/* The YCSB mode's run of one store.  Nonzero if it failed (r->error says why). */
int run_store(const struct options *o, const struct store_driver *drv, int pipeline,
	      struct result *r);

/* --timing: the sum of this process's run phases. */
const shmemora_timing *run_timing_total(void);

#endif
