/*
 * kv.c — the benchmark, `build/kv`.
 *
 *   build/kv <nthreads> <value_size> <use_batch> <batch_kvs> <use_mac> [options]
 *   build/kv [options]
 *
 * Loads a YCSB data set, runs a YCSB workload's transactions, and reports
 * throughput and latency percentiles for each phase; with --compare it runs
 * the same workload (same keys, same values) on SHMemora protected, the
 * unprotected build of the same code, LMDB, Redis and memcached, one after
 * the other on this machine, and prints each one's ratio to SHMemora
 * protected.  docs/benchmark.md describes every option and the peers'
 * settings.
 */
#include "store.h"
#include "ycsb.h"
#include "ycsb_trace.h"

#include "shmemora.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef SHMEMORA_UNPROTECTED
#define TWIN_SUFFIX ""
#else
#define TWIN_SUFFIX "-unprotected"
#endif

struct options {
	int threads, hosts, pipeline, json, csv, compare, use_batch, use_mac_set, timing;
	uint32_t batch_kvs;
	size_t value_size;
	uint64_t records, ops;
	double duration;
	char workload;
	int dist;                  /* -1: the workload's own */
	int verify;
	const char *store, *trace, *plot;
	int sweep[16], nsweep;     /* --sweep-threads: thread counts to run */
	unsigned peers;            /* --compare: PEER_* bits to run beside SHMemora */
};

/* The peers --compare runs beside SHMemora protected (--peers picks some). */
enum { PEER_UNPROTECTED = 1, PEER_LMDB = 2, PEER_REDIS = 4, PEER_MEMCACHED = 8, PEER_ALL = 15 };
static const char *const peer_names[] = { "unprotected", "lmdb", "redis", "memcached" };

/* Parses a comma-separated list of peer names; 0 if any name is unknown. */
static unsigned parse_peers(const char *list)
{
	unsigned bits = 0;
	while (*list) {
		size_t n = strcspn(list, ",");
		unsigned bit = 0;
		for (unsigned i = 0; i < 4; i++)
			if (strlen(peer_names[i]) == n && !strncmp(list, peer_names[i], n))
				bit = 1u << i;
		if (!bit)
			return 0;
		bits |= bit;
		list += n + (list[n] == ',');
	}
	return bits;
}

#define QUANTILES 101

struct phase {
	uint64_t ops;
	double seconds;
	double p50, p99, p999;     /* ns */
	double q[QUANTILES];       /* q[i]: the i-th percentile, for the CDF */
	uint64_t begin_ns, end_ns; /* the timed span, CLOCK_MONOTONIC: comparable
				    * across host processes */
};

/* One host process's share of a --hosts run. */
struct host_summary {
	uint64_t ops;
	double seconds, p50, p99;
};

