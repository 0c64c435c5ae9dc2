/*
 * login.c: starting, joining, cancelling and ending a login, whatever its
 * flow.  The agent runs the flow; the CLI or an application only shows the
 * user what to do and waits (LOGIN_WAIT).  The flows themselves are in
 * login_device.c (RFC 8628) and login_code.c (browser and paste, RFC 6749
 * 4.1 with PKCE).
 *
 * Which flows an account may use is the provider preset's business
 * (presets.c): a flow the provider refuses, or one the account lacks the
 * endpoints for, gets XO_ERR_UNSUPPORTED_FLOW with the flows that do work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/agent.h"
#include "core/log.h"
#include "login/login_internal.h"
#include "account/pure/policy.h"
#include "account/secret_cmd.h"
#include "vault/vault.h"

static void on_login_closed(uv_handle_t *h)
{
	struct login *l = h->data;

	oauth_device_cleanup(&l->dev);
	login_code_cleanup(l);
	free(l);
}

static void on_login_secret(struct account *acct, int err);

/* Detaches the login from its account and frees it from the loop. */
static void login_release(struct account *acct)
{
	struct login *l = acct->login;

	if (acct->secret_cb == on_login_secret)
		agent_secret_cmd_cancel(acct);
	acct->login = NULL;
	l->acct = NULL;
	/* The listener goes now, not with the login's memory: nothing may
	   reach a login that has ended. */
	login_code_close_listener(l);
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, on_login_closed);
}

void login_finish(struct account *acct, int err, const char *msg)
{
	login_release(acct);
	acct->login_err = err;
	snprintf(acct->login_error, sizeof(acct->login_error), "%s",
		 msg != NULL ? msg : "");
	if (err == 0)
		log_info("%s: logged in", acct->cfg.name);
	else
		log_error("%s: login failed: %s", acct->cfg.name,
			  acct->login_error);
	agent_waiters_wake(acct, 0);
	agent_schedule(acct->agent);
}

/* The login's tokens are the account's now. */
static void login_commit(struct account *acct)
{
	agent_account_commit_tokens(acct);
	acct->next_refresh_boot =
	    policy_refresh_at(agent_now_boot(), acct->lifetime_ms, 0.5);
}

static void login_durable(struct account *acct)
{
	login_commit(acct);
	if (acct->login != NULL && acct->login->stored != NULL)
		acct->login->stored(acct);
	else
		agent_waiters_wake(acct, 0);
}

int login_store_tokens(struct account *acct, struct oauth_result *res,
		       agent_durable_cb stored)
{
	uint64_t seq;
	int r;

	if ((r = agent_account_stage_tokens(acct, res)) < 0)
		return r;
	if (acct->refresh_token == NULL)
		log_error("%s: the provider sent no refresh token; ask for the "
			  "offline_access scope",
			  acct->cfg.name);
	/* The lifetime (-t, `lifetime`) counts from the login. */
	agent_account_set_obtained(acct, time(NULL));
	if (r == 1 && (seq = agent_vault_persist(acct->agent)) != 0) {
		acct->login->stored = stored;
		agent_vault_wait(acct, seq, login_durable);
		return 1;
	}
	login_commit(acct);
	return 0;
}

