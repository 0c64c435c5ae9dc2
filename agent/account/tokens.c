/*
 * tokens.c: an account's tokens: a grant's staged and committed (DESIGN.md,
 * "Rotation"), a refresh token imported from the user or the vault, the
 * lifetime that forgets them, and the errors that say why there are none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "account/account_internal.h"
#include "account/notify.h"
#include "account/pure/policy.h"
#include "core/clock.h"
#include "core/log.h"
#include "oauth/oauth.h"
#include "secret/secret.h"

void account_unstage(struct account *acct)
{
	agent_secret_free(acct->prev_refresh);
	agent_secret_free(acct->staged_access);
	acct->prev_refresh = acct->staged_access = NULL;
	account_scopes_drop(acct, true);
	/* A refresh that waited for the vault has nothing left to finish. */
	if (acct->on_durable != NULL) {
		account_durable_cancel(acct);
		if (acct->op == ACCOUNT_OP_REFRESH) {
			account_set_op(acct, ACCOUNT_OP_NONE);
			acct->cur = NULL;
		}
	}
}

void account_drop_tokens(struct account *acct)
{
	account_unstage(acct);
	agent_secret_free(acct->refresh_token);
	agent_secret_free(acct->access_token);
	acct->refresh_token = acct->access_token = NULL;
	/* Every scope's token came from this grant. */
	account_scopes_drop(acct, false);
	acct->mark = MARK_NONE;
	acct->obtained_wall = 0;
	acct->drop_boot = 0;
	acct->expires_boot = acct->expires_wall = 0;
	acct->next_refresh_boot = 0;
}

void account_forget(struct account *acct)
{
	account_drop_tokens(acct);
	acct->failures = 0;
	agent_err_clear(&acct->last);
	acct->last_fault = OAUTH_FAULT_NONE;
	acct->lifetime_note[0] = '\0';
	acct->last_aadsts = 0;
	acct->last_oauth_error[0] = '\0';
}

void account_config_error(struct account *acct, const struct agent_err *e)
{
	int was = acct->state == PROTO_STATE_CONFIG_ERROR;

	acct->state = PROTO_STATE_CONFIG_ERROR;
	acct->next_refresh_boot = 0;
	if (e != &acct->last)
		acct->last = *e;
	log_error("%s", agent_err_text(&acct->last));
	/* One notification per event: a request that finds the account
	   still broken is not a new one. */
	if (!was)
		agent_notify(acct, NOTIFY_CONFIG_ERROR,
			     agent_err_text(&acct->last), NULL, NULL);
}

void account_set_obtained(struct account *acct, time_t obtained)
{
	unsigned long life = acct->cfg.lifetime_s != 0
				 ? acct->cfg.lifetime_s
				 : acct->agent->opts.lifetime_s;
	time_t now = time(NULL);
	int64_t age;

	acct->obtained_wall = obtained;
	acct->drop_boot = 0;
	if (life == 0)
		return;
	/* The deadline runs on CLOCK_BOOTTIME like every other; the wall
	   clock only says how much of the lifetime a token from the vault
	   has used.  A clock set back cannot lengthen it (age counts as 0),
	   one set forward only shortens it. */
	age = obtained > 0 && now > obtained ? (int64_t)(now - obtained) : 0;
	if (age > (int64_t)life)
		age = (int64_t)life;
	acct->drop_boot = agent_now_boot() + ((int64_t)life - age) * 1000;
	if (acct->drop_boot == 0)
		acct->drop_boot = 1;
}

/* 1 when p holds the same bytes as the sealed s. */
static int same_secret(struct agent *a, const struct agent_secret *s,
		       const struct agent_plain *p)
{
	struct agent_plain *old = NULL;
	int same;

	if (s == NULL || agent_secret_open(a->shield, s, &old) != 0)
		return 0;
	same = old->len == p->len &&
	       sodium_memcmp(old->data, p->data, p->len) == 0;
	agent_plain_free(old);
	return same;
}

