/*
 * request.h: the pure half of the browser flow's loopback listener
 * (login/redirect.c): what the bytes a connection has sent so far ask
 * for.  The listener reads; this decides, with no I/O and no globals, so
 * that the unit tests and the fuzzer reach it directly.
 *
 * One HTTP/1.x request is read, up to its blank line, and only its request
 * line is looked at: "GET /path?query HTTP/1.1".  The target is taken
 * apart with libcurl's URL API, so the query comes back as the browser
 * sent it (still encoded) for authz_parse_query().
 */
#ifndef XO_LOGIN_PURE_REQUEST_H
#define XO_LOGIN_PURE_REQUEST_H

#include <stddef.h>

/* The most a request (line and headers) may take, in bytes. */
#define REDIRECT_MAX_REQUEST 8192

enum redirect_verdict {
	REDIRECT_MORE = 0, /* no blank line yet and room left: read on */
	REDIRECT_GET,	   /* a GET of the redirect path */
	REDIRECT_REFUSE,   /* anything else: answer status, title, text */
};

struct redirect_request {
	enum redirect_verdict verdict;
	/* REDIRECT_REFUSE: 400 (no HTTP request, a NUL byte, a target that
	   is no path), 404 (another path), 405 (not GET) or 431 (no blank
	   line within REDIRECT_MAX_REQUEST bytes), or 500 when memory is
	   short; 0 otherwise. */
	int status;
	/* REDIRECT_REFUSE: what the page says, static text. */
	const char *title;
	const char *text;
	/* REDIRECT_GET: the raw query (without '?'), or NULL when the target
	   has none.  libcurl's memory, which libcurl allocates with the
	   agent's wiping allocator (it may hold the code); freed by
	   redirect_request_cleanup(). */
	char *query;
};

/*
 * Decides what the len bytes at data (not NUL-terminated), all that a
 * connection has sent so far, ask for when the redirect path is path
 * ("/..."): read on, a GET of path with its query, or a refusal.  Fills
 * *out in every case; clean it up with redirect_request_cleanup().
 */
void redirect_parse_request(const char *data, size_t len, const char *path,
			    struct redirect_request *out);
void redirect_request_cleanup(struct redirect_request *r);

#endif
