/*
 * xo_login.c: driving a login from a client: start it (the account's flow
 * or one the caller names), hand back what the provider's redirect brought
 * (paste flow), and wait for it to finish.
 */
#include <stdlib.h>
#include <string.h>

#include "xo_internal.h"

static int enc_start(struct proto_writer *w, const void *m)
{
	return proto_enc_login_start_req(w, m);
}

static int enc_code(struct proto_writer *w, const void *m)
{
	return proto_enc_login_code_req(w, m);
}

XO_EXTERN int xo_login_start_flow(struct xo_client *c, const char *account,
				  const char *flow, struct xo_login *out)
{
	struct proto_login_start_req q;
	struct proto_login_rep l;
	struct reply rep;
	int r = XO_ERR_INTERNAL;

	memset(&rep, 0, sizeof(rep));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || out == NULL)
		return XO_ERR_INVALID;
	xoc_begin(c);
	if ((r = xoc_check_text(c, account, "account")) != 0 ||
	    (flow != NULL && strlen(flow) > 64 &&
	     (r = xoc_fail(c, XO_ERR_INVALID, "flow name too long")) != 0))
		goto out;
	q.account = proto_str_c(account);
	q.flow = proto_str_c(flow);
	q.wait_ms = 0;
	if ((r = xoc_call(c, enc_start, &q, q.account.len + q.flow.len, 0,
			  PROTO_REP_LOGIN, &rep)) != 0 ||
	    (r = xoc_finish(c, &rep, proto_dec_login_rep(&rep.r, &l))) != 0)
		goto out;
	if ((r = xoc_dup_str(c, l.verification_uri, &out->verification_uri)) !=
		0 ||
	    (r = xoc_dup_str(c, l.verification_uri_complete,
			     &out->verification_uri_complete)) != 0 ||
	    (r = xoc_dup_str(c, l.user_code, &out->user_code)) != 0 ||
	    (r = xoc_dup_str(c, l.flow, &out->flow)) != 0)
		goto out;
	out->expires_in = l.expires_in;
	out->interval = l.interval;
	r = 0;
out:
	if (r != 0)
		xo_login_free(out);
	xoc_reply_cleanup(&rep);
	return r;
}

XO_EXTERN int xo_login_start(struct xo_client *c, const char *account,
			     struct xo_login *out)
{
	return xo_login_start_flow(c, account, NULL, out);
}

XO_EXTERN void xo_login_free(struct xo_login *l)
{
	if (l == NULL)
		return;
	free(l->verification_uri);
	free(l->verification_uri_complete);
	free(l->user_code);
	free(l->flow);
	memset(l, 0, sizeof(*l));
}

XO_EXTERN int xo_login_code(struct xo_client *c, const char *account,
			    const char *response, unsigned wait_ms)
{
	struct proto_login_code_req q;
	int r = XO_ERR_INTERNAL;

	if (c == NULL)
		return XO_ERR_INVALID;
	xoc_begin(c);
	if ((r = xoc_check_text(c, account, "account")) != 0 ||
	    (r = xoc_check_text(c, response, "login response")) != 0)
		return r;
	q.account = proto_str_c(account);
	q.response = proto_str_c(response);
	q.wait_ms = wait_ms;
	return xoc_call_ok(c, enc_code, &q, q.account.len + q.response.len,
			   wait_ms);
}

XO_EXTERN int xo_login_wait(struct xo_client *c, const char *account,
			    unsigned wait_ms)
{
	return xoc_simple_request(c, PROTO_REQ_LOGIN_WAIT, account, wait_ms);
}
