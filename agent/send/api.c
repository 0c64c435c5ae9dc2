/*
 * api.c: a message through Microsoft Graph or the Gmail API (api.h).
 *
 * Graph (learn.microsoft.com, user: sendMail, "MIME format"): the body is
 * the MIME message base64-encoded, Content-Type text/plain; success is
 * 202 Accepted with no body; malformed MIME is a 400, a request over
 * 4 MB a 413.  Gmail (users.messages.send, and the uploads guide): the
 * media upload, whose URI is the method's with "/upload" before the
 * path, takes the message itself with uploadType=media and a message/
 * type (message/rfc822), up to 35 MB (the JSON form's {"raw": base64url} would
 * cost a third more and has no documented size of its own); success is
 * 200 with the new message's id.  Errors come as JSON {"error": {...}}
 * (pure/message.c reads them); 401 says the token was refused, 403 that
 * it lacks the permission, 429 (with Retry-After) to slow down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "core/log.h"
#include "send/api.h"
#include "send/pure/message.h"

#define MAX_URL 2048

struct send_api {
	struct agent_http *http;
	struct agent_http_xfer *xfer;
	enum send_api_kind kind;
	char *body; /* Graph's base64; Gmail's is the message itself */
	size_t body_len;
	size_t len; /* the message's */
	send_api_cb cb;
	void *arg;
	/* The answer, kept for send_api_result(). */
	int resp_err;
	long status;
	long retry_after;
	char error[256];
	char code[128];
	char message[300];
	char id[128];
};

const char *send_api_name(enum send_api_kind kind)
{
	return kind == SEND_API_GRAPH ? "Microsoft Graph" : "the Gmail API";
}

const char *send_api_word(enum send_api_kind kind)
{
	return kind == SEND_API_GRAPH ? "graph" : "gmail";
}

/* Graph's body: the message in base64, no line breaks. */
static int graph_body(struct send_api *a, const char *data, size_t len)
{
	size_t n =
	    sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);

	if ((a->body = malloc(n)) == NULL)
		return XO_ERR_NOMEM;
	sodium_bin2base64(a->body, n, (const unsigned char *)data, len,
			  sodium_base64_VARIANT_ORIGINAL);
	a->body_len = n - 1;
	return 0;
}

/* What base64 makes of len bytes, without the NUL. */
static size_t base64_len(size_t len)
{
	return sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL) -
	       1;
}

int send_api_check_size(enum send_api_kind kind, size_t len, char *why,
			size_t whylen)
{
	if (kind == SEND_API_GRAPH && base64_len(len) > SEND_GRAPH_MAX) {
		snprintf(why, whylen,
			 "the message is %zu bytes, %zu in base64: Microsoft "
			 "Graph takes at most %zu bytes (4 MB) of base64 MIME "
			 "in one request, a message of about 3 MB, and has no "
			 "way to upload a larger MIME message (its upload "
			 "sessions take attachments of a draft made from "
			 "JSON, not MIME); nothing was sent: send it by SMTP "
			 "(send = smtp or auto, SMTP AUTH enabled for the "
			 "mailbox) or make it smaller",
			 len, base64_len(len), SEND_GRAPH_MAX);
		return XO_ERR_MESSAGE_BAD;
	}
	if (kind == SEND_API_GMAIL && len > SEND_GMAIL_MAX) {
		snprintf(why, whylen,
			 "the message is %zu bytes: the Gmail API takes at "
			 "most %zu bytes (35 MB); nothing was sent",
			 len, SEND_GMAIL_MAX);
		return XO_ERR_MESSAGE_BAD;
	}
	return 0;
}

static void on_done(void *arg, const struct agent_http_resp *resp)
{
	struct send_api *a = arg;
	json_t *doc;

	a->xfer = NULL;
	a->resp_err = resp->err;
	a->status = resp->status;
	a->retry_after = resp->retry_after;
	snprintf(a->error, sizeof(a->error), "%s", resp->error);
	if (resp->err == 0 && (resp->status < 200 || resp->status > 299))
		send_api_error(resp->body, resp->body_len, a->code,
			       sizeof(a->code), a->message, sizeof(a->message));
	if (resp->err == 0 && resp->status == 200 &&
	    (doc = json_loadb(resp->body, resp->body_len, 0, NULL)) != NULL) {
		snprintf(a->id, sizeof(a->id), "%s",
			 json_string_value(json_object_get(doc, "id")) != NULL
			     ? json_string_value(json_object_get(doc, "id"))
			     : "");
		json_decref(doc);
	}
	log_debug("send: %s answered HTTP %ld", send_api_name(a->kind),
		  resp->status);
	a->cb(a->arg, a);
}

/* Google's upload URI of users.messages.send: the endpoint with
   "/upload" before its path ("https://gmail.googleapis.com/upload/gmail/
   v1/..."), and uploadType=media. */