int account_stage_tokens(struct account *acct, struct oauth_result *res,
			 bool *rotated)
{
	struct agent *a = acct->agent;
	struct agent_secret *access = NULL, *refresh = NULL;
	/* A refresh for another scope stages that scope's token. */
	struct agent_secret **staged = acct->cur != NULL
					   ? &acct->cur->staged_access
					   : &acct->staged_access;
	long *staged_expires_in = acct->cur != NULL
				      ? &acct->cur->staged_expires_in
				      : &acct->staged_expires_in;
	char fp[9];
	int r;

	*rotated = false;
	account_unstage(acct);
	if ((r = agent_secret_seal(a->shield, res->access_token->data,
				   res->access_token->len, &access)) != 0)
		return r;
	/* A reply without a refresh token means: keep the old one; so does
	   one that sends the same token again. */
	if (res->refresh_token != NULL &&
	    !same_secret(a, acct->refresh_token, res->refresh_token) &&
	    (r = agent_secret_seal(a->shield, res->refresh_token->data,
				   res->refresh_token->len, &refresh)) != 0) {
		agent_secret_free(access);
		return r;
	}
	*staged = access;
	*staged_expires_in = res->expires_in;
	/* How the reply gave the lifetime, for the commit of the token
	   staged now, the account's or cur's: one refresh runs at a time. */
	acct->staged_lifetime = res->lifetime;
	snprintf(acct->staged_said, sizeof(acct->staged_said), "%s",
		 res->expires_in_said);
	if (res->email != NULL && acct->email == NULL) {
		account_set_email(acct, res->email);
		res->email = NULL; /* transferred */
	}
	if (refresh == NULL)
		return 0;
	/* Rotation: the old token is never sent again, but it is dropped
	   only in commit, once the vault holds the new one. */
	acct->prev_refresh = acct->refresh_token;
	acct->refresh_token = refresh;
	agent_secret_fingerprint(refresh, fp);
	/* The line of the refresh names it, once it is committed. */
	log_debug("%s: new refresh token %s staged", acct->cfg.name, fp);
	*rotated = true;
	return 0;
}

long account_plan_lifetime(struct account *acct, long staged_expires_in,
			   int64_t prev_ms, const char *scope, char *note,
			   size_t notelen)
{
	const char *name = acct->cfg.name;
	long secs = staged_expires_in;
	const char *basis = "an hour, the default";
	char said[sizeof(acct->staged_said) + 32], whose[320] = "";

	note[0] = '\0';
	if (scope != NULL)
		snprintf(whose, sizeof(whose), " for %s", scope);
	switch (acct->staged_lifetime) {
	case OAUTH_LIFETIME_GIVEN:
		return secs;
	case OAUTH_LIFETIME_CAPPED:
		snprintf(note, notelen,
			 "%s: the provider's last token reply%s says "
			 "expires_in %s, over a day: the token is taken to "
			 "live a day (%ld s) and is refreshed within it",
			 name, whose, acct->staged_said, secs);
		log_error("%s", note);
		return secs;
	case OAUTH_LIFETIME_MISSING:
	case OAUTH_LIFETIME_UNUSABLE:
		break;
	}
	if (prev_ms > 0 && prev_ms / 1000 < secs) {
		secs = (long)(prev_ms / 1000);
		basis = "the life of the token before it";
	}
	if (acct->staged_lifetime == OAUTH_LIFETIME_MISSING)
		snprintf(said, sizeof(said), "no expires_in");
	else
		snprintf(said, sizeof(said), "a bad expires_in (%s)",
			 acct->staged_said);
	snprintf(note, notelen,
		 "%s: the provider's last token reply%s has %s: the token is "
		 "taken to live %ld s (%s)",
		 name, whose, said, secs, basis);
	/* RFC 6749 allows a reply without expires_in; a bad one is the
	   provider's fault. */
	if (acct->staged_lifetime == OAUTH_LIFETIME_MISSING)
		log_info("%s", note);
	else
		log_error("%s", note);
	return secs;
}

