/*
 * worker.c: the forked worker that talks to the user's agent.
 *
 * Why a child that becomes the user, rather than root connecting itself:
 * the agent would accept root (its SO_PEERCRED check lets the same uid or
 * root in), but the socket's path is in a directory the user controls.  As
 * root we would follow whatever the user put there, say a link to another
 * user's agent, and hand that agent the password with root's authority.
 * As the user, the kernel's own permission checks apply to the path and the
 * socket, and the agent sees the peer it expects.  A full drop
 * (setresuid) rather than seteuid leaves nothing in the child that could
 * be turned back into root.
 *
 * Why a detached grandchild: the login must not wait long for an agent
 * (Argon2id takes a while, and an agent may hang).  The PAM process reaps
 * the short-lived child at once and waits for the report on a pipe, up to
 * the timeout; the grandchild, now orphaned, finishes the unlock in the
 * background if it takes longer, and leaves no zombie for the login
 * application to find.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <xoauth/xo.h>

#include "worker.h"

unsigned long long pxo_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000u +
	       (unsigned long long)ts.tv_nsec / 1000000u;
}

static void set_msg(struct pxo_result *res, const char *s)
{
	snprintf(res->msg, sizeof(res->msg), "%s", s);
}

/* No core file and no ptrace by the user: the child holds the password. */
static void no_dumps(void)
{
	struct rlimit rl = {0, 0};

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Cuts the child off from the login application's files and terminal. */
static void detach(int keep_fd)
{
	int fd;

	/* The application's syslog connection goes with its other files;
	   closed through closelog, so that a later syslog() opens its own
	   instead of writing to whatever file took over the number. */
	closelog();
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	/* The application's sockets (sshd's connection, say) must not stay
	   open in here after the session is over. */
	if (keep_fd > STDERR_FILENO + 1)
		(void)close_range(STDERR_FILENO + 1, (unsigned)keep_fd - 1, 0);
	(void)close_range((unsigned)keep_fd + 1, ~0u, 0);
	(void)setsid();
	if (chdir("/") != 0) {
		/* Nothing needs the directory; the agent does its own. */
	}
}

/* The job itself, run by the worker once it is the user. */
static void do_job(const struct pxo_job *job, struct pxo_result *res)
{
	unsigned long long deadline = pxo_now_ms() + job->opts->timeout_ms;
	struct xo_client *c = NULL;
	int err;

	err = xo_client_open(job->socket, &c);
	if (err == XO_ERR_NO_AGENT && job->op == PXO_OP_UNLOCK &&
	    job->opts->auto_start) {
		char why[sizeof(res->msg)];

		xo_client_free(c);
		c = NULL;
		if (pxo_start_agent(job, deadline, why, sizeof(why)) != 0) {
			res->err = XO_ERR_NO_AGENT;
			set_msg(res, why);
			return;
		}
		res->started = 1;
		err = xo_client_open(job->socket, &c);
	}
	if (c == NULL) {
		res->err = XO_ERR_NOMEM;
		set_msg(res, "out of memory");
		return;
	}
	if (err == 0) {
		xo_client_set_timeout(c, job->opts->timeout_ms);
		err = job->op == PXO_OP_UNLOCK
			  ? xo_unlock(c, job->password, job->opts->create)
			  : xo_lock(c);
	}
	res->err = err;
	set_msg(res, err != 0 ? xo_client_message(c) : "");
	xo_client_free(c);
}

/* Writes the whole report; -1 when the PAM process stopped listening. */
static int report(int fd, const struct pxo_result *res)
{
	/* Less than PIPE_BUF: one write, never torn. */
	return write(fd, res, sizeof(*res)) == (ssize_t)sizeof(*res) ? 0 : -1;
}

static void worker_main(const struct pxo_job *job, int fd)
{
	struct pxo_result res;

	memset(&res, 0, sizeof(res));
	no_dumps();
	detach(fd);
	/* A parent that gave up waiting closes the pipe: write must fail
	   with EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	if (pxo_become_user(job->user) != 0) {
		res.err = XO_ERR_INTERNAL;
		set_msg(&res, "cannot become the user");
	} else {
		/* The kernel makes a process dumpable again when its ids
		   change; say no once more. */
		no_dumps();
		do_job(job, &res);
	}
	if (job->password != NULL)
		explicit_bzero(job->password, strlen(job->password));
	/* Nobody reads the report when the login went on without it: the
	   outcome goes to the log instead. */
	if (report(fd, &res) != 0)
		syslog(LOG_AUTHPRIV | (res.err == 0 ? LOG_INFO : LOG_NOTICE),
		       "pam_xoauth(%s): after the login went on: %s",
		       job->user->name,
		       res.err == 0
			   ? (job->op == PXO_OP_UNLOCK ? "unlocked" : "locked")
			   : res.msg);
}

/* Reads the report until it is whole.  Returns 0, -1 when the deadline
 * passed first, -2 when the worker ended without one. */
static int read_report(int fd, unsigned long long deadline,
		       struct pxo_result *res)
{
	char *p = (char *)res;
	size_t got = 0;

	while (got < sizeof(*res)) {
		unsigned long long now = pxo_now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int w;

		if (now >= deadline)
			return -1;
		w = poll(&pfd, 1, (int)(deadline - now));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		n = read(fd, p + got, sizeof(*res) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -2;
		got += (size_t)n;
	}
	res->msg[sizeof(res->msg) - 1] = '\0';
	return 0;
}

int pxo_run_job(const struct pxo_job *job, struct pxo_result *res)
{
	unsigned long long deadline = pxo_now_ms() + job->opts->timeout_ms;
	int fds[2], status, r = -1;
	pid_t pid, w;

	memset(res, 0, sizeof(*res));
	res->err = XO_ERR_INTERNAL;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(res->msg, sizeof(res->msg), "pipe: %s",
			 strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(res->msg, sizeof(res->msg), "fork: %s",
			 strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		/* The short-lived child: fork the worker and go.  _exit, not
		   exit: the application's atexit handlers are not ours. */
		close(fds[0]);
		if ((pid = fork()) == 0) {
			worker_main(job, fds[1]);
			_exit(0);
		}
		_exit(pid < 0 ? 1 : 0);
	}
	close(fds[1]);
	/* The application may reap it first with a SIGCHLD handler of its
	   own (ECHILD); either way it is gone at once. */
	do {
		w = waitpid(pid, &status, 0);
	} while (w < 0 && errno == EINTR);
	if (w == pid && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		set_msg(res, "cannot start a worker process");
	} else if ((r = read_report(fds[0], deadline, res)) == -2) {
		res->err = XO_ERR_INTERNAL;
		set_msg(res, "the worker process ended without a report");
	} else if (r != 0) {
		res->err = XO_ERR_TIMEOUT;
		snprintf(res->msg, sizeof(res->msg),
			 "no answer within %u s; the login goes on and the "
			 "worker finishes in the background",
			 job->opts->timeout_ms / 1000u);
	}
	close(fds[0]);
	return r == 0 ? 0 : -1;
}
