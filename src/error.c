/*
 * error.c — error codes, their names, and the per-thread detail message.
 *
 * Codes live in their own range (-4001 and below) so they are never confused
 * with -errno values.  The detail message is kept in a thread-local buffer of
 * fixed size: recording an error never allocates, so it works when memory is
 * exhausted too.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERRMSG_MAX 512

static _Thread_local char errmsg[ERRMSG_MAX];

int error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof errmsg, fmt, ap);
	va_end(ap);
	return code;
}

int error_wrap(int code, const char *fmt, ...)
{
	char prefix[ERRMSG_MAX];
	char joined[2 * ERRMSG_MAX + 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	/* Lower layers often name the path already: do not say it twice. */
	size_t plen = strlen(prefix);
	if (strncmp(errmsg, prefix, plen) == 0 && errmsg[plen] == ':')
		return code;
	snprintf(joined, sizeof joined, "%s: %s", prefix, errmsg);
	/* Long messages are cut at the buffer's end, never overflowed. */
	memcpy(errmsg, joined, ERRMSG_MAX - 1);
	errmsg[ERRMSG_MAX - 1] = '\0';
	return code;
}

void error_clear(void)
{
	errmsg[0] = '\0';
}

const char *shmemora_errmsg(void)
{
	return errmsg;
}

const char *shmemora_strerror(int err)
{
	switch (err) {
	case SHMEMORA_OK: return "success";
	case SHMEMORA_E_INVALID: return "invalid argument";
	case SHMEMORA_E_NOT_FOUND: return "not found";
	case SHMEMORA_E_EXISTS: return "already exists";
	case SHMEMORA_E_NOT_POOL: return "not a SHMemora pool";
	case SHMEMORA_E_VERSION: return "pool format version not supported";
	case SHMEMORA_E_TRUNCATED: return "pool file truncated";
	case SHMEMORA_E_CORRUPT: return "pool metadata corrupt";
	case SHMEMORA_E_TAMPERED: return "pool metadata tampered with";
	case SHMEMORA_E_KEY: return "key file unusable";
	case SHMEMORA_E_KEY_MISMATCH: return "key does not match this pool";
	case SHMEMORA_E_GEOMETRY: return "pool geometry does not fit";
	case SHMEMORA_E_BAD_PATH: return "unsupported path";
	case SHMEMORA_E_NO_SLOT: return "no free host slot";
	case SHMEMORA_E_BUSY: return "pool in use";
	case SHMEMORA_E_IO: return "system call failed";
	case SHMEMORA_E_NOMEM: return "out of memory";
	case SHMEMORA_E_UNSUPPORTED: return "not supported here";
	case SHMEMORA_E_FENCED: return "host slot was reclaimed (fenced)";
	case SHMEMORA_E_TOKEN_MALFORMED: return "malformed token";
	case SHMEMORA_E_TOKEN_REFUSED: return "token refused";
	case SHMEMORA_E_REVOKED: return "token revoked";
	case SHMEMORA_E_EXPIRED: return "token expired";
	case SHMEMORA_E_DENIED: return "access denied: missing right";
	case SHMEMORA_E_OUT_OF_SCOPE: return "access outside the token's scope";
	case SHMEMORA_E_WIDEN: return "derived token would exceed its parent";
	case SHMEMORA_E_TABLE_FULL: return "capability table full";
	case SHMEMORA_E_NO_SPACE: return "out of space in the pool";
	case SHMEMORA_E_CONFLICT: return "version conflict";
	case SHMEMORA_E_TOO_SMALL: return "buffer too small for the value";
	case SHMEMORA_E_READ_ONLY: return "observer handle: writes refused";
	}
	return "unknown error code";
}
