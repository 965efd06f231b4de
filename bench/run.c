/*
 * run.c — one store's run (see run.h): the session around it, its phases on
 * this process's threads, and its --hosts runs in host processes.
 *
 * The pool, environment or server is sized for what the run can hold at
 * once (size_for_run), so that --ops 50000000 --duration 4 does not ask
 * for a pool of 36 GB.
 */
#include "run.h"
#include "cleanup.h"
#include "measure.h"
#include "worker.h"
#include "ycsb.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define YCSB_KEY_MAX 32        /* ycsb_key(): "user" and a 64-bit number */
#define THREADS_MAX 256

/* Sum of the workers' breakdowns of the run phases (--timing). */
static shmemora_timing timing_total;

const shmemora_timing *run_timing_total(void)
{
	return &timing_total;
}

/* ------------------------------------------------------------- traces */

static int append_record(const struct trace_record *r, void *arg)
{
	struct { struct trace_record *v; size_t n, cap; } *vec = arg;
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 1024;
		struct trace_record *v = realloc(vec->v, cap * sizeof *v);
		if (!v)
			return ENOMEM;
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n++] = *r;
	return 0;
}

static int read_one(const char *name, const char *suffix, struct trace_record **out, size_t *n,
		    uint64_t *skipped, char *err, size_t cap)
{
	char path[1024];
	snprintf(path, sizeof path, "%s.%s", name, suffix);
	struct { struct trace_record *v; size_t n, cap; } vec = { 0 };
	struct trace_stats st;
	int rc = trace_read_file(path, append_record, &vec, &st);
	if (rc) {
		snprintf(err, cap, "cannot read trace %s: %s", path,
			 strerror(rc == -1 ? errno : rc));
		free(vec.v);
		return -1;
	}
	*skipped = st.skipped;
	*out = vec.v;
	*n = vec.n;
	return 0;
}

int traces_read(const char *name, struct traces *t, char *err, size_t cap)
{
	memset(t, 0, sizeof *t);
	if (read_one(name, "spec_load", &t->load, &t->load_n, &t->load_skipped, err, cap) ||
	    read_one(name, "spec_trans", &t->run, &t->run_n, &t->run_skipped, err, cap)) {
		traces_free(t);
		return -1;
	}
	for (size_t i = 0; i < t->load_n; i++) {
		t->loaded += t->load[i].op == TRACE_INSERT;
		if (t->load[i].key_len > t->key_max)
			t->key_max = t->load[i].key_len;
	}
	for (size_t i = 0; i < t->run_n; i++) {
		t->run_inserts += t->run[i].op == TRACE_INSERT;
		t->run_writes += t->run[i].op == TRACE_UPDATE || t->run[i].op == TRACE_INSERT;
		if (t->run[i].key_len > t->key_max)
			t->key_max = t->run[i].key_len;
	}
	if (!t->loaded) {
		snprintf(err, cap, "trace %s.spec_load holds no INSERT record to load", name);
		traces_free(t);
		return -1;
	}
	return 0;
}

