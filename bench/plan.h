/*
 * plan.h — what a `build/kv` command runs, in which order: each thread
 * count (--sweep-threads), N times (--repeat), each store (--compare), and
 * the medians of the repeats.
 */
#ifndef SHMEMORA_BENCH_PLAN_H
#define SHMEMORA_BENCH_PLAN_H

#include "run.h"

/* Runs everything the options ask for.  *rows (malloc'd, the caller frees)
 * gets one row per store (micro mode: per measurement) and thread count.
 * Returns 0, 5 when a store failed (the rows say which and why), or -1
 * when the benchmark itself could not go on (a message is printed). */
int plan_run(const struct options *o, struct result **rows, int *n);

/* The driver --store names ("shmemora" is this build's own), or NULL. */
const struct store_driver *plan_store_named(const char *name);

#endif
