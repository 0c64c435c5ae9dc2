/*
 * authz.c: authorization URLs, loopback redirect plans and redirect
 * responses (see authz.h).  libcurl's URL API does the URL work; the only
 * splitting done here is of a query into its '&'-separated name=value
 * pairs, which that API does not offer.
 *
 * Our copies of a code or of a query live in struct agent_buf, which wipes
 * them.  What libcurl returns (a decoded value, a URL's query) is freed
 * with curl_free(), which wipes it too: the agent gives libcurl its wiping
 * allocator (secret/wipe_alloc.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <xoauth/xo_errors.h>

#include "login/pure/authz.h"

#define MAX_PARAMS 64

static void say(char *why, size_t whylen, const char *msg)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
}

/* Appends "name=value" to the URL's query, value percent-encoded. */
static int append_param(CURLU *u, const char *name, const char *value)
{
	struct agent_buf pair;
	const char *s;
	CURLUcode uc;
	int r = XO_ERR_NOMEM;

	agent_buf_init(&pair, strlen(name) + 1 + strlen(value) + 1);
	if (agent_buf_append_str(&pair, name) != 0 ||
	    agent_buf_append_str(&pair, "=") != 0 ||
	    agent_buf_append_str(&pair, value) != 0 ||
	    (s = agent_buf_cstr(&pair)) == NULL)
		goto out;
	/* curl_url_set(3): with CURLU_APPENDQUERY and CURLU_URLENCODE "the
	   first '=' symbol is not URL encoded"; the rest of the pair is,
	   '&' included, and a space becomes '+'. */
	uc = curl_url_set(u, CURLUPART_QUERY, s,
			  CURLU_APPENDQUERY | CURLU_URLENCODE);
	r = uc == CURLUE_OK		 ? 0
	    : uc == CURLUE_OUT_OF_MEMORY ? XO_ERR_NOMEM
					 : XO_ERR_INVALID;
out:
	agent_buf_cleanup(&pair);
	return r;
}

/* Appends the preset's "k=v&k=v", which needs no encoding. */
static int append_extra(CURLU *u, const char *extra)
{
	char *copy, *p, *tok;
	int r = 0;

	if (extra == NULL || extra[0] == '\0')
		return 0;
	if ((copy = strdup(extra)) == NULL)
		return XO_ERR_NOMEM;
	for (p = copy; r == 0 && (tok = strsep(&p, "&")) != NULL;)
		if (tok[0] != '\0' &&
		    curl_url_set(u, CURLUPART_QUERY, tok, CURLU_APPENDQUERY) !=
			CURLUE_OK)
			r = XO_ERR_INVALID;
	free(copy);
	return r;
}

int authz_scope_wants_consent(const char *scope)
{
	const char *p = scope;
	size_t n = strlen("offline_access");

	while (p != NULL && (p = strstr(p, "offline_access")) != NULL) {
		if ((p == scope || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ' '))
			return 1;
		p += n;
	}
	return 0;
}

int authz_url_build(const struct authz_request *q, char **out, char *why,
		    size_t whylen)
{
	CURLU *u = NULL;
	char *url = NULL;
	int r = XO_ERR_NOMEM;

	*out = NULL;
	if ((u = curl_url()) == NULL)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, q->endpoint, 0) != CURLUE_OK) {
		say(why, whylen, "the authorization endpoint is not a URL");
		r = XO_ERR_INVALID;
		goto out;
	}
	/* RFC 6749 4.1.1 and RFC 7636 4.3. */
	if ((r = append_param(u, "response_type", "code")) != 0 ||
	    (r = append_param(u, "client_id", q->client_id)) != 0 ||
	    (r = append_param(u, "redirect_uri", q->redirect_uri)) != 0 ||
	    (q->scope != NULL &&
	     (r = append_param(u, "scope", q->scope)) != 0) ||
	    (r = append_param(u, "state", q->state)) != 0 ||
	    (r = append_param(u, "code_challenge", q->challenge)) != 0 ||
	    (r = append_param(u, "code_challenge_method", "S256")) != 0 ||
	    (q->login_hint != NULL &&
	     (r = append_param(u, "login_hint", q->login_hint)) != 0) ||
	    (r = append_extra(u, q->extra)) != 0) {
		say(why, whylen, "cannot build the authorization URL");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		say(why, whylen, "cannot build the authorization URL");
		r = XO_ERR_INVALID;
		goto out;
	}
	if ((*out = strdup(url)) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	curl_free(url);
	curl_url_cleanup(u);
	return r;
}

void authz_loopback_cleanup(struct authz_loopback *lb)
{
	free(lb->host);
	free(lb->path);
	memset(lb, 0, sizeof(*lb));
}

