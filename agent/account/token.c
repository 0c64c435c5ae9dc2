/*
 * token.c: answering TOKEN (PROTOCOL.md 4.2), now or once a refresh has
 * ended, and the other requests that wait for a refresh (REFRESH, IMPORT,
 * an app account's LOGIN_START).
 *
 * DESIGN.md: "A token request never returns an expired token.  If a
 * refresh is in flight or due, it waits for it (bounded, default 10 s,
 * --wait), then answers or fails with the reason."
 */
#include <stdio.h>
#include <string.h>

#include "account/account_internal.h"
#include "account/pure/policy.h"
#include "core/clock.h"
#include "core/conn.h"
#include "secret/sasl.h"
#include "secret/secret.h"

/* The longest OAUTHBEARER host a token request may name. */
#define HOST_MAX 255

/* The longest scope a token request may name. */
#define SCOPE_MAX 1024

/* What a parked TOKEN request keeps of itself (the frame is gone). */
struct token_wait {
	struct proto_token_req req;
	char host[HOST_MAX + 1];
	char scope[SCOPE_MAX + 1];
};

/* What open_into_frame() opens, and with which key. */
struct token_open {
	struct agent_shield *shield;
	const struct agent_secret *tok;
};

/* proto_fill_cb: the access token, decrypted straight into the reply
   frame (a buffer that wipes what it held, secret/buf.h). */
static int open_into_frame(void *arg, unsigned char *dst, size_t len)
{
	struct token_open *o = arg;

	return agent_secret_open_to(o->shield, o->tok, dst, len);
}

/* The bare access token: decrypted into the reply frame itself, with no
   plain copy of its own to make, copy and wipe. */
static int reply_access_token(struct account *acct, struct conn *c,
			      const struct agent_secret *tok,
			      time_t expires_wall)
{
	struct token_open o = {acct->agent->shield, tok};
	struct proto_str email = proto_str_c(acct->email);
	struct agent_reply reply = {0};
	size_t len = agent_secret_len(tok);
	int r;

	if (len > PROTO_MAX_STR)
		return XO_ERR_MSG_TOO_LARGE;
	if ((r = agent_reply_init(&reply,
				  proto_token_rep_size(len, email.len))) == 0 &&
	    (r = proto_enc_token_rep_fill(&reply.w, (uint32_t)len,
					  (uint64_t)expires_wall, email,
					  open_into_frame, &o)) == 0)
		agent_conn_send(c, &reply);
	agent_reply_cleanup(&reply);
	return r;
}

/* Sends the TOKEN reply: the access token as asked for (bare, or a SASL
   initial response for the account's address). */
int account_token_reply(struct account *acct, struct conn *c,
			const struct proto_token_req *req,
			const struct agent_secret *tok, time_t expires_wall,
			struct agent_err *err)
{
	struct agent_plain *token = NULL, *value = NULL;
	struct proto_token_rep rep;
	struct agent_reply reply = {0};
	char host[HOST_MAX + 1];
	int r;

	if (req->form != PROTO_FORM_ACCESS && acct->email == NULL)
		return agent_err_set(err, XO_ERR_CONFIG,
				     "%s: no e-mail address known for the "
				     "SASL user name; set 'email' in the "
				     "account's section",
				     acct->cfg.name);
	if (tok == NULL) {
		r = XO_ERR_LOGIN_NEEDED;
		goto out;
	}
	if (req->form == PROTO_FORM_ACCESS) {
		r = reply_access_token(acct, c, tok, expires_wall);
		goto out;
	}
	if ((r = agent_secret_open(acct->agent->shield, tok, &token)) != 0)
		goto out;
	snprintf(host, sizeof(host), "%.*s", (int)req->host.len, req->host.ptr);
	if ((r = agent_sasl_build(acct->agent->shield, req->form, acct->email,
				  host, req->port, token, &value)) != 0) {
		if (r == XO_ERR_MSG_BAD)
			agent_err_set(err, r,
				      "%s: the host or the address holds a "
				      "control character, which a SASL "
				      "string cannot carry",
				      acct->cfg.name);
		goto out;
	}
	rep.token.ptr = value->data;
	rep.token.len = (uint32_t)value->len;
	rep.expires_at = (uint64_t)expires_wall;
	rep.email = proto_str_c(acct->email);
	if ((r = agent_reply_init(
		 &reply, proto_token_rep_size(value->len, rep.email.len))) !=
		0 ||
	    (r = proto_enc_token_rep(&reply.w, &rep)) != 0)
		goto out;
	agent_conn_send(c, &reply);
out:
	if (r != 0 && err != NULL && err->code != r)
		agent_err_code(err, r);
	agent_reply_cleanup(&reply);
	agent_plain_free(token);
	agent_plain_free(value);
	return r;
}

