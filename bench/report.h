/*
 * report.h — what `build/kv` prints: the table, --json and --csv, and the
 * description of a run that the table's header and the charts' titles
 * share.  The charts of --plot are plot.h's.
 */
#ifndef SHMEMORA_BENCH_REPORT_H
#define SHMEMORA_BENCH_REPORT_H

#include "run.h"

#include <stdio.h>

void report_table(FILE *f, const struct options *o, const struct result *r, int n);
void report_json(FILE *f, const struct result *r, int n);
void report_csv(FILE *f, const struct result *r, int n);

/* --timing: where SHMemora's time went in this process's run phases. */
void report_timing(FILE *f);

/* One line: the workload (or trace, or micro mode), records, operations,
 * value size, threads, hosts and batching. */
void report_describe(const struct options *o, char *out, size_t cap);

/* This machine: its CPU model (from /proc/cpuinfo) and online CPUs. */
void report_machine(char *out, size_t cap);

/* A row's name: the store, "(pipelined)" when it pipelined, and (with_test)
 * the micro test. */
#define ROW_NAME_MAX 96
void report_row_name(const struct result *r, int with_test, char *out, size_t cap);

#endif
