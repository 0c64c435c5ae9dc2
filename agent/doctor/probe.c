/*
 * probe.c: a real XOAUTH2 login with libcurl's SMTP or IMAP, on
 * the agent's loop.
 *
 * curl speaks the protocol; we only read the server's side of the
 * dialogue through CURLOPT_DEBUGFUNCTION (CURLINFO_HEADER_IN), to quote a
 * "535 5.7.139 ..." back to the user (doctor_heard_feed() in
 * doctor/pure/reply.c reads it).  The client's side
 * (CURLINFO_HEADER_OUT) carries the token and is never looked at, and no
 * other debug output is kept.  CURLOPT_XOAUTH2_BEARER makes libcurl copy
 * the token into its own (unwiped) memory for the length of the login:
 * the price of not writing SASL ourselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <xoauth/xo_errors.h>

#include "doctor/probe.h"
#include "core/log.h"

/* A connection attempt gives up sooner than the whole login, so that an
   unreachable host is named as such. */
#define CONNECT_TIMEOUT_MS 10000L

struct doctor_probe {
	struct agent_http *http;
	struct agent_http_xfer *xfer; /* NULL once ended */
	CURL *easy;
	int imap;
	struct agent_mailhost target;
	char email[320];
	long timeout_ms;
	CURLcode rc;
	char errbuf[CURL_ERROR_SIZE];
	doctor_probe_cb cb;
	void *arg;

	struct doctor_heard heard; /* what the server said */
};

static const char *proto_name(const struct doctor_probe *p)
{
	return p->imap ? "IMAP" : "SMTP";
}

/* "host:port", with brackets around an IPv6 address. */
static void where(const struct doctor_probe *p, char *buf, size_t len)
{
	if (strchr(p->target.host, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", p->target.host, p->target.port);
	else
		snprintf(buf, len, "%s:%u", p->target.host, p->target.port);
}

static int ends_with_stop(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.';
}

static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size,
		    void *userp)
{
	struct doctor_probe *p = userp;

	(void)easy;
	/* Only the server's lines: HEADER_OUT holds the token. */
	if (type == CURLINFO_HEADER_IN)
		doctor_heard_feed(&p->heard, p->imap, data, size);
	return 0;
}

/* Replies to NOOP and the like: counted, not kept. */
static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	(void)data;
	(void)userp;
	return size * nmemb;
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
	struct doctor_probe *p = arg;

	(void)easy;
	p->xfer = NULL;
	p->rc = rc;
	p->cb(p->arg, p);
}

int doctor_probe_start(struct agent_http *h, int imap,
		       const struct agent_mailhost *t, const char *email,
		       const char *ca_file, const struct agent_plain *token,
		       long timeout_ms, doctor_probe_cb cb, void *arg,
		       struct doctor_probe **out)
{
	struct doctor_probe *p = NULL;
	struct agent_mail_login m;
	char url[300], hostport[280];
	const char *scheme;
	CURL *e;
	int r = XO_ERR_INTERNAL;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return XO_ERR_NOMEM;
	p->http = h;
	p->imap = imap;
	p->target = *t;
	snprintf(p->email, sizeof(p->email), "%s", email);
	p->timeout_ms = timeout_ms;
	p->cb = cb;
	p->arg = arg;
	if (imap)
		scheme = t->implicit_tls ? "imaps" : "imap";
	else
		scheme = t->implicit_tls ? "smtps" : "smtp";
	where(p, hostport, sizeof(hostport));
	snprintf(url, sizeof(url), "%s://%s/", scheme, hostport);
	if ((p->easy = e = curl_easy_init()) == NULL)
		goto out;
	memset(&m, 0, sizeof(m));
	m.url = url;
	m.protocols = imap ? "imap,imaps" : "smtp,smtps";
	m.user = email;
	m.token = token->data;
	m.loopback = t->loopback;
	m.ca_file = ca_file;
	m.timeout_ms = timeout_ms;
	m.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	m.errbuf = p->errbuf;
	m.debug = on_debug;
	m.debug_arg = p;
	if (agent_http_mail_setup(e, &m) != 0 ||
	    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "NOOP") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK)
		goto out;
	if ((r = agent_http_start_easy(h, e, on_done, p, &p->xfer)) != 0)
		goto out;
	log_debug("doctor: %s login at %s as %s", proto_name(p), hostport,
		  email);
	*out = p;
	p = NULL; /* transferred */
	r = 0;
out:
	doctor_probe_free(p);
	return r;
}

void doctor_probe_free(struct doctor_probe *p)
{
	if (p == NULL)
		return;
	if (p->xfer != NULL)
		agent_http_cancel(p->http, p->xfer);
	if (p->easy != NULL)
		curl_easy_cleanup(p->easy);
	free(p);
}

