/*
 * reply.c: the pure half of oauth/ (reply.h).  Token and device authorization
 * replies are parsed with jansson and classified (DESIGN.md, "Refresh
 * policy"); nothing here does I/O or keeps state, so a fuzzer can link it
 * directly.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "oauth/pure/reply.h"
#include "secret/buf.h"
#include "secret/wipe_alloc.h"

/* Ten years: the longest device code life taken, short enough that
   deadline arithmetic cannot overflow.  (An access token's is capped at
   OAUTH_MAX_LIFETIME.) */
#define MAX_EXPIRES_IN (10L * 365L * 24L * 3600L)
/* How much of an unusable expires_in string a message quotes. */
#define QUOTE_SAID_MAX 24
#define DEFAULT_DEVICE_EXPIRES_IN 900L
#define DEFAULT_DEVICE_INTERVAL 5L
/* Quoted provider text: long enough for an AADSTS description's first
   sentence, short enough to leave room for our advice in message. */
#define QUOTE_ERROR_MAX 64
#define QUOTE_DESC_MAX 240
/* A run of this many token-like characters in quoted text is replaced:
   GUIDs (trace ids, 36) survive, tokens and codes (43 and up) do not, in
   case a provider echoes what it was sent. */
#define REDACT_RUN 40
#define MAX_EMAIL 320
#define MAX_USER_CODE 64
#define MAX_URI 2048
#define MAX_CODES 8

void oauth_result_init(struct oauth_result *r)
{
	memset(r, 0, sizeof(*r));
	r->cls = OAUTH_OK;
	r->retry_after = -1;
}

void oauth_result_cleanup(struct oauth_result *r)
{
	if (r == NULL)
		return;
	agent_plain_free(r->access_token);
	agent_plain_free(r->refresh_token);
	free(r->scope);
	free(r->email);
	oauth_result_init(r);
}

void oauth_device_cleanup(struct oauth_device *d)
{
	if (d == NULL)
		return;
	agent_plain_free(d->device_code);
	free(d->user_code);
	free(d->verification_uri);
	free(d->verification_uri_complete);
	memset(d, 0, sizeof(*d));
}

/* jansson's strings and lexer buffer hold the tokens of parsed replies:
   it allocates with the agent's wiping allocator. */
void oauth_json_init(void)
{
	json_set_alloc_funcs(agent_wipe_malloc, agent_wipe_free);
}

static int tokenish(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
	       c == '+' || c == '=';
}

/*
 * Copies provider text for a message: printable ASCII only, at most max
 * bytes (ending in "..." when cut), long token-like runs redacted.  dst
 * must have room for max + 1 bytes.
 */
static void quote_text(char *dst, size_t max, const char *src)
{
	static const char redacted[] = "[redacted]";
	size_t o = 0, i = 0, run, k;
	int cut = 0;

	while (src[i] != '\0') {
		if (tokenish((unsigned char)src[i])) {
			for (run = 0; tokenish((unsigned char)src[i + run]);
			     run++)
				;
			if (run >= REDACT_RUN) {
				if (o + sizeof(redacted) - 1 > max) {
					cut = 1;
					break;
				}
				memcpy(dst + o, redacted, sizeof(redacted) - 1);
				o += sizeof(redacted) - 1;
				i += run;
				continue;
			}
			for (k = 0; k < run && o < max; k++)
				dst[o++] = src[i++];
			if (k < run) {
				cut = 1;
				break;
			}
			continue;
		}
		if (o >= max) {
			cut = 1;
			break;
		}
		dst[o++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
		i++;
	}
	if (cut && max >= 3) {
		o = o < max - 3 ? o : max - 3;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

/* A copy of s if it is printable ASCII without spaces and at most max
   bytes long; NULL otherwise or when memory is short. */
static char *dup_plain_text(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max || s[i] <= 0x20 || s[i] >= 0x7f)
			return NULL;
	}
	if (i == 0)
		return NULL;
	return strdup(s);
}

/* Scope: printable ASCII, spaces allowed (RFC 6749 3.3). */
static char *dup_scope(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= MAX_URI || s[i] < 0x20 || s[i] >= 0x7f)
			return NULL;
	}
	return strdup(s);
}

