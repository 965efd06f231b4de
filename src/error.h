/*
 * error.h — error codes and the per-thread detail message.
 *
 * Every failing path in the library ends in error_set(), which records a
 * message for shmemora_errmsg() and returns the code, so a caller writes
 * `return error_set(SHMEMORA_E_IO, "open %s: %s", path, strerror(errno));`.
 * The message buffer is thread-local: threads never see each other's errors.
 */
#ifndef SHMEMORA_ERROR_H
#define SHMEMORA_ERROR_H

#include "shmemora.h"

/* Records a printf-style message for the calling thread and returns `code`. */
int error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "context: " and returns `code`; used to
 * add the pool path to an error raised by a lower layer. */
int error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the calling thread's message (called on entry of public calls that
 * may succeed after inner retries, so a stale message is never shown). */
void error_clear(void);

#endif
