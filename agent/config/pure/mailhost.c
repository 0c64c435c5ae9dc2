/*
 * mailhost.c: a mail server's address as the user writes it, HOST[:PORT]
 * or [V6]:PORT, optionally after the scheme that says how TLS starts
 * (smtps:// or imaps:// from the first byte, smtp:// or imap:// by
 * STARTTLS), for `smtp =` and `xoauth doctor --smtp/--imap`.  Pure.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"

#define MAX_HOST 253

int agent_host_is_loopback(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, addr) == 1)
		return addr[0] == 127;
	if (inet_pton(AF_INET6, host, addr) == 1)
		return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr);
	return 0;
}

/* A DNS name or an IPv4 address: letters, digits, '-' and '.', starting
   with a letter or digit.  Nothing that could make a URL mean more. */
static int host_ok(const char *h, size_t n)
{
	size_t i;

	if (n == 0 || n > MAX_HOST || !isalnum((unsigned char)h[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return 0;
	return 1;
}

static int port_ok(const char *p, unsigned *port)
{
	unsigned long v = 0;
	size_t i;

	if (p[0] == '\0' || strlen(p) > 5)
		return 0;
	for (i = 0; p[i] != '\0'; i++) {
		if (!isdigit((unsigned char)p[i]))
			return 0;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return 0;
	*port = (unsigned)v;
	return 1;
}

/* The scheme at the start of spec, if any: how TLS starts, and the
   port that goes with it.  Returns the length taken (0: none), or -1
   for a scheme of another protocol. */
static int scheme(const char *spec, int imap, int *implicit_tls, unsigned *port)
{
	static const struct {
		const char *prefix;
		int imap, implicit_tls;
		unsigned port;
	} schemes[] = {
	    {"smtps://", 0, 1, 465},
	    {"smtp://", 0, 0, 587},
	    {"imaps://", 1, 1, 993},
	    {"imap://", 1, 0, 143},
	};
	size_t i, n;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		n = strlen(schemes[i].prefix);
		if (strncasecmp(spec, schemes[i].prefix, n) != 0)
			continue;
		if (schemes[i].imap != imap)
			return -1;
		*implicit_tls = schemes[i].implicit_tls;
		*port = schemes[i].port;
		return (int)n;
	}
	return strstr(spec, "://") != NULL ? -1 : 0;
}

int agent_mailhost_parse(const char *spec, int imap, struct agent_mailhost *out,
			 char *why, size_t whylen)
{
	unsigned char addr[sizeof(struct in6_addr)];
	const char *host, *rest, *close;
	int skip, implicit_tls = -1;
	size_t hl;

	memset(out, 0, sizeof(*out));
	out->port = imap ? 993 : 587;
	if (spec == NULL || spec[0] == '\0') {
		snprintf(why, whylen, "it is empty");
		return -1;
	}
	/* The reasons below quote the address: none may carry a line break
	   or a terminal escape into the client's message. */
	for (close = spec; *close != '\0'; close++) {
		if ((unsigned char)*close < 0x20 || *close == 0x7f) {
			snprintf(why, whylen, "it holds a control character");
			return -1;
		}
	}
	if ((skip = scheme(spec, imap, &implicit_tls, &out->port)) < 0) {
		snprintf(why, whylen,
			 "the only schemes are %s (TLS from the first byte) "
			 "and %s (STARTTLS)",
			 imap ? "imaps://" : "smtps://",
			 imap ? "imap://" : "smtp://");
		return -1;
	}
	spec += skip;
	if (spec[0] == '[') {
		/* An IPv6 address, in brackets as in a URL. */
		if ((close = strchr(spec, ']')) == NULL) {
			snprintf(why, whylen, "the '[' has no ']'");
			return -1;
		}
		host = spec + 1;
		hl = (size_t)(close - host);
		rest = close + 1;
		if (hl == 0 || hl >= sizeof(out->host)) {
			snprintf(why, whylen, "the address is empty or long");
			return -1;
		}
		memcpy(out->host, host, hl);
		out->host[hl] = '\0';
		if (inet_pton(AF_INET6, out->host, addr) != 1) {
			snprintf(why, whylen, "'%s' is not an IPv6 address",
				 out->host);
			return -1;
		}
	} else {
		host = spec;
		hl = strcspn(spec, ":");
		rest = spec + hl;
		if (strchr(rest + (*rest != '\0'), ':') != NULL) {
			snprintf(why, whylen,
				 "write an IPv6 address as [ADDRESS]:PORT");
			return -1;
		}
		if (!host_ok(host, hl)) {
			snprintf(why, whylen,
				 "a host name has only letters, digits, '-' "
				 "and '.'");
			return -1;
		}
		memcpy(out->host, host, hl);
		out->host[hl] = '\0';
	}
	if (*rest != '\0') {
		if (*rest != ':' || !port_ok(rest + 1, &out->port)) {
			snprintf(why, whylen,
				 "the port must be a number from 1 to 65535");
			return -1;
		}
	}
	/* Without a scheme, the port says it, as mail programs take it. */
	out->implicit_tls = implicit_tls >= 0 ? implicit_tls
			    : imap	      ? out->port == 993
					      : out->port == 465;
	out->loopback = agent_host_is_loopback(out->host);
	return 0;
}
