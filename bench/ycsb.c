/*
 * ycsb.c — YCSB's workload generators (see ycsb.h), following YCSB's Java
 * sources: ZipfianGenerator (Gray et al., "Quickly generating
 * billion-record synthetic databases"), ScrambledZipfianGenerator (a
 * zipfian over 10^10 items with a precomputed zeta, FNV-hashed into the
 * record range) and SkewedLatestGenerator (the newest records most
 * popular).
 */
#include "ycsb.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>

#define ZIPFIAN_CONSTANT 0.99
#define SCRAMBLED_ITEMS 10000000000ULL
#define SCRAMBLED_ZETAN 26.46902820178302 /* zeta(10^10, 0.99), from YCSB */

static const struct ycsb_workload workloads[] = {
	{ 'A', { [YCSB_READ] = 0.50, [YCSB_UPDATE] = 0.50 }, YCSB_ZIPFIAN, 0 },
	{ 'B', { [YCSB_READ] = 0.95, [YCSB_UPDATE] = 0.05 }, YCSB_ZIPFIAN, 0 },
	{ 'C', { [YCSB_READ] = 1.00 }, YCSB_ZIPFIAN, 0 },
	{ 'D', { [YCSB_READ] = 0.95, [YCSB_INSERT] = 0.05 }, YCSB_LATEST, 0 },
	{ 'E', { [YCSB_SCAN] = 0.95, [YCSB_INSERT] = 0.05 }, YCSB_ZIPFIAN, 100 },
	{ 'F', { [YCSB_READ] = 0.50, [YCSB_RMW] = 0.50 }, YCSB_ZIPFIAN, 0 },
};

const struct ycsb_workload *ycsb_workload(char name)
{
	for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
		if (workloads[i].name == toupper((unsigned char)name))
			return &workloads[i];
	return NULL;
}

const char *ycsb_op_name(enum ycsb_op op)
{
	static const char *names[] = { "read", "update", "insert", "scan", "rmw" };
	return op < YCSB_OPS ? names[op] : "?";
}

const char *ycsb_dist_name(enum ycsb_dist d)
{
	return d == YCSB_ZIPFIAN ? "zipfian" : d == YCSB_UNIFORM ? "uniform" : "latest";
}

uint64_t ycsb_fnv64(uint64_t v)
{
	/* YCSB's Utils.fnvhash64: FNV-1a over the 8 bytes, low byte first,
	 * then Math.abs of the signed result. */
	uint64_t h = 0xCBF29CE484222325ULL;
	for (int i = 0; i < 8; i++) {
		h ^= v & 0xff;
		h *= 1099511628211ULL;
		v >>= 8;
	}
	return (h >> 63) ? (~h + 1) : h;
}

uint64_t ycsb_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

double ycsb_rand_double(uint64_t *s)
{
	return (double)(ycsb_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double zeta(uint64_t n, double theta)
{
	double sum = 0;
	for (uint64_t i = 0; i < n; i++)
		sum += 1.0 / pow((double)(i + 1), theta);
	return sum;
}

void zipfian_init_zeta(struct zipfian *z, uint64_t items, double theta, double zetan)
{
	z->items = items;
	z->theta = theta;
	z->zeta2 = zeta(2, theta);
	z->alpha = 1.0 / (1.0 - theta);
	z->zetan = zetan;
	z->eta = (1 - pow(2.0 / (double)items, 1 - theta)) / (1 - z->zeta2 / zetan);
}

void zipfian_init(struct zipfian *z, uint64_t items, double theta)
{
	zipfian_init_zeta(z, items, theta, zeta(items, theta));
}

uint64_t zipfian_next(const struct zipfian *z, uint64_t *rng)
{
	double u = ycsb_rand_double(rng), uz = u * z->zetan;
	if (uz < 1.0)
		return 0;
	if (uz < 1.0 + pow(0.5, z->theta))
		return 1;
	uint64_t r = (uint64_t)((double)z->items * pow(z->eta * u - z->eta + 1, z->alpha));
	return r < z->items ? r : z->items - 1;
}

void ycsb_gen_init(struct ycsb_gen *g, const struct ycsb_workload *w, enum ycsb_dist dist,
		   uint64_t records, uint64_t *inserted, uint64_t seed)
{
	g->w = w;
	g->dist = dist;
	g->records = records;
	g->inserted = inserted;
	g->rng = seed ? seed : 88172645463325252ULL;
	zipfian_init_zeta(&g->scrambled, SCRAMBLED_ITEMS, ZIPFIAN_CONSTANT, SCRAMBLED_ZETAN);
	if (dist == YCSB_LATEST)
		zipfian_init(&g->latest, records, ZIPFIAN_CONSTANT);
}

enum ycsb_op ycsb_next_op(struct ycsb_gen *g)
{
	double u = ycsb_rand_double(&g->rng), acc = 0;
	for (int op = 0; op < YCSB_OPS; op++) {
		acc += g->w->proportion[op];
		if (u < acc)
			return (enum ycsb_op)op;
	}
	return YCSB_READ;
}

uint64_t ycsb_next_key(struct ycsb_gen *g)
{
	uint64_t n = __atomic_load_n(g->inserted, __ATOMIC_RELAXED);
	switch (g->dist) {
	case YCSB_UNIFORM:
		return ycsb_rand(&g->rng) % n;
	case YCSB_LATEST: {
		/* SkewedLatest: the newest record is the most popular.  The
		 * zipfian is over the loaded records; newer inserts shift it. */
		uint64_t back = zipfian_next(&g->latest, &g->rng);
		return back < n ? n - 1 - back : 0;
	}
	case YCSB_ZIPFIAN:
		break;
	}
	/* ScrambledZipfian over the loaded records, as YCSB's CoreWorkload
	 * builds it (itemcount = records); inserts keep it on the loaded set. */
	return ycsb_fnv64(zipfian_next(&g->scrambled, &g->rng)) % g->records;
}

uint64_t ycsb_next_insert(struct ycsb_gen *g)
{
	return __atomic_fetch_add(g->inserted, 1, __ATOMIC_RELAXED);
}

uint32_t ycsb_scan_length(struct ycsb_gen *g)
{
	return g->w->max_scan ? 1 + (uint32_t)(ycsb_rand(&g->rng) % g->w->max_scan) : 0;
}

size_t ycsb_key(uint64_t n, char *buf)
{
	return (size_t)snprintf(buf, 32, "user%llu", (unsigned long long)ycsb_fnv64(n));
}
