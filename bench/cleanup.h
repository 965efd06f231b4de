/*
 * cleanup.h — what the benchmark must undo however it ends: the scratch
 * directories that hold its pools, databases and sockets, and the processes
 * it started (peer servers, host processes, the unprotected twin).
 *
 * Every store run makes its scratch directory with scratch_make() and
 * removes it with scratch_remove() on every return path.  When SIGINT,
 * SIGTERM or SIGHUP arrives instead, the handler that cleanup_on_signals()
 * installs kills the registered processes, empties and removes the
 * registered directories, and then dies of the same signal.  The handler
 * uses only system calls (kill, open, getdents64, unlinkat, rmdir), so it
 * is safe wherever the signal lands.
 */
#ifndef SHMEMORA_BENCH_CLEANUP_H
#define SHMEMORA_BENCH_CLEANUP_H

#include <stddef.h>
#include <sys/types.h>

/* Installs the handler for SIGINT, SIGTERM and SIGHUP (those not ignored). */
void cleanup_on_signals(void);

/* Creates ROOT/shmemora-kv-PID-NAME (mode 0700) into out and registers it.
 * Returns 0, or -1 with a message in err. */
int scratch_make(const char *root, const char *name, char *out, size_t cap, char *err,
		 size_t errcap);
/* Removes a scratch directory, everything in it, and its registration. */
void scratch_remove(const char *dir);

/* A child to terminate if the benchmark is interrupted; forget it once it
 * has been reaped. */
void cleanup_watch_pid(pid_t pid);
void cleanup_forget_pid(pid_t pid);

/* In a forked child that does not exec: the parent owns the cleanup, so the
 * child forgets every registration and takes the default signal actions. */
void cleanup_forget_all(void);

#endif