struct result {
	char store[40];
	int pipeline;
	int threads;
	struct phase load, run;
	char error[200];
	int nhosts;                /* --hosts > 1: each host's transactions */
	struct host_summary host[64];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------ one thread */

#define BATCH_MAX 64

struct worker {
	const struct options *o;
	const struct store_driver *drv;
	void *proc;
	int id, of;                 /* this thread's index, and how many in total */
	uint64_t *inserted;
	const uint8_t *value;
	struct trace_record *trace; /* replay: this thread takes every of-th */
	size_t trace_n;
	int load;                   /* 1: load phase, 0: transactions */
	uint64_t done;
	uint64_t duration_ns;       /* --duration: the timed part's length, or 0 */
	uint64_t deadline;          /* set when the timed part begins */
	uint32_t *lat;
	size_t nlat, caplat;
	char error[200];
	shmemora_timing timing;     /* this thread's breakdown (--timing) */
	int finished;               /* set when the thread is done (progress line) */
	uint64_t end_ns;            /* when it finished: the phase ends at the last */
	uint64_t start_ns;          /* when its timed part began (after warm-up) */
	pthread_barrier_t *ready;   /* all threads of the phase end their warm-up */
};

/* Sum of the workers' breakdowns of the last run phase (--timing). */
static shmemora_timing timing_total;

static void record(struct worker *w, uint64_t ns, uint32_t n)
{
	for (uint32_t i = 0; i < n && w->nlat < w->caplat; i++)
		w->lat[w->nlat++] = (uint32_t)(ns / n > UINT32_MAX ? UINT32_MAX : ns / n);
	w->done += n;
}

static int fail_op(struct worker *w, void *thr, const char *what)
{
	snprintf(w->error, sizeof w->error, "%s %s: %s", w->drv->name, what,
		 w->drv->error ? w->drv->error(thr) : "failed");
	return -1;
}

static int run_load(struct worker *w, void *thr)
{
	char key[TRACE_KEY_MAX];
	if (w->trace) {
		for (size_t i = (size_t)w->id; i < w->trace_n; i += (size_t)w->of) {
			if (w->trace[i].op != TRACE_INSERT)
				continue;
			uint64_t t0 = now_ns();
			if (w->drv->load(thr, i, w->trace[i].key, w->trace[i].key_len, w->value,
					 w->o->value_size))
				return fail_op(w, thr, "load");
			record(w, now_ns() - t0, 1);
		}
		return 0;
	}
	if (w->o->pipeline > 1 && w->drv->multi_update) {
		/* A pipelining peer loads in pipelined batches too. */
		char keys[BATCH_MAX][32];
		const char *kp[BATCH_MAX];
		size_t kls[BATCH_MAX];
		uint32_t nb = 0;
		int batch = w->o->pipeline < BATCH_MAX ? w->o->pipeline : BATCH_MAX;
		for (uint64_t n = (uint64_t)w->id; ; n += (uint64_t)w->of) {
			int last = n >= w->o->records;
			if (!last) {
				kp[nb] = keys[nb];
				kls[nb] = ycsb_key(n, keys[nb]);
				nb++;
			}
			if (nb && (nb == (uint32_t)batch || last)) {
				uint64_t t0 = now_ns();
				if (w->drv->multi_update(thr, kp, kls, nb, w->value, w->o->value_size))
					return fail_op(w, thr, "load");
				record(w, now_ns() - t0, nb);
				nb = 0;
			}
			if (last)
				return 0;
		}
	}
	for (uint64_t n = (uint64_t)w->id; n < w->o->records; n += (uint64_t)w->of) {
		size_t kl = ycsb_key(n, key);
		uint64_t t0 = now_ns();
		if (w->drv->load(thr, n, key, kl, w->value, w->o->value_size))
			return fail_op(w, thr, "load");
		record(w, now_ns() - t0, 1);
	}
	return 0;
}

/* Replays this thread's share of a transaction trace. */
static int run_trace(struct worker *w, void *thr, uint8_t *buf)
{
	size_t len;
	for (size_t i = (size_t)w->id; i < w->trace_n; i += (size_t)w->of) {
		const struct trace_record *r = &w->trace[i];
		uint64_t t0 = now_ns();
		int rc = 0;
		const char *k = r->key;
		switch (r->op) {
		case TRACE_READ:
			rc = w->drv->read(thr, k, r->key_len, buf, w->o->value_size, &len);
			break;
		case TRACE_UPDATE:
		case TRACE_INSERT:
			rc = w->drv->update(thr, k, r->key_len, w->value, w->o->value_size);
			break;
		case TRACE_SCAN: /* a hash index has no order: read the start key */
		case TRACE_DELETE: /* not in the store interface: counted, not run */
			rc = r->op == TRACE_SCAN
				? w->drv->read(thr, k, r->key_len, buf, w->o->value_size, &len) : 0;
			break;
		}
		if (rc)
			return fail_op(w, thr, "trace operation");
		record(w, now_ns() - t0, 1);
	}
	return 0;
}


static int run_ops(struct worker *w, void *thr)
{
	const struct options *o = w->o;
	const struct ycsb_workload *wl = ycsb_workload(o->workload);
	uint8_t *buf = malloc(o->value_size + 64);
	size_t len;
	if (w->trace) {
		int rc = run_trace(w, thr, buf);
		free(buf);
		return rc;
	}
	struct ycsb_gen g;
	ycsb_gen_init(&g, wl, o->dist >= 0 ? (enum ycsb_dist)o->dist : wl->dist, o->records,
		      w->inserted, 0x9e3779b97f4a7c15ULL * (uint64_t)(w->id + 1) + (uint64_t)getpid());
	uint64_t quota = o->ops / (uint64_t)w->of + ((uint64_t)w->id < o->ops % (uint64_t)w->of);
	/* Warm-up, untimed and the same for every store: reads of random
	 * records, so first-touch page faults and cold caches do not land in
	 * the measurement of whichever store happens to run first. */
	char wkey[32];
	uint64_t wrng = 0x853c49e6748fea9bULL + (uint64_t)w->id;
	int warm_rc = 0;
	/* A tenth of the quota, at most 50 000 reads and about a second: a slow
	 * store with many threads must not spend the run warming up. */
	uint64_t warm_until = now_ns() + 1000000000ull;
	for (uint64_t i = 0, warm = quota / 10 < 50000 ? quota / 10 : 50000; i < warm && !warm_rc; i++) {
		size_t wkl = ycsb_key(ycsb_rand(&wrng) % o->records, wkey);
		warm_rc = w->drv->read(thr, wkey, wkl, buf, o->value_size, &len);
		if (i % 256 == 255 && now_ns() > warm_until)
			break;
	}
	/* Everyone warm, then time together; a thread that failed still
	 * passes the barrier, or the others would wait for it forever. */
	pthread_barrier_wait(w->ready);
	if (warm_rc) {
		free(buf);
		return fail_op(w, thr, "warm-up read");
	}
	w->start_ns = now_ns();
	/* --duration counts from here: the warm-up is not part of it. */
	w->deadline = w->duration_ns ? w->start_ns + w->duration_ns : 0;
	char keys[BATCH_MAX][32];
	const char *kp[BATCH_MAX];
	size_t kl[BATCH_MAX];
	for (int i = 0; i < BATCH_MAX; i++)
		kp[i] = keys[i];
	/* Pipelining: reads and updates each gather in their own batch, sent
	 * as one when full (YCSB's operations are independent, so their order
	 * across kinds does not matter). */
	int pipe_n = o->pipeline > 1 ? (o->pipeline < BATCH_MAX ? o->pipeline : BATCH_MAX) : 1;
	struct { char keys[BATCH_MAX][32]; const char *kp[BATCH_MAX]; size_t kl[BATCH_MAX]; int n; }
		batch[2] = { 0 };
	for (int b = 0; b < 2; b++)
		for (int i = 0; i < BATCH_MAX; i++)
			batch[b].kp[i] = batch[b].keys[i];
	int rc = 0;
	while (rc == 0 && (!w->deadline || now_ns() < w->deadline)) {
		int pending = batch[0].n + batch[1].n;
		if (w->done + (uint64_t)pending >= quota) {
			/* Quota reached: send what is gathered, then stop. */
			for (int b = 0; b < 2 && rc == 0; b++) {
				if (!batch[b].n)
					continue;
				uint64_t t0 = now_ns();
				rc = b == 0 ? w->drv->multi_read(thr, batch[0].kp, batch[0].kl,
								 (uint32_t)batch[0].n, buf, o->value_size)
					    : w->drv->multi_update(thr, batch[1].kp, batch[1].kl,
								   (uint32_t)batch[1].n, w->value,
								   o->value_size);
				record(w, now_ns() - t0, (uint32_t)batch[b].n);
				batch[b].n = 0;
			}
			break;
		}
		enum ycsb_op op = ycsb_next_op(&g);
		uint64_t t0;
		int b = op == YCSB_READ ? 0 : op == YCSB_UPDATE ? 1 : -1;
		if (pipe_n > 1 && b >= 0 &&
		    (b == 0 ? w->drv->multi_read != NULL : w->drv->multi_update != NULL)) {
			batch[b].kl[batch[b].n] = ycsb_key(ycsb_next_key(&g), batch[b].keys[batch[b].n]);
			if (++batch[b].n < pipe_n)
				continue;
			t0 = now_ns();
			rc = b == 0 ? w->drv->multi_read(thr, batch[0].kp, batch[0].kl,
							 (uint32_t)batch[0].n, buf, o->value_size)
				    : w->drv->multi_update(thr, batch[1].kp, batch[1].kl,
							   (uint32_t)batch[1].n, w->value, o->value_size);
			record(w, now_ns() - t0, (uint32_t)batch[b].n);
			batch[b].n = 0;
			continue;
		}
		t0 = now_ns();
		switch (op) {
		case YCSB_READ:
			kl[0] = ycsb_key(ycsb_next_key(&g), keys[0]);
			rc = w->drv->read(thr, keys[0], kl[0], buf, o->value_size, &len);
			break;
		case YCSB_UPDATE:
			kl[0] = ycsb_key(ycsb_next_key(&g), keys[0]);
			rc = w->drv->update(thr, keys[0], kl[0], w->value, o->value_size);
			break;
		case YCSB_INSERT:
			kl[0] = ycsb_key(ycsb_next_insert(&g), keys[0]);
			rc = w->drv->insert(thr, keys[0], kl[0], w->value, o->value_size);
			break;
		case YCSB_SCAN: {
			/* A hash index has no key order: a scan reads the `len`
			 * records that follow the start record in insertion order,
			 * as one multi-get. */
			uint64_t start = ycsb_next_key(&g), n = __atomic_load_n(w->inserted, __ATOMIC_RELAXED);
			uint32_t want = ycsb_scan_length(&g), got = 0;
			for (; got < want && got < BATCH_MAX && start + got < n; got++)
				kl[got] = ycsb_key(start + got, keys[got]);
			rc = w->drv->multi_read(thr, kp, kl, got ? got : 1, buf, o->value_size);
			break;
		}
		case YCSB_RMW:
			kl[0] = ycsb_key(ycsb_next_key(&g), keys[0]);
			rc = w->drv->read(thr, keys[0], kl[0], buf, o->value_size, &len);
			if (rc == 0)
				rc = w->drv->update(thr, keys[0], kl[0], w->value, o->value_size);
			break;
		default:
			break;
		}
		record(w, now_ns() - t0, 1);
	}
	free(buf);
	return rc ? fail_op(w, thr, "operation") : 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	void *thr;
	if (w->drv->thread_open(w->proc, &thr)) {
		snprintf(w->error, sizeof w->error, "%s: cannot open a connection", w->drv->name);
		return NULL;
	}
	if (w->load) {
		run_load(w, thr);
	} else {
		shmemora_timing_read(&w->timing, 1); /* start from zero */
		run_ops(w, thr);
		shmemora_timing_read(&w->timing, 1);
	}
	w->end_ns = now_ns();
	w->drv->thread_close(thr);
	__atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Until every worker has finished, shows "phase store: N% x Mops/s" on a
 * terminal every half second (nothing when stderr is not a terminal). */
static void show_progress(const struct worker *w, int n, const char *what, uint64_t target,
			  uint64_t t0)
{
	int tty = isatty(2);
	for (;;) {
		int running = 0;
		uint64_t done = 0;
		for (int i = 0; i < n; i++) {
			running += !__atomic_load_n(&w[i].finished, __ATOMIC_ACQUIRE);
			done += __atomic_load_n(&w[i].done, __ATOMIC_RELAXED);
		}
		if (!running)
			break;
		if (tty) {
			double s = (double)(now_ns() - t0) / 1e9;
			fprintf(stderr, "\r%-32s %5.1f%%  %8.3f Mops/s ", what,
				target ? 100.0 * (double)done / (double)target : 0.0,
				s > 0 ? (double)done / s / 1e6 : 0.0);
		}
		struct timespec d = { 0, 100 * 1000 * 1000 };
		nanosleep(&d, NULL);
	}
	if (tty)
		fprintf(stderr, "\r%60s\r", "");
}

/* Runs one phase with `threads` threads in this process; fills `out` and
 * returns the latency samples (caller frees). */
static uint32_t *run_phase(const struct options *o, const struct store_driver *drv, void *proc,
			   int load, int first, int of, uint64_t *inserted, const uint8_t *value,
			   struct trace_record *trace, size_t trace_n, struct phase *out,
			   size_t *nlat, char *error)
{
	int t = o->threads;
	pthread_t th[256];
	pthread_barrier_t ready;
	pthread_barrier_init(&ready, NULL, (unsigned)t);
	struct worker *w = calloc((size_t)t, sizeof *w);
	uint64_t per = (load ? o->records : o->ops) / (uint64_t)(of) + 2;
	uint64_t t0 = now_ns();
	for (int i = 0; i < t; i++) {
		w[i] = (struct worker){ .o = o, .drv = drv, .proc = proc, .id = first + i, .of = of,
					.inserted = inserted, .value = value, .trace = trace,
					.trace_n = trace_n, .load = load,
					.duration_ns = !load && o->duration > 0
						? (uint64_t)(o->duration * 1e9) : 0,
					.caplat = trace ? trace_n / (size_t)of + 2 : per,
					.ready = &ready };
		w[i].lat = malloc(w[i].caplat * sizeof(uint32_t));
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	char what[64];
	snprintf(what, sizeof what, "%s %s", load ? "loading" : "running", drv->name);
	show_progress(w, t, what, load ? o->records / (uint64_t)of * (uint64_t)t
				     : o->ops / (uint64_t)of * (uint64_t)t, t0);
	size_t total = 0;
	uint64_t end = t0, begin = 0;
	out->ops = 0;
	for (int i = 0; i < t; i++) {
		pthread_join(th[i], NULL);
		if (w[i].end_ns > end)
			end = w[i].end_ns;
		/* The timed part starts when the last thread ends its warm-up. */
		if (w[i].start_ns > begin)
			begin = w[i].start_ns;
		total += w[i].nlat;
		out->ops += w[i].done;
		if (!load) {
			timing_total.operations += w[i].timing.operations;
			timing_total.lookup_ns += w[i].timing.lookup_ns;
			timing_total.mac_ns += w[i].timing.mac_ns;
			timing_total.rights_ns += w[i].timing.rights_ns;
			timing_total.index_ns += w[i].timing.index_ns;
			timing_total.copy_ns += w[i].timing.copy_ns;
		}
		if (w[i].error[0] && !error[0])
			snprintf(error, 200, "%s", w[i].error);
	}
	pthread_barrier_destroy(&ready);
	/* The phase ends when its last thread does, not when we noticed. */
	if (begin && begin < end)
		t0 = begin;
	out->seconds = (double)(end - t0) / 1e9;
	out->begin_ns = t0;
	out->end_ns = end;
	uint32_t *all = malloc((total ? total : 1) * sizeof(uint32_t));
	size_t n = 0;
	for (int i = 0; i < t; i++) {
		memcpy(all + n, w[i].lat, w[i].nlat * sizeof(uint32_t));
		n += w[i].nlat;
		free(w[i].lat);
	}
	free(w);
	*nlat = n;
	return all;
}

static void percentiles(uint32_t *lat, size_t n, struct phase *p)
{
	if (!n)
		return;
	qsort(lat, n, sizeof *lat, cmp_u32);
	p->p50 = lat[n / 2];
	p->p99 = lat[n * 99 / 100];
	p->p999 = lat[n * 999 / 1000];
	for (int i = 0; i < QUANTILES; i++)
		p->q[i] = lat[i == 100 ? n - 1 : n * (size_t)i / 100];
}

/* --------------------------------------------------------- one store run */

static struct trace_record *read_trace(const char *path, size_t *n)
{
	struct trace_record *v = NULL;
	size_t cap = 0;
	*n = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	uint64_t skipped = 0;
	while ((len = getline(&line, &lcap, f)) >= 0) {
		if (len && line[len - 1] == '\n')
			len--;
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			v = realloc(v, cap * sizeof *v);
		}
		if (trace_parse_line(line, (size_t)len, &v[*n]) == 0)
			(*n)++;
		else
			skipped++;
	}
	free(line);
	fclose(f);
	if (skipped)
		fprintf(stderr, "kv: %s: %llu lines skipped (not YCSB records)\n", path,
			(unsigned long long)skipped);
	return v;
}

/* What a host process sends back: one write, smaller than PIPE_BUF, so the
 * messages of hosts that finish together never interleave in the pipe. */
struct host_message {
	int host;
	struct phase phase;
	char error[200];
};
_Static_assert(sizeof(struct host_message) <= PIPE_BUF, "one atomic pipe write");

/*
 * Several hosts: each a process of its own that attaches to the store on its
 * own, runs its threads' share of the transactions, and sends its phase back
 * through a pipe.  The hosts start together (each says it is ready, then
 * waits for the go), so the total is the operations of all hosts over the
 * span from the first host's start to the last one's end: forks, attaches
 * and exits are not timed.
 */
static void run_hosts(const struct options *o, const struct store_driver *drv, void *global,
		      uint64_t *inserted, const uint8_t *value, struct trace_record *trace,
		      size_t trace_n, struct result *r)
{
	int results[2], ready[2], go[2];
	if (pipe(results) || pipe(ready) || pipe(go)) {
		snprintf(r->error, sizeof r->error, "pipe: %s", strerror(errno));
		return;
	}
	pid_t kids[64];
	int started = 0;
	for (int h = 0; h < o->hosts; h++) {
		kids[h] = fork();
		if (kids[h] < 0) {
			snprintf(r->error, sizeof r->error, "fork: %s", strerror(errno));
			break;
		}
		started++;
		if (kids[h] == 0) {
			close(results[0]);
			close(ready[0]);
			close(go[1]);
			void *my = NULL;
			struct host_message m = { .host = h };
			int attached = drv->attach(global, &my) == 0;
			char c = 'r';
			if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) < 0)
				_exit(2);
			if (!attached) {
				snprintf(m.error, sizeof m.error, "host %d could not attach", h);
			} else {
				size_t n;
				uint32_t *l = run_phase(o, drv, my, 0, h * o->threads,
							o->hosts * o->threads, inserted, value,
							trace, trace_n, &m.phase, &n, m.error);
				percentiles(l, n, &m.phase);
				free(l);
				drv->detach(my);
			}
			_exit(write(results[1], &m, sizeof m) == sizeof m ? 0 : 2);
		}
	}
	close(results[1]);
	close(ready[1]);
	close(go[0]);
	char c;
	for (int h = 0; h < started; h++)
		if (read(ready[0], &c, 1) != 1)
			break; /* a host died before it was ready: its result is missing */
	close(go[1]); /* go: every waiting host's read returns */
	close(ready[0]);
	uint64_t begin = UINT64_MAX, end = 0;
	r->nhosts = started;
	for (int i = 0; i < started; i++) {
		struct host_message m;
		if (read(results[0], &m, sizeof m) != sizeof m || m.host < 0 || m.host >= started) {
			snprintf(r->error, sizeof r->error, "a host process died");
			break;
		}
		m.error[sizeof m.error - 1] = '\0';
		if (m.error[0] && !r->error[0])
			snprintf(r->error, sizeof r->error, "%s", m.error);
		const struct phase ph = m.phase;
		r->host[m.host] = (struct host_summary){ ph.ops, ph.seconds, ph.p50, ph.p99 };
		r->run.ops += ph.ops;
		if (ph.ops && ph.begin_ns < begin)
			begin = ph.begin_ns;
		if (ph.end_ns > end)
			end = ph.end_ns;
		/* Percentiles across hosts: the worst host's, a conservative
		 * summary (each host's are listed under the total). */
		if (ph.p50 > r->run.p50) r->run.p50 = ph.p50;
		if (ph.p99 > r->run.p99) r->run.p99 = ph.p99;
		if (ph.p999 > r->run.p999) r->run.p999 = ph.p999;
	}
	close(results[0]);
	for (int h = 0; h < started; h++)
		waitpid(kids[h], NULL, 0);
	r->run.seconds = end > begin ? (double)(end - begin) / 1e9 : 0;
}

