/*
 * report.h — what `build/kv` prints: the table, --json and --csv.  The
 * charts of --plot are plot.h's.
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

/* A row's name: the store, "(pipelined)" and the micro test. */
#define ROW_NAME_MAX 96
void report_row_name(const struct result *r, const char *pipelined, char *out, size_t cap);

#endif
