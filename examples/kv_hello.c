/*
 * kv_hello.c — put and get a key through SHMemora's protected path.
 *
 *   shmemora create /dev/shm/pool --size 256M
 *   cc kv_hello.c $(pkg-config --cflags --libs shmemora) -o kv_hello
 *   ./kv_hello /dev/shm/pool
 *
 * Attaches as a host, creates the namespace "hello" (if new) with the root
 * token, derives a read-only token for it, writes a key with the root
 * token and reads it back with the read-only one, then shows that the
 * read-only token cannot write.
 */
#include <shmemora.h>

#include <stdio.h>
#include <string.h>

static int check(int rc, const char *what)
{
	if (rc)
		fprintf(stderr, "%s: %s (%s)\n", what, shmemora_strerror(rc), shmemora_errmsg());
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s POOL\n", argv[0]);
		return 2;
	}
	char root_file[4096];
	snprintf(root_file, sizeof root_file, "%s.root-token", argv[1]);
	shmemora_pool *pool;
	shmemora_token root, reader;
	if (check(shmemora_attach(argv[1], NULL, &pool), "attach"))
		return 1;
	int rc = check(shmemora_token_load(root_file, &root), "root token");
	if (rc == 0) {
		rc = shmemora_ns_create(pool, &root, "hello");
		if (rc == SHMEMORA_E_EXISTS)
			rc = 0;
		check(rc, "namespace");
	}
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "hello",
			     .rights = SHMEMORA_RIGHT_READ };
	if (rc == 0)
		rc = check(shmemora_token_derive(pool, &root, &g, &reader), "derive");
	const char msg[] = "hello, shared memory";
	if (rc == 0)
		rc = check(shmemora_kv_put(pool, &root, "hello", "greeting", 8, msg, sizeof msg - 1),
			   "put");
	char buf[64];
	size_t len = 0;
	if (rc == 0)
		rc = check(shmemora_kv_get(pool, &reader, "hello", "greeting", 8, buf, sizeof buf,
					   &len, NULL), "get");
	if (rc == 0) {
		printf("host %u read: %.*s\n", shmemora_host_id(pool), (int)len, buf);
		int denied = shmemora_kv_put(pool, &reader, "hello", "greeting", 8, "x", 1);
		printf("write with the read-only token: %s\n", shmemora_strerror(denied));
		shmemora_token_revoke(pool, &reader);
	}
	shmemora_detach(pool);
	return rc ? 1 : 0;
}
