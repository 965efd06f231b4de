/*
 * report.c — the table, --json and --csv (see report.h).
 */
#include "report.h"

#include <string.h>

void report_row_name(const struct result *r, const char *pipelined, char *out, size_t cap)
{
	snprintf(out, cap, "%.39s%s%s%.23s", r->store, r->pipeline > 1 ? pipelined : "",
		 r->test[0] ? " " : "", r->test);
}

/* The row r is compared with: SHMemora protected, same thread count and
 * test; NULL if there is none, or r is that row. */
static const struct result *reference(const struct result *all, int n, const struct result *r)
{
	for (int j = 0; j < n; j++)
		if (!strcmp(all[j].store, "shmemora") && all[j].threads == r->threads &&
		    !strcmp(all[j].test, r->test) && !all[j].error[0])
			return &all[j] == r ? NULL : &all[j];
	return NULL;
}

static void print_header(FILE *f, const struct options *o)
{
	if (o->mode == MODE_MICRO) {
		fprintf(f, "micro: %llu records, %zu-byte values, uniform keys; get and put latency "
			"on 1 thread (%llu each, every one timed); throughput on %s%d thread(s) for "
			"%.1f s each, not timed per operation\n", (unsigned long long)o->records,
			o->value_size, (unsigned long long)o->ops, o->nsweep > 1 ? "each of " : "",
			o->threads, o->duration > 0 ? o->duration : 3.0);
		return;
	}
	fprintf(f, "YCSB workload %c, %llu records, %llu operations, %zu-byte values, ",
		o->trace ? 'T' : o->workload, (unsigned long long)o->records,
		(unsigned long long)o->ops, o->value_size);
	if (o->nsweep > 1) /* a sweep: each row says its own thread count */
		fprintf(f, "threads swept over %d counts%s\n", o->nsweep, o->hosts > 1 ? " per host" : "");
	else
		fprintf(f, "%d thread(s)%s\n", o->threads, o->hosts > 1 ? " per host" : "");
	if (o->hosts > 1)
		fprintf(f, "%d host processes; latency percentiles are the worst host's\n", o->hosts);
}

static void print_row(FILE *f, const struct result *all, int n, const struct result *r, int w)
{
	char name[ROW_NAME_MAX];
	report_row_name(r, " (pipelined)", name, sizeof name);
	if (r->error[0]) {
		fprintf(f, "%-*s %7d failed: %s\n", w, name, r->threads, r->error);
		return;
	}
	fprintf(f, "%-*s %7d %10.3f %10.3f %9.0f %9.0f %9.0f", w, name, r->threads, r->load.mops,
		r->run.mops, r->run.p50, r->run.p99, r->run.p999);
	const struct result *ref = reference(all, n, r);
	if (ref && r->run.mops > 0)
		fprintf(f, " %9.2fx", ref->run.mops / r->run.mops);
	fprintf(f, "\n");
	for (int h = 0; h < r->nhosts; h++) {
		const struct host_summary *hs = &r->host[h];
		fprintf(f, "  host %-*d %7d %10s %10.3f %9.0f %9.0f\n", w - 7, h, r->threads, "",
			hs->mops, hs->p50, hs->p99);
	}
}

void report_table(FILE *f, const struct options *o, const struct result *r, int n)
{
	print_header(f, o);
	int w = 22; /* the name column: as wide as the longest name */
	for (int i = 0; i < n; i++) {
		char name[ROW_NAME_MAX];
		report_row_name(&r[i], " (pipelined)", name, sizeof name);
		w = (int)strlen(name) > w ? (int)strlen(name) : w;
	}
	fprintf(f, "%-*s %7s %10s %10s %9s %9s %9s %10s\n", w, "store", "threads", "load Mops",
		"run Mops", "p50 ns", "p99 ns", "p99.9 ns", "vs shmemora");
	for (int i = 0; i < n; i++)
		print_row(f, r, n, &r[i], w);
	if (n > 1)
		fprintf(f, "(vs shmemora: SHMemora protected's run throughput, same thread count, "
			"divided by the store's)\n");
}

static void json_phase(FILE *f, const char *name, const struct phase *p)
{
	fprintf(f, "\"%s\": { \"ops\": %llu, \"seconds\": %.4f, \"mops\": %.4f, \"p50_ns\": %.0f, "
		"\"p99_ns\": %.0f, \"p999_ns\": %.0f }", name, (unsigned long long)p->ops,
		p->seconds, p->mops, p->p50, p->p99, p->p999);
}

void report_json(FILE *f, const struct result *r, int n)
{
	fprintf(f, "[");
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s\n  { \"store\": \"%s\", \"pipeline\": %d, \"error\": \"%s\", ",
			i ? "," : "", r[i].store, r[i].pipeline, r[i].error);
		if (r[i].test[0])
			fprintf(f, "\"test\": \"%s\", ", r[i].test);
		json_phase(f, "load", &r[i].load);
		fprintf(f, ", ");
		json_phase(f, "run", &r[i].run);
		fprintf(f, ", \"threads\": %d", r[i].threads);
		if (r[i].nhosts) {
			fprintf(f, ", \"hosts\": [");
			for (int h = 0; h < r[i].nhosts; h++) {
				const struct host_summary *hs = &r[i].host[h];
				fprintf(f, "%s{ \"ops\": %llu, \"seconds\": %.4f, \"p50_ns\": %.0f, "
					"\"p99_ns\": %.0f }", h ? ", " : "",
					(unsigned long long)hs->ops, hs->seconds, hs->p50, hs->p99);
			}
			fprintf(f, "]");
		}
		fprintf(f, ", \"cdf_ns\": [");
		for (int q = 0; q < QUANTILES; q++)
			fprintf(f, "%s%.0f", q ? ", " : "", r[i].run.q[q]);
		fprintf(f, "] }");
	}
	fprintf(f, "\n]\n");
}

void report_csv(FILE *f, const struct result *r, int n)
{
	fprintf(f, "store,pipeline,load_mops,run_ops,run_seconds,run_mops,p50_ns,p99_ns,p999_ns,error\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s,%d,%.4f,%llu,%.4f,%.4f,%.0f,%.0f,%.0f,%s\n", r[i].store, r[i].pipeline,
			r[i].load.mops, (unsigned long long)r[i].run.ops, r[i].run.seconds,
			r[i].run.mops, r[i].run.p50, r[i].run.p99, r[i].run.p999, r[i].error);
}

void report_timing(FILE *f)
{
	const shmemora_timing *t = run_timing_total();
	if (!t->operations)
		return;
	double n = (double)t->operations;
	fprintf(f, "protected path, ns per operation (%llu timed in this process): token lookup "
		"%.1f, MAC %.1f, rights and bounds %.1f, index %.1f, copy %.1f\n",
		(unsigned long long)t->operations, t->lookup_ns / n, t->mac_ns / n,
		t->rights_ns / n, t->index_ns / n, t->copy_ns / n);
}