void traces_free(struct traces *t)
{
	free(t->load);
	free(t->run);
	memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------ sizing */

/* The most of `ops` operations of proportion p: the expected count, plus a
 * margin far beyond the binomial spread (1.1 times, plus 1000). */
static uint64_t at_most(uint64_t ops, double p)
{
	if (p <= 0)
		return 0;
	double n = ceil((double)ops * p * 1.1) + 1000;
	return n < (double)ops ? (uint64_t)n : ops;
}

/* What the run can hold at once, never how many operations it might do
 * (--duration may end it long before --ops): an update frees the entry it
 * replaces, so only the load and the inserts add records.  Every host
 * allocates from the same data region (extents claimed on demand), so the
 * need is the live records plus what each thread keeps aside: an entry it
 * built and has not published, and SHMemora's per-thread block cache (at
 * most 16 blocks of a class, taken 8 at a time). */
#define THREAD_HELD_ENTRIES 32
static void size_for_run(const struct options *o, struct store_cfg *cfg)
{
	const struct traces *t = o->traces;
	uint64_t inserts = 0;
	if (t) {
		inserts = t->run_inserts;
	} else if (o->mode == MODE_YCSB) {
		const struct ycsb_workload *wl = ycsb_workload(o->workload);
		inserts = at_most(o->ops, wl->proportion[YCSB_INSERT]);
	}
	cfg->records = t ? t->loaded : o->records;
	cfg->live = cfg->records + inserts;
	cfg->key_max = t ? t->key_max : YCSB_KEY_MAX;
	uint64_t threads = (uint64_t)o->threads * (uint64_t)(o->hosts > 1 ? o->hosts : 1) + 1;
	cfg->entries = cfg->live + threads * THREAD_HELD_ENTRIES + 64;
}

/* ---------------------------------------------------------- sessions */

int session_open(struct session *s, const struct options *o, const struct store_driver *drv,
		 int pipeline, char *error)
{
	memset(s, 0, sizeof *s);
	s->o = *o;
	s->o.pipeline = pipeline;
	s->drv = drv;
	s->cfg = (struct store_cfg){ .value_size = o->value_size, .pool_size = o->size,
				     .hosts = o->hosts, .use_batch = o->use_batch,
				     .batch_kvs = o->batch_kvs, .verify = o->verify,
				     .coherence = o->coherence, .pipeline = pipeline };
	size_for_run(o, &s->cfg);
	s->inserted_store = s->cfg.records;
	s->inserted = &s->inserted_store;
	if (scratch_make(o->dir, drv->name, s->cfg.dir, sizeof s->cfg.dir, error,
			 RESULT_ERROR_MAX))
		return -1;
	s->value = malloc(o->value_size);
	if (!s->value) {
		snprintf(error, RESULT_ERROR_MAX, "out of memory");
		session_close(s);
		return -1;
	}
	for (size_t i = 0; i < o->value_size; i++)
		s->value[i] = (uint8_t)('a' + (i * 7) % 26);
	char why[STORE_ERROR_MAX] = "";
	if (drv->start(&s->cfg, &s->global, why) || drv->attach(s->global, &s->proc, why)) {
		snprintf(error, RESULT_ERROR_MAX, "%s could not be started: %s", drv->name,
			 why[0] ? why : "no reason given");
		session_close(s);
		return -1;
	}
	return 0;
}

void session_close(struct session *s)
{
	if (s->proc)
		s->drv->detach(s->proc);
	if (s->global)
		s->drv->stop(s->global);
	if (s->cfg.dir[0])
		scratch_remove(s->cfg.dir);
	free(s->value);
	s->proc = s->global = NULL;
	s->value = NULL;
	s->cfg.dir[0] = '\0';
}

/* ------------------------------------------------------------ phases */

void phase_latency(struct phase *p, uint32_t *lat, size_t n)
{
	p->samples = n;
	if (!n)
		return;
	sort_u32(lat, n);
	p->p50 = lat[percentile_rank(n, 500)];
	p->p99 = lat[percentile_rank(n, 990)];
	p->p999 = lat[percentile_rank(n, 999)];
	for (int i = 0; i < QUANTILES; i++)
		p->q[i] = lat[percentile_rank(n, (unsigned)i * 10)];
}

/* Until every worker has finished, shows "phase store: N% x Mops/s" on a
 * terminal every tenth of a second (nothing when stderr is not one). */
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

static void add_timing(const shmemora_timing *t)
{
	timing_total.operations += t->operations;
	timing_total.lookup_ns += t->lookup_ns;
	timing_total.mac_ns += t->mac_ns;
	timing_total.rights_ns += t->rights_ns;
	timing_total.index_ns += t->index_ns;
	timing_total.copy_ns += t->copy_ns;
	timing_total.writes += t->writes;
	timing_total.index_retries += t->index_retries;
	timing_total.alloc_retries += t->alloc_retries;
	timing_total.free_retries += t->free_retries;
	timing_total.remote_frees += t->remote_frees;
}

/* Joins the workers; the phase spans from the last warm-up's end to the
 * last thread's finish, not to when we noticed.  Merges their latencies. */
static void gather_phase(struct worker *w, int t, int load, uint64_t t0, struct phase *out,
			 char *error)
{
	uint64_t end = t0, begin = 0;
	size_t total = 0;
	for (int i = 0; i < t; i++) {
		if (w[i].end_ns > end)
			end = w[i].end_ns;
		if (w[i].start_ns > begin)
			begin = w[i].start_ns;
		total += w[i].nlat;
		out->ops += w[i].done;
		out->requests += w[i].requests;
		if (!load)
			add_timing(&w[i].timing);
		if (w[i].error[0] && !error[0])
			snprintf(error, RESULT_ERROR_MAX, "%s", w[i].error);
	}
	if (begin && begin < end)
		t0 = begin;
	out->seconds = (double)(end - t0) / 1e9;
	out->mops = out->seconds > 0 ? (double)out->ops / out->seconds / 1e6 : 0;
	out->begin_ns = t0;
	out->end_ns = end;
	uint32_t *all = malloc((total ? total : 1) * sizeof(uint32_t));
	if (!all) {
		if (!error[0])
			snprintf(error, RESULT_ERROR_MAX, "out of memory for %zu latencies", total);
		return;
	}
	size_t n = 0;
	for (int i = 0; i < t; i++) {
		memcpy(all + n, w[i].lat, w[i].nlat * sizeof(uint32_t));
		n += w[i].nlat;
	}
	phase_latency(out, all, n);
	free(all);
}

void run_phase(const struct session *s, void *proc, int load, int first, int of,
	       struct phase *out, char *error)
{
	const struct options *o = &s->o;
	const struct traces *tr = o->traces;
	int t = o->threads;
	memset(out, 0, sizeof *out);
	struct worker *w = calloc((size_t)t, sizeof *w);
	pthread_t *th = calloc((size_t)t, sizeof *th);
	if (!w || !th) {
		snprintf(error, RESULT_ERROR_MAX, "out of memory for %d threads", t);
		free(w);
		free(th);
		return;
	}
	struct start_line ready;
	start_line_init(&ready, t);
	uint64_t target = (load ? (tr ? tr->load_n : o->records) : (tr ? tr->run_n : o->ops));
	size_t cap = (size_t)(target / (uint64_t)of + 2);
	uint64_t t0 = now_ns();
	int started = 0;
	for (int i = 0; i < t; i++) {
		w[i] = (struct worker){ .s = s, .proc = proc, .id = first + i, .of = of, .load = load,
					.duration_ns = !load && o->duration > 0
						? (uint64_t)(o->duration * 1e9) : 0,
					.caplat = cap, .ready = &ready };
		w[i].lat = malloc(cap * sizeof(uint32_t));
		int rc = w[i].lat ? pthread_create(&th[i], NULL, worker_main, &w[i]) : ENOMEM;
		if (rc) {
			snprintf(error, RESULT_ERROR_MAX, "cannot start thread %d: %s", i, strerror(rc));
			free(w[i].lat);
			break;
		}
		started++;
	}
	start_line_expect(&ready, started);
	char what[64];
	snprintf(what, sizeof what, "%s %s", load ? "loading" : "running", s->drv->name);
	show_progress(w, started, what, target / (uint64_t)of * (uint64_t)t, t0);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	gather_phase(w, started, load, t0, out, error);
	for (int i = 0; i < started; i++)
		free(w[i].lat);
	start_line_destroy(&ready);
	free(w);
	free(th);
}

/* -------------------------------------------------------------- hosts */

/* What a host process sends back: one write, smaller than PIPE_BUF, so the
 * messages of hosts that finish together never interleave in the pipe. */
struct host_message {
	int host;
	struct phase phase;
	char error[RESULT_ERROR_MAX];
};
_Static_assert(sizeof(struct host_message) <= PIPE_BUF, "one atomic pipe write");

/* A host process: attaches on its own, says it is ready, waits for the go,
 * runs its threads' share of the transactions and sends its phase back. */
static void host_main(const struct session *s, int h, int results, int ready, int go)
{
	cleanup_forget_all(); /* the parent cleans up */
	void *my = NULL;
	struct host_message m = { .host = h };
	char why[STORE_ERROR_MAX] = "";
	int attached = s->drv->attach(s->global, &my, why) == 0;
	char c = 'r';
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) < 0)
		_exit(2);
	if (!attached) {
		snprintf(m.error, sizeof m.error, "host %d could not attach: %s", h, why);
	} else {
		run_phase(s, my, 0, h * s->o.threads, s->o.hosts * s->o.threads, &m.phase, m.error);
		s->drv->detach(my);
	}
	_exit(write(results, &m, sizeof m) == sizeof m ? 0 : 2);
}

