/*
 * cleanup.c — scratch directories and child processes, undone on every exit
 * path including a signal (see cleanup.h).
 *
 * The registry is a pair of fixed arrays, so the signal handler never
 * allocates.  Only the main thread registers and unregisters; the handler
 * reads a slot only after its `used` flag says it is complete (a release
 * store pairs with the handler's acquire load).
 */
#include "cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIRS 4
#define MAX_PIDS 80           /* 64 hosts, a server, the twin, and room */
#define DIR_MAX 512

static struct { char path[DIR_MAX]; int used; } dirs[MAX_DIRS];
static struct { pid_t pid; int used; } pids[MAX_PIDS];

/* Removes every entry of a flat directory, then the directory.  System
 * calls only: the signal handler calls it too. */
static void remove_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		char buf[4096];
		ssize_t n;
		while ((n = getdents64(fd, buf, sizeof buf)) > 0) {
			for (ssize_t off = 0; off < n;) {
				struct dirent64 *d = (struct dirent64 *)(buf + off);
				off += d->d_reclen;
				if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
					unlinkat(fd, d->d_name, 0);
			}
		}
		close(fd);
	}
	rmdir(path);
}

static void on_signal(int sig)
{
	int saved = errno;
	for (int i = 0; i < MAX_PIDS; i++)
		if (__atomic_load_n(&pids[i].used, __ATOMIC_ACQUIRE))
			kill(pids[i].pid, SIGTERM);
	for (int i = 0; i < MAX_DIRS; i++)
		if (__atomic_load_n(&dirs[i].used, __ATOMIC_ACQUIRE))
			remove_tree(dirs[i].path);
	errno = saved;
	signal(sig, SIG_DFL);
	raise(sig);
}

void cleanup_on_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		/* A signal ignored at start (nohup, a background job) stays so. */
		struct sigaction old;
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
}

int scratch_make(const char *root, const char *name, char *out, size_t cap, char *err,
		 size_t errcap)
{
	int n = snprintf(out, cap, "%s/shmemora-kv-%d-%s", root, (int)getpid(), name);
	if (n < 0 || (size_t)n >= cap || (size_t)n >= DIR_MAX) {
		snprintf(err, errcap, "scratch directory name under %s is too long", root);
		return -1;
	}
	int slot = -1;
	for (int i = 0; i < MAX_DIRS && slot < 0; i++)
		if (!dirs[i].used)
			slot = i;
	if (slot < 0) {
		snprintf(err, errcap, "more than %d scratch directories at once", MAX_DIRS);
		return -1;
	}
	if (mkdir(out, 0700) != 0) {
		snprintf(err, errcap, "cannot create scratch directory %s: %s", out, strerror(errno));
		return -1;
	}
	memcpy(dirs[slot].path, out, (size_t)n + 1);
	__atomic_store_n(&dirs[slot].used, 1, __ATOMIC_RELEASE);
	return 0;
}

void scratch_remove(const char *dir)
{
	remove_tree(dir);
	for (int i = 0; i < MAX_DIRS; i++)
		if (dirs[i].used && !strcmp(dirs[i].path, dir))
			__atomic_store_n(&dirs[i].used, 0, __ATOMIC_RELEASE);
}

void cleanup_watch_pid(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (!pids[i].used) {
			pids[i].pid = pid;
			__atomic_store_n(&pids[i].used, 1, __ATOMIC_RELEASE);
			return;
		}
	/* Full: this child is not killed on a signal, but still reaped. */
}

void cleanup_forget_pid(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (pids[i].used && pids[i].pid == pid)
			__atomic_store_n(&pids[i].used, 0, __ATOMIC_RELEASE);
}

void cleanup_forget_all(void)
{
	for (int i = 0; i < MAX_PIDS; i++)
		pids[i].used = 0;
	for (int i = 0; i < MAX_DIRS; i++)
		dirs[i].used = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}
