/*
 * refresh.c: proactive refresh (DESIGN.md, "Refresh policy").
 *
 * One scheduler timer serves every account.  Deadlines are kept on
 * CLOCK_BOOTTIME; the timer wakes at the earliest deadline but at least
 * every 30 s, so that after a suspend a due refresh starts within 30 s
 * rather than when the monotonic clock catches up.
 *
 * A refresh is a refresh_token grant, or for an app account
 * (client_credentials) a client_credentials grant; both follow the same
 * policy.  When the secret comes from client_secret_cmd and is not held,
 * the command runs first (secret_cmd.h) while the account already counts
 * as refreshing, so requests wait on it as on any refresh.  If the
 * provider then refuses the client, a secret the command gave earlier may
 * simply be stale: it runs once more and the grant is retried before the
 * account is put in config-error.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/agent.h"
#include "core/log.h"
#include "account/notify.h"
#include "account/pure/policy.h"
#include "account/secret_cmd.h"
#include "core/test_hooks.h"
#include "vault/vault.h"

#define WAKE_MAX_MS 30000

static double jitter(void)
{
	return (double)randombytes_uniform(1000000) / 1000000.0;
}

static int start_grant(struct account *acct);
static void on_secret(struct account *acct, int err);
static void refresh_aborted(struct account *acct, int err);

/* Ends a refresh that never reached the provider (its secret command
   failed, or the grant could not start); the reason is in last_error. */
static void refresh_aborted(struct account *acct, int err)
{
	int64_t now = agent_now_boot();

	acct->refreshing = 0;
	acct->secret_fresh = 0;
	if (err == XO_ERR_CONFIG) {
		agent_account_config_error(acct, err, acct->last_error);
	} else if (err == XO_ERR_LOGIN_NEEDED) {
		acct->last_err = err;
		acct->next_refresh_boot = 0;
	} else {
		/* Out of memory or too many commands at once: back off as
		   after a network failure rather than retry at once. */
		acct->failures++;
		acct->state = PROTO_STATE_RETRYING;
		acct->last_err = XO_ERR_REFRESH_FAILED;
		acct->next_refresh_boot =
			now + policy_backoff(acct->failures, -1, jitter());
		log_error("%s", acct->last_error);
	}
	agent_waiters_wake(acct, 1);
	agent_schedule(acct->agent);
}

/* The new tokens are staged (and, if the refresh token changed, in the
   vault): they are the account's now. */
static void refreshed(struct account *acct)
{
	int64_t now = agent_now_boot();

	acct->refreshing = 0;
	agent_account_commit_tokens(acct);
	acct->next_refresh_boot =
	    policy_refresh_at(now, acct->lifetime_ms, jitter());
	log_info("%s: token refreshed, valid %lld s, next refresh in %lld s",
		 acct->cfg.name, (long long)(acct->lifetime_ms / 1000),
		 (long long)((acct->next_refresh_boot - now) / 1000));
	agent_waiters_wake(acct, 1);
	agent_schedule(acct->agent);
}

