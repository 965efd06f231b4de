/*
 * twin.c — running the unprotected twin and passing its rows back (see
 * twin.h).  The twin is fork()ed and execv()ed with an argv array, its
 * stdout a pipe; its stderr is ours, so its messages reach the user.
 */
#include "twin.h"
#include "cleanup.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef SHMEMORA_UNPROTECTED
#define TWIN_SUFFIX ""
#else
#define TWIN_SUFFIX "-unprotected"
#endif

/* The wire header: a format name and the sizes the reader must agree on. */
struct twin_header {
	char magic[8];
	uint32_t row_size;
	uint32_t rows;
};
static const char twin_magic[8] = "KVTWIN1";

int twin_send(const struct result *rows, int n)
{
	struct twin_header h = { .row_size = sizeof *rows, .rows = (uint32_t)n };
	memcpy(h.magic, twin_magic, sizeof h.magic);
	if (fwrite(&h, sizeof h, 1, stdout) != 1 ||
	    (n && fwrite(rows, sizeof *rows, (size_t)n, stdout) != (size_t)n) || fflush(stdout))
		return -1;
	return 0;
}

/* This program's path with the twin's suffix. */
static int twin_path(char *out, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		return -1;
	self[n] = '\0';
	int m = snprintf(out, cap, "%s%s", self, TWIN_SUFFIX);
	return m < 0 || (size_t)m >= cap ? -1 : 0;
}

static pid_t spawn(const char *path, char *const argv[], int out_fd)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (dup2(out_fd, 1) < 0)
			_exit(126);
		close(out_fd);
		execv(path, argv);
		fprintf(stderr, "kv: cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Reads the whole pipe; returns the bytes read, or -1. */
static ssize_t read_all(int fd, char **out)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (n == cap) {
			char *more = realloc(buf, cap * 2);
			if (!more)
				break;
			buf = more;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			*out = buf;
			return got < 0 ? -1 : (ssize_t)n;
		}
		n += (size_t)got;
	}
	free(buf);
	return -1;
}

/* Checks the header and copies `expect` rows; NULL or a reason. */
static const char *unpack(const char *buf, ssize_t n, struct result *rows, int expect)
{
	struct twin_header h;
	if (n < (ssize_t)sizeof h)
		return "it sent no results";
	memcpy(&h, buf, sizeof h);
	if (memcmp(h.magic, twin_magic, sizeof h.magic) || h.row_size != sizeof *rows)
		return "its results are of another build (run make)";
	if (h.rows != (uint32_t)expect ||
	    (size_t)n != sizeof h + (size_t)expect * sizeof *rows)
		return "its results are cut short";
	memcpy(rows, buf + sizeof h, (size_t)expect * sizeof *rows);
	for (int i = 0; i < expect; i++) {
		rows[i].store[sizeof rows[i].store - 1] = '\0';
		rows[i].test[sizeof rows[i].test - 1] = '\0';
		rows[i].error[sizeof rows[i].error - 1] = '\0';
		if (rows[i].nhosts < 0 || rows[i].nhosts > HOSTS_MAX)
			rows[i].nhosts = 0;
	}
	return NULL;
}

/* Why the twin's exit status is not a result (0 and 5, a store failed,
 * both carry rows); NULL if it is one. */
static const char *bad_status(int status, char *buf, size_t cap)
{
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 5))
		return NULL;
	if (WIFSIGNALED(status))
		snprintf(buf, cap, "it was killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, cap, "it exited with status %d", WEXITSTATUS(status));
	return buf;
}

static void fail_rows(const struct options *o, struct result *rows, int expect,
		      const char *path, const char *why)
{
	for (int i = 0; i < expect; i++) {
		memset(&rows[i], 0, sizeof rows[i]);
		snprintf(rows[i].store, sizeof rows[i].store, "shmemora-unprotected");
		rows[i].threads = o->threads;
		rows[i].repeats = 1;
		snprintf(rows[i].error, sizeof rows[i].error, "could not run %s: %s", path, why);
	}
}

int twin_run(const struct options *o, struct result *rows, int expect)
{
	char path[PATH_MAX + 32], threads[16], status_why[64];
	if (twin_path(path, sizeof path)) {
		fail_rows(o, rows, expect, "the twin", "cannot find this program's path");
		return -1;
	}
	snprintf(threads, sizeof threads, "%d", o->threads);
	char *argv[TWIN_ARGS_MAX + 6];
	int argc = 0;
	argv[argc++] = path;
	for (int i = 0; i < o->twin_argc; i++)
		argv[argc++] = (char *)o->twin_argv[i];
	/* This round's thread count comes last and wins. */
	argv[argc++] = "--threads";
	argv[argc++] = threads;
	argv[argc++] = "--twin-results";
	argv[argc] = NULL;
	int p[2];
	if (pipe(p)) {
		fail_rows(o, rows, expect, path, strerror(errno));
		return -1;
	}
	pid_t pid = spawn(path, argv, p[1]);
	int fork_errno = errno;
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		fail_rows(o, rows, expect, path, strerror(fork_errno));
		return -1;
	}
	cleanup_watch_pid(pid);
	char *buf = NULL;
	ssize_t n = read_all(p[0], &buf);
	close(p[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	cleanup_forget_pid(pid);
	const char *why = n < 0 ? "cannot read its results"
		: bad_status(status, status_why, sizeof status_why);
	if (!why)
		why = unpack(buf, n, rows, expect);
	free(buf);
	if (why) {
		fail_rows(o, rows, expect, path, why);
		return -1;
	}
	for (int i = 0; i < expect; i++)
		if (rows[i].error[0])
			return -1;
	return 0;
}
