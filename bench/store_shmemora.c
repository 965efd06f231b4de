/*
 * store_shmemora.c — the benchmark's SHMemora driver, protected or (built
 * with -DSHMEMORA_UNPROTECTED against the unprotected library) not.
 *
 * Tokens follow the seed's cost model: while loading, with use_batch = 0
 * every key gets its own key token minted (derive) and is inserted with it;
 * with use_batch = 1 one namespace token is minted per batch_kvs keys.
 * Transactions use a namespace token under the configured MAC policy
 * (use_mac: 1 always, 0 off; or cached).
 */
#include "store.h"

#include "shmemora.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS "usertable"

struct shm_global {
	char path[600];
	const struct store_cfg *cfg;
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

/* Host slots: each --hosts process, and the process that loads (it stays
 * attached while the hosts run). */
static uint32_t slots(const struct store_cfg *cfg)
{
	return (uint32_t)cfg->hosts + 1;
}

static uint64_t pool_size_for(const struct store_cfg *cfg)
{
	uint64_t per = 64 + 32 + cfg->value_size;
	per = (per + 63) & ~63ULL;
	uint64_t size = cfg->live * per * 2 + (256ULL << 20);
	return (size + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
}

static int create_pool(const struct shm_global *g, shmemora_pool **pool, char *err)
{
	const struct store_cfg *cfg = g->cfg;
	shmemora_config *c;
	if (shmemora_config_new(&c)) {
		snprintf(err, STORE_ERROR_MAX, "config: %s", shmemora_errmsg());
		return -1;
	}
	int rc = shmemora_config_set_size(c, pool_size_for(cfg));
	if (!rc)
		rc = shmemora_config_set_hosts(c, slots(cfg));
	if (!rc)
		rc = shmemora_config_set_index_slots(c, cfg->live * 4);
	if (!rc)
		rc = shmemora_config_set_capabilities(c, cfg->live + 4096 > (1u << 24)
						      ? (1u << 24) : cfg->live + 4096);
	if (!rc)
		rc = shmemora_create(g->path, c, pool);
	shmemora_config_delete(c);
	if (rc)
		snprintf(err, STORE_ERROR_MAX, "%s", shmemora_errmsg());
	return rc;
}

static int shm_start(const struct store_cfg *cfg, void **global, char *err)
{
	struct shm_global *g = calloc(1, sizeof *g);
	if (!g) {
		snprintf(err, STORE_ERROR_MAX, "out of memory");
		return -1;
	}
	g->cfg = cfg;
	snprintf(g->path, sizeof g->path, "%s/pool", cfg->dir);
	shmemora_pool *pool;
	int rc = create_pool(g, &pool, err);
	if (rc) {
		free(g);
		return rc;
	}
	char file[620];
	shmemora_token root;
	snprintf(file, sizeof file, "%s.root-token", g->path);
	if (((rc = shmemora_token_load(file, &root)) ||
		    (rc = shmemora_ns_create(pool, &root, NS))))
		snprintf(err, STORE_ERROR_MAX, "%s", shmemora_errmsg());
	shmemora_detach(pool);
	*global = g; /* stop() destroys the pool, also after a failure here */
	return rc;
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
