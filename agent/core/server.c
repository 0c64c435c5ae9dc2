/*
 * server.c: the listening socket, and the peer check every connection
 * must pass (DESIGN.md, "Secrets": SO_PEERCRED, same uid or root).
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xoauth/xo_errors.h>

#include "core/agent.h"
#include "core/conn.h"
#include "core/core_internal.h"
#include "core/log.h"
#include "core/server.h"

int agent_peer_allowed(const struct agent_server *s, int fd,
		       unsigned long conn_id)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		log_error("connection %lu: cannot read peer credentials: %m",
			  conn_id);
		return 0;
	}
	if (cred.uid != s->uid && cred.uid != 0) {
		log_error("connection %lu refused: peer uid %u (pid %ld) is "
			  "not uid %u",
			  conn_id, (unsigned)cred.uid, (long)cred.pid,
			  (unsigned)s->uid);
		return 0;
	}
	log_debug("connection %lu from pid %ld", conn_id, (long)cred.pid);
	return 1;
}

int agent_server_new(struct agent *a, const struct dispatch_table *table,
		     struct agent_server **out)
{
	struct agent_server *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return XO_ERR_NOMEM;
	s->agent = a;
	s->table = table;
	s->uid = getuid();
	TAILQ_INIT(&s->conns);
	TAILQ_INIT(&s->fresh);
	*out = s;
	return 0;
}

void agent_server_restrict(struct agent_server *s)
{
	s->restricted = 1;
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct agent_server *s = listener->data;

	if (status < 0) {
		log_error("accept: %s", uv_strerror(status));
		return;
	}
	agent_conn_accept(s, listener);
}

int agent_server_listen(struct agent_server *s, int fd)
{
	int r;

	if ((r = uv_pipe_init(s->agent->loop, &s->listener, 0)) != 0) {
		log_error("cannot use the socket: %s", uv_strerror(r));
		close(fd);
		return XO_ERR_INTERNAL;
	}
	s->listening = 1;
	s->listener.data = s;
	if ((r = uv_pipe_open(&s->listener, fd)) != 0) {
		log_error("cannot use the socket: %s", uv_strerror(r));
		close(fd);
		return XO_ERR_INTERNAL;
	}
	if ((r = uv_listen((uv_stream_t *)&s->listener, 128, on_connection)) !=
	    0) {
		log_error("listen: %s", uv_strerror(r));
		return XO_ERR_INTERNAL;
	}
	return 0;
}

void agent_server_close(struct agent_server *s)
{
	if (s == NULL || s->closing)
		return;
	s->closing = 1;
	if (s->listening)
		uv_close((uv_handle_t *)&s->listener, NULL);
	agent_conns_close_all(s);
}

void agent_server_free(struct agent_server *s)
{
	free(s);
}