/* Why the account cannot get a token by itself (no refresh token). */
static int cannot_refresh(const struct account *acct, struct agent_err *err)
{
	const char *name = acct->cfg.name;

	if (acct->state == PROTO_STATE_CONFIG_ERROR)
		return agent_err_set(err,
				     acct->last.code ? acct->last.code
						     : XO_ERR_PROVIDER_CONFIG,
				     "%s", acct->last.msg);
	if (acct->op == ACCOUNT_OP_LOGIN)
		return agent_err_set(err, XO_ERR_LOGIN_NEEDED,
				     "%s: a login is waiting for the user; "
				     "finish it or run 'xoauth login %s'",
				     name, name);
	if (acct->state == PROTO_STATE_REAUTH)
		return agent_err_set(err, XO_ERR_LOGIN_NEEDED,
				     "%s; run 'xoauth login %s'",
				     acct->last.msg, name);
	return agent_err_set(err, XO_ERR_LOGIN_NEEDED,
			     "%s: login needed: run 'xoauth login %s'", name,
			     name);
}

int account_refresh_blocked(const struct account *acct, struct agent_err *err)
{
	if (!account_can_refresh(acct))
		return cannot_refresh(acct, err);
	if (acct->state == PROTO_STATE_CONFIG_ERROR &&
	    acct->op != ACCOUNT_OP_REFRESH)
		return agent_err_set(err,
				     acct->last.code ? acct->last.code
						     : XO_ERR_PROVIDER_CONFIG,
				     "%s", acct->last.msg);
	return 0;
}

int account_token_try(struct account *acct, struct conn *c,
		      const struct proto_token_req *req, bool *must_wait,
		      struct agent_err *err)
{
	int64_t now, min_ms;
	uint32_t wait;
	int r;

	*must_wait = false;
	if (!account_scope_is_own(acct, req->scope))
		return account_scope_token_try(acct, c, req, must_wait, err);
	min_ms = req->min_valid > 0 ? (int64_t)req->min_valid * 1000
				    : policy_min_valid(acct->lifetime_ms);
	if (account_token_ok(acct, min_ms))
		return account_token_reply(acct, c, req, acct->access_token,
					   acct->expires_wall, err);
	/* No refresh can help when the provider's tokens live less than
	   that: say so rather than wait for a token that cannot come. */
	if (req->min_valid > 0 && acct->lifetime_ms > 0 &&
	    min_ms > acct->lifetime_ms)
		return agent_err_set(err, XO_ERR_INVALID,
				     "%s: the provider's tokens live %lld s, "
				     "so none stays valid for the %u s asked "
				     "for (--min-valid)",
				     acct->cfg.name,
				     (long long)(acct->lifetime_ms / 1000),
				     (unsigned)req->min_valid);
	if ((r = account_refresh_blocked(acct, err)) != 0)
		return r;
	*must_wait = true;
	if (acct->op == ACCOUNT_OP_REFRESH)
		return 0;
	/* Backing off after transient failures: wait for the next try if
	   it comes within this request's wait, else say why now.  (The
	   clock is read here, not for every TOKEN: account_token_ok() reads
	   it for the token served at once.) */
	now = agent_now_boot();
	if (acct->state == PROTO_STATE_RETRYING &&
	    acct->next_refresh_boot > now) {
		wait = req->wait_ms ? req->wait_ms
				    : acct->agent->limits.wait_default_ms;
		if (acct->next_refresh_boot - now <= (int64_t)wait)
			return 0;
		*must_wait = false;
		return agent_err_set(
		    err, XO_ERR_REFRESH_FAILED,
		    "%s: refresh failed, next try in %lld s: %s",
		    acct->cfg.name,
		    (long long)((acct->next_refresh_boot - now + 999) / 1000),
		    acct->last.msg);
	}
	if (account_refresh_start(acct, err) != 0) {
		*must_wait = false;
		return err->code;
	}
	return 0;
}

