/*
 * store_lmdb.c — LMDB as a peer: its own environment in the scratch
 * directory (tmpfs), with its fastest settings that keep it a database:
 * MDB_NOSYNC | MDB_WRITEMAP | MDB_NOMETASYNC (no fsync: the SHMemora pool is
 * not fsynced either) and MDB_NORDAHEAD.  One transaction per operation: a
 * read transaction per get (reset and renewed, as LMDB recommends for
 * readers), a write transaction per put (LMDB serializes writers).  A scan,
 * and a --batch of reads, share one read transaction: LMDB's own way to
 * read many keys at once.  Each host process opens the environment itself,
 * as LMDB expects.
 */
#include "store.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lm_global {
	char path[600];
	const struct store_cfg *cfg;
};

struct lm_proc {
	MDB_env *env;
	MDB_dbi dbi;
};

struct lm_thread {
	struct lm_proc *p;
	MDB_txn *rtxn;
	char err[STORE_ERROR_MAX];
};

static size_t map_size(const struct store_cfg *cfg)
{
	return (size_t)(cfg->live * (cfg->value_size + 128) * 3 + (256ULL << 20));
}

static int open_env(const struct lm_global *g, struct lm_proc *p, char *err)
{
	int rc = mdb_env_create(&p->env);
	if (!rc)
		rc = mdb_env_set_mapsize(p->env, map_size(g->cfg));
	if (!rc)
		rc = mdb_env_set_maxreaders(p->env, 512);
	if (!rc)
		rc = mdb_env_open(p->env, g->path, MDB_NOSUBDIR | MDB_NOSYNC | MDB_WRITEMAP |
				  MDB_NOMETASYNC | MDB_NORDAHEAD, 0600);
	MDB_txn *txn;
	if (!rc && !(rc = mdb_txn_begin(p->env, NULL, 0, &txn))) {
		rc = mdb_dbi_open(txn, NULL, 0, &p->dbi);
		rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
	}
	if (rc) {
		snprintf(err, STORE_ERROR_MAX, "%s", mdb_strerror(rc));
		if (p->env)
			mdb_env_close(p->env);
	}
	return rc;
}

static int lm_start(const struct store_cfg *cfg, void **global, char *err)
{
	struct lm_global *g = calloc(1, sizeof *g);
	if (!g) {
		snprintf(err, STORE_ERROR_MAX, "out of memory");
		return -1;
	}
	g->cfg = cfg;
	snprintf(g->path, sizeof g->path, "%s/lmdb", cfg->dir);
	*global = g;
	return 0;
}

static int lm_attach(void *global, void **proc, char *err)
{
	struct lm_proc *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, STORE_ERROR_MAX, "out of memory");
		return -1;
	}
	int rc = open_env(global, p, err);
	if (rc) {
		free(p);
		return rc;
	}
	*proc = p;
	return 0;
}

static int lm_thread_open(void *proc, void **thr)
{
	struct lm_thread *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	t->p = proc;
	int rc = mdb_txn_begin(t->p->env, NULL, MDB_RDONLY, &t->rtxn);
	if (rc) {
		free(t);
		return rc;
	}
	mdb_txn_reset(t->rtxn);
	*thr = t;
	return 0;
}

static int lm_fail(struct lm_thread *t, int rc)
{
	snprintf(t->err, sizeof t->err, "%s", mdb_strerror(rc));
	return rc;
}

static int lm_put(void *thr, const char *key, size_t klen, const void *val, size_t vlen)
{
	struct lm_thread *t = thr;
	MDB_txn *txn;
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc = mdb_txn_begin(t->p->env, NULL, 0, &txn);
	if (rc)
		return lm_fail(t, rc);
	if ((rc = mdb_put(txn, t->p->dbi, &k, &v, 0))) {
		mdb_txn_abort(txn);
		return lm_fail(t, rc);
	}
	rc = mdb_txn_commit(txn);
	return rc ? lm_fail(t, rc) : 0;
}

static int lm_load(void *thr, uint64_t n, const char *key, size_t klen, const void *val,
		   size_t vlen)
{
	(void)n;
	return lm_put(thr, key, klen, val, vlen);
}

/* One read inside the thread's renewed read transaction. */
static int read_in(struct lm_thread *t, const char *key, size_t klen, void *buf, size_t cap)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc = mdb_get(t->rtxn, t->p->dbi, &k, &v);
	if (rc == 0)
		memcpy(buf, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int lm_read(void *thr, const char *key, size_t klen, void *buf, size_t cap, size_t *len)
{
	struct lm_thread *t = thr;
	int rc = mdb_txn_renew(t->rtxn);
	if (rc)
		return lm_fail(t, rc);
	rc = read_in(t, key, klen, buf, cap);
	mdb_txn_reset(t->rtxn);
	*len = cap;
	return rc ? lm_fail(t, rc) : 0;
}

/* n reads in one read transaction: scans, and --batch. */
static int lm_multi_read(void *thr, const char **keys, const size_t *klens, uint32_t n,
			 void *buf, size_t cap)
{
	struct lm_thread *t = thr;
	int rc = mdb_txn_renew(t->rtxn);
	for (uint32_t i = 0; rc == 0 && i < n; i++)
		rc = read_in(t, keys[i], klens[i], buf, cap);
	mdb_txn_reset(t->rtxn);
	return rc ? lm_fail(t, rc) : 0;
}

static void lm_thread_close(void *thr)
{
	struct lm_thread *t = thr;
	mdb_txn_abort(t->rtxn);
	free(t);
}

static void lm_detach(void *proc)
{
	struct lm_proc *p = proc;
	mdb_env_close(p->env);
	free(p);
}

static void lm_stop(void *global)
{
	struct lm_global *g = global;
	char lock[620];
	snprintf(lock, sizeof lock, "%s-lock", g->path);
	remove(g->path);
	remove(lock);
	free(g);
}

static const char *lm_error(void *thr) { return thr ? ((struct lm_thread *)thr)->err : ""; }

const struct store_driver store_lmdb = {
	.name = "lmdb",
	.settings = "MDB_NOSYNC|MDB_WRITEMAP|MDB_NOMETASYNC|MDB_NORDAHEAD on tmpfs; "
		    "one txn per op (reads renew a per-thread read txn)",
	.start = lm_start, .attach = lm_attach, .thread_open = lm_thread_open,
	.load = lm_load, .read = lm_read, .update = lm_put, .insert = lm_put,
	.multi_read = lm_multi_read, .batch_read = lm_multi_read, .thread_close = lm_thread_close, .detach = lm_detach,
	.stop = lm_stop, .error = lm_error,
};
