/*
 * login.c: starting, joining, cancelling and ending a login, whatever its
 * flow.  The agent runs the flow; the CLI or an application only shows the
 * user what to do and waits (LOGIN_WAIT).  The flows themselves are in
 * device.c (RFC 8628) and code.c (browser and paste, RFC 6749 4.1 with
 * PKCE).  The account keeps the login in its slot (account_login_begin())
 * and its outcome after it has ended.
 *
 * Which flows an account may use is the provider preset's business
 * (config/pure/presets.c): a flow the provider refuses, or one the account
 * lacks the endpoints for, gets XO_ERR_UNSUPPORTED_FLOW with the flows that
 * do work.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "account/requests.h"
#include "account/secret_cmd.h"
#include "config/config.h"
#include "core/agent.h"
#include "core/clock.h"
#include "core/conn.h"
#include "core/waiter.h"
#include "login/login_internal.h"

static void on_login_closed(uv_handle_t *h)
{
	struct login *l = h->data;

	oauth_device_cleanup(&l->dev);
	login_code_cleanup(l);
	free(l);
}

static void on_login_secret(struct account *acct, int err);

/* Lets go of l: nothing may reach a login that has ended; its memory goes
   from the loop. */
static void login_release(struct login *l)
{
	struct account *acct = l->acct;

	if (acct != NULL && agent_secret_cmd_waits(acct, on_login_secret))
		agent_secret_cmd_cancel(acct);
	l->acct = NULL;
	/* The listener goes now, not with the login's memory. */
	login_code_close_listener(l);
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, on_login_closed);
}

/* account_login_cancel_cb: the account drops its login (removal, lock, a
   login with another flow). */
static void login_cancelled(struct account *acct, void *data)
{
	oauth_cancel(account_oauth(acct));
	login_release(data);
}

void login_finish(struct login *l, const struct agent_err *outcome)
{
	struct account *acct = l->acct;

	login_release(l);
	account_login_end(acct, outcome);
}

void login_fail(struct login *l, int code, const char *fmt, ...)
{
	struct agent_err e;
	va_list ap;

	e.code = code;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	login_finish(l, &e);
}

/* Whether the account has what flow f needs; NULL, or why not. */
static const char *flow_lacks(const struct account *acct, enum agent_flow f)
{
	const struct agent_account_cfg *cfg = account_cfg(acct);
	const struct agent_preset *p = agent_preset_find(cfg->provider);

	if (p != NULL && p->refused[f] != NULL)
		return p->refused[f];
	switch (f) {
	case AGENT_FLOW_DEVICE:
		if (cfg->device_authorization_endpoint == NULL &&
		    !cfg->needs_discovery)
			return "the device flow needs "
			       "device_authorization_endpoint";
		return NULL;
	case AGENT_FLOW_BROWSER:
	case AGENT_FLOW_PASTE:
		if (cfg->authorization_endpoint == NULL &&
		    !cfg->needs_discovery)
			return "the browser and paste flows need "
			       "authorization_endpoint";
		if (f == AGENT_FLOW_PASTE && cfg->redirect_uri == NULL)
			return "the paste flow needs redirect_uri, the "
			       "redirect URI registered for the app";
		return NULL;
	case AGENT_FLOW_CLIENT_CREDENTIALS:
		return "client_credentials has no user login: the agent "
		       "fetches its token by itself";
	case AGENT_FLOW_COUNT:
		break;
	}
	return "unknown flow";
}

/* "device, browser" ... for the flows this account can log in with. */
static void flows_that_work(const struct account *acct, char *buf, size_t len)
{
	static const enum agent_flow user_flows[] = {
	    AGENT_FLOW_DEVICE, AGENT_FLOW_BROWSER, AGENT_FLOW_PASTE};
	size_t i, w = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < sizeof(user_flows) / sizeof(user_flows[0]); i++) {
		if (flow_lacks(acct, user_flows[i]) != NULL)
			continue;
		n = snprintf(buf + w, len - w, "%s%s", w > 0 ? ", " : "",
			     agent_flow_name(user_flows[i]));
		if (n < 0 || (size_t)n >= len - w)
			break;
		w += (size_t)n;
	}
}

