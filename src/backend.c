/*
 * backend.c — files, hugetlbfs and devdax: open, classify, size, map.
 */
#include "backend.h"
#include "error.h"
#include "harden.h"
#include "layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <numa.h>

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
#define DEVDAX_DEFAULT_ALIGN (2u << 20)

static int read_sysfs_u64(const char *path, uint64_t *out)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	unsigned long long v;
	int ok = fscanf(f, "%llu", &v) == 1;
	fclose(f);
	if (!ok)
		return -1;
	*out = v;
	return 0;
}

static int classify_devdax(const char *path, const struct stat *st, struct backend *be)
{
	char sys[128];
	uint64_t size = 0, align = DEVDAX_DEFAULT_ALIGN;
	snprintf(sys, sizeof sys, "/sys/dev/char/%u:%u/size", major(st->st_rdev),
		 minor(st->st_rdev));
	if (read_sysfs_u64(sys, &size) != 0 || size == 0)
		return error_set(SHMEMORA_E_BAD_PATH,
				 "%s is a character device but not a devdax device (%s unreadable)",
				 path, sys);
	snprintf(sys, sizeof sys, "/sys/dev/char/%u:%u/device/align", major(st->st_rdev),
		 minor(st->st_rdev));
	if (read_sysfs_u64(sys, &align) != 0 || !is_pow2(align) || align < MIN_ALIGNMENT)
		align = DEVDAX_DEFAULT_ALIGN;
	be->kind = SHMEMORA_BACKEND_DEVDAX;
	be->size = size;
	be->alignment = (uint32_t)align;
	be->page_size = (uint32_t)align;
	return 0;
}

static int classify(const char *path, struct backend *be)
{
	struct stat st;
	if (fstat(be->fd, &st) != 0)
		return error_set(SHMEMORA_E_IO, "stat %s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return error_set(SHMEMORA_E_BAD_PATH, "%s is a directory, not a pool file", path);
	if (S_ISCHR(st.st_mode))
		return classify_devdax(path, &st, be);
	if (!S_ISREG(st.st_mode))
		return error_set(SHMEMORA_E_BAD_PATH,
				 "%s is neither a regular file nor a devdax device", path);
	struct statfs fs;
	if (fstatfs(be->fd, &fs) != 0)
		return error_set(SHMEMORA_E_IO, "statfs %s: %s", path, strerror(errno));
	be->size = (uint64_t)st.st_size;
	if ((unsigned long)fs.f_type == HUGETLBFS_MAGIC) {
		be->kind = SHMEMORA_BACKEND_HUGETLBFS;
		be->page_size = (uint32_t)fs.f_bsize;
		be->alignment = (uint32_t)fs.f_bsize;
	} else {
		be->kind = SHMEMORA_BACKEND_FILE;
		be->page_size = (uint32_t)sysconf(_SC_PAGESIZE);
		be->alignment = MIN_ALIGNMENT;
	}
	return 0;
}

int backend_open(const char *path, int writable, struct backend *be)
{
	memset(be, 0, sizeof *be);
	/* O_NONBLOCK: opening a FIFO by mistake must not hang. */
	be->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
	if (be->fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return error_set(SHMEMORA_E_NOT_FOUND, "%s: no such pool file", path);
		if (e == EISDIR)
			return error_set(SHMEMORA_E_BAD_PATH, "%s is a directory, not a pool file",
					 path);
		return error_set(SHMEMORA_E_IO, "cannot open %s: %s", path, strerror(e));
	}
	int rc = classify(path, be);
	if (rc)
		backend_close(be);
	return rc;
}

int backend_create(const char *path, struct backend *be, int *created)
{
	memset(be, 0, sizeof *be);
	*created = 0;
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISCHR(st.st_mode))
			return backend_open(path, 1, be);
		if (S_ISDIR(st.st_mode))
			return error_set(SHMEMORA_E_BAD_PATH, "%s is a directory; give a file path "
					 "for the pool, e.g. %s/pool", path, path);
		if (S_ISREG(st.st_mode))
			return error_set(SHMEMORA_E_EXISTS, "%s already exists; run 'shmemora "
					 "destroy %s' first, or choose another path", path, path);
		return error_set(SHMEMORA_E_BAD_PATH,
				 "%s exists and is neither a regular file nor a devdax device", path);
	}
	be->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (be->fd < 0) {
		if (errno == EEXIST)
			return error_set(SHMEMORA_E_EXISTS, "%s already exists", path);
		return error_set(SHMEMORA_E_IO, "cannot create %s: %s", path, strerror(errno));
	}
	*created = 1;
	int rc = classify(path, be);
	if (rc) {
		backend_close(be);
		unlink(path);
		*created = 0;
	}
	return rc;
}

