/*
 * server.c — peer servers for the benchmark (see server.h).
 */
#include "server.h"

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

pid_t server_start(char *const argv[], const char *socket_path)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		if (accepts(socket_path))
			return pid;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "bench: %s exited at start (%s); is it installed? "
				"(scripts/install-deps.sh --bench)\n", argv[0],
				WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "not found" : "failed");
			return -1;
		}
		struct timespec ms = { 0, 10 * 1000000 };
		nanosleep(&ms, NULL);
	}
	fprintf(stderr, "bench: %s did not open %s within 10 s\n", argv[0], socket_path);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

void server_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		struct timespec ms = { 0, 10 * 1000000 };
		nanosleep(&ms, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