static int run_store(const struct options *o, const struct store_driver *drv, int pipeline,
		     struct result *r)
{
	memset(r, 0, sizeof *r);
	snprintf(r->store, sizeof r->store, "%s", drv->name);
	r->pipeline = pipeline;
	r->threads = o->threads;
	struct options oo = *o;
	oo.pipeline = pipeline;
	struct store_cfg cfg = { .records = o->records, .max_records = o->records + o->ops + 1,
				 .value_size = o->value_size, .hosts = o->hosts,
				 .use_batch = o->use_batch, .batch_kvs = o->batch_kvs,
				 .verify = o->verify, .pipeline = pipeline };
	snprintf(cfg.dir, sizeof cfg.dir, "/dev/shm/shmemora-kv-%d-%s", (int)getpid(), drv->name);
	mkdir(cfg.dir, 0700);
	uint8_t *value = malloc(o->value_size);
	for (size_t i = 0; i < o->value_size; i++)
		value[i] = (uint8_t)('a' + (i * 7) % 26);
	struct trace_record *load_tr = NULL, *run_tr = NULL;
	size_t load_n = 0, run_n = 0;
	if (o->trace) {
		char path[512];
		snprintf(path, sizeof path, "%s.spec_load", o->trace);
		load_tr = read_trace(path, &load_n);
		snprintf(path, sizeof path, "%s.spec_trans", o->trace);
		run_tr = read_trace(path, &run_n);
		if (!load_tr || !run_tr) {
			snprintf(r->error, sizeof r->error, "cannot read trace %s.spec_load/.spec_trans",
				 o->trace);
			return -1;
		}
		cfg.max_records = load_n + run_n + 1;
	}
	void *global = NULL, *proc = NULL;
	if (drv->start(&cfg, &global) || drv->attach(global, &proc)) {
		snprintf(r->error, sizeof r->error, "%s could not be started", drv->name);
		if (global)
			drv->stop(global);
		free(value);
		return -1;
	}
	uint64_t inserted = o->records;
	size_t n;
	uint32_t *lat = run_phase(&oo, drv, proc, 1, 0, o->threads, &inserted, value, load_tr,
				  load_n, &r->load, &n, r->error);
	percentiles(lat, n, &r->load);
	free(lat);
	if (!r->error[0] && o->hosts <= 1) {
		lat = run_phase(&oo, drv, proc, 0, 0, o->threads, &inserted, value, run_tr, run_n,
				&r->run, &n, r->error);
		percentiles(lat, n, &r->run);
		free(lat);
	} else if (!r->error[0]) {
		run_hosts(&oo, drv, global, &inserted, value, run_tr, run_n, r);
	}
	/* A run that timed nothing has no figures to give, only a reason. */
	if (!r->error[0] && (!r->run.ops || r->run.seconds <= 0))
		snprintf(r->error, sizeof r->error, "no transaction completed in the timed part");
	drv->detach(proc);
	drv->stop(global);
	rmdir(cfg.dir);
	free(value);
	free(load_tr);
	free(run_tr);
	return r->error[0] ? -1 : 0;
}

