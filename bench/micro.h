/*
 * micro.h — `build/kv --mode micro`: the cost of SHMemora's own get and put,
 * without YCSB's key popularity or a peer beside it (it was build/bench-kv).
 */
#ifndef SHMEMORA_BENCH_MICRO_H
#define SHMEMORA_BENCH_MICRO_H

#include "run.h"

/* The rows a micro run yields: get and put latency on one thread, then
 * get and 50/50 get/put throughput on --threads threads. */
#define MICRO_ROWS 4

/* How long each throughput row runs: --duration, or 3 s. */
double micro_seconds(const struct options *o);

/* Runs the micro mode on this build's SHMemora into MICRO_ROWS rows.
 * Nonzero if it failed (each row's error says why). */
int micro_run(const struct options *o, struct result *rows);

#endif
