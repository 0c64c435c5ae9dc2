/*
 * libxoauth: the client side of the xoauth-agent protocol.
 *
 * Blocking request/reply over a Unix stream socket, one reply per request,
 * in order (proto/PROTOCOL.md).  Every call is bounded by a deadline: the
 * client's timeout plus whatever wait the caller asked of the agent, so a
 * stuck agent never hangs msmtp.  Depends on libc only and keeps no global
 * state; each struct xo_client is one connection.
 *
 * Error codes: a FAILURE reply from the agent maps to the error its status
 * names.  Problems on our side of the socket are XO_ERR_NO_AGENT (nothing
 * to connect to), XO_ERR_IO (the connection broke, or the agent did not
 * answer in time) and XO_ERR_MSG_* / XO_ERR_VERSION (the agent spoke
 * something we cannot use).  Local time-outs are reported as XO_ERR_IO, not
 * XO_ERR_TIMEOUT, so that XO_ERR_TIMEOUT always means the agent itself gave
 * up waiting (for a refresh, say) and callers can tell "no usable agent"
 * from "the agent said no".  After any local error the connection is closed:
 * a late or partial reply would pair the next request with the wrong
 * answer.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xoauth/xo.h>

#include "proto.h"

#define DEFAULT_TIMEOUT_MS 30000u
#define MSG_MAX 512
/* Room for a request's fixed fields and frame header, on top of its
 * strings. */
#define REQ_OVERHEAD 64

struct xo_client {
	int fd;
	unsigned timeout_ms;
	int last_err;
	char *agent;
	char *caps;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char msg[MSG_MAX];
};

/* A reply frame and a reader over its payload; the frame is wiped when
 * freed because TOKEN replies carry a secret. */
struct reply {
	unsigned char *frame;
	size_t len;
	uint8_t type;
	struct proto_reader r;
};

__attribute__((format(printf, 3, 4))) static int
fail(struct xo_client *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	c->last_err = err;
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

static const char *errno_str(int e, char *buf, size_t n)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return strerror_r(e, buf, n);
#else
	if (strerror_r(e, buf, n) != 0)
		snprintf(buf, n, "error %d", e);
	return buf;
#endif
}

static void begin_call(struct xo_client *c)
{
	c->msg[0] = '\0';
	c->last_err = 0;
}

static void drop_connection(struct xo_client *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wipe_free(void *p, size_t n)
{
	if (p != NULL) {
		explicit_bzero(p, n);
		free(p);
	}
}

static void reply_cleanup(struct reply *rep)
{
	wipe_free(rep->frame, rep->len);
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
			return fail(c, XO_ERR_IO,
				    "the agent at %s did not answer in time",
				    c->path);
		ms = deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0; /* POLLHUP/POLLERR show up in send/recv. */
		if (n < 0 && errno != EINTR)
			return fail(c, XO_ERR_IO, "poll: %s",
				    errno_str(errno, eb, sizeof(eb)));
	}
}

