/*
 * values.c: checks of single config values (URLs, tenants,
 * addresses, scopes, durations), the near-miss suggestions for unknown
 * names, and the escaping of anything a message echoes back.  Pure
 * functions, no parse state: parse.c calls them for the file and for the
 * settings of ADD alike.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xoauth/xo_errors.h>

#include "config/config.h"
#include "config/config_internal.h"

/*
 * Copies len bytes of s (at most max of them, then "...") to dst, with
 * anything but printable ASCII written as \xNN, so that a message never
 * carries a terminal escape or a byte that breaks a log line.
 */
void config_escape_n(char *dst, size_t dstlen, const char *s, size_t len,
		     size_t max)
{
	size_t i, w = 0;
	int n;

	if (dstlen == 0)
		return;
	for (i = 0; i < len && w + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == max) {
			n = snprintf(dst + w, dstlen - w, "...");
			w = n < 0 || (size_t)n >= dstlen - w ? dstlen - 1
							     : w + (size_t)n;
			break;
		}
		if (c >= 0x20 && c < 0x7f) {
			dst[w++] = (char)c;
			continue;
		}
		n = snprintf(dst + w, dstlen - w, "\\x%02x", c);
		if (n < 0 || (size_t)n >= dstlen - w)
			break;
		w += (size_t)n;
	}
	dst[w] = '\0';
}

void config_escape(char *dst, size_t dstlen, const char *s, size_t max)
{
	config_escape_n(dst, dstlen, s, strlen(s), max);
}

void config_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int config_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Levenshtein distance, ignoring case and counting '-' as '_'; names
   longer than 63 bytes are never near misses. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[64], prev, tmp;

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			char ca = (char)(a[i - 1] == '-' ? '_' : a[i - 1]);
			char cb = (char)(b[j - 1] == '-' ? '_' : b[j - 1]);
			size_t cost = ((ca | 0x20) == (cb | 0x20)) ? 0 : 1;

			tmp = row[j];
			row[j] = prev + cost;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

/*
 * Names other tools (pizauth, oama, email-oauth2-proxy, mutt_oauth2.py) use
 * for our keys, so that a migrating user is told the name we use.
 */
static const struct {
	const char *alias, *key;
} key_aliases[] = {
    {"auth_uri", "authorization_endpoint"},
    {"auth_url", "authorization_endpoint"},
    {"auth_endpoint", "authorization_endpoint"},
    {"authorize_url", "authorization_endpoint"},
    {"authorization_url", "authorization_endpoint"},
    {"token_uri", "token_endpoint"},
    {"token_url", "token_endpoint"},
    {"device_url", "device_authorization_endpoint"},
    {"device_uri", "device_authorization_endpoint"},
    {"device_endpoint", "device_authorization_endpoint"},
    {"device_code_url", "device_authorization_endpoint"},
    {"devicecode_endpoint", "device_authorization_endpoint"},
    {"redirect_url", "redirect_uri"},
    {"secret", "client_secret"},
    {"secret_cmd", "client_secret_cmd"},
    {"passwordeval", "client_secret_cmd"},
    {"client_secret_command", "client_secret_cmd"},
    {"user", "email"},
    {"username", "email"},
    {"address", "email"},
    {"login", "email"},
    {"tenant_id", "tenant"},
    {"tenantid", "tenant"},
    {"cafile", "ca_file"},
    {"ca_cert", "ca_file"},
    {"cacert", "ca_file"},
    {"ca_bundle", "ca_file"},
    {"grant_type", "flow"},
    {"discovery_url", "issuer"},
    {"authority", "issuer"},
    {"app_id", "client_id"},
    {"application_id", "client_id"},
};

/* The known key closest to name, if it is close enough to be a typo. */
const char *config_suggest(const char *name, const char *const *known, size_t n)
{
	const char *best = NULL;
	size_t i, d, best_d = SIZE_MAX;

	for (i = 0; i < sizeof(key_aliases) / sizeof(key_aliases[0]); i++)
		if (strcasecmp(name, key_aliases[i].alias) == 0)
			for (d = 0; d < n; d++)
				if (strcmp(known[d], key_aliases[i].key) == 0)
					return known[d];
	for (i = 0; i < n; i++) {
		d = edit_distance(name, known[i]);
		if (d < best_d) {
			best_d = d;
			best = known[i];
		}
	}
	/* Two edits, or a third of the word: catches "tennant", "scope",
	   "client-id" and "client_secret_command" without proposing
	   unrelated keys. */
	if (best != NULL && (best_d <= 2 || best_d * 3 <= strlen(best)))
		return best;
	return NULL;
}

/* First control byte of s (tab included), or NULL. */
const char *config_find_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return s;
	return NULL;
}

static int is_loopback_host(const char *host, size_t len, int bracketed)
{
	char buf[64];
	unsigned char addr[sizeof(struct in6_addr)];

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (bracketed)
		return inet_pton(AF_INET6, buf, addr) == 1 &&
		       IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr);
	if (strcasecmp(buf, "localhost") == 0)
		return 1;
	return inet_pton(AF_INET, buf, addr) == 1 && addr[0] == 127;
}

/*
 * Checks an endpoint URL.  Returns NULL when it is acceptable, else what is
 * wrong.  Tokens and secrets travel to these URLs, so they must be https;
 * plain http is allowed only to loopback addresses (tests, local
 * providers), as DESIGN.md's "Secrets" says.
 */
