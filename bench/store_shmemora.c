/*
 * store_shmemora.c — the benchmark's SHMemora driver, protected or (built
 * with -DSHMEMORA_UNPROTECTED against the unprotected library) not.
 *
 * Tokens follow the seed's cost model: while loading, with use_batch = 0
 * every key gets its own key token minted (derive) and is inserted with it;
 * with use_batch = 1 one namespace token is minted per batch_kvs keys.
 * Transactions use a namespace token under the configured MAC policy
 * (use_mac: 1 always, 0 off; or cached).
 *
 * The pool is sized for what the run can hold at once (store_cfg.entries,
 * all hosts together: they share the data region's extents), not for how
 * many operations it may run: updates free the entry they replace.  After creating it, the driver checks the
 * library's real geometry against that need, so a --size too small is
 * refused with the size that would do, before anything is loaded.
 */
#include "store.h"

#include "shmemora.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS "usertable"
#define MIB (1ULL << 20)
/* An entry's header stays within 64 bytes (the library's budget). */
#define ENTRY_HEADER_MAX 64
/* Extents are at most 2 MiB for these pools; each host may hold a partly
 * used one per size class, so the estimate adds a few per host. */
#define EXTENT_MAX (2 * MIB)
#define EXTENTS_PER_HOST 3

struct shm_global {
	char path[600];
	const struct store_cfg *cfg;
	int coherence;              /* enum shmemora_coherence */
};

struct shm_proc {
	struct shm_global *g;
	shmemora_pool *pool;
	shmemora_token root, ns_token;
};

struct shm_thread {
	struct shm_proc *p;
	shmemora_token batch;       /* the current load batch's token */
	uint64_t batch_left;
	shmemora_kv_item items[STORE_BATCH_MAX];
	char err[STORE_ERROR_MAX];
};

static int fail(struct shm_thread *t, int rc)
{
	if (t)
		snprintf(t->err, sizeof t->err, "%s", shmemora_errmsg());
	return rc;
}

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* Host slots: each --hosts process, and the process that loads (it stays
 * attached while the hosts run). */
static uint32_t slots(const struct store_cfg *cfg)
{
	return (uint32_t)cfg->hosts + 1;
}

/* Eight slots per record: the index at 12.5% load, as in the reference runs
 * (1 M records and 1 M operations, when it was sized from both). */
static uint64_t index_slots(const struct store_cfg *cfg) { return cfg->live * 8; }

static uint64_t capabilities(const struct store_cfg *cfg)
{
	/* use_batch = 0 mints a key token per loaded record; each host one more. */
	uint64_t caps = cfg->records + (uint64_t)cfg->hosts + 4096;
	return caps > (1u << 24) ? (1u << 24) : caps;
}

/* A pool whose data region holds `entries` entries.  An entry's size class
 * is at most 1.5 times its bytes (the classes step by 1.5 and 1.33);
 * check_geometry() then verifies against the classes and extents the pool
 * really has.  The raw area takes 1/64 of the pool. */
static uint64_t pool_size_for(const struct store_cfg *cfg)
{
	uint64_t entry = round_up(ENTRY_HEADER_MAX + cfg->key_max + cfg->value_size, 64);
	uint64_t data = cfg->entries * (entry + entry / 2) +
			(uint64_t)slots(cfg) * EXTENTS_PER_HOST * EXTENT_MAX;
	uint64_t meta = capabilities(cfg) * 64 + index_slots(cfg) * 8 + 16 * MIB;
	return round_up((data + meta) * 64 / 63, 2 * MIB);
}

static void format_mib(uint64_t bytes, char *out, size_t cap)
{
	snprintf(out, cap, "%lluM", (unsigned long long)((bytes + MIB - 1) / MIB));
}

/* Whether the pool holds cfg->entries entries, with a partly used extent
 * per host slot aside. */
static int check_geometry(const struct store_cfg *cfg, shmemora_pool *pool, char *err)
{
	shmemora_info info;
	int rc = shmemora_pool_info(pool, &info);
	if (rc) {
		snprintf(err, STORE_ERROR_MAX, "pool info: %s", shmemora_errmsg());
		return rc;
	}
	uint64_t need = ENTRY_HEADER_MAX + cfg->key_max + cfg->value_size, cls = 0;
	for (uint32_t i = 0; i < info.size_class_count && !cls; i++)
		if (info.size_classes[i] >= need)
			cls = info.size_classes[i];
	uint64_t spare = info.extents > info.max_hosts ? info.extents - info.max_hosts : 0;
	uint64_t fits = cls ? spare * (info.extent_size / cls) : 0;
	if (fits >= cfg->entries)
		return 0;
	char have[32], want[32];
	format_mib(info.size, have, sizeof have);
	format_mib(pool_size_for(cfg), want, sizeof want);
	snprintf(err, STORE_ERROR_MAX, "a pool of %s cannot hold the run: it must hold %llu "
		 "entries of %zu-byte values, and holds %llu; use --size %s or more", have,
		 (unsigned long long)cfg->entries, cfg->value_size, (unsigned long long)fits, want);
	return -1;
}

