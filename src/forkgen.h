/*
 * forkgen.h — tells a forked child apart from the process that made a
 * handle, for the cost of one load and one comparison.
 *
 * The protected arena and the secrets are MADV_DONTFORK: a child of a
 * process that attached a pool does not have them, although it inherits
 * the handle (heap memory) and the pool mapping (MAP_SHARED).  A
 * pthread_atfork() child handler moves the process-wide generation on, so
 * a handle that recorded forkgen_now() when it was made sees a different
 * one in every child made by fork(2) (glibc's fork runs the handlers).  A
 * child made by a raw clone(2) or syscall(SYS_fork) runs no handlers and is
 * not told apart: it faults on the unmapped secrets instead.  getpid()
 * would catch those too, but it is a system call on every access (tens of
 * nanoseconds); this is a load.
 *
 * Who calls it: protect.c (every verification, and protect_fini) and
 * secrets.c (secrets_destroy), which must not touch in a child what only
 * the parent has.
 */
#ifndef SHMEMORA_FORKGEN_H
#define SHMEMORA_FORKGEN_H

#include <stdatomic.h>

/* The generation; only forkgen.c's fork handler changes it. */
extern _Atomic unsigned forkgen_current;

/* Registers the fork handler (once per process; any thread may call it). */
void forkgen_init(void);

/* This process's generation.  Relaxed: the handler runs in the child's
 * only thread before fork() returns there, so every later load in that
 * child sees it. */
static inline unsigned forkgen_now(void)
{
	return atomic_load_explicit(&forkgen_current, memory_order_relaxed);
}

#endif