static int bind_to_node(int node, struct bitmask **saved)
{
	*saved = NULL;
	if (node < 0)
		return 0;
	if (numa_available() < 0)
		return error_set(SHMEMORA_E_UNSUPPORTED,
				 "NUMA binding asked for, but this kernel has no NUMA support");
	if (node > numa_max_node() || !numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)node))
		return error_set(SHMEMORA_E_INVALID,
				 "NUMA node %d does not exist or is not allowed here (nodes 0..%d)",
				 node, numa_max_node());
	*saved = numa_get_membind();
	struct bitmask *mask = numa_allocate_nodemask();
	if (!mask || !*saved) {
		numa_bitmask_free(mask);
		return error_set(SHMEMORA_E_NOMEM, "out of memory for a NUMA node mask");
	}
	numa_bitmask_setbit(mask, (unsigned)node);
	numa_set_membind(mask);
	numa_bitmask_free(mask);
	return 0;
}

static void unbind(struct bitmask *saved)
{
	if (!saved)
		return;
	numa_set_membind(saved);
	numa_bitmask_free(saved);
}

int backend_reserve(struct backend *be, const char *path, uint64_t size, int numa_node)
{
	if (be->kind == SHMEMORA_BACKEND_DEVDAX) {
		if (size > be->size)
			return error_set(SHMEMORA_E_GEOMETRY,
					 "%s holds %llu bytes, less than the %llu asked for", path,
					 (unsigned long long)be->size, (unsigned long long)size);
		if (numa_node >= 0)
			return error_set(SHMEMORA_E_INVALID, "--numa-node applies to emulated pools; "
					 "a devdax device is already memory of its own node");
		return 0;
	}
	if (ftruncate(be->fd, (off_t)size) != 0)
		return error_set(SHMEMORA_E_IO, "cannot size %s to %llu bytes: %s", path,
				 (unsigned long long)size, strerror(errno));
	/* Allocating the blocks now turns "tmpfs full" into an error here
	 * instead of a SIGBUS in some later store.  The pages are allocated
	 * under the calling thread's memory policy: bind it around the call. */
	struct bitmask *saved;
	int rc = bind_to_node(numa_node, &saved);
	if (rc)
		return rc;
	int e = posix_fallocate(be->fd, 0, (off_t)size);
	unbind(saved);
	if (e == ENOSPC) {
		struct statfs fs;
		unsigned long long avail = fstatfs(be->fd, &fs) == 0
			? (unsigned long long)fs.f_bavail * (unsigned long long)fs.f_bsize : 0;
		return error_set(SHMEMORA_E_IO,
				 "not enough space for a %llu MiB pool at %s (%llu MiB free there): "
				 "use a smaller --size or free space", (unsigned long long)(size >> 20),
				 path, avail >> 20);
	}
	if (e != 0 && e != EOPNOTSUPP && e != EINVAL)
		return error_set(SHMEMORA_E_IO, "cannot allocate %s: %s", path, strerror(e));
	be->size = size;
	return 0;
}

int backend_map(const struct backend *be, uint64_t size, int writable, void **base)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	uint64_t align = be->alignment;
	void *p;
	if (align <= (uint64_t)sysconf(_SC_PAGESIZE) || be->kind == SHMEMORA_BACKEND_HUGETLBFS) {
		/* The kernel already aligns hugetlbfs mappings to their page. */
		p = mmap(NULL, size, prot, MAP_SHARED, be->fd, 0);
	} else {
		/* Reserve size + align of address space, map at the aligned point
		 * inside it, and give back the slack on both sides. */
		uint8_t *area = mmap(NULL, size + align, PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (area == MAP_FAILED)
			return error_set(SHMEMORA_E_IO, "cannot reserve %llu bytes of address "
					 "space: %s", (unsigned long long)size, strerror(errno));
		uint8_t *aligned = (uint8_t *)align_up((uintptr_t)area, align);
		p = mmap(aligned, size, prot, MAP_SHARED | MAP_FIXED, be->fd, 0);
		if (p == MAP_FAILED) {
			int e = errno;
			munmap(area, size + align);
			errno = e;
		} else {
			if (aligned > area)
				munmap(area, (size_t)(aligned - area));
			size_t tail = (size_t)(area + size + align - (aligned + size));
			if (tail)
				munmap(aligned + size, tail);
		}
	}
	if (p == MAP_FAILED && errno == EPERM && harden_active())
		return error_set(SHMEMORA_E_IO, "cannot map the pool: this process runs in "
				 "hardened mode, whose filter refuses every new shared mapping of a "
				 "file; attach every pool before the first hardened attach");
	if (p == MAP_FAILED)
		return error_set(SHMEMORA_E_IO, "cannot map the pool (%llu bytes): %s",
				 (unsigned long long)size, strerror(errno));
	*base = p;
	return 0;
}

void backend_unmap(void *base, uint64_t size)
{
	if (base)
		munmap(base, size);
}

void backend_close(struct backend *be)
{
	if (be->fd >= 0)
		close(be->fd);
	be->fd = -1;
}

int backend_sync(void *addr, uint64_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)addr & ~(page - 1);
	if (msync((void *)start, (size_t)((uintptr_t)addr + len - start), MS_SYNC) != 0)
		return error_set(SHMEMORA_E_IO, "msync: %s", strerror(errno));
	return 0;
}