static int send_all(struct xo_client *c, const unsigned char *p, size_t len,
		    uint64_t deadline)
{
	char eb[128];
	int r;

	while (len > 0) {
		ssize_t n;

		if ((r = wait_fd(c, POLLOUT, deadline)) != 0)
			return r;
		/* MSG_NOSIGNAL: a dead agent must not kill the caller with
		 * SIGPIPE. */
		n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			return fail(c, XO_ERR_IO,
				    "cannot send to the agent at %s: %s",
				    c->path, errno_str(errno, eb, sizeof(eb)));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_all(struct xo_client *c, unsigned char *p, size_t len,
		    uint64_t deadline)
{
	char eb[128];
	int r;

	while (len > 0) {
		ssize_t n;

		if ((r = wait_fd(c, POLLIN, deadline)) != 0)
			return r;
		n = recv(c->fd, p, len, MSG_DONTWAIT);
		if (n == 0)
			return fail(c, XO_ERR_IO,
				    "the agent at %s closed the connection",
				    c->path);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			return fail(c, XO_ERR_IO,
				    "cannot read from the agent at %s: %s",
				    c->path, errno_str(errno, eb, sizeof(eb)));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads one frame.  The length is checked against PROTO_MAX_MSG before
 * anything is allocated, so a hostile or confused agent cannot make us
 * buffer more than that.
 */
static int read_frame(struct xo_client *c, uint64_t deadline, struct reply *rep)
{
	unsigned char hdr[4];
	struct proto_reader hr;
	unsigned char *frame = NULL;
	size_t total = 0, flen = 0;
	uint32_t len;
	int r = XO_ERR_INTERNAL;

	if ((r = recv_all(c, hdr, sizeof(hdr), deadline)) != 0)
		goto out;
	proto_reader_init(&hr, hdr, sizeof(hdr));
	len = proto_get_u32(&hr);
	if (len == 0) {
		r = fail(c, XO_ERR_MSG_BAD, "the agent sent an empty frame");
		goto out;
	}
	if (len > PROTO_MAX_MSG) {
		r = fail(c, XO_ERR_MSG_TOO_LARGE,
			 "the agent sent a %lu-byte reply (the limit is %d)",
			 (unsigned long)len, PROTO_MAX_MSG);
		goto out;
	}
	total = sizeof(hdr) + (size_t)len;
	if ((frame = malloc(total)) == NULL) {
		r = fail(c, XO_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(frame, hdr, sizeof(hdr));
	if ((r = recv_all(c, frame + sizeof(hdr), len, deadline)) != 0)
		goto out;
	if ((r = proto_frame_peek(frame, total, PROTO_MAX_MSG, &flen)) != 0 ||
	    flen != total ||
	    (r = proto_frame_open(frame, total, &rep->type, &rep->r)) != 0) {
		r = fail(c, r != 0 ? r : XO_ERR_MSG_BAD,
			 "the agent sent a malformed frame");
		goto out;
	}
	rep->frame = frame;
	rep->len = total;
	frame = NULL; /* transferred */
	r = 0;
out:
	wipe_free(frame, total);
	return r;
}

/*
 * Sends one request frame and reads its reply.  extra_ms is the wait the
 * request asks of the agent; the deadline allows for it on top of the
 * client's own timeout.
 */
static int transact(struct xo_client *c, const unsigned char *req,
		    size_t req_len, unsigned extra_ms, struct reply *rep)
{
	uint64_t deadline;
	int r = XO_ERR_INTERNAL;

	memset(rep, 0, sizeof(*rep));
	if (c->fd < 0) {
		r = fail(c, XO_ERR_IO,
			 "the connection to the agent at %s was closed "
			 "after an earlier error",
			 c->path);
		goto out;
	}
	deadline = now_ms() + c->timeout_ms + extra_ms;
	if ((r = send_all(c, req, req_len, deadline)) != 0 ||
	    (r = read_frame(c, deadline, rep)) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		drop_connection(c);
	return r;
}

/* Turns a FAILURE reply into its error code and keeps its message. */
static int failure_reply(struct xo_client *c, struct reply *rep)
{
	struct proto_failure f;
	int err;

	if (proto_dec_failure(&rep->r, &f) != 0 ||
	    proto_reader_finish(&rep->r) != 0) {
		drop_connection(c);
		return fail(c, XO_ERR_MSG_BAD,
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
	drop_connection(c);
	return fail(c, XO_ERR_MSG_BAD,
		    "the agent sent reply type %u where %u was expected",
		    (unsigned)rep->type, (unsigned)type);
}

/* Checks that a decoded reply had no trailing or missing bytes. */
static int finish(struct xo_client *c, struct reply *rep, int dec)
{
	if (dec == 0 && proto_reader_finish(&rep->r) == 0)
		return 0;
	drop_connection(c);
	return fail(c, XO_ERR_MSG_BAD, "the agent sent a malformed reply");
}

static int check_account(struct xo_client *c, const char *account)
{
	if (account == NULL || account[0] == '\0')
		return fail(c, XO_ERR_INVALID, "no account named");
	if (strlen(account) > PROTO_MAX_STR)
		return fail(c, XO_ERR_INVALID, "account name too long");
	return 0;
}

static unsigned char *req_alloc(struct xo_client *c, size_t strings,
				size_t *cap)
{
	unsigned char *p;

	*cap = REQ_OVERHEAD + strings;
	if ((p = malloc(*cap)) == NULL)
		fail(c, XO_ERR_NOMEM, "out of memory");
	return p;
}

static int dup_str(struct xo_client *c, struct proto_str s, char **out)
{
	if (proto_str_dup(s, out) != 0)
		return fail(c, XO_ERR_NOMEM, "out of memory");
	return 0;
}

/* Asks for the agent's version and checks that we speak the same
 * protocol. */
static int query(struct xo_client *c)
{
	struct proto_query q = {.version = PROTO_VERSION};
	struct proto_version v;
	struct proto_writer w;
	struct reply rep;
	unsigned char buf[REQ_OVERHEAD];
	int r = XO_ERR_INTERNAL;

	memset(&rep, 0, sizeof(rep));
	proto_writer_init(&w, buf, sizeof(buf));
	if ((r = proto_enc_query(&w, &q)) != 0) {
		r = fail(c, r, "cannot encode the version query");
		goto out;
	}
	if ((r = transact(c, buf, w.len, 0, &rep)) != 0 ||
	    (r = expect(c, &rep, PROTO_REP_VERSION)) != 0 ||
	    (r = finish(c, &rep, proto_dec_version(&rep.r, &v))) != 0)
		goto out;
	/* The protocol version is its major number: any difference means the
	 * message layouts may differ. */
	if (v.version != PROTO_VERSION) {
		r = fail(c, XO_ERR_VERSION,
			 "the agent at %s speaks protocol version %lu, this "
			 "client speaks %d",
			 c->path, (unsigned long)v.version, PROTO_VERSION);
		goto out;
	}
	if ((r = dup_str(c, v.agent, &c->agent)) != 0 ||
	    (r = dup_str(c, v.caps, &c->caps)) != 0)
		goto out;
	r = 0;
out:
	reply_cleanup(&rep);
	return r;
}

XO_EXTERN int xo_client_connect(const char *path, struct xo_client **out)
{
	struct xo_client *c = NULL;
	struct sockaddr_un sun;
	struct timeval tv;
	char eb[128];
	int sys_errno = 0;
	int r = XO_ERR_INTERNAL;

	if (out == NULL)
		return XO_ERR_INVALID;
	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return XO_ERR_NOMEM;
	c->fd = -1;
	c->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (path == NULL)
		path = getenv(XO_AUTH_SOCK_ENV);
	if (path == NULL || path[0] == '\0') {
		r = fail(c, XO_ERR_NO_AGENT, "%s is not set", XO_AUTH_SOCK_ENV);
		goto out;
	}
	if (strlen(path) >= sizeof(c->path)) {
		r = fail(c, XO_ERR_INVALID, "socket path too long: %s", path);
		goto out;
	}
	memcpy(c->path, path, strlen(path) + 1);

	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		r = fail(c, XO_ERR_IO, "socket: %s",
			 errno_str(errno, eb, sizeof(eb)));
		goto out;
	}
	/* connect() on a Unix socket blocks while the listener's backlog is
	 * full; SO_SNDTIMEO bounds that wait (Linux applies it to connect). */
	tv.tv_sec = c->timeout_ms / 1000;
	tv.tv_usec = (c->timeout_ms % 1000) * 1000;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, c->path, strlen(c->path) + 1);
	while (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		sys_errno = e;
		if (e == ENOENT || e == ENOTDIR)
			r = fail(c, XO_ERR_NO_AGENT, "no agent socket at %s",
				 c->path);
		else if (e == ECONNREFUSED || e == ENOTSOCK)
			r = fail(c, XO_ERR_NO_AGENT,
				 "no agent listens at %s (a stale socket?)",
				 c->path);
		else
			r = fail(c, XO_ERR_IO, "cannot connect to %s: %s",
				 c->path, errno_str(e, eb, sizeof(eb)));
		goto out;
	}
	if ((r = query(c)) != 0)
		goto out;
	*out = c;
	c = NULL; /* transferred */
	r = 0;
out:
	xo_client_free(c);
	/* The client and its message are gone on failure; errno still says
	 * why a connect() failed, for callers that want more than the code.
	 */
	if (sys_errno != 0)
		errno = sys_errno;
	return r;
}

XO_EXTERN void xo_client_free(struct xo_client *c)
{
	if (c == NULL)
		return;
	drop_connection(c);
	free(c->agent);
	free(c->caps);
	free(c);
}

XO_EXTERN void xo_client_set_timeout(struct xo_client *c, unsigned ms)
{
	if (c != NULL)
		c->timeout_ms = ms;
}

XO_EXTERN const char *xo_client_message(const struct xo_client *c)
{
	if (c == NULL)
		return "no client";
	if (c->msg[0] != '\0')
		return c->msg;
	return c->last_err != 0 ? proto_strerror(c->last_err) : "";
}

XO_EXTERN const char *xo_client_agent_version(const struct xo_client *c)
{
	return c != NULL && c->agent != NULL ? c->agent : "";
}

XO_EXTERN int xo_token(struct xo_client *c, const char *account,
		       const struct xo_token_opts *opts, struct xo_token *out)
{
	struct xo_token_opts def = {.form = XO_FORM_ACCESS};
	struct proto_token_req q;
	struct proto_token_rep t;
	struct proto_writer w;
	struct reply rep;
	unsigned char *buf = NULL;
	size_t cap = 0;
	int r = XO_ERR_INTERNAL;

	memset(&rep, 0, sizeof(rep));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || out == NULL)
		return XO_ERR_INVALID;
	begin_call(c);
	if (opts == NULL)
		opts = &def;
	if ((r = check_account(c, account)) != 0)
		goto out;
	if (opts->form != XO_FORM_ACCESS && opts->form != XO_FORM_XOAUTH2 &&
	    opts->form != XO_FORM_OAUTHBEARER) {
		r = fail(c, XO_ERR_INVALID, "unknown token form %d",
			 (int)opts->form);
		goto out;
	}
	if (opts->host != NULL && strlen(opts->host) > PROTO_MAX_STR) {
		r = fail(c, XO_ERR_INVALID, "host name too long");
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.account = proto_str_c(account);
	q.form = (uint8_t)opts->form;
	q.host = proto_str_c(opts->host);
	q.port = opts->port;
	q.min_valid = opts->min_valid;
	q.wait_ms = opts->wait_ms;
	if ((buf = req_alloc(c, q.account.len + q.host.len, &cap)) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	proto_writer_init(&w, buf, cap);
	if ((r = proto_enc_token_req(&w, &q)) != 0) {
		r = fail(c, r, "cannot encode the token request");
		goto out;
	}
	if ((r = transact(c, buf, w.len, opts->wait_ms, &rep)) != 0 ||
	    (r = expect(c, &rep, PROTO_REP_TOKEN)) != 0 ||
	    (r = finish(c, &rep, proto_dec_token_rep(&rep.r, &t))) != 0)
		goto out;
	if (t.token.len == 0) {
		r = fail(c, XO_ERR_MSG_BAD, "the agent sent an empty token");
		goto out;
	}
	if ((r = dup_str(c, t.token, &out->token)) != 0 ||
	    (r = dup_str(c, t.email, &out->email)) != 0)
		goto out;
	out->expires_at = t.expires_at;
	r = 0;
out:
	if (r != 0)
		xo_token_free(out);
	wipe_free(buf, cap);
	reply_cleanup(&rep);
	return r;
}

XO_EXTERN void xo_token_free(struct xo_token *t)
{
	if (t == NULL)
		return;
	if (t->token != NULL)
		wipe_free(t->token, strlen(t->token));
	free(t->email);
	memset(t, 0, sizeof(*t));
}

static void account_cleanup(struct xo_account *a)
{
	free(a->name);
	free(a->email);
	free(a->provider);
	free(a->flow);
	free(a->last_error);
	memset(a, 0, sizeof(*a));
}

XO_EXTERN int xo_list(struct xo_client *c, struct xo_account **accounts,
		      size_t *count)
{
	struct xo_account *list = NULL;
	struct proto_writer w;
	struct reply rep;
	unsigned char buf[REQ_OVERHEAD];
	uint32_t n = 0, i;
	int r = XO_ERR_INTERNAL;

	memset(&rep, 0, sizeof(rep));
	if (accounts != NULL)
		*accounts = NULL;
	if (count != NULL)
		*count = 0;
	if (c == NULL || accounts == NULL || count == NULL)
		return XO_ERR_INVALID;
	begin_call(c);
	proto_writer_init(&w, buf, sizeof(buf));
	if ((r = proto_enc_account_req(&w, PROTO_REQ_LIST, NULL)) != 0) {
		r = fail(c, r, "cannot encode the list request");
		goto out;
	}
	if ((r = transact(c, buf, w.len, 0, &rep)) != 0 ||
	    (r = expect(c, &rep, PROTO_REP_LIST)) != 0)
		goto out;
	if (proto_dec_list_count(&rep.r, &n) != 0 || n > PROTO_MAX_ACCOUNTS) {
		r = finish(c, &rep, XO_ERR_MSG_BAD);
		goto out;
	}
	/* n is bounded by PROTO_MAX_ACCOUNTS, and each entry takes several
	 * bytes of the (bounded) frame, so this allocation is bounded too. */
	if ((list = calloc(n > 0 ? n : 1, sizeof(*list))) == NULL) {
		r = fail(c, XO_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct proto_account_info e;
		struct xo_account *a = &list[i];

		if (proto_dec_list_entry(&rep.r, &e) != 0) {
			r = finish(c, &rep, XO_ERR_MSG_BAD);
			goto out;
		}
		if ((r = dup_str(c, e.name, &a->name)) != 0 ||
		    (r = dup_str(c, e.email, &a->email)) != 0 ||
		    (r = dup_str(c, e.provider, &a->provider)) != 0 ||
		    (r = dup_str(c, e.flow, &a->flow)) != 0 ||
		    (r = dup_str(c, e.last_error, &a->last_error)) != 0)
			goto out;
		a->state = e.state;
		a->state_name = proto_state_name(e.state);
		a->expires_at = e.expires_at;
		a->refreshed_at = e.refreshed_at;
		a->next_refresh_at = e.next_refresh_at;
	}
	if ((r = finish(c, &rep, 0)) != 0)
		goto out;
	*accounts = list;
	*count = n;
	list = NULL; /* transferred */
	r = 0;
out:
	xo_accounts_free(list, n);
	reply_cleanup(&rep);
	return r;
}

XO_EXTERN void xo_accounts_free(struct xo_account *accounts, size_t count)
{
	size_t i;

	if (accounts == NULL)
		return;
	for (i = 0; i < count; i++)
		account_cleanup(&accounts[i]);
	free(accounts);
}

/*
 * Sends REFRESH, REMOVE, LOGIN_START or LOGIN_WAIT for one account and reads
 * the reply into rep, checking it is of type want.
 */
static int account_request(struct xo_client *c, uint8_t type,
			   const char *account, unsigned wait_ms, uint8_t want,
			   struct reply *rep)
{
	struct proto_account_req q;
	struct proto_writer w;
	unsigned char *buf = NULL;
	size_t cap = 0;
	int r = XO_ERR_INTERNAL;

	memset(rep, 0, sizeof(*rep));
	if ((r = check_account(c, account)) != 0)
		goto out;
	q.account = proto_str_c(account);
	q.wait_ms = wait_ms;
	if ((buf = req_alloc(c, q.account.len, &cap)) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	proto_writer_init(&w, buf, cap);
	if ((r = proto_enc_account_req(&w, type, &q)) != 0) {
		r = fail(c, r, "cannot encode the request");
		goto out;
	}
	if ((r = transact(c, buf, w.len, wait_ms, rep)) != 0 ||
	    (r = expect(c, rep, want)) != 0)
		goto out;
	r = 0;
out:
	wipe_free(buf, cap);
	return r;
}

/* An account request answered by a bare SUCCESS. */
static int simple_request(struct xo_client *c, uint8_t type,
			  const char *account, unsigned wait_ms)
{
	struct reply rep;
	int r = XO_ERR_INTERNAL;

	if (c == NULL)
		return XO_ERR_INVALID;
	begin_call(c);
	if ((r = account_request(c, type, account, wait_ms, PROTO_REP_SUCCESS,
				 &rep)) != 0 ||
	    (r = finish(c, &rep, 0)) != 0)
		goto out;
	r = 0;
out:
	reply_cleanup(&rep);
	return r;
}

XO_EXTERN int xo_refresh(struct xo_client *c, const char *account,
			 unsigned wait_ms)
{
	return simple_request(c, PROTO_REQ_REFRESH, account, wait_ms);
}

XO_EXTERN int xo_remove(struct xo_client *c, const char *account)
{
	return simple_request(c, PROTO_REQ_REMOVE, account, 0);
}

XO_EXTERN int xo_login_wait(struct xo_client *c, const char *account,
			    unsigned wait_ms)
{
	return simple_request(c, PROTO_REQ_LOGIN_WAIT, account, wait_ms);
}

XO_EXTERN int xo_import(struct xo_client *c, const char *account,
			const char *refresh_token)
{
	struct proto_import_req q;
	struct proto_writer w;
	struct reply rep;
	unsigned char *buf = NULL;
	size_t cap = 0;
	int r = XO_ERR_INTERNAL;

	memset(&rep, 0, sizeof(rep));
	if (c == NULL)
		return XO_ERR_INVALID;
	begin_call(c);
	if ((r = check_account(c, account)) != 0)
		goto out;
	if (refresh_token == NULL || refresh_token[0] == '\0') {
		r = fail(c, XO_ERR_INVALID, "empty refresh token");
		goto out;
	}
	if (strlen(refresh_token) > PROTO_MAX_STR) {
		r = fail(c, XO_ERR_INVALID, "refresh token too long");
		goto out;
	}
	q.account = proto_str_c(account);
	q.refresh_token = proto_str_c(refresh_token);
	if ((buf = req_alloc(c, q.account.len + q.refresh_token.len, &cap)) ==
	    NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	proto_writer_init(&w, buf, cap);
	if ((r = proto_enc_import_req(&w, &q)) != 0) {
		r = fail(c, r, "cannot encode the import request");
		goto out;
	}
	if ((r = transact(c, buf, w.len, 0, &rep)) != 0 ||
	    (r = expect(c, &rep, PROTO_REP_SUCCESS)) != 0 ||
	    (r = finish(c, &rep, 0)) != 0)
		goto out;
	r = 0;
out:
	/* The request held the refresh token. */
	wipe_free(buf, cap);
	reply_cleanup(&rep);
	return r;
}

XO_EXTERN int xo_login_start(struct xo_client *c, const char *account,
			     struct xo_login *out)
{
	struct proto_login_rep l;
	struct reply rep;
	int r = XO_ERR_INTERNAL;

	memset(&rep, 0, sizeof(rep));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || out == NULL)
		return XO_ERR_INVALID;
	begin_call(c);
	if ((r = account_request(c, PROTO_REQ_LOGIN_START, account, 0,
				 PROTO_REP_LOGIN, &rep)) != 0 ||
	    (r = finish(c, &rep, proto_dec_login_rep(&rep.r, &l))) != 0)
		goto out;
	if ((r = dup_str(c, l.verification_uri, &out->verification_uri)) != 0 ||
	    (r = dup_str(c, l.verification_uri_complete,
			 &out->verification_uri_complete)) != 0 ||
	    (r = dup_str(c, l.user_code, &out->user_code)) != 0)
		goto out;
	out->expires_in = l.expires_in;
	out->interval = l.interval;
	r = 0;
out:
	if (r != 0)
		xo_login_free(out);
	reply_cleanup(&rep);
	return r;
}

XO_EXTERN void xo_login_free(struct xo_login *l)
{
	if (l == NULL)
		return;
	free(l->verification_uri);
	free(l->verification_uri_complete);
	free(l->user_code);
	memset(l, 0, sizeof(*l));
}

XO_EXTERN const char *xo_strerror(int err)
{
	return proto_strerror(err);
}

XO_EXTERN const char *xo_err_name(int err)
{
	return proto_err_name(err);
}
