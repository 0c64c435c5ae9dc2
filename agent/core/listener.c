/*
 * listener.c: the listening socket and the peer check every connection
 * must pass (DESIGN.md, "Secrets": SO_PEERCRED, same uid or root).
 */
#include <sys/socket.h>
#include <unistd.h>

#include "core/agent.h"
#include "core/log.h"

int agent_peer_allowed(int fd, unsigned long conn_id)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		log_error("connection %lu: cannot read peer credentials: %m",
			  conn_id);
		return 0;
	}
	if (cred.uid != getuid() && cred.uid != 0) {
		log_error("connection %lu refused: peer uid %u (pid %ld) is "
			  "not uid %u",
			  conn_id, (unsigned)cred.uid, (long)cred.pid,
			  (unsigned)getuid());
		return 0;
	}
	log_debug("connection %lu from pid %ld", conn_id, (long)cred.pid);
	return 1;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct agent *a = server->data;

	if (status < 0) {
		log_error("accept: %s", uv_strerror(status));
		return;
	}
	agent_conn_accept(a, server);
}

int agent_listen_fd(struct agent *a, int fd)
{
	int r;

	if ((r = uv_pipe_init(a->loop, &a->listener, 0)) != 0 ||
	    (r = uv_pipe_open(&a->listener, fd)) != 0) {
		log_error("cannot use the socket: %s", uv_strerror(r));
		return XO_ERR_INTERNAL;
	}
	a->listener.data = a;
	if ((r = uv_listen((uv_stream_t *)&a->listener, 128,
			   on_connection)) != 0) {
		log_error("listen: %s", uv_strerror(r));
		return XO_ERR_INTERNAL;
	}
	return 0;
}
