/*
 * login_device.c: the device flow (RFC 8628), driven by the agent.
 *
 * Polling follows 3.5: every `interval` seconds (5 when the provider gives
 * none, as oidc-provider does), 5 s more after each slow_down, until the
 * code expires.
 */
#include <stdio.h>
#include <string.h>

#include "core/agent.h"
#include "core/log.h"
#include "login/login_internal.h"
#include "account/notify.h"

static void poll_later(struct login *l);

/* The vault holds the login's tokens. */
static void device_stored(struct account *acct)
{
	login_finish(acct, 0, NULL);
}

static void on_poll(void *arg, struct oauth_result *res)
{
	struct login *l = arg;
	struct account *acct = l->acct;
	char msg[600];
	int r;

	switch (res->cls) {
	case OAUTH_OK:
		if ((r = login_store_tokens(acct, res, device_stored)) < 0) {
			login_finish(acct, r, "cannot store the tokens");
			return;
		}
		if (r == 0)
			device_stored(acct);
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
		login_finish(
		    acct, res->err != 0 ? res->err : XO_ERR_LOGIN_DENIED, msg);
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
	r = oauth_device_poll(acct->oauth, l->dev.device_code, secret, on_poll,
			      l);
	agent_plain_free(secret);
	if (r != 0)
		poll_later(l);
}

static void poll_later(struct login *l)
{
	uv_timer_start(&l->timer, on_poll_timer, (uint64_t)l->interval_s * 1000,
		       0);
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
	l->expires_boot =
	    agent_now_boot() +
	    (l->dev.expires_in > 0 ? l->dev.expires_in : 900) * 1000;
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

int login_device_start(struct account *acct, struct login *l)
{
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

void login_device_reply(const struct login *l, struct proto_login_rep *rep)
{
	rep->verification_uri = proto_str_c(l->dev.verification_uri);
	rep->verification_uri_complete =
	    proto_str_c(l->dev.verification_uri_complete);
	rep->user_code = proto_str_c(l->dev.user_code);
	rep->interval = (uint32_t)l->interval_s;
}
