/*
 * bench_kv.c — latency and throughput of the KV store, protected against the
 * unprotected build of the same code.
 *
 *   build/bench-kv [--keys N] [--value-size B] [--ops N] [--threads T]
 *                  [--seconds S] [--json] [--compare]
 *
 * Loads N keys (default 1 000 000) of B-byte values (default 256), then
 * measures on one thread the latency of gets and of puts (updates) of
 * random keys, timing each operation (median, p99), and then the
 * throughput of T threads (default 2) doing gets, and a 50/50 get/put mix,
 * for S seconds each.  The build it runs is named in the output: bench-kv
 * is the library with its protected path (cached MAC policy), and
 * bench-kv-unprotected is the same sources compiled with
 * -DSHMEMORA_UNPROTECTED.  --compare runs both, one after the other on the
 * same machine with the same arguments, and prints the ratios.
 */
#include "shmemora.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef SHMEMORA_UNPROTECTED
#define VARIANT "unprotected"
#else
#define VARIANT "protected"
#endif

struct opts {
	long keys, ops;
	int value_size, threads, json, compare;
	double seconds;
};

struct result {
	double load_s, get_p50, get_p99, put_p50, put_p99, get_mops, mix_mops;
	const char *mode;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-kv (%s): %s: %s\n", VARIANT, what, shmemora_errmsg());
	exit(5);
}

static size_t key_of(long i, char *buf)
{
	return (size_t)snprintf(buf, 32, "user%012ld", i);
}

struct shared {
	shmemora_pool *pool;
	shmemora_token root;
	const struct opts *o;
	int mix;
	volatile int stop;
};

struct thread_arg {
	struct shared *sh;
	uint64_t seed;
	long done;
};

static void *throughput_thread(void *p)
{
	struct thread_arg *a = p;
	struct shared *sh = a->sh;
	char key[32];
	uint8_t *val = malloc((size_t)sh->o->value_size);
	memset(val, 'x', (size_t)sh->o->value_size);
	size_t len;
	long n = 0;
	while (!sh->stop) {
		for (int b = 0; b < 256; b++, n++) {
			size_t kl = key_of((long)(rnd(&a->seed) % (uint64_t)sh->o->keys), key);
			int rc = sh->mix && (rnd(&a->seed) & 1)
				? shmemora_kv_put(sh->pool, &sh->root, "usertable", key, kl, val,
						  (size_t)sh->o->value_size)
				: shmemora_kv_get(sh->pool, &sh->root, "usertable", key, kl, val,
						  (size_t)sh->o->value_size, &len, NULL);
			if (rc)
				die("throughput operation");
		}
	}
	a->done = n;
	free(val);
	return NULL;
}

static double throughput(struct shared *sh, int mix)
{
	sh->mix = mix;
	sh->stop = 0;
	int t = sh->o->threads;
	pthread_t th[64];
	struct thread_arg args[64];
	uint64_t t0 = now_ns();
	for (int i = 0; i < t; i++) {
		args[i] = (struct thread_arg){ sh, 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1), 0 };
		pthread_create(&th[i], NULL, throughput_thread, &args[i]);
	}
	struct timespec d = { (time_t)sh->o->seconds,
			      (long)((sh->o->seconds - (double)(time_t)sh->o->seconds) * 1e9) };
	nanosleep(&d, NULL);
	sh->stop = 1;
	long total = 0;
	for (int i = 0; i < t; i++) {
		pthread_join(th[i], NULL);
		total += args[i].done;
	}
	return (double)total / ((double)(now_ns() - t0) / 1e9) / 1e6;
}