/* -------------------------------------------------------------- output */

static double mops(const struct phase *p)
{
	return p->seconds > 0 ? (double)p->ops / p->seconds / 1e6 : 0;
}

static void print_json(FILE *f, const struct result *r, int n)
{
	fprintf(f, "[");
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s\n  { \"store\": \"%s\", \"pipeline\": %d, \"error\": \"%s\", "
			"\"load\": { \"ops\": %llu, \"seconds\": %.4f, \"mops\": %.4f, \"p50_ns\": %.0f, "
			"\"p99_ns\": %.0f, \"p999_ns\": %.0f }, \"run\": { \"ops\": %llu, \"seconds\": %.4f, "
			"\"mops\": %.4f, \"p50_ns\": %.0f, \"p99_ns\": %.0f, \"p999_ns\": %.0f }",
			i ? "," : "", r[i].store, r[i].pipeline, r[i].error,
			(unsigned long long)r[i].load.ops, r[i].load.seconds, mops(&r[i].load),
			r[i].load.p50, r[i].load.p99, r[i].load.p999, (unsigned long long)r[i].run.ops,
			r[i].run.seconds, mops(&r[i].run), r[i].run.p50, r[i].run.p99, r[i].run.p999);
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

static int parse_json_result(const char *line, struct result *r)
{
	memset(r, 0, sizeof *r);
	unsigned long long lo, ro;
	double lm, rm;
	int n = sscanf(line, " { \"store\": \"%39[^\"]\", \"pipeline\": %d, \"error\": \"%199[^\"]\", "
			     "\"load\": { \"ops\": %llu, \"seconds\": %lf, \"mops\": %lf, \"p50_ns\": %lf, "
			     "\"p99_ns\": %lf, \"p999_ns\": %lf }, \"run\": { \"ops\": %llu, \"seconds\": %lf, "
			     "\"mops\": %lf, \"p50_ns\": %lf, \"p99_ns\": %lf, \"p999_ns\": %lf }",
		       r->store, &r->pipeline, r->error, &lo, &r->load.seconds, &lm, &r->load.p50,
		       &r->load.p99, &r->load.p999, &ro, &r->run.seconds, &rm, &r->run.p50,
		       &r->run.p99, &r->run.p999);
	if (n != 15) {
		/* An empty error string stops %[ from matching: try without it. */
		n = sscanf(line, " { \"store\": \"%39[^\"]\", \"pipeline\": %d, \"error\": \"\", "
				 "\"load\": { \"ops\": %llu, \"seconds\": %lf, \"mops\": %lf, \"p50_ns\": %lf, "
				 "\"p99_ns\": %lf, \"p999_ns\": %lf }, \"run\": { \"ops\": %llu, \"seconds\": %lf, "
				 "\"mops\": %lf, \"p50_ns\": %lf, \"p99_ns\": %lf, \"p999_ns\": %lf }",
			   r->store, &r->pipeline, &lo, &r->load.seconds, &lm, &r->load.p50,
			   &r->load.p99, &r->load.p999, &ro, &r->run.seconds, &rm, &r->run.p50,
			   &r->run.p99, &r->run.p999);
		if (n != 14)
			return -1;
		r->error[0] = '\0';
	}
	r->load.ops = lo;
	r->run.ops = ro;
	const char *t = strstr(line, "\"threads\": ");
	if (t)
		r->threads = atoi(t + 11);
	const char *hp = strstr(line, "\"hosts\": [");
	while (hp && r->nhosts < 64 && (hp = strstr(hp, "{ \"ops\": ")) != NULL) {
		struct host_summary *hs = &r->host[r->nhosts];
		unsigned long long ops;
		if (sscanf(hp, "{ \"ops\": %llu, \"seconds\": %lf, \"p50_ns\": %lf, \"p99_ns\": %lf",
			   &ops, &hs->seconds, &hs->p50, &hs->p99) != 4)
			break;
		hs->ops = ops;
		r->nhosts++;
		hp++;
	}
	const char *c = strstr(line, "\"cdf_ns\": [");
	if (c) {
		char *p = (char *)c + 11;
		for (int q = 0; q < QUANTILES; q++) {
			r->run.q[q] = strtod(p, &p);
			if (*p == ',')
				p++;
		}
	}
	return 0;
}

static void print_table(const struct options *o, const struct result *r, int n)
{
	printf("YCSB workload %c, %llu records, %llu operations, %zu-byte values, ",
	       o->trace ? 'T' : o->workload, (unsigned long long)o->records,
	       (unsigned long long)o->ops, o->value_size);
	if (o->nsweep > 1) /* a sweep: each row says its own thread count */
		printf("threads swept over %d counts%s\n", o->nsweep, o->hosts > 1 ? " per host" : "");
	else
		printf("%d thread(s)%s\n", o->threads, o->hosts > 1 ? " per host" : "");
	if (o->hosts > 1)
		printf("%d host processes; latency percentiles are the worst host's\n", o->hosts);
	printf("%-22s %7s %10s %10s %9s %9s %9s %10s\n", "store", "threads", "load Mops", "run Mops",
	       "p50 ns", "p99 ns", "p99.9 ns", "vs shmemora");
	for (int i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof name, "%.39s%s", r[i].store, r[i].pipeline > 1 ? " (pipelined)" : "");
		if (r[i].error[0]) {
			printf("%-22s %7d failed: %s\n", name, r[i].threads, r[i].error);
			continue;
		}
		printf("%-22s %7d %10.3f %10.3f %9.0f %9.0f %9.0f", name, r[i].threads,
		       mops(&r[i].load), mops(&r[i].run), r[i].run.p50, r[i].run.p99, r[i].run.p999);
		/* Against SHMemora protected at the same thread count. */
		const struct result *ref = NULL;
		for (int j = 0; j < n && !ref; j++)
			if (!strcmp(r[j].store, "shmemora") && r[j].threads == r[i].threads && !r[j].error[0])
				ref = &r[j];
		if (ref && ref != &r[i] && mops(&r[i].run) > 0)
			printf(" %9.2fx", mops(&ref->run) / mops(&r[i].run));
		printf("\n");
		for (int h = 0; h < r[i].nhosts; h++) {
			const struct host_summary *hs = &r[i].host[h];
			printf("  host %-15d %7d %10s %10.3f %9.0f %9.0f\n", h, r[i].threads, "",
			       hs->seconds > 0 ? (double)hs->ops / hs->seconds / 1e6 : 0, hs->p50,
			       hs->p99);
		}
	}
	if (n > 1)
		printf("(vs shmemora: SHMemora protected's run throughput, same thread count, divided "
		       "by the store's)\n");
}

