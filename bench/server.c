/*
 * server.c — peer servers for the benchmark (see server.h).
 */
#include "server.h"
#include "cleanup.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int server_socket_path(const char *dir, const char *name, char *out, size_t cap, char *err)
{
	struct sockaddr_un a;
	int n = snprintf(out, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof a.sun_path) {
		snprintf(err, STORE_ERROR_MAX, "socket path %s/%s is longer than a Unix socket "
			 "allows (%zu bytes): use a shorter --dir", dir, name, sizeof a.sun_path - 1);
		return -1;
	}
	return 0;
}

static int accepts(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void sleep_ms(long ms)
{
	struct timespec d = { 0, ms * 1000000 };
	nanosleep(&d, NULL);
}

pid_t server_start(char *const argv[], const char *socket_path, char *err)
{
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, STORE_ERROR_MAX, "cannot start %s: fork: %s", argv[0], strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	cleanup_watch_pid(pid);
	for (int i = 0; i < 1000; i++) {
		if (accepts(socket_path))
			return pid;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			cleanup_forget_pid(pid);
			snprintf(err, STORE_ERROR_MAX, "%s exited at start (%s); is it installed? "
				 "(scripts/install-deps.sh)", argv[0],
				 WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "not found" : "failed");
			return -1;
		}
		sleep_ms(10);
	}
	snprintf(err, STORE_ERROR_MAX, "%s did not open %s within 10 s", argv[0], socket_path);
	server_stop(pid);
	return -1;
}

void server_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	int gone = 0;
	for (int i = 0; i < 300 && !gone; i++) {
		gone = waitpid(pid, NULL, WNOHANG) == pid;
		if (!gone)
			sleep_ms(10);
	}
	if (!gone) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	cleanup_forget_pid(pid);
}
