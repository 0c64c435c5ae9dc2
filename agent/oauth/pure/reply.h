/*
 * reply.h: the pure half of oauth/: parsing and classifying a provider's
 * replies (RFC 6749 5.1 and 5.2, RFC 8628 3.2; DESIGN.md, "Refresh
 * policy").  No I/O, no globals but jansson's allocator; the fuzzer and the
 * unit tests call it directly.
 */
#ifndef XO_OAUTH_PURE_REPLY_H
#define XO_OAUTH_PURE_REPLY_H

#include <stddef.h>

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

/*
 * What a token reply's expires_in was worth (xoauth-agent(1), REFRESH).
 * RFC 6749 5.1 only recommends it, so a reply without one still grants a
 * token; so does one whose expires_in is garbled (0, negative, not a
 * number): refusing it would throw away the new refresh token it may carry,
 * and with a rotating one the old is already spent.  Either way the
 * lifetime is unknown and the account plans with a default.  A lifetime
 * over a day is planned as a day, so that the agent keeps refreshing at a
 * sane pace whatever a provider claims.
 */
enum oauth_lifetime {
	OAUTH_LIFETIME_GIVEN = 0, /* expires_in as the reply said */
	OAUTH_LIFETIME_MISSING,	  /* none: OAUTH_DEFAULT_LIFETIME */
	OAUTH_LIFETIME_UNUSABLE,  /* 0, negative, not a number: the same */
	OAUTH_LIFETIME_CAPPED,	  /* over OAUTH_MAX_LIFETIME: that */
};

/* An hour: what every mail provider issues, and RFC 6749 gives none. */
#define OAUTH_DEFAULT_LIFETIME 3600L
/* A day: no mail provider's access token lives longer but Yandex's (a
   year), and a daily refresh costs nothing. */
#define OAUTH_MAX_LIFETIME 86400L

/*
 * What went wrong on the way to a reply, as far as the remedy differs
 * (`xoauth doctor` picks its advice by it).  Transfers and replies set it;
 * the provider's own error replies leave it NONE.
 */
enum oauth_fault {
	OAUTH_FAULT_NONE = 0,
	OAUTH_FAULT_NETWORK,  /* no connection: DNS, refused, unreachable */
	OAUTH_FAULT_TLS,      /* the endpoint's certificate was refused */
	OAUTH_FAULT_RESET,    /* the connection broke in the middle */
	OAUTH_FAULT_TIMEOUT,  /* no complete reply in time */
	OAUTH_FAULT_REDIRECT, /* a redirect, which is never followed */
	OAUTH_FAULT_REPLY,    /* a reply we cannot use (not JSON, too large) */
};

struct oauth_result {
	enum oauth_class cls;
	int err;	   /* 0 or the XO_ERR_* that matches cls */
	char message[512]; /* for people: what happened and what to do;
			      never holds a secret */
	long retry_after;  /* seconds, -1 when the reply gave none */
	enum oauth_fault fault;
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
	/* Seconds to plan the access token's life with, in
	   [1, OAUTH_MAX_LIFETIME]; lifetime says how it was found, and
	   expires_in_said, when it is not GIVEN, what the reply had (for
	   people: "missing", "0", "\"soon\"", "315360000"). */
	long expires_in;
	enum oauth_lifetime lifetime;
	char expires_in_said[40];
	char *scope; /* granted scope, may be NULL */
	char *email; /* from the id_token (email, preferred_username) */
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
 * number or string (see enum oauth_lifetime for one that is missing or
 * unusable), refresh_token optional.  A reply without access_token, with
 * a token_type other than Bearer, or that is not JSON is OAUTH_TRANSIENT
 * with err XO_ERR_PROVIDER_REPLY and a reason in message.  A redirect is
 * never followed: 301 and 308 (moved for good) are OAUTH_CONFIG, the
 * others OAUTH_TRANSIENT, fault OAUTH_FAULT_REDIRECT.
 * retry_after_hdr is the Retry-After value (-1 if none).
 */
void oauth_parse_token_reply(long http_status, const char *body, size_t len,
			     long retry_after_hdr, struct oauth_result *out);

/*
 * Makes out the refusal of a redirect (HTTP status 3xx) to host (NULL or
 * "" when unknown; only a plain host name or address is quoted):
 * class, error, fault and message, as oauth_parse_token_reply() does
 * without a host.
 */
void oauth_redirect_refused(struct oauth_result *out, long status,
			    const char *host);

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

#endif
