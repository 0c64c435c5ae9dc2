/*
 * refresh.c: proactive refresh (DESIGN.md, "Refresh policy").
 *
 * One scheduler timer serves every account.  Deadlines are kept on
 * CLOCK_BOOTTIME; the timer wakes at the earliest deadline but at least
 * every 30 s, so that after a suspend a due refresh starts within 30 s
 * rather than when the monotonic clock catches up.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "agent.h"
#include "log.h"
#include "policy.h"

#define WAKE_MAX_MS 30000

static double jitter(void)
{
	return (double)randombytes_uniform(1000000) / 1000000.0;
}

static void on_refreshed(void *arg, struct oauth_result *res)
{
	struct account *acct = arg;
	struct agent *a = acct->agent;
	int64_t now = agent_now_boot();
	int r;

	acct->refreshing = 0;
	acct->last_aadsts = res->aadsts;
	snprintf(acct->last_oauth_error, sizeof(acct->last_oauth_error), "%s",
		 res->error);
	switch (res->cls) {
	case OAUTH_OK:
		if ((r = agent_account_store_tokens(acct, res)) != 0) {
			acct->last_err = r;
			snprintf(acct->last_error, sizeof(acct->last_error),
				 "%s: cannot store the new tokens: %s",
				 acct->cfg.name, proto_strerror(r));
			break;
		}
		acct->next_refresh_boot =
			policy_refresh_at(now, acct->lifetime_ms, jitter());
		log_info("%s: token refreshed, valid %ld s, next refresh in "
			 "%lld s",
			 acct->cfg.name, res->expires_in,
			 (long long)((acct->next_refresh_boot - now) / 1000));
		break;
	case OAUTH_REAUTH:
		/* The refresh token is dead; a still-valid access token
		   keeps serving until it expires. */
		agent_secret_free(acct->refresh_token);
		acct->refresh_token = NULL;
		acct->state = PROTO_STATE_REAUTH;
		acct->next_refresh_boot = 0;
		acct->last_err = XO_ERR_LOGIN_NEEDED;
		snprintf(acct->last_error, sizeof(acct->last_error),
			 "%s: login needed: %s", acct->cfg.name, res->message);
		log_error("%s", acct->last_error);
		break;
	case OAUTH_CONFIG:
		acct->state = PROTO_STATE_CONFIG_ERROR;
		acct->next_refresh_boot = 0;
		acct->last_err = XO_ERR_PROVIDER_CONFIG;
		snprintf(acct->last_error, sizeof(acct->last_error), "%s: %s",
			 acct->cfg.name, res->message);
		log_error("%s", acct->last_error);
		break;
	default:
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

int agent_refresh_start(struct account *acct)
{
	struct agent *a = acct->agent;
	struct agent_plain *refresh = NULL, *secret = NULL;
	int r;

	if (acct->refreshing)
		return 0;
	if (acct->login != NULL)
		return XO_ERR_BUSY;
	if (acct->refresh_token == NULL) {
		snprintf(acct->last_error, sizeof(acct->last_error),
			 "%s: login needed: run 'xoauth login %s'",
			 acct->cfg.name, acct->cfg.name);
		return XO_ERR_LOGIN_NEEDED;
	}
	if ((r = agent_secret_open(a->shield, acct->refresh_token,
				   &refresh)) != 0)
		goto out;
	if (acct->client_secret != NULL &&
	    (r = agent_secret_open(a->shield, acct->client_secret,
				   &secret)) != 0)
		goto out;
	if ((r = oauth_refresh(acct->oauth, refresh, secret, on_refreshed,
			       acct)) != 0) {
		snprintf(acct->last_error, sizeof(acct->last_error),
			 "%s: cannot start a refresh: %s", acct->cfg.name,
			 proto_strerror(r));
		goto out;
	}
	acct->refreshing = 1;
	log_debug("%s: refreshing", acct->cfg.name);
	r = 0;
out:
	agent_plain_free(refresh);
	agent_plain_free(secret);
	return r;
}

void agent_scheduler_tick(uv_timer_t *t)
{
	struct agent *a = t->data;
	struct account *acct;
	int64_t now = agent_now_boot();

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
	for (acct = a->accounts; acct != NULL; acct = acct->next)
		if (!acct->refreshing && acct->next_refresh_boot > 0 &&
		    acct->next_refresh_boot < next)
			next = acct->next_refresh_boot;
	uv_timer_start(&a->scheduler, agent_scheduler_tick,
		       next > now ? (uint64_t)(next - now) : 1, 0);
}
