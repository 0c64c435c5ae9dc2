/*
 * xo_internal.h: what the files of libxoauth share: the connection, one
 * request/reply exchange, and the reply checks.  Not installed.
 *
 * Error codes: a FAILURE reply from the agent maps to the error its status
 * names.  Problems on our side of the socket are XO_ERR_NO_AGENT (nothing
 * to connect to), XO_ERR_IO (the connection broke, or the agent did not
 * answer in time) and XO_ERR_MSG_* / XO_ERR_VERSION (the agent spoke
 * something we cannot use).  Local time-outs are reported as XO_ERR_IO, not
 * XO_ERR_TIMEOUT, so that XO_ERR_TIMEOUT always means the agent itself gave
 * up waiting (for a refresh, say).  After any local error the connection is
 * closed: a late or partial reply would pair the next request with the
 * wrong answer.
 *
 * The version check costs no round trip of its own: a connection's first
 * request goes out in one write behind a QUERY, and the two replies are
 * read in order (PROTOCOL.md 3.1).  Only a caller that wants the version
 * or a capability before any request (xo_client_has_cap()) waits for a
 * QUERY alone.  A connection whose first exchange failed (another
 * protocol version, "busy" to the end, a bad VERSION) keeps that failure:
 * every later call reports it again.
 */
#ifndef XO_INTERNAL_H
#define XO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include <xoauth/xo.h>

#include "proto.h"

#define XOC_MSG_MAX 512

struct xo_client {
	int fd;
	unsigned timeout_ms;
	int last_err;
	int agent_said; /* the last error came from a FAILURE reply */
	int queried;	/* the agent's VERSION was read and fits */
	int open_err;	/* why the first exchange failed, 0: it did not */
	char *agent;
	char *caps;
	unsigned char *rbuf; /* read from the socket, not taken yet: wiped as
				it is taken */
	size_t rlen, rcap;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char msg[XOC_MSG_MAX];
	char open_msg[XOC_MSG_MAX]; /* open_err's message */
};

/* A reply frame and a reader over its payload; the frame is wiped when
 * freed because TOKEN replies carry a secret. */
struct reply {
	unsigned char *frame;
	size_t len;
	uint8_t type;
	struct proto_reader r;
};

/* Encodes one request message into w. */
typedef int (*xoc_encoder)(struct proto_writer *w, const void *msg);

/* Records a local failure and its message; returns err. */
__attribute__((format(printf, 3, 4))) int xoc_fail(struct xo_client *c, int err,
						   const char *fmt, ...);
/* strerror_r(), whichever flavour libc has. */
const char *xoc_errno_str(int e, char *buf, size_t n);
/* Clears the last error at the start of a public call. */
void xoc_begin(struct xo_client *c);
void xoc_drop_connection(struct xo_client *c);
void xoc_wipe_free(void *p, size_t n);
void xoc_reply_cleanup(struct reply *rep);

/*
 * One exchange: encodes msg with enc into a buffer with room for `strings`
 * bytes of text, sends it, reads the reply (allowing extra_ms for a wait
 * the request asks of the agent) and checks that it is of type want; a
 * FAILURE reply becomes its error code and message.  The request buffer is
 * wiped, as requests may carry secrets.  On success the caller decodes rep
 * and frees it with xoc_reply_cleanup().
 */
int xoc_call(struct xo_client *c, xoc_encoder enc, const void *msg,
	     size_t strings, unsigned extra_ms, uint8_t want,
	     struct reply *rep);
/* Opens c->fd to c->path and checks who listens there (xo_client.c);
 * sends nothing.  On failure the reason is in c and *sys_errno says why
 * connect() failed. */
int xoc_connect(struct xo_client *c, int *sys_errno);
/* Takes the agent's VERSION reply rep (xo_client.c): checks the protocol
 * version and keeps the agent's name and capabilities. */
int xoc_version(struct xo_client *c, struct reply *rep);
/* Asks the agent's version now, with a QUERY alone, unless it is known:
 * 0, or why not (kept as the connection's failure). */
int xoc_settle(struct xo_client *c);
/* Sends REFRESH, REMOVE, LOGIN_WAIT or DELETE for an account and expects a
 * bare SUCCESS. */
int xoc_simple_request(struct xo_client *c, uint8_t type, const char *account,
		       unsigned wait_ms);
/* xoc_call() for a request answered by a bare SUCCESS. */
int xoc_call_ok(struct xo_client *c, xoc_encoder enc, const void *msg,
		size_t strings, unsigned extra_ms);
/* Checks that a decoder (result dec) used the whole reply. */
int xoc_finish(struct xo_client *c, struct reply *rep, int dec);
/* Fails with XO_ERR_INVALID unless s is a non-empty text field. */
int xoc_check_text(struct xo_client *c, const char *s, const char *what);
int xoc_dup_str(struct xo_client *c, struct proto_str s, char **out);

#endif
