/*
 * code.c: the browser and paste flows, the authorization code grant
 * (RFC 6749 4.1) with PKCE S256 (RFC 7636).
 *
 * Browser: the agent listens on 127.0.0.1 (redirect.c) and the provider
 * sends the user's browser there with ?code=...&state=...  Paste: the
 * redirect goes to a fixed URI elsewhere, and the user hands the address
 * (or the code) back with LOGIN_CODE.  Either way the same checks run:
 * `state` must be this login's (RFC 6749 10.12), an `error` ends the login
 * (access_denied as "denied"), a code already tried is refused without
 * asking the provider, and one code is at the token endpoint at a time.
 *
 * A wrong state, a replayed or refused code do not end the login: the user
 * can still finish it with the right redirect.  The login ends when it
 * succeeds, when the provider reports an error, or after LOGIN_CODE_TTL_S.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "account/account.h"
#include "config/config.h"
#include "core/agent.h"
#include "core/clock.h"
#include "core/log.h"
#include "login/login_internal.h"
#include "login/pure/authz.h"
#include "login/redirect.h"
#include "secret/pkce.h"
#include "secret/secret.h"

void login_code_close_listener(struct login *l)
{
	redirect_close(l->redirect);
	l->redirect = NULL;
}

void login_code_cleanup(struct login *l)
{
	login_code_close_listener(l);
	free(l->auth_url);
	free(l->redirect_uri);
	free(l->state);
	agent_secret_free(l->verifier);
	l->auth_url = l->redirect_uri = l->state = NULL;
	l->verifier = NULL;
}

/* Copies s into dst for messages, printable ASCII only, cut at max. */
static void printable(char *dst, size_t len, const char *s, size_t max)
{
	size_t i, w = 0;

	for (i = 0; s != NULL && s[i] != '\0' && i < max && w + 1 < len; i++)
		dst[w++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[w] = '\0';
}

/* Ends the login and, in the browser flow, tells the browser why. */
static void end_login(struct login *l, const struct agent_err *outcome)
{
	if (l->redirect != NULL)
		redirect_reply_held(l->redirect, outcome->code == 0 ? 200 : 502,
				    outcome->code == 0 ? "Signed in"
						       : "Sign-in failed",
				    outcome->msg);
	login_finish(l, outcome);
}

/* The account holds the tokens (and the vault too, if there is one). */
static void code_stored(struct account *acct)
{
	struct login *l = account_login(acct);
	struct agent_err ok;
	char page[700];

	snprintf(page, sizeof(page),
		 "xoauth-agent now holds the tokens for %s. You can close "
		 "this window.",
		 account_name(acct));
	redirect_reply_held(l->redirect, 200, "Signed in", page);
	agent_err_clear(&ok);
	login_finish(l, &ok);
}

/* The exchange failed but the login goes on: a LOGIN_CODE waiting for it
   is told why, and so is the browser. */
static void exchange_failed(struct login *l, int http_status, const char *title)
{
	redirect_reply_held(l->redirect, http_status, title, l->exchange.msg);
	log_info("%s", l->exchange.msg);
	account_wake(l->acct, ACCOUNT_CHANGED);
}

static void on_exchange(void *arg, struct oauth_result *res)
{
	struct login *l = arg;
	struct account *acct = l->acct;
	struct agent_err e;
	int r;

	l->exchanging = false;
	if (acct == NULL)
		return;
	switch (res->cls) {
	case OAUTH_OK:
		if ((r = account_take_login_tokens(acct, res, code_stored)) !=
		    0) {
			agent_err_set(&e, r, "cannot store the tokens");
			end_login(l, &e);
		}
		return;
	case OAUTH_TRANSIENT:
		/* The code may still be good: let it be tried again. */
		if (l->n_tried > 0)
			l->n_tried--;
		agent_err_set(&l->exchange,
			      res->err != 0 ? res->err : XO_ERR_REFRESH_FAILED,
			      "%s: the code could not be exchanged yet: %s; "
			      "try again",
			      account_name(acct), res->message);
		exchange_failed(l, 503, "Not yet");
		return;
	case OAUTH_REAUTH:
		/* invalid_grant: a wrong, used or expired code.  The login
		   stays open for the right one. */
		agent_err_set(&l->exchange, XO_ERR_LOGIN_MISMATCH,
			      "%s: the provider refused the code (%s); it may "
			      "have expired or been used already: open the "
			      "sign-in address again",
			      account_name(acct), res->message);
		exchange_failed(l, 400, "Sign-in failed");
		return;
	default:
		agent_err_set(&e,
			      res->err != 0 ? res->err : XO_ERR_PROVIDER_CONFIG,
			      "%s: %s", account_name(acct), res->message);
		end_login(l, &e);
		return;
	}
}

/* 1 when the code was tried in this login already; else records it. */
static int seen_before(struct login *l, const char *code)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	unsigned i;

	crypto_hash_sha256(h, (const unsigned char *)code, strlen(code));
	for (i = 0; i < l->n_tried; i++)
		if (sodium_memcmp(l->tried[i], h, sizeof(h)) == 0)
			return 1;
	memcpy(l->tried[l->n_tried++], h, sizeof(h));
	return 0;
}

