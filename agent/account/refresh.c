/*
 * refresh.c: one refresh from start to end (DESIGN.md, "Refresh policy");
 * when each starts is schedule.c's business.
 *
 * A refresh is a refresh_token grant, or for an app account
 * (client_credentials) a client_credentials grant; both follow the same
 * policy.  Its steps, each of which may wait:
 *
 *   1. the client secret, when it comes from client_secret_cmd and is not
 *      held (secret_cmd.h);
 *   2. with a vault, the mark that the refresh token is being presented
 *      (so that an agent killed now never sends it again by itself);
 *   3. the grant at the provider;
 *   4. with a vault and a rotated refresh token, the write of the new one,
 *      before the new access token is served.
 *
 * The account counts as refreshing (ACCOUNT_OP_REFRESH) from step 1 to
 * the end, so requests wait on it as on one refresh.  If the provider
 * refuses the client, a secret the command gave earlier may simply be
 * stale: it runs once more and the grant is retried before the account is
 * put in config-error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "account/account_internal.h"
#include "account/notify.h"
#include "account/pure/policy.h"
#include "account/secret_cmd.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/test_hooks.h"
#include "oauth/oauth.h"
#include "secret/secret.h"

static double jitter(void)
{
	return (double)randombytes_uniform(1000000) / 1000000.0;
}

static int start_grant(struct account *acct);
static void on_secret(struct account *acct, int err);

static bool locked(const struct account_store *s)
{
	return s->hooks.locked != NULL && s->hooks.locked(s->hooks.arg);
}

/* The refresh is over, whatever its outcome (in acct->last): the next
   may start, and whoever waits looks again. */
static void refresh_ended(struct account *acct)
{
	account_set_op(acct, ACCOUNT_OP_NONE);
	acct->ended = acct->cur;
	acct->cur = NULL;
	account_wake(acct, ACCOUNT_REFRESHED);
	acct->ended = NULL;
	account_schedule(acct);
}

/* Ends a refresh that never reached the provider (its secret command
   failed, or the grant could not start); the reason is in acct->last,
   err is its code. */
static void refresh_aborted(struct account *acct, int err)
{
	int64_t now = agent_now_boot();

	acct->secret_fresh = false;
	if (acct->cur != NULL && err != XO_ERR_CONFIG) {
		account_scope_aborted(acct, err, acct->last.msg);
		refresh_ended(acct);
		return;
	}
	acct->last.code = err;
	if (err == XO_ERR_CONFIG) {
		account_config_error(acct, &acct->last);
	} else if (err == XO_ERR_LOGIN_NEEDED) {
		acct->next_refresh_boot = 0;
	} else {
		/* Out of memory or too many commands at once: back off as
		   after a network failure rather than retry at once. */
		acct->failures++;
		acct->state = PROTO_STATE_RETRYING;
		acct->last.code = XO_ERR_REFRESH_FAILED;
		acct->next_refresh_boot =
		    now + policy_backoff(acct->failures, -1, jitter());
		log_error("%s", acct->last.msg);
	}
	refresh_ended(acct);
}

/* The new tokens are staged (and, if the refresh token changed, in the
   vault): they are the account's now. */
static void refreshed(struct account *acct)
{
	int64_t now = agent_now_boot();
	bool rotated;

	if (acct->cur != NULL) {
		account_commit_tokens(acct); /* the scope's; it plans its own */
		refresh_ended(acct);
		return;
	}
	rotated = account_commit_tokens(acct);
	acct->next_refresh_boot =
	    policy_refresh_at(now, acct->lifetime_ms, jitter());
	account_log_refreshed(acct, NULL, acct->lifetime_ms,
			      acct->next_refresh_boot - now, rotated);
	refresh_ended(acct);
}

/* OAUTH_OK: a rotated refresh token reaches the vault before anything
   else happens; requests keep waiting (or get the old, still valid,
   access token). */
static void take_refreshed(struct account *acct, struct oauth_result *res,
			   bool was_presented)
{
	bool rotated;
	int r;

	agent_test_crash("after_reply");
	if ((r = account_stage_tokens(acct, res, &rotated)) != 0) {
		agent_err_set(acct->cur != NULL ? &acct->cur->last
						: &acct->last,
			      r, "%s: cannot store the new tokens: %s",
			      acct->cfg.name, proto_strerror(r));
		refresh_ended(acct);
		return;
	}
	if (rotated && account_persist_then(acct, refreshed))
		return;
	if (!rotated && was_presented)
		account_store_persist(acct->store,
				      acct->cfg.name); /* the mark goes */
	refreshed(acct);
}

