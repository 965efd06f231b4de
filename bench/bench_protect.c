/*
 * bench_protect.c — what the protected path costs per access.
 *
 * Reports, side by side in one run, nanoseconds per 64-byte and 256-byte
 * read and write through the protected path under each verification policy
 * (off, cached, always), and the same copy between the pool mapping and a
 * private buffer with no protection at all.  Each figure is the median of
 * several timed rounds of many operations.
 *
 *   build/bench-protect [--ops N] [--rounds R] [--json]
 *
 * Set SHMEMORA_PROTECTION=software to measure software mode on a CPU with
 * PKU; `mode` in the output says which mode ran.
 */
#include "measure.h"

#include "shmemora.h"
#include "pool.h"
#include "protect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The unprotected baseline: the same copy, through a call the compiler
 * cannot inline away, as the protected calls are. */
__attribute__((noinline)) static void plain_copy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
	__asm__ volatile("" ::: "memory");
}

enum op { OP_READ, OP_WRITE };

static double ns_per_op(shmemora_pool *pool, const shmemora_token *tok, int protect, enum op op,
			size_t size, long ops, int rounds)
{
	static uint8_t buf[4096];
	uint8_t *area = (uint8_t *)pool_region(pool, REGION_RAW);
	double samples[64];
	int rc = 0;
	/* The baseline is the copy alone: under MPK it opens the pool's key once,
	 * outside the timing, as no protected call can. */
	protect_saved opened = protect ? 0 : protect_open(&pool->prot);
	for (int r = 0; r < rounds; r++) {
		uint64_t t0 = now_ns();
		for (long i = 0; i < ops; i++) {
			uint64_t off = ((uint64_t)i * 256) & ((1 << 20) - 1);
			if (!protect) {
				if (op == OP_READ)
					plain_copy(buf, area + off, size);
				else
					plain_copy(area + off, buf, size);
			} else if (op == OP_READ) {
				rc |= shmemora_region_read(pool, tok, off, buf, size);
			} else {
				rc |= shmemora_region_write(pool, tok, off, buf, size);
			}
		}
		samples[r] = (double)(now_ns() - t0) / (double)ops;
	}
	if (!protect)
		protect_close(&pool->prot, opened);
	return rc ? -1 : median_of(samples, (size_t)rounds);
}

static void fail(const char *what)
{
	fprintf(stderr, "bench-protect: %s: %s\n", what, shmemora_errmsg());
}

/* A 64 MiB pool at path, and a read-write token for the first MiB of its
 * raw area, touched once so that page faults are not timed.  On failure
 * the pool is destroyed again. */
static int open_pool(const char *path, shmemora_pool **pool, shmemora_token *tok)
{
	shmemora_config *cfg;
	if (shmemora_config_new(&cfg)) {
		fail("config");
		return -1;
	}
	int rc = shmemora_config_set_size(cfg, 64u << 20);
	if (!rc)
		rc = shmemora_create(path, cfg, pool);
	shmemora_config_delete(cfg);
	if (rc) {
		fail("create");
		return -1;
	}
	char root_path[160];
	snprintf(root_path, sizeof root_path, "%s.root-token", path);
	shmemora_token root;
	static uint8_t zero[1 << 20];
	if (shmemora_token_load(root_path, &root) ||
	    shmemora_region_acquire(*pool, &root, 0, sizeof zero,
				    SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_WRITE, tok) ||
	    shmemora_region_write(*pool, tok, 0, zero, sizeof zero)) {
		fail("token");
		shmemora_detach(*pool);
		shmemora_destroy(path, NULL);
		return -1;
	}
	return 0;
}

static const char *const policy_name[] = { "unprotected", "off", "cached", "always" };

static void print_results(const char *mode, double res[4][2][2], int rounds, int json)
{
	if (json) {
		printf("{ \"mode\": \"%s\", \"ns_per_op\": {", mode);
		for (int p = 0; p < 4; p++)
			printf("%s \"%s\": { \"read64\": %.1f, \"write64\": %.1f, \"read256\": %.1f, "
			       "\"write256\": %.1f }", p ? "," : "", policy_name[p], res[p][0][0],
			       res[p][0][1], res[p][1][0], res[p][1][1]);
		printf(" } }\n");
		return;
	}
	printf("protection mode: %s; median of %d rounds; ns per operation\n", mode, rounds);
	printf("%-12s %10s %10s %10s %10s   %s\n", "policy", "read 64B", "write 64B",
	       "read 256B", "write 256B", "over unprotected (read/write 64B, 256B)");
	for (int p = 0; p < 4; p++) {
		printf("%-12s %10.1f %10.1f %10.1f %10.1f", policy_name[p], res[p][0][0],
		       res[p][0][1], res[p][1][0], res[p][1][1]);
		if (p)
			printf("   +%.1f/+%.1f, +%.1f/+%.1f", res[p][0][0] - res[0][0][0],
			       res[p][0][1] - res[0][0][1], res[p][1][0] - res[0][1][0],
			       res[p][1][1] - res[0][1][1]);
		printf("\n");
	}
}

/* Fills ops, rounds and json; -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, long *ops, int *rounds, int *json)
{
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
			*ops = strtol(argv[++i], &end, 10);
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			*rounds = (int)strtol(argv[++i], &end, 10);
		else if (strcmp(argv[i], "--json") == 0)
			*json = 1;
		else {
			printf("Usage: bench-protect [--ops N] [--rounds R] [--json]\n"
			       "Nanoseconds per protected read and write (64 and 256 bytes) under\n"
			       "the off, cached and always policies, against the same copy\n"
			       "without protection, in one run.\n");
			return strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ? 0 : 2;
		}
		if (end && *end)
			*ops = 0; /* not a number: refused below */
	}
	if (*ops < 1000 || *rounds < 1 || *rounds > 64) {
		fprintf(stderr, "bench-protect: --ops >= 1000 and --rounds 1..64\n");
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	long ops = 2000000;
	int rounds = 7, json = 0;
	int rc = parse_args(argc, argv, &ops, &rounds, &json);
	if (rc >= 0)
		return rc;
	char path[128];
	snprintf(path, sizeof path, "/dev/shm/shmemora-bench-protect-%d", (int)getpid());
	shmemora_pool *pool;
	shmemora_token tok;
	if (open_pool(path, &pool, &tok))
		return 5;
	static const enum shmemora_verify policy[] = { 0, SHMEMORA_VERIFY_OFF,
						       SHMEMORA_VERIFY_CACHED,
						       SHMEMORA_VERIFY_ALWAYS };
	size_t sizes[] = { 64, 256 };
	double res[4][2][2];
	for (int p = 0; p < 4 && rc < 0; p++) {
		if (p && shmemora_set_verify(pool, policy[p]))
			rc = 5;
		for (int s = 0; s < 2 && rc < 0; s++)
			for (int o = 0; o < 2 && rc < 0; o++)
				if ((res[p][s][o] = ns_per_op(pool, &tok, p != 0, (enum op)o, sizes[s],
							      p == 3 ? ops / 4 : ops, rounds)) < 0)
					rc = 5;
	}
	if (rc < 0)
		print_results(shmemora_protection_name(shmemora_protection_mode(pool)), res, rounds,
			      json);
	else
		fail("measure");
	shmemora_detach(pool);
	shmemora_destroy(path, NULL);
	return rc < 0 ? 0 : rc;
}
