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
	case SHMEMORA_OK: return "SHMEMORA_OK: success";
	case SHMEMORA_E_INVALID: return "SHMEMORA_E_INVALID: invalid argument";
	case SHMEMORA_E_NOT_FOUND: return "SHMEMORA_E_NOT_FOUND: not found";
	case SHMEMORA_E_EXISTS: return "SHMEMORA_E_EXISTS: already exists";
	case SHMEMORA_E_NOT_POOL: return "SHMEMORA_E_NOT_POOL: not a SHMemora pool";
	case SHMEMORA_E_VERSION: return "SHMEMORA_E_VERSION: pool format version not supported";
	case SHMEMORA_E_TRUNCATED: return "SHMEMORA_E_TRUNCATED: pool file truncated";
	case SHMEMORA_E_CORRUPT: return "SHMEMORA_E_CORRUPT: pool metadata corrupt";
	case SHMEMORA_E_TAMPERED: return "SHMEMORA_E_TAMPERED: pool metadata tampered with";
	case SHMEMORA_E_KEY: return "SHMEMORA_E_KEY: key file unusable";
	case SHMEMORA_E_KEY_MISMATCH: return "SHMEMORA_E_KEY_MISMATCH: key does not match this pool";
	case SHMEMORA_E_GEOMETRY: return "SHMEMORA_E_GEOMETRY: pool geometry does not fit";
	case SHMEMORA_E_BAD_PATH: return "SHMEMORA_E_BAD_PATH: unsupported path";
	case SHMEMORA_E_NO_SLOT: return "SHMEMORA_E_NO_SLOT: no free host slot";
	case SHMEMORA_E_BUSY: return "SHMEMORA_E_BUSY: in use (live hosts, or being deleted)";
	case SHMEMORA_E_IO: return "SHMEMORA_E_IO: system call failed";
	case SHMEMORA_E_NOMEM: return "SHMEMORA_E_NOMEM: out of memory";
	case SHMEMORA_E_UNSUPPORTED: return "SHMEMORA_E_UNSUPPORTED: not supported here";
	case SHMEMORA_E_FENCED: return "SHMEMORA_E_FENCED: host slot was reclaimed (fenced)";
	case SHMEMORA_E_TOKEN_MALFORMED: return "SHMEMORA_E_TOKEN_MALFORMED: malformed token";
	case SHMEMORA_E_TOKEN_REFUSED: return "SHMEMORA_E_TOKEN_REFUSED: token refused";
	case SHMEMORA_E_REVOKED: return "SHMEMORA_E_REVOKED: token revoked";
	case SHMEMORA_E_EXPIRED: return "SHMEMORA_E_EXPIRED: token expired";
	case SHMEMORA_E_DENIED: return "SHMEMORA_E_DENIED: access denied: missing right";
	case SHMEMORA_E_OUT_OF_SCOPE: return "SHMEMORA_E_OUT_OF_SCOPE: outside the token's scope";
	case SHMEMORA_E_WIDEN: return "SHMEMORA_E_WIDEN: derived token would exceed its parent";
	case SHMEMORA_E_TABLE_FULL: return "SHMEMORA_E_TABLE_FULL: capability table full";
	case SHMEMORA_E_NO_SPACE: return "SHMEMORA_E_NO_SPACE: out of space in the pool";
	case SHMEMORA_E_CONFLICT: return "SHMEMORA_E_CONFLICT: version conflict";
	case SHMEMORA_E_TOO_SMALL: return "SHMEMORA_E_TOO_SMALL: buffer too small for the value";
	case SHMEMORA_E_QUOTA: return "SHMEMORA_E_QUOTA: quota exhausted";
	case SHMEMORA_E_CONTENDED: return "SHMEMORA_E_CONTENDED: concurrent writers kept "
				   "changing it; try again";
	case SHMEMORA_E_READ_ONLY: return "SHMEMORA_E_READ_ONLY: observer handle: writes "
				  "refused";
	case SHMEMORA_E_PERMISSION: return "SHMEMORA_E_PERMISSION: permission denied";
	}
	return "unknown error code";
}
