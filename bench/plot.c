/*
 * plot.c — the charts of --plot (see plot.h), drawn by gnuplot:
 *
 *   throughput.png   run throughput as bars grouped per store: a cluster
 *                    for each store, labelled with its name, and in it a
 *                    bar for each thread count (or micro measurement);
 *                    with --repeat, an error bar from the lowest run to
 *                    the highest.  The y axis starts at 0.
 *   scaling.png      with several thread counts: throughput against
 *                    threads, a line per store, both axes from 0.
 *   latency_cdf.png  the latency CDF of every row timed per operation, at
 *                    the largest such thread count.
 *
 * Each title says what ran (report_describe) and on what machine.  The
 * data files and plot.gp stay in DIR; gnuplot runs there, and what it says
 * goes to DIR/gnuplot.log, not to the benchmark's stderr.
 */
#include "plot.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The bars: a cluster per store, a series per thread count or test. */
struct grid {
	int n;                      /* rows */
	int *cluster, *series;      /* each row's cluster and series */
	int nclusters, nseries;
	const struct result **first_in_cluster, **first_in_series;
};

static void series_name(const struct result *r, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%d thread%s", r->test, r->test[0] ? ", " : "", r->threads,
		 r->threads > 1 ? "s" : "");
}

static int same_cluster(const struct result *a, const struct result *b)
{
	return !strcmp(a->store, b->store) && (a->pipeline > 1) == (b->pipeline > 1);
}

static int same_series(const struct result *a, const struct result *b)
{
	return !strcmp(a->test, b->test) && a->threads == b->threads;
}

static int grid_make(struct grid *g, const struct result *r, int n)
{
	memset(g, 0, sizeof *g);
	g->n = n;
	g->cluster = calloc((size_t)n, sizeof *g->cluster);
	g->series = calloc((size_t)n, sizeof *g->series);
	g->first_in_cluster = calloc((size_t)n, sizeof *g->first_in_cluster);
	g->first_in_series = calloc((size_t)n, sizeof *g->first_in_series);
	if (!g->cluster || !g->series || !g->first_in_cluster || !g->first_in_series)
		return -1;
	for (int i = 0; i < n; i++) {
		int c = 0, s = 0;
		while (c < g->nclusters && !same_cluster(g->first_in_cluster[c], &r[i]))
			c++;
		while (s < g->nseries && !same_series(g->first_in_series[s], &r[i]))
			s++;
		if (c == g->nclusters)
			g->first_in_cluster[g->nclusters++] = &r[i];
		if (s == g->nseries)
			g->first_in_series[g->nseries++] = &r[i];
		g->cluster[i] = c;
		g->series[i] = s;
	}
	return 0;
}

static void grid_free(struct grid *g)
{
	free(g->cluster);
	free(g->series);
	free(g->first_in_cluster);
	free(g->first_in_series);
}

/* A gnuplot double-quoted string (titles, labels): " and \ escaped, a
 * newline as \n (a line break in a title). */
static void gp_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* "title\n<what ran>\n<machine>", the description broken at its "; ". */
static void gp_title(FILE *gp, const char *title, const struct options *o)
{
	char what[600], machine[200], text[1000];
	report_describe(o, what, sizeof what);
	for (char *p = strstr(what, "; "); p; p = strstr(p, "; ")) {
		*p = '\n';
		memmove(p + 1, p + 2, strlen(p + 2) + 1);
	}
	report_machine(machine, sizeof machine);
	snprintf(text, sizeof text, "%s\n%s\n%s", title, what, machine);
	fprintf(gp, "set title ");
	gp_string(gp, text);
	fprintf(gp, "\n");
}