static void print_csv(const struct result *r, int n)
{
	printf("store,pipeline,load_mops,run_ops,run_seconds,run_mops,p50_ns,p99_ns,p999_ns,error\n");
	for (int i = 0; i < n; i++)
		printf("%s,%d,%.4f,%llu,%.4f,%.4f,%.0f,%.0f,%.0f,%s\n", r[i].store, r[i].pipeline,
		       mops(&r[i].load), (unsigned long long)r[i].run.ops, r[i].run.seconds,
		       mops(&r[i].run), r[i].run.p50, r[i].run.p99, r[i].run.p999, r[i].error);
}

/* Charts with gnuplot: throughput against threads, one line per store
 * (a bar per store when only one thread count ran), and the latency CDF of
 * each store's transactions at the largest thread count. */
static int plot(const char *dir, const struct result *r, int n)
{
	mkdir(dir, 0755);
	char path[600];
	int max_threads = 0, counts = 0, last = -1;
	for (int i = 0; i < n; i++) {
		if (r[i].threads != last)
			counts++;
		last = r[i].threads;
		if (r[i].threads > max_threads)
			max_threads = r[i].threads;
	}
	/* One data file per store: "threads mops", and one with its CDF. */
	snprintf(path, sizeof path, "%s/plot.gp", dir);
	FILE *gp = fopen(path, "w");
	if (!gp)
		return -1;
	fprintf(gp, "set terminal png size 900,500\nset grid\nset key outside right\nset xtics 1\n"
		    "set output '%s/throughput.png'\nset title 'Throughput (transactions)'\n"
		    "set ylabel 'Mops/s'\nset xlabel 'threads'\n", dir);
	if (counts < 2)
		fprintf(gp, "set style data histograms\nset style fill solid\nset xtics rotate by -20\n"
			    "unset xlabel\n");
	int first = 1;
	for (int i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof name, "%.39s%s", r[i].store, r[i].pipeline > 1 ? "+pipe" : "");
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
				fprintf(f, "%d %.4f \"%s\"\n", r[j].threads, mops(&r[j].run), name);
		fclose(f);
		if (counts < 2)
			fprintf(gp, "%s '%s' using 2:xtic(3) title '%s'", first ? "plot" : ",", path, name);
		else
			fprintf(gp, "%s '%s' using 1:2 with linespoints title '%s'", first ? "plot" : ",",
				path, name);
		first = 0;
	}
	fprintf(gp, "\nset output '%s/latency_cdf.png'\nset style data lines\nset logscale x\n"
		    "set title 'Latency CDF (transactions, %d thread(s))'\nset xlabel 'ns'\n"
		    "set ylabel 'percentile'\nunset xtics\nset xtics\n", dir, max_threads);
	first = 1;
	for (int i = 0; i < n; i++) {
		if (r[i].threads != max_threads || r[i].error[0] || r[i].run.q[100] == 0)
			continue;
		char name[64];
		snprintf(name, sizeof name, "%.39s%s", r[i].store, r[i].pipeline > 1 ? "+pipe" : "");
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
	fclose(gp);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "gnuplot '%s/plot.gp'", dir);
	return system(cmd);
}