static void on_refreshed(void *arg, struct oauth_result *res)
{
	struct account *acct = arg;
	struct agent *a = acct->agent;
	int64_t now = agent_now_boot();
	char msg[sizeof(acct->last_error)];
	int r, fresh = acct->secret_fresh, was_presented;
	uint64_t seq;

	acct->secret_fresh = 0;
	if (res->cls == OAUTH_CONFIG && res->client_rejected && !fresh &&
	    agent_secret_cmd_used(acct)) {
		log_info("%s: the provider refused the client; running "
			 "client_secret_cmd again",
			 acct->cfg.name);
		agent_secret_cmd_forget(acct);
		if ((r = agent_secret_cmd_fetch(acct, on_secret)) == 1)
			return; /* still refreshing */
		if (r == 0)
			r = start_grant(acct);
		if (r == 0)
			return;
		refresh_aborted(acct, r);
		return;
	}
	/* An app has no user who could log in again: a refused grant is the
	   configuration's fault. */
	if (res->cls == OAUTH_REAUTH && agent_account_is_app(acct))
		res->cls = OAUTH_CONFIG;
	acct->refreshing = 0;
	acct->last_aadsts = res->aadsts;
	snprintf(acct->last_oauth_error, sizeof(acct->last_oauth_error), "%s",
		 res->error);
	was_presented = acct->presented;
	if (res->cls == OAUTH_OK || res->cls == OAUTH_REAUTH ||
	    res->cls == OAUTH_CONFIG)
		acct->presented = 0;
	switch (res->cls) {
	case OAUTH_OK:
		agent_test_crash("after_reply");
		if ((r = agent_account_stage_tokens(acct, res)) < 0) {
			acct->last_err = r;
			snprintf(acct->last_error, sizeof(acct->last_error),
				 "%s: cannot store the new tokens: %s",
				 acct->cfg.name, proto_strerror(r));
			break;
		}
		/* A new refresh token reaches the vault before anything
		   else happens: requests keep waiting (or get the old,
		   still valid access token). */
		if (r == 1 && (seq = agent_vault_persist(a)) != 0) {
			acct->refreshing = 1;
			agent_vault_wait(acct, seq, refreshed);
			return;
		}
		if (r == 0 && was_presented)
			agent_vault_persist(a); /* the mark goes */
		refreshed(acct);
		return;
	case OAUTH_REAUTH:
		/* The refresh token is dead; a still-valid access token
		   keeps serving until it expires. */
		agent_secret_free(acct->refresh_token);
		acct->refresh_token = NULL;
		agent_vault_persist(a);
		acct->state = PROTO_STATE_REAUTH;
		acct->next_refresh_boot = 0;
		acct->last_err = XO_ERR_LOGIN_NEEDED;
		snprintf(acct->last_error, sizeof(acct->last_error),
			 "%s: login needed: %s", acct->cfg.name, res->message);
		log_error("%s", acct->last_error);
		/* The refresh token is gone, so this runs once per grant
		   lost, not once per request. */
		snprintf(msg, sizeof(msg), "%s; run 'xoauth login %s'",
			 acct->last_error, acct->cfg.name);
		agent_notify(acct, NOTIFY_REAUTH, msg, NULL, NULL);
		break;
	case OAUTH_CONFIG:
		snprintf(msg, sizeof(msg), "%s: %s%s", acct->cfg.name,
			 res->message,
			 res->client_rejected && agent_secret_cmd_used(acct)
				 ? " (the secret came from client_secret_cmd)"
				 : "");
		/* The next attempt asks the command again. */
		if (res->client_rejected)
			agent_secret_cmd_forget(acct);
		agent_account_config_error(acct, XO_ERR_PROVIDER_CONFIG, msg);
		break;
	default:
		(void)was_presented;
		/* Transient (or a reply we could not use): back off and
		   keep serving the token we have. */
		acct->failures++;
		acct->state = PROTO_STATE_RETRYING;
		acct->next_refresh_boot =
			now + policy_backoff(acct->failures,
					     res->retry_after >= 0
						     ? res->retry_after * 1000
						     : -1,
					     jitter());
		acct->last_err = res->err != 0 ? res->err
					       : XO_ERR_REFRESH_FAILED;
		snprintf(acct->last_error, sizeof(acct->last_error),
			 "%s: refresh failed (%s), retry %u in %lld s",
			 acct->cfg.name, res->message, acct->failures,
			 (long long)((acct->next_refresh_boot - now) / 1000));
		log_error("%s", acct->last_error);
		/* The client sees the refresh failure, not the detail. */
		if (acct->last_err != XO_ERR_TIMEOUT)
			acct->last_err = XO_ERR_REFRESH_FAILED;
		break;
	}
	agent_waiters_wake(acct, 1);
	agent_schedule(a);
}

/* Sends the grant, the secret being at hand; 0 or XO_ERR_*. */
static int send_grant(struct account *acct)
{
	struct agent *a = acct->agent;
	struct agent_plain *refresh = NULL, *secret = NULL;
	int r;

	if (acct->client_secret != NULL &&
	    (r = agent_secret_open(a->shield, acct->client_secret,
				   &secret)) != 0)
		goto out;
	if (agent_account_is_app(acct)) {
		if (secret == NULL) { /* config.c requires a source */
			r = XO_ERR_INTERNAL;
			goto out;
		}
		r = oauth_client_credentials(acct->oauth, secret, on_refreshed,
					     acct);
	} else {
		if (acct->refresh_token == NULL) {
			/* Dropped while the secret command ran. */
			r = XO_ERR_LOGIN_NEEDED;
			snprintf(acct->last_error, sizeof(acct->last_error),
				 "%s: login needed: run 'xoauth login %s'",
				 acct->cfg.name, acct->cfg.name);
			goto out;
		}
		if ((r = agent_secret_open(a->shield, acct->refresh_token,
					   &refresh)) != 0)
			goto out;
		agent_test_crash("before_send");
		r = oauth_refresh(acct->oauth, refresh, secret, on_refreshed,
				  acct);
	}
	if (r != 0) {
		snprintf(acct->last_error, sizeof(acct->last_error),
			 "%s: cannot start a refresh: %s", acct->cfg.name,
			 proto_strerror(r));
		goto out;
	}
	log_debug("%s: %s", acct->cfg.name,
		  agent_account_is_app(acct) ? "asking for an app token"
					     : "refreshing");
out:
	agent_plain_free(refresh);
	agent_plain_free(secret);
	return r;
}

