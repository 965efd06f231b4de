/*
 * files.h — the small files beside a pool (key file, token files): reading
 * them safely, and sharing a new file with a group.
 */
#ifndef SHMEMORA_FILES_H
#define SHMEMORA_FILES_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Reads a small file whole: it must be a regular file (a FIFO, device or
 * symbolic link is refused without blocking) of at most `cap` bytes.
 * Returns 0 with *len and *st, or -errno (EINVAL: not a regular file,
 * EFBIG: larger than cap, ELOOP: a symbolic link, ...). */
int files_read_small(const char *path, void *buf, size_t cap, size_t *len, struct stat *st);

/* What files_read_small's error says about a file, for a message. */
const char *files_problem(int rc);

/* Gives the file open as `fd` to group `gid` with `mode` (nothing when gid
 * is -1).  `what` names the file in messages ("key file").  E_PERMISSION
 * when this user may not give files to that group. */
int files_share_with_group(int fd, const char *path, const char *what, long gid, mode_t mode);

#endif
