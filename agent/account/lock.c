/*
 * lock.c: what LOCK and UNLOCK (vault/unlock.c) do to the accounts.
 *
 * LOCK takes every secret out of memory: refresh and access tokens,
 * client secrets, and the settings of runtime accounts (which may hold
 * one: those accounts go until the vault brings them back).  Refreshes and
 * logins in flight are cancelled and whoever waits is told the agent is
 * locked.  After UNLOCK the client secrets written in the config file come
 * back from it (the file holds them anyway), and app accounts fetch a
 * token.
 */
#include <string.h>

#include "account/account_internal.h"
#include "account/secret_cmd.h"
#include "core/clock.h"
#include "core/log.h"
#include "oauth/oauth.h"
#include "secret/secret.h"

void account_store_wipe(struct account_store *s, const char *why)
{
	struct account *acct, *next;

	for (acct = s->accounts; acct != NULL; acct = next) {
		next = acct->next;
		account_login_cancel(acct);
		account_refresh_cancel(acct);
		account_set_op(acct, ACCOUNT_OP_NONE);
		agent_waiters_fail(&acct->waiters, XO_ERR_LOCKED, why);
		account_forget(acct);
		agent_secret_free(acct->client_secret);
		acct->client_secret = NULL;
		acct->state = PROTO_STATE_NEED_LOGIN;
		account_login_outcome_clear(acct);
		if (acct->runtime) {
			account_unlink(s, acct);
			account_free(acct, why);
		}
	}
}

/*
 * The client secrets written in the config file, for accounts whose other
 * settings are still those of the file: the config in memory keeps none
 * (daemon/run.c), so the file is read again.  A file changed since the
 * last reload gives nothing for the accounts it changed: they get their
 * secrets at the next reload.
 */
static void secrets_from_file(struct account_store *s)
{
	const struct agent_account_cfg *c, *now;
	struct agent_config *cfg = NULL;
	struct agent_account_cfg shallow;
	struct account *acct;
	char err[512];

	if (s->agent->config->path == NULL)
		return;
	if (agent_config_load(s->agent->config->path, 1, &cfg, err,
			      sizeof(err)) != 0) {
		log_error("unlock: cannot read the client secrets again: %s",
			  err);
		return;
	}
	for (acct = s->accounts; acct != NULL; acct = acct->next) {
		if (acct->runtime || acct->client_secret != NULL ||
		    (c = agent_config_find(cfg, acct->cfg.name)) == NULL ||
		    c->client_secret == NULL ||
		    (now = agent_config_find(s->agent->config,
					     acct->cfg.name)) == NULL)
			continue;
		shallow = *c;
		shallow.client_secret = NULL;
		if (!agent_account_cfg_equal(now, &shallow))
			continue;
		if (agent_secret_seal(s->agent->shield, c->client_secret,
				      strlen(c->client_secret),
				      &acct->client_secret) != 0)
			log_error("%s: cannot keep the client secret",
				  acct->cfg.name);
	}
	agent_config_free(cfg); /* wipes the secrets it read */
}

void account_store_unlocked(struct account_store *s)
{
	struct account *acct;

	secrets_from_file(s);
	for (acct = s->accounts; acct != NULL; acct = acct->next) {
		if (account_is_app(acct)) {
			acct->state = PROTO_STATE_IDLE;
			acct->next_refresh_boot = agent_now_boot();
		}
	}
	account_store_schedule(s);
}