/* The vault holds the "sent" mark: the token may go. */
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
	uint64_t seq;

	if (!agent_account_is_app(acct) && acct->refresh_token != NULL &&
	    !acct->presented) {
		acct->presented = 1;
		if ((seq = agent_vault_persist(acct->agent)) != 0) {
			agent_vault_wait(acct, seq, on_marked);
			return 0;
		}
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

int agent_refresh_start(struct account *acct)
{
	int r;

	if (acct->refreshing)
		return 0;
	if (agent_vault_locked(acct->agent)) {
		snprintf(acct->last_error, sizeof(acct->last_error),
			 "the agent is locked: run 'xoauth unlock'");
		return XO_ERR_LOCKED;
	}
	if (acct->login != NULL)
		return XO_ERR_BUSY;
	if (acct->interrupted)
		/* last_error says why (vault_store.c). */
		return XO_ERR_LOGIN_NEEDED;
	if (!agent_account_can_refresh(acct)) {
		snprintf(acct->last_error, sizeof(acct->last_error),
			 "%s: login needed: run 'xoauth login %s'",
			 acct->cfg.name, acct->cfg.name);
		return XO_ERR_LOGIN_NEEDED;
	}
	if ((r = agent_secret_cmd_fetch(acct, on_secret)) < 0) {
		if (r == XO_ERR_CONFIG)
			agent_account_config_error(acct, r, acct->last_error);
		return r;
	}
	if (r == 0 && (r = start_grant(acct)) != 0)
		return r;
	acct->refreshing = 1;
	return 0;
}

/* xoauth-agent -t, `lifetime`: the account's tokens are forgotten, in
   memory and in the vault, as `xoauth remove` would. */
static void lifetime_over(struct account *acct)
{
	log_info("%s: lifetime over: tokens forgotten", acct->cfg.name);
	agent_account_forget(acct);
	/* "log in again", as after a refused refresh token */
	acct->state = PROTO_STATE_REAUTH;
	snprintf(acct->last_error, sizeof(acct->last_error),
		 "%s: the tokens' lifetime is over", acct->cfg.name);
	acct->last_err = XO_ERR_LOGIN_NEEDED;
	agent_waiters_fail(acct, XO_ERR_LOGIN_NEEDED, acct->last_error);
	agent_vault_persist(acct->agent);
}

void agent_scheduler_tick(uv_timer_t *t)
{
	struct agent *a = t->data;
	struct account *acct;
	int64_t now = agent_now_boot();

	for (acct = a->accounts; acct != NULL; acct = acct->next)
		if (acct->drop_boot != 0 && acct->drop_boot <= now &&
		    !acct->refreshing && acct->login == NULL)
			lifetime_over(acct);
	if (agent_vault_locked(a)) {
		agent_schedule(a);
		return;
	}
	for (acct = a->accounts; acct != NULL; acct = acct->next) {
		if (acct->refreshing || acct->login != NULL ||
		    acct->next_refresh_boot == 0 ||
		    acct->next_refresh_boot > now)
			continue;
		if (agent_refresh_start(acct) != 0)
			acct->next_refresh_boot = 0;
	}
	agent_schedule(a);
}

void agent_schedule(struct agent *a)
{
	struct account *acct;
	int64_t now = agent_now_boot(), next = now + WAKE_MAX_MS;

	if (a->stopping)
		return;
	for (acct = a->accounts; acct != NULL; acct = acct->next) {
		if (!acct->refreshing && acct->next_refresh_boot > 0 &&
		    acct->next_refresh_boot < next)
			next = acct->next_refresh_boot;
		if (acct->drop_boot > 0 && acct->drop_boot < next)
			next = acct->drop_boot;
	}
	uv_timer_start(&a->scheduler, agent_scheduler_tick,
		       next > now ? (uint64_t)(next - now) : 1, 0);
}
