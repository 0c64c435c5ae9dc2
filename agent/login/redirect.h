/*
 * redirect.h: the loopback listener of the browser flow (RFC 8252 7.3).
 * The provider sends the user's browser to http://127.0.0.1:PORT/PATH?...
 * and this small, bounded HTTP/1.x server on the agent's loop takes that
 * one GET and hands its query to the login.
 *
 * Bounds, because anything on the machine can connect: a request (line
 * and headers) of at most REDIRECT_MAX_REQUEST bytes, REDIRECT_READ_MS to
 * send it, REDIRECT_MAX_CONNS connections at once (beyond that the oldest
 * still without a whole request is dropped), GET of the one path only
 * (other paths, such as /favicon.ico, get 404), one request per
 * connection.  Nothing here blocks the loop.
 */
#ifndef XO_LOGIN_REDIRECT_H
#define XO_LOGIN_REDIRECT_H

#include <uv.h>

#include "login/pure/request.h"

#define REDIRECT_READ_MS 10000
#define REDIRECT_HOLD_MS 60000
#define REDIRECT_MAX_CONNS 16

struct redirect_server;
struct redirect_conn;

/*
 * Called for a GET of the redirect path with its raw query ("" when none).
 * The callee answers with redirect_reply() before returning, or keeps the
 * browser waiting with redirect_hold() and answers later with
 * redirect_reply_held(); a request it does neither with gets a 500.
 */
typedef void (*redirect_cb)(void *arg, struct redirect_conn *rc,
			    const char *query);

/*
 * Listens on 127.0.0.1 (or ::1 with ipv6) at port (0: any free port) and
 * serves path.  name names the listener in log lines.  On success *out is
 * the server and *port_out the port bound.  On failure (0 is not
 * returned) why says what went wrong, e.g. a port in use.
 */
int redirect_listen(uv_loop_t *loop, const char *name, int ipv6, unsigned port,
		    const char *path, redirect_cb cb, void *arg,
		    struct redirect_server **out, unsigned *port_out, char *why,
		    size_t whylen);

/* Answers the request with a small HTML page (title and text are escaped
   here) and closes the connection. */
void redirect_reply(struct redirect_conn *rc, int status, const char *title,
		    const char *text);
/* Keeps the request waiting (at most REDIRECT_HOLD_MS); one at a time:
   returns -1 when another is already held. */
int redirect_hold(struct redirect_conn *rc);
/* Answers the held request, if it is still there. */
void redirect_reply_held(struct redirect_server *s, int status,
			 const char *title, const char *text);
/* 1 while a request is held. */
int redirect_holding(const struct redirect_server *s);

/*
 * Stops listening and drops every connection but those still writing
 * their answer; no callback runs after this.  The memory goes when the
 * last handle has closed.  NULL is a no-op.
 */
void redirect_close(struct redirect_server *s);

#endif
