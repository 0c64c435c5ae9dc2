/*
 * authz.h: the pure half of the authorization-code flows (browser and
 * paste; RFC 6749 4.1 with RFC 7636 PKCE and RFC 8252 loopback redirects):
 * building the authorization URL, planning the loopback redirect, and
 * reading what the provider's redirect brought back.
 *
 * URLs are taken apart and put together with libcurl's URL API and
 * decoded with curl_easy_unescape(); nothing here does I/O or keeps
 * globals, so the fuzzer and the unit tests call it directly.
 */
#ifndef XO_LOGIN_PURE_AUTHZ_H
#define XO_LOGIN_PURE_AUTHZ_H

#include <stddef.h>

#include "secret/buf.h"

/* The longest redirect URL or pasted line we read. */
#define AUTHZ_MAX_INPUT 8192
/* The longest authorization code accepted (Google documents 256 bytes;
   Microsoft's codes run to well over a thousand). */
#define AUTHZ_MAX_CODE 4096

struct authz_request {
	const char *endpoint; /* the authorization endpoint */
	const char *client_id;
	const char *redirect_uri;
	const char *scope; /* may be NULL */
	const char *state;
	const char *challenge;	/* S256 code_challenge */
	const char *login_hint; /* may be NULL */
	/* Extra parameters from the provider preset, "k=v&k=v" with values
	   needing no encoding; may be NULL. */
	const char *extra;
};

/*
 * Builds the authorization URL into *out (malloc'd, the caller frees).
 * 0, XO_ERR_INVALID (the endpoint is no URL; why says so) or XO_ERR_NOMEM.
 */
int authz_url_build(const struct authz_request *q, char **out, char *why,
		    size_t whylen);

/*
 * 1 when the scope list names offline_access: OpenID Connect Core 11
 * then asks for prompt=consent, without which oidc-provider (like other
 * OpenID providers) drops the scope and so the refresh token.
 */
int authz_scope_wants_consent(const char *scope);

/* Where the browser flow listens and which redirect_uri it sends. */
struct authz_loopback {
	int ipv6;      /* bind ::1 rather than 127.0.0.1 */
	unsigned port; /* 0: any free port */
	char *host;    /* as the redirect_uri spells it: "127.0.0.1", ... */
	char *path;    /* the path the provider redirects to, "/..." */
};

/*
 * Plans the loopback redirect from the account's redirect_uri (used when
 * it is http to 127.0.0.1, [::1] or localhost; ignored otherwise, as a
 * paste-flow URI) and redirect_port (0: none; a port in redirect_uri
 * wins).  0, XO_ERR_NOMEM.
 */
int authz_loopback_plan(const char *redirect_uri, unsigned redirect_port,
			struct authz_loopback *out);
void authz_loopback_cleanup(struct authz_loopback *lb);
/* "http://HOST:PORT/PATH" into *out (malloc'd); 0 or XO_ERR_NOMEM. */
int authz_loopback_uri(const struct authz_loopback *lb, unsigned port,
		       char **out);

/* What a redirect carried (RFC 6749 4.1.2 and 4.1.2.1). */
struct authz_response {
	char *code;		 /* a secret, in code_buf; or NULL */
	char *state;		 /* NULL when absent */
	char *error;		 /* NULL when absent */
	char *error_description; /* NULL when absent; printable ASCII */
	int bare;		 /* the input was a bare code, no URL */
	/* Where code lives, NUL-terminated: cleanup wipes it. */
	struct agent_buf code_buf;
};

void authz_response_cleanup(struct authz_response *r);

/*
 * Reads a redirect's query string (without the '?', still encoded: '+' is
 * a space and %XX a byte).  A parameter given twice, a decoded value with
 * a control byte, a code longer than AUTHZ_MAX_CODE, or a query with
 * neither code nor error is XO_ERR_INVALID with the reason in why.  *out
 * is initialised here; clean it up in every case.
 */
int authz_parse_query(const char *query, size_t len, struct authz_response *out,
		      char *why, size_t whylen);

/*
 * Reads what a user pasted back in the paste flow: the whole redirect URL,
 * its query alone ("code=...&state=..."), or a bare code; blanks around it
 * are ignored.  Errors as authz_parse_query().
 */
int authz_parse_pasted(const char *input, size_t len,
		       struct authz_response *out, char *why, size_t whylen);

#endif