static int start_exchange(struct login *l, const char *code,
			  struct agent_err *err)
{
	struct account *acct = l->acct;
	struct agent_shield *shield = account_agent(acct)->shield;
	struct agent_plain *pcode = NULL, *verifier = NULL, *secret = NULL;
	int r;

	if ((r = agent_plain_dup(code, strlen(code), &pcode)) != 0 ||
	    (r = agent_secret_open(shield, l->verifier, &verifier)) != 0 ||
	    (r = account_open_client_secret(acct, &secret)) != 0)
		goto out;
	r = oauth_code_exchange(account_oauth(acct), pcode, verifier,
				l->redirect_uri, secret, on_exchange, l);
out:
	if (r != 0)
		agent_err_set(err, r, "%s: cannot exchange the code: %s",
			      account_name(acct), proto_strerror(r));
	else
		l->exchanging = true;
	agent_plain_free(pcode);
	agent_plain_free(verifier);
	agent_plain_free(secret);
	return r;
}

/* An `error` redirect (RFC 6749 4.1.2.1): the user declined, or the
   provider refused; the login ends. */
static int refused(struct login *l, const struct authz_response *resp,
		   struct agent_err *err)
{
	char code[64], desc[300];
	int r;

	printable(code, sizeof(code), resp->error, 60);
	printable(desc, sizeof(desc), resp->error_description, 280);
	r = strcmp(resp->error, "access_denied") == 0 ? XO_ERR_LOGIN_DENIED
						      : XO_ERR_PROVIDER_CONFIG;
	agent_err_set(err, r, "%s: %s: %s%s%s", account_name(l->acct),
		      r == XO_ERR_LOGIN_DENIED
			  ? "the sign-in was declined"
			  : "the provider refused the sign-in",
		      code, desc[0] != '\0' ? ": " : "", desc);
	login_finish(l, err);
	return r;
}

/*
 * Judges a redirect response for login l and starts the exchange.  0: the
 * exchange runs; else the reason in err, and for an `error` response or
 * too many codes the login has ended.
 */
static int take_response(struct login *l, const struct authz_response *resp,
			 struct agent_err *err)
{
	const char *name = account_name(l->acct);

	/* A bare code (paste only) has no state to check; PKCE still ties
	   it to this login's verifier. */
	if (!resp->bare &&
	    (resp->state == NULL ||
	     !login_state_equal(l->state, resp->state, strlen(resp->state))))
		return agent_err_set(err, XO_ERR_LOGIN_MISMATCH,
				     "%s: this response belongs to another "
				     "login (its state does not match): use "
				     "the address from the latest 'xoauth "
				     "login %s'",
				     name, name);
	if (resp->error != NULL)
		return refused(l, resp, err);
	if (l->exchanging)
		return agent_err_set(err, XO_ERR_BUSY,
				     "%s: a code for this login is being "
				     "exchanged already",
				     name);
	if (l->n_tried >= LOGIN_MAX_CODES) {
		agent_err_set(err, XO_ERR_LOGIN_MISMATCH,
			      "%s: too many codes were tried; run 'xoauth "
			      "login %s' again",
			      name, name);
		login_finish(l, err);
		return XO_ERR_LOGIN_MISMATCH;
	}
	if (seen_before(l, resp->code))
		return agent_err_set(err, XO_ERR_LOGIN_MISMATCH,
				     "%s: this code was handed in already (a "
				     "replayed redirect): open the sign-in "
				     "address again",
				     name);
	agent_err_clear(&l->exchange);
	return start_exchange(l, resp->code, err);
}