static int upload_url(const char *endpoint, char *url, size_t len)
{
	CURLU *u;
	char *path = NULL, *out = NULL, upath[MAX_URL];
	size_t pl;
	int r = XO_ERR_CONFIG, n;

	if ((u = curl_url()) == NULL)
		return XO_ERR_NOMEM;
	if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	pl = strlen(path);
	while (pl > 0 && path[pl - 1] == '/')
		pl--;
	n = snprintf(upath, sizeof(upath), "/upload%.*s/users/me/messages/send",
		     (int)pl, path);
	if (n < 0 || (size_t)n >= sizeof(upath) ||
	    curl_url_set(u, CURLUPART_PATH, upath, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_QUERY, "uploadType=media", 0) !=
		CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
		goto out;
	n = snprintf(url, len, "%s", out);
	r = n < 0 || (size_t)n >= len ? XO_ERR_CONFIG : 0;
out:
	curl_free(out);
	curl_free(path);
	curl_url_cleanup(u);
	return r;
}

static int make_url(const struct send_api_req *q, char *url, size_t len)
{
	char *user = NULL;
	int n;

	if (q->kind == SEND_API_GMAIL)
		return upload_url(q->endpoint, url, len);
	if (q->user == NULL)
		n = snprintf(url, len, "%s/me/sendMail", q->endpoint);
	else {
		if ((user = curl_easy_escape(NULL, q->user, 0)) == NULL)
			return XO_ERR_NOMEM;
		n = snprintf(url, len, "%s/users/%s/sendMail", q->endpoint,
			     user);
		curl_free(user);
	}
	return n < 0 || (size_t)n >= len ? XO_ERR_CONFIG : 0;
}

int send_api_start(struct agent_http *h, const struct send_api_req *q,
		   send_api_cb cb, void *arg, struct send_api **out)
{
	struct agent_http_req req;
	struct send_api *a;
	char url[MAX_URL];
	int r;

	*out = NULL;
	if ((r = make_url(q, url, sizeof(url))) != 0)
		return r;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return XO_ERR_NOMEM;
	a->http = h;
	a->kind = q->kind;
	a->cb = cb;
	a->arg = arg;
	a->retry_after = -1;
	a->len = q->len;
	memset(&req, 0, sizeof(req));
	if (q->kind == SEND_API_GRAPH) {
		if ((r = graph_body(a, q->data, q->len)) != 0)
			goto out;
		req.content_type = "text/plain";
		req.body = a->body;
		req.body_len = a->body_len;
	} else {
		req.content_type = "message/rfc822";
		req.body = q->data;
		req.body_len = q->len;
	}
	req.url = url;
	req.ca_file = q->ca_file;
	req.timeout_ms = q->timeout_ms;
	req.bearer = q->token;
	if ((r = agent_http_start(h, &req, on_done, a, &a->xfer)) != 0)
		goto out;
	log_debug("send: POST %s, %zu bytes", url, req.body_len);
	*out = a;
	a = NULL; /* transferred */
out:
	send_api_free(a);
	return r;
}

void send_api_free(struct send_api *a)
{
	if (a == NULL)
		return;
	if (a->xfer != NULL)
		agent_http_cancel(a->http, a->xfer);
	free(a->body);
	free(a);
}

void send_api_result(const struct send_api *a, struct send_api_result *out)
{
	const char *name = send_api_name(a->kind);
	char said[450];

	memset(out, 0, sizeof(*out));
	out->status = a->status;
	out->retry_after = a->retry_after;
	if (a->resp_err != 0) {
		out->err = XO_ERR_SEND_TEMPFAIL;
		snprintf(out->why, sizeof(out->why),
			 "%s did not answer (%s): if the request went out, the "
			 "message may have been sent; check before sending it "
			 "again",
			 name, a->error);
		return;
	}
	if (a->status >= 200 && a->status <= 299) {
		if (a->id[0] != '\0')
			snprintf(out->reply, sizeof(out->reply),
				 "%ld OK, id %s", a->status, a->id);
		else
			snprintf(out->reply, sizeof(out->reply), "%ld Accepted",
				 a->status);
		return;
	}
	snprintf(said, sizeof(said), "HTTP %ld%s%s%s%s", a->status,
		 a->code[0] ? " " : "", a->code, a->message[0] ? ": " : "",
		 a->message);
	snprintf(out->reply, sizeof(out->reply), "%s", said);
	switch (a->status) {
	case 401:
		out->token_refused = true;
		out->err = XO_ERR_SEND_AUTH;
		snprintf(out->why, sizeof(out->why),
			 "%s refused the access token (%s)", name, said);
		break;
	case 403:
		out->err = XO_ERR_SEND_AUTH;
		snprintf(
		    out->why, sizeof(out->why),
		    "%s refused to send for this account (%s): the app "
		    "registration needs the %s permission, and the "
		    "account a login that consented to it ('xoauth login')",
		    name, said,
		    a->kind == SEND_API_GRAPH
			? "Mail.Send"
			: "https://mail.google.com/ (or gmail.send)");
		break;
	case 408:
	case 429:
	case 500:
	case 502:
	case 503:
	case 504:
		out->err = XO_ERR_SEND_TEMPFAIL;
		if (a->retry_after >= 0)
			snprintf(out->why, sizeof(out->why),
				 "%s is busy (%s): try again in %ld s", name,
				 said, a->retry_after);
		else
			snprintf(out->why, sizeof(out->why),
				 "%s could not take the message now (%s)", name,
				 said);
		break;
	case 413:
		/* As our own check would have said, had the limit been
		   known to be lower. */
		out->err = XO_ERR_MESSAGE_BAD;
		snprintf(out->why, sizeof(out->why),
			 "the message (%zu bytes%s) is too large for %s "
			 "(%s); nothing was sent",
			 a->len,
			 a->kind == SEND_API_GRAPH ? ", a third more in base64"
						   : "",
			 name, said);
		break;
	default:
		out->err = a->status >= 500 ? XO_ERR_SEND_TEMPFAIL
					    : XO_ERR_SEND_REFUSED;
		snprintf(out->why, sizeof(out->why),
			 "%s refused the message (%s)", name, said);
		break;
	}
}
