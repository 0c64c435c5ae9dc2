/*
 * http.h: libcurl's multi interface driven by the agent's libuv loop
 * (curl's docs/examples/multi-uv.c with its known fixes; STYLE.md rule 10).
 * Nothing here blocks the loop.
 *
 * Policy for every transfer: HTTPS with certificate verification, or plain
 * http only to a loopback address; no redirects; a response size cap; a
 * total timeout.  Request bodies may hold secrets: the module keeps them
 * in sodium_malloc memory and wipes them when the transfer ends.
 *
 * libcurl must have been initialised with curl_global_init() (the agent's
 * main does it once, before agent_http_new()); this module keeps no global
 * state of its own.  Callbacks run from the loop, never from inside
 * agent_http_start(); agent_http_free() may be called from a callback.
 */
#ifndef XO_OAUTH_HTTP_H
#define XO_OAUTH_HTTP_H

#include <stddef.h>

#include <curl/curl.h>
#include <uv.h>

#include "oauth/pure/reply.h"

struct agent_http;
struct agent_http_xfer;

/* Largest response body accepted from a provider. */
#define AGENT_HTTP_MAX_RESPONSE (64 * 1024)

struct agent_http_req {
	const char *url;
	const char *form; /* application/x-www-form-urlencoded body, or
			     NULL for a GET */
	size_t form_len;
	const char *ca_file; /* NULL: system store */
	long timeout_ms;     /* 0: 30000 */
	/* A POST of another body than a form (the send transports): body
	   (borrowed: it must outlive the transfer, and is no secret) with
	   its content_type.  bearer (may be NULL) is the access token of an
	   Authorization header; its copies are wiped. */
	const char *content_type;
	const void *body;
	size_t body_len;
	const struct agent_plain *bearer;
};

struct agent_http_resp {
	int err;		/* 0, or XO_ERR_HTTP / XO_ERR_TIMEOUT /
				   XO_ERR_PROVIDER_REPLY (too large) */
	enum oauth_fault fault; /* what failed when err != 0 (TLS, reset,
				   timeout ...) */
	char error[320];	/* when err != 0: what failed, in words,
				   then curl's explanation in parentheses */
	long status;		/* HTTP status, 0 when none arrived */
	const char *body;	/* NUL-terminated; wiped after the callback */
	size_t body_len;
	long retry_after;	 /* seconds from Retry-After, -1 when absent */
	char redirect_host[256]; /* a 3xx reply's Location host, "" when
				    none (the redirect is not followed) */
};

/* Called once per transfer, unless it was cancelled. */
typedef void (*agent_http_cb)(void *arg, const struct agent_http_resp *r);

int agent_http_new(uv_loop_t *loop, struct agent_http **out);
/*
 * Cancels what is left (no callbacks), cleans the multi handle up and
 * closes the libuv handles; the caller runs the loop afterwards so the
 * close callbacks can free them.
 */
void agent_http_free(struct agent_http *h);

/* Starts a transfer; on an error return cb is never called.  A URL that
 * agent_http_url_allowed() refuses gives XO_ERR_INVALID.  *xfer (may be
 * NULL) is valid until cb starts or the transfer is cancelled. */
int agent_http_start(struct agent_http *h, const struct agent_http_req *req,
		     agent_http_cb cb, void *arg,
		     struct agent_http_xfer **xfer);
/*
 * A transfer of another protocol on the same loop (the doctor's SMTP or
 * IMAP login).  The caller sets easy up completely (URL, protocols, TLS,
 * timeouts) except CURLOPT_PRIVATE, which this module uses, and keeps
 * owning it: it cleans easy up after cb ran, or after agent_http_cancel().
 * None of the HTTP policy above applies; cb gets curl's result code.  On
 * an error return cb is never called.
 */
typedef void (*agent_http_easy_cb)(void *arg, CURL *easy, CURLcode rc);
int agent_http_start_easy(struct agent_http *h, CURL *easy,
			  agent_http_easy_cb cb, void *arg,
			  struct agent_http_xfer **xfer);

/*
 * Splits what libcurl hands CURLOPT_DEBUGFUNCTION into lines, control
 * characters made blanks and trailing blanks cut, and calls line(arg,
 * text) for each that is not empty: how the doctor and the send
 * transports read a mail server's replies (CURLINFO_HEADER_IN).  Never
 * for CURLINFO_HEADER_OUT, which carries the token.
 */
void agent_http_lines(const char *data, size_t size,
		      void (*line)(void *arg, const char *text), void *arg);

/* A login at a mail server with XOAUTH2 (the doctor's probe, the SMTP
   transport). */
struct agent_mail_login {
	const char *url;       /* smtp://, smtps://, imap:// or imaps:// */
	const char *protocols; /* "smtp,smtps" or "imap,imaps" */
	const char *user;
	const char *token;   /* the bearer; libcurl copies it for the
				length of the login */
	int loopback;	     /* TLS when offered; elsewhere required */
	const char *ca_file; /* NULL: the system's store */
	long timeout_ms;     /* the whole session */
	long connect_timeout_ms;
	char *errbuf;		   /* CURL_ERROR_SIZE bytes */
	curl_debug_callback debug; /* reads the server's lines */
	void *debug_arg;
};
/*
 * Sets easy up for a login as m says: XOAUTH2 (what Microsoft and Google
 * document), a connection of its own that ends with it, TLS (STARTTLS or
 * from the first byte) required except to loopback, certificates
 * verified, no proxy for loopback.  0, or XO_ERR_INTERNAL when an option
 * did not take: a session with one missing must not start.
 */
int agent_http_mail_setup(CURL *easy, const struct agent_mail_login *m);
/* 1 when rc says the server could not be reached (or went silent). */
int agent_http_unreachable(CURLcode rc);

/* Stops a transfer; its callback will not be called. */
void agent_http_cancel(struct agent_http *h, struct agent_http_xfer *xfer);

/* 1 if url is https, or http to 127.0.0.0/8, ::1 or localhost. */
int agent_http_url_allowed(const char *url);

#endif
