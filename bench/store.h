/*
 * store.h — what the benchmark drives: one interface, one driver per store
 * (SHMemora protected and unprotected, LMDB, Redis, memcached), so every
 * store runs the same workload, the same keys and the same values.
 *
 * Life cycle: start (once: create the pool, environment or server) →
 * attach (per host process) → thread_open (per thread: its connection or
 * transaction handle) → operations → thread_close → detach → stop.
 */
#ifndef SHMEMORA_BENCH_STORE_H
#define SHMEMORA_BENCH_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The most keys one multi_read, multi_update or batch_read carries: YCSB's
 * longest scan (100) and the largest --batch and --pipeline fit. */
#define STORE_BATCH_MAX 128

/* The longest error text a driver reports. */
#define STORE_ERROR_MAX 300

struct store_cfg {
	uint64_t records;       /* loaded records */
	uint64_t live;          /* the most records that exist at once (loaded + inserted) */
	uint64_t entries;       /* the most entries the run holds at once, all hosts */
	size_t key_max;         /* longest key */
	size_t value_size;
	uint64_t pool_size;     /* SHMemora: --size, or 0 to size the pool from the above */
	int hosts;              /* host processes that will attach */
	int use_batch;          /* SHMemora: one token per batch_kvs loaded keys */
	uint32_t batch_kvs;
	int verify;             /* SHMemora: enum shmemora_verify */
	int coherence;          /* SHMemora: enum shmemora_coherence */
	int pipeline;           /* Redis, memcached: requests in flight (1 = none) */
	char dir[512];          /* scratch directory for pools, sockets, databases */
};

struct store_driver {
	const char *name;
	const char *settings;   /* one line: how it is configured */
	/* start and attach write what went wrong into err (STORE_ERROR_MAX). */
	int (*start)(const struct store_cfg *cfg, void **global, char *err);
	int (*attach)(void *global, void **proc, char *err);
	int (*thread_open)(void *proc, void **thr);
	/* Loading: n is the record number (SHMemora mints tokens per batch). */
	int (*load)(void *thr, uint64_t n, const char *key, size_t klen, const void *val,
		    size_t vlen);
	int (*read)(void *thr, const char *key, size_t klen, void *buf, size_t cap, size_t *len);
	int (*update)(void *thr, const char *key, size_t klen, const void *val, size_t vlen);
	int (*insert)(void *thr, const char *key, size_t klen, const void *val, size_t vlen);
	/* Reads of `n` keys at once (scans, and pipelined reads). */
	int (*multi_read)(void *thr, const char **keys, const size_t *klens, uint32_t n,
			  void *buf, size_t cap);
	/* Writes of `n` keys at once (pipelined updates); NULL: one by one. */
	int (*multi_update)(void *thr, const char **keys, const size_t *klens, uint32_t n,
			    const void *val, size_t vlen);
	/* --batch: `n` reads as one request of the store's own multi-key
	 * primitive (SHMemora multi_get, an LMDB read transaction, Redis MGET,
	 * memcached mget).  Where that primitive is what multi_read already
	 * does, it is the same function. */
	int (*batch_read)(void *thr, const char **keys, const size_t *klens, uint32_t n,
			  void *buf, size_t cap);
	void (*thread_close)(void *thr);
	void (*detach)(void *proc);
	void (*stop)(void *global);
	/* Set after an error: what went wrong, for the report. */
	const char *(*error)(void *thr);
};

extern const struct store_driver store_shmemora;
extern const struct store_driver store_shmemora_flush; /* the same, in flush mode */
extern const struct store_driver store_lmdb;
extern const struct store_driver store_redis;
extern const struct store_driver store_memcached;

#endif
