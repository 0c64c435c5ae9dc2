/*
 * xo_transport.c: one request and its reply over the agent's socket.
 *
 * Blocking request/reply over a Unix stream socket, one reply per request,
 * in order (proto/PROTOCOL.md).  Every exchange is bounded by a deadline:
 * the client's timeout plus whatever wait the caller asked of the agent, so
 * a stuck agent never hangs msmtp.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xo_internal.h"

/* Room for a request's fixed fields and frame header, on top of its
 * strings. */
#define REQ_OVERHEAD 64
/* A QUERY frame: length, type, version. */
#define QUERY_LEN (PROTO_HEADER_LEN + 4)

/* How often a client tries again when the agent says it is full ("busy"
   at connect, PROTOCOL.md 6), and the first pause; each doubles. */
#define BUSY_TRIES 6
#define BUSY_FIRST_PAUSE_MS 50

int xoc_fail(struct xo_client *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	c->last_err = err;
	c->agent_said = 0;
	return err;
}

/*
 * Keeps the agent's explanation.  Control characters are replaced: the
 * text may quote a provider's error_description, and it ends up on a
 * terminal.
 */
static void set_agent_msg(struct xo_client *c, struct proto_str s)
{
	size_t n = s.len < sizeof(c->msg) - 1 ? s.len : sizeof(c->msg) - 1;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s.ptr[i];

		c->msg[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	c->msg[n] = '\0';
}

const char *xoc_errno_str(int e, char *buf, size_t n)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return strerror_r(e, buf, n);
#else
	if (strerror_r(e, buf, n) != 0)
		snprintf(buf, n, "error %d", e);
	return buf;
#endif
}

void xoc_begin(struct xo_client *c)
{
	c->msg[0] = '\0';
	c->last_err = 0;
	c->agent_said = 0;
}

void xoc_drop_connection(struct xo_client *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	/* What was read and not taken belongs to that connection. */
	if (c->rlen > 0)
		explicit_bzero(c->rbuf, c->rlen);
	c->rlen = 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void xoc_wipe_free(void *p, size_t n)
{
	if (p != NULL) {
		explicit_bzero(p, n);
		free(p);
	}
}

void xoc_reply_cleanup(struct reply *rep)
{
	xoc_wipe_free(rep->frame, rep->len);
	memset(rep, 0, sizeof(*rep));
}

/* Waits until fd is ready for events or the deadline passes. */
static int wait_fd(struct xo_client *c, short events, uint64_t deadline)
{
	struct pollfd pfd;
	char eb[128];

	for (;;) {
		uint64_t now = now_ms();
		int ms, n;

		if (now >= deadline)
			return xoc_fail(
			    c, XO_ERR_IO,
			    "the agent at %s did not answer in time", c->path);
		ms = deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0; /* POLLHUP/POLLERR show up in send/recv. */
		if (n < 0 && errno != EINTR)
			return xoc_fail(c, XO_ERR_IO, "poll: %s",
					xoc_errno_str(errno, eb, sizeof(eb)));
	}
}

/*
 * Sends exactly len bytes to the agent by the deadline.  Each step tries
 * first and waits in poll() only when the socket is not ready.
 */
static int send_all(struct xo_client *c, const unsigned char *p, size_t len,
		    uint64_t deadline)
{
	char eb[128];
	int r;

	while (len > 0) {
		/* MSG_NOSIGNAL: a dead agent must not kill the caller with
		 * SIGPIPE. */
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if ((r = wait_fd(c, POLLOUT, deadline)) != 0)
					return r;
				continue;
			}
			if (errno == EINTR)
				continue;
			return xoc_fail(
			    c, XO_ERR_IO, "cannot send to the agent at %s: %s",
			    c->path, xoc_errno_str(errno, eb, sizeof(eb)));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The read buffer's least size: the replies of a connection's first
 * exchange (VERSION and a TOKEN) fit, so one recv() takes both. */
#define RBUF_MIN 4096

/* Makes room for need bytes in the read buffer.  A larger one is a new
 * allocation: what the old held (replies, secrets) is wiped, not left
 * behind by realloc(). */
static int rbuf_room(struct xo_client *c, size_t need)
{
	unsigned char *p;
	size_t cap = need > RBUF_MIN ? need : RBUF_MIN;

	if (c->rcap >= need)
		return 0;
	if ((p = malloc(cap)) == NULL)
		return xoc_fail(c, XO_ERR_NOMEM, "out of memory");
	if (c->rlen > 0)
		memcpy(p, c->rbuf, c->rlen);
	xoc_wipe_free(c->rbuf, c->rcap);
	c->rbuf = p;
	c->rcap = cap;
	return 0;
}

/*
 * Reads from the agent until the buffer holds at least need bytes, by the
 * deadline.  Each recv() takes what the socket has, up to the buffer's
 * room, so replies that came together are read together; it tries first
 * and waits in poll() only when nothing is there yet.
 */
static int fill(struct xo_client *c, size_t need, uint64_t deadline)
{
	char eb[128];
	int r;

	if ((r = rbuf_room(c, need)) != 0)
		return r;
	while (c->rlen < need) {
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen,
				 MSG_DONTWAIT);

		if (n == 0)
			return xoc_fail(c, XO_ERR_IO,
					"the agent at %s closed the connection",
					c->path);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if ((r = wait_fd(c, POLLIN, deadline)) != 0)
					return r;
				continue;
			}
			if (errno == EINTR)
				continue;
			return xoc_fail(c, XO_ERR_IO,
					"cannot read from the agent at %s: %s",
					c->path,
					xoc_errno_str(errno, eb, sizeof(eb)));
		}
		c->rlen += (size_t)n;
	}
	return 0;
}