/* throughput.dat: a header of series names, then a line per store. */
static int write_bars(const struct grid *g, const struct result *r, int spread)
{
	FILE *f = fopen("throughput.dat", "w");
	if (!f)
		return -1;
	gp_string(f, "store");
	for (int s = 0; s < g->nseries; s++) {
		char name[64];
		series_name(g->first_in_series[s], name, sizeof name);
		fputc(' ', f);
		gp_string(f, name);
		if (spread)
			fprintf(f, " min max");
	}
	for (int c = 0; c < g->nclusters; c++) {
		char name[ROW_NAME_MAX];
		report_row_name(g->first_in_cluster[c], 0, name, sizeof name);
		fputc('\n', f);
		gp_string(f, name);
		for (int s = 0; s < g->nseries; s++) {
			const struct result *cell = NULL;
			for (int i = 0; i < g->n && !cell; i++)
				if (g->cluster[i] == c && g->series[i] == s && !r[i].error[0])
					cell = &r[i];
			if (!cell)
				fprintf(f, spread ? " - - -" : " -");
			else if (spread)
				fprintf(f, " %.4f %.4f %.4f", cell->run.mops, cell->mops_min, cell->mops_max);
			else
				fprintf(f, " %.4f", cell->run.mops);
		}
	}
	fputc('\n', f);
	return fclose(f);
}

static void plot_bars(FILE *gp, const struct grid *g, const struct options *o, int spread)
{
	fprintf(gp, "set output 'throughput.png'\n");
	gp_title(gp, "Throughput of the timed run", o);
	fprintf(gp, "set ylabel 'Mops/s'\nunset xlabel\nset yrange [0:*]\nset grid ytics\n"
		    "set key below\nset rmargin 10\nset style data histograms\n"
		    "set style histogram %s gap 1\nset style fill solid 0.8 border -1\n"
		    "set datafile missing '-'\nset xtics nomirror rotate by -25\n",
		    spread ? "errorbars lw 1" : "clustered");
	for (int s = 0; s < g->nseries; s++) {
		int col = 2 + s * (spread ? 3 : 1);
		fprintf(gp, "%s 'throughput.dat' using %d", s ? "," : "plot", col);
		if (spread)
			fprintf(gp, ":%d:%d", col + 1, col + 2);
		fprintf(gp, "%s title columnheader(%d)", s ? "" : ":xtic(1)", col);
	}
	fprintf(gp, "\n");
}

/* Starts block b of a data file of lines, and its clause of the plot. */
static void line_block(FILE *data, FILE *gp, const char *file, int b, const char *name)
{
	fprintf(data, "%s# %s\n", b ? "\n\n" : "", name);
	fprintf(gp, "%s '%s' index %d lw 2 title ", b ? "," : "plot", file, b);
	gp_string(gp, name);
}

/* scaling.dat: a block per store and test, "threads mops" per line.
 * Returns how many blocks it wrote. */
static int write_scaling(const struct result *r, int n, FILE *gp, const struct options *o)
{
	FILE *f = fopen("scaling.dat", "w");
	if (!f)
		return -1;
	int blocks = 0;
	for (int i = 0; i < n; i++) {
		int seen = 0;
		for (int j = 0; j < i && !seen; j++)
			seen = same_cluster(&r[i], &r[j]) && !strcmp(r[i].test, r[j].test);
		if (seen)
			continue;
		if (!blocks) {
			fprintf(gp, "set output 'scaling.png'\n");
			gp_title(gp, "Throughput against threads", o);
			fprintf(gp, "set style data linespoints\nset xlabel 'threads'\n"
				    "set xrange [0:*]\nset yrange [0:*]\nset xtics norotate 1\n");
		}
		char name[ROW_NAME_MAX];
		report_row_name(&r[i], 1, name, sizeof name);
		line_block(f, gp, "scaling.dat", blocks++, name);
		for (int j = i; j < n; j++)
			if (same_cluster(&r[i], &r[j]) && !strcmp(r[i].test, r[j].test) &&
			    !r[j].error[0])
				fprintf(f, "%d %.4f\n", r[j].threads, r[j].run.mops);
	}
	fprintf(gp, "\n");
	return fclose(f) ? -1 : blocks;
}

/* latency_cdf.dat: a block per row timed per operation at the largest
 * such thread count, "ns percentile" per line. */
