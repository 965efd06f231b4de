/*
 * files.c — the small files beside a pool: reading a secret or token file
 * without blocking on whatever the name turns out to be, and giving a new
 * file to a group.
 */
#include "files.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int files_read_small(const char *path, void *buf, size_t cap, size_t *len, struct stat *st)
{
	/* O_NONBLOCK: a FIFO must not block the open (it is refused below);
	 * O_NOFOLLOW: the name must be the file, not a link to elsewhere. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (fstat(fd, st) != 0)
		rc = -errno;
	else if (!S_ISREG(st->st_mode))
		rc = -EINVAL;
	else if ((uint64_t)st->st_size > cap)
		rc = -EFBIG;
	size_t n = 0;
	while (rc == 0 && n < cap) {
		ssize_t got = read(fd, (uint8_t *)buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			rc = -errno;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	*len = n;
	return rc;
}

const char *files_problem(int rc)
{
	switch (-rc) {
	case EINVAL: return "is not a regular file (a FIFO, a device or a directory?)";
	case EFBIG: return "is larger than such a file can be";
	case ELOOP: return "is a symbolic link (give the file itself)";
	}
	return strerror(-rc);
}

int files_share_with_group(int fd, const char *path, const char *what, long gid, mode_t mode)
{
	if (gid < 0)
		return 0;
	if (fchown(fd, (uid_t)-1, (gid_t)gid) != 0) {
		int e = errno;
		return error_set(e == EPERM ? SHMEMORA_E_PERMISSION : SHMEMORA_E_IO,
				 "cannot give %s %s to group %ld: %s%s", what, path, gid,
				 strerror(e), e == EPERM ? " (only members of a group, or root, may "
				 "give it a file)" : "");
	}
	if (fchmod(fd, mode) != 0)
		return error_set(SHMEMORA_E_IO, "cannot set the mode of %s %s to %04o: %s", what,
				 path, (unsigned)mode, strerror(errno));
	return 0;
}