static int create_pool(const struct shm_global *g, shmemora_pool **pool, char *err)
{
	const struct store_cfg *cfg = g->cfg;
	shmemora_config *c;
	if (shmemora_config_new(&c)) {
		snprintf(err, STORE_ERROR_MAX, "config: %s", shmemora_errmsg());
		return -1;
	}
	int rc = shmemora_config_set_size(c, cfg->pool_size ? cfg->pool_size : pool_size_for(cfg));
	if (!rc)
		rc = shmemora_config_set_hosts(c, slots(cfg));
	if (!rc)
		rc = shmemora_config_set_index_slots(c, index_slots(cfg));
	if (!rc)
		rc = shmemora_config_set_capabilities(c, capabilities(cfg));
	if (!rc)
		rc = shmemora_config_set_raw_size(c, 0); /* no raw region: KV only */
	if (!rc)
		rc = shmemora_config_set_coherence(c, (enum shmemora_coherence)g->coherence);
	if (!rc)
		rc = shmemora_create(g->path, c, pool);
	shmemora_config_delete(c);
	if (rc)
		snprintf(err, STORE_ERROR_MAX, "%s", shmemora_errmsg());
	return rc;
}

static int start_in_mode(const struct store_cfg *cfg, int coherence, void **global, char *err)
{
	struct shm_global *g = calloc(1, sizeof *g);
	if (!g) {
		snprintf(err, STORE_ERROR_MAX, "out of memory");
		return -1;
	}
	g->cfg = cfg;
	g->coherence = coherence;
	snprintf(g->path, sizeof g->path, "%s/pool", cfg->dir);
	shmemora_pool *pool;
	int rc = create_pool(g, &pool, err);
	if (rc) {
		free(g);
		return rc;
	}
	rc = check_geometry(cfg, pool, err);
	char file[620];
	shmemora_token root;
	snprintf(file, sizeof file, "%s.root-token", g->path);
	if (!rc && ((rc = shmemora_token_load(file, &root)) ||
		    (rc = shmemora_ns_create(pool, &root, NS))))
		snprintf(err, STORE_ERROR_MAX, "%s", shmemora_errmsg());
	shmemora_detach(pool);
	*global = g; /* stop() destroys the pool, also after a failure here */
	return rc;
}

/* In the mode --coherence chose. */
static int shm_start(const struct store_cfg *cfg, void **global, char *err)
{
	return start_in_mode(cfg, cfg->coherence, global, err);
}

/* --compare --peers flush: the same store, in flush mode whatever
 * --coherence says. */
static int shm_start_flush(const struct store_cfg *cfg, void **global, char *err)
{
	return start_in_mode(cfg, SHMEMORA_FLUSH, global, err);
}

static int shm_attach(void *global, void **proc, char *err)
{
	struct shm_global *g = global;
	struct shm_proc *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, STORE_ERROR_MAX, "out of memory");
		return -1;
	}
	p->g = g;
	char file[620];
	snprintf(file, sizeof file, "%s.root-token", g->path);
	int rc = shmemora_attach(g->path, NULL, &p->pool);
	if (rc == 0)
		rc = shmemora_token_load(file, &p->root);
	shmemora_grant ns = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = NS,
			      .rights = SHMEMORA_RIGHTS_ALL };
	if (rc == 0)
		rc = shmemora_token_derive(p->pool, &p->root, &ns, &p->ns_token);
	if (rc == 0)
		rc = shmemora_set_verify(p->pool, (enum shmemora_verify)g->cfg->verify);
	if (rc) {
		snprintf(err, STORE_ERROR_MAX, "attach: %s", shmemora_errmsg());
		if (p->pool)
			shmemora_detach(p->pool);
		free(p);
		return rc;
	}
	*proc = p;
	return 0;
}

static int shm_thread_open(void *proc, void **thr)
{
	struct shm_thread *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	t->p = proc;
	*thr = t;
	return 0;
}