/* OAUTH_REAUTH: the provider says the grant is gone. */
static void grant_lost(struct account *acct, const struct oauth_result *res)
{
	const char *name = acct->cfg.name;
	char msg[AGENT_ERR_MSG_MAX];

	/* The refresh token is dead, and so is the access token: a provider
	   that revokes a grant revokes the tokens it issued with it (Google
	   does, and Exchange Online's continuous access evaluation refuses
	   them), so serving it would only end in "535 5.7.3" at the mail
	   server.  Requests get "login needed" from now on. */
	account_drop_tokens(acct);
	account_store_persist(acct->store, acct->cfg.name);
	acct->state = PROTO_STATE_REAUTH;
	agent_err_set(&acct->last, XO_ERR_LOGIN_NEEDED,
		      "%s: login needed: the provider revoked the grant (%s)",
		      name, res->message);
	log_error("%s; its access token is no longer served", acct->last.msg);
	/* The refresh token is gone, so this runs once per grant lost, not
	   once per request. */
	snprintf(msg, sizeof(msg), "%s; run 'xoauth login %s'", acct->last.msg,
		 name);
	agent_notify(acct, NOTIFY_REAUTH, msg, NULL, NULL);
}

/* OAUTH_CONFIG: the provider refuses the client or its request. */
static void client_refused(struct account *acct, const struct oauth_result *res)
{
	struct agent_err e;

	agent_err_set(&e, XO_ERR_PROVIDER_CONFIG, "%s: %s%s", acct->cfg.name,
		      res->message,
		      res->client_rejected && agent_secret_cmd_used(acct)
			  ? " (the secret came from client_secret_cmd)"
			  : "");
	acct->last_fault = res->fault;
	/* The next attempt asks the command again. */
	if (res->client_rejected)
		agent_secret_cmd_forget(acct);
	account_config_error(acct, &e);
}

/* Transient (or a reply we could not use): back off and keep serving the
   token we have. */
static void back_off(struct account *acct, const struct oauth_result *res)
{
	int64_t now = agent_now_boot();

	acct->failures++;
	acct->state = PROTO_STATE_RETRYING;
	acct->next_refresh_boot =
	    now +
	    policy_backoff(acct->failures,
			   res->retry_after >= 0 ? res->retry_after * 1000 : -1,
			   jitter());
	agent_err_set(&acct->last,
		      res->err != 0 ? res->err : XO_ERR_REFRESH_FAILED,
		      "%s: refresh failed (%s), retry %u in %lld s",
		      acct->cfg.name, res->message, acct->failures,
		      (long long)((acct->next_refresh_boot - now) / 1000));
	acct->last_fault = res->fault;
	log_error("%s", acct->last.msg);
	/* The client sees the refresh failure, not the detail. */
	if (acct->last.code != XO_ERR_TIMEOUT)
		acct->last.code = XO_ERR_REFRESH_FAILED;
}

/* The provider refused the client, whose secret came from the command a
   while ago: it may have been rotated, so ask the command again and retry
   the grant once before calling the config wrong. */
static void retry_with_new_secret(struct account *acct)
{
	bool running;
	int r;

	log_info("%s: the provider refused the client; running "
		 "client_secret_cmd again",
		 acct->cfg.name);
	agent_secret_cmd_forget(acct);
	if ((r = agent_secret_cmd_fetch(acct, on_secret, &running)) == 0 &&
	    running)
		return;
	if (r == 0 && (r = start_grant(acct)) == 0)
		return;
	refresh_aborted(acct, r);
}

static void on_refreshed(void *arg, struct oauth_result *res)
{
	struct account *acct = arg;
	bool fresh = acct->secret_fresh;
	bool was_presented = acct->mark == MARK_PRESENTED;

	acct->secret_fresh = false;
	if (res->cls == OAUTH_CONFIG && res->client_rejected && !fresh &&
	    agent_secret_cmd_used(acct)) {
		retry_with_new_secret(acct);
		return;
	}
	/* An app has no user who could log in again: a refused grant is the
	   configuration's fault. */
	if (res->cls == OAUTH_REAUTH && account_is_app(acct))
		res->cls = OAUTH_CONFIG;
	account_note_provider_error(acct, res->aadsts, res->error);
	/* An answer about the token itself: it is no longer in flight. */
	if (res->cls == OAUTH_OK || res->cls == OAUTH_REAUTH ||
	    res->cls == OAUTH_CONFIG)
		acct->mark = MARK_NONE;
	/* A refresh for another scope: what concerns only that scope is
	   its own business; the grant and the client are the account's. */
	if (res->cls != OAUTH_OK && acct->cur != NULL &&
	    account_scope_outcome(acct, res)) {
		if (was_presented)
			account_store_persist(
			    acct->store, acct->cfg.name); /* the mark goes */
		refresh_ended(acct);
		return;
	}
	switch (res->cls) {
	case OAUTH_OK:
		take_refreshed(acct, res, was_presented);
		return;
	case OAUTH_REAUTH:
		grant_lost(acct, res);
		break;
	case OAUTH_CONFIG:
		client_refused(acct, res);
		break;
	default:
		back_off(acct, res);
		break;
	}
	refresh_ended(acct);
}

/* Sends the grant, the secret being at hand; 0, or the reason in
   acct->last. */
