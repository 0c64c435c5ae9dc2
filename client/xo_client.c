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

static int enc_token(struct proto_writer *w, const void *m)
{
	return proto_enc_token_req(w, m);
}

int xoc_version(struct xo_client *c, struct reply *rep)
{
	struct proto_version v;
	int r;

	if ((r = xoc_finish(c, rep, proto_dec_version(&rep->r, &v))) != 0)
		return r;
	/* The protocol version is its major number: any difference means
	 * the message layouts may differ. */
	if (v.version != PROTO_VERSION)
		return xoc_fail(c, XO_ERR_VERSION,
				"the agent at %s speaks protocol version %lu, "
				"this client speaks %d",
				c->path, (unsigned long)v.version,
				PROTO_VERSION);
	free(c->agent);
	free(c->caps);
	c->agent = c->caps = NULL;
	if ((r = xoc_dup_str(c, v.agent, &c->agent)) != 0 ||
	    (r = xoc_dup_str(c, v.caps, &c->caps)) != 0)
		return r;
	c->queried = 1;
	return 0;
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

int xoc_connect(struct xo_client *c, int *sys_errno)
{
	struct sockaddr_un sun;
	struct timeval tv;
	char eb[128];

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
	return check_peer(c);
}

XO_EXTERN int xo_client_open(const char *path, struct xo_client **out)
{
	struct xo_client *c = NULL;
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
	/* Nothing is sent yet: QUERY goes out with the first request. */
	r = xoc_connect(c, &sys_errno);
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
	xoc_wipe_free(c->rbuf, c->rcap);
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

XO_EXTERN const char *xo_client_agent_version(struct xo_client *c)
{
	if (c == NULL || xoc_settle(c) != 0)
		return "";
	return c->agent != NULL ? c->agent : "";
}

XO_EXTERN int xo_client_agent_failed(const struct xo_client *c)
{
	return c != NULL && c->last_err != 0 && c->agent_said;
}

XO_EXTERN int xo_client_has_cap(struct xo_client *c, const char *word)
{
	const char *p;
	size_t n;

	if (c == NULL || word == NULL || word[0] == '\0' ||
	    xoc_settle(c) != 0 || c->caps == NULL)
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
	/* Only a token of another scope needs to know the agent first: the
	   account's own goes out behind the QUERY. */
	if (opts->scope != NULL && opts->scope[0] != '\0' &&
	    (r = xoc_settle(c)) != 0)
		goto out;
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
