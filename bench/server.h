/*
 * server.h — starting and stopping a peer's server for the benchmark: fork
 * and exec it on a Unix socket in the scratch directory, wait until the
 * socket accepts, and kill it at the end.  A started server is registered
 * with cleanup.h, so an interrupted benchmark does not leave it running.
 */
#ifndef SHMEMORA_BENCH_SERVER_H
#define SHMEMORA_BENCH_SERVER_H

#include <stddef.h>
#include <sys/types.h>

/* DIR/NAME into out (cap bytes, at most a sun_path); -1 with a message in
 * err (STORE_ERROR_MAX) when it does not fit. */
int server_socket_path(const char *dir, const char *name, char *out, size_t cap, char *err);

/* Starts argv[0] (searched in PATH) and waits up to 10 s for `socket_path`
 * to accept connections.  Returns the pid, or -1 with the reason in err. */
pid_t server_start(char *const argv[], const char *socket_path, char *err);
void server_stop(pid_t pid);

#endif