/* Takes n bytes off the front of the read buffer, wiping where they
 * were. */
static void consume(struct xo_client *c, size_t n)
{
	memmove(c->rbuf, c->rbuf + n, c->rlen - n);
	explicit_bzero(c->rbuf + c->rlen - n, n);
	c->rlen -= n;
}

/*
 * Reads one frame.  The length is checked against PROTO_MAX_MSG before
 * anything is allocated, so a hostile or confused agent cannot make us
 * buffer more than that.
 */
static int read_frame(struct xo_client *c, uint64_t deadline, struct reply *rep)
{
	struct proto_reader hr;
	unsigned char *frame = NULL;
	size_t total = 0, flen = 0;
	uint32_t len;
	int r = XO_ERR_INTERNAL;

	if ((r = fill(c, 4, deadline)) != 0)
		goto out;
	proto_reader_init(&hr, c->rbuf, 4);
	len = proto_get_u32(&hr);
	if (len == 0) {
		r = xoc_fail(c, XO_ERR_MSG_BAD,
			     "the agent sent an empty frame");
		goto out;
	}
	if (len > PROTO_MAX_MSG) {
		r = xoc_fail(
		    c, XO_ERR_MSG_TOO_LARGE,
		    "the agent sent a %lu-byte reply (the limit is %d)",
		    (unsigned long)len, PROTO_MAX_MSG);
		goto out;
	}
	total = 4 + (size_t)len;
	if ((r = fill(c, total, deadline)) != 0)
		goto out;
	if ((frame = malloc(total)) == NULL) {
		r = xoc_fail(c, XO_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(frame, c->rbuf, total);
	consume(c, total);
	if ((r = proto_frame_peek(frame, total, PROTO_MAX_MSG, &flen)) != 0 ||
	    flen != total ||
	    (r = proto_frame_open(frame, total, &rep->type, &rep->r)) != 0) {
		r = xoc_fail(c, r != 0 ? r : XO_ERR_MSG_BAD,
			     "the agent sent a malformed frame");
		goto out;
	}
	rep->frame = frame;
	rep->len = total;
	frame = NULL; /* transferred */
	r = 0;
out:
	xoc_wipe_free(frame, total);
	return r;
}

/* Sends len bytes and reads one reply frame by the deadline.  An agent
   that refused the connection ("busy") may have closed it before our
   request went out: its answer is still there to read, and says more than
   a broken pipe. */
static int send_read(struct xo_client *c, const unsigned char *buf, size_t len,
		     uint64_t deadline, struct reply *rep)
{
	char why[XOC_MSG_MAX];
	int r;

	if ((r = send_all(c, buf, len, deadline)) == 0)
		return read_frame(c, deadline, rep);
	memcpy(why, c->msg, sizeof(why));
	if (read_frame(c, deadline, rep) == 0)
		return 0;
	memcpy(c->msg, why, sizeof(why));
	c->last_err = r;
	return r;
}

/* Fails as the connection failed: at its first exchange (kept), or after
   a later error. */
static int closed(struct xo_client *c)
{
	if (c->open_err != 0)
		return xoc_fail(c, c->open_err, "%s", c->open_msg);
	return xoc_fail(c, XO_ERR_IO,
			"the connection to the agent at %s was closed after an "
			"earlier error",
			c->path);
}

/* Sends one request frame and reads its reply. */
static int transact(struct xo_client *c, unsigned char *req, size_t req_len,
		    unsigned extra_ms, struct reply *rep)
{
	int r;

	if (c->fd < 0)
		return closed(c);
	if ((r = send_read(c, req, req_len, now_ms() + c->timeout_ms + extra_ms,
			   rep)) != 0)
		xoc_drop_connection(c);
	return r;
}

/* Turns a FAILURE reply into its error code and keeps its message. */
static int failure_reply(struct xo_client *c, struct reply *rep)
{
	struct proto_failure f;
	int err;

	if (proto_dec_failure(&rep->r, &f) != 0 ||
	    proto_reader_finish(&rep->r) != 0) {
		xoc_drop_connection(c);
		return xoc_fail(c, XO_ERR_MSG_BAD,
				"the agent sent a malformed failure reply");
	}
	err = proto_status_to_err(f.status);
	/* A failure must never read as success, whatever its status. */
	if (err == 0)
		err = XO_ERR_INTERNAL;
	set_agent_msg(c, f.message);
	if (c->msg[0] == '\0')
		snprintf(c->msg, sizeof(c->msg), "%s", proto_strerror(err));
	c->last_err = err;
	c->agent_said = 1;
	return err;
}

/* Checks that the reply is of the expected type, or decodes a failure. */
static int expect(struct xo_client *c, struct reply *rep, uint8_t type)
{
	if (rep->type == type)
		return 0;
	if (rep->type == PROTO_REP_FAILURE)
		return failure_reply(c, rep);
	/* Replies come in order; an unexpected one means we are out of step
	 * with the agent, so nothing after it can be trusted. */
	xoc_drop_connection(c);
	return xoc_fail(c, XO_ERR_MSG_BAD,
			"the agent sent reply type %u where %u was expected",
			(unsigned)rep->type, (unsigned)type);
}

/* Sleeps ms milliseconds. */
static void pause_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * The first exchange on a connection: len bytes of buf, a QUERY of
 * QUERY_LEN bytes followed by the request's frame when len is more, go out
 * in one write, and the replies are read in order: the VERSION, checked,
 * then the request's into rep.  So the check costs no round trip of its
 * own (PROTOCOL.md 3.1).  When the VERSION does not fit, the request's
 * reply is not read: the connection is dropped, and with it the reply.
 *
 * An agent that has all the connections it may take answers "busy" and
 * closes, having carried out nothing of the connection (PROTOCOL.md 6.1);
 * it has room again a moment later, so the same bytes go out again on a
 * new connection, a few times.  A failure before the VERSION fits is the
 * connection's from then on (closed()).
 */
static int first_exchange(struct xo_client *c, const unsigned char *buf,
			  size_t len, unsigned extra_ms, struct reply *rep)
{
	struct reply v;
	unsigned ms = BUSY_FIRST_PAUSE_MS;
	int r = XO_ERR_INTERNAL, tries, sys_errno = 0;
	uint64_t deadline;

	memset(&v, 0, sizeof(v));
	for (tries = 1;; tries++) {
		deadline = now_ms() + c->timeout_ms + extra_ms;
		if ((r = send_read(c, buf, len, deadline, &v)) == 0 &&
		    (r = expect(c, &v, PROTO_REP_VERSION)) == 0)
			r = xoc_version(c, &v);
		xoc_reply_cleanup(&v);
		if (r != XO_ERR_BUSY || tries == BUSY_TRIES)
			break;
		xoc_drop_connection(c);
		pause_ms(ms);
		ms *= 2;
		if ((r = xoc_connect(c, &sys_errno)) != 0)
			break;
	}
	if (r != 0) {
		xoc_drop_connection(c);
		c->open_err = r;
		memcpy(c->open_msg, c->msg, sizeof(c->open_msg));
		return r;
	}
	/* From here on the connection is an ordinary one. */
	if (len > QUERY_LEN && (r = read_frame(c, deadline, rep)) != 0)
		xoc_drop_connection(c);
	return r;
}

int xoc_settle(struct xo_client *c)
{
	unsigned char buf[QUERY_LEN];
	struct proto_query q = {.version = PROTO_VERSION};
	struct proto_writer w;
	struct reply none;

	if (c->queried)
		return 0;
	if (c->fd < 0)
		return closed(c);
	proto_writer_init(&w, buf, sizeof(buf));
	if (proto_enc_query(&w, &q) != 0)
		return xoc_fail(c, XO_ERR_INTERNAL, "cannot encode QUERY");
	memset(&none, 0, sizeof(none));
	return first_exchange(c, buf, w.len, 0, &none);
}

int xoc_call(struct xo_client *c, xoc_encoder enc, const void *msg,
	     size_t strings, unsigned extra_ms, uint8_t want, struct reply *rep)
{
	struct proto_query q = {.version = PROTO_VERSION};
	struct proto_writer w;
	unsigned char *buf = NULL;
	size_t cap = REQ_OVERHEAD + QUERY_LEN + strings;
	int r = XO_ERR_INTERNAL, first;

	memset(rep, 0, sizeof(*rep));
	if ((buf = malloc(cap)) == NULL) {
		r = xoc_fail(c, XO_ERR_NOMEM, "out of memory");
		goto out;
	}
	proto_writer_init(&w, buf, cap);
	/* A connection's first request goes out behind its QUERY. */
	first = !c->queried && c->fd >= 0;
	if (first && (r = proto_enc_query(&w, &q)) != 0) {
		r = xoc_fail(c, r, "cannot encode QUERY");
		goto out;
	}
	if ((r = enc(&w, msg)) != 0) {
		r = xoc_fail(c, r, "cannot encode the request: %s",
			     proto_strerror(r));
		goto out;
	}
	if (first)
		r = first_exchange(c, buf, w.len, extra_ms, rep);
	else
		r = transact(c, buf, w.len, extra_ms, rep);
	if (r != 0 || (r = expect(c, rep, want)) != 0)
		goto out;
	r = 0;
out:
	xoc_wipe_free(buf, cap);
	if (r != 0)
		xoc_reply_cleanup(rep);
	return r;
}

int xoc_call_ok(struct xo_client *c, xoc_encoder enc, const void *msg,
		size_t strings, unsigned extra_ms)
{
	struct reply rep;
	int r;

	if ((r = xoc_call(c, enc, msg, strings, extra_ms, PROTO_REP_SUCCESS,
			  &rep)) == 0)
		r = xoc_finish(c, &rep, 0);
	xoc_reply_cleanup(&rep);
	return r;
}

int xoc_finish(struct xo_client *c, struct reply *rep, int dec)
{
	if (dec == 0 && proto_reader_finish(&rep->r) == 0)
		return 0;
	xoc_drop_connection(c);
	return xoc_fail(c, XO_ERR_MSG_BAD, "the agent sent a malformed reply");
}

int xoc_check_text(struct xo_client *c, const char *s, const char *what)
{
	if (s == NULL || s[0] == '\0')
		return xoc_fail(c, XO_ERR_INVALID, "no %s given", what);
	if (strlen(s) > PROTO_MAX_STR)
		return xoc_fail(c, XO_ERR_INVALID, "the %s is too long", what);
	return 0;
}

int xoc_dup_str(struct xo_client *c, struct proto_str s, char **out)
{
	if (proto_str_dup(s, out) != 0)
		return xoc_fail(c, XO_ERR_NOMEM, "out of memory");
	return 0;
}