/* Adds one host's phase to the total: operations add up; the span runs
 * from the first host's start to the last one's end; the percentiles are
 * the worst host's, a conservative summary (each host's are listed). */
static void add_host(struct result *r, const struct phase *ph, uint64_t *begin, uint64_t *end)
{
	r->run.ops += ph->ops;
	r->run.requests += ph->requests;
	r->run.samples += ph->samples;
	if (ph->ops && ph->begin_ns < *begin)
		*begin = ph->begin_ns;
	if (ph->end_ns > *end)
		*end = ph->end_ns;
	if (ph->p50 > r->run.p50) r->run.p50 = ph->p50;
	if (ph->p99 > r->run.p99) r->run.p99 = ph->p99;
	if (ph->p999 > r->run.p999) r->run.p999 = ph->p999;
}

/* Reads the hosts' messages into r. */
static void collect_hosts(struct result *r, int fd, int started)
{
	uint64_t begin = UINT64_MAX, end = 0;
	r->nhosts = started;
	for (int i = 0; i < started; i++) {
		struct host_message m;
		if (read(fd, &m, sizeof m) != sizeof m || m.host < 0 || m.host >= started) {
			snprintf(r->error, sizeof r->error, "a host process died");
			break;
		}
		m.error[sizeof m.error - 1] = '\0';
		if (m.error[0] && !r->error[0])
			snprintf(r->error, sizeof r->error, "%s", m.error);
		const struct phase *ph = &m.phase;
		r->host[m.host] = (struct host_summary){ ph->ops, ph->seconds, ph->mops, ph->p50,
							 ph->p99 };
		add_host(r, ph, &begin, &end);
	}
	r->run.seconds = end > begin ? (double)(end - begin) / 1e9 : 0;
	r->run.mops = r->run.seconds > 0 ? (double)r->run.ops / r->run.seconds / 1e6 : 0;
}

