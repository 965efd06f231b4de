/*
 * plot.c — the charts of --plot (see plot.h): throughput against threads,
 * one line per store (a bar per store when only one thread count ran), and
 * the latency CDF of each store's transactions at the largest thread count.
 */
#include "plot.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int thread_counts(const struct result *r, int n, int *max_threads)
{
	int counts = 0, last = -1;
	*max_threads = 0;
	for (int i = 0; i < n; i++) {
		if (r[i].threads != last)
			counts++;
		last = r[i].threads;
		if (r[i].threads > *max_threads)
			*max_threads = r[i].threads;
	}
	return counts;
}

/* One data file per store: "threads mops". */
static void plot_throughput(FILE *gp, const char *dir, const struct result *r, int n, int counts)
{
	char path[600];
	fprintf(gp, "set terminal png size 900,500\nset grid\nset key outside right\nset xtics 1\n"
		    "set output '%s/throughput.png'\nset title 'Throughput (transactions)'\n"
		    "set ylabel 'Mops/s'\nset xlabel 'threads'\n", dir);
	if (counts < 2)
		fprintf(gp, "set style data histograms\nset style fill solid\nset xtics rotate by -20\n"
			    "unset xlabel\n");
	int first = 1;
	for (int i = 0; i < n; i++) {
		char name[ROW_NAME_MAX];
		report_row_name(&r[i], "+pipe", name, sizeof name);
		int seen = 0;
		for (int j = 0; j < i; j++)
			seen |= !strcmp(r[j].store, r[i].store) && r[j].pipeline == r[i].pipeline;
		if (seen || r[i].error[0])
			continue;
		snprintf(path, sizeof path, "%s/tput-%s.dat", dir, name);
		FILE *f = fopen(path, "w");
		if (!f)
			continue;
		for (int j = 0; j < n; j++)
			if (!strcmp(r[j].store, r[i].store) && r[j].pipeline == r[i].pipeline &&
			    !r[j].error[0])
				fprintf(f, "%d %.4f \"%s\"\n", r[j].threads, r[j].run.mops, name);
		fclose(f);
		if (counts < 2)
			fprintf(gp, "%s '%s' using 2:xtic(3) title '%s'", first ? "plot" : ",", path, name);
		else
			fprintf(gp, "%s '%s' using 1:2 with linespoints title '%s'", first ? "plot" : ",",
				path, name);
		first = 0;
	}
}

/* The CDF of each store's transactions at the largest thread count. */
static void plot_cdf(FILE *gp, const char *dir, const struct result *r, int n, int max_threads)
{
	char path[600];
	fprintf(gp, "\nset output '%s/latency_cdf.png'\nset style data lines\nset logscale x\n"
		    "set title 'Latency CDF (transactions, %d thread(s))'\nset xlabel 'ns'\n"
		    "set ylabel 'percentile'\nunset xtics\nset xtics\n", dir, max_threads);
	int first = 1;
	for (int i = 0; i < n; i++) {
		if (r[i].threads != max_threads || r[i].error[0] || r[i].run.q[100] == 0)
			continue;
		char name[ROW_NAME_MAX];
		report_row_name(&r[i], "+pipe", name, sizeof name);
		snprintf(path, sizeof path, "%s/cdf-%s.dat", dir, name);
		FILE *f = fopen(path, "w");
		if (!f)
			continue;
		for (int q = 0; q < QUANTILES; q++)
			fprintf(f, "%.0f %d\n", r[i].run.q[q] > 0 ? r[i].run.q[q] : 1, q);
		fclose(f);
		fprintf(gp, "%s '%s' using 1:2 title '%s'", first ? "plot" : ",", path, name);
		first = 0;
	}
	fprintf(gp, "\n");
}

int plot_charts(const char *dir, const struct options *o, const struct result *r, int n)
{
	(void)o;
	mkdir(dir, 0755);
	char path[600];
	int max_threads, counts = thread_counts(r, n, &max_threads);
	snprintf(path, sizeof path, "%s/plot.gp", dir);
	FILE *gp = fopen(path, "w");
	if (!gp) {
		fprintf(stderr, "kv: gnuplot failed; data and script are in %s\n", dir);
		return -1;
	}
	plot_throughput(gp, dir, r, n, counts);
	plot_cdf(gp, dir, r, n, max_threads);
	fclose(gp);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "gnuplot '%s/plot.gp'", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "kv: gnuplot failed; data and script are in %s\n", dir);
		return -1;
	}
	return 0;
}