/* Reads host, port and path of a loopback http URI; 0 when it is one. */
static int read_loopback(const char *uri, struct authz_loopback *lb)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int ok = 0;

	if (u == NULL || uri == NULL ||
	    curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	if (strcmp(scheme, "http") != 0)
		goto out;
	if (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0)
		lb->ipv6 = 0;
	else if (strcmp(host, "[::1]") == 0)
		lb->ipv6 = 1;
	else
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
		lb->port = (unsigned)strtoul(port, NULL, 10);
	if ((lb->host = strdup(host)) == NULL ||
	    (lb->path = strdup(path[0] == '/' ? path : "/")) == NULL)
		goto out;
	ok = 1;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	if (!ok)
		authz_loopback_cleanup(lb);
	return ok ? 0 : -1;
}

int authz_loopback_plan(const char *redirect_uri, unsigned redirect_port,
			struct authz_loopback *out)
{
	memset(out, 0, sizeof(*out));
	if (read_loopback(redirect_uri, out) == 0) {
		if (out->port == 0)
			out->port = redirect_port;
		return 0;
	}
	/* RFC 8252 8.3: 127.0.0.1 rather than localhost, which a resolver
	   may send elsewhere. */
	out->port = redirect_port;
	if ((out->host = strdup("127.0.0.1")) == NULL ||
	    (out->path = strdup("/")) == NULL) {
		authz_loopback_cleanup(out);
		return XO_ERR_NOMEM;
	}
	return 0;
}

int authz_loopback_uri(const struct authz_loopback *lb, unsigned port,
		       char **out)
{
	size_t n = strlen(lb->host) + strlen(lb->path) + 32;

	if ((*out = malloc(n)) == NULL)
		return XO_ERR_NOMEM;
	snprintf(*out, n, "http://%s:%u%s", lb->host, port, lb->path);
	return 0;
}

void authz_response_cleanup(struct authz_response *r)
{
	agent_buf_cleanup(&r->code_buf);
	free(r->state);
	free(r->error);
	free(r->error_description);
	memset(r, 0, sizeof(*r));
}

/*
 * Decodes one form-encoded value ('+' is a space, %XX a byte) onto out, a
 * C string there; out's max leaves room for max bytes and the NUL.  A
 * decoded control byte (a smuggled NUL or line break) or a value longer
 * than max is refused: nothing we read needs one.
 */
static int decode(const char *s, size_t len, size_t max, struct agent_buf *out)
{
	struct agent_buf plus;
	char *p, *dec = NULL;
	int dlen = 0, i, r = XO_ERR_NOMEM;

	agent_buf_init(&plus, len + 1);
	if (agent_buf_append(&plus, s, len) != 0 ||
	    (p = agent_buf_cstr(&plus)) == NULL)
		goto out;
	for (i = 0; (size_t)i < len; i++)
		if (p[i] == '+')
			p[i] = ' ';
	if ((dec = curl_easy_unescape(NULL, p, (int)len, &dlen)) == NULL)
		goto out;
	r = XO_ERR_INVALID;
	if ((size_t)dlen > max)
		goto out;
	for (i = 0; i < dlen; i++)
		if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f)
			goto out;
	r = XO_ERR_NOMEM;
	if (agent_buf_append(out, dec, (size_t)dlen) != 0 ||
	    agent_buf_cstr(out) == NULL)
		goto out;
	r = 0;
out:
	curl_free(dec);
	agent_buf_cleanup(&plus);
	return r;
}

/* The slot for a parameter we read, or NULL for one we ignore; *held is
   where its value is kept when that is a secret (the code), else NULL. */
static char **slot_for(struct authz_response *r, const char *name, size_t n,
		       size_t *max, struct agent_buf **held)
{
	static const struct {
		const char *name;
		size_t off, max;
		int secret;
	} known[] = {
	    {"code", offsetof(struct authz_response, code), AUTHZ_MAX_CODE, 1},
	    {"state", offsetof(struct authz_response, state), 512, 0},
	    {"error", offsetof(struct authz_response, error), 128, 0},
	    {"error_description",
	     offsetof(struct authz_response, error_description), 2048, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strlen(known[i].name) == n &&
		    memcmp(known[i].name, name, n) == 0) {
			*max = known[i].max;
			*held = known[i].secret ? &r->code_buf : NULL;
			return (char **)((char *)r + known[i].off);
		}
	}
	return NULL;
}

/*
 * Decodes a value into *slot: the code stays in the wiped buffer held,
 * the others (no secrets) become strings of their own.  Errors as
 * decode().
 */
static int take_value(const char *s, size_t len, size_t max,
		      struct agent_buf *held, char **slot)
{
	struct agent_buf dec;
	int r;

	if (held != NULL) {
		agent_buf_init(held, max + 1);
		if ((r = decode(s, len, max, held)) == 0)
			*slot = (char *)held->data;
		return r;
	}
	agent_buf_init(&dec, max + 1);
	if ((r = decode(s, len, max, &dec)) == 0 &&
	    (*slot = strdup((char *)dec.data)) == NULL)
		r = XO_ERR_NOMEM;
	agent_buf_cleanup(&dec);
	return r;
}

