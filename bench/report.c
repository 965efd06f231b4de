/*
 * report.c — the table, --json and --csv (see report.h).
 *
 * Every string that reaches JSON or CSV is escaped there, whatever it
 * holds: an error message can carry a path, and a path can carry a quote,
 * a backslash or a control byte.
 */
#include "report.h"
#include "micro.h"
#include "ycsb.h"

#include <string.h>
#include <unistd.h>

void report_row_name(const struct result *r, int with_test, char *out, size_t cap)
{
	int test = with_test && r->test[0];
	snprintf(out, cap, "%.39s%s%s%.23s", r->store, r->pipeline > 1 ? " (pipelined)" : "",
		 test ? " " : "", test ? r->test : "");
}

/* ------------------------------------------------------- descriptions */

static void describe_threads(const struct options *o, char *out, size_t cap)
{
	size_t n = 0;
	if (o->nsweep > 1) {
		n += (size_t)snprintf(out, cap, "threads ");
		for (int i = 0; i < o->nsweep && n < cap; i++)
			n += (size_t)snprintf(out + n, cap - n, "%s%d", i ? "," : "", o->sweep[i]);
	} else {
		n += (size_t)snprintf(out, cap, "%d thread%s", o->threads, o->threads > 1 ? "s" : "");
	}
	if (o->hosts > 1 && n < cap)
		snprintf(out + n, cap - n, " per host, %d hosts", o->hosts);
}

void report_describe(const struct options *o, char *out, size_t cap)
{
	char threads[160], what[300];
	describe_threads(o, threads, sizeof threads);
	if (o->mode == MODE_MICRO) {
		snprintf(out, cap, "micro: %llu records, %zu-byte values, uniform keys; latency: "
			 "1 thread, %llu operations; throughput: %s, %.1f s",
			 (unsigned long long)o->records, o->value_size, (unsigned long long)o->ops,
			 threads, micro_seconds(o));
		return;
	}
	if (o->trace) {
		snprintf(what, sizeof what, "trace %.200s", o->trace);
	} else {
		const struct ycsb_workload *wl = ycsb_workload(o->workload);
		snprintf(what, sizeof what, "YCSB %c (%s)", o->workload,
			 ycsb_dist_name(o->dist >= 0 ? (enum ycsb_dist)o->dist : wl->dist));
	}
	int n = snprintf(out, cap, "%s, %llu records, %llu operations, %zu-byte values, %s", what,
			 (unsigned long long)o->records, (unsigned long long)o->ops, o->value_size,
			 threads);
	if (o->batch > 1 && n > 0 && (size_t)n < cap)
		snprintf(out + n, cap - (size_t)n, ", reads in batches of %d", o->batch);
}