/* ---- waiting for a refresh ---- */

static int wake_token(struct waiter *w, int event)
{
	struct account *acct = waiter_owner(w);
	struct token_wait *tw = waiter_extra(w);
	const struct agent_err *failed;
	struct agent_err err;
	bool must_wait;

	if (event == ACCOUNT_REFRESHED &&
	    (failed = account_refresh_failure(acct, tw->scope)) != NULL) {
		agent_conn_reply_err(waiter_conn(w), failed);
		return 0;
	}
	agent_err_clear(&err);
	if (account_token_try(acct, waiter_conn(w), &tw->req, &must_wait,
			      &err) != 0)
		agent_conn_reply_err(waiter_conn(w), &err);
	return must_wait;
}

/* REFRESH, IMPORT and an app's LOGIN_START: the refresh's outcome. */
static int wake_refresh(struct waiter *w, int event, int app_login)
{
	struct account *acct = waiter_owner(w);
	int r;

	if (event != ACCOUNT_REFRESHED)
		return 1;
	if (acct->last.code != 0)
		agent_conn_reply_err(waiter_conn(w), &acct->last);
	else if (!app_login)
		agent_conn_reply_success(waiter_conn(w));
	else if ((r = account_app_login_reply(waiter_conn(w))) != 0)
		agent_conn_reply_failure(waiter_conn(w), r, NULL);
	return 0;
}

static int wake_plain_refresh(struct waiter *w, int event)
{
	return wake_refresh(w, event, 0);
}

static int wake_app_login(struct waiter *w, int event)
{
	return wake_refresh(w, event, 1);
}

static void refresh_expired(struct waiter *w)
{
	struct account *acct = waiter_owner(w);
	struct agent_err err;

	if (acct->last.code != 0)
		agent_err_set(&err, XO_ERR_TIMEOUT,
			      "%s: timed out waiting for a refresh; last "
			      "error: %s",
			      acct->cfg.name, acct->last.msg);
	else
		agent_err_set(&err, XO_ERR_TIMEOUT,
			      "%s: timed out waiting for the provider",
			      acct->cfg.name);
	agent_conn_reply_err(waiter_conn(w), &err);
}

static const struct waiter_ops wait_ops[] = {
    [WAIT_TOKEN] = {wake_token, refresh_expired},
    [WAIT_REFRESH] = {wake_plain_refresh, refresh_expired},
    [WAIT_APP_LOGIN] = {wake_app_login, refresh_expired},
};

int account_wait_refresh(struct account *acct, struct conn *c,
			 enum refresh_wait_kind kind,
			 const struct proto_token_req *req, uint32_t wait_ms)
{
	struct token_wait *tw;
	struct waiter *w;
	int r;

	if ((r = agent_waiter_add(acct->agent, &acct->waiters, c,
				  &wait_ops[kind], acct, wait_ms,
				  req != NULL ? sizeof(*tw) : 0, &w)) != 0)
		return r;
	if (req != NULL) {
		/* The request's strings point into its frame, which goes
		   once dispatch returns. */
		tw = waiter_extra(w);
		tw->req = *req;
		tw->req.account = proto_str_c(NULL);
		snprintf(tw->host, sizeof(tw->host), "%.*s", (int)req->host.len,
			 req->host.ptr);
		tw->req.host = proto_str_c(tw->host);
		snprintf(tw->scope, sizeof(tw->scope), "%.*s",
			 (int)req->scope.len, req->scope.ptr);
		tw->req.scope = proto_str_c(tw->scope);
	}
	return 0;
}
