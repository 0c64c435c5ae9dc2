/*
 * grant.c: OAuth 2.0 grants for one account over agent_http (the I/O half
 * of oauth.h; replies are parsed in pure/reply.c).
 *
 * A client runs one operation at a time.  When the account has only an
 * issuer, the first operation first fetches the discovery document
 * (OpenID Connect Discovery, then RFC 8414) and caches the endpoints.
 * Request forms hold secrets: they are built in sodium_malloc memory and
 * every intermediate copy is wiped.  As in libuv, a call that returns an
 * error never fires its callback, and a callback never runs before the
 * call that started it has returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "core/log.h"
#include "oauth/oauth.h"

#define MAX_URL 2048
#define FORM_FIELDS 8

enum op {
	OP_NONE = 0,
	OP_REFRESH,
	OP_DEVICE_START,
	OP_DEVICE_POLL,
	OP_CLIENT_CREDENTIALS,
	OP_CODE,     /* authorization code exchange */
	OP_DISCOVER, /* discovery alone, before an authorization URL */
};

enum phase {
	PHASE_MAIN = 0,
	PHASE_OIDC,    /* {issuer}/.well-known/openid-configuration */
	PHASE_RFC8414, /* RFC 8414 3: well-known segment before the path */
};

struct oauth_client {
	struct agent_http *http;
	/* Copies of the config, so a reloaded config cannot pull strings
	   from under a running operation. */
	char *name;
	char *client_id;
	char *scopes;	    /* may be NULL */
	char *login_scopes; /* what a login asks for; may be NULL */
	char *ca_file;	    /* may be NULL */
	char *issuer;	    /* without a trailing '/'; may be NULL */
	char *token_ep;	    /* NULL until discovered */
	char *device_ep;
	char *authz_ep;
	int need_discovery;

	/* The running operation. */
	enum op op;
	enum phase phase;
	struct agent_http_xfer *xfer;
	struct agent_plain *form; /* kept while discovery runs */
	oauth_token_cb token_cb;
	oauth_device_cb device_cb;
	void *arg;
};

struct form {
	const char *key[FORM_FIELDS];
	char *esc[FORM_FIELDS]; /* curl_easy_escape()d values */
	size_t n;
};

static const char *op_name(enum op op)
{
	switch (op) {
	case OP_REFRESH:
		return "refresh";
	case OP_DEVICE_START:
		return "device authorization";
	case OP_DEVICE_POLL:
		return "device poll";
	case OP_CLIENT_CREDENTIALS:
		return "client credentials";
	case OP_CODE:
		return "code exchange";
	case OP_DISCOVER:
		return "discovery";
	case OP_NONE:
		break;
	}
	return "none";
}

static void form_clear(struct form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		sodium_memzero(f->esc[i], strlen(f->esc[i]));
		curl_free(f->esc[i]);
		f->esc[i] = NULL;
	}
	f->n = 0;
}

static int form_add(struct form *f, const char *key, const char *val,
		    size_t len)
{
	if (f->n >= FORM_FIELDS || len > 65536)
		return XO_ERR_INVALID;
	/* curl_easy_escape() ignores its handle since 7.82; it encodes all
	   but RFC 3986 unreserved characters, which form decoding accepts. */
	if ((f->esc[f->n] = curl_easy_escape(NULL, val, (int)len)) == NULL)
		return XO_ERR_NOMEM;
	f->key[f->n++] = key;
	return 0;
}

/* key=value&... into sodium_malloc memory. */
static int form_build(const struct form *f, struct agent_plain **out)
{
	struct agent_plain *p = NULL;
	size_t total = 0, i, o = 0, kl, vl;
	int r;

	*out = NULL;
	for (i = 0; i < f->n; i++)
		total += strlen(f->key[i]) + 1 + strlen(f->esc[i]) + 1;
	if ((r = agent_plain_new(total, &p)) != 0)
		return r;
	for (i = 0; i < f->n; i++) {
		kl = strlen(f->key[i]);
		vl = strlen(f->esc[i]);
		if (i > 0)
			p->data[o++] = '&';
		memcpy(p->data + o, f->key[i], kl);
		o += kl;
		p->data[o++] = '=';
		memcpy(p->data + o, f->esc[i], vl);
		o += vl;
	}
	p->data[o] = '\0';
	p->len = o;
	*out = p;
	return 0;
}

