/*
 * micro.c — the micro mode (see micro.h).
 *
 * After the usual load (run.c's session and load phase), four
 * measurements on uniformly random loaded keys:
 *   get-latency, put-latency  one thread, --ops operations, each timed;
 *   get-throughput            --threads threads for --duration seconds
 *   mix-throughput            (default 3), half gets and half puts.
 * The throughput loops are not timed per operation and look at the clock
 * only every 256 operations, so they show the most the store does, where
 * the YCSB mode's figures include its per-operation clock reads.
 */
#include "micro.h"
#include "measure.h"
#include "ycsb.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_BUF 32
#define DEFAULT_SECONDS 3.0

static const char *const tests[MICRO_ROWS] = {
	"get-latency", "put-latency", "get-throughput", "mix-throughput",
};

double micro_seconds(const struct options *o)
{
	return o->duration > 0 ? o->duration : DEFAULT_SECONDS;
}

/* One thread, `ops` gets or puts, each timed. */
static void latency(const struct session *s, int put, struct phase *out, char *error)
{
	const struct options *o = &s->o;
	void *thr = NULL;
	uint32_t *lat = malloc(o->ops * sizeof *lat);
	uint8_t *buf = malloc(o->value_size + 64);
	if (!lat || !buf || s->drv->thread_open(s->proc, &thr)) {
		snprintf(error, RESULT_ERROR_MAX, "%s: %s", s->drv->name,
			 lat && buf ? "cannot open a connection" : "out of memory");
		free(lat);
		free(buf);
		return;
	}
	uint64_t rng = 88172645463325252ULL, n = 0, t0 = now_ns();
	char key[KEY_BUF];
	size_t len;
	for (; n < o->ops; n++) {
		size_t kl = ycsb_key(ycsb_rand(&rng) % o->records, key);
		uint64_t a = now_ns();
		int rc = put ? s->drv->update(thr, key, kl, s->value, o->value_size)
			     : s->drv->read(thr, key, kl, buf, o->value_size, &len);
		lat[n] = (uint32_t)(now_ns() - a);
		if (rc) {
			snprintf(error, RESULT_ERROR_MAX, "%s %s: %s", s->drv->name,
				 put ? "put" : "get", s->drv->error(thr));
			break;
		}
	}
	out->ops = n;
	out->seconds = (double)(now_ns() - t0) / 1e9;
	out->mops = out->seconds > 0 ? (double)n / out->seconds / 1e6 : 0;
	phase_latency(out, lat, n);
	s->drv->thread_close(thr);
	free(lat);
	free(buf);
}

struct tput_thread {
	const struct session *s;
	int mix;
	const int *stop;
	uint64_t seed, done;
	char error[RESULT_ERROR_MAX];
};

static void *tput_main(void *arg)
{
	struct tput_thread *a = arg;
	const struct session *s = a->s;
	size_t vs = s->o.value_size, len;
	void *thr;
	uint8_t *buf = malloc(vs + 64);
	if (!buf || s->drv->thread_open(s->proc, &thr)) {
		snprintf(a->error, sizeof a->error, "%s: cannot open a connection", s->drv->name);
		free(buf);
		return NULL;
	}
	char key[KEY_BUF];
	int rc = 0;
	while (!rc && !__atomic_load_n(a->stop, __ATOMIC_RELAXED)) {
		for (int b = 0; b < 256 && !rc; b++) {
			size_t kl = ycsb_key(ycsb_rand(&a->seed) % s->o.records, key);
			rc = a->mix && (ycsb_rand(&a->seed) & 1)
				? s->drv->update(thr, key, kl, s->value, vs)
				: s->drv->read(thr, key, kl, buf, vs, &len);
			a->done += !rc;
		}
	}
	if (rc)
		snprintf(a->error, sizeof a->error, "%s: %s", s->drv->name, s->drv->error(thr));
	s->drv->thread_close(thr);
	free(buf);
	return NULL;
}

/* --threads threads of gets (or a 50/50 mix) for the duration. */
static void throughput(const struct session *s, int mix, struct phase *out, char *error)
{
	int t = s->o.threads, stop = 0, started = 0;
	double seconds = micro_seconds(&s->o);
	struct tput_thread *a = calloc((size_t)t, sizeof *a);
	pthread_t *th = calloc((size_t)t, sizeof *th);
	uint64_t t0 = now_ns();
	for (int i = 0; a && th && i < t; i++, started++) {
		a[i] = (struct tput_thread){ .s = s, .mix = mix, .stop = &stop,
					     .seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1) };
		int rc = pthread_create(&th[i], NULL, tput_main, &a[i]);
		if (rc) {
			snprintf(error, RESULT_ERROR_MAX, "cannot start thread %d: %s", i, strerror(rc));
			break;
		}
	}
	if (!a || !th)
		snprintf(error, RESULT_ERROR_MAX, "out of memory for %d threads", t);
	if (started == t) {
		struct timespec d = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
		nanosleep(&d, NULL);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		out->ops += a[i].done;
		if (a[i].error[0] && !error[0])
			snprintf(error, RESULT_ERROR_MAX, "%s", a[i].error);
	}
	out->seconds = (double)(now_ns() - t0) / 1e9;
	out->mops = out->seconds > 0 ? (double)out->ops / out->seconds / 1e6 : 0;
	free(a);
	free(th);
}

int micro_run(const struct options *o, struct result *rows)
{
	struct options one = *o;
	one.threads = 1; /* the latency rows */
	for (int i = 0; i < MICRO_ROWS; i++) {
		result_init(&rows[i], &store_shmemora, i < 2 ? &one : o, 1);
		snprintf(rows[i].test, sizeof rows[i].test, "%s", tests[i]);
	}
	struct session s;
	char error[RESULT_ERROR_MAX] = "";
	struct phase load = { 0 };
	if (session_open(&s, o, &store_shmemora, 1, error) == 0) {
		run_phase(&s, s.proc, 1, 0, o->threads, &load, error);
		for (int i = 0; i < MICRO_ROWS && !error[0]; i++) {
			rows[i].load = load;
			if (i < 2)
				latency(&s, i == 1, &rows[i].run, error);
			else
				throughput(&s, i == 3, &rows[i].run, error);
			rows[i].mops_min = rows[i].mops_max = rows[i].run.mops;
		}
		session_close(&s);
	}
	for (int i = 0; i < MICRO_ROWS && error[0]; i++)
		snprintf(rows[i].error, sizeof rows[i].error, "%s", error);
	return error[0] != 0;
}