/* Whether the account has what flow f needs; NULL, or why not. */
static const char *flow_lacks(const struct account *acct, enum agent_flow f)
{
	const struct agent_account_cfg *cfg = &acct->cfg;
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

/* Checks that flow_name can run for the account; 0 or an error whose
   reason is in acct->login_error. */
static int check_flow(struct account *acct, const char *flow_name,
		      enum agent_flow *flow)
{
	char works[64];
	const char *why;

	if (agent_flow_parse(flow_name, flow) != 0) {
		snprintf(acct->login_error, sizeof(acct->login_error),
			 "%s: unknown flow '%.32s' (expected device, browser "
			 "or paste)",
			 acct->cfg.name, flow_name);
		return XO_ERR_UNSUPPORTED_FLOW;
	}
	if ((why = flow_lacks(acct, *flow)) == NULL)
		return 0;
	flows_that_work(acct, works, sizeof(works));
	snprintf(acct->login_error, sizeof(acct->login_error),
		 "%s: cannot log in with the %s flow: %s%s%s%s", acct->cfg.name,
		 flow_name, why,
		 works[0] != '\0' ? " (flows that work for this account: "
				  : " (no login flow works for this account "
				    "as configured",
		 works, ")");
	return XO_ERR_UNSUPPORTED_FLOW;
}

/* Asks the provider for what the login's flow starts with. */
static int login_begin(struct account *acct, struct login *l)
{
	if (l->flow == AGENT_FLOW_DEVICE)
		return login_device_start(acct, l);
	return login_code_start(acct, l);
}

/* client_secret_cmd has run for a login: the flow can begin. */
static void on_login_secret(struct account *acct, int err)
{
	if (acct->login == NULL)
		return;
	if (err == 0 && (err = login_begin(acct, acct->login)) == 0) {
		/* The browser and paste flows may be ready at once. */
		if (acct->login->ready)
			agent_waiters_wake(acct, 0);
		return;
	}
	login_finish(acct, err,
		     acct->login_error[0] != '\0' ? acct->login_error
						  : acct->last_error);
}

int agent_login_start(struct account *acct, struct conn *c,
		      const char *flow_name)
{
	struct agent *a = acct->agent;
	enum agent_flow flow;
	struct login *l;
	int explicit_flow = flow_name != NULL, r;

	acct->login_error[0] = '\0';
	/* An app account has no user to log in: it fetches its token. */
	if (agent_account_is_app(acct))
		return agent_app_login_start(acct, c);
	if (flow_name == NULL)
		flow_name = acct->cfg.flow;
	if ((r = check_flow(acct, flow_name, &flow)) != 0)
		return r;
	if (acct->login != NULL) {
		/* Join the login in progress, so that a second `xoauth
		   login` shows the same code or address; a different flow
		   asked for by name replaces it. */
		if (!explicit_flow || acct->login->flow == flow) {
			if (acct->login->ready)
				return agent_login_reply(acct, c);
			return agent_waiter_add(acct, c, WAIT_LOGIN_START, NULL,
						0);
		}
		agent_login_cancel(acct);
		agent_waiters_wake(acct, 0);
		acct->login_error[0] = '\0';
	}
	if (acct->refreshing) {
		snprintf(acct->login_error, sizeof(acct->login_error),
			 "%s: a refresh is in flight; try again in a moment",
			 acct->cfg.name);
		return XO_ERR_BUSY;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return XO_ERR_NOMEM;
	l->acct = acct;
	l->flow = flow;
	uv_timer_init(a->loop, &l->timer);
	l->timer.data = l;
	acct->login = l;
	acct->login_err = 0;
	/* A confidential client's secret may first have to come from its
	   command; the flow then begins in on_login_secret(). */
	if ((r = agent_secret_cmd_fetch(acct, on_login_secret)) < 0)
		snprintf(acct->login_error, sizeof(acct->login_error), "%s",
			 acct->last_error);
	else if (r == 0)
		r = login_begin(acct, l);
	else
		r = 0;
	if (r != 0) {
		/* Keep the reason the start left; finishing would log it. */
		login_release(acct);
		return r;
	}
	if (l->ready)
		r = agent_login_reply(acct, c);
	else
		r = agent_waiter_add(acct, c, WAIT_LOGIN_START, NULL, 0);
	if (r != 0)
		agent_login_cancel(acct);
	return r;
}

void agent_login_cancel(struct account *acct)
{
	if (acct->login == NULL)
		return;
	oauth_cancel(acct->oauth);
	login_release(acct);
	acct->login_err = XO_ERR_LOGIN_NEEDED;
	snprintf(acct->login_error, sizeof(acct->login_error),
		 "%s: the login was cancelled", acct->cfg.name);
}

int agent_login_reply(struct account *acct, struct conn *c)
{
	struct login *l = acct->login;
	struct proto_login_rep rep;
	struct proto_writer w;
	int64_t left = l->expires_boot - agent_now_boot();

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
	if (agent_reply_buf(
		4096 + (l->auth_url != NULL ? strlen(l->auth_url) : 0), &w) !=
	    0)
		return XO_ERR_NOMEM;
	if (proto_enc_login_rep(&w, &rep) != 0) {
		free(w.buf);
		return XO_ERR_PROVIDER_REPLY;
	}
	agent_conn_reply(c, w.buf, w.len);
	return 0;
}