/* Checks that flow_name can run for the account; 0 or the reason. */
static int check_flow(const struct account *acct, const char *flow_name,
		      enum agent_flow *flow, struct agent_err *err)
{
	const char *name = account_name(acct);
	char works[64];
	const char *why;

	if (agent_flow_parse(flow_name, flow) != 0)
		return agent_err_set(err, XO_ERR_UNSUPPORTED_FLOW,
				     "%s: unknown flow '%.32s' (expected "
				     "device, browser or paste)",
				     name, flow_name);
	if ((why = flow_lacks(acct, *flow)) == NULL)
		return 0;
	flows_that_work(acct, works, sizeof(works));
	return agent_err_set(err, XO_ERR_UNSUPPORTED_FLOW,
			     "%s: cannot log in with the %s flow: %s%s%s%s",
			     name, flow_name, why,
			     works[0] != '\0'
				 ? " (flows that work for this account: "
				 : " (no login flow works for this account as "
				   "configured",
			     works, ")");
}

/* Asks the provider for what the login's flow starts with. */
static int login_begin(struct login *l, struct agent_err *err)
{
	if (l->flow == AGENT_FLOW_DEVICE)
		return login_device_start(l, err);
	return login_code_start(l, err);
}

/* client_secret_cmd has run for a login: the flow can begin. */
static void on_login_secret(struct account *acct, int err)
{
	struct login *l = account_login(acct);
	struct account_status st;
	struct agent_err e;

	if (l == NULL)
		return;
	agent_err_clear(&e);
	if (err == 0 && login_begin(l, &e) == 0) {
		/* The browser and paste flows may be ready at once. */
		if (l->ready)
			account_wake(acct, ACCOUNT_CHANGED);
		return;
	}
	/* The command's failure is the account's last error. */
	if (err != 0) {
		account_status(acct, &st);
		e = *st.last;
		e.code = err;
	}
	login_finish(l, &e);
}

/* Joins the login in progress, so that a second `xoauth login` shows the
   same code or address. */
static int join(struct login *l, struct conn *c, struct agent_err *err)
{
	int r;

	if (l->ready)
		r = login_reply(l, c);
	else
		r = login_wait(l->acct, c, WAIT_LOGIN_START, 0);
	return agent_err_code(err, r);
}

int login_start(struct account *acct, struct conn *c, const char *flow_name,
		struct agent_err *err)
{
	struct agent *a = account_agent(acct);
	struct login *l = account_login(acct);
	enum agent_flow flow;
	bool explicit_flow = flow_name != NULL, running;
	int r;

