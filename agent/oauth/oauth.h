/*
 * oauth.h: OAuth 2.0 grants against a provider's token endpoint, and the
 * pure parsing and classification of its replies (DESIGN.md, "Refresh
 * policy").
 *
 * An oauth_client is made per account from its config.  It resolves the
 * endpoints (preset, explicit keys, or RFC 8414 / OpenID discovery from
 * `issuer`, fetched once and cached) and runs one operation at a time.
 * Secrets come in as struct agent_plain and leave as struct agent_plain;
 * the module wipes every copy it makes.
 */
#ifndef XO_OAUTH_H
#define XO_OAUTH_H

#include <stddef.h>

#include "config/config.h"
#include "oauth/http.h"
#include "oauth/pure/reply.h"
#include "secret/secret.h"

struct oauth_client;

/* Called once per started operation unless cancelled; res is owned by
 * the callee for the duration of the call only (take pointers out by
 * setting them to NULL). */
/* Both run from the loop, never inside the call that started the
 * operation, and after the client is idle again: a callback may start the
 * next operation or free the client.  oauth_device_cb gets dev only when
 * err is 0 (message is then ""); on failure dev is NULL and message says
 * what happened and what to do. */
typedef void (*oauth_token_cb)(void *arg, struct oauth_result *res);
typedef void (*oauth_device_cb)(void *arg, int err, const char *message,
				struct oauth_device *dev);

int oauth_client_new(struct agent_http *http,
		     const struct agent_account_cfg *cfg,
		     struct oauth_client **out);
/* Cancels a running operation (no callback) and frees. */
void oauth_client_free(struct oauth_client *c);

/*
 * The grants below and oauth_discover() each start one operation.  Each
 * returns 0, and then its callback runs once unless the operation is
 * cancelled, or an error, and then the callback never runs:
 * XO_ERR_INVALID when c or cb is NULL or an argument not said to be
 * optional is NULL or empty, XO_ERR_BUSY while another operation runs,
 * XO_ERR_NOMEM, or the error of starting the request.  The call copies
 * what it needs into wiped memory: the caller keeps (and frees) its
 * arguments, secrets too, as soon as the call returns.
 */

/* RFC 6749 6: grant_type=refresh_token.  client_secret may be NULL;
 * scope NULL asks for the account's own scopes, else for scope (another
 * resource the login consented to, such as Graph's Mail.Send). */
int oauth_refresh(struct oauth_client *c, const struct agent_plain *refresh,
		  const struct agent_plain *client_secret, const char *scope,
		  oauth_token_cb cb, void *arg);
/* RFC 6749 4.4: grant_type=client_credentials, the secret sent in the
 * form (client_secret_post), with the configured scopes.  No user and no
 * refresh token: the reply carries only an access token. */
int oauth_client_credentials(struct oauth_client *c,
			     const struct agent_plain *client_secret,
			     const char *scope, oauth_token_cb cb, void *arg);
/* RFC 8628 3.1: asks for a device code, for the login's scopes (the
 * account's, and the one its send transport needs: config.h,
 * agent_account_login_scopes()).  client_secret may be NULL.
 * XO_ERR_UNSUPPORTED_FLOW when the account has no device authorization
 * endpoint and none is to be discovered. */
int oauth_device_start(struct oauth_client *c,
		       const struct agent_plain *client_secret,
		       oauth_device_cb cb, void *arg);
/* RFC 8628 3.4: one poll of the token endpoint with the device code.
 * client_secret may be NULL. */
int oauth_device_poll(struct oauth_client *c, const struct agent_plain *code,
		      const struct agent_plain *client_secret,
		      oauth_token_cb cb, void *arg);
/*
 * RFC 6749 4.1.3 with PKCE (RFC 7636 4.5): trades an authorization code
 * for tokens; redirect_uri must be the one the authorization URL carried.
 * client_secret may be NULL.  invalid_grant (a code that is wrong, used or
 * expired) comes back as OAUTH_REAUTH.
 */
int oauth_code_exchange(struct oauth_client *c, const struct agent_plain *code,
			const struct agent_plain *verifier,
			const char *redirect_uri,
			const struct agent_plain *client_secret,
			oauth_token_cb cb, void *arg);
/* 1 while the endpoints wait for discovery from `issuer`. */
int oauth_client_needs_discovery(const struct oauth_client *c);
/* Fetches the discovery document only (for the authorization endpoint);
 * cb gets OAUTH_OK with no tokens, or the failure.  XO_ERR_INVALID when
 * no discovery is needed. */
int oauth_discover(struct oauth_client *c, oauth_token_cb cb, void *arg);
/* Cancels the running operation, if any; its callback is not called. */
void oauth_cancel(struct oauth_client *c);

/* The authorization endpoint (explicit, preset or discovered), or NULL
 * while unknown (discovery runs with the first operation). */
const char *oauth_client_authorization_endpoint(const struct oauth_client *c);

#endif
