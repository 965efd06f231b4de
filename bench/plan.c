/*
 * plan.c — the order of a command's runs, and the medians of its repeats
 * (see plan.h).
 *
 * The repeats are interleaved: each repeat runs every store of the round
 * once before the next repeat starts, so that a machine that slows down
 * for a while (another tenant, a thermal limit) slows every store alike
 * rather than the one that happened to run then.
 */
#include "plan.h"
#include "measure.h"
#include "micro.h"
#include "twin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows of one round: SHMemora, the twin, LMDB, Redis and memcached each
 * with and without pipelining; or two builds' micro rows. */
#define ROUND_MAX 8
_Static_assert(2 * MICRO_ROWS <= ROUND_MAX, "a micro round fits");

const struct store_driver *plan_store_named(const char *name)
{
	const struct store_driver *drivers[] = { &store_shmemora, &store_lmdb, &store_redis,
						 &store_memcached };
	if (!strcmp(name, "shmemora"))
		return &store_shmemora;
	for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
		if (!strcmp(name, drivers[i]->name))
			return drivers[i];
	return NULL;
}

/* --compare: SHMemora protected, then the peers --peers chose.  Redis and
 * memcached run without pipelining and with 16 requests in flight; with
 * --batch, once, batched (their batching is their round-trip remedy). */
static int compare_round(const struct options *o, struct result *rows, int *bad)
{
	static const struct { unsigned bit; const struct store_driver *drv; } servers[] = {
		{ PEER_REDIS, &store_redis }, { PEER_MEMCACHED, &store_memcached },
	};
	int n = 0;
	*bad |= run_store(o, &store_shmemora, 1, &rows[n++]) != 0;
	if (o->peers & PEER_FLUSH)
		*bad |= run_store(o, &store_shmemora_flush, 1, &rows[n++]) != 0;
	if (o->peers & PEER_UNPROTECTED)
		*bad |= twin_run(o, &rows[n++], 1) != 0;
	if (o->peers & PEER_LMDB)
		*bad |= run_store(o, &store_lmdb, 1, &rows[n++]) != 0;
	for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++) {
		if (!(o->peers & servers[i].bit))
			continue;
		*bad |= run_store(o, servers[i].drv, 1, &rows[n++]) != 0;
		if (o->batch <= 1)
			*bad |= run_store(o, servers[i].drv, 16, &rows[n++]) != 0;
	}
	return n;
}

/* One round at o->threads into rows; returns how many rows it made. */
static int one_round(const struct options *o, struct result *rows, int *bad)
{
	if (o->mode == MODE_MICRO) {
		*bad |= micro_run(o, rows) != 0;
		if (!o->compare)
			return MICRO_ROWS;
		*bad |= twin_run(o, rows + MICRO_ROWS, MICRO_ROWS) != 0;
		return 2 * MICRO_ROWS;
	}
	if (o->compare)
		return compare_round(o, rows, bad);
	*bad |= run_store(o, plan_store_named(o->store), o->pipeline, rows) != 0;
	return 1;
}

/* out->F becomes the median of in[0..n)->F, each figure taken on its own. */
#define MEDIAN(out, in, n, F) do {					\
		double v_[REPEAT_MAX];					\
		for (int i_ = 0; i_ < (n); i_++)			\
			v_[i_] = (double)(in)[i_]->F;			\
		(out)->F = median_of(v_, (size_t)(n));			\
	} while (0)

static void median_phase(struct phase *out, const struct phase *const *in, int n)
{
	MEDIAN(out, in, n, ops);
	MEDIAN(out, in, n, requests);
	MEDIAN(out, in, n, seconds);
	MEDIAN(out, in, n, mops);
	MEDIAN(out, in, n, samples);
	MEDIAN(out, in, n, p50);
	MEDIAN(out, in, n, p99);
	MEDIAN(out, in, n, p999);
	for (int k = 0; k < QUANTILES; k++)
		MEDIAN(out, in, n, q[k]);
}

static void median_hosts(struct result *out, const struct result *const *in, int n)
{
	for (int h = 0; h < out->nhosts; h++) {
		MEDIAN(out, in, n, host[h].ops);
		MEDIAN(out, in, n, host[h].seconds);
		MEDIAN(out, in, n, host[h].mops);
		MEDIAN(out, in, n, host[h].p50);
		MEDIAN(out, in, n, host[h].p99);
	}
}

/* Row i of every repeat into one row: a failure in any run is the row's
 * result; otherwise the medians and the run throughput's range. */
static void aggregate(struct result *out, const struct result *runs, int per, int i, int n)
{
	const struct result *in[REPEAT_MAX];
	const struct phase *load[REPEAT_MAX], *run[REPEAT_MAX];
	*out = runs[i];
	out->repeats = n;
	for (int r = 0; r < n; r++) {
		in[r] = &runs[r * per + i];
		load[r] = &in[r]->load;
		run[r] = &in[r]->run;
		if (in[r]->error[0]) {
			*out = *in[r];
			out->repeats = n;
			return;
		}
	}
	median_phase(&out->load, load, n);
	median_phase(&out->run, run, n);
	median_hosts(out, in, n);
	out->mops_min = out->mops_max = in[0]->run.mops;
	for (int r = 1; r < n; r++) {
		if (in[r]->run.mops < out->mops_min)
			out->mops_min = in[r]->run.mops;
		if (in[r]->run.mops > out->mops_max)
			out->mops_max = in[r]->run.mops;
	}
}

int plan_run(const struct options *o, struct result **out, int *nout)
{
	int counts = o->nsweep > 0 ? o->nsweep : 1;
	struct result *rows = calloc((size_t)counts * ROUND_MAX, sizeof *rows);
	struct result *runs = calloc((size_t)o->repeat * ROUND_MAX, sizeof *runs);
	if (!rows || !runs) {
		fprintf(stderr, "kv: out of memory for %d results\n", counts * ROUND_MAX);
		free(rows);
		free(runs);
		return -1;
	}
	int n = 0, bad = 0;
	for (int c = 0; c < counts; c++) {
		struct options oc = *o;
		if (o->nsweep > 0)
			oc.threads = o->sweep[c];
		int m = 0;
		for (int r = 0; r < o->repeat; r++)
			m = one_round(&oc, runs + r * ROUND_MAX, &bad);
		for (int i = 0; i < m; i++)
			aggregate(&rows[n++], runs, ROUND_MAX, i, o->repeat);
	}
	free(runs);
	*out = rows;
	*nout = n;
	return bad ? 5 : 0;
}
