/*
 * backend.h — what the pool lives on, and how it is mapped.
 *
 * Three backends: a regular file (tmpfs such as /dev/shm, or a disk file),
 * a file on hugetlbfs (huge pages: the page size becomes the alignment) and
 * a devdax character device (size and alignment from sysfs, 2 MiB by
 * default).  This module opens and classifies a path, reserves space for a
 * new file so a later store can never SIGBUS on a full tmpfs, binds an
 * emulated pool to a NUMA node, and maps the pool at its alignment.
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
	uint64_t size;           /* file size, or device size */
};

/* Opens an existing pool path (read-only or read-write) and classifies it.
 * E_NOT_FOUND, E_BAD_PATH (directory, socket, a char device that is not
 * devdax), E_IO. */
int backend_open(const char *path, int writable, struct backend *be);

/* Creates a new file exclusively (mode 0600) and classifies it; for a
 * devdax path opens the device.  *created tells whether a file was made. */
int backend_create(const char *path, struct backend *be, int *created);

/* Sizes a new file to `size`: ftruncate, then reserves its blocks
 * (posix_fallocate) after applying the NUMA binding (node >= 0). */
int backend_reserve(struct backend *be, const char *path, uint64_t size, int numa_node);

/* Maps `size` bytes shared, read-write (or read-only), at an address
 * aligned to the backend's alignment. */
int backend_map(const struct backend *be, uint64_t size, int writable, void **base);

void backend_unmap(void *base, uint64_t size);
void backend_close(struct backend *be);

/* Makes [addr, addr+len) of a mapping durable (msync); a no-op cost on
 * tmpfs and devdax. */
int backend_sync(void *addr, uint64_t len);

#endif
