/*
 * attach.c — the smallest SHMemora host: attach to a pool, say what it sees,
 * keep the slot for a while (heartbeating), detach.
 *
 *   cc attach.c $(pkg-config --cflags --libs shmemora) -o attach
 *   ./attach /dev/shm/pool [seconds]
 *
 * The pool's key file is found as POOL.key, or through SHMEMORA_KEY_FILE.
 */
#include <shmemora.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s POOL [SECONDS]\n", argv[0]);
		return 2;
	}
	int seconds = argc == 3 ? atoi(argv[2]) : 0;
	shmemora_pool *pool;
	int rc = shmemora_attach(argv[1], NULL, &pool);
	if (rc) {
		fprintf(stderr, "attach: %s\n", shmemora_errmsg());
		return 1;
	}
	shmemora_info info;
	if ((rc = shmemora_pool_info(pool, &info)) == 0)
		printf("pid %d is host %u of %u: %u attached, %s coherence, protection %s\n",
		       (int)getpid(), shmemora_host_id(pool), info.max_hosts, info.hosts_attached,
		       shmemora_coherence_name(info.coherence),
		       shmemora_protection_name(info.protection));
	fflush(stdout);
	for (int i = 0; i < seconds && rc == 0; i++) {
		sleep(1);
		rc = shmemora_heartbeat(pool);
	}
	int drc = shmemora_detach(pool);
	if (rc || drc) {
		fprintf(stderr, "%s\n", shmemora_errmsg());
		return 1;
	}
	return 0;
}