void report_machine(char *out, size_t cap)
{
	char model[160] = "unknown CPU", line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (!strncmp(line, "model name", 10) && colon) {
			snprintf(model, sizeof model, "%s", colon + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(out, cap, "%s, %ld CPU%s", model, cpus, cpus == 1 ? "" : "s");
}

/* What SHMemora checks on each access; the positional use_mac=0 turns the
 * MAC off, which a reader of the figures must know. */
static const char *verification(const struct options *o)
{
	if (o->verify == SHMEMORA_VERIFY_OFF)
		return o->use_mac == 0
			? "MAC checking off (use_mac=0): a token's id is looked up, its MAC is "
			  "not verified"
			: "MAC checking off (--verify off): a token's id is looked up, its MAC is "
			  "not verified";
	return o->verify == SHMEMORA_VERIFY_ALWAYS ? "MAC verified on every access"
		: "MAC verified once per thread and token (cached)";
}

/* ------------------------------------------------------------- table */

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
	char line[600], machine[200];
	report_describe(o, line, sizeof line);
	report_machine(machine, sizeof machine);
	fprintf(f, "%s\nmachine: %s; SHMemora: %s%s\n", line, machine, verification(o),
		o->coherence == SHMEMORA_FLUSH ? "; pool in flush coherence mode" : "");
	if (o->hosts > 1)
		fprintf(f, "%d host processes; latency percentiles are the worst host's\n", o->hosts);
	if (o->repeat > 1)
		fprintf(f, "each figure is the median of %d runs; \"run min-max\" is the range of "
			"their run throughput\n", o->repeat);
}

/* A latency cell: "-" for a phase that was not timed per operation. */
static void latency_cell(FILE *f, const struct phase *p, double ns)
{
	if (p->samples)
		fprintf(f, " %9.0f", ns);
	else
		fprintf(f, " %9s", "-");
}

static void print_row(FILE *f, const struct result *all, int n, const struct result *r, int w,
		      int spread)
{
	char name[ROW_NAME_MAX];
	report_row_name(r, 1, name, sizeof name);
	if (r->error[0]) {
		fprintf(f, "%-*s %7d failed: %s\n", w, name, r->threads, r->error);
		return;
	}
	fprintf(f, "%-*s %7d %10.3f %10.3f", w, name, r->threads, r->load.mops, r->run.mops);
	if (spread)
		fprintf(f, " %6.3f-%-6.3f", r->mops_min, r->mops_max);
	latency_cell(f, &r->run, r->run.p50);
	latency_cell(f, &r->run, r->run.p99);
	latency_cell(f, &r->run, r->run.p999);
	const struct result *ref = reference(all, n, r);
	if (ref && r->run.mops > 0)
		fprintf(f, " %9.2fx", ref->run.mops / r->run.mops);
	fprintf(f, "\n");
	for (int h = 0; h < r->nhosts; h++) {
		const struct host_summary *hs = &r->host[h];
		fprintf(f, "  host %-*d %7d %10s %10.3f%s %9.0f %9.0f\n", w - 7, h, r->threads, "",
			hs->mops, spread ? "              " : "", hs->p50, hs->p99);
	}
}

void report_table(FILE *f, const struct options *o, const struct result *r, int n)
{
	print_header(f, o);
	int w = 22; /* the name column: as wide as the longest name */
	for (int i = 0; i < n; i++) {
		char name[ROW_NAME_MAX];
		report_row_name(&r[i], 1, name, sizeof name);
		w = (int)strlen(name) > w ? (int)strlen(name) : w;
	}
	int spread = o->repeat > 1;
	fprintf(f, "%-*s %7s %10s %10s%s %9s %9s %9s %10s\n", w, "store", "threads", "load Mops",
		"run Mops", spread ? "   run min-max" : "", "p50 ns", "p99 ns", "p99.9 ns",
		"vs shmemora");
	for (int i = 0; i < n; i++)
		print_row(f, r, n, &r[i], w, spread);
	if (n > 1)
		fprintf(f, "(vs shmemora: SHMemora protected's run throughput, same thread count, "
			"divided by the store's)\n");
}

/* -------------------------------------------------------------- JSON */

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void json_phase(FILE *f, const char *name, const struct phase *p, const struct result *r)
{
	fprintf(f, "\"%s\": { \"ops\": %llu, \"seconds\": %.4f, \"mops\": %.4f, \"p50_ns\": %.0f, "
		"\"p99_ns\": %.0f, \"p999_ns\": %.0f, \"timed\": %s, \"requests\": %llu", name,
		(unsigned long long)p->ops, p->seconds, p->mops, p->p50, p->p99, p->p999,
		p->samples ? "true" : "false", (unsigned long long)p->requests);
	if (r)
		fprintf(f, ", \"mops_min\": %.4f, \"mops_max\": %.4f", r->mops_min, r->mops_max);
	fprintf(f, " }");
}

static void json_row(FILE *f, const struct result *r)
{
	fprintf(f, "{ \"store\": ");
	json_string(f, r->store);
	fprintf(f, ", \"pipeline\": %d, \"error\": ", r->pipeline);
	json_string(f, r->error);
	fprintf(f, ", ");
	if (r->test[0]) {
		fprintf(f, "\"test\": ");
		json_string(f, r->test);
		fprintf(f, ", ");
	}
	json_phase(f, "load", &r->load, NULL);
	fprintf(f, ", ");
	json_phase(f, "run", &r->run, r);
	fprintf(f, ", \"threads\": %d, \"batch\": %d, \"repeats\": %d", r->threads, r->batch,
		r->repeats);
	if (r->nhosts) {
		fprintf(f, ", \"hosts\": [");
		for (int h = 0; h < r->nhosts; h++)
			fprintf(f, "%s{ \"ops\": %llu, \"seconds\": %.4f, \"mops\": %.4f, "
				"\"p50_ns\": %.0f, \"p99_ns\": %.0f }", h ? ", " : "",
				(unsigned long long)r->host[h].ops, r->host[h].seconds,
				r->host[h].mops, r->host[h].p50, r->host[h].p99);
		fprintf(f, "]");
	}
	fprintf(f, ", \"cdf_ns\": [");
	for (int q = 0; q < QUANTILES; q++)
		fprintf(f, "%s%.0f", q ? ", " : "", r->run.q[q]);
	fprintf(f, "] }");
}

void report_json(FILE *f, const struct result *r, int n)
{
	fprintf(f, "[");
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s\n  ", i ? "," : "");
		json_row(f, r + i);
	}
	fprintf(f, "\n]\n");
}

/* --------------------------------------------------------------- CSV */

/* A CSV field (RFC 4180): quoted, quotes doubled, when it needs it. */
static void csv_field(FILE *f, const char *s)
{
	if (!s[strcspn(s, ",\"\r\n")]) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

/* The columns of old come first, as they were; the newer ones follow. */
void report_csv(FILE *f, const struct result *r, int n)
{
	fprintf(f, "store,pipeline,load_mops,run_ops,run_seconds,run_mops,p50_ns,p99_ns,p999_ns,"
		"error,threads,test,batch,repeats,run_mops_min,run_mops_max,run_requests\n");
	for (int i = 0; i < n; i++) {
		csv_field(f, r[i].store);
		fprintf(f, ",%d,%.4f,%llu,%.4f,%.4f,", r[i].pipeline, r[i].load.mops,
			(unsigned long long)r[i].run.ops, r[i].run.seconds, r[i].run.mops);
		if (r[i].run.samples)
			fprintf(f, "%.0f,%.0f,%.0f,", r[i].run.p50, r[i].run.p99, r[i].run.p999);
		else
			fprintf(f, ",,,");
		csv_field(f, r[i].error);
		fprintf(f, ",%d,", r[i].threads);
		csv_field(f, r[i].test);
		fprintf(f, ",%d,%d,%.4f,%.4f,%llu\n", r[i].batch, r[i].repeats, r[i].mops_min,
			r[i].mops_max, (unsigned long long)r[i].run.requests);
	}
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
	if (!t->writes)
		return;
	double w = (double)t->writes;
	fprintf(f, "contention, per write (%llu writes): CAS retries in the index %.4f, the "
		"allocator %.4f, the free path %.4f; frees into other hosts' extents %.4f\n",
		(unsigned long long)t->writes, t->index_retries / w, t->alloc_retries / w,
		t->free_retries / w, t->remote_frees / w);
}
