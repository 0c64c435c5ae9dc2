/*
 * systemd.c: socket activation and readiness notification, the two parts
 * of systemd's protocol the agent needs (see systemd.h).  They are small
 * and stable interfaces, so we speak them directly rather than link
 * libsystemd into a process that holds secrets.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xoauth/xo_errors.h>

#include "core/err.h"
#include "core/log.h"
#include "core/systemd.h"

/* sd_listen_fds(3): passed descriptors start here. */
#define LISTEN_FDS_START 3

static void forget_listen_env(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

int agent_systemd_listen_fd(int *fd_out, char **path, struct agent_err *err)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	int type = 0, listening = 0;
	socklen_t olen = sizeof(int);
	int fd = LISTEN_FDS_START;

	*fd_out = -1;
	*path = NULL;
	/* The variables are meant for the process systemd started, not for
	 * one that inherited them. */
	if (pid_s == NULL || fds_s == NULL ||
	    strtol(pid_s, NULL, 10) != (long)getpid())
		return 0;
	forget_listen_env();
	if (strcmp(fds_s, "1") != 0) {
		return agent_err_set(
		    err, XO_ERR_CONFIG,
		    "systemd passed %s sockets; the agent takes exactly one "
		    "(one ListenStream= in xoauth-agent.socket)",
		    fds_s);
	}
	memset(&sun, 0, sizeof(sun));
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sun, &len) != 0 ||
	    sun.sun_family != AF_UNIX || type != SOCK_STREAM || !listening ||
	    sun.sun_path[0] == '\0') {
		return agent_err_set(
		    err, XO_ERR_CONFIG,
		    "the socket systemd passed is not a listening Unix stream "
		    "socket with a path (ListenStream=%%t/...)");
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if ((*path = strndup(sun.sun_path, sizeof(sun.sun_path))) == NULL)
		return agent_err_code(err, XO_ERR_NOMEM);
	*fd_out = fd;
	return 0;
}

void agent_systemd_notify(const char *state)
{
	const char *addr = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t n;
	int fd;

	if (addr == NULL || (addr[0] != '/' && addr[0] != '@'))
		return;
	n = strlen(addr);
	if (n >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, addr, n);
	if (addr[0] == '@')
		sun.sun_path[0] = '\0'; /* the abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sun, len) < 0)
		log_debug("cannot notify systemd: %s", strerror(errno));
	close(fd);
}