static int shm_load(void *thr, uint64_t n, const char *key, size_t klen, const void *val,
		    size_t vlen)
{
	(void)n;
	struct shm_thread *t = thr;
	const struct store_cfg *cfg = t->p->g->cfg;
	int rc;
#ifdef SHMEMORA_UNPROTECTED
	/* No protection, no tokens to mint: the baseline pays none of it. */
	t->batch = t->p->ns_token;
	t->batch_left = 1;
	(void)cfg;
#endif
	if (t->batch_left == 0) {
		/* Mint: a key token for this key, or a namespace token for the
		 * next batch_kvs keys. */
		shmemora_grant g = { .ns = NS, .rights = SHMEMORA_RIGHT_INSERT |
						       SHMEMORA_RIGHT_WRITE | SHMEMORA_RIGHT_READ };
		if (cfg->use_batch) {
			g.scope = SHMEMORA_SCOPE_NAMESPACE;
			t->batch_left = cfg->batch_kvs ? cfg->batch_kvs : 1;
		} else {
			g.scope = SHMEMORA_SCOPE_KEY;
			g.key = key;
			g.key_len = klen;
			t->batch_left = 1;
		}
		if ((rc = shmemora_token_derive(t->p->pool, &t->p->root, &g, &t->batch)))
			return fail(t, rc);
	}
	t->batch_left--;
	rc = shmemora_kv_put(t->p->pool, &t->batch, NS, key, klen, val, vlen);
	return rc ? fail(t, rc) : 0;
}

static int shm_read(void *thr, const char *key, size_t klen, void *buf, size_t cap,
		    size_t *len)
{
	struct shm_thread *t = thr;
	int rc = shmemora_kv_get(t->p->pool, &t->p->ns_token, NS, key, klen, buf, cap, len, NULL);
	return rc && rc != SHMEMORA_E_NOT_FOUND ? fail(t, rc) : 0;
}

static int shm_update(void *thr, const char *key, size_t klen, const void *val, size_t vlen)
{
	struct shm_thread *t = thr;
	int rc = shmemora_kv_put(t->p->pool, &t->p->ns_token, NS, key, klen, val, vlen);
	return rc ? fail(t, rc) : 0;
}

/* One multi_get call for all n keys (n <= STORE_BATCH_MAX). */
static int shm_multi_read(void *thr, const char **keys, const size_t *klens, uint32_t n,
			  void *buf, size_t cap)
{
	struct shm_thread *t = thr;
	for (uint32_t i = 0; i < n; i++)
		t->items[i] = (shmemora_kv_item){ .key = keys[i], .key_len = klens[i], .buf = buf,
						  .cap = cap };
	int rc = shmemora_kv_multi_get(t->p->pool, &t->p->ns_token, NS, t->items, n);
	if (rc)
		return fail(t, rc);
	for (uint32_t i = 0; i < n; i++)
		if (t->items[i].rc && t->items[i].rc != SHMEMORA_E_NOT_FOUND) {
			snprintf(t->err, sizeof t->err, "multi_get item %u: %s", i,
				 shmemora_strerror(t->items[i].rc));
			return t->items[i].rc;
		}
	return 0;
}

static void shm_thread_close(void *thr) { free(thr); }

static void shm_detach(void *proc)
{
	struct shm_proc *p = proc;
	shmemora_token_revoke(p->pool, &p->ns_token);
	shmemora_detach(p->pool);
	free(p);
}

static void shm_stop(void *global)
{
	struct shm_global *g = global;
	shmemora_destroy(g->path, NULL);
	free(g);
}

static const char *shm_error(void *thr) { return thr ? ((struct shm_thread *)thr)->err : ""; }

const struct store_driver store_shmemora = {
#ifdef SHMEMORA_UNPROTECTED
	.name = "shmemora-unprotected",
	.settings = "same code, protection compiled out (-DSHMEMORA_UNPROTECTED)",
#else
	.name = "shmemora",
	.settings = "protected path; pool on /dev/shm",
#endif
	.start = shm_start, .attach = shm_attach, .thread_open = shm_thread_open,
	.load = shm_load, .read = shm_read, .update = shm_update, .insert = shm_update,
	.multi_read = shm_multi_read, .batch_read = shm_multi_read,
	.thread_close = shm_thread_close, .detach = shm_detach, .stop = shm_stop,
	.error = shm_error,
};

const struct store_driver store_shmemora_flush = {
#ifdef SHMEMORA_UNPROTECTED
	.name = "shmemora-unprotected-flush",
	.settings = "protection compiled out; flush coherence (lines written back, invalidated)",
#else
	.name = "shmemora-flush",
	.settings = "protected path; flush coherence (lines written back, invalidated)",
#endif
	.start = shm_start_flush, .attach = shm_attach, .thread_open = shm_thread_open,
	.load = shm_load, .read = shm_read, .update = shm_update, .insert = shm_update,
	.multi_read = shm_multi_read, .batch_read = shm_multi_read,
	.thread_close = shm_thread_close, .detach = shm_detach, .stop = shm_stop,
	.error = shm_error,
};
