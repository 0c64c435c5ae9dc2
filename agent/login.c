/*
 * login.c: the device flow (RFC 8628), driven by the agent; the CLI or an
 * application only shows the user what to do and waits (LOGIN_WAIT).
 *
 * Polling follows 3.5: every `interval` seconds (5 when the provider gives
 * none, as oidc-provider does), 5 s more after each slow_down, until the
 * code expires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "secret_cmd.h"

static void on_login_closed(uv_handle_t *h)
{
	struct login *l = h->data;

	oauth_device_cleanup(&l->dev);
	free(l);
}

/* Ends the login with err (0: logged in) and tells whoever waits. */
static void login_finish(struct account *acct, int err, const char *msg)
{
	struct login *l = acct->login;

	acct->login = NULL;
	l->acct = NULL;
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, on_login_closed);
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

static void poll_later(struct login *l);

static void on_poll(void *arg, struct oauth_result *res)
{
	struct login *l = arg;
	struct account *acct = l->acct;
	char msg[600];
	int r;

	switch (res->cls) {
	case OAUTH_OK:
		if ((r = agent_account_store_tokens(acct, res)) != 0) {
			login_finish(acct, r, "cannot store the tokens");
			return;
		}
		if (acct->refresh_token == NULL)
			log_error("%s: the provider sent no refresh token; "
				  "ask for the offline_access scope",
				  acct->cfg.name);
		acct->next_refresh_boot = policy_refresh_at(
			agent_now_boot(), acct->lifetime_ms, 0.5);
		login_finish(acct, 0, NULL);
		return;
	case OAUTH_PENDING:
		break;
	case OAUTH_SLOW_DOWN:
		l->interval_s += 5;
		break;
	case OAUTH_TRANSIENT:
		/* A network hiccup does not end the user's login. */
		log_info("%s: login poll failed, will retry: %s",
			 acct->cfg.name, res->message);
		break;
	default:
		acct->last_aadsts = res->aadsts;
		snprintf(acct->last_oauth_error,
			 sizeof(acct->last_oauth_error), "%s", res->error);
		snprintf(msg, sizeof(msg), "%s: %s", acct->cfg.name,
			 res->message);
		login_finish(acct, res->err != 0 ? res->err
						 : XO_ERR_LOGIN_DENIED,
			     msg);
		return;
	}
	poll_later(l);
}

static void on_poll_timer(uv_timer_t *t)
{
	struct login *l = t->data;
	struct account *acct = l->acct;
	struct agent_plain *secret = NULL;
	char msg[200];
	int r;

	if (agent_now_boot() >= l->expires_boot) {
		snprintf(msg, sizeof(msg),
			 "%s: the login code expired; run 'xoauth login %s' "
			 "again",
			 acct->cfg.name, acct->cfg.name);
		login_finish(acct, XO_ERR_LOGIN_EXPIRED, msg);
		return;
	}
	if (acct->client_secret != NULL &&
	    agent_secret_open(acct->agent->shield, acct->client_secret,
			      &secret) != 0) {
		login_finish(acct, XO_ERR_INTERNAL, "cannot open the secret");
		return;
	}
	r = oauth_device_poll(acct->oauth, l->dev.device_code, secret,
			      on_poll, l);
	agent_plain_free(secret);
	if (r != 0)
		poll_later(l);
}

static void poll_later(struct login *l)
{
	uv_timer_start(&l->timer, on_poll_timer,
		       (uint64_t)l->interval_s * 1000, 0);
}

static void on_device(void *arg, int err, const char *message,
		      struct oauth_device *dev)
{
	struct login *l = arg;
	struct account *acct = l->acct;
	char msg[600];

	if (err != 0) {
		snprintf(msg, sizeof(msg), "%s: %s", acct->cfg.name,
			 message != NULL ? message : proto_strerror(err));
		login_finish(acct, err, msg);
		return;
	}
	l->dev = *dev;
	memset(dev, 0, sizeof(*dev)); /* transferred */
	l->interval_s = l->dev.interval > 0 ? l->dev.interval : 5;
	l->expires_boot = agent_now_boot() +
			  (l->dev.expires_in > 0 ? l->dev.expires_in : 900) *
				  1000;
	l->ready = 1;
	snprintf(msg, sizeof(msg),
		 "%s: login pending: open %s and enter the code %s",
		 acct->cfg.name, l->dev.verification_uri, l->dev.user_code);
	log_info("%s", msg);
	agent_notify(acct, NOTIFY_LOGIN_PENDING, msg, l->dev.verification_uri,
		     l->dev.user_code);
	poll_later(l);
	agent_waiters_wake(acct, 0);
}