/* ------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kv <nthreads> <value_size> <use_batch> <batch_kvs> <use_mac> [options]\n"
		"       kv [options]\n"
		"\n"
		"Loads a YCSB data set into SHMemora (or a peer) and runs a YCSB workload;\n"
		"prints load and transaction throughput and latency percentiles.\n"
		"\n"
		"Positional (as the original SHMemora benchmark):\n"
		"  nthreads    threads (per host)\n"
		"  value_size  bytes per value\n"
		"  use_batch   1: mint one token per batch_kvs loaded keys; 0: one per key\n"
		"  batch_kvs   keys per batch token\n"
		"  use_mac     1: verify the MAC on every access (always); 0: off (weak)\n"
		"\n"
		"Options:\n"
		"  --workload A..F      YCSB core workload (default A)\n"
		"  --records N          records loaded (default 100000)\n"
		"  --ops N              transactions (default 100000)\n"
		"  --distribution D     zipfian, uniform or latest (default: the workload's)\n"
		"  --threads N --value-size B --use-batch 0|1 --batch-kvs N\n"
		"  --verify P           always, cached or off (default cached; use_mac sets it)\n"
		"  --hosts N            N host processes, each with its own threads\n"
		"  --store S            shmemora (default), lmdb, redis or memcached\n"
		"  --pipeline N         Redis/memcached: requests in flight (default 1)\n"
		"  --compare            run SHMemora protected, unprotected, LMDB, Redis and\n"
		"                       memcached (with and without pipelining) side by side\n"
		"  --peers L            with --compare, only these of unprotected, lmdb,\n"
		"                       redis, memcached (e.g. unprotected,lmdb; default all)\n"
		"  --trace NAME         replay NAME.spec_load and NAME.spec_trans (YCSB basic)\n"
		"  --duration S         stop the transactions after S seconds\n"
		"  --json | --csv       machine-readable results\n"
		"  --plot DIR           PNG charts with gnuplot into DIR\n"
		"  --sweep-threads L    run once per thread count in L (e.g. 1,2,4)\n"
		"  --timing             where SHMemora's time goes: token lookup, MAC, rights\n"
		"                       and bounds, index, copy (off by default: it costs)\n"
		"  -h, --help           this help\n");
}

/* The driver --store names; "shmemora" is this build's own (protected, or
 * unprotected in the twin). */
