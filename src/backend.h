/*
 * backend.h — what the pool lives on, and how it is mapped.
 *
 * Three backends: a regular file (tmpfs such as /dev/shm, or a disk file),
 * a file on hugetlbfs (huge pages: the page size becomes the alignment) and
 * a devdax character device (size from /sys/dev/char/M:m/size, alignment
 * from /sys/dev/char/M:m/align, or .../device/align on older kernels; a
 * device whose alignment cannot be read is refused, never guessed).  This
 * module opens and classifies a path, reserves space for a new file so a
 * later store can never SIGBUS on a full tmpfs, binds an emulated pool to a
 * NUMA node, and maps the pool at its alignment.
 *
 * A path "FILE@OFFSET" names a pool that starts OFFSET bytes into an
 * existing regular file: how a process on a machine joins the pool its
 * virtual machines see as device-DAX (the emulated NVDIMM's backing file
 * holds the device's bytes from 2 MiB on).  Such a medium, like a device,
 * already exists: create writes into it and destroy wipes it.
 *
 * Device-DAX has no read, write or fsync (they fail with EINVAL): every
 * byte of it is read and written through a mapping, here too.
 */
#ifndef SHMEMORA_BACKEND_H
#define SHMEMORA_BACKEND_H

#include "shmemora.h"

#include <stdint.h>
#include <sys/types.h>

struct backend {
	int fd;
	enum shmemora_backend kind;
	uint32_t page_size;
	uint32_t alignment;
	uint64_t size;           /* bytes usable from `offset` on (file or device size) */
	uint64_t offset;         /* where the pool starts in the file ("FILE@OFFSET") */
	int existing;            /* a medium this library did not make: devdax, FILE@OFFSET */
	long gid;                /* the file's or device's group */
};

/* Opens an existing pool path (read-only or read-write) and classifies it.
 * E_NOT_FOUND, E_BAD_PATH (directory, socket, a char device that is not
 * devdax), E_IO. */
int backend_open(const char *path, int writable, struct backend *be);

/* Creates a new file exclusively (mode 0600) and classifies it; for a
 * devdax path or FILE@OFFSET opens the existing medium.  *created tells
 * whether a file was made. */
int backend_create(const char *path, struct backend *be, int *created);

/* A new pool file shared with group `gid` (mode 0660; -1: stay 0600). */
int backend_share(struct backend *be, const char *path, long gid);

/* Sizes a new file to `size`: ftruncate, then reserves its blocks
 * (posix_fallocate) after applying the NUMA binding (node >= 0). */
int backend_reserve(struct backend *be, const char *path, uint64_t size, int numa_node);

/* Maps `size` bytes shared, read-write (or read-only), at an address
 * aligned to the backend's alignment. */
int backend_map(const struct backend *be, uint64_t size, int writable, void **base);

void backend_unmap(void *base, uint64_t size);
void backend_close(struct backend *be);

/* Copies `len` bytes at pool offset `off` into buf: pread for files (a
 * file truncated meanwhile gives a short read, not a SIGBUS), a transient
 * read-only mapping for devdax.  Returns the bytes copied (short at the
 * end of the medium), or E_IO. */
int backend_read(const struct backend *be, uint64_t off, void *buf, uint64_t len,
		 uint64_t *got);

/* Makes [addr, addr+len) of a mapping durable: msync for files; nothing for
 * devdax, whose stores reach the device (msync fails there with EINVAL). */
int backend_sync(enum shmemora_backend kind, void *addr, uint64_t len);

#endif