/*
 * A JSON number or numeric string as a long.  MSAL coerces with int()
 * because "Some IdP returns string"; we do the same.  Returns 0 or -1.
 */
static int json_to_long(const json_t *v, long *out)
{
	const char *s;
	char *end;
	long l;
	double d;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < LONG_MIN || i > LONG_MAX)
			return -1;
		*out = (long)i;
		return 0;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (!isfinite(d) || d < (double)LONG_MIN ||
		    d > (double)LONG_MAX || d != floor(d))
			return -1;
		*out = (long)d;
		return 0;
	}
	if ((s = json_string_value(v)) == NULL || *s == '\0')
		return -1;
	errno = 0;
	l = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' ||
	    !(isdigit((unsigned char)s[0]) || s[0] == '-'))
		return -1;
	*out = l;
	return 0;
}

/*
 * expires_in (RFC 6749 5.1), leniently: an integer, an integral or
 * fractional number (cut to whole seconds), or a string of digits; what
 * cannot be a lifetime leaves the default with a note (reply.h, enum
 * oauth_lifetime).
 */
static void read_expires_in(const json_t *v, struct oauth_result *out)
{
	char q[QUOTE_SAID_MAX + 1];
	double d;
	long l = 0;
	int ok;

	out->expires_in = OAUTH_DEFAULT_LIFETIME;
	out->lifetime = OAUTH_LIFETIME_GIVEN;
	out->expires_in_said[0] = '\0';
	if (v == NULL || json_is_null(v)) {
		out->lifetime = OAUTH_LIFETIME_MISSING;
		snprintf(out->expires_in_said, sizeof(out->expires_in_said),
			 "missing");
		return;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		ok = isfinite(d) && d >= 1;
		if (ok)
			l = d >= (double)LONG_MAX ? LONG_MAX : (long)d;
	} else {
		ok = json_to_long(v, &l) == 0 && l > 0;
	}
	if (!ok) {
		out->lifetime = OAUTH_LIFETIME_UNUSABLE;
		if (json_is_integer(v))
			snprintf(out->expires_in_said,
				 sizeof(out->expires_in_said), "%lld",
				 (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(out->expires_in_said,
				 sizeof(out->expires_in_said), "%g",
				 json_real_value(v));
		else if (json_is_string(v)) {
			quote_text(q, QUOTE_SAID_MAX, json_string_value(v));
			snprintf(out->expires_in_said,
				 sizeof(out->expires_in_said), "\"%s\"", q);
		} else
			snprintf(out->expires_in_said,
				 sizeof(out->expires_in_said), "not a number");
		return;
	}
	if (l > OAUTH_MAX_LIFETIME) {
		out->lifetime = OAUTH_LIFETIME_CAPPED;
		snprintf(out->expires_in_said, sizeof(out->expires_in_said),
			 "%ld", l);
		l = OAUTH_MAX_LIFETIME;
	}
	out->expires_in = l;
}

const char *oauth_class_name(enum oauth_class cls)
{
	switch (cls) {
	case OAUTH_OK:
		return "ok";
	case OAUTH_TRANSIENT:
		return "transient";
	case OAUTH_REAUTH:
		return "reauth";
	case OAUTH_CONFIG:
		return "config";
	case OAUTH_PENDING:
		return "pending";
	case OAUTH_SLOW_DOWN:
		return "slow_down";
	case OAUTH_DENIED:
		return "denied";
	case OAUTH_EXPIRED:
		return "expired";
	}
	return "unknown";
}

static int class_err(enum oauth_class cls)
{
	switch (cls) {
	case OAUTH_OK:
		return 0;
	case OAUTH_TRANSIENT:
		return XO_ERR_HTTP;
	case OAUTH_REAUTH:
		return XO_ERR_LOGIN_NEEDED;
	case OAUTH_CONFIG:
		return XO_ERR_PROVIDER_CONFIG;
	case OAUTH_PENDING:
	case OAUTH_SLOW_DOWN:
		return XO_ERR_LOGIN_PENDING;
	case OAUTH_DENIED:
		return XO_ERR_LOGIN_DENIED;
	case OAUTH_EXPIRED:
		return XO_ERR_LOGIN_EXPIRED;
	}
	return XO_ERR_INTERNAL;
}

/* Drops whatever a half-parsed success left behind and records why the
   reply cannot be used. */
static void unusable(struct oauth_result *out, long status, const char *why)
{
	long retry_after = out->retry_after;

	oauth_result_cleanup(out);
	out->retry_after = retry_after;
	out->cls = OAUTH_TRANSIENT;
	out->err = XO_ERR_PROVIDER_REPLY;
	out->fault = OAUTH_FAULT_REPLY;
	snprintf(out->message, sizeof(out->message),
		 "the provider's reply (HTTP %ld) is unusable: %s", status,
		 why);
}

/* Why a body is not a JSON object, in words (never quoting the body: it
   may hold a token). */
static const char *not_json_reason(const char *body, size_t len,
				   const json_t *root)
{
	size_t i = 0;

	if (root != NULL)
		return "it is JSON but not an object";
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len)
		return "it is empty";
	if (body[i] == '<')
		return "it is an HTML page, not JSON (a proxy or a wrong "
		       "endpoint URL?)";
	return "it is not valid JSON";
}

/*
 * The e-mail address in an id_token.  The signature is not checked: the
 * token came straight from the token endpoint over a verified TLS
 * connection, which OpenID Connect Core 3.1.3.7 accepts in place of a
 * signature check, and the address only names the account for people (it
 * grants nothing).
 */
static char *id_token_email(const char *jwt, size_t len)
{
	const char *p1, *p2, *email = NULL;
	/* The decoded claims: the token's payload, wiped as the token is. */
	struct agent_buf bin;
	unsigned char *t;
	size_t seglen, room, binlen = 0;
	json_t *claims = NULL;
	char *r = NULL;

	/* Room for any part of jwt, decoded. */
	agent_buf_init(&bin, len / 4 * 3 + 3);
	if ((p1 = memchr(jwt, '.', len)) == NULL)
		goto out;
	p1++;
	if ((p2 = memchr(p1, '.', len - (size_t)(p1 - jwt))) == NULL)
		goto out;
	seglen = (size_t)(p2 - p1);
	/* JWTs carry no padding, but a lenient issuer might add some. */
	while (seglen > 0 && p1[seglen - 1] == '=')
		seglen--;
	if (seglen == 0)
		goto out;
	if (agent_buf_reserve(&bin, seglen / 4 * 3 + 3) != 0)
		goto out;
	t = agent_buf_tail(&bin, &room);
	if (sodium_base642bin(t, room, p1, seglen, NULL, &binlen, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		goto out;
	agent_buf_advance(&bin, binlen);
	if ((claims = json_loadb((const char *)bin.data, bin.len, 0, NULL)) ==
		NULL ||
	    !json_is_object(claims))
		goto out;
	email = json_string_value(json_object_get(claims, "email"));
	if (email == NULL) {
		/* Microsoft puts the sign-in address here; elsewhere it may
		   be a bare user name, which is no e-mail address. */
		email = json_string_value(
		    json_object_get(claims, "preferred_username"));
		if (email != NULL && strchr(email, '@') == NULL)
			email = NULL;
	}
	if (email != NULL)
		r = dup_plain_text(email, MAX_EMAIL);
out:
	json_decref(claims);
	agent_buf_cleanup(&bin);
	return r;
}

static void parse_success(long status, const json_t *root,
			  struct oauth_result *out)
{
	const json_t *v;
	const char *s;
	char why[160];
	char q[QUOTE_ERROR_MAX + 1];

	v = json_object_get(root, "access_token");
	if (v == NULL) {
		unusable(out, status, "it has no access_token");
		return;
	}
	if ((s = json_string_value(v)) == NULL || json_string_length(v) == 0) {
		unusable(out, status, "access_token is not a non-empty string");
		return;
	}
	if (agent_plain_dup(s, json_string_length(v), &out->access_token) != 0)
		goto nomem;

	if ((v = json_object_get(root, "token_type")) != NULL) {
		if ((s = json_string_value(v)) == NULL) {
			unusable(out, status, "token_type is not a string");
			return;
		}
		if (strcasecmp(s, "bearer") != 0) {
			quote_text(q, QUOTE_ERROR_MAX, s);
			snprintf(why, sizeof(why),
				 "token_type \"%s\" is not Bearer", q);
			unusable(out, status, why);
			return;
		}
	}

	read_expires_in(json_object_get(root, "expires_in"), out);

	/* Absent (or empty) means "keep the refresh token you have". */
	if ((v = json_object_get(root, "refresh_token")) != NULL &&
	    !json_is_null(v)) {
		if ((s = json_string_value(v)) == NULL) {
			unusable(out, status, "refresh_token is not a string");
			return;
		}
		if (json_string_length(v) > 0 &&
		    agent_plain_dup(s, json_string_length(v),
				    &out->refresh_token) != 0)
			goto nomem;
	}

	if ((s = json_string_value(json_object_get(root, "scope"))) != NULL)
		out->scope = dup_scope(s);

	v = json_object_get(root, "id_token");
	if ((s = json_string_value(v)) != NULL)
		out->email = id_token_email(s, json_string_length(v));

	out->cls = OAUTH_OK;
	out->err = 0;
	snprintf(out->message, sizeof(out->message), "token issued");
	return;
nomem:
	unusable(out, status, "out of memory");
	out->err = XO_ERR_NOMEM;
}

struct aadsts_rule {
	long code;
	enum oauth_class cls;
	const char *advice;
};

/* providers.md 2.9; the error_codes numbers are what to key on. */
static const struct aadsts_rule aadsts_rules[] = {
    {700082, OAUTH_REAUTH,
     "the refresh token expired after a long time unused: log in again"},
    {50173, OAUTH_REAUTH,
     "the grant was revoked (password change or administrator): log in "
     "again"},
    {70000, OAUTH_REAUTH, "the refresh token is not valid: log in again"},
    {70008, OAUTH_REAUTH,
     "the refresh token expired or was revoked: log in again"},
    {70043, OAUTH_REAUTH,
     "Conditional Access sign-in frequency requires a new sign-in: log "
     "in again"},
    {50076, OAUTH_REAUTH,
     "multi-factor authentication is required: log in again"},
    {50078, OAUTH_REAUTH,
     "the multi-factor authentication expired: log in again"},
    {50079, OAUTH_REAUTH,
     "multi-factor authentication enrolment is required: log in again"},
    {65001, OAUTH_REAUTH,
     "the app has no consent for these scopes: log in again and grant "
     "it"},
    {700025, OAUTH_CONFIG,
     "the app is a public client: remove client_secret from the config"},
    {7000218, OAUTH_CONFIG,
     "enable 'Allow public client flows' in the app registration or "
     "configure client_secret"},
    {700016, OAUTH_CONFIG,
     "client_id not found in that tenant: check client_id and tenant "
     "(or make the app multi-tenant)"},
    {7000215, OAUTH_CONFIG,
     "the client secret is wrong: check client_secret (its value, not "
     "its id)"},
    {7000222, OAUTH_CONFIG,
     "the client secret expired: create a new one in the app "
     "registration"},
    {90094, OAUTH_CONFIG,
     "an administrator must grant consent to the app in the tenant"},
    {90095, OAUTH_CONFIG,
     "an administrator must grant consent to the app in the tenant"},
    {50196, OAUTH_TRANSIENT,
     "the provider saw too many identical requests: will retry later"},
    {90033, OAUTH_TRANSIENT,
     "the provider is temporarily unavailable: will retry"},
    {90024, OAUTH_TRANSIENT,
     "the provider is temporarily unavailable: will retry"},
    {50033, OAUTH_TRANSIENT, "the provider had a transient error: will retry"},
    {70012, OAUTH_TRANSIENT, "the provider had a transient error: will retry"},
};

struct error_rule {
	const char *error;
	enum oauth_class cls;
	const char *advice;
};

/* RFC 6749 5.2 and RFC 8628 3.5, plus Microsoft's device flow names. */
static const struct error_rule error_rules[] = {
    {"invalid_grant", OAUTH_REAUTH,
     "the provider no longer accepts the grant: log in again"},
    {"invalid_client", OAUTH_CONFIG,
     "the provider does not accept the client: check client_id and "
     "client_secret (a public client sends no secret)"},
    {"unauthorized_client", OAUTH_CONFIG,
     "the client may not use this grant: check the app registration "
     "(the device flow needs public client flows enabled)"},
    {"invalid_scope", OAUTH_CONFIG,
     "the provider refused the scopes: check scopes in the config "
     "(Google allows no device flow for https://mail.google.com/: use "
     "flow = browser or paste)"},
    {"unsupported_grant_type", OAUTH_CONFIG,
     "the provider does not support this grant: choose another flow"},
    {"authorization_pending", OAUTH_PENDING,
     "the user has not finished logging in yet"},
    {"slow_down", OAUTH_SLOW_DOWN, "the provider asks to poll less often"},
    {"access_denied", OAUTH_DENIED, "the login was denied"},
    {"authorization_declined", OAUTH_DENIED, "the login was declined"},
    {"expired_token", OAUTH_EXPIRED,
     "the login code expired: start the login again"},
    {"bad_verification_code", OAUTH_EXPIRED,
     "the provider does not know the login code: start the login again"},
    {"temporarily_unavailable", OAUTH_TRANSIENT,
     "the provider is temporarily unavailable: will retry"},
    {"server_error", OAUTH_TRANSIENT,
     "the provider had an internal error: will retry"},
};

/* AADSTS numbers from error_codes[] and from "AADSTS<digits>" in the
   description; returns how many were found. */
static size_t aadsts_codes(const json_t *root, const char *desc,
			   long codes[MAX_CODES])
{
	const json_t *arr, *v;
	const char *p;
	char *end;
	size_t n = 0, i;
	long l;

	arr = json_object_get(root, "error_codes");
	if (json_is_array(arr)) {
		json_array_foreach(arr, i, v)
		{
			if (n < MAX_CODES && json_to_long(v, &l) == 0)
				codes[n++] = l;
		}
	}
	for (p = desc; p != NULL && n < MAX_CODES;) {
		if ((p = strstr(p, "AADSTS")) == NULL)
			break;
		p += 6;
		if (!isdigit((unsigned char)*p))
			continue;
		errno = 0;
		l = strtol(p, &end, 10);
		if (errno == 0)
			codes[n++] = l;
		p = end;
	}
	return n;
}

static void set_class(struct oauth_result *out, enum oauth_class cls,
		      const char *advice, const char *qerr, const char *qdesc)
{
	out->cls = cls;
	out->err = class_err(cls);
	if (qdesc[0] != '\0')
		snprintf(out->message, sizeof(out->message),
			 "%s (provider: %s: \"%s\")", advice, qerr, qdesc);
	else
		snprintf(out->message, sizeof(out->message),
			 "%s (provider: %s)", advice, qerr);
}

/* An RFC 6749 5.2 error object. */
static void classify_error(long status, const json_t *root,
			   struct oauth_result *out)
{
	const char *error, *desc;
	char qerr[QUOTE_ERROR_MAX + 1], qdesc[QUOTE_DESC_MAX + 1];
	char advice[160];
	long codes[MAX_CODES];
	size_t n, i, k;

	error = json_string_value(json_object_get(root, "error"));
	desc = json_string_value(json_object_get(root, "error_description"));
	quote_text(qerr, QUOTE_ERROR_MAX, error != NULL ? error : "");
	quote_text(qdesc, QUOTE_DESC_MAX, desc != NULL ? desc : "");

	/* The AADSTS number is more precise than the generic error name
	   (65001 and 50076 arrive as invalid_grant, 700025 as
	   invalid_client), so it decides first. */
	n = aadsts_codes(root, desc, codes);
	/* Worth a fresh secret: invalid_client and Microsoft's "wrong" or
	   "expired secret"; not a public client told to send none. */
	out->client_rejected =
	    error != NULL && strcmp(error, "invalid_client") == 0;
	for (i = 0; i < n; i++) {
		if (codes[i] == 7000215 || codes[i] == 7000222)
			out->client_rejected = 1;
		else if (codes[i] == 700025 || codes[i] == 7000218)
			out->client_rejected = 0;
	}
	/* Kept raw for `xoauth doctor`, which explains them at length. */
	out->aadsts = n > 0 ? codes[0] : 0;
	snprintf(out->error, sizeof(out->error), "%s", qerr);
	for (i = 0; i < n; i++) {
		for (k = 0; k < sizeof(aadsts_rules) / sizeof(aadsts_rules[0]);
		     k++) {
			if (aadsts_rules[k].code != codes[i])
				continue;
			set_class(out, aadsts_rules[k].cls,
				  aadsts_rules[k].advice, qerr, qdesc);
			return;
		}
	}
	if (error != NULL) {
		for (k = 0; k < sizeof(error_rules) / sizeof(error_rules[0]);
		     k++) {
			if (strcmp(error_rules[k].error, error) != 0)
				continue;
			set_class(out, error_rules[k].cls,
				  error_rules[k].advice, qerr, qdesc);
			return;
		}
	}
	if (status == 408 || status == 429 || status >= 500) {
		snprintf(advice, sizeof(advice),
			 "the provider answered HTTP %ld: will retry", status);
		set_class(out, OAUTH_TRANSIENT, advice, qerr, qdesc);
		return;
	}
	snprintf(advice, sizeof(advice),
		 "the provider refused the request (HTTP %ld): check the "
		 "account's settings",
		 status);
	set_class(out, OAUTH_CONFIG, advice, qerr, qdesc);
}

void oauth_parse_token_reply(long http_status, const char *body, size_t len,
			     long retry_after_hdr, struct oauth_result *out)
{
	json_t *root = NULL;
	const char *error;

	oauth_result_init(out);
	out->retry_after = retry_after_hdr;
	if (body == NULL) {
		body = "";
		len = 0;
	}
	root = json_loadb(body, len, 0, NULL);
	error = json_is_object(root)
		    ? json_string_value(json_object_get(root, "error"))
		    : NULL;

	if (http_status >= 200 && http_status < 300) {
		if (!json_is_object(root))
			unusable(out, http_status,
				 not_json_reason(body, len, root));
		else if (error != NULL &&
			 json_object_get(root, "access_token") == NULL)
			/* GitHub and others answer device polls with 200 and
			   an error object. */
			classify_error(http_status, root, out);
		else
			parse_success(http_status, root, out);
	} else if (http_status >= 400 && http_status < 600 && error != NULL) {
		classify_error(http_status, root, out);
	} else if (http_status == 408 || http_status == 429 ||
		   http_status >= 500) {
		out->cls = OAUTH_TRANSIENT;
		out->err = XO_ERR_HTTP;
		snprintf(out->message, sizeof(out->message),
			 "the provider answered HTTP %ld: will retry",
			 http_status);
	} else if (http_status == 401) {
		/* A bare 401 (a Basic challenge, no error object) is about
		   the client's credentials; retrying cannot fix it. */
		out->cls = OAUTH_CONFIG;
		out->err = XO_ERR_PROVIDER_CONFIG;
		out->client_rejected = 1;
		snprintf(out->message, sizeof(out->message),
			 "the endpoint refused the client (HTTP 401): check "
			 "client_id and client_secret");
	} else if (http_status == 404 || http_status == 405 ||
		   http_status == 410) {
		out->cls = OAUTH_CONFIG;
		out->err = XO_ERR_PROVIDER_CONFIG;
		snprintf(out->message, sizeof(out->message),
			 "the endpoint answered HTTP %ld: check the endpoint "
			 "URLs (or issuer) in the config",
			 http_status);
	} else if (http_status >= 300 && http_status < 400) {
		oauth_redirect_refused(out, http_status, NULL);
	} else if (http_status >= 400 && http_status < 500) {
		unusable(out, http_status,
			 json_is_object(root)
			     ? "it has no error field"
			     : not_json_reason(body, len, root));
	} else {
		out->cls = OAUTH_TRANSIENT;
		out->err = XO_ERR_HTTP;
		snprintf(out->message, sizeof(out->message),
			 "no usable HTTP reply (status %ld)", http_status);
	}
	json_decref(root);
}

/* A host name or address as curl's URL parser gives it: worth quoting. */
static int plain_host(const char *h)
{
	size_t i;

	for (i = 0; h[i] != '\0'; i++)
		if (i >= 253 ||
		    !(isalnum((unsigned char)h[i]) || h[i] == '.' ||
		      h[i] == '-' || h[i] == ':' || h[i] == '[' || h[i] == ']'))
			return 0;
	return i > 0;
}

void oauth_redirect_refused(struct oauth_result *out, long status,
			    const char *host)
{
	char to[300] = "";
	/* 301 and 308 say the endpoint moved for good: only a new URL in
	   the config helps.  The others may pass, so they are retried. */
	int moved = status == 301 || status == 308;

	if (host != NULL && plain_host(host))
		snprintf(to, sizeof(to), " to %s", host);
	out->cls = moved ? OAUTH_CONFIG : OAUTH_TRANSIENT;
	out->err = moved ? XO_ERR_PROVIDER_CONFIG : XO_ERR_HTTP;
	out->fault = OAUTH_FAULT_REDIRECT;
	snprintf(out->message, sizeof(out->message),
		 "the token endpoint redirects (HTTP %ld)%s, and the redirect "
		 "is refused: it would carry the refresh token with it; if "
		 "the provider moved the endpoint, set token_endpoint to its "
		 "new URL",
		 status, to);
}

int oauth_parse_device_reply(long http_status, const char *body, size_t len,
			     struct oauth_device *out, char *why, size_t whylen)
{
	json_t *root = NULL;
	const json_t *v;
	const char *s;
	long l;
	int r = XO_ERR_PROVIDER_REPLY;

	memset(out, 0, sizeof(*out));
	if (whylen > 0)
		why[0] = '\0';
	if (body == NULL) {
		body = "";
		len = 0;
	}
	if (http_status < 200 || http_status >= 300) {
		snprintf(why, whylen,
			 "the device authorization endpoint answered HTTP %ld",
			 http_status);
		goto out;
	}
	root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root)) {
		snprintf(why, whylen, "the device authorization reply: %s",
			 not_json_reason(body, len, root));
		goto out;
	}

	v = json_object_get(root, "device_code");
	if ((s = json_string_value(v)) == NULL || json_string_length(v) == 0) {
		snprintf(why, whylen,
			 "the device authorization reply has "
			 "no device_code");
		goto out;
	}
	if (agent_plain_dup(s, json_string_length(v), &out->device_code) != 0) {
		snprintf(why, whylen, "out of memory");
		r = XO_ERR_NOMEM;
		goto out;
	}

	s = json_string_value(json_object_get(root, "user_code"));
	if (s == NULL ||
	    (out->user_code = dup_plain_text(s, MAX_USER_CODE)) == NULL) {
		snprintf(why, whylen,
			 "the device authorization reply has "
			 "no usable user_code");
		goto out;
	}

	/* RFC 8628 says verification_uri; Google says verification_url. */
	s = json_string_value(json_object_get(root, "verification_uri"));
	if (s == NULL)
		s = json_string_value(
		    json_object_get(root, "verification_url"));
	if (s == NULL ||
	    (out->verification_uri = dup_plain_text(s, MAX_URI)) == NULL) {
		snprintf(why, whylen,
			 "the device authorization reply has "
			 "no usable verification_uri");
		goto out;
	}
	/* Optional: a bad one is dropped, the plain URI still works. */
	s = json_string_value(
	    json_object_get(root, "verification_uri_complete"));
	if (s != NULL)
		out->verification_uri_complete = dup_plain_text(s, MAX_URI);

	out->expires_in = DEFAULT_DEVICE_EXPIRES_IN;
	if ((v = json_object_get(root, "expires_in")) != NULL &&
	    !json_is_null(v)) {
		if (json_to_long(v, &l) != 0 || l <= 0 || l > MAX_EXPIRES_IN) {
			snprintf(why, whylen,
				 "the device authorization "
				 "reply's expires_in is unusable");
			goto out;
		}
		out->expires_in = l;
	}
	/* oidc-provider omits interval; RFC 8628 3.2 says 5 s then.  A zero
	   or negative one would make us hammer the endpoint. */
	out->interval = DEFAULT_DEVICE_INTERVAL;
	if ((v = json_object_get(root, "interval")) != NULL &&
	    !json_is_null(v)) {
		if (json_to_long(v, &l) != 0) {
			snprintf(why, whylen,
				 "the device authorization "
				 "reply's interval is not a "
				 "number");
			goto out;
		}
		if (l >= 1 && l <= out->expires_in)
			out->interval = l;
	}
	r = 0;
out:
	json_decref(root);
	if (r != 0)
		oauth_device_cleanup(out);
	return r;
}
