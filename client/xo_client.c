/*
 * libxoauth: the connection to xoauth-agent and token requests.
 *
 * Depends on libc only and keeps no global state; each struct xo_client is
 * one connection.  The exchange itself is in xo_transport.c; account
 * management, logins and the doctor have files of their own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xo_internal.h"

#define DEFAULT_TIMEOUT_MS 30000u

static int enc_query(struct proto_writer *w, const void *m)
{
	return proto_enc_query(w, m);
}

static int enc_token(struct proto_writer *w, const void *m)
{
	return proto_enc_token_req(w, m);
}

/* Asks for the agent's version and checks that we speak the same
 * protocol. */
static int query(struct xo_client *c)
{
	struct proto_query q = {.version = PROTO_VERSION};
	struct proto_version v;
	struct reply rep;
	int r = XO_ERR_INTERNAL;

	if ((r = xoc_call(c, enc_query, &q, 0, 0, PROTO_REP_VERSION, &rep)) !=
		0 ||
	    (r = xoc_finish(c, &rep, proto_dec_version(&rep.r, &v))) != 0)
		goto out;
	/* The protocol version is its major number: any difference means the
	 * message layouts may differ. */
	if (v.version != PROTO_VERSION) {
		r = xoc_fail(
		    c, XO_ERR_VERSION,
		    "the agent at %s speaks protocol version %lu, this "
		    "client speaks %d",
		    c->path, (unsigned long)v.version, PROTO_VERSION);
		goto out;
	}
	if ((r = xoc_dup_str(c, v.agent, &c->agent)) != 0 ||
	    (r = xoc_dup_str(c, v.caps, &c->caps)) != 0)
		goto out;
	r = 0;
out:
	xoc_reply_cleanup(&rep);
	return r;
}

/*
 * The agent must be our own, or root's: the socket a variable names may
 * have been put there by another user, and what we send it may be a
 * refresh token (IMPORT), a passphrase (UNLOCK) or a client secret (ADD),
 * and what it sends back is what our mail goes out with.  As the agent
 * checks its peers (SO_PEERCRED), so do we.  Root may talk to anyone's
 * agent: it can read their memory anyway.
 */
static int check_peer(struct xo_client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char eb[128];

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return xoc_fail(c, XO_ERR_IO,
				"cannot tell who listens at %s: %s", c->path,
				xoc_errno_str(errno, eb, sizeof(eb)));
	if (cred.uid == getuid() || cred.uid == 0 || getuid() == 0)
		return 0;
	return xoc_fail(c, XO_ERR_NO_AGENT,
			"the socket %s belongs to a process of uid %u, not to "
			"an agent of yours (uid %u): not talking to it",
			c->path, (unsigned)cred.uid, (unsigned)getuid());
}

/* How often a client tries again when the agent says it is full ("busy"
   at connect, PROTOCOL.md 6), and the first pause; each doubles. */
#define BUSY_TRIES 6
#define BUSY_FIRST_PAUSE_MS 50

/* One connection to c->path, checked and asked for its version; on
   failure the reason is in c and *sys_errno says why connect() failed. */
static int connect_once(struct xo_client *c, int *sys_errno)
{
	struct sockaddr_un sun;
	struct timeval tv;
	char eb[128];
	int r;

	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return xoc_fail(c, XO_ERR_IO, "socket: %s",
				xoc_errno_str(errno, eb, sizeof(eb)));
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
		*sys_errno = e;
		if (e == ENOENT || e == ENOTDIR)
			return xoc_fail(c, XO_ERR_NO_AGENT,
					"no agent socket at %s", c->path);
		if (e == ECONNREFUSED || e == ENOTSOCK)
			return xoc_fail(c, XO_ERR_NO_AGENT,
					"no agent listens at %s (a stale "
					"socket?)",
					c->path);
		return xoc_fail(c, XO_ERR_IO, "cannot connect to %s: %s",
				c->path, xoc_errno_str(e, eb, sizeof(eb)));
	}
	if ((r = check_peer(c)) != 0 || (r = query(c)) != 0)
		return r;
	return 0;
}

XO_EXTERN int xo_client_open(const char *path, struct xo_client **out)
{
	struct xo_client *c = NULL;
	struct timespec pause;
	unsigned ms = BUSY_FIRST_PAUSE_MS;
	int sys_errno = 0, tries;
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
		r = xoc_fail(c, XO_ERR_NO_AGENT, "%s is not set",
			     XO_AUTH_SOCK_ENV);
		goto out;
	}
	if (strlen(path) >= sizeof(c->path)) {
		r = xoc_fail(c, XO_ERR_INVALID, "socket path too long: %s",
			     path);
		goto out;
	}
	memcpy(c->path, path, strlen(path) + 1);
	/* An agent that has all the connections it may take says "busy"
	   and closes: it has room again a moment later. */
	for (tries = 1;; tries++) {
		if ((r = connect_once(c, &sys_errno)) != XO_ERR_BUSY ||
		    tries == BUSY_TRIES)
			break;
		xoc_drop_connection(c);
		pause.tv_sec = ms / 1000;
		pause.tv_nsec = (long)(ms % 1000) * 1000000;
		while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
			;
		ms *= 2;
	}
