/*
 * api.h: one message through an HTTP API instead of SMTP, over
 * agent_http (https, no redirects, capped replies):
 *
 *   Microsoft Graph: POST {graph_endpoint}/me/sendMail (an app-only
 *   account: /users/{address}/sendMail), the MIME message base64-encoded
 *   as text/plain; 202 Accepted.  At most SEND_GRAPH_MAX bytes of base64
 *   in one request, and no other way to send MIME (docs/SENDING.md).
 *   Gmail API: the media upload of users.messages.send, POST
 *   {gmail_endpoint with /upload before its path}/users/me/messages/send
 *   ?uploadType=media, the message itself as message/rfc822; 200 and the
 *   message's id.  At most SEND_GMAIL_MAX bytes.
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

/* Graph's request (the base64 of the MIME message): 4 MB, as ASP.NET's
   maxRequestLength counts it (4096 KiB); "Submission attempts that exceed
   this limit will result in an HTTP 413" (user-post-messages). */
#define SEND_GRAPH_MAX ((size_t)4 * 1024 * 1024)
/* The Gmail API's media upload: maxSize 36700160 (35 MiB) in its
   discovery document. */
#define SEND_GMAIL_MAX ((size_t)35 * 1024 * 1024)

/*
 * Whether a message of len bytes can go through the API at all: 0, or
 * XO_ERR_MESSAGE_BAD with why saying the sizes, the limit and what to do
 * instead, so that nothing is sent to be refused.
 */
int send_api_check_size(enum send_api_kind kind, size_t len, char *why,
			size_t whylen);

struct send_api;
typedef void (*send_api_cb)(void *arg, struct send_api *a);

struct send_api_req {
	enum send_api_kind kind;
	const char *endpoint; /* graph_endpoint or gmail_endpoint */
	const char *user;     /* Graph's /users/{user}; NULL: /me */
	const char *ca_file;  /* NULL: the system's store */
	const struct agent_plain *token;
	const char *data; /* the message (CRLF); must outlive the transfer
			     (Graph's base64 is a copy of its own) */
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