/* Forgets the running operation; the http transfer must be gone. */
static void op_reset(struct oauth_client *c)
{
	agent_plain_free(c->form);
	c->form = NULL;
	c->xfer = NULL;
	c->op = OP_NONE;
	c->phase = PHASE_MAIN;
	c->token_cb = NULL;
	c->device_cb = NULL;
	c->arg = NULL;
}

/*
 * Ends the running operation and reports res to its callback: all of it to
 * a token callback; res->err and res->message, or dev when res->err is 0,
 * to a device callback.  The state is cleared before the callback runs, so
 * the callback may start the next operation or free the client; nothing
 * touches c afterwards.  res is cleaned up here; dev stays the caller's.
 */
static void op_end(struct oauth_client *c, struct oauth_result *res,
		   struct oauth_device *dev)
{
	oauth_token_cb tcb = c->token_cb;
	oauth_device_cb dcb = c->device_cb;
	void *arg = c->arg;

	op_reset(c);
	if (dcb != NULL)
		dcb(arg, res->err, res->err == 0 ? "" : res->message,
		    res->err == 0 ? dev : NULL);
	else
		tcb(arg, res);
	oauth_result_cleanup(res);
}

/* Ends the running operation with a failure (err is not 0), as op_end. */
static void op_fail(struct oauth_client *c, enum oauth_class cls, int err,
		    const char *message, long retry_after)
{
	struct oauth_result res;

	log_debug("oauth %s: %s failed: %s", c->name, op_name(c->op),
		  oauth_class_name(cls));
	oauth_result_init(&res);
	res.cls = cls;
	res.err = err;
	res.retry_after = retry_after;
	snprintf(res.message, sizeof(res.message), "%s", message);
	op_end(c, &res, NULL);
}

static void on_main_done(void *arg, const struct agent_http_resp *resp);
static void on_discovery_done(void *arg, const struct agent_http_resp *resp);

/* Where op posts its form; NULL while unknown. */
static const char *main_url(const struct oauth_client *c, enum op op)
{
	return op == OP_DEVICE_START ? c->device_ep : c->token_ep;
}

static int start_main(struct oauth_client *c)
{
	struct agent_http_req req;
	int r;

	/* Discovery may find no device endpoint: a flow the provider does not
	   offer.  The token endpoint is always known by now. */
	if (main_url(c, c->op) == NULL)
		return XO_ERR_UNSUPPORTED_FLOW;
	memset(&req, 0, sizeof(req));
	req.url = main_url(c, c->op);
	req.form = c->form->data;
	req.form_len = c->form->len;
	req.ca_file = c->ca_file;
	c->phase = PHASE_MAIN;
	log_debug("oauth %s: %s: POST %s", c->name, op_name(c->op), req.url);
	if ((r = agent_http_start(c->http, &req, on_main_done, c, &c->xfer)) !=
	    0)
		return r;
	/* The http layer keeps its own wiped copy. */
	agent_plain_free(c->form);
	c->form = NULL;
	return 0;
}

/* The discovery URL for a phase, into buf. */
static int discovery_url(const struct oauth_client *c, enum phase phase,
			 char *buf, size_t len)
{
	const char *host_end, *path;
	int n;

	if (phase == PHASE_OIDC) {
		n = snprintf(buf, len, "%s/.well-known/openid-configuration",
			     c->issuer);
	} else {
		/* RFC 8414 3.1: the well-known segment goes between the host
		   and the issuer's path. */
		host_end = strstr(c->issuer, "://");
		host_end = host_end != NULL ? host_end + 3 : c->issuer;
		path = strchr(host_end, '/');
		if (path == NULL)
			path = "";
		n = snprintf(
		    buf, len, "%.*s/.well-known/oauth-authorization-server%s",
		    (int)(strlen(c->issuer) - strlen(path)), c->issuer, path);
	}
	return (n < 0 || (size_t)n >= len) ? XO_ERR_CONFIG : 0;
}