/* Asks the provider for a device code; 0 or XO_ERR_*. */
static int device_begin(struct login *l)
{
	struct account *acct = l->acct;
	struct agent_plain *secret = NULL;
	int r;

	if (acct->client_secret != NULL &&
	    (r = agent_secret_open(acct->agent->shield, acct->client_secret,
				   &secret)) != 0)
		return r;
	r = oauth_device_start(acct->oauth, secret, on_device, l);
	agent_plain_free(secret);
	if (r != 0)
		snprintf(acct->login_error, sizeof(acct->login_error),
			 "%s: cannot start the login: %s", acct->cfg.name,
			 proto_strerror(r));
	return r;
}

/* client_secret_cmd has run for a login. */
static void on_login_secret(struct account *acct, int err)
{
	if (acct->login == NULL)
		return;
	if (err == 0 && (err = device_begin(acct->login)) == 0)
		return;
	login_finish(acct, err,
		     acct->login_error[0] != '\0' ? acct->login_error
						  : acct->last_error);
}


int agent_login_start(struct account *acct, struct conn *c,
		      const char *flow)
{
	struct agent *a = acct->agent;
	struct login *l;
	int r;

	acct->login_error[0] = '\0';
	if (agent_account_is_app(acct))
		return agent_app_login_start(acct, c);
	if (acct->login != NULL && acct->login->ready)
		return agent_login_reply(acct, c);
	if (acct->login != NULL)
		return agent_waiter_add(acct, c, WAIT_LOGIN_START, NULL, 0);
	if (acct->refreshing) {
		snprintf(acct->login_error, sizeof(acct->login_error),
			 "%s: a refresh is in flight; try again in a moment",
			 acct->cfg.name);
		return XO_ERR_BUSY;
	}
	if (flow == NULL)
		flow = acct->cfg.flow;
	if (flow != NULL && strcmp(flow, "device") != 0) {
		snprintf(acct->login_error, sizeof(acct->login_error),
			 "%s: the '%s' flow is not supported yet; use "
			 "flow = device or 'xoauth import'",
			 acct->cfg.name, flow);
		return XO_ERR_UNSUPPORTED_FLOW;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return XO_ERR_NOMEM;
	l->acct = acct;
	uv_timer_init(a->loop, &l->timer);
	l->timer.data = l;
	/* A confidential client's secret may first have to come from its
	   command; the device request follows in on_login_secret(). */
	if ((r = agent_secret_cmd_fetch(acct, on_login_secret)) < 0) {
		snprintf(acct->login_error, sizeof(acct->login_error), "%s",
			 acct->last_error);
		goto fail;
	}
	if (r == 0 && (r = device_begin(l)) != 0)
		goto fail;
	acct->login = l;
	acct->login_err = 0;
	if ((r = agent_waiter_add(acct, c, WAIT_LOGIN_START, NULL, 0)) != 0) {
		agent_login_cancel(acct);
		return r;
	}
	return 0;
fail:
	uv_close((uv_handle_t *)&l->timer, on_login_closed);
	return r;
}

void agent_login_cancel(struct account *acct)
{
	struct login *l = acct->login;

	if (l == NULL)
		return;
	oauth_cancel(acct->oauth);
	if (acct->secret_cb == on_login_secret)
		agent_secret_cmd_cancel(acct);
	acct->login = NULL;
	l->acct = NULL;
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, on_login_closed);
	acct->login_err = XO_ERR_LOGIN_NEEDED;
	snprintf(acct->login_error, sizeof(acct->login_error),
		 "%s: the login was cancelled", acct->cfg.name);
}

int agent_login_reply(struct account *acct, struct conn *c)
{
	struct login *l = acct->login;
	struct proto_login_rep rep;
	struct proto_writer w;

	rep.verification_uri = proto_str_c(l->dev.verification_uri);
	rep.verification_uri_complete =
		proto_str_c(l->dev.verification_uri_complete);
	rep.user_code = proto_str_c(l->dev.user_code);
	rep.expires_in = (uint32_t)((l->expires_boot - agent_now_boot()) /
				    1000);
	rep.interval = (uint32_t)l->interval_s;
	rep.flow = proto_str_c("device");
	if (agent_reply_buf(4096, &w) != 0)
		return XO_ERR_NOMEM;
	if (proto_enc_login_rep(&w, &rep) != 0) {
		free(w.buf);
		return XO_ERR_PROVIDER_REPLY;
	}
	agent_conn_reply(c, w.buf, w.len);
	return 0;
}
