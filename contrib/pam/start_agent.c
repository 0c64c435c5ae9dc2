/*
 * start_agent.c: auto_start, starting the user's agent from the worker.
 *
 * The worker is already the user.  `xoauth-agent -a SOCKET` binds its
 * socket before it forks into the background and its first process exits
 * (see agent/main.c), so that exit says the socket is ready, or, with a
 * non-zero status and a line on stderr, why the agent could not start.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

/* The agent's stderr is read up to this, for the log. */
#define ERR_MAX 200

/* Makes the socket's directory (0700, as the user socket unit's
 * DirectoryMode), one level only: the runtime directory above it is
 * logind's to make. */
static int socket_dir(const char *socket, char *err, size_t errlen)
{
	char dir[PXO_PATH_MAX];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", socket);
	/* The path is absolute (options.c), so there is a slash. */
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	return 0;
}

/* Removes a socket nobody listens on (the caller's connect was refused):
 * left by an agent that was killed, it would make the new one's bind
 * fail. */
static int stale_socket(const char *socket, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(socket, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", socket);
		return -1;
	}
	if (unlink(socket) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove the stale socket %s: %s",
			 socket, strerror(errno));
		return -1;
	}
	return 0;
}

/* In the agent's process, before exec: default signals, nothing of ours
 * open, no word on the terminal. */
static void exec_agent(const struct pxo_job *job, int err_fd)
{
	char envbuf[2048];
	char *env[8];
	char *argv[] = {"xoauth-agent", "-a", (char *)job->socket, NULL};
	sigset_t all;
	int sig, fd;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* exec resets caught signals but keeps ignored ones ignored; the
	   agent must get SIGHUP and SIGTERM as systemd would send them. */
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO); /* the sh lines ssh-agent style */
	}
	dup2(err_fd, STDERR_FILENO);
	(void)close_range(STDERR_FILENO + 1, ~0u, 0);
	pxo_user_env(job->user, job->runtime_dir, env,
		     sizeof(env) / sizeof(env[0]), envbuf, sizeof(envbuf));
	execve(job->opts->agent, argv, env);
	dprintf(STDERR_FILENO, "cannot run %s: %s\n", job->opts->agent,
		strerror(errno));
	_exit(127);
}

/* The agent's first line on stderr, for the log. */
static void first_line(int fd, char *out, size_t n)
{
	ssize_t got = read(fd, out, n - 1);

	out[got > 0 ? got : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

int pxo_start_agent(const struct pxo_job *job, unsigned long long deadline_ms,
		    char *err, size_t errlen)
{
	char said[ERR_MAX] = "";
	int fds[2], status = 0, r = -1;
	pid_t pid, w = 0;

	if (socket_dir(job->socket, err, errlen) != 0 ||
	    stale_socket(job->socket, err, errlen) != 0)
		return -1;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(fds[0]);
		exec_agent(job, fds[1]);
	}
	close(fds[1]);
	fds[1] = -1;
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 &&
	       pxo_now_ms() < deadline_ms) {
		struct timespec ts = {0, 20 * 1000000};

		nanosleep(&ts, NULL);
	}
	if (w == 0) {
		/* Still reading its config; it will be there for the next
		   login, this one goes on without it. */
		snprintf(err, errlen, "%s did not start in time",
			 job->opts->agent);
		goto out;
	}
	if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		first_line(fds[0], said, sizeof(said));
		snprintf(err, errlen, "%s did not start%s%s", job->opts->agent,
			 said[0] != '\0' ? ": " : "", said);
		goto out;
	}
	r = 0;
out:
	close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return r;
}
