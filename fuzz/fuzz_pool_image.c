/*
 * fuzz_pool_image.c — libFuzzer harness: any bytes as a pool file.
 *
 * Inspects the image without a key (checksum, version, geometry, registry),
 * then attaches with the corpus pool's key: mutations outside the
 * superblock pass its MAC and reach the capability table, the index, the
 * free lists and the entries, which check, get, put and delete then walk.
 * Must never crash, hang, or touch memory outside the mapping.
 */
#include "shmemora.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* The key of fuzz/corpus/pool_image/seed-pool (a test pool; not secret);
 * its root token is fuzz/seed-pool.root-token.  Run from the repo root. */
#define SEED_KEY "shmemora-key-v1 " SEED_KEY_HEX "\n"
#include "seed_key.h"

static char pool_path[64], key_path[80];

static void cleanup(void)
{
	unlink(pool_path);
	unlink(key_path);
}

static void setup_once(void)
{
	if (pool_path[0])
		return;
	atexit(cleanup);
	snprintf(pool_path, sizeof pool_path, "/dev/shm/shmemora-fuzz-%d", (int)getpid());
	snprintf(key_path, sizeof key_path, "%s.key", pool_path);
	unlink(key_path);
	int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, SEED_KEY, strlen(SEED_KEY)) != (ssize_t)strlen(SEED_KEY))
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	setup_once();
	int fd = open(pool_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	close(fd);
	shmemora_info info;
	shmemora_inspect(pool_path, "/nonexistent-key", &info);
	shmemora_inspect(pool_path, NULL, &info);
	shmemora_host hosts[8];
	size_t n;
	shmemora_hosts(pool_path, hosts, 8, &n);
	shmemora_pool *pool;
	if (shmemora_attach(pool_path, NULL, &pool) == 0) {
		shmemora_check_report rep = { 0 };
		shmemora_check(pool, 0, &rep);
		shmemora_token root;
		char root_path[96];
		snprintf(root_path, sizeof root_path, "%s", "fuzz/seed-pool.root-token");
		if (shmemora_token_load(root_path, &root) == 0) {
			char buf[64];
			size_t len;
			shmemora_kv_get(pool, &root, "t", "k1", 2, buf, sizeof buf, &len, NULL);
			shmemora_kv_put(pool, &root, "t", "k2", 2, "fuzz", 4);
			shmemora_kv_delete(pool, &root, "t", "k3", 2);
			shmemora_region_read(pool, &root, 0, buf, sizeof buf);
			shmemora_token child;
			shmemora_region_acquire(pool, &root, 0, 8, SHMEMORA_RIGHT_READ, &child);
		}
		shmemora_stats st = { 0 };
		shmemora_stats_get(pool, &st);
		shmemora_detach(pool);
	}
	return 0;
}