static int http_status_for(int err)
{
	switch (err) {
	case XO_ERR_LOGIN_DENIED:
		return 403;
	case XO_ERR_BUSY:
		return 409;
	case XO_ERR_PROVIDER_CONFIG:
		return 502;
	default:
		return 400;
	}
}

/* redirect_cb: the provider sent the browser back to us. */
static void on_redirect(void *arg, struct redirect_conn *rc, const char *query)
{
	struct login *l = arg;
	struct authz_response resp;
	struct agent_err err;
	char why[300];
	int r;

	if (l->acct == NULL) {
		redirect_reply(rc, 410, "Sign-in over",
			       "This sign-in has ended; run xoauth login "
			       "again.");
		return;
	}
	r = authz_parse_query(query, strlen(query), &resp, why, sizeof(why));
	if (r != 0) {
		agent_err_set(&err, r, "%s: %s", account_name(l->acct), why);
		log_info("%s: redirect refused: %s", account_name(l->acct),
			 why);
		redirect_reply(rc, 400, "Sign-in failed", err.msg);
		authz_response_cleanup(&resp);
		return;
	}
	resp.bare = 0;
	r = take_response(l, &resp, &err);
	authz_response_cleanup(&resp);
	if (r == 0 && redirect_hold(rc) == 0)
		return;
	if (r == 0) {
		redirect_reply(rc, 409, "Busy",
			       "Another request is being answered.");
		return;
	}
	if (r != XO_ERR_LOGIN_DENIED)
		log_info("%s", err.msg);
	redirect_reply(rc, http_status_for(r),
		       r == XO_ERR_LOGIN_DENIED ? "Sign-in declined"
						: "Sign-in failed",
		       err.msg);
}

int login_take_pasted(struct login *l, const char *response, size_t len,
		      struct agent_err *err)
{
	struct authz_response resp;
	char why[300];
	int r;

	if ((r = authz_parse_pasted(response, len, &resp, why, sizeof(why))) !=
	    0)
		return agent_err_set(err, r, "%s: %s", account_name(l->acct),
				     why);
	r = take_response(l, &resp, err);
	authz_response_cleanup(&resp);
	return r;
}

bool login_code_pending(const struct account *acct, struct agent_err *err)
{
	const struct login *l = account_login(acct);

	if (l != NULL && (l->exchanging || l->exchange.code == 0))
		return true;
	*err = l != NULL ? l->exchange : *account_login_outcome(acct);
	return false;
}

static void on_expired(uv_timer_t *t)
{
	struct login *l = t->data;
	const char *name = account_name(l->acct);
	struct agent_err e;

	agent_err_set(&e, XO_ERR_LOGIN_EXPIRED,
		      "%s: the sign-in was not finished in time; run 'xoauth "
		      "login %s' again",
		      name, name);
	end_login(l, &e);
}

/* Extra authorization parameters: the preset's, else OpenID Connect's
   prompt=consent when offline_access is asked for. */
static const char *extra_params(const struct agent_account_cfg *cfg)
{
	const struct agent_preset *p = agent_preset_find(cfg->provider);

	if (p != NULL && p->authz_extra != NULL)
		return p->authz_extra;
	return authz_scope_wants_consent(cfg->scopes) ? "prompt=consent" : NULL;
}

static int open_listener(struct login *l, char *why, size_t whylen)
{
	const struct agent_account_cfg *cfg = account_cfg(l->acct);
	struct authz_loopback lb;
	unsigned port = 0;
	int r;

	if ((r = authz_loopback_plan(cfg->redirect_uri, cfg->redirect_port,
				     &lb)) != 0)
		return r;
	r = redirect_listen(account_agent(l->acct)->loop, cfg->name, lb.ipv6,
			    lb.port, lb.path, on_redirect, l, &l->redirect,
			    &port, why, whylen);
	if (r == 0)
		r = authz_loopback_uri(&lb, port, &l->redirect_uri);
	authz_loopback_cleanup(&lb);
	return r;
}

