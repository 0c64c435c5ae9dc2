/*
 * scopes.c: access tokens of other scopes than the account's own.
 *
 * One login can consent to several resources: a Microsoft refresh token
 * is redeemed for a token of Exchange (SMTP, IMAP) or of Graph
 * (Mail.Send), one resource per token (providers.md 2.2).  The account
 * keeps one access token per scope it is asked for, each refreshed ahead
 * of its expiry by the scheduler, and every one of those refreshes is a
 * refresh of the account (refresh.c, with acct->cur set): one at a time,
 * with the one refresh token, whose rotation goes through the vault as
 * always.  The scopes an account may be asked for are its graph_scope and
 * gmail_scope (config.h); the account's own token is the one of
 * `scopes`.
 *
 * What concerns only a scope (no consent for it, a transient failure of
 * its refresh) is kept on the scope; a refused grant or client is the
 * account's (refresh.c) and takes every scope's token with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "account/account_internal.h"
#include "account/pure/policy.h"
#include "core/clock.h"
#include "core/log.h"
#include "oauth/oauth.h"
#include "secret/secret.h"

/* The longest scope a request may name (token.c keeps as much). */
#define SCOPE_MAX 1024
/* Microsoft's "the user or administrator has not consented": a refresh
   token that is good, but not for this resource. */
#define AADSTS_NO_CONSENT 65001

static double jitter(void)
{
	return (double)randombytes_uniform(1000000) / 1000000.0;
}

bool account_scope_is_own(const struct account *acct, struct proto_str scope)
{
	return scope.len == 0 || (acct->cfg.scopes != NULL &&
				  proto_str_eq(scope, acct->cfg.scopes));
}

/* The scope of the account's config that scope names, or NULL. */
static const char *configured(const struct account *acct,
			      struct proto_str scope)
{
	if (acct->cfg.graph_scope != NULL &&
	    proto_str_eq(scope, acct->cfg.graph_scope))
		return acct->cfg.graph_scope;
	if (acct->cfg.gmail_scope != NULL &&
	    proto_str_eq(scope, acct->cfg.gmail_scope))
		return acct->cfg.gmail_scope;
	return NULL;
}

/* The account's scope of that name, made when it is one of the config's;
   NULL with the reason in err. */
static struct account_scope *
scope_get(struct account *acct, struct proto_str scope, struct agent_err *err)
{
	struct account_scope *sc;
	const char *name;

	for (sc = acct->scopes; sc != NULL; sc = sc->next)
		if (proto_str_eq(scope, sc->scope))
			return sc;
	if (scope.len > SCOPE_MAX || (name = configured(acct, scope)) == NULL) {
		agent_err_set(err, XO_ERR_INVALID,
			      "%s: no token of the scope '%.*s' is kept: the "
			      "account's scopes are its own (scopes), "
			      "graph_scope and gmail_scope",
			      acct->cfg.name,
			      (int)(scope.len > 80 ? 80 : scope.len),
			      scope.ptr);
		return NULL;
	}
	if ((sc = calloc(1, sizeof(*sc))) == NULL ||
	    (sc->scope = strdup(name)) == NULL) {
		free(sc);
		agent_err_code(err, XO_ERR_NOMEM);
		return NULL;
	}
	sc->next = acct->scopes;
	acct->scopes = sc;
	return sc;
}

static bool scope_token_ok(const struct account_scope *sc, int64_t min_ms)
{
	return sc->access_token != NULL &&
	       sc->expires_boot - agent_now_boot() >= min_ms;
}

/*
 * Whether sc's token can be had: 0 with *wait false when it is held; 0
 * with *wait true when a refresh runs (or was started now, or a retry
 * comes within wait_ms); else the reason in err.
 */
static int scope_ready(struct account *acct, struct account_scope *sc,
		       int64_t min_ms, uint32_t wait_ms, bool *wait,
		       struct agent_err *err)
{
	const char *name = acct->cfg.name;
	int64_t now = agent_now_boot();
	int r;

