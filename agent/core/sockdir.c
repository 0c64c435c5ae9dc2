/*
 * sockdir.c: where the socket lives (DESIGN.md, "State"): in
 * $XDG_RUNTIME_DIR/xoauth-agent/ (0700, owner checked), else in a fresh
 * mkdtemp directory under $TMPDIR.  The socket is bound under umask 0177,
 * so it is never reachable by others even for an instant.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xoauth/xo_errors.h>

#include "core/err.h"
#include "core/sockdir.h"

/* Makes dir if needed and refuses it unless it is ours and private. */
static int private_dir(const char *dir, struct agent_err *err)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		return agent_err_set(err, XO_ERR_CONFIG, "cannot create %s: %s",
				     dir, strerror(errno));
	}
	if (lstat(dir, &st) != 0) {
		return agent_err_set(err, XO_ERR_CONFIG, "cannot stat %s: %s",
				     dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 077) != 0) {
		return agent_err_set(
		    err, XO_ERR_CONFIG,
		    "%s must be a directory owned by uid %u with mode "
		    "0700; fix or remove it",
		    dir, (unsigned)getuid());
	}
	return 0;
}

int agent_socket_path(char **path, char **dir, struct agent_err *err)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	const char *tmp = getenv("TMPDIR");
	char buf[256];
	int r;

	*path = *dir = NULL;
	if (runtime != NULL && runtime[0] == '/') {
		snprintf(buf, sizeof(buf), "%s/xoauth-agent", runtime);
		if ((r = private_dir(buf, err)) != 0)
			return r;
	} else {
		if (tmp == NULL || tmp[0] != '/')
			tmp = "/tmp";
		snprintf(buf, sizeof(buf), "%s/xoauth-XXXXXXXXXX", tmp);
		if (mkdtemp(buf) == NULL) {
			return agent_err_set(err, XO_ERR_CONFIG,
					     "mkdtemp %s: %s", buf,
					     strerror(errno));
		}
		if ((*dir = strdup(buf)) == NULL)
			return agent_err_code(err, XO_ERR_NOMEM);
	}
	/* The pid of the process that binds: unique among running agents. */
	if (asprintf(path, "%s/agent.%ld", buf, (long)getpid()) < 0) {
		*path = NULL;
		return agent_err_code(err, XO_ERR_NOMEM);
	}
	return 0;
}

int agent_socket_bind(const char *path, int *fd_out, struct agent_err *err)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, r;

	*fd_out = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		return agent_err_set(err, XO_ERR_INVALID,
				     "socket path too long: %s", path);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		return agent_err_set(err, XO_ERR_INTERNAL, "socket: %s",
				     strerror(errno));
	}
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r != 0) {
		close(fd);
		return agent_err_set(err, XO_ERR_CONFIG, "bind %s: %s", path,
				     strerror(errno));
	}
	if (listen(fd, 128) != 0) {
		close(fd);
		unlink(path);
		return agent_err_set(err, XO_ERR_INTERNAL, "listen %s: %s",
				     path, strerror(errno));
	}
	*fd_out = fd;
	return 0;
}