static struct result run(const struct opts *o)
{
	char path[128];
	snprintf(path, sizeof path, "/dev/shm/shmemora-bench-kv-%s-%d", VARIANT, (int)getpid());
	uint64_t per_key = 64 + 32 + (uint64_t)o->value_size;
	uint64_t size = ((uint64_t)o->keys * per_key * 2 + (256ull << 20)) & ~((1ull << 21) - 1);
	shmemora_config *cfg;
	shmemora_pool *pool;
	shmemora_config_new(&cfg);
	shmemora_config_set_size(cfg, size);
	shmemora_config_set_hosts(cfg, 2);
	shmemora_config_set_index_slots(cfg, (uint64_t)o->keys * 4);
	if (shmemora_create(path, cfg, &pool))
		die("create");
	shmemora_config_delete(cfg);
	char file[160];
	snprintf(file, sizeof file, "%s.root-token", path);
	struct shared sh = { .pool = pool, .o = o };
	if (shmemora_token_load(file, &sh.root) || shmemora_ns_create(pool, &sh.root, "usertable"))
		die("token/namespace");

	struct result r = { 0 };
	r.mode = shmemora_protection_name(shmemora_protection_mode(pool));
	uint8_t *val = malloc((size_t)o->value_size);
	memset(val, 'v', (size_t)o->value_size);
	char key[32];
	uint64_t t0 = now_ns();
	for (long i = 0; i < o->keys; i++) {
		size_t kl = key_of(i, key);
		if (shmemora_kv_put(pool, &sh.root, "usertable", key, kl, val, (size_t)o->value_size))
			die("load");
	}
	r.load_s = (double)(now_ns() - t0) / 1e9;

	uint32_t *lat = malloc(sizeof(uint32_t) * (size_t)o->ops);
	uint64_t seed = 88172645463325252ULL;
	size_t len;
	for (int phase = 0; phase < 2; phase++) {
		for (long i = 0; i < o->ops; i++) {
			size_t kl = key_of((long)(rnd(&seed) % (uint64_t)o->keys), key);
			uint64_t a = now_ns();
			int rc = phase == 0
				? shmemora_kv_get(pool, &sh.root, "usertable", key, kl, val,
						  (size_t)o->value_size, &len, NULL)
				: shmemora_kv_put(pool, &sh.root, "usertable", key, kl, val,
						  (size_t)o->value_size);
			lat[i] = (uint32_t)(now_ns() - a);
			if (rc)
				die(phase ? "put" : "get");
		}
		qsort(lat, (size_t)o->ops, sizeof *lat, cmp_u32);
		double p50 = lat[o->ops / 2], p99 = lat[o->ops * 99 / 100];
		if (phase == 0)
			r.get_p50 = p50, r.get_p99 = p99;
		else
			r.put_p50 = p50, r.put_p99 = p99;
	}
	r.get_mops = throughput(&sh, 0);
	r.mix_mops = throughput(&sh, 1);
	free(lat);
	free(val);
	shmemora_detach(pool);
	shmemora_destroy(path, NULL);
	return r;
}

static void print_result(const char *name, const struct result *r, const struct opts *o)
{
	if (o->json)
		printf("{ \"build\": \"%s\", \"mode\": \"%s\", \"keys\": %ld, \"value_size\": %d, "
		       "\"load_s\": %.3f, \"get_p50_ns\": %.0f, \"get_p99_ns\": %.0f, "
		       "\"put_p50_ns\": %.0f, \"put_p99_ns\": %.0f, \"threads\": %d, "
		       "\"get_mops\": %.3f, \"mix_mops\": %.3f }\n", name, r->mode, o->keys,
		       o->value_size, r->load_s, r->get_p50, r->get_p99, r->put_p50, r->put_p99,
		       o->threads, r->get_mops, r->mix_mops);
	else
		printf("%-12s %-9s %8.2f %8.0f %8.0f %8.0f %8.0f %10.3f %10.3f\n", name, r->mode,
		       r->load_s, r->get_p50, r->get_p99, r->put_p50, r->put_p99, r->get_mops,
		       r->mix_mops);
}