static int send_grant(struct account *acct)
{
	const char *name = acct->cfg.name;
	struct agent_plain *refresh = NULL, *secret = NULL;
	int r;

	if ((r = account_open_client_secret(acct, &secret)) != 0)
		goto out;
	if (account_is_app(acct)) {
		if (secret == NULL) { /* config/ requires a source */
			r = XO_ERR_INTERNAL;
			goto out;
		}
		r = oauth_client_credentials(
		    acct->oauth, secret,
		    acct->cur != NULL ? acct->cur->scope : NULL, on_refreshed,
		    acct);
	} else {
		if (acct->refresh_token == NULL) {
			/* Dropped while the secret command ran. */
			r = agent_err_set(&acct->last, XO_ERR_LOGIN_NEEDED,
					  "%s: login needed: run 'xoauth "
					  "login %s'",
					  name, name);
			goto done;
		}
		if ((r = agent_secret_open(acct->agent->shield,
					   acct->refresh_token, &refresh)) != 0)
			goto out;
		agent_test_crash("before_send");
		r = oauth_refresh(acct->oauth, refresh, secret,
				  acct->cur != NULL ? acct->cur->scope : NULL,
				  on_refreshed, acct);
	}
out:
	if (r != 0)
		agent_err_set(&acct->last, r, "%s: cannot start a refresh: %s",
			      name, proto_strerror(r));
	else
		log_debug("%s: %s", name,
			  account_is_app(acct) ? "asking for an app token"
					       : "refreshing");
done:
	agent_plain_free(refresh);
	agent_plain_free(secret);
	return r;
}

/* The vault holds the "presented" mark: the token may go. */
static void on_marked(struct account *acct)
{
	int r;

	if ((r = send_grant(acct)) != 0)
		refresh_aborted(acct, r);
}

/* Starts the grant; with a vault, a refresh token goes only once the
   vault says it was sent (see the top). */
static int start_grant(struct account *acct)
{
	if (!account_is_app(acct) && acct->refresh_token != NULL &&
	    acct->mark == MARK_NONE) {
		acct->mark = MARK_PRESENTED;
		if (account_mark_then(acct, on_marked))
			return 0;
	}
	return send_grant(acct);
}

/* client_secret_cmd has run for a refresh. */
static void on_secret(struct account *acct, int err)
{
	if (err == 0 && (err = start_grant(acct)) == 0)
		return;
	refresh_aborted(acct, err);
}

/* A refresh cannot start: the reason becomes the account's last error
   (LIST shows it) and the caller's. */
static int refuse(struct account *acct, struct agent_err *err, int code,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(struct account *acct, struct agent_err *err, int code,
		  const char *fmt, ...)
{
	va_list ap;

	acct->last.code = code;
	va_start(ap, fmt);
	vsnprintf(acct->last.msg, sizeof(acct->last.msg), fmt, ap);
	va_end(ap);
	if (err != NULL)
		*err = acct->last;
	return code;
}

void account_refresh_cancel(struct account *acct)
{
	if (acct->op == ACCOUNT_OP_REFRESH) {
		oauth_cancel(acct->oauth);
		account_set_op(acct, ACCOUNT_OP_NONE);
	}
	agent_secret_cmd_cancel(acct);
	acct->cur = NULL;
	acct->secret_fresh = false;
}

int account_refresh_start(struct account *acct, struct agent_err *err)
{
	return account_refresh_scope(acct, NULL, err);
}

int account_refresh_scope(struct account *acct, struct account_scope *sc,
			  struct agent_err *err)
{
	const char *name = acct->cfg.name;
	bool running;
	int r;

	if (acct->op == ACCOUNT_OP_REFRESH)
		return 0;
	if (locked(acct->store))
		return refuse(acct, err, XO_ERR_LOCKED,
			      "the agent is locked: run 'xoauth unlock'");
	if (acct->op == ACCOUNT_OP_LOGIN)
		return agent_err_set(err, XO_ERR_BUSY,
				     "%s: a login is in progress; finish it "
				     "or run 'xoauth login %s' again",
				     name, name);
	if (acct->mark == MARK_INTERRUPTED) {
		/* acct->last says why (account_import()). */
		if (err != NULL)
			*err = acct->last;
		return XO_ERR_LOGIN_NEEDED;
	}
	if (!account_can_refresh(acct))
		return refuse(acct, err, XO_ERR_LOGIN_NEEDED,
			      "%s: login needed: run 'xoauth login %s'", name,
			      name);
	/* From here on the refresh is for sc: the grant and whatever ends
	   it read acct->cur. */
	acct->cur = sc;
	if ((r = agent_secret_cmd_fetch(acct, on_secret, &running)) != 0) {
		acct->cur = NULL;
		if (r == XO_ERR_CONFIG) {
			acct->last.code = r;
			account_config_error(acct, &acct->last);
		}
		if (err != NULL)
			*err = acct->last;
		return r;
	}
	if (!running && (r = start_grant(acct)) != 0) {
		acct->cur = NULL;
		if (err != NULL)
			*err = acct->last;
		return r;
	}
	account_set_op(acct, ACCOUNT_OP_REFRESH);
	return 0;
}
