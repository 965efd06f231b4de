/*
 * twin.h — the unprotected twin: build/kv-unprotected, the same benchmark
 * built on the library with protection compiled out.  --compare runs it
 * once per round, with the arguments that shape the run (options.h's
 * twin_argv) and the round's thread count, and reads its result rows back.
 *
 * The rows travel as they are in memory (struct result), after a header
 * that names the format and the row size: both programs are built from the
 * same sources by one Makefile rule, and a twin from other sources is
 * refused by the header, not misread.  Nothing is parsed from text.
 */
#ifndef SHMEMORA_BENCH_TWIN_H
#define SHMEMORA_BENCH_TWIN_H

#include "run.h"

/* Runs the twin and fills `expect` rows.  When it cannot run or its rows
 * do not come back, the rows say why (error set).  Nonzero on failure. */
int twin_run(const struct options *o, struct result *rows, int expect);

/* In the twin (--twin-results): writes the rows to stdout.  0 or -1. */
int twin_send(const struct result *rows, int n);

#endif
