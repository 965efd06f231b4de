/*
 * plot.h — --plot DIR: PNG charts of the results, drawn by gnuplot, with
 * their data files and script left beside them.
 */
#ifndef SHMEMORA_BENCH_PLOT_H
#define SHMEMORA_BENCH_PLOT_H

#include "run.h"

/* Writes the data, the script and the charts into dir.  0, or -1 with a
 * message printed. */
int plot_charts(const char *dir, const struct options *o, const struct result *r, int n);

#endif
