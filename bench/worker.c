/*
 * worker.c — one benchmark thread (see worker.h).
 *
 * Every request is timed with the monotonic clock; a request that carries
 * several operations (a pipelined batch, a --batch of reads) has its time
 * divided over them.  Transactions start with an untimed warm-up, the same
 * for every store, and then wait at the start line so that all threads
 * time together.
 */
#include "worker.h"
#include "measure.h"
#include "ycsb.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define KEY_BUF 32             /* ycsb_key() writes at most this much */

void start_line_init(struct start_line *s, int expected)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->go, NULL);
	s->expected = expected;
	s->arrived = 0;
}

void start_line_wait(struct start_line *s)
{
	pthread_mutex_lock(&s->lock);
	if (++s->arrived >= s->expected)
		pthread_cond_broadcast(&s->go);
	while (s->arrived < s->expected)
		pthread_cond_wait(&s->go, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

void start_line_expect(struct start_line *s, int expected)
{
	pthread_mutex_lock(&s->lock);
	s->expected = expected;
	if (s->arrived >= s->expected)
		pthread_cond_broadcast(&s->go);
	pthread_mutex_unlock(&s->lock);
}

void start_line_destroy(struct start_line *s)
{
	pthread_cond_destroy(&s->go);
	pthread_mutex_destroy(&s->lock);
}

/* One request of n operations took ns. */
static void record(struct worker *w, uint64_t ns, uint32_t n)
{
	for (uint32_t i = 0; i < n && w->nlat < w->caplat; i++)
		w->lat[w->nlat++] = (uint32_t)(ns / n > UINT32_MAX ? UINT32_MAX : ns / n);
	w->done += n;
	w->requests++;
}

static int fail_op(struct worker *w, void *thr, const char *what)
{
	snprintf(w->error, sizeof w->error, "%s %s: %s", w->s->drv->name, what,
		 w->s->drv->error ? w->s->drv->error(thr) : "failed");
	return -1;
}

/* ----------------------------------------------------- gathered requests */

/* How gathered keys go out: pipelined single requests, or one request of
 * the store's own multi-key read (--batch). */
enum gather_kind { PIPELINED_READS, PIPELINED_UPDATES, BATCHED_READS };

/* Keys waiting to be sent as one request; cap 0 or 1: not gathered. */
struct gather {
	enum gather_kind kind;
	uint32_t n, cap;
	const char *kp[STORE_BATCH_MAX];
	size_t kl[STORE_BATCH_MAX];
	char keys[STORE_BATCH_MAX][KEY_BUF];
};

static void gather_init(struct gather *g, enum gather_kind kind, int cap)
{
	g->kind = kind;
	g->n = 0;
	g->cap = cap > 1 ? (uint32_t)cap : 0;
}

/* Adds YCSB record n; 1 when the request is full. */
static int gather_record(struct gather *g, uint64_t n)
{
	g->kp[g->n] = g->keys[g->n];
	g->kl[g->n] = ycsb_key(n, g->keys[g->n]);
	return ++g->n == g->cap;
}

/* Adds a key that outlives the request (a trace's); 1 when it is full. */
static int gather_key(struct gather *g, const char *key, size_t len)
{
	g->kp[g->n] = key;
	g->kl[g->n] = len;
	return ++g->n == g->cap;
}

/* Sends what is gathered as one request and times it. */
static int flush_batch(struct worker *w, void *thr, struct gather *g, uint8_t *buf)
{
	if (!g->n)
		return 0;
	const struct store_driver *d = w->s->drv;
	size_t vs = w->s->o.value_size;
	uint64_t t0 = now_ns();
	int rc;
	switch (g->kind) {
	case PIPELINED_READS:
		rc = d->multi_read(thr, g->kp, g->kl, g->n, buf, vs);
		break;
	case PIPELINED_UPDATES:
		rc = d->multi_update(thr, g->kp, g->kl, g->n, w->s->value, vs);
		break;
	default:
		rc = d->batch_read(thr, g->kp, g->kl, g->n, buf, vs);
		break;
	}
	record(w, now_ns() - t0, g->n);
	g->n = 0;
	return rc;
}

/* Reads gather for --batch, or for pipelining where the store has it. */
static void gather_reads(const struct worker *w, struct gather *g, int pipelined)
{
	const struct options *o = &w->s->o;
	if (o->batch > 1)
		gather_init(g, BATCHED_READS, o->batch);
	else
		gather_init(g, PIPELINED_READS,
			    pipelined && w->s->drv->multi_read ? o->pipeline : 0);
}

static void gather_updates(const struct worker *w, struct gather *g)
{
	gather_init(g, PIPELINED_UPDATES, w->s->drv->multi_update ? w->s->o.pipeline : 0);
}

/* ------------------------------------------------------------------ load */

static int load_trace(struct worker *w, void *thr)
{
	const struct traces *t = w->s->o.traces;
	for (size_t i = (size_t)w->id; i < t->load_n; i += (size_t)w->of) {
		const struct trace_record *r = &t->load[i];
		if (r->op != TRACE_INSERT)
			continue;
		uint64_t t0 = now_ns();
		if (w->s->drv->load(thr, i, r->key, r->key_len, w->s->value, w->s->o.value_size))
			return fail_op(w, thr, "load");
		record(w, now_ns() - t0, 1);
	}
	return 0;
}

static int run_load(struct worker *w, void *thr, uint8_t *buf)
{
	const struct session *s = w->s;
	if (s->o.traces)
		return load_trace(w, thr);
	/* A pipelining peer loads in pipelined batches too. */
	struct gather batch;
	gather_updates(w, &batch);
	char key[KEY_BUF];
	for (uint64_t n = (uint64_t)w->id; n < s->o.records; n += (uint64_t)w->of) {
		if (batch.cap) {
			if (gather_record(&batch, n) && flush_batch(w, thr, &batch, buf))
				return fail_op(w, thr, "load");
			continue;
		}
		size_t kl = ycsb_key(n, key);
		uint64_t t0 = now_ns();
		if (s->drv->load(thr, n, key, kl, s->value, s->o.value_size))
			return fail_op(w, thr, "load");
		record(w, now_ns() - t0, 1);
	}
	return flush_batch(w, thr, &batch, buf) ? fail_op(w, thr, "load") : 0;
}

/* --------------------------------------------------------- transactions */

/* Replays this thread's share of a transaction trace. */
static int run_trace(struct worker *w, void *thr, uint8_t *buf)
{
	const struct traces *t = w->s->o.traces;
	const struct store_driver *d = w->s->drv;
	size_t vs = w->s->o.value_size, len;
	struct gather reads;
	gather_reads(w, &reads, 0); /* a trace is replayed without pipelining */
	int rc = 0;
	for (size_t i = (size_t)w->id; i < t->run_n && rc == 0; i += (size_t)w->of) {
		const struct trace_record *r = &t->run[i];
		if (r->op == TRACE_READ && reads.cap) {
			if (gather_key(&reads, r->key, r->key_len))
				rc = flush_batch(w, thr, &reads, buf);
			continue;
		}
		uint64_t t0 = now_ns();
		switch (r->op) {
		case TRACE_READ:
		case TRACE_SCAN: /* a hash index has no order: read the start key */
			rc = d->read(thr, r->key, r->key_len, buf, vs, &len);
			break;
		case TRACE_UPDATE:
		case TRACE_INSERT:
			rc = d->update(thr, r->key, r->key_len, w->s->value, vs);
			break;
		case TRACE_DELETE: /* not in the store interface: counted, not run */
			break;
		}
		record(w, now_ns() - t0, 1);
	}
	if (rc == 0)
		rc = flush_batch(w, thr, &reads, buf);
	return rc ? fail_op(w, thr, "trace operation") : 0;
}

/* Untimed and the same for every store: reads of random records, so
 * first-touch page faults and cold caches do not land in the measurement
 * of whichever store happens to run first.  A tenth of the quota, at most
 * 50 000 reads and about a second: a slow store with many threads must not
 * spend the run warming up.  Ends at the start line. */
static int warm_up(struct worker *w, void *thr, uint8_t *buf, uint64_t quota)
{
	const struct options *o = &w->s->o;
	char key[KEY_BUF];
	size_t len;
	uint64_t rng = 0x853c49e6748fea9bULL + (uint64_t)w->id;
	uint64_t until = now_ns() + 1000000000ull;
	int rc = 0;
	for (uint64_t i = 0, n = quota / 10 < 50000 ? quota / 10 : 50000; i < n && !rc; i++) {
		size_t kl = ycsb_key(ycsb_rand(&rng) % o->records, key);
		rc = w->s->drv->read(thr, key, kl, buf, o->value_size, &len);
		if (i % 256 == 255 && now_ns() > until)
			break;
	}
	/* A thread that failed still arrives, or the others would wait for it. */
	start_line_wait(w->ready);
	return rc;
}

/* A hash index has no key order: a scan reads the `len` records that
 * follow the start record in insertion order, as one multi-get.  Every
 * length YCSB draws (1..100 for E) fits one request. */
static int scan(struct worker *w, void *thr, struct ycsb_gen *g, uint8_t *buf)
{
	char keys[STORE_BATCH_MAX][KEY_BUF];
	const char *kp[STORE_BATCH_MAX];
	size_t kl[STORE_BATCH_MAX];
	uint64_t start = ycsb_next_key(g), n = __atomic_load_n(w->s->inserted, __ATOMIC_RELAXED);
	uint32_t want = ycsb_scan_length(g), got = 0;
	for (; got < want && got < STORE_BATCH_MAX && start + got < n; got++) {
		kp[got] = keys[got];
		kl[got] = ycsb_key(start + got, keys[got]);
	}
	return w->s->drv->multi_read(thr, kp, kl, got, buf, w->s->o.value_size);
}

/* One operation as its own request, timed (the key's making included). */
static int one_op(struct worker *w, void *thr, struct ycsb_gen *g, enum ycsb_op op,
		  uint8_t *buf)
{
	const struct store_driver *d = w->s->drv;
	const uint8_t *value = w->s->value;
	size_t vs = w->s->o.value_size, len, kl;
	char key[KEY_BUF];
	uint64_t t0 = now_ns();
	int rc = 0;
	switch (op) {
	case YCSB_READ:
		kl = ycsb_key(ycsb_next_key(g), key);
		rc = d->read(thr, key, kl, buf, vs, &len);
		break;
	case YCSB_UPDATE:
		kl = ycsb_key(ycsb_next_key(g), key);
		rc = d->update(thr, key, kl, value, vs);
		break;
	case YCSB_INSERT:
		kl = ycsb_key(ycsb_next_insert(g), key);
		rc = d->insert(thr, key, kl, value, vs);
		break;
	case YCSB_SCAN:
		rc = scan(w, thr, g, buf);
		break;
	case YCSB_RMW:
		kl = ycsb_key(ycsb_next_key(g), key);
		rc = d->read(thr, key, kl, buf, vs, &len);
		if (rc == 0)
			rc = d->update(thr, key, kl, value, vs);
		break;
	default:
		break;
	}
	record(w, now_ns() - t0, 1);
	return rc;
}

static int run_ops(struct worker *w, void *thr, uint8_t *buf)
{
	const struct options *o = &w->s->o;
	const struct ycsb_workload *wl = ycsb_workload(o->workload);
	struct ycsb_gen g;
	ycsb_gen_init(&g, wl, o->dist >= 0 ? (enum ycsb_dist)o->dist : wl->dist, o->records,
		      w->s->inserted,
		      0x9e3779b97f4a7c15ULL * (uint64_t)(w->id + 1) + (uint64_t)getpid());
	uint64_t quota = o->ops / (uint64_t)w->of + ((uint64_t)w->id < o->ops % (uint64_t)w->of);
	if (warm_up(w, thr, buf, quota))
		return fail_op(w, thr, "warm-up read");
	w->start_ns = now_ns();
	/* --duration counts from here: the warm-up is not part of it. */
	uint64_t deadline = w->duration_ns ? w->start_ns + w->duration_ns : 0;
	/* Reads and updates each gather in their own request (YCSB's operations
	 * are independent, so their order across kinds does not matter). */
	struct gather reads, updates;
	gather_reads(w, &reads, 1);
	gather_updates(w, &updates);
	int rc = 0;
	while (rc == 0 && (!deadline || now_ns() < deadline)) {
		if (w->done + reads.n + updates.n >= quota) {
			/* Quota reached: send what is gathered, then stop. */
			rc = flush_batch(w, thr, &reads, buf);
			if (rc == 0)
				rc = flush_batch(w, thr, &updates, buf);
			break;
		}
		enum ycsb_op op = ycsb_next_op(&g);
		struct gather *b = op == YCSB_READ ? &reads : op == YCSB_UPDATE ? &updates : NULL;
		if (b && b->cap) {
			if (gather_record(b, ycsb_next_key(&g)))
				rc = flush_batch(w, thr, b, buf);
			continue;
		}
		rc = one_op(w, thr, &g, op, buf);
	}
	return rc ? fail_op(w, thr, "operation") : 0;
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	void *thr = NULL;
	uint8_t *buf = malloc(w->s->o.value_size + 64);
	if (!buf || w->s->drv->thread_open(w->proc, &thr)) {
		snprintf(w->error, sizeof w->error, "%s: %s", w->s->drv->name,
			 buf ? "cannot open a connection" : "out of memory");
		thr = NULL;
	} else if (w->load) {
		run_load(w, thr, buf);
	} else {
		shmemora_timing_read(&w->timing, 1); /* start from zero */
		if (w->s->o.traces)
			run_trace(w, thr, buf);
		else
			run_ops(w, thr, buf);
		shmemora_timing_read(&w->timing, 1);
	}
	/* A thread that could not start its transactions still arrives at the
	 * start line, or the others would wait for it. */
	if (!thr && !w->load && !w->s->o.traces)
		start_line_wait(w->ready);
	w->end_ns = now_ns();
	if (thr)
		w->s->drv->thread_close(thr);
	free(buf);
	__atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}