	/* An app account has no user to log in: it fetches its token. */
	if (account_is_app(acct))
		return account_app_login_start(acct, c, err);
	if (flow_name == NULL)
		flow_name = account_cfg(acct)->flow;
	if ((r = check_flow(acct, flow_name, &flow, err)) != 0)
		return r;
	if (l != NULL) {
		/* A different flow asked for by name replaces the login. */
		if (!explicit_flow || l->flow == flow)
			return join(l, c, err);
		account_login_cancel(acct);
		account_wake(acct, ACCOUNT_CHANGED);
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return agent_err_code(err, XO_ERR_NOMEM);
	l->acct = acct;
	l->flow = flow;
	uv_timer_init(a->loop, &l->timer);
	l->timer.data = l;
	if ((r = account_login_begin(acct, l, login_cancelled, err)) != 0) {
		l->acct = NULL;
		uv_close((uv_handle_t *)&l->timer, on_login_closed);
		return r;
	}
	/* A confidential client's secret may first have to come from its
	   command; the flow then begins in on_login_secret(). */
	if ((r = agent_secret_cmd_fetch(acct, on_login_secret, &running)) !=
	    0) {
		struct account_status st;

		account_status(acct, &st);
		agent_err_set(err, r, "%s", st.last->msg);
	} else if (!running) {
		r = login_begin(l, err);
	}
	if (r != 0) {
		/* The reason goes to the client, not into the outcome: no
		   login was under way. */
		account_login_cancel(acct);
		account_login_outcome_clear(acct);
		return r;
	}
	if (l->ready)
		r = login_reply(l, c);
	else
		r = login_wait(acct, c, WAIT_LOGIN_START, 0);
	if (r != 0) {
		account_login_cancel(acct);
		agent_err_code(err, r);
	}
	return r;
}

int login_reply(const struct login *l, struct conn *c)
{
	struct proto_login_rep rep;
	struct agent_reply reply;
	int64_t left = l->expires_boot - agent_now_boot();
	int r;

	memset(&rep, 0, sizeof(rep));
	if (l->flow == AGENT_FLOW_DEVICE) {
		login_device_reply(l, &rep);
	} else {
		rep.verification_uri = proto_str_c(l->auth_url);
		rep.verification_uri_complete = proto_str_c("");
		rep.user_code = proto_str_c("");
		rep.interval = 0;
	}
	rep.expires_in = left > 0 ? (uint32_t)(left / 1000) : 0;
	rep.flow = proto_str_c(agent_flow_name(l->flow));
	if ((r = agent_reply_init(
		 &reply,
		 4096 + (l->auth_url != NULL ? strlen(l->auth_url) : 0))) != 0)
		return r;
	if (proto_enc_login_rep(&reply.w, &rep) != 0)
		r = XO_ERR_PROVIDER_REPLY;
	else
		agent_conn_send(c, &reply);
	agent_reply_cleanup(&reply);
	return r;
}

/* ---- waiting for a login ---- */

static int wake_login_start(struct waiter *w, int event)
{
	struct account *acct = waiter_owner(w);
	const struct login *l = account_login(acct);
	const struct agent_err *outcome = account_login_outcome(acct);
	int r;

	(void)event;
	if (l != NULL && !l->ready)
		return 1;
	if (l == NULL)
		agent_conn_reply_failure(waiter_conn(w),
					 outcome->code ? outcome->code
						       : XO_ERR_LOGIN_NEEDED,
					 outcome->msg);
	else if ((r = login_reply(l, waiter_conn(w))) != 0)
		agent_conn_reply_failure(waiter_conn(w), r, NULL);
	return 0;
}

static int wake_login(struct waiter *w, int event)
{
	struct account *acct = waiter_owner(w);
	const struct agent_err *outcome = account_login_outcome(acct);

	(void)event;
	if (account_login(acct) != NULL)
		return 1;
	if (outcome->code == 0)
		agent_conn_reply_success(waiter_conn(w));
	else
		agent_conn_reply_err(waiter_conn(w), outcome);
	return 0;
}

static int wake_login_code(struct waiter *w, int event)
{
	struct agent_err err;

	(void)event;
	if (login_code_pending(waiter_owner(w), &err))
		return 1;
	if (err.code == 0)
		agent_conn_reply_success(waiter_conn(w));
	else
		agent_conn_reply_err(waiter_conn(w), &err);
	return 0;
}

static void login_expired(struct waiter *w, int code, const char *what)
{
	struct agent_err err;

	agent_err_set(&err, code, "%s: %s", account_name(waiter_owner(w)),
		      what);
	agent_conn_reply_err(waiter_conn(w), &err);
}

static void login_start_expired(struct waiter *w)
{
	login_expired(w, XO_ERR_TIMEOUT,
		      "the provider did not answer the login request");
}

static void login_wait_expired(struct waiter *w)
{
	login_expired(w, XO_ERR_LOGIN_PENDING, "still waiting for the user");
}

static void login_code_expired(struct waiter *w)
{
	login_expired(w, XO_ERR_TIMEOUT,
		      "the provider has not answered the code exchange yet; "
		      "'xoauth login' tells when it has");
}

static const struct waiter_ops wait_ops[] = {
    [WAIT_LOGIN] = {wake_login, login_wait_expired},
    [WAIT_LOGIN_START] = {wake_login_start, login_start_expired},
    [WAIT_LOGIN_CODE] = {wake_login_code, login_code_expired},
};

int login_wait(struct account *acct, struct conn *c, enum login_wait_kind kind,
	       uint32_t wait_ms)
{
	return agent_waiter_add(account_agent(acct), account_waiters(acct), c,
				&wait_ops[kind], acct, wait_ms, 0, NULL);
}