	*wait = false;
	if (scope_token_ok(sc, min_ms))
		return 0;
	if (sc->lifetime_ms > 0 && min_ms > sc->lifetime_ms)
		return agent_err_set(err, XO_ERR_INVALID,
				     "%s: the provider's tokens for %s live "
				     "%lld s, less than asked for",
				     name, sc->scope,
				     (long long)(sc->lifetime_ms / 1000));
	if ((r = account_refresh_blocked(acct, err)) != 0)
		return r;
	if (sc->refused) {
		*err = sc->last;
		return sc->last.code;
	}
	*wait = true;
	if (acct->op == ACCOUNT_OP_REFRESH)
		return 0;
	if (sc->failures > 0 && sc->next_refresh_boot > now) {
		if (sc->next_refresh_boot - now <= (int64_t)wait_ms)
			return 0;
		*wait = false;
		*err = sc->last;
		return sc->last.code != 0 ? sc->last.code
					  : XO_ERR_REFRESH_FAILED;
	}
	if (account_refresh_scope(acct, sc, err) != 0) {
		*wait = false;
		return err->code;
	}
	return 0;
}

int account_scope_token_try(struct account *acct, struct conn *c,
			    const struct proto_token_req *req, bool *must_wait,
			    struct agent_err *err)
{
	struct account_scope *sc;
	uint32_t wait =
	    req->wait_ms ? req->wait_ms : acct->agent->limits.wait_default_ms;
	int64_t min_ms;
	int r;

	*must_wait = false;
	if ((sc = scope_get(acct, req->scope, err)) == NULL)
		return err->code;
	min_ms = req->min_valid > 0 ? (int64_t)req->min_valid * 1000
				    : policy_min_valid(sc->lifetime_ms);
	if ((r = scope_ready(acct, sc, min_ms, wait, must_wait, err)) != 0 ||
	    *must_wait)
		return r;
	return account_token_reply(acct, c, req, sc->access_token,
				   sc->expires_wall, err);
}

int account_token_get(struct account *acct, const char *scope, int64_t min_ms,
		      struct agent_plain **out, struct agent_err *err)
{
	struct proto_token_req req;
	struct account_scope *sc;
	bool wait = false;
	int r;

	*out = NULL;
	memset(&req, 0, sizeof(req));
	req.scope = proto_str_c(scope);
	if (account_scope_is_own(acct, req.scope)) {
		if (min_ms == 0)
			min_ms = policy_min_valid(acct->lifetime_ms);
		if (account_token_ok(acct, min_ms))
			return account_open_access_token(acct, out);
		/* Not held: TOKEN's own rules say whether to wait (a request
		   with no connection, answered by nobody: only its verdict
		   is read). */
		req.min_valid = (uint32_t)((min_ms + 999) / 1000);
		req.wait_ms = 1;
		if ((r = account_token_try(acct, NULL, &req, &wait, err)) != 0)
			return r;
		return wait ? XO_ERR_BUSY : XO_ERR_INTERNAL;
	}
	if ((sc = scope_get(acct, req.scope, err)) == NULL)
		return err->code;
	if (min_ms == 0)
		min_ms = policy_min_valid(sc->lifetime_ms);
	if ((r = scope_ready(acct, sc, min_ms, 0, &wait, err)) != 0)
		return r;
	if (wait)
		return XO_ERR_BUSY;
	return agent_secret_open(acct->agent->shield, sc->access_token, out);
}

void account_token_refused(struct account *acct, const char *scope)
{
	struct proto_str s = proto_str_c(scope);
	struct account_scope *sc;

	if (account_scope_is_own(acct, s)) {
		agent_secret_free(acct->access_token);
		acct->access_token = NULL;
		acct->expires_boot = acct->expires_wall = 0;
		if (acct->state == PROTO_STATE_ACTIVE)
			acct->state = PROTO_STATE_IDLE;
		return;
	}
	for (sc = acct->scopes; sc != NULL; sc = sc->next) {
		if (!proto_str_eq(s, sc->scope))
			continue;
		agent_secret_free(sc->access_token);
		sc->access_token = NULL;
		sc->expires_boot = sc->expires_wall = 0;
	}
}

