/*
 * ycsb.h — YCSB's core workloads, generated in process with YCSB's own
 * definitions (CoreWorkload, ZipfianGenerator, ScrambledZipfianGenerator,
 * SkewedLatestGenerator): the same operation mix and key popularity as
 * `bin/ycsb run`, without the JVM.
 *
 *   A  50% read, 50% update, zipfian
 *   B  95% read,  5% update, zipfian
 *   C 100% read, zipfian
 *   D  95% read,  5% insert, latest
 *   E  95% scan,  5% insert, zipfian (scan length uniform 1..100)
 *   F  50% read, 50% read-modify-write, zipfian
 *
 * Keys are YCSB's: "user" followed by the FNV-1a 64 hash of the record
 * number, so popular records are spread over the key space.
 */
#ifndef SHMEMORA_YCSB_H
#define SHMEMORA_YCSB_H

#include <stddef.h>
#include <stdint.h>

enum ycsb_op { YCSB_READ, YCSB_UPDATE, YCSB_INSERT, YCSB_SCAN, YCSB_RMW, YCSB_OPS };
enum ycsb_dist { YCSB_ZIPFIAN, YCSB_UNIFORM, YCSB_LATEST };

struct ycsb_workload {
	char name;                  /* 'A'..'F' */
	double proportion[YCSB_OPS];
	enum ycsb_dist dist;
	uint32_t max_scan;
};

/* The definition of workload 'A'..'F' (case-insensitive); NULL if unknown. */
const struct ycsb_workload *ycsb_workload(char name);
const char *ycsb_op_name(enum ycsb_op op);
const char *ycsb_dist_name(enum ycsb_dist d);

/* Zipfian over [0, items) with YCSB's constant 0.99, by Gray et al.'s
 * method as YCSB implements it. */
struct zipfian {
	uint64_t items;
	double theta, alpha, zetan, eta, zeta2;
};
void zipfian_init(struct zipfian *z, uint64_t items, double theta);
/* Same, with zeta(items) given (YCSB's scrambled generator precomputes it). */
void zipfian_init_zeta(struct zipfian *z, uint64_t items, double theta, double zetan);
uint64_t zipfian_next(const struct zipfian *z, uint64_t *rng);

uint64_t ycsb_fnv64(uint64_t v);
uint64_t ycsb_rand(uint64_t *state);     /* xorshift64*: uniform 64-bit */
double ycsb_rand_double(uint64_t *state); /* uniform [0, 1) */

/* A per-thread stream of operations over a shared record count. */
struct ycsb_gen {
	const struct ycsb_workload *w;
	enum ycsb_dist dist;
	uint64_t records;           /* loaded records */
	uint64_t *inserted;         /* shared counter of records that exist (atomic) */
	struct zipfian scrambled;   /* YCSB ScrambledZipfian: over 10^10, hashed */
	struct zipfian latest;      /* YCSB SkewedLatest: zipfian over recency */
	uint64_t rng;
};

void ycsb_gen_init(struct ycsb_gen *g, const struct ycsb_workload *w, enum ycsb_dist dist,
		   uint64_t records, uint64_t *inserted, uint64_t seed);
enum ycsb_op ycsb_next_op(struct ycsb_gen *g);
/* The record number the next read/update/scan/rmw targets. */
uint64_t ycsb_next_key(struct ycsb_gen *g);
/* A new record number for an insert (claimed from the shared counter). */
uint64_t ycsb_next_insert(struct ycsb_gen *g);
uint32_t ycsb_scan_length(struct ycsb_gen *g);

/* YCSB's key name for record number n into buf (at least 32 bytes). */
size_t ycsb_key(uint64_t n, char *buf);

#endif
