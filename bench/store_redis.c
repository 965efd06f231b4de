/*
 * store_redis.c — Redis as a peer: redis-server started by the harness on a
 * Unix socket, persistence off (--save "" --appendonly no), driven with
 * hiredis, one connection per thread; SET and GET per operation.  With
 * pipeline > 1, reads and updates are sent as pipelined batches (all
 * requests written, then all replies read).  With --batch, a batch of reads
 * is one MGET: Redis's own multi-key read, one request and one reply.
 */
#include "store.h"
#include "server.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rd_global {
	char sock[108];  /* sun_path's size */
	pid_t pid;
	const struct store_cfg *cfg;
};

struct rd_thread {
	redisContext *c;
	char err[STORE_ERROR_MAX];
};

static int rd_start(const struct store_cfg *cfg, void **global, char *err)
{
	struct rd_global *g = calloc(1, sizeof *g);
	if (!g) {
		snprintf(err, STORE_ERROR_MAX, "out of memory");
		return -1;
	}
	g->cfg = cfg;
	if (server_socket_path(cfg->dir, "redis.sock", g->sock, sizeof g->sock, err)) {
		free(g);
		return -1;
	}
	char *argv[] = { "redis-server", "--port", "0", "--unixsocket", g->sock,
			 "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
			 "--dir", (char *)cfg->dir, NULL };
	g->pid = server_start(argv, g->sock, err);
	if (g->pid < 0) {
		free(g);
		return -1;
	}
	*global = g;
	return 0;
}

static int rd_attach(void *global, void **proc, char *err)
{
	(void)err;
	*proc = global;
	return 0;
}

static int rd_thread_open(void *proc, void **thr)
{
	struct rd_global *g = proc;
	struct rd_thread *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	t->c = redisConnectUnix(g->sock);
	if (!t->c || t->c->err) {
		fprintf(stderr, "redis: %s\n", t->c ? t->c->errstr : "out of memory");
		if (t->c)
			redisFree(t->c);
		free(t);
		return -1;
	}
	*thr = t;
	return 0;
}

static int reply_ok(struct rd_thread *t, redisReply *r)
{
	int ok = r && r->type != REDIS_REPLY_ERROR;
	if (!ok)
		snprintf(t->err, sizeof t->err, "%s", r ? r->str : t->c->errstr);
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

static int rd_set(void *thr, const char *key, size_t klen, const void *val, size_t vlen)
{
	struct rd_thread *t = thr;
	return reply_ok(t, redisCommand(t->c, "SET %b %b", key, klen, val, vlen));
}

static int rd_load(void *thr, uint64_t n, const char *key, size_t klen, const void *val,
		   size_t vlen)
{
	(void)n;
	return rd_set(thr, key, klen, val, vlen);
}

static int rd_get(void *thr, const char *key, size_t klen, void *buf, size_t cap, size_t *len)
{
	struct rd_thread *t = thr;
	redisReply *r = redisCommand(t->c, "GET %b", key, klen);
	if (r && r->type == REDIS_REPLY_STRING) {
		*len = (size_t)r->len;
		memcpy(buf, r->str, *len < cap ? *len : cap);
	}
	return reply_ok(t, r);
}

/* Pipelined: append all, then read all replies. */
static int rd_batch(struct rd_thread *t, const char **keys, const size_t *klens, uint32_t n,
		    const void *val, size_t vlen, void *buf, size_t cap)
{
	for (uint32_t i = 0; i < n; i++) {
		int rc = val ? redisAppendCommand(t->c, "SET %b %b", keys[i], klens[i], val, vlen)
			     : redisAppendCommand(t->c, "GET %b", keys[i], klens[i]);
		if (rc != REDIS_OK)
			return reply_ok(t, NULL);
	}
	int rc = 0;
	for (uint32_t i = 0; i < n; i++) {
		redisReply *r = NULL;
		if (redisGetReply(t->c, (void **)&r) != REDIS_OK)
			return reply_ok(t, NULL);
		if (!val && r && r->type == REDIS_REPLY_STRING)
			memcpy(buf, r->str, (size_t)r->len < cap ? (size_t)r->len : cap);
		rc |= reply_ok(t, r);
	}
	return rc;
}

static int rd_multi_read(void *thr, const char **keys, const size_t *klens, uint32_t n,
			 void *buf, size_t cap)
{
	return rd_batch(thr, keys, klens, n, NULL, 0, buf, cap);
}

static int rd_multi_update(void *thr, const char **keys, const size_t *klens, uint32_t n,
			   const void *val, size_t vlen)
{
	return rd_batch(thr, keys, klens, n, val, vlen, NULL, 0);
}

/* --batch: one MGET for the n keys; every key's value lands in buf. */
static int rd_mget(void *thr, const char **keys, const size_t *klens, uint32_t n, void *buf,
		   size_t cap)
{
	struct rd_thread *t = thr;
	const char *argv[STORE_BATCH_MAX + 1];
	size_t argl[STORE_BATCH_MAX + 1];
	argv[0] = "MGET";
	argl[0] = 4;
	for (uint32_t i = 0; i < n; i++) {
		argv[i + 1] = keys[i];
		argl[i + 1] = klens[i];
	}
	redisReply *r = redisCommandArgv(t->c, (int)n + 1, argv, argl);
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == n) {
		for (size_t i = 0; i < r->elements; i++) {
			const redisReply *e = r->element[i];
			if (e->type == REDIS_REPLY_STRING)
				memcpy(buf, e->str, (size_t)e->len < cap ? (size_t)e->len : cap);
		}
	} else if (r && r->type != REDIS_REPLY_ERROR) {
		snprintf(t->err, sizeof t->err, "MGET of %u keys: unexpected reply", n);
		freeReplyObject(r);
		return -1;
	}
	return reply_ok(t, r);
}

static void rd_thread_close(void *thr)
{
	struct rd_thread *t = thr;
	redisFree(t->c);
	free(t);
}

static void rd_detach(void *proc) { (void)proc; }

static void rd_stop(void *global)
{
	struct rd_global *g = global;
	server_stop(g->pid);
	remove(g->sock);
	free(g);
}

static const char *rd_error(void *thr) { return thr ? ((struct rd_thread *)thr)->err : ""; }

const struct store_driver store_redis = {
	.name = "redis",
	.settings = "redis-server on a Unix socket, no persistence; hiredis, a connection "
		    "per thread",
	.start = rd_start, .attach = rd_attach, .thread_open = rd_thread_open,
	.load = rd_load, .read = rd_get, .update = rd_set, .insert = rd_set,
	.multi_read = rd_multi_read, .multi_update = rd_multi_update, .batch_read = rd_mget,
	.thread_close = rd_thread_close, .detach = rd_detach, .stop = rd_stop,
	.error = rd_error,
};
