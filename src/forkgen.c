/*
 * forkgen.c — the fork generation (see forkgen.h).
 */
#include "forkgen.h"

#include <pthread.h>

_Atomic unsigned forkgen_current;

static pthread_once_t registered = PTHREAD_ONCE_INIT;

static void in_child(void)
{
	atomic_fetch_add_explicit(&forkgen_current, 1, memory_order_relaxed);
}

static void register_handler(void)
{
	/* Fails only without memory; then children go untold, and fault on
	 * the secrets they lack as they would without this module. */
	(void)pthread_atfork(NULL, NULL, in_child);
}

void forkgen_init(void)
{
	pthread_once(&registered, register_handler);
}
