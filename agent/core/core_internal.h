/*
 * core_internal.h: what the files of core/ share about the server and its
 * connections (server.c, conn.c, dispatch.c).  Nothing outside core/
 * includes it.
 */
#ifndef XO_CORE_CORE_INTERNAL_H
#define XO_CORE_CORE_INTERNAL_H

#include <sys/queue.h>

#include <uv.h>

#include "core/dispatch.h"

struct conn;

struct agent_server {
	struct agent *agent;
	const struct dispatch_table *table;
	uv_pipe_t listener;
	int listening;			   /* listener is initialised */
	TAILQ_HEAD(conn_list, conn) conns; /* open connections, oldest first */
	/* Those that have not sent a whole request yet, oldest first: the
	   ones to let go when the agent runs out of room. */
	TAILQ_HEAD(fresh_list, conn) fresh;
	unsigned n_conns;
	unsigned long next_conn_id; /* for log lines */
	int closing;		    /* agent_server_close() ran */
	int restricted;		    /* forwardable requests only */
	uid_t uid;		    /* the agent's, for the peer check */
};

/* The server a connection belongs to. */
struct agent_server *conn_server(const struct conn *c);

#endif