int authz_parse_query(const char *query, size_t len, struct authz_response *out,
		      char *why, size_t whylen)
{
	const char *p = query, *end = query + len, *amp, *eq;
	struct agent_buf *held;
	char **slot;
	size_t max, n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > AUTHZ_MAX_INPUT) {
		say(why, whylen, "the redirect is too long");
		return XO_ERR_INVALID;
	}
	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp == p) { /* "a=1&&b=2": an empty pair is harmless */
			p++;
			continue;
		}
		if (++n > MAX_PARAMS) {
			say(why, whylen,
			    "the redirect has too many parameters");
			r = XO_ERR_INVALID;
			goto fail;
		}
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL)
			eq = amp;
		slot = slot_for(out, p, (size_t)(eq - p), &max, &held);
		if (slot != NULL) {
			/* RFC 6749 3.1: parameters "MUST NOT be included
			   more than once". */
			if (*slot != NULL) {
				say(why, whylen,
				    "the redirect names a parameter twice");
				r = XO_ERR_INVALID;
				goto fail;
			}
			r = take_value(eq < amp ? eq + 1 : amp,
				       eq < amp ? (size_t)(amp - eq - 1) : 0,
				       max, held, slot);
			if (r != 0) {
				say(why, whylen,
				    r == XO_ERR_NOMEM
					? "out of memory"
					: "the redirect has a parameter that "
					  "is too long or holds a control "
					  "character");
				goto fail;
			}
		}
		p = amp < end ? amp + 1 : end;
	}
	if ((out->code == NULL || out->code[0] == '\0') && out->error == NULL) {
		say(why, whylen,
		    "no authorization code in it (expected the address the "
		    "browser was sent to, with ?code=...&state=...)");
		r = XO_ERR_INVALID;
		goto fail;
	}
	return 0;
fail:
	authz_response_cleanup(out);
	return r;
}

/* The query of a URL; *q is curl-allocated, NULL when it has none. */
static int url_query(const char *url, char **q)
{
	CURLU *u = curl_url();
	CURLUcode uc;
	int r = XO_ERR_INVALID;

	*q = NULL;
	if (u == NULL)
		return XO_ERR_NOMEM;
	/* Any scheme: a paste-flow redirect may be a custom one
	   (msauth://, com.example.app://). */
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ==
	    CURLUE_OK) {
		uc = curl_url_get(u, CURLUPART_QUERY, q, 0);
		r = uc == CURLUE_OK || uc == CURLUE_NO_QUERY ? 0 : XO_ERR_NOMEM;
	}
	curl_url_cleanup(u);
	return r;
}

/* RFC 6749 A.11: code = 1*VSCHAR; a pasted code has no space either. */
static int is_bare_code(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > AUTHZ_MAX_CODE)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f || s[i] == '?' || s[i] == '&' ||
		    s[i] == '=' || s[i] == '#')
			return 0;
	return 1;
}

int authz_parse_pasted(const char *input, size_t len,
		       struct authz_response *out, char *why, size_t whylen)
{
	struct agent_buf buf;
	char *copy, *q = NULL;
	const char *s = input, *e = input + len;
	size_t n;
	int r = XO_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	agent_buf_init(&buf, AUTHZ_MAX_INPUT + 1);
	while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		e--;
	n = (size_t)(e - s);
	if (n == 0) {
		say(why, whylen, "nothing was pasted");
		return XO_ERR_INVALID;
	}
	if (n > AUTHZ_MAX_INPUT) {
		say(why, whylen, "what was pasted is too long");
		return XO_ERR_INVALID;
	}
	if (memchr(s, '\0', n) != NULL) {
		say(why, whylen, "what was pasted holds a NUL byte");
		return XO_ERR_INVALID;
	}
	/* A URL, even one without a query, is never taken for a code. */
	if (memmem(s, n, "://", 3) == NULL && is_bare_code(s, n)) {
		agent_buf_init(&out->code_buf, AUTHZ_MAX_CODE + 1);
		if (agent_buf_append(&out->code_buf, s, n) != 0 ||
		    (out->code = agent_buf_cstr(&out->code_buf)) == NULL) {
			authz_response_cleanup(out);
			return XO_ERR_NOMEM;
		}
		out->bare = 1;
		return 0;
	}
	/* The paste as a C string, for libcurl and strstr(). */
	if (agent_buf_append(&buf, s, n) != 0 ||
	    (copy = agent_buf_cstr(&buf)) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	if (strstr(copy, "://") != NULL) {
		if ((r = url_query(copy, &q)) != 0 || q == NULL) {
			say(why, whylen,
			    r == XO_ERR_NOMEM
				? "out of memory"
				: "not a redirect address with ?code=... in "
				  "it, nor a bare code");
			r = r != 0 ? r : XO_ERR_INVALID;
			goto out;
		}
		r = authz_parse_query(q, strlen(q), out, why, whylen);
	} else if (copy[0] == '?' || strchr(copy, '=') != NULL) {
		/* The query alone, as some pages show it. */
		r = authz_parse_query(copy + (copy[0] == '?'),
				      n - (copy[0] == '?'), out, why, whylen);
	} else {
		say(why, whylen,
		    "not a redirect address nor a code (a code has no spaces "
		    "or control characters)");
		r = XO_ERR_INVALID;
	}
out:
	curl_free(q);
	agent_buf_cleanup(&buf);
	return r;
}