const struct agent_err *account_refresh_failure(const struct account *acct,
						const char *scope)
{
	struct proto_str s = proto_str_c(scope);
	const struct account_scope *sc = acct->ended;

	if (account_scope_is_own(acct, s))
		return sc == NULL && acct->last.code != 0 &&
			       !account_token_ok(acct, 1000)
			   ? &acct->last
			   : NULL;
	if (sc != NULL && proto_str_eq(s, sc->scope) && sc->last.code != 0 &&
	    !scope_token_ok(sc, 1000))
		return &sc->last;
	return NULL;
}

/* The scope is refused until the next login: a refresh would only be
   refused again. */
static void refuse_scope(struct account *acct, struct account_scope *sc,
			 const struct oauth_result *res)
{
	const char *name = acct->cfg.name;

	sc->refused = true;
	sc->next_refresh_boot = 0;
	agent_err_set(&sc->last, XO_ERR_LOGIN_NEEDED,
		      "%s: the provider gives no token for %s (%s): log in "
		      "again ('xoauth login %s') so that the consent covers "
		      "it, and check that the app registration has that "
		      "permission",
		      name, sc->scope, res->message, name);
	log_error("%s", sc->last.msg);
}

void account_scope_aborted(struct account *acct, int err, const char *msg)
{
	struct account_scope *sc = acct->cur;
	int64_t now = agent_now_boot();

	sc->failures++;
	sc->next_refresh_boot =
	    now + policy_backoff(sc->failures, -1, jitter());
	agent_err_set(&sc->last, err != 0 ? err : XO_ERR_REFRESH_FAILED, "%s",
		      msg);
	log_error("%s", sc->last.msg);
}

bool account_scope_outcome(struct account *acct, struct oauth_result *res)
{
	struct account_scope *sc = acct->cur;
	int64_t now = agent_now_boot();

	switch (res->cls) {
	case OAUTH_OK:
		return false;
	case OAUTH_REAUTH:
		/* invalid_grant: the refresh token is dead, unless Microsoft
		   says only that the resource was never consented to. */
		if (res->aadsts != AADSTS_NO_CONSENT)
			return false;
		refuse_scope(acct, sc, res);
		return true;
	case OAUTH_CONFIG:
		/* A client the provider refuses is refused for every scope;
		   invalid_scope and the like concern this one. */
		if (res->client_rejected)
			return false;
		refuse_scope(acct, sc, res);
		return true;
	default:
		break;
	}
	sc->failures++;
	sc->next_refresh_boot =
	    now +
	    policy_backoff(sc->failures,
			   res->retry_after >= 0 ? res->retry_after * 1000 : -1,
			   jitter());
	agent_err_set(&sc->last,
		      res->err == XO_ERR_TIMEOUT ? XO_ERR_TIMEOUT
						 : XO_ERR_REFRESH_FAILED,
		      "%s: refresh of the token for %s failed (%s), retry %u "
		      "in %lld s",
		      acct->cfg.name, sc->scope, res->message, sc->failures,
		      (long long)((sc->next_refresh_boot - now) / 1000));
	log_error("%s", sc->last.msg);
	return true;
}

void account_scope_commit(struct account *acct, bool rotated)
{
	struct account_scope *sc = acct->cur;
	int64_t now = agent_now_boot();
	/* What was assumed of its life goes to the log only: LIST shows
	   the account's own token. */
	char note[400];
	long secs;

	if (sc->staged_access == NULL)
		return;
	agent_secret_free(sc->access_token);
	sc->access_token = sc->staged_access;
	sc->staged_access = NULL; /* transferred */
	secs =
	    account_plan_lifetime(acct, sc->staged_expires_in, sc->lifetime_ms,
				  sc->scope, note, sizeof(note));
	sc->lifetime_ms = (int64_t)secs * 1000;
	sc->expires_boot = now + sc->lifetime_ms;
	sc->expires_wall = time(NULL) + secs;
	sc->refreshed_wall = time(NULL);
	sc->failures = 0;
	sc->refused = false;
	agent_err_clear(&sc->last);
	sc->next_refresh_boot =
	    policy_refresh_at(now, sc->lifetime_ms, jitter());
	account_log_refreshed(acct, sc->scope, sc->lifetime_ms,
			      sc->next_refresh_boot - now, rotated);
}