static int parse_result(const char *line, struct result *r)
{
	static char mode[16];
	int n = sscanf(line, "{ \"build\": \"%*[^\"]\", \"mode\": \"%15[^\"]\", \"keys\": %*d, "
			     "\"value_size\": %*d, \"load_s\": %lf, \"get_p50_ns\": %lf, "
			     "\"get_p99_ns\": %lf, \"put_p50_ns\": %lf, \"put_p99_ns\": %lf, "
			     "\"threads\": %*d, \"get_mops\": %lf, \"mix_mops\": %lf }",
		       mode, &r->load_s, &r->get_p50, &r->get_p99, &r->put_p50, &r->put_p99,
		       &r->get_mops, &r->mix_mops);
	r->mode = mode;
	return n == 8 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o = { .keys = 1000000, .ops = 1000000, .value_size = 256, .threads = 2,
			  .seconds = 3 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int more = i + 1 < argc;
		if (strcmp(a, "--keys") == 0 && more)
			o.keys = atol(argv[++i]);
		else if (strcmp(a, "--ops") == 0 && more)
			o.ops = atol(argv[++i]);
		else if (strcmp(a, "--value-size") == 0 && more)
			o.value_size = atoi(argv[++i]);
		else if (strcmp(a, "--threads") == 0 && more)
			o.threads = atoi(argv[++i]);
		else if (strcmp(a, "--seconds") == 0 && more)
			o.seconds = atof(argv[++i]);
		else if (strcmp(a, "--json") == 0)
			o.json = 1;
		else if (strcmp(a, "--compare") == 0)
			o.compare = 1;
		else {
			printf("Usage: bench-kv [--keys N] [--value-size B] [--ops N] [--threads T]\n"
			       "                [--seconds S] [--json] [--compare]\n"
			       "Get/put latency (median, p99; one thread) and get and 50/50 mix\n"
			       "throughput (T threads) of this build; --compare also runs the\n"
			       "unprotected build of the same code and prints the ratios.\n");
			return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 ? 0 : 2;
		}
	}
	if (o.keys < 1000 || o.ops < 1000 || o.value_size < 1 || o.value_size > (1 << 20) ||
	    o.threads < 1 || o.threads > 64 || o.seconds <= 0) {
		fprintf(stderr, "bench-kv: --keys >= 1000, --ops >= 1000, --value-size 1..1M, "
				"--threads 1..64, --seconds > 0\n");
		return 2;
	}
	if (o.ops > o.keys * 10)
		o.ops = o.keys * 10;

	struct result mine = run(&o);
	if (!o.compare) {
		if (!o.json)
			printf("%-12s %-9s %8s %8s %8s %8s %8s %10s %10s\n", "build", "mode", "load s",
			       "get p50", "get p99", "put p50", "put p99", "get Mops", "mix Mops");
		print_result(VARIANT, &mine, &o);
		return 0;
	}
	/* The unprotected twin: the same program built without protection,
	 * beside this binary; run with the same arguments. */
	char twin[4096];
	snprintf(twin, sizeof twin, "%s-unprotected", argv[0]);
	char cmd[8192];
	int n = snprintf(cmd, sizeof cmd, "'%s' --json", twin);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--compare") && strcmp(argv[i], "--json"))
			n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", argv[i]);
	FILE *p = popen(cmd, "r");
	char line[1024];
	struct result base;
	if (!p || !fgets(line, sizeof line, p) || parse_result(line, &base)) {
		fprintf(stderr, "bench-kv: could not run %s\n", twin);
		return 5;
	}
	pclose(p);
	if (o.json) {
		print_result(VARIANT, &mine, &o);
		print_result("unprotected", &base, &o);
		return 0;
	}
	printf("%ld keys, %d-byte values; latency in ns (one thread, each op timed); "
	       "throughput with %d threads\n", o.keys, o.value_size, o.threads);
	printf("%-12s %-9s %8s %8s %8s %8s %8s %10s %10s\n", "build", "mode", "load s", "get p50",
	       "get p99", "put p50", "put p99", "get Mops", "mix Mops");
	print_result(VARIANT, &mine, &o);
	print_result("unprotected", &base, &o);
	printf("%-12s %-9s %8.2f %8.2f %8.2f %8.2f %8.2f %10.2f %10.2f\n", "ratio p/u", "",
	       mine.load_s / base.load_s, mine.get_p50 / base.get_p50, mine.get_p99 / base.get_p99,
	       mine.put_p50 / base.put_p50, mine.put_p99 / base.put_p99,
	       mine.get_mops / base.get_mops, mine.mix_mops / base.mix_mops);
	return 0;
}
