/*
 * device.c: the device flow (RFC 8628), driven by the agent.
 *
 * Polling follows 3.5: every `interval` seconds (5 when the provider gives
 * none, as oidc-provider does), 5 s more after each slow_down, until the
 * code expires.
 */
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "account/notify.h"
#include "core/clock.h"
#include "core/log.h"
#include "login/login_internal.h"
#include "secret/secret.h"

static void poll_later(struct login *l);

/* The account holds the login's tokens (and the vault too). */
static void device_stored(struct account *acct)
{
	struct agent_err ok;

	agent_err_clear(&ok);
	login_finish(account_login(acct), &ok);
}

static void on_poll(void *arg, struct oauth_result *res)
{
	struct login *l = arg;
	struct account *acct = l->acct;
	const char *name = account_name(acct);
	int r;

	switch (res->cls) {
	case OAUTH_OK:
		if ((r = account_take_login_tokens(acct, res, device_stored)) !=
		    0)
			login_fail(l, r, "cannot store the tokens");
		return;
	case OAUTH_PENDING:
		break;
	case OAUTH_SLOW_DOWN:
		l->interval_s += 5;
		break;
	case OAUTH_TRANSIENT:
		/* A network hiccup does not end the user's login. */
		log_info("%s: login poll failed, will retry: %s", name,
			 res->message);
		break;
	default:
		account_note_provider_error(acct, res->aadsts, res->error);
		login_fail(l, res->err != 0 ? res->err : XO_ERR_LOGIN_DENIED,
			   "%s: %s", name, res->message);
		return;
	}
	poll_later(l);
}

static void on_poll_timer(uv_timer_t *t)
{
	struct login *l = t->data;
	struct account *acct = l->acct;
	const char *name = account_name(acct);
	struct agent_plain *secret = NULL;
	int r;

	if (agent_now_boot() >= l->expires_boot) {
		login_fail(l, XO_ERR_LOGIN_EXPIRED,
			   "%s: the login code expired; run 'xoauth login %s' "
			   "again",
			   name, name);
		return;
	}
	if (account_open_client_secret(acct, &secret) != 0) {
		login_fail(l, XO_ERR_INTERNAL, "cannot open the secret");
		return;
	}
	r = oauth_device_poll(account_oauth(acct), l->dev.device_code, secret,
			      on_poll, l);
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
	const char *name = account_name(acct);
	char msg[600];

	if (err != 0) {
		login_fail(l, err, "%s: %s", name,
			   message != NULL ? message : proto_strerror(err));
		return;
	}
	l->dev = *dev;
	memset(dev, 0, sizeof(*dev)); /* transferred */
	l->interval_s = l->dev.interval > 0 ? l->dev.interval : 5;
	l->expires_boot =
	    agent_now_boot() +
	    (l->dev.expires_in > 0 ? l->dev.expires_in : 900) * 1000;
	l->ready = true;
	snprintf(msg, sizeof(msg),
		 "%s: login pending: open %s and enter the code %s", name,
		 l->dev.verification_uri, l->dev.user_code);
	log_info("%s", msg);
	agent_notify(acct, NOTIFY_LOGIN_PENDING, msg, l->dev.verification_uri,
		     l->dev.user_code);
	poll_later(l);
	account_wake(acct, ACCOUNT_CHANGED);
}

int login_device_start(struct login *l, struct agent_err *err)
{
	struct account *acct = l->acct;
	struct agent_plain *secret = NULL;
	int r;

	if ((r = account_open_client_secret(acct, &secret)) != 0)
		return agent_err_code(err, r);
	r = oauth_device_start(account_oauth(acct), secret, on_device, l);
	agent_plain_free(secret);
	if (r != 0)
		agent_err_set(err, r, "%s: cannot start the login: %s",
			      account_name(acct), proto_strerror(r));
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