out:
	if (r != 0)
		xoc_drop_connection(c);
	/* The client stays, unconnected, so that xo_client_message() can say
	 * why; errno still says why a connect() failed. */
	*out = c;
	if (sys_errno != 0)
		errno = sys_errno;
	return r;
}

XO_EXTERN int xo_client_connect(const char *path, struct xo_client **out)
{
	int r, e;

	if (out == NULL)
		return XO_ERR_INVALID;
	if ((r = xo_client_open(path, out)) != 0) {
		e = errno;
		xo_client_free(*out);
		*out = NULL;
		errno = e;
	}
	return r;
}

XO_EXTERN void xo_client_free(struct xo_client *c)
{
	if (c == NULL)
		return;
	xoc_drop_connection(c);
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

XO_EXTERN int xo_client_agent_failed(const struct xo_client *c)
{
	return c != NULL && c->last_err != 0 && c->agent_said;
}

XO_EXTERN int xo_client_has_cap(const struct xo_client *c, const char *word)
{
	const char *p;
	size_t n;

	if (c == NULL || c->caps == NULL || word == NULL || word[0] == '\0')
		return 0;
	n = strlen(word);
	for (p = c->caps; (p = strstr(p, word)) != NULL; p += n)
		if ((p == c->caps || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ' '))
			return 1;
	return 0;
}

XO_EXTERN int xo_token(struct xo_client *c, const char *account,
		       const struct xo_token_opts *opts, struct xo_token *out)
{
	struct xo_token_opts def = {.form = XO_FORM_ACCESS};
	struct proto_token_req q;
	struct proto_token_rep t;
	struct reply rep;
	int r = XO_ERR_INTERNAL;

	memset(&rep, 0, sizeof(rep));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || out == NULL)
		return XO_ERR_INVALID;
	xoc_begin(c);
	if (opts == NULL)
		opts = &def;
	if ((r = xoc_check_text(c, account, "account")) != 0)
		goto out;
	if (opts->form != XO_FORM_ACCESS && opts->form != XO_FORM_XOAUTH2 &&
	    opts->form != XO_FORM_OAUTHBEARER) {
		r = xoc_fail(c, XO_ERR_INVALID, "unknown token form %d",
			     (int)opts->form);
		goto out;
	}
	if (opts->host != NULL && strlen(opts->host) > PROTO_MAX_STR) {
		r = xoc_fail(c, XO_ERR_INVALID, "host name too long");
		goto out;
	}
	if (opts->scope != NULL && opts->scope[0] != '\0' &&
	    !xo_client_has_cap(c, "token-scope")) {
		r = xoc_fail(c, XO_ERR_MSG_UNKNOWN,
			     "the agent at %s is too old to keep tokens of "
			     "other scopes (no \"token-scope\")",
			     c->path);
		goto out;
	}
	if (opts->scope != NULL && strlen(opts->scope) > PROTO_MAX_STR) {
		r = xoc_fail(c, XO_ERR_INVALID, "scope too long");
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.account = proto_str_c(account);
	q.form = (uint8_t)opts->form;
	q.host = proto_str_c(opts->host);
	q.port = opts->port;
	q.min_valid = opts->min_valid;
	q.wait_ms = opts->wait_ms;
	q.scope = proto_str_c(opts->scope);
	if ((r = xoc_call(c, enc_token, &q,
			  q.account.len + q.host.len + 4 + q.scope.len,
			  opts->wait_ms, PROTO_REP_TOKEN, &rep)) != 0 ||
	    (r = xoc_finish(c, &rep, proto_dec_token_rep(&rep.r, &t))) != 0)
		goto out;
	if (t.token.len == 0) {
		r = xoc_fail(c, XO_ERR_MSG_BAD,
			     "the agent sent an empty token");
		goto out;
	}
	if ((r = xoc_dup_str(c, t.token, &out->token)) != 0 ||
	    (r = xoc_dup_str(c, t.email, &out->email)) != 0)
		goto out;
	out->expires_at = t.expires_at;
	r = 0;
out:
	if (r != 0)
		xo_token_free(out);
	xoc_reply_cleanup(&rep);
	return r;
}

XO_EXTERN void xo_token_free(struct xo_token *t)
{
	if (t == NULL)
		return;
	if (t->token != NULL)
		xoc_wipe_free(t->token, strlen(t->token));
	free(t->email);
	memset(t, 0, sizeof(*t));
}

XO_EXTERN const char *xo_strerror(int err)
{
	return proto_strerror(err);
}

XO_EXTERN const char *xo_err_name(int err)
{
	return proto_err_name(err);
}