static const struct store_driver *store_named(const char *name)
{
	if (!strcmp(name, "shmemora"))
		return &store_shmemora;
	const struct store_driver *drivers[] = { &store_shmemora, &store_lmdb, &store_redis,
						 &store_memcached };
	for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
		if (!strcmp(name, drivers[i]->name))
			return drivers[i];
	return NULL;
}

/* Runs the unprotected twin (this program built without protection, with
 * the same arguments and this round's thread count) and reads its result. */
static void run_twin(const struct options *o, int argc, char **argv, struct result *r)
{
	char cmd[8192];
	int n = snprintf(cmd, sizeof cmd, "'%s%s' --json", argv[0], TWIN_SUFFIX);
	for (int i = 1; i < argc && n < (int)sizeof cmd; i++) {
		if (!strcmp(argv[i], "--sweep-threads") || !strcmp(argv[i], "--plot") ||
		    !strcmp(argv[i], "--peers")) {
			i++; /* the twin runs one thread count, alone; we plot */
			continue;
		}
		if (strcmp(argv[i], "--compare") && strcmp(argv[i], "--json") &&
		    strcmp(argv[i], "--csv"))
			n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", argv[i]);
	}
	/* The thread count of this round comes last and wins. */
	if (n < (int)sizeof cmd)
		snprintf(cmd + n, sizeof cmd - (size_t)n, " --threads %d", o->threads);
	FILE *p = popen(cmd, "r");
	static char line[32768]; /* a result is one line: 64 hosts and a CDF fit */
	int got = 0;
	while (p && fgets(line, sizeof line, p))
		if (strstr(line, "\"store\"") && parse_json_result(line, r) == 0)
			got = 1;
	if (p)
		pclose(p);
	if (!got) {
		memset(r, 0, sizeof *r);
		snprintf(r->store, sizeof r->store, "shmemora-unprotected");
		snprintf(r->error, sizeof r->error, "could not run %s%s", argv[0], TWIN_SUFFIX);
	}
}

/* One --compare round at o->threads: SHMemora protected, then the peers
 * chosen with --peers, appended to res.  Nonzero if a store failed. */
static int compare_round(const struct options *o, int argc, char **argv, struct result *res,
			 int *nres)
{
	int bad = run_store(o, &store_shmemora, 1, &res[(*nres)++]);
	if (o->peers & PEER_UNPROTECTED)
		run_twin(o, argc, argv, &res[(*nres)++]);
	if (o->peers & PEER_LMDB)
		bad |= run_store(o, &store_lmdb, 1, &res[(*nres)++]);
	if (o->peers & PEER_REDIS) {
		bad |= run_store(o, &store_redis, 1, &res[(*nres)++]);
		bad |= run_store(o, &store_redis, 16, &res[(*nres)++]);
	}
	if (o->peers & PEER_MEMCACHED) {
		bad |= run_store(o, &store_memcached, 1, &res[(*nres)++]);
		bad |= run_store(o, &store_memcached, 16, &res[(*nres)++]);
	}
	return bad;
}

