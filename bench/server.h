/*
 * server.h — starting and stopping a peer's server for the benchmark: fork
 * and exec it on a Unix socket in the scratch directory, wait until the
 * socket accepts, and kill it at the end.
 */
#ifndef SHMEMORA_BENCH_SERVER_H
#define SHMEMORA_BENCH_SERVER_H

#include <sys/types.h>

/* Starts argv[0] (searched in PATH) and waits up to 10 s for `socket_path`
 * to accept connections.  Returns the pid, or -1 with a message printed. */
pid_t server_start(char *const argv[], const char *socket_path);
void server_stop(pid_t pid);

#endif