const char *config_check_url(const char *u)
{
	const char *p, *auth_end, *host, *host_end, *q;
	size_t host_len;
	int https, bracketed = 0;
	unsigned long port;

	if (strncasecmp(u, "https://", 8) == 0) {
		https = 1;
		p = u + 8;
	} else if (strncasecmp(u, "http://", 7) == 0) {
		https = 0;
		p = u + 7;
	} else {
		return "is not an https:// URL";
	}
	if (strchr(u, ' ') != NULL)
		return "contains a space";
	if (strchr(u, '#') != NULL)
		return "has a fragment ('#'), which OAuth endpoints must not "
		       "have";
	auth_end = p + strcspn(p, "/?");
	if (memchr(p, '@', (size_t)(auth_end - p)) != NULL)
		return "carries a user name or password before the host";
	if (*p == '[') {
		bracketed = 1;
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(auth_end - host));
		if (host_end == NULL)
			return "has an IPv6 address without its closing ']'";
		q = host_end + 1;
	} else {
		host = p;
		host_end = p + strcspn(p, ":/?");
		for (q = host; q < host_end; q++)
			if (!((*q >= 'a' && *q <= 'z') ||
			      (*q >= 'A' && *q <= 'Z') ||
			      (*q >= '0' && *q <= '9') || *q == '-' ||
			      *q == '.' || *q == '_'))
				return "has an invalid host name (write "
				       "international names in punycode)";
		q = host_end;
	}
	host_len = (size_t)(host_end - host);
	if (host_len == 0)
		return "has no host";
	if (q < auth_end) {
		char *e;

		if (*q != ':' || q + 1 == auth_end || q[1] < '0' ||
		    q[1] > '9' || auth_end - q > 6)
			return "has an invalid port";
		errno = 0;
		port = strtoul(q + 1, &e, 10);
		if (errno != 0 || e != auth_end || port == 0 || port > 65535)
			return "has an invalid port";
	}
	if (!https && !is_loopback_host(host, host_len, bracketed))
		return "uses plain http:// to a host that is not a loopback "
		       "address";
	return NULL;
}

int config_is_guid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t i;

	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (i = 0; shape[i] != '\0'; i++) {
		char c = s[i];

		if (shape[i] == '-'
			? c != '-'
			: !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			    (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

/* The tenant goes into the endpoint's path, so it must be one of the forms
   Microsoft documents and can carry no '/', '?' or '%'. */
int config_is_tenant(const char *s)
{
	size_t len = strlen(s), i;
	int dots = 0;

	if (strcmp(s, "common") == 0 || strcmp(s, "organizations") == 0 ||
	    strcmp(s, "consumers") == 0 || config_is_guid(s))
		return 1;
	if (len == 0 || len > 253 || s[0] == '.' || s[0] == '-' ||
	    s[len - 1] == '.' || s[len - 1] == '-' || strstr(s, "..") != NULL)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.')
			dots++;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return dots > 0;
}

int config_is_shared_tenant(const char *t)
{
	return strcmp(t, "common") == 0 || strcmp(t, "organizations") == 0 ||
	       strcmp(t, "consumers") == 0;
}

int config_is_email(const char *s)
{
	const char *at = strrchr(s, '@');
	size_t len = strlen(s);

	return len <= EMAIL_MAX && at != NULL && at != s && at[1] != '\0' &&
	       strchr(s, ' ') == NULL;
}

/*
 * Checks the scope tokens (RFC 6749 section 3.3: %x21 / %x23-5B / %x5D-7E,
 * separated by spaces) and returns them joined by single spaces in *out.
 * On a bad token *out is NULL and *bad points at it.
 */
int config_normalise_scopes(const char *v, char **out, const char **bad)
{
	size_t len = strlen(v), w = 0;
	const char *p = v;
	char *s;

	*out = NULL;
	*bad = NULL;
	if ((s = malloc(len + 1)) == NULL)
		return XO_ERR_NOMEM;
	while (*p != '\0') {
		const char *tok;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		tok = p;
		for (; *p != '\0' && *p != ' '; p++) {
			unsigned char c = (unsigned char)*p;

			if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
				*bad = tok;
				free(s);
				return XO_ERR_CONFIG;
			}
		}
		if (w > 0)
			s[w++] = ' ';
		memcpy(s + w, tok, (size_t)(p - tok));
		w += (size_t)(p - tok);
	}
	s[w] = '\0';
	*out = s;
	return 0;
}

int agent_duration_parse(const char *s, unsigned long *out)
{
	static const struct {
		char suffix;
		unsigned long scale;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	unsigned long v, scale = 1;
	size_t len = strlen(s), digits = strspn(s, "0123456789"), i;

	*out = 0;
	if (digits == 0 || digits > 9)
		return XO_ERR_INVALID;
	if (digits + 1 == len) {
		for (i = 0, scale = 0; i < sizeof(units) / sizeof(units[0]);
		     i++)
			if (s[digits] == units[i].suffix)
				scale = units[i].scale;
		if (scale == 0)
			return XO_ERR_INVALID;
	} else if (digits != len) {
		return XO_ERR_INVALID;
	}
	/* Nine digits cannot overflow strtoul, nor times 86400 an unsigned
	   long of 64 bits; the cap keeps the result in an unsigned. */
	v = strtoul(s, NULL, 10) * scale;
	if (v == 0 || v > AGENT_DURATION_MAX)
		return XO_ERR_INVALID;
	*out = v;
	return 0;
}