int main(int argc, char **argv)
{
	struct options o = { .threads = 1, .hosts = 1, .pipeline = 1, .batch_kvs = 1,
			     .value_size = 256, .records = 100000, .ops = 100000, .workload = 'A',
			     .dist = -1, .verify = SHMEMORA_VERIFY_CACHED, .store = "shmemora",
			     .peers = PEER_ALL };
	static const struct option opts[] = {
		{ "workload", 1, 0, 'w' }, { "records", 1, 0, 'r' }, { "ops", 1, 0, 'o' },
		{ "distribution", 1, 0, 'd' }, { "threads", 1, 0, 't' }, { "value-size", 1, 0, 'v' },
		{ "use-batch", 1, 0, 'b' }, { "batch-kvs", 1, 0, 'k' }, { "verify", 1, 0, 'm' },
		{ "hosts", 1, 0, 'H' }, { "store", 1, 0, 's' }, { "pipeline", 1, 0, 'p' },
		{ "compare", 0, 0, 'c' }, { "trace", 1, 0, 'T' }, { "duration", 1, 0, 'D' },
		{ "json", 0, 0, 'j' }, { "csv", 0, 0, 'C' }, { "plot", 1, 0, 'P' },
		{ "timing", 0, 0, 'X' }, { "sweep-threads", 1, 0, 'S' }, { "peers", 1, 0, 'E' },
		{ "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	/* The positional form comes first: five numbers. */
	int pos = 0;
	long long num[5];
	while (pos < 5 && pos + 1 < argc && argv[pos + 1][0] != '-') {
		char *end;
		num[pos] = strtoll(argv[pos + 1], &end, 10);
		if (*end) {
			fprintf(stderr, "kv: '%s' is not a number\n", argv[pos + 1]);
			return 2;
		}
		pos++;
	}
	if (pos && pos != 5) {
		usage(stderr);
		return 2;
	}
	if (pos) {
		o.threads = (int)num[0];
		o.value_size = (size_t)num[1];
		o.use_batch = num[2] != 0;
		o.batch_kvs = (uint32_t)num[3];
		o.verify = num[4] ? SHMEMORA_VERIFY_ALWAYS : SHMEMORA_VERIFY_OFF;
	}
	optind = pos + 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'w': o.workload = optarg[0]; break;
		case 'r': o.records = strtoull(optarg, NULL, 10); break;
		case 'o': o.ops = strtoull(optarg, NULL, 10); break;
		case 'd':
			o.dist = !strcmp(optarg, "zipfian") ? YCSB_ZIPFIAN : !strcmp(optarg, "uniform")
				 ? YCSB_UNIFORM : !strcmp(optarg, "latest") ? YCSB_LATEST : -2;
			break;
		case 't': o.threads = atoi(optarg); break;
		case 'v': o.value_size = strtoull(optarg, NULL, 10); break;
		case 'b': o.use_batch = atoi(optarg) != 0; break;
		case 'k': o.batch_kvs = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'm':
			o.verify = !strcmp(optarg, "always") ? SHMEMORA_VERIFY_ALWAYS
				   : !strcmp(optarg, "off") ? SHMEMORA_VERIFY_OFF
				   : !strcmp(optarg, "cached") ? SHMEMORA_VERIFY_CACHED : -1;
			break;
		case 'H': o.hosts = atoi(optarg); break;
		case 's': o.store = optarg; break;
		case 'p': o.pipeline = atoi(optarg); break;
		case 'c': o.compare = 1; break;
		case 'T': o.trace = optarg; break;
		case 'D': o.duration = atof(optarg); break;
		case 'j': o.json = 1; break;
		case 'C': o.csv = 1; break;
		case 'P': o.plot = optarg; break;
		case 'X': o.timing = 1; break;
		case 'S':
			for (char *p = optarg; *p && o.nsweep >= 0; ) {
				if (o.nsweep == 16) {
					o.nsweep = -1; /* more thread counts than we keep */
					break;
				}
				o.sweep[o.nsweep++] = (int)strtol(p, &p, 10);
				if (*p == ',')
					p++;
				else if (*p)
					o.nsweep = -1;
			}
			break;
		case 'E': o.peers = parse_peers(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || o.threads < 1 || o.threads > 256 || o.hosts < 1 || o.hosts > 64 ||
	    o.value_size < 1 || o.value_size > (1u << 20) || o.records < 1 || !ycsb_workload(o.workload) ||
	    o.dist == -2 || o.verify < 0 || o.pipeline < 1 || o.batch_kvs < 1 ||
	    o.threads * o.hosts > 256 || o.nsweep < 0 || !o.peers) {
		fprintf(stderr, "kv: bad arguments (threads 1..256, hosts 1..64, value size 1..1M, "
				"workload A..F, batch_kvs >= 1, pipeline >= 1, at most 16 thread "
				"counts, peers among %s,%s,%s,%s); see kv --help\n",
			peer_names[0], peer_names[1], peer_names[2], peer_names[3]);
		return 2;
	}

	if (o.timing)
		shmemora_timing_enable(1);
	struct result res[8 * 16];
	int nres = 0, bad = 0;
	int rounds = o.nsweep > 0 ? o.nsweep : 1;
	for (int round = 0; round < rounds; round++) {
		if (o.nsweep > 0) {
			o.threads = o.sweep[round];
			if (o.threads < 1 || o.threads * o.hosts > 256) {
				fprintf(stderr, "kv: bad thread count %d in --sweep-threads\n",
					o.threads);
				return 2;
			}
		}
		if (o.compare) {
			bad |= compare_round(&o, argc, argv, res, &nres);
			continue;
		}
		const struct store_driver *d = store_named(o.store);
		if (!d) {
			fprintf(stderr, "kv: unknown store '%s' (shmemora, lmdb, redis, memcached)\n",
				o.store);
			return 2;
		}
		bad |= run_store(&o, d, o.pipeline, &res[nres++]);
	}
	if (o.json)
		print_json(stdout, res, nres);
	else if (o.csv)
		print_csv(res, nres);
	else
		print_table(&o, res, nres);
	if (o.timing && timing_total.operations && !o.json && !o.csv) {
		double n = (double)timing_total.operations;
		printf("protected path, ns per operation (%llu timed in this process): token lookup "
		       "%.1f, MAC %.1f, rights and bounds %.1f, index %.1f, copy %.1f\n",
		       (unsigned long long)timing_total.operations, timing_total.lookup_ns / n,
		       timing_total.mac_ns / n, timing_total.rights_ns / n, timing_total.index_ns / n,
		       timing_total.copy_ns / n);
	}
	if (o.plot && plot(o.plot, res, nres) != 0)
		fprintf(stderr, "kv: gnuplot failed; data and script are in %s\n", o.plot);
	return bad ? 5 : 0;
}
