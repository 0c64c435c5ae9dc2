/*
 * conn.h: one client connection (conn.c) and the replies it carries
 * (reply.c).
 *
 * A connection reads frames (bounded by PROTO_MAX_MSG, checked before the
 * body is buffered), hands each complete frame to agent_dispatch(), and
 * sends exactly one reply per request, in order.  Whoever answers a
 * request calls one of the agent_conn_reply_*() functions exactly once,
 * now or later; until then the connection reads nothing more.  A request
 * answered later is parked on a waiter (waiter.h) or held by a job
 * (agent_conn_hold), so that a client that hangs up first cancels it.
 */
#ifndef XO_CORE_CONN_H
#define XO_CORE_CONN_H

#include <stddef.h>

#include <uv.h>

#include "proto.h"
#include "secret/buf.h"

struct agent;
struct agent_err;
struct agent_server;
struct conn;
struct waiter;

/* Accepts the next connection of the listener (its connection callback
   ran) and serves it if the peer may talk to us. */
void agent_conn_accept(struct agent_server *s, uv_stream_t *listener);
/* Serves a socket that is connected already (socketpair, tests), with
   the same peer check; fd is taken over. */
void agent_conn_open(struct agent_server *s, int fd);
struct agent *agent_conn_agent(const struct conn *c);
/* The number in log lines ("connection 7 closed: ..."). */
unsigned long agent_conn_id(const struct conn *c);
/* Closes every connection (the agent stops); nobody is answered. */
void agent_conns_close_all(struct agent_server *s);

/* ---- replies (reply.c) ---- */

/* A reply frame being built: a proto_writer over a wiped buffer. */
struct agent_reply {
	struct agent_buf buf;
	struct proto_writer w;
};

/* Starts a reply of at most cap bytes (cut to the protocol's maximum);
   0 or XO_ERR_NOMEM.  Encode into r->w, then agent_conn_send(). */
int agent_reply_init(struct agent_reply *r, size_t cap);
/* Wipes and frees what the reply still holds (a no-op once sent). */
void agent_reply_cleanup(struct agent_reply *r);
/* Sends the encoded frame as the answer to c's current request; the
   frame is the connection's now, wiped once written.  A reply whose
   encoding failed (the caller should have answered with a FAILURE
   instead) closes the connection. */
void agent_conn_send(struct conn *c, struct agent_reply *r);

/* c ends with the answer to its current request: nothing more of it is
   read or carried out, and it is closed once that answer is written (a
   client that does not take it is not waited for).  Call it before the
   reply. */
void agent_conn_end_after_reply(struct conn *c);
/* FAILURE with err's status and msg (NULL or "": the code's own text). */
void agent_conn_reply_failure(struct conn *c, int err, const char *msg);
/* FAILURE from an error record. */
void agent_conn_reply_err(struct conn *c, const struct agent_err *e);
void agent_conn_reply_success(struct conn *c);

/* ---- requests answered later ---- */

/* The current request waits on w; closing the connection cancels w. */
void agent_conn_park(struct conn *c, struct waiter *w);
/*
 * The current request is held by a job of another room (the doctor, the
 * vault), which answers later; if the connection closes first, cancel(arg)
 * runs instead, and the job must not touch c again.
 */
typedef void (*agent_conn_cancel_cb)(void *arg);
void agent_conn_hold(struct conn *c, agent_conn_cancel_cb cancel, void *arg);

/* ---- what a conversation of several requests keeps ---- */

/*
 * A room's state that lasts from one request of the connection to a later
 * one (a message arriving in pieces: send/).  One at a time: attaching
 * drops what was attached; drop(data) runs when the connection closes
 * with it still attached.  agent_conn_detach() hands it back without
 * drop.
 */
void agent_conn_attach(struct conn *c, void *data, agent_conn_cancel_cb drop);
void *agent_conn_attached(const struct conn *c);
void *agent_conn_detach(struct conn *c);

#endif
