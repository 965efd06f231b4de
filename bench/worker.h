/*
 * worker.h — one benchmark thread: its share of a load or of the
 * transactions of a YCSB workload or trace, against one store, timing each
 * request.  run.c starts the workers of a phase and gathers what they did.
 */
#ifndef SHMEMORA_BENCH_WORKER_H
#define SHMEMORA_BENCH_WORKER_H

#include "run.h"

#include <pthread.h>

/* Where a phase's threads wait for each other before their timed part: a
 * barrier whose count can shrink when fewer threads start than planned
 * (pthread_barrier_t cannot, and a thread that never started would leave
 * the others waiting for ever). */
struct start_line {
	pthread_mutex_t lock;
	pthread_cond_t go;
	int expected, arrived;
};
void start_line_init(struct start_line *s, int expected);
void start_line_wait(struct start_line *s);
void start_line_expect(struct start_line *s, int expected);
void start_line_destroy(struct start_line *s);

struct worker {
	const struct session *s;
	void *proc;                 /* the store in this process (attach) */
	int id, of;                 /* this thread's index, and how many in total */
	int load;                   /* 1: load phase, 0: transactions */
	uint64_t duration_ns;       /* --duration: the timed part's length, or 0 */
	struct start_line *ready;   /* all threads of the phase end their warm-up */
	/* What it did. */
	uint64_t done;              /* operations */
	uint64_t requests;          /* calls into the store that carried them */
	uint32_t *lat;              /* a latency sample per request, ns */
	size_t nlat, caplat;
	char error[RESULT_ERROR_MAX];
	shmemora_timing timing;     /* this thread's breakdown (--timing) */
	int finished;               /* set when the thread is done (progress line) */
	uint64_t start_ns;          /* when its timed part began (after warm-up) */
	uint64_t end_ns;            /* when it finished: the phase ends at the last */
};

/* The thread's body (pthread_create): the load or the transactions. */
void *worker_main(void *arg);

#endif
