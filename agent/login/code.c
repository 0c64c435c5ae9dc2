/*
 * login_code.c: the browser and paste flows, the authorization code grant
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

#include "core/agent.h"
#include "login/pure/authz.h"
#include "core/log.h"
#include "login/login_internal.h"
#include "secret/pkce.h"
#include "login/redirect.h"

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
static void end_login(struct account *acct, struct login *l, int err,
		      const char *msg)
{
	if (l->redirect != NULL)
		redirect_reply_held(l->redirect, err == 0 ? 200 : 502,
				    err == 0 ? "Signed in" : "Sign-in failed",
				    msg);
	login_finish(acct, err, msg);
}

/* The account holds the tokens (and the vault too, if there is one). */
static void code_stored(struct account *acct)
{
	struct login *l = acct->login;
	char page[700];

	snprintf(page, sizeof(page),
		 "xoauth-agent now holds the tokens for %s. You can close "
		 "this window.",
		 acct->cfg.name);
	redirect_reply_held(l->redirect, 200, "Signed in", page);
	login_finish(acct, 0, NULL);
}

static void on_exchange(void *arg, struct oauth_result *res)
{
	struct login *l = arg;
	struct account *acct = l->acct;
	char msg[700];
	int r;

	l->exchanging = 0;
	if (acct == NULL)
		return;
	switch (res->cls) {
	case OAUTH_OK:
		if ((r = login_store_tokens(acct, res, code_stored)) < 0) {
			end_login(acct, l, r, "cannot store the tokens");
			return;
		}
		if (r == 0)
			code_stored(acct);
		return;
	case OAUTH_TRANSIENT:
		/* The code may still be good: let it be tried again. */
		if (l->n_tried > 0)
			l->n_tried--;
		l->exchange_err =
		    res->err != 0 ? res->err : XO_ERR_REFRESH_FAILED;
		snprintf(l->exchange_error, sizeof(l->exchange_error),
			 "%s: the code could not be exchanged yet: %s; try "
			 "again",
			 acct->cfg.name, res->message);
		redirect_reply_held(l->redirect, 503, "Not yet",
				    l->exchange_error);
		break;
	case OAUTH_REAUTH:
		/* invalid_grant: a wrong, used or expired code.  The login
		   stays open for the right one. */
		l->exchange_err = XO_ERR_LOGIN_MISMATCH;
		snprintf(l->exchange_error, sizeof(l->exchange_error),
			 "%s: the provider refused the code (%s); it may have "
			 "expired or been used already: open the sign-in "
			 "address again",
			 acct->cfg.name, res->message);
		redirect_reply_held(l->redirect, 400, "Sign-in failed",
				    l->exchange_error);
		break;
	default:
		snprintf(msg, sizeof(msg), "%s: %s", acct->cfg.name,
			 res->message);
		end_login(acct, l,
			  res->err != 0 ? res->err : XO_ERR_PROVIDER_CONFIG,
			  msg);
		return;
	}
	log_info("%s", l->exchange_error);
	agent_waiters_wake(acct, 0);
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

static int start_exchange(struct account *acct, struct login *l,
			  const char *code, char *msg, size_t msglen)
{
	struct agent_shield *shield = acct->agent->shield;
	struct agent_plain *pcode = NULL, *verifier = NULL, *secret = NULL;
	int r;

	if ((r = agent_plain_dup(code, strlen(code), &pcode)) != 0 ||
	    (r = agent_secret_open(shield, l->verifier, &verifier)) != 0 ||
	    (acct->client_secret != NULL &&
	     (r = agent_secret_open(shield, acct->client_secret, &secret)) !=
		 0))
		goto out;
	r = oauth_code_exchange(acct->oauth, pcode, verifier, l->redirect_uri,
				secret, on_exchange, l);
out:
	if (r != 0)
		snprintf(msg, msglen, "%s: cannot exchange the code: %s",
			 acct->cfg.name, proto_strerror(r));
	else
		l->exchanging = 1;
	agent_plain_free(pcode);
	agent_plain_free(verifier);
	agent_plain_free(secret);
	return r;
}

/*
 * Judges a redirect response for login l and starts the exchange.  0: the
 * exchange runs; else an XO_ERR_* with the reason in msg, and for an
 * `error` response the login has ended.
 */
static int take_response(struct account *acct, struct login *l,
			 const struct authz_response *resp, char *msg,
			 size_t msglen)
{
	const char *name = acct->cfg.name;
	char err[64], desc[300];
	int r;

	/* A bare code (paste only) has no state to check; PKCE still ties
	   it to this login's verifier. */
	if (!resp->bare &&
	    (resp->state == NULL ||
	     !login_state_equal(l->state, resp->state, strlen(resp->state)))) {
		snprintf(msg, msglen,
			 "%s: this response belongs to another login (its "
			 "state does not match): use the address from the "
			 "latest 'xoauth login %s'",
			 name, name);
		return XO_ERR_LOGIN_MISMATCH;
	}
	if (resp->error != NULL) {
		printable(err, sizeof(err), resp->error, 60);
		printable(desc, sizeof(desc), resp->error_description, 280);
		r = strcmp(resp->error, "access_denied") == 0
			? XO_ERR_LOGIN_DENIED
			: XO_ERR_PROVIDER_CONFIG;
		snprintf(msg, msglen, "%s: %s: %s%s%s", name,
			 r == XO_ERR_LOGIN_DENIED
			     ? "the sign-in was declined"
			     : "the provider refused the sign-in",
			 err, desc[0] != '\0' ? ": " : "", desc);
		login_finish(acct, r, msg);
		return r;
	}
	if (l->exchanging) {
		snprintf(msg, msglen,
			 "%s: a code for this login is being exchanged already",
			 name);
		return XO_ERR_BUSY;
	}
	if (l->n_tried >= LOGIN_MAX_CODES) {
		snprintf(msg, msglen,
			 "%s: too many codes were tried; run 'xoauth login "
			 "%s' again",
			 name, name);
		login_finish(acct, XO_ERR_LOGIN_MISMATCH, msg);
		return XO_ERR_LOGIN_MISMATCH;
	}
	if (seen_before(l, resp->code)) {
		snprintf(msg, msglen,
			 "%s: this code was handed in already (a replayed "
			 "redirect): open the sign-in address again",
			 name);
		return XO_ERR_LOGIN_MISMATCH;
	}
	l->exchange_err = 0;
	return start_exchange(acct, l, resp->code, msg, msglen);
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
	struct account *acct = l->acct;
	struct authz_response resp;
	char why[300], msg[700];
	int r;

	if (acct == NULL) {
		redirect_reply(rc, 410, "Sign-in over",
			       "This sign-in has ended; run xoauth login "
			       "again.");
		return;
	}
	r = authz_parse_query(query, strlen(query), &resp, why, sizeof(why));
	if (r != 0) {
		snprintf(msg, sizeof(msg), "%s: %s", acct->cfg.name, why);
		log_info("%s: redirect refused: %s", acct->cfg.name, why);
		redirect_reply(rc, 400, "Sign-in failed", msg);
		authz_response_cleanup(&resp);
		return;
	}
	resp.bare = 0;
	r = take_response(acct, l, &resp, msg, sizeof(msg));
	authz_response_cleanup(&resp);
	if (r == 0 && redirect_hold(rc) == 0)
		return;
	if (r == 0) {
		redirect_reply(rc, 409, "Busy",
			       "Another request is being answered.");
		return;
	}
	if (r != XO_ERR_LOGIN_DENIED)
		log_info("%s", msg);
	redirect_reply(rc, http_status_for(r),
		       r == XO_ERR_LOGIN_DENIED ? "Sign-in declined"
						: "Sign-in failed",
		       msg);
}

int agent_login_code(struct account *acct, struct conn *c, const char *response,
		     size_t len, uint32_t wait_ms, char *msg, size_t msglen)
{
	struct login *l = acct->login;
	struct authz_response resp;
	char why[300];
	int r;

	if (l == NULL || l->flow != AGENT_FLOW_PASTE || !l->ready) {
		snprintf(msg, msglen,
			 "%s: no paste login is waiting for a code: run "
			 "'xoauth login %s --flow paste' first",
			 acct->cfg.name, acct->cfg.name);
		return XO_ERR_LOGIN_MISMATCH;
	}
	if ((r = authz_parse_pasted(response, len, &resp, why, sizeof(why))) !=
	    0) {
		snprintf(msg, msglen, "%s: %s", acct->cfg.name, why);
		return r;
	}
	r = take_response(acct, l, &resp, msg, msglen);
	authz_response_cleanup(&resp);
	if (r != 0)
		return r;
	return agent_waiter_add(acct, c, WAIT_LOGIN_CODE, NULL, wait_ms);
}

int agent_login_code_outcome(const struct account *acct, char *msg,
			     size_t msglen)
{
	const struct login *l = acct->login;

	if (l != NULL && (l->exchanging || l->exchange_err == 0))
		return 1;
	snprintf(msg, msglen, "%s",
		 l != NULL ? l->exchange_error : acct->login_error);
	return l != NULL ? l->exchange_err : acct->login_err;
}

static void on_expired(uv_timer_t *t)
{
	struct login *l = t->data;
	struct account *acct = l->acct;
	char msg[300];

	snprintf(msg, sizeof(msg),
		 "%s: the sign-in was not finished in time; run 'xoauth "
		 "login %s' again",
		 acct->cfg.name, acct->cfg.name);
	end_login(acct, l, XO_ERR_LOGIN_EXPIRED, msg);
}

/* Extra authorization parameters: the preset's, else OpenID Connect's
   prompt=consent when offline_access is asked for. */
static const char *extra_params(const struct account *acct)
{
	const struct agent_preset *p = agent_preset_find(acct->cfg.provider);

	if (p != NULL && p->authz_extra != NULL)
		return p->authz_extra;
	return authz_scope_wants_consent(acct->cfg.scopes) ? "prompt=consent"
							   : NULL;
}

static int open_listener(struct account *acct, struct login *l, char *why,
			 size_t whylen)
{
	struct authz_loopback lb;
	unsigned port = 0;
	int r;

	if ((r = authz_loopback_plan(acct->cfg.redirect_uri,
				     acct->cfg.redirect_port, &lb)) != 0)
		return r;
	r = redirect_listen(acct->agent->loop, acct->cfg.name, lb.ipv6, lb.port,
			    lb.path, on_redirect, l, &l->redirect, &port, why,
			    whylen);
	if (r == 0)
		r = authz_loopback_uri(&lb, port, &l->redirect_uri);
	authz_loopback_cleanup(&lb);
	return r;
}

/* Builds the authorization URL once the endpoint is known. */
static int make_ready(struct account *acct, struct login *l, char *why,
		      size_t whylen)
{
	struct authz_request q;
	char verifier[PKCE_VERIFIER_LEN + 1], challenge[PKCE_CHALLENGE_LEN + 1];
	const char *endpoint = oauth_client_authorization_endpoint(acct->oauth);
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
		r = agent_secret_seal(acct->agent->shield, verifier,
				      PKCE_VERIFIER_LEN, &l->verifier);
	sodium_memzero(verifier, sizeof(verifier));
	if (r != 0)
		return r;
	if (l->flow == AGENT_FLOW_BROWSER)
		r = open_listener(acct, l, why, whylen);
	else if ((l->redirect_uri = strdup(acct->cfg.redirect_uri)) == NULL)
		r = XO_ERR_NOMEM;
	if (r != 0)
		return r;
	memset(&q, 0, sizeof(q));
	q.endpoint = endpoint;
	q.client_id = acct->cfg.client_id;
	q.redirect_uri = l->redirect_uri;
	q.scope = acct->cfg.scopes;
	q.state = l->state;
	q.challenge = challenge;
	q.login_hint = acct->email;
	q.extra = extra_params(acct);
	if ((r = authz_url_build(&q, &l->auth_url, why, whylen)) != 0)
		return r;
	l->expires_boot = agent_now_boot() + LOGIN_CODE_TTL_S * 1000;
	uv_timer_start(&l->timer, on_expired, LOGIN_CODE_TTL_S * 1000, 0);
	l->ready = 1;
	if (l->flow == AGENT_FLOW_BROWSER)
		log_info("%s: login pending: waiting for the browser at %s",
			 acct->cfg.name, l->redirect_uri);
	else
		log_info("%s: login pending: waiting for the pasted redirect "
			 "to %s",
			 acct->cfg.name, l->redirect_uri);
	return 0;
}

static void on_discovered(void *arg, struct oauth_result *res)
{
	struct login *l = arg;
	struct account *acct = l->acct;
	char why[400], msg[600];
	int r;

	if (acct == NULL)
		return;
	if (res->cls != OAUTH_OK) {
		snprintf(msg, sizeof(msg), "%s: %s", acct->cfg.name,
			 res->message);
		login_finish(acct, res->err != 0 ? res->err : XO_ERR_HTTP, msg);
		return;
	}
	why[0] = '\0';
	if ((r = make_ready(acct, l, why, sizeof(why))) != 0) {
		snprintf(msg, sizeof(msg), "%s: cannot start the login: %s",
			 acct->cfg.name,
			 why[0] != '\0' ? why : proto_strerror(r));
		login_finish(acct, r, msg);
		return;
	}
	agent_waiters_wake(acct, 0);
}

int login_code_start(struct account *acct, struct login *l)
{
	char why[400] = "";
	int r;

	if (oauth_client_authorization_endpoint(acct->oauth) == NULL &&
	    oauth_client_needs_discovery(acct->oauth))
		r = oauth_discover(acct->oauth, on_discovered, l);
	else
		r = make_ready(acct, l, why, sizeof(why));
	if (r != 0)
		snprintf(acct->login_error, sizeof(acct->login_error),
			 "%s: cannot start the login: %s", acct->cfg.name,
			 why[0] != '\0' ? why : proto_strerror(r));
	return r;
}