/*
 * Several hosts: each a process of its own that attaches to the store on its
 * own, runs its threads' share of the transactions, and sends its phase back
 * through a pipe.  The hosts start together (each says it is ready, then
 * waits for the go), so the total is the operations of all hosts over the
 * span from the first host's start to the last one's end: forks, attaches
 * and exits are not timed.
 */
static void run_hosts(const struct session *s, struct result *r)
{
	int results[2], ready[2], go[2];
	if (pipe(results) || pipe(ready) || pipe(go)) {
		snprintf(r->error, sizeof r->error, "pipe: %s", strerror(errno));
		return;
	}
	pid_t kids[HOSTS_MAX];
	int started = 0;
	for (int h = 0; h < s->o.hosts; h++) {
		kids[h] = fork();
		if (kids[h] < 0) {
			snprintf(r->error, sizeof r->error, "fork: %s", strerror(errno));
			break;
		}
		if (kids[h] == 0) {
			close(results[0]);
			close(ready[0]);
			close(go[1]);
			host_main(s, h, results[1], ready[1], go[0]);
		}
		cleanup_watch_pid(kids[h]);
		started++;
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
	collect_hosts(r, results[0], started);
	close(results[0]);
	for (int h = 0; h < started; h++) {
		waitpid(kids[h], NULL, 0);
		cleanup_forget_pid(kids[h]);
	}
}

/* ---------------------------------------------------------- one store */

void result_init(struct result *r, const struct store_driver *drv, const struct options *o,
		 int pipeline)
{
	memset(r, 0, sizeof *r);
	snprintf(r->store, sizeof r->store, "%s", drv->name);
	r->pipeline = pipeline;
	r->batch = o->batch;
	r->threads = o->threads;
	r->repeats = 1;
}

int run_store(const struct options *o, const struct store_driver *drv, int pipeline,
	      struct result *r)
{
	result_init(r, drv, o, pipeline);
	struct session s;
	if (session_open(&s, o, drv, pipeline, r->error))
		return -1;
	run_phase(&s, s.proc, 1, 0, o->threads, &r->load, r->error);
	if (!r->error[0] && o->hosts <= 1)
		run_phase(&s, s.proc, 0, 0, o->threads, &r->run, r->error);
	else if (!r->error[0])
		run_hosts(&s, r);
	/* A run that timed nothing has no figures to give, only a reason. */
	if (!r->error[0] && (!r->run.ops || r->run.seconds <= 0))
		snprintf(r->error, sizeof r->error, "no transaction completed in the timed part");
	r->mops_min = r->mops_max = r->run.mops;
	session_close(&s);
	return r->error[0] ? -1 : 0;
}