struct account_scope *account_scope_due(struct account *acct, int64_t now)
{
	struct account_scope *sc;

	for (sc = acct->scopes; sc != NULL; sc = sc->next)
		if (!sc->refused && sc->next_refresh_boot != 0 &&
		    sc->next_refresh_boot <= now)
			return sc;
	return NULL;
}

int64_t account_scopes_next(const struct account *acct)
{
	const struct account_scope *sc;
	int64_t next = 0;

	for (sc = acct->scopes; sc != NULL; sc = sc->next)
		if (!sc->refused && sc->next_refresh_boot != 0 &&
		    (next == 0 || sc->next_refresh_boot < next))
			next = sc->next_refresh_boot;
	return next;
}

/* How a scope's token is, in LIST's words. */
static uint8_t scope_state(const struct account *acct,
			   const struct account_scope *sc)
{
	if (acct->op == ACCOUNT_OP_REFRESH && acct->cur == sc)
		return PROTO_STATE_REFRESHING;
	if (sc->refused)
		return PROTO_STATE_REAUTH;
	if (sc->failures > 0)
		return PROTO_STATE_RETRYING;
	if (scope_token_ok(sc, 1))
		return PROTO_STATE_ACTIVE;
	return PROTO_STATE_IDLE;
}

size_t account_list_scopes(const struct account *acct,
			   struct proto_scope_info *out, size_t max)
{
	const struct account_scope *sc;
	const char *wanted = agent_account_send_scope(&acct->cfg);
	int64_t now = agent_now_boot();
	size_t n = 0;

	for (sc = acct->scopes; sc != NULL; sc = sc->next, n++) {
		struct proto_scope_info *s;

		if (wanted != NULL && strcmp(wanted, sc->scope) == 0)
			wanted = NULL;
		if (n >= max)
			continue;
		s = &out[n];
		memset(s, 0, sizeof(*s));
		s->account = proto_str_c(acct->cfg.name);
		s->scope = proto_str_c(sc->scope);
		s->state = scope_state(acct, sc);
		if (sc->access_token != NULL)
			s->expires_at = (uint64_t)sc->expires_wall;
		s->refreshed_at = (uint64_t)sc->refreshed_wall;
		if (sc->next_refresh_boot > 0 && !sc->refused)
			s->next_refresh_at =
			    (uint64_t)(time(NULL) +
				       (time_t)((sc->next_refresh_boot - now) /
						1000));
		s->last_error = proto_str_c(sc->last.msg);
	}
	/* The transport's scope, never asked for: a send will ask. */
	if (wanted != NULL &&
	    !account_scope_is_own(acct, proto_str_c(wanted))) {
		if (n < max) {
			memset(&out[n], 0, sizeof(out[n]));
			out[n].account = proto_str_c(acct->cfg.name);
			out[n].scope = proto_str_c(wanted);
			out[n].state = PROTO_STATE_IDLE;
			out[n].last_error = proto_str_c(NULL);
		}
		n++;
	}
	return n;
}

void account_scopes_drop(struct account *acct, bool staged_only)
{
	struct account_scope *sc;

	for (sc = acct->scopes; sc != NULL; sc = sc->next) {
		agent_secret_free(sc->staged_access);
		sc->staged_access = NULL;
		if (staged_only)
			continue;
		agent_secret_free(sc->access_token);
		sc->access_token = NULL;
		sc->expires_boot = sc->expires_wall = 0;
		sc->refreshed_wall = 0;
		sc->next_refresh_boot = 0;
		sc->failures = 0;
		sc->refused = false;
		agent_err_clear(&sc->last);
	}
}

void account_scopes_free(struct account *acct)
{
	struct account_scope *sc;

	account_scopes_drop(acct, false);
	while ((sc = acct->scopes) != NULL) {
		acct->scopes = sc->next;
		free(sc->scope);
		free(sc);
	}
	acct->cur = acct->ended = NULL;
}