/* Builds the authorization URL once the endpoint is known; why says what
   went wrong. */
static int make_ready(struct login *l, char *why, size_t whylen)
{
	struct account *acct = l->acct;
	const struct agent_account_cfg *cfg = account_cfg(acct);
	struct authz_request q;
	char verifier[PKCE_VERIFIER_LEN + 1], challenge[PKCE_CHALLENGE_LEN + 1];
	const char *endpoint =
	    oauth_client_authorization_endpoint(account_oauth(acct));
	char *scopes = NULL;
	int r;

	if (endpoint == NULL) {
		snprintf(why, whylen,
			 "the provider names no authorization_endpoint: set "
			 "it in the config");
		return XO_ERR_UNSUPPORTED_FLOW;
	}
	if ((l->state = malloc(LOGIN_STATE_LEN + 1)) == NULL)
		return XO_ERR_NOMEM;
	login_state_new(l->state);
	pkce_verifier_new(verifier);
	r = pkce_challenge_s256(verifier, PKCE_VERIFIER_LEN, challenge);
	if (r == 0)
		r = agent_secret_seal(account_agent(acct)->shield, verifier,
				      PKCE_VERIFIER_LEN, &l->verifier);
	sodium_memzero(verifier, sizeof(verifier));
	if (r != 0)
		return r;
	if (l->flow == AGENT_FLOW_BROWSER)
		r = open_listener(l, why, whylen);
	else if ((l->redirect_uri = strdup(cfg->redirect_uri)) == NULL)
		r = XO_ERR_NOMEM;
	if (r != 0)
		return r;
	/* The account's scopes, and the one its send transport needs, so
	   that one consent covers both. */
	if ((r = agent_account_login_scopes(cfg, &scopes)) != 0)
		return r;
	memset(&q, 0, sizeof(q));
	q.endpoint = endpoint;
	q.client_id = cfg->client_id;
	q.redirect_uri = l->redirect_uri;
	q.scope = scopes;
	q.state = l->state;
	q.challenge = challenge;
	q.login_hint = account_email(acct);
	q.extra = extra_params(cfg);
	r = authz_url_build(&q, &l->auth_url, why, whylen);
	free(scopes);
	if (r != 0)
		return r;
	l->expires_boot = agent_now_boot() + LOGIN_CODE_TTL_S * 1000;
	uv_timer_start(&l->timer, on_expired, LOGIN_CODE_TTL_S * 1000, 0);
	l->ready = true;
	if (l->flow == AGENT_FLOW_BROWSER)
		log_info("%s: login pending: waiting for the browser at %s",
			 cfg->name, l->redirect_uri);
	else
		log_info("%s: login pending: waiting for the pasted redirect "
			 "to %s",
			 cfg->name, l->redirect_uri);
	return 0;
}

/* The reason a code flow cannot start, as login_code_start() gives it. */
static int cannot_start(struct login *l, int r, const char *why,
			struct agent_err *err)
{
	return agent_err_set(err, r, "%s: cannot start the login: %s",
			     account_name(l->acct),
			     why[0] != '\0' ? why : proto_strerror(r));
}

static void on_discovered(void *arg, struct oauth_result *res)
{
	struct login *l = arg;
	struct agent_err e;
	char why[400] = "";
	int r;

	if (l->acct == NULL)
		return;
	if (res->cls != OAUTH_OK) {
		login_fail(l, res->err != 0 ? res->err : XO_ERR_HTTP, "%s: %s",
			   account_name(l->acct), res->message);
		return;
	}
	if ((r = make_ready(l, why, sizeof(why))) != 0) {
		cannot_start(l, r, why, &e);
		login_finish(l, &e);
		return;
	}
	account_wake(l->acct, ACCOUNT_CHANGED);
}

int login_code_start(struct login *l, struct agent_err *err)
{
	struct oauth_client *oc = account_oauth(l->acct);
	char why[400] = "";
	int r;

	if (oauth_client_authorization_endpoint(oc) == NULL &&
	    oauth_client_needs_discovery(oc))
		r = oauth_discover(oc, on_discovered, l);
	else
		r = make_ready(l, why, sizeof(why));
	if (r != 0)
		cannot_start(l, r, why, err);
	return r;
}
