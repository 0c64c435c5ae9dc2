/*
 * server.h: the listening socket, the connections it accepts and the
 * request table they are served from (server.c).
 *
 * Every connection must pass the peer check first (DESIGN.md, "Secrets":
 * SO_PEERCRED, same uid or root; anyone else is refused and logged).  The
 * server knows nothing of accounts or vaults: the table (dispatch.h) and
 * its hooks, given by daemon/, say who answers what.
 */
#ifndef XO_CORE_SERVER_H
#define XO_CORE_SERVER_H

#include "core/dispatch.h"

struct agent;
struct agent_server;

/*
 * Makes the server for a's connections, to be served from table (which
 * must outlive it).  0 or XO_ERR_NOMEM.  It accepts nothing until
 * agent_server_listen().
 */
int agent_server_new(struct agent *a, const struct dispatch_table *table,
		     struct agent_server **out);
/* Makes s a restricted server: it answers only the table's forwardable
   requests (QUERY, TOKEN, LIST), for a socket that may be forwarded to
   another machine (ssh -R), and refuses the others with RESTRICTED. */
void agent_server_restrict(struct agent_server *s);
/* Listens on the bound socket fd (taken over); 0 or XO_ERR_INTERNAL,
   logged. */
int agent_server_listen(struct agent_server *s, int fd);
/* Stops listening and closes every connection, answering none.  NULL is
   a no-op. */
void agent_server_close(struct agent_server *s);
/* Frees the server once the loop has run the close callbacks that
   agent_server_close() asked for.  NULL is a no-op. */
void agent_server_free(struct agent_server *s);

/* SO_PEERCRED check of a connection of s: the agent's uid (read once, when
   s was made) or root; others are refused and logged. */
int agent_peer_allowed(const struct agent_server *s, int fd,
		       unsigned long conn_id);

#endif
