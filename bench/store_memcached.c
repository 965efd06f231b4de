/*
 * store_memcached.c — memcached as a peer: started by the harness on a Unix
 * socket with enough memory for the data set, driven with libmemcached, one
 * client per thread; set and get per operation.  With pipeline > 1, reads
 * are batched with mget/fetch; sets stay one request each (libmemcached's
 * only pipelined set is `noreply`, which would drop acknowledgements).
 * mget/fetch is memcached's multi-get, so it also serves --batch.
 */
#include "store.h"
#include "server.h"

#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mc_global {
	char sock[108];  /* sun_path's size */
	pid_t pid;
};

struct mc_thread {
	memcached_st *m;
	char err[STORE_ERROR_MAX];
};

static int mc_start(const struct store_cfg *cfg, void **global, char *err)
{
	struct mc_global *g = calloc(1, sizeof *g);
	if (!g) {
		snprintf(err, STORE_ERROR_MAX, "out of memory");
		return -1;
	}
	if (server_socket_path(cfg->dir, "memcached.sock", g->sock, sizeof g->sock, err)) {
		free(g);
		return -1;
	}
	char mem[32], item[32];
	snprintf(mem, sizeof mem, "%llu",
		 (unsigned long long)((cfg->live * (cfg->value_size + 128) * 2 >> 20) + 64));
	snprintf(item, sizeof item, "%zu", cfg->value_size + 4096 > (1 << 20) ?
		 cfg->value_size + 4096 : (size_t)(1 << 20));
	/* One worker thread per online CPU, as memcached's own guidance says (its
	 * default, 4, would starve it on 16 cores and crowd 2). */
	char threads[24];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(threads, sizeof threads, "%ld", cpus > 0 ? cpus : 4);
	/* memcached refuses to run as root unless told which user to be. */
	char *argv[] = { "memcached", "-s", g->sock, "-a", "0700", "-m", mem, "-t", threads,
			 "-I", item, "-U", "0", geteuid() == 0 ? "-u" : NULL, "root", NULL };
	g->pid = server_start(argv, g->sock, err);
	if (g->pid < 0) {
		free(g);
		return -1;
	}
	*global = g;
	return 0;
}

static int mc_attach(void *global, void **proc, char *err)
{
	(void)err;
	*proc = global;
	return 0;
}

static int mc_thread_open(void *proc, void **thr)
{
	struct mc_global *g = proc;
	struct mc_thread *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	t->m = memcached_create(NULL);
	if (!t->m || memcached_server_add_unix_socket(t->m, g->sock) != MEMCACHED_SUCCESS) {
		fprintf(stderr, "memcached: cannot set up a client\n");
		if (t->m)
			memcached_free(t->m);
		free(t);
		return -1;
	}
	*thr = t;
	return 0;
}

static int mc_check(struct mc_thread *t, memcached_return_t rc)
{
	if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND || rc == MEMCACHED_END)
		return 0;
	snprintf(t->err, sizeof t->err, "%s", memcached_strerror(t->m, rc));
	return -1;
}

static int mc_set(void *thr, const char *key, size_t klen, const void *val, size_t vlen)
{
	struct mc_thread *t = thr;
	return mc_check(t, memcached_set(t->m, key, klen, val, vlen, 0, 0));
}

static int mc_load(void *thr, uint64_t n, const char *key, size_t klen, const void *val,
		   size_t vlen)
{
	(void)n;
	return mc_set(thr, key, klen, val, vlen);
}

static int mc_get(void *thr, const char *key, size_t klen, void *buf, size_t cap, size_t *len)
{
	struct mc_thread *t = thr;
	memcached_return_t rc;
	uint32_t flags;
	char *v = memcached_get(t->m, key, klen, len, &flags, &rc);
	if (v) {
		memcpy(buf, v, *len < cap ? *len : cap);
		free(v);
	}
	return mc_check(t, rc);
}

static int mc_multi_read(void *thr, const char **keys, const size_t *klens, uint32_t n,
			 void *buf, size_t cap)
{
	struct mc_thread *t = thr;
	memcached_return_t rc = memcached_mget(t->m, keys, klens, n);
	if (mc_check(t, rc))
		return -1;
	memcached_result_st *res;
	while ((res = memcached_fetch_result(t->m, NULL, &rc)) != NULL) {
		size_t len = memcached_result_length(res);
		memcpy(buf, memcached_result_value(res), len < cap ? len : cap);
		memcached_result_free(res);
	}
	return mc_check(t, rc);
}

static void mc_thread_close(void *thr)
{
	struct mc_thread *t = thr;
	memcached_free(t->m);
	free(t);
}

static void mc_detach(void *proc) { (void)proc; }

static void mc_stop(void *global)
{
	struct mc_global *g = global;
	server_stop(g->pid);
	remove(g->sock);
	free(g);
}

static const char *mc_error(void *thr) { return thr ? ((struct mc_thread *)thr)->err : ""; }

const struct store_driver store_memcached = {
	.name = "memcached",
	.settings = "memcached on a Unix socket, -t <online CPUs>; libmemcached, a client per thread",
	.start = mc_start, .attach = mc_attach, .thread_open = mc_thread_open,
	.load = mc_load, .read = mc_get, .update = mc_set, .insert = mc_set,
	.multi_read = mc_multi_read, .batch_read = mc_multi_read, .thread_close = mc_thread_close,
	.detach = mc_detach, .stop = mc_stop, .error = mc_error,
};
