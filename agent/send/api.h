/*
 * api.h: one message through an HTTP API instead of SMTP, over
 * agent_http (https, no redirects, capped replies):
 *
 *   Microsoft Graph: POST {graph_endpoint}/me/sendMail (an app-only
 *   account: /users/{address}/sendMail), the MIME message base64-encoded
 *   as text/plain; 202 Accepted.
 *   Gmail API: POST {gmail_endpoint}/users/me/messages/send,
 *   {"raw": base64url(message)} as application/json; 200 and the
 *   message's id.
 *
 * Both send to the recipients the message's To, Cc and Bcc name.
 */
#ifndef XO_SEND_API_H
#define XO_SEND_API_H

#include <stdbool.h>
#include <stddef.h>

#include "oauth/http.h"
#include "secret/secret.h"

enum send_api_kind {
	SEND_API_GRAPH,
	SEND_API_GMAIL,
};

struct send_api;
typedef void (*send_api_cb)(void *arg, struct send_api *a);

struct send_api_req {
	enum send_api_kind kind;
	const char *endpoint; /* graph_endpoint or gmail_endpoint */
	const char *user;     /* Graph's /users/{user}; NULL: /me */
	const char *ca_file;  /* NULL: the system's store */
	const struct agent_plain *token;
	const char *data; /* the message (CRLF); copied, encoded */
	size_t len;
	long timeout_ms;
};

int send_api_start(struct agent_http *h, const struct send_api_req *q,
		   send_api_cb cb, void *arg, struct send_api **out);
void send_api_free(struct send_api *a);

struct send_api_result {
	int err;	    /* 0: sent; else XO_ERR_* */
	long status;	    /* the HTTP status, 0: none came */
	long retry_after;   /* seconds, -1: none said */
	bool token_refused; /* 401: a fresh token may do */
	char reply[400];    /* for people: "202 Accepted", the id, ... */
	char why[600];	    /* when err != 0 */
};
void send_api_result(const struct send_api *a, struct send_api_result *out);

/* "Microsoft Graph" or "the Gmail API", and "graph" or "gmail". */
const char *send_api_name(enum send_api_kind kind);
const char *send_api_word(enum send_api_kind kind);

#endif