static int tls_failed(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
		return 1;
	default:
		return 0;
	}
}

void doctor_probe_report(const struct doctor_probe *p, struct doctor_report *r)
{
	const char *name = proto_name(p);
	const char *why =
	    p->errbuf[0] != '\0' ? p->errbuf : curl_easy_strerror(p->rc);
	struct doctor_cause c;
	char at[280];

	where(p, at, sizeof(at));
	if (p->rc == CURLE_OK &&
	    (p->imap ? !p->heard.preauth : p->heard.auth_ok)) {
		doctor_addf(r, PROTO_LEVEL_OK, NULL,
			    "%s login as %s at %s works (the server accepted "
			    "the token%s%s)",
			    name, p->email, at, p->heard.success[0] ? ": " : "",
			    p->heard.success);
		return;
	}
	if (p->rc == CURLE_OK) {
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Use the server's submission port (587 with "
			    "STARTTLS, or 465); many servers offer AUTH only "
			    "there, or only after STARTTLS.",
			    "%s server at %s let the session in without a "
			    "login (%s), so the token was not tried",
			    name, at,
			    p->heard.offer[0] != '\0' ? p->heard.offer
						      : "it offered no AUTH");
		return;
	}
	if (p->heard.refusal[0] != '\0' &&
	    (p->rc == CURLE_LOGIN_DENIED || p->rc == CURLE_QUOTE_ERROR ||
	     p->rc == CURLE_WEIRD_SERVER_REPLY)) {
		if (p->imap)
			doctor_imap_reply_cause(p->heard.refusal, p->email, &c);
		else
			doctor_smtp_reply_cause(p->heard.refusal, p->email, &c);
		/* IMAP replies end in a full stop already ("NO
		   [AUTHENTICATIONFAILED] Authentication failed."). */
		doctor_addf(r, c.level, c.fix,
			    "%s login as %s at %s refused: "
			    "%s%s %s",
			    name, p->email, at, p->heard.refusal,
			    ends_with_stop(p->heard.refusal) ? "" : ".",
			    c.text);
		return;
	}
	if (p->imap && p->heard.challenge[0] != '\0' &&
	    p->rc == CURLE_LOGIN_DENIED) {
		doctor_imap_reply_cause(p->heard.challenge, p->email, &c);
		doctor_addf(r, c.level, c.fix,
			    "%s login as %s at %s refused: the server answered "
			    "the token with the error %s. %s",
			    name, p->email, at, p->heard.challenge, c.text);
		return;
	}
	if (p->rc == CURLE_LOGIN_DENIED) {
		doctor_addf(
		    r, PROTO_LEVEL_PROBLEM,
		    "Check host and port: Microsoft 365, Outlook.com "
		    "and Gmail offer XOAUTH2 (some servers only after "
		    "STARTTLS).",
		    "%s server at %s does not offer XOAUTH2 (%s)", name, at,
		    p->heard.offer[0] != '\0' ? p->heard.offer
					      : "no AUTH mechanisms offered");
		return;
	}
	if (p->rc == CURLE_USE_SSL_FAILED) {
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Use the port with TLS: 465 for SMTP or 993 for "
			    "IMAP, or 587 and 143 where STARTTLS is offered.",
			    "%s server at %s offers no STARTTLS, so the token "
			    "was not sent over the plain connection",
			    name, at);
		return;
	}
	if (tls_failed(p->rc)) {
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Check the host name and the port: the server's "
			    "certificate must be valid for the name and "
			    "trusted by the account's ca_file or the "
			    "system's store, and a port that starts with "
			    "plain text wants smtp:// or imap:// (STARTTLS), "
			    "not smtps:// or imaps://.",
			    "TLS with the %s server at %s failed: %s", name, at,
			    why);
		return;
	}
	if (p->rc == CURLE_OPERATION_TIMEDOUT && p->heard.greeted) {
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Check the port: is it the server's SMTP "
			    "submission or IMAP port?",
			    "%s server at %s did not finish the login in time "
			    "(its first line: %s)",
			    name, at, p->heard.greeting);
		return;
	}
	if (agent_http_unreachable(p->rc)) {
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Check the host name and port, and that no "
			    "firewall blocks the way (SMTP submission: 587 or "
			    "465; IMAP: 993).",
			    "cannot reach %s for %s: %s%s%s", at, name, why,
			    p->heard.refusal[0] ? "; server: " : "",
			    p->heard.refusal);
		return;
	}
	doctor_addf(r, PROTO_LEVEL_PROBLEM,
		    "Run the login again; if it fails the same way, compare "
		    "with 'curl -v' against the server.",
		    "%s login as %s at %s failed: %s%s%s", name, p->email, at,
		    why, p->heard.refusal[0] ? "; server: " : "",
		    p->heard.refusal);
}