static int start_discovery(struct oauth_client *c, enum phase phase)
{
	struct agent_http_req req;
	char url[MAX_URL];
	int r;

	if ((r = discovery_url(c, phase, url, sizeof(url))) != 0)
		return r;
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.ca_file = c->ca_file;
	c->phase = phase;
	log_debug("oauth %s: discovery: GET %s", c->name, url);
	return agent_http_start(c->http, &req, on_discovery_done, c, &c->xfer);
}

static int same_issuer(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	/* One trailing slash is forgiven: "https://idp/" and "https://idp"
	   name the same issuer to any user. */
	if (la > 0 && a[la - 1] == '/')
		la--;
	if (lb > 0 && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

/* Takes one endpoint from the document unless the config set it; a URL
   that agent_http would refuse is an error for the token endpoint and
   ignored for the others. */
static int take_endpoint(const json_t *doc, const char *key, char **dst,
			 int required, char *why, size_t whylen)
{
	const char *s = json_string_value(json_object_get(doc, key));

	if (*dst != NULL)
		return 0;
	if (s == NULL || !agent_http_url_allowed(s)) {
		if (!required)
			return 0;
		snprintf(why, whylen,
			 "the discovery document has no usable %s (https, or "
			 "http to loopback): set %s in the config",
			 key, key);
		return XO_ERR_PROVIDER_CONFIG;
	}
	if ((*dst = strdup(s)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return XO_ERR_NOMEM;
	}
	return 0;
}

/*
 * An account with only an issuer names no scopes, and a generic provider
 * has no preset to fill them in.  Asking for nothing gets no refresh token
 * and no address, so ask for the standard scopes that give those:
 * offline_access (a refresh token), openid and email (an id_token with the
 * address; OpenID Connect Core 5.4), but only those the document lists in
 * scopes_supported, as a provider may refuse a scope it does not know.  A
 * provider's mail scope is not standard: it goes in `scopes`.
 */
static int default_scopes(struct oauth_client *c, const json_t *doc)
{
	static const char *const wanted[] = {"openid", "email",
					     "offline_access"};
	const json_t *supported = json_object_get(doc, "scopes_supported");
	char buf[64] = "";
	size_t i, j, w = 0;

	if (c->scopes != NULL || !json_is_array(supported))
		return 0;
	for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		for (j = 0; j < json_array_size(supported); j++) {
			const char *s =
			    json_string_value(json_array_get(supported, j));

			if (s == NULL || strcmp(s, wanted[i]) != 0)
				continue;
			w += (size_t)snprintf(buf + w, sizeof(buf) - w, "%s%s",
					      w > 0 ? " " : "", wanted[i]);
			break;
		}
	}
	if (w == 0)
		return 0;
	if ((c->scopes = strdup(buf)) == NULL)
		return XO_ERR_NOMEM;
	log_info("%s: no scopes set; asking for '%s' from the discovery "
		 "document",
		 c->name, c->scopes);
	return 0;
}

static int apply_discovery(struct oauth_client *c, const char *body, size_t len,
			   char *why, size_t whylen)
{
	json_t *doc;
	const char *iss;
	int r = XO_ERR_PROVIDER_CONFIG;

	if ((doc = json_loadb(body, len, 0, NULL)) == NULL ||
	    !json_is_object(doc)) {
		snprintf(why, whylen,
			 "the discovery document is not a JSON object");
		goto out;
	}
	/* OpenID Connect Discovery 4.3 and RFC 8414 3.3: the document must
	   name the issuer it was fetched for, or it is someone else's. */
	iss = json_string_value(json_object_get(doc, "issuer"));
	if (iss == NULL || !same_issuer(iss, c->issuer)) {
		snprintf(why, whylen,
			 "the discovery document is for another issuer than "
			 "the configured %s: check issuer",
			 c->issuer);
		goto out;
	}
	if ((r = take_endpoint(doc, "token_endpoint", &c->token_ep, 1, why,
			       whylen)) != 0 ||
	    (r = take_endpoint(doc, "device_authorization_endpoint",
			       &c->device_ep, 0, why, whylen)) != 0 ||
	    (r = take_endpoint(doc, "authorization_endpoint", &c->authz_ep, 0,
			       why, whylen)) != 0)
		goto out;
	if ((r = default_scopes(c, doc)) != 0) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	c->need_discovery = 0;
	r = 0;
out:
	json_decref(doc);
	return r;
}

/* Adds the scopes found by discovery to the form built before it. */
static int append_scope(struct oauth_client *c)
{
	struct agent_plain *p = NULL;
	char *esc = curl_easy_escape(NULL, c->scopes, 0);
	size_t n;
	int r;

	if (esc == NULL)
		return XO_ERR_NOMEM;
	n = c->form->len + strlen("&scope=") + strlen(esc);
	if ((r = agent_plain_new(n, &p)) != 0) {
		curl_free(esc);
		return r;
	}
	snprintf(p->data, n + 1, "%s&scope=%s", c->form->data, esc);
	p->len = strlen(p->data);
	curl_free(esc);
	agent_plain_free(c->form);
	c->form = p;
	return 0;
}

static void on_discovery_done(void *arg, const struct agent_http_resp *resp)
{
	struct oauth_client *c = arg;
	struct oauth_result res;
	char why[384];
	char url[MAX_URL];
	int r, had_scopes;

	c->xfer = NULL;
	if (resp->err != 0) {
		discovery_url(c, c->phase, url, sizeof(url));
		snprintf(why, sizeof(why), "discovery at %s failed: %s", url,
			 resp->error);
		op_fail(c, OAUTH_TRANSIENT, resp->err, why, resp->retry_after);
		return;
	}
	if (resp->status != 200) {
		if (c->phase == PHASE_OIDC &&
		    (r = start_discovery(c, PHASE_RFC8414)) == 0)
			return;
		if (resp->status == 408 || resp->status == 429 ||
		    resp->status >= 500) {
			snprintf(why, sizeof(why),
				 "discovery: the provider answered HTTP %ld: "
				 "will retry",
				 resp->status);
			op_fail(c, OAUTH_TRANSIENT, XO_ERR_HTTP, why,
				resp->retry_after);
			return;
		}
		snprintf(why, sizeof(why),
			 "no discovery document for issuer %s (HTTP %ld): "
			 "check issuer, or set token_endpoint",
			 c->issuer, resp->status);
		op_fail(c, OAUTH_CONFIG, XO_ERR_PROVIDER_CONFIG, why, -1);
		return;
	}
	had_scopes = c->scopes != NULL;
	if ((r = apply_discovery(c, resp->body, resp->body_len, why,
				 sizeof(why))) != 0) {
		op_fail(c, r == XO_ERR_NOMEM ? OAUTH_TRANSIENT : OAUTH_CONFIG,
			r, why, -1);
		return;
	}
	/* A device poll names no scope; the other requests do. */
	if (!had_scopes && c->scopes != NULL && c->op != OP_DEVICE_POLL &&
	    (r = append_scope(c)) != 0) {
		op_fail(c, OAUTH_TRANSIENT, r, "out of memory", -1);
		return;
	}
	log_debug("oauth %s: discovery: ok", c->name);
	if (c->op == OP_DISCOVER) {
		/* Discovery alone has what it came for: OAUTH_OK, no tokens. */
		oauth_result_init(&res);
		op_end(c, &res, NULL);
		return;
	}
	if ((r = start_main(c)) != 0) {
		if (r == XO_ERR_UNSUPPORTED_FLOW)
			snprintf(why, sizeof(why),
				 "the provider offers no device flow "
				 "(no device_authorization_endpoint): use "
				 "another flow");
		else
			snprintf(why, sizeof(why),
				 "could not start the request to %s",
				 main_url(c, c->op));
		op_fail(c,
			r == XO_ERR_UNSUPPORTED_FLOW ? OAUTH_CONFIG
						     : OAUTH_TRANSIENT,
			r, why, -1);
	}
}

static void finish_token(struct oauth_client *c,
			 const struct agent_http_resp *resp)
{
	struct oauth_result res;

	if (resp->err != 0) {
		oauth_result_init(&res);
		res.cls = OAUTH_TRANSIENT;
		res.err = resp->err;
		res.fault = resp->fault;
		res.retry_after = resp->retry_after;
		snprintf(res.message, sizeof(res.message),
			 "the request to the token endpoint failed: %s",
			 resp->error);
	} else {
		oauth_parse_token_reply(resp->status, resp->body,
					resp->body_len, resp->retry_after,
					&res);
		/* The parser cannot know where a redirect points. */
		if (res.fault == OAUTH_FAULT_REDIRECT)
			oauth_redirect_refused(&res, resp->status,
					       resp->redirect_host);
	}
	log_debug("oauth %s: %s: HTTP %ld, %s", c->name, op_name(c->op),
		  resp->status, oauth_class_name(res.cls));
	op_end(c, &res, NULL);
}

/* As finish_token, but a device callback reads only err and message of
   the result, and gets the device code when err is 0. */
static void finish_device(struct oauth_client *c,
			  const struct agent_http_resp *resp)
{
	struct oauth_device dev;
	struct oauth_result res;

	memset(&dev, 0, sizeof(dev));
	oauth_result_init(&res);
	if (resp->err != 0) {
		res.err = resp->err;
		snprintf(res.message, sizeof(res.message),
			 "the device authorization endpoint could not be "
			 "reached: %s",
			 resp->error);
	} else if (resp->status >= 200 && resp->status < 300) {
		res.err = oauth_parse_device_reply(
		    resp->status, resp->body, resp->body_len, &dev, res.message,
		    sizeof(res.message));
	} else {
		/* An error object, as from the token endpoint
		   (invalid_scope for Google's mail scope, for example). */
		oauth_parse_token_reply(resp->status, resp->body,
					resp->body_len, resp->retry_after,
					&res);
		if (res.err == 0)
			res.err = XO_ERR_PROVIDER_REPLY;
	}
	log_debug("oauth %s: %s: HTTP %ld, %s", c->name, op_name(c->op),
		  resp->status, res.err == 0 ? "ok" : "failed");
	op_end(c, &res, &dev);
	oauth_device_cleanup(&dev);
}

static void on_main_done(void *arg, const struct agent_http_resp *resp)
{
	struct oauth_client *c = arg;

	c->xfer = NULL;
	if (c->op == OP_DEVICE_START)
		finish_device(c, resp);
	else
		finish_token(c, resp);
}

/* Where a form field's value comes from. */
enum grant_from {
	FROM_ARG = 0,	   /* .text or .secret, as the caller gave it */
	FROM_CLIENT_ID,	   /* the client's client_id */
	FROM_SCOPES,	   /* the client's scopes, which may be unset */
	FROM_LOGIN_SCOPES, /* the scopes a login asks for */
};

/*
 * One field of a grant's form.  A field without a value (NULL) is left
 * out, unless it is required: then the grant is refused with
 * XO_ERR_INVALID, as it is for a required value that is empty.  An
 * optional value that is empty is sent, as "key=".  The client's own
 * values are named by .from rather than read by the caller, because the
 * caller's list is written before the builder has checked that there is a
 * client.
 */
struct grant_field {
	const char *key;
	const char *text;		  /* a value that is no secret */
	const struct agent_plain *secret; /* or one that is */
	enum grant_from from;
	int required;
};

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* A field's value (NULL when it has none) and its length into *len. */
static const char *field_value(const struct oauth_client *c,
			       const struct grant_field *g, size_t *len)
{
	const char *s = NULL;

	switch (g->from) {
	case FROM_ARG:
		if (g->secret != NULL) {
			*len = g->secret->len;
			return g->secret->data;
		}
		s = g->text;
		break;
	case FROM_CLIENT_ID:
		s = c->client_id;
		break;
	case FROM_SCOPES:
		s = c->scopes;
		break;
	case FROM_LOGIN_SCOPES:
		s = c->login_scopes != NULL ? c->login_scopes : c->scopes;
		break;
	}
	*len = s != NULL ? strlen(s) : 0;
	return s;
}

/*
 * Starts operation op with a form of fields, in their order: checks the
 * arguments, builds the form in sodium_malloc memory (wiping every
 * intermediate copy) and sends the first request, which is discovery while
 * the endpoints wait for it.  Exactly one of tcb and dcb is set by the
 * caller.  Returns 0, and the callback runs once later, or an error and no
 * callback: XO_ERR_INVALID for a NULL client or callback or a required
 * field without a value, XO_ERR_BUSY while another operation runs,
 * XO_ERR_UNSUPPORTED_FLOW when op's endpoint is neither known nor to be
 * discovered, or the error of building or sending.  The fields are copied;
 * the caller keeps what they point to.
 */
static int start_grant(struct oauth_client *c, enum op op,
		       const struct grant_field *fields, size_t n,
		       oauth_token_cb tcb, oauth_device_cb dcb, void *arg)
{
	struct form f = {0};
	struct agent_plain *form = NULL;
	const char *val;
	size_t i, len;
	int r = XO_ERR_INVALID;

	if (c == NULL || (tcb == NULL && dcb == NULL))
		goto out;
	for (i = 0; i < n; i++) {
		val = field_value(c, &fields[i], &len);
		if (fields[i].required && (val == NULL || len == 0))
			goto out;
	}
	if (c->op != OP_NONE) {
		r = XO_ERR_BUSY;
		goto out;
	}
	if (!c->need_discovery && main_url(c, op) == NULL) {
		r = XO_ERR_UNSUPPORTED_FLOW;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((val = field_value(c, &fields[i], &len)) != NULL &&
		    (r = form_add(&f, fields[i].key, val, len)) != 0)
			goto out;
	}
	if ((r = form_build(&f, &form)) != 0)
		goto out;
	c->op = op;
	c->form = form;
	form = NULL; /* transferred */
	c->token_cb = tcb;
	c->device_cb = dcb;
	c->arg = arg;
	if (c->need_discovery)
		r = start_discovery(c, PHASE_OIDC);
	else
		r = start_main(c);
	if (r != 0) {
		log_debug("oauth %s: %s could not start (%d)", c->name,
			  op_name(op), r);
		op_reset(c); /* frees c->form */
	}
out:
	form_clear(&f);
	agent_plain_free(form);
	return r;
}

int oauth_refresh(struct oauth_client *c, const struct agent_plain *refresh,
		  const struct agent_plain *client_secret, const char *scope,
		  oauth_token_cb cb, void *arg)
{
	/* RFC 6749 6; scope may not exceed what was granted, and the config
	   names exactly what the login asked for. */
	const struct grant_field f[] = {
	    {.key = "grant_type", .text = "refresh_token"},
	    {.key = "client_id", .from = FROM_CLIENT_ID},
	    {.key = "refresh_token", .secret = refresh, .required = 1},
	    {.key = "scope",
	     .text = scope,
	     .from = scope != NULL ? FROM_ARG : FROM_SCOPES},
	    {.key = "client_secret", .secret = client_secret},
	};

	return start_grant(c, OP_REFRESH, f, N_FIELDS(f), cb, NULL, arg);
}

int oauth_client_credentials(struct oauth_client *c,
			     const struct agent_plain *client_secret,
			     const char *scope, oauth_token_cb cb, void *arg)
{
	/* RFC 6749 4.4.2; client_secret_post (2.3.1), which Microsoft's
	   token endpoint takes for app-only tokens. */
	const struct grant_field f[] = {
	    {.key = "grant_type", .text = "client_credentials"},
	    {.key = "client_id", .from = FROM_CLIENT_ID},
	    {.key = "client_secret", .secret = client_secret, .required = 1},
	    {.key = "scope",
	     .text = scope,
	     .from = scope != NULL ? FROM_ARG : FROM_SCOPES},
	};

	return start_grant(c, OP_CLIENT_CREDENTIALS, f, N_FIELDS(f), cb, NULL,
			   arg);
}

int oauth_device_start(struct oauth_client *c,
		       const struct agent_plain *client_secret,
		       oauth_device_cb cb, void *arg)
{
	/* RFC 8628 3.1. */
	const struct grant_field f[] = {
	    {.key = "client_id", .from = FROM_CLIENT_ID},
	    {.key = "scope", .from = FROM_LOGIN_SCOPES},
	    {.key = "client_secret", .secret = client_secret},
	};

	return start_grant(c, OP_DEVICE_START, f, N_FIELDS(f), NULL, cb, arg);
}

int oauth_device_poll(struct oauth_client *c, const struct agent_plain *code,
		      const struct agent_plain *client_secret,
		      oauth_token_cb cb, void *arg)
{
	/* RFC 8628 3.4. */
	const struct grant_field f[] = {
	    {.key = "grant_type",
	     .text = "urn:ietf:params:oauth:grant-type:device_code"},
	    {.key = "device_code", .secret = code, .required = 1},
	    {.key = "client_id", .from = FROM_CLIENT_ID},
	    {.key = "client_secret", .secret = client_secret},
	};

	return start_grant(c, OP_DEVICE_POLL, f, N_FIELDS(f), cb, NULL, arg);
}

int oauth_code_exchange(struct oauth_client *c, const struct agent_plain *code,
			const struct agent_plain *verifier,
			const char *redirect_uri,
			const struct agent_plain *client_secret,
			oauth_token_cb cb, void *arg)
{
	/* RFC 6749 4.1.3: redirect_uri again, identical to the one in the
	   authorization request; RFC 7636 4.5: the verifier. */
	const struct grant_field f[] = {
	    {.key = "grant_type", .text = "authorization_code"},
	    {.key = "code", .secret = code, .required = 1},
	    {.key = "redirect_uri", .text = redirect_uri, .required = 1},
	    {.key = "client_id", .from = FROM_CLIENT_ID},
	    {.key = "code_verifier", .secret = verifier, .required = 1},
	    {.key = "client_secret", .secret = client_secret},
	};

	return start_grant(c, OP_CODE, f, N_FIELDS(f), cb, NULL, arg);
}

int oauth_client_needs_discovery(const struct oauth_client *c)
{
	return c != NULL && c->need_discovery;
}

int oauth_discover(struct oauth_client *c, oauth_token_cb cb, void *arg)
{
	if (c != NULL && !c->need_discovery)
		return XO_ERR_INVALID;
	/* No fields: the empty form is never sent, as discovery alone ends
	   when the document is in (on_discovery_done). */
	return start_grant(c, OP_DISCOVER, NULL, 0, cb, NULL, arg);
}

void oauth_cancel(struct oauth_client *c)
{
	if (c == NULL || c->op == OP_NONE)
		return;
	if (c->xfer != NULL)
		agent_http_cancel(c->http, c->xfer);
	log_debug("oauth %s: %s cancelled", c->name, op_name(c->op));
	op_reset(c);
}

const char *oauth_client_authorization_endpoint(const struct oauth_client *c)
{
	return c != NULL ? c->authz_ep : NULL;
}

static void client_free(struct oauth_client *c)
{
	free(c->name);
	free(c->client_id);
	free(c->scopes);
	free(c->login_scopes);
	free(c->ca_file);
	free(c->issuer);
	free(c->token_ep);
	free(c->device_ep);
	free(c->authz_ep);
	free(c);
}

/* An endpoint from the config: NULL, or a URL agent_http will accept. */
static int check_endpoint(const char *account, const char *key, const char *url)
{
	if (url == NULL || agent_http_url_allowed(url))
		return 0;
	log_error("account %s: %s must be https (plain http only to a "
		  "loopback address)",
		  account, key);
	return XO_ERR_CONFIG;
}

int oauth_client_new(struct agent_http *http,
		     const struct agent_account_cfg *cfg,
		     struct oauth_client **out)
{
	struct oauth_client *c = NULL;
	const char *name;
	size_t l;
	int r = XO_ERR_INVALID;

	*out = NULL;
	if (http == NULL || cfg == NULL)
		goto out;
	name = cfg->name != NULL ? cfg->name : "?";
	r = XO_ERR_CONFIG;
	if (cfg->client_id == NULL || cfg->client_id[0] == '\0') {
		log_error("account %s: client_id is missing", name);
		goto out;
	}
	if (cfg->needs_discovery ? cfg->issuer == NULL
				 : cfg->token_endpoint == NULL) {
		log_error("account %s: token_endpoint (or issuer) is missing",
			  name);
		goto out;
	}
	if ((r = check_endpoint(name, "token_endpoint", cfg->token_endpoint)) !=
		0 ||
	    (r = check_endpoint(name, "device_authorization_endpoint",
				cfg->device_authorization_endpoint)) != 0 ||
	    (r = check_endpoint(name, "authorization_endpoint",
				cfg->authorization_endpoint)) != 0 ||
	    (cfg->needs_discovery &&
	     (r = check_endpoint(name, "issuer", cfg->issuer)) != 0))
		goto out;
	if (cfg->issuer != NULL && strlen(cfg->issuer) > MAX_URL - 64) {
		log_error("account %s: issuer is too long", name);
		r = XO_ERR_CONFIG;
		goto out;
	}

	r = XO_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	c->http = http;
	c->need_discovery = cfg->needs_discovery;
	if ((c->name = strdup(name)) == NULL ||
	    (c->client_id = strdup(cfg->client_id)) == NULL ||
	    (cfg->scopes != NULL &&
	     (c->scopes = strdup(cfg->scopes)) == NULL) ||
	    agent_account_login_scopes(cfg, &c->login_scopes) != 0 ||
	    (cfg->ca_file != NULL &&
	     (c->ca_file = strdup(cfg->ca_file)) == NULL) ||
	    (cfg->issuer != NULL &&
	     (c->issuer = strdup(cfg->issuer)) == NULL) ||
	    (cfg->token_endpoint != NULL &&
	     (c->token_ep = strdup(cfg->token_endpoint)) == NULL) ||
	    (cfg->device_authorization_endpoint != NULL &&
	     (c->device_ep = strdup(cfg->device_authorization_endpoint)) ==
		 NULL) ||
	    (cfg->authorization_endpoint != NULL &&
	     (c->authz_ep = strdup(cfg->authorization_endpoint)) == NULL))
		goto out;
	if (c->issuer != NULL && (l = strlen(c->issuer)) > 0 &&
	    c->issuer[l - 1] == '/')
		c->issuer[l - 1] = '\0';
	*out = c;
	c = NULL; /* transferred */
	r = 0;
out:
	if (c != NULL)
		client_free(c);
	return r;
}

void oauth_client_free(struct oauth_client *c)
{
	if (c == NULL)
		return;
	oauth_cancel(c);
	client_free(c);
}
