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
#ifndef XO_AGENT_OAUTH_H
#define XO_AGENT_OAUTH_H

#include <stddef.h>

#include "config/config.h"
#include "oauth/http.h"
#include "secret/secret.h"

/* How a failed grant is to be handled. */
enum oauth_class {
	OAUTH_OK = 0,
	OAUTH_TRANSIENT, /* network, timeout, 408/429/5xx: retry later */
	OAUTH_REAUTH,	 /* invalid_grant and friends: the user must log in */
	OAUTH_CONFIG,	 /* invalid_client, invalid_scope, ...: fix config */
	OAUTH_PENDING,	 /* device flow: authorization_pending */
	OAUTH_SLOW_DOWN, /* device flow: slow_down */
	OAUTH_DENIED,	 /* device flow: access_denied */
	OAUTH_EXPIRED,	 /* device flow: expired_token */
};

struct oauth_result {
	enum oauth_class cls;
	int err;	   /* 0 or the XO_ERR_* that matches cls */
	char message[512]; /* for people: what happened and what to do;
			      never holds a secret */
	long retry_after;  /* seconds, -1 when the reply gave none */
	/* The provider refused the client's own credentials (invalid_client,
	   AADSTS 7000215/7000222, or a bare 401): a secret from
	   client_secret_cmd may have changed, so it is worth fetching again
	   before calling the config wrong. */
	int client_rejected;
	long aadsts;	/* the first AADSTS number of an error, 0: none */
	char error[48]; /* the error reply's "error" name, "": none */
	/* Owned by the result; NULL when absent.  Freed by
	   oauth_result_cleanup() unless taken (set to NULL). */
	struct agent_plain *access_token;
	struct agent_plain *refresh_token;
	long expires_in; /* seconds; 3600 when the reply gave none */
	char *scope;	 /* granted scope, may be NULL */
	char *email;	 /* from the id_token (email, preferred_username) */
};

void oauth_result_init(struct oauth_result *r);
void oauth_result_cleanup(struct oauth_result *r);

/* A short name for logs: "ok", "transient", "reauth", "config", ... */
const char *oauth_class_name(enum oauth_class cls);

/*
 * Makes jansson wipe every block it frees (parsed replies hold tokens in
 * jansson's strings and lexer buffer).  Sets jansson's process-wide
 * allocator: call once at start-up, before anything uses jansson, like
 * agent_log_init().  Optional: without it parsing works, unwiped.
 */
void oauth_json_init(void);

/*
 * Parses a token endpoint reply (RFC 6749 5.1 / 5.2) and classifies it.
 * *out is initialised here (pass a fresh or cleaned-up result; the caller
 * frees it with oauth_result_cleanup()).
 * Lenient where the design says so: token_type in any case, expires_in as
 * number or string, refresh_token optional.  A reply without access_token,
 * with a token_type other than Bearer, or that is not JSON is
 * OAUTH_TRANSIENT with err XO_ERR_PROVIDER_REPLY and a reason in message.
 * retry_after_hdr is the Retry-After value (-1 if none).
 */
void oauth_parse_token_reply(long http_status, const char *body, size_t len,
			     long retry_after_hdr, struct oauth_result *out);

/* Device authorization reply (RFC 8628 3.2). */
struct oauth_device {
	struct agent_plain *device_code;
	char *user_code;
	char *verification_uri;		 /* or Google's verification_url */
	char *verification_uri_complete; /* may be NULL */
	long expires_in;		 /* default 900 */
	long interval;			 /* default 5 (RFC 8628) */
};

void oauth_device_cleanup(struct oauth_device *d);
/* Pure: parses a device authorization reply; 0 or XO_ERR_PROVIDER_REPLY
 * with the reason in why. */
int oauth_parse_device_reply(long http_status, const char *body, size_t len,
			     struct oauth_device *out, char *why,
			     size_t whylen);

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

/* RFC 6749 6: grant_type=refresh_token.  client_secret may be NULL. */
int oauth_refresh(struct oauth_client *c, const struct agent_plain *refresh,
		  const struct agent_plain *client_secret, oauth_token_cb cb,
		  void *arg);
/* RFC 6749 4.4: grant_type=client_credentials, the secret sent in the
 * form (client_secret_post), with the configured scopes.  No user and no
 * refresh token: the reply carries only an access token. */
int oauth_client_credentials(struct oauth_client *c,
			     const struct agent_plain *client_secret,
			     oauth_token_cb cb, void *arg);
/* RFC 8628 3.1: asks for a device code.  client_secret may be NULL.
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