static int plot_cdf(const struct result *r, int n, FILE *gp, const struct options *o)
{
	int max_threads = 0, blocks = 0;
	for (int i = 0; i < n; i++)
		if (!r[i].error[0] && r[i].run.samples && r[i].threads > max_threads)
			max_threads = r[i].threads;
	FILE *f = fopen("latency_cdf.dat", "w");
	if (!f)
		return -1;
	for (int i = 0; i < n; i++) {
		if (r[i].error[0] || !r[i].run.samples || r[i].threads != max_threads)
			continue;
		char name[ROW_NAME_MAX], title[160];
		if (!blocks) {
			fprintf(gp, "set output 'latency_cdf.png'\n");
			snprintf(title, sizeof title, "Latency CDF of the timed run, %d thread%s",
				 max_threads, max_threads > 1 ? "s" : "");
			gp_title(gp, title, o);
			fprintf(gp, "set style data lines\nset logscale x\nset xlabel 'ns'\n"
				    "set ylabel 'percentile'\nset autoscale x\nset yrange [0:100]\n"
				    "set xtics auto norotate\n");
		}
		report_row_name(&r[i], 1, name, sizeof name);
		line_block(f, gp, "latency_cdf.dat", blocks++, name);
		for (int q = 0; q < QUANTILES; q++)
			fprintf(f, "%.0f %d\n", r[i].run.q[q] > 0 ? r[i].run.q[q] : 1, q);
	}
	fprintf(gp, "\n");
	return fclose(f) ? -1 : blocks;
}

/* Runs gnuplot on plot.gp in dir, its output into gnuplot.log. */
static int run_gnuplot(const char *dir)
{
	pid_t pid = fork();
	if (pid == 0) {
		int log = open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
			_exit(126);
		execlp("gnuplot", "gnuplot", "plot.gp", (char *)NULL);
		_exit(127);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		fprintf(stderr, "kv: cannot run gnuplot: %s\n", strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		fprintf(stderr, "kv: gnuplot is not installed (scripts/install-deps.sh installs "
			"gnuplot-nox); the data and plot.gp are in %s\n", dir);
	else
		fprintf(stderr, "kv: gnuplot failed; see %s/gnuplot.log\n", dir);
	return -1;
}

/* The data files and plot.gp, in the current directory (dir). */
static int write_charts(const struct options *o, const struct result *r, int n)
{
	struct grid g;
	FILE *gp = fopen("plot.gp", "w");
	int rc = gp ? grid_make(&g, r, n) : -1;
	if (rc == 0) {
		int spread = o->repeat > 1;
		fprintf(gp, "set terminal png size 1000,640\nset termoption noenhanced\n");
		rc = write_bars(&g, r, spread);
		plot_bars(gp, &g, o, spread);
		fprintf(gp, "set style data lines\nset autoscale\n");
		if (rc == 0 && g.nseries > 1 && o->nsweep > 1)
			rc = write_scaling(r, n, gp, o) < 0 ? -1 : 0;
		if (rc == 0)
			rc = plot_cdf(r, n, gp, o) < 0 ? -1 : 0;
		grid_free(&g);
	}
	if (gp && fclose(gp))
		rc = -1;
	return rc;
}

int plot_charts(const char *dir, const struct options *o, const struct result *r, int n)
{
	int ok = 0;
	for (int i = 0; i < n; i++)
		ok |= !r[i].error[0];
	if (!ok) {
		fprintf(stderr, "kv: --plot: every run failed, nothing to draw\n");
		return -1;
	}
	int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (here < 0 || (mkdir(dir, 0755) && errno != EEXIST) || chdir(dir)) {
		fprintf(stderr, "kv: --plot %s: %s\n", dir, strerror(errno));
		if (here >= 0)
			close(here);
		return -1;
	}
	int rc = write_charts(o, r, n);
	if (rc)
		fprintf(stderr, "kv: --plot %s: cannot write the data: %s\n", dir, strerror(errno));
	else
		rc = run_gnuplot(dir);
	if (fchdir(here))
		rc = -1;
	close(here);
	return rc;
}