bool account_commit_tokens(struct account *acct)
{
	bool rotated = acct->prev_refresh != NULL;
	long secs;

	agent_secret_free(acct->prev_refresh);
	acct->prev_refresh = NULL;
	if (acct->cur != NULL) {
		account_scope_commit(acct, rotated);
		return rotated;
	}
	if (acct->staged_access == NULL)
		return rotated;
	agent_secret_free(acct->access_token);
	acct->access_token = acct->staged_access;
	acct->staged_access = NULL; /* transferred */
	secs = account_plan_lifetime(
	    acct, acct->staged_expires_in, acct->lifetime_ms, NULL,
	    acct->lifetime_note, sizeof(acct->lifetime_note));
	acct->lifetime_ms = (int64_t)secs * 1000;
	acct->expires_boot = agent_now_boot() + acct->lifetime_ms;
	acct->refreshed_wall = time(NULL);
	acct->expires_wall = acct->refreshed_wall + secs;
	acct->state = PROTO_STATE_ACTIVE;
	acct->failures = 0;
	agent_err_clear(&acct->last);
	acct->last_fault = OAUTH_FAULT_NONE;
	acct->last_aadsts = 0;
	acct->last_oauth_error[0] = '\0';
	return rotated;
}

int account_import(struct account *acct, const char *token, size_t len,
		   const struct account_import *how)
{
	struct agent_secret *sec = NULL;
	const char *name = acct->cfg.name;
	char fp[9];
	int r;

	if ((r = agent_secret_seal(acct->agent->shield, token, len, &sec)) != 0)
		return r;
	account_forget(acct);
	acct->refresh_token = sec;
	if (how->email != NULL && acct->email == NULL)
		account_set_email(acct, strdup(how->email));
	account_set_obtained(acct,
			     how->obtained != 0 ? how->obtained : time(NULL));
	agent_secret_fingerprint(sec, fp);
	if (how->interrupted) {
		acct->mark = MARK_INTERRUPTED;
		acct->state = PROTO_STATE_REAUTH;
		agent_err_set(
		    &acct->last, XO_ERR_LOGIN_NEEDED,
		    "%s: the agent stopped during a refresh, so the provider "
		    "may have replaced this refresh token already, and "
		    "sending it again could make it revoke the whole grant: "
		    "run 'xoauth refresh %s' to try it anyway, or 'xoauth "
		    "login %s'",
		    name, name, name);
		log_error("%s (token %s)", acct->last.msg, fp);
		account_schedule(acct); /* its lifetime still runs */
		return 0;
	}
	acct->state = PROTO_STATE_IDLE;
	/* An access token at once, as after a login. */
	if (how->refresh_now)
		acct->next_refresh_boot = agent_now_boot();
	account_schedule(acct);
	agent_log(how->quiet ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
		  "%s: refresh token %s %s", name, fp, how->source);
	return 0;
}

/* The login's tokens are the account's now. */
static void login_commit(struct account *acct)
{
	account_commit_tokens(acct);
	acct->next_refresh_boot =
	    policy_refresh_at(agent_now_boot(), acct->lifetime_ms, 0.5);
	account_schedule(acct);
}

/* The vault holds a login's tokens: they are the account's, and the
   login may end (unless it was cancelled meanwhile). */
static void login_durable(struct account *acct)
{
	account_cb stored = acct->login_stored;

	acct->login_stored = NULL;
	login_commit(acct);
	if (stored != NULL && acct->op == ACCOUNT_OP_LOGIN)
		stored(acct);
	else
		account_wake(acct, ACCOUNT_CHANGED);
}

int account_take_login_tokens(struct account *acct, struct oauth_result *res,
			      account_cb stored)
{
	bool rotated;
	int r;

	if ((r = account_stage_tokens(acct, res, &rotated)) != 0)
		return r;
	if (acct->refresh_token == NULL)
		log_error("%s: the provider sent no refresh token; ask for the "
			  "offline_access scope",
			  acct->cfg.name);
	/* The lifetime (-t, `lifetime`) counts from the login. */
	account_set_obtained(acct, time(NULL));
	if (rotated) {
		acct->login_stored = stored;
		if (account_persist_then(acct, login_durable))
			return 0;
		acct->login_stored = NULL;
	}
	login_commit(acct);
	stored(acct);
	return 0;
}

void account_note_provider_error(struct account *acct, long aadsts,
				 const char *oauth_error)
{
	acct->last_aadsts = aadsts;
	snprintf(acct->last_oauth_error, sizeof(acct->last_oauth_error), "%s",
		 oauth_error != NULL ? oauth_error : "");
}
