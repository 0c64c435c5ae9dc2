/*
 * http.c: libcurl's multi_socket interface on the agent's libuv loop.
 *
 * The wiring follows curl's docs/examples/multi-uv.c with the fixes listed
 * in STYLE.md rule 10 and reference/style-study.md section 2: completed
 * transfers are drained after every curl_multi_socket_action() (a few a
 * turn: below), a 0 ms
 * timeout is run from a 1 ms timer (libcurl must not be re-entered from
 * its own timer callback), -1 stops the timer, poll contexts are freed in
 * their close callback, and a poll error is passed on as CURL_CSELECT_ERR
 * (with CURL_CSELECT_IN, so that curl learns which error: on_poll()).
 *
 * At most MAX_ACTIVE transfers run at once; the others wait, in the order
 * they were started, and are handed to libcurl as running ones end.  So a
 * storm of refreshes (a thousand accounts due together) reaches the
 * provider over a few connections that libcurl's cache of the multi
 * handle keeps open and reuses (HTTP keep-alive), not over a thousand
 * new ones, and a transfer's timeout starts when it is handed over, not
 * while it waits its turn.
 *
 * The callbacks of at most DONE_PER_TURN ended transfers run in one turn
 * of the loop; the others stay in libcurl's queue of messages and an
 * idle handle takes the next few in the next turn, after the loop has
 * polled again.  A refresh's callback parses a reply of some KiB
 * (jansson), seals two tokens and writes the account's state, some
 * 100 to 600 us on this machine's loop thread; in a refresh storm
 * all MAX_ACTIVE transfers end together, and a turn that ran all their
 * callbacks took 5 to 20 ms, during which a client's TOKEN waited
 * (tests/bench/README.md, the refresh storm).
 *
 * libcurl must have been initialised with curl_global_init() before
 * agent_http_new() (the agent's main does it once, single-threaded).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include <xoauth/xo_errors.h>

#include "oauth/http.h"
#include "core/log.h"
#include "secret/buf.h"
#include "secret/secret.h"
#include "secret/stack.h"

#ifndef XO_VERSION
#define XO_VERSION "unknown"
#endif

#define DEFAULT_TIMEOUT_MS 30000L
/* Transfers at once, and connections kept for reuse. */
#define MAX_ACTIVE 16
/* Ended transfers whose callbacks run in one turn of the loop (above). */
#define DONE_PER_TURN 2
/* How long a kept connection may have been idle and still be reused:
   shorter than any server's keep-alive (Node's default is 5 s). */
#define MAX_IDLE_CONN_S 2L
/* A Retry-After further out than this is treated as this: a provider's
   typo must not silence an account for weeks. */
#define MAX_RETRY_AFTER (24L * 3600L)

struct sock_ctx {
	uv_poll_t poll;
	curl_socket_t fd;
	struct agent_http *h;
	struct sock_ctx *prev, *next; /* live (not closing) contexts */
};

struct agent_http_xfer {
	struct agent_http *h;
	CURL *easy;
	CURLU *url;
	struct agent_plain *form;   /* request body, sodium_malloc */
	struct curl_slist *headers; /* a body's own headers, or NULL */
	/* The response, a C string at all times (the NUL is kept after the
	   bytes): it holds tokens, and agent_buf wipes it. */
	struct agent_buf body;
	int too_large;
	int done; /* the callback is running: cancel is a no-op */
	long retry_after;
	long timeout_ms; /* the transfer's deadline, for messages */
	agent_http_cb cb;
	agent_http_easy_cb easy_cb; /* agent_http_start_easy(): the caller
				       owns easy */
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	struct agent_http_xfer *prev, *next;
	int waiting;			/* in the queue, not given to curl */
	struct agent_http_xfer *q_next; /* the queue */
};

struct agent_http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct curl_slist *headers;
	uv_idle_t more;	   /* ended transfers left for the next turn */
	uv_check_t refill; /* the budget back at the end of a turn */
	unsigned budget;   /* callbacks that may still run in this turn */
	int n_handles;	   /* timer, idle and check handle not closed yet */
	struct agent_http_xfer *xfers;
	struct agent_http_xfer *q_head, *q_tail; /* waiting their turn */
	unsigned active;			 /* given to curl */
	struct sock_ctx *socks;
	int dispatching;  /* inside check_multi_info() */
	int free_pending; /* agent_http_free() was called from a callback */
};

static void free_now(struct agent_http *h);

/* Releases everything a transfer holds; the easy handle must already be
   out of the multi handle. */
static void xfer_free(struct agent_http_xfer *x)
{
	if (x == NULL)
		return;
	if (x->easy != NULL && x->easy_cb == NULL)
		curl_easy_cleanup(x->easy);
	curl_url_cleanup(x->url);
	/* curl's allocator wipes what it frees (secret/wipe_alloc.h), the
	   bearer token's header with the rest. */
	curl_slist_free_all(x->headers);
	agent_plain_free(x->form); /* wipes the form, which may hold secrets */
	agent_buf_cleanup(&x->body);
	free(x);
}

static void xfer_unlink(struct agent_http *h, struct agent_http_xfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else if (h->xfers == x)
		h->xfers = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
}

/* Hands x to libcurl, or queues it when MAX_ACTIVE run; 0 or -1. */
static int xfer_submit(struct agent_http *h, struct agent_http_xfer *x)
{
	if (h->active >= MAX_ACTIVE) {
		x->waiting = 1;
		x->q_next = NULL;
		if (h->q_tail != NULL)
			h->q_tail->q_next = x;
		else
			h->q_head = x;
		h->q_tail = x;
		return 0;
	}
	/* Adding the handle sets a 0 ms timer; the transfer starts from the
	   loop, so no callback runs before this returns. */
	if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK)
		return -1;
	h->active++;
	return 0;
}

static void queue_remove(struct agent_http *h, struct agent_http_xfer *x)
{
	struct agent_http_xfer **pp, *prev = NULL;

	for (pp = &h->q_head; *pp != NULL; prev = *pp, pp = &(*pp)->q_next)
		if (*pp == x) {
			*pp = x->q_next;
			if (h->q_tail == x)
				h->q_tail = prev;
			break;
		}
	x->waiting = 0;
	x->q_next = NULL;
}

/* A transfer left curl: the first that waits takes its place.  One that
   curl refuses ends with the error at once, as if it had run. */
static void take_turns(struct agent_http *h);

/* Takes x away from curl, or out of the queue. */
static void xfer_withdraw(struct agent_http *h, struct agent_http_xfer *x)
{
	if (x->waiting) {
		queue_remove(h, x);
		return;
	}
	curl_multi_remove_handle(h->multi, x->easy);
	h->active--;
}

/*
 * The body grows by doubling up to AGENT_HTTP_MAX_RESPONSE bytes and its
 * NUL (the buffer's max).  The limit is checked here rather than left to
 * the buffer, so that too_large tells a reply over the limit from a lack
 * of memory.
 */
static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct agent_http_xfer *x = userp;
	size_t n = size * nmemb;

	if (n > AGENT_HTTP_MAX_RESPONSE - x->body.len) {
		x->too_large = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	/* Room for the NUL first, so that the view costs no second copy. */
	if (agent_buf_reserve(&x->body, x->body.len + n + 1) != 0 ||
	    agent_buf_append(&x->body, data, n) != 0 ||
	    agent_buf_cstr(&x->body) == NULL)
		return 0;
	return n;
}

/* Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date. */
static long parse_retry_after(const char *v, size_t len)
{
	char buf[80];
	char *end;
	long secs;
	time_t when, now;

	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' ||
			   v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	if (buf[0] >= '0' && buf[0] <= '9') {
		errno = 0;
		secs = strtol(buf, &end, 10);
		if (*end != '\0')
			return -1;
		if (errno == ERANGE || secs > MAX_RETRY_AFTER)
			return MAX_RETRY_AFTER;
		return secs;
	}
	/* curl_getdate() understands the RFC 9110 date formats. */
	if ((when = curl_getdate(buf, NULL)) == (time_t)-1)
		return -1;
	now = time(NULL);
	if (when <= now)
		return 0;
	if (when - now > MAX_RETRY_AFTER)
		return MAX_RETRY_AFTER;
	return (long)(when - now);
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userp)
{
	struct agent_http_xfer *x = userp;
	size_t n = size * nitems;
	static const char name[] = "retry-after:";

	/* A new status line starts a new response (after a 100 Continue, for
	   example): only the final response's headers count. */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		x->retry_after = -1;
	else if (n > sizeof(name) - 1 &&
		 strncasecmp(data, name, sizeof(name) - 1) == 0)
		x->retry_after = parse_retry_after(data + sizeof(name) - 1,
						   n - (sizeof(name) - 1));
	return n;
}

/*
 * What a failed transfer met, by curl's code: words that name the cause
 * (the user reads them in `xoauth list`), which curl's own explanation
 * follows.  A code not listed is a network failure.
 */
static const struct failure {
	CURLcode rc;
	enum oauth_fault fault;
	const char *what;
} failures[] = {
    {CURLE_PEER_FAILED_VERIFICATION, OAUTH_FAULT_TLS,
     "its TLS certificate was refused"},
    {CURLE_SSL_CACERT_BADFILE, OAUTH_FAULT_TLS,
     "its TLS certificate was refused"},
    {CURLE_SSL_ISSUER_ERROR, OAUTH_FAULT_TLS,
     "its TLS certificate was refused"},
    {CURLE_SSL_INVALIDCERTSTATUS, OAUTH_FAULT_TLS,
     "its TLS certificate was refused"},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, OAUTH_FAULT_TLS,
     "its TLS certificate was refused"},
    {CURLE_SSL_CONNECT_ERROR, OAUTH_FAULT_TLS, "the TLS handshake failed"},
    {CURLE_RECV_ERROR, OAUTH_FAULT_RESET,
     "the connection broke in the middle of the exchange"},
    {CURLE_SEND_ERROR, OAUTH_FAULT_RESET,
     "the connection broke in the middle of the exchange"},
    {CURLE_PARTIAL_FILE, OAUTH_FAULT_RESET,
     "the connection closed in the middle of the reply"},
    {CURLE_GOT_NOTHING, OAUTH_FAULT_RESET,
     "the connection closed without a reply"},
    {CURLE_OPERATION_TIMEDOUT, OAUTH_FAULT_TIMEOUT,
     "it timed out: no complete reply within"}, /* + "N s" */
    {CURLE_COULDNT_RESOLVE_HOST, OAUTH_FAULT_NETWORK, "no connection"},
    {CURLE_COULDNT_RESOLVE_PROXY, OAUTH_FAULT_NETWORK, "no connection"},
    {CURLE_COULDNT_CONNECT, OAUTH_FAULT_NETWORK, "no connection"},
};

static void describe_failure(const struct agent_http_xfer *x, CURLcode rc,
			     struct agent_http_resp *resp)
{
	const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	const char *what = "the transfer failed";
	char secs[32] = "";
	size_t i;

	resp->fault = OAUTH_FAULT_NETWORK;
	for (i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
		if (failures[i].rc != rc)
			continue;
		resp->fault = failures[i].fault;
		what = failures[i].what;
		break;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(secs, sizeof(secs), " %ld s",
			 (x->timeout_ms + 999) / 1000);
	snprintf(resp->error, sizeof(resp->error), "%s%s (%s)", what, secs,
		 detail);
}

/* The host a redirect points to (never followed), for the message. */
static void redirect_host(CURL *easy, struct agent_http_resp *resp)
{
	char *to = NULL, *host = NULL;
	CURLU *u;

	if (curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &to) != CURLE_OK ||
	    to == NULL || (u = curl_url()) == NULL)
		return;
	if (curl_url_set(u, CURLUPART_URL, to, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		snprintf(resp->redirect_host, sizeof(resp->redirect_host), "%s",
			 host);
	curl_free(host);
	curl_url_cleanup(u);
}

static void finish(struct agent_http *h, CURL *easy, CURLcode rc)
{
	struct agent_http_xfer *x = NULL;
	struct agent_http_resp resp;
	char *priv = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
	x = (struct agent_http_xfer *)priv;
	/* The CURLMsg that brought us here does not survive this call. */
	curl_multi_remove_handle(h->multi, easy);
	if (x == NULL) {
		/* Not ours; libcurl documents no such case. */
		return;
	}
	h->active--;
	xfer_unlink(h, x);
	if (x->easy_cb != NULL) {
		x->done = 1;
		x->easy_cb(x->arg, easy, rc);
		xfer_free(x);
		return;
	}

	memset(&resp, 0, sizeof(resp));
	resp.retry_after = x->retry_after;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp.status);
	if (rc == CURLE_OK) {
		resp.err = 0;
		if (resp.status >= 300 && resp.status < 400)
			redirect_host(easy, &resp);
	} else if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		resp.err = XO_ERR_PROVIDER_REPLY;
		resp.fault = OAUTH_FAULT_REPLY;
		snprintf(resp.error, sizeof(resp.error),
			 "the reply is larger than %d bytes",
			 AGENT_HTTP_MAX_RESPONSE);
	} else {
		resp.err = rc == CURLE_OPERATION_TIMEDOUT ? XO_ERR_TIMEOUT
							  : XO_ERR_HTTP;
		describe_failure(x, rc, &resp);
	}
	resp.body = x->body.data != NULL ? (const char *)x->body.data : "";
	resp.body_len = x->body.len;

	/* The form is no longer needed: wipe it before running user code. */
	agent_plain_free(x->form);
	x->form = NULL;
	x->done = 1;
	x->cb(x->arg, &resp);
	xfer_free(x);
}

static void on_more(uv_idle_t *i);
static void on_refill(uv_check_t *c);

/* Reads the finished transfers, as many as this turn's budget allows
   (the rest in the next turn: on_more()); called after each
   socket_action.  The budget is this turn's: the first callback of a
   turn starts the check handle, which gives the whole budget back at the
   end of the turn (the check phase follows the timers, idle and poll
   phases, the only ones in which libcurl reports ended transfers), so a
   turn that follows one with callbacks left over starts with all of it,
   and no turn runs more. */
static void check_multi_info(struct agent_http *h)
{
	CURLMsg *msg;
	int left;

	h->dispatching = 1;
	while (!h->free_pending && h->budget > 0 &&
	       (msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE) {
			if (h->budget == DONE_PER_TURN)
				uv_check_start(&h->refill, on_refill);
			h->budget--;
			finish(h, msg->easy_handle, msg->data.result);
		}
	}
	if (!h->free_pending) {
		/* Spent: what may be left waits for the next turn, after the
		   loop has polled its clients again. */
		if (h->budget == 0)
			uv_idle_start(&h->more, on_more);
		take_turns(h);
	}
	h->dispatching = 0;
	if (h->free_pending)
		free_now(h);
}

static void take_turns(struct agent_http *h)
{
	struct agent_http_xfer *x;

	while (h->active < MAX_ACTIVE && (x = h->q_head) != NULL) {
		queue_remove(h, x);
		if (xfer_submit(h, x) != 0) {
			/* As a transfer that could not start: its callback
			   says so (finish() wants it in curl). */
			xfer_unlink(h, x);
			x->done = 1;
			if (x->easy_cb != NULL) {
				x->easy_cb(x->arg, x->easy, CURLE_FAILED_INIT);
			} else {
				struct agent_http_resp resp;

				memset(&resp, 0, sizeof(resp));
				resp.err = XO_ERR_HTTP;
				resp.retry_after = -1;
				resp.body = "";
				snprintf(resp.error, sizeof(resp.error),
					 "cannot start the transfer");
				x->cb(x->arg, &resp);
			}
			xfer_free(x);
		}
	}
}

static void on_more(uv_idle_t *i)
{
	struct agent_http *h = i->data;

	uv_idle_stop(i);
	check_multi_info(h);
	agent_wipe_dead_stack();
}

static void on_refill(uv_check_t *c)
{
	struct agent_http *h = c->data;

	uv_check_stop(c);
	h->budget = DONE_PER_TURN;
}

static void socket_action(struct agent_http *h, curl_socket_t fd, int flags)
{
	int running = 0;
	CURLMcode mc;

	mc = curl_multi_socket_action(h->multi, fd, flags, &running);
	if (mc != CURLM_OK)
		log_error("http: curl_multi_socket_action: %s",
			  curl_multi_strerror(mc));
	check_multi_info(h);
	/* OpenSSL's ciphers leave pieces of the form (a refresh token, a
	   client secret) and of the reply in their dead stack frames. */
	agent_wipe_dead_stack();
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct sock_ctx *ctx = p->data;
	int flags = 0;

	/* On a socket error (EPOLLERR: a reset, say) libuv reports only
	   UV_EBADF and stops the poll.  Letting curl read as well makes it
	   meet the error itself and name it ("Connection reset by peer")
	   rather than say "select/poll returned error". */
	if (status < 0)
		flags = CURL_CSELECT_ERR | CURL_CSELECT_IN;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	socket_action(ctx->h, ctx->fd, flags);
}

static void on_poll_close(uv_handle_t *handle)
{
	free(handle->data);
}

static void sock_ctx_close(struct agent_http *h, struct sock_ctx *ctx)
{
	if (ctx->prev != NULL)
		ctx->prev->next = ctx->next;
	else if (h->socks == ctx)
		h->socks = ctx->next;
	if (ctx->next != NULL)
		ctx->next->prev = ctx->prev;
	ctx->prev = ctx->next = NULL;
	uv_poll_stop(&ctx->poll);
	uv_close((uv_handle_t *)&ctx->poll, on_poll_close);
}

/* CURLMOPT_SOCKETFUNCTION.  Returning -1 makes libcurl fail the transfers
   that use this socket, which is what an unwatchable socket deserves. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int action, void *userp,
			  void *socketp)
{
	struct agent_http *h = userp;
	struct sock_ctx *ctx = socketp;
	int events = 0;

	(void)easy;
	switch (action) {
	case CURL_POLL_IN:
	case CURL_POLL_OUT:
	case CURL_POLL_INOUT:
		if (ctx == NULL) {
			if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
				return -1;
			if (uv_poll_init_socket(h->loop, &ctx->poll, fd) != 0) {
				free(ctx);
				return -1;
			}
			ctx->fd = fd;
			ctx->h = h;
			ctx->poll.data = ctx;
			ctx->next = h->socks;
			if (h->socks != NULL)
				h->socks->prev = ctx;
			h->socks = ctx;
			curl_multi_assign(h->multi, fd, ctx);
		}
		if (action != CURL_POLL_IN)
			events |= UV_WRITABLE;
		if (action != CURL_POLL_OUT)
			events |= UV_READABLE;
		if (uv_poll_start(&ctx->poll, events, on_poll) != 0)
			return -1;
		break;
	case CURL_POLL_REMOVE:
		if (ctx != NULL) {
			sock_ctx_close(h, ctx);
			curl_multi_assign(h->multi, fd, NULL);
		}
		break;
	default:
		break;
	}
	return 0;
}

static void on_timeout(uv_timer_t *t)
{
	socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION.  Its doc: "do not call libcurl directly from
   within the callback itself when timeout_ms is zero". */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct agent_http *h = userp;

	(void)multi;
	if (timeout_ms < 0) {
		uv_timer_stop(&h->timer);
		return 0;
	}
	if (timeout_ms == 0)
		timeout_ms = 1;
	if (uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0) != 0)
		return -1;
	return 0;
}

int agent_http_new(uv_loop_t *loop, struct agent_http **out)
{
	struct agent_http *h = NULL;
	struct curl_slist *l;
	int r = XO_ERR_INTERNAL;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	h->loop = loop;
	if ((h->multi = curl_multi_init()) == NULL)
		goto out;
	/* Token endpoints want JSON back; "Expect:" turns off curl's
	   100-continue round trip, which buys nothing for small forms. */
	if ((l = curl_slist_append(NULL, "Accept: application/json")) == NULL)
		goto out;
	h->headers = l;
	if ((l = curl_slist_append(h->headers, "Expect:")) == NULL)
		goto out;
	h->headers = l;
	if (uv_timer_init(loop, &h->timer) != 0)
		goto out;
	/* Cannot fail (libuv returns 0); initialised with the timer, so
	   that all three are closed whenever h is. */
	uv_idle_init(loop, &h->more);
	uv_check_init(loop, &h->refill);
	/* A check handle does not shorten the poll: left referenced, an
	   active one would keep a loop with nothing else to do blocked in it
	   for ever.  Unreferenced, it runs whenever the poll returns. */
	uv_unref((uv_handle_t *)&h->refill);
	h->timer.data = h->more.data = h->refill.data = h;
	h->n_handles = 3;
	h->budget = DONE_PER_TURN;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	/* Connections stay open between transfers, as many as may run. */
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)MAX_ACTIVE);
	*out = h;
	h = NULL; /* transferred */
	r = 0;
out:
	if (h != NULL) {
		/* The timer was not initialised, or failed: nothing to close.
		 */
		if (h->multi != NULL)
			curl_multi_cleanup(h->multi);
		curl_slist_free_all(h->headers);
		free(h);
	}
	return r;
}

static void on_handle_close(uv_handle_t *handle)
{
	struct agent_http *h = handle->data;

	if (--h->n_handles == 0)
		free(h);
}

static void free_now(struct agent_http *h)
{
	struct agent_http_xfer *x;

	while ((x = h->xfers) != NULL) {
		xfer_unlink(h, x);
		xfer_withdraw(h, x);
		xfer_free(x);
	}
	/* The socket callback may run during curl_multi_cleanup() (it closes
	   cached connections), so the loop and contexts must still exist. */
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	/* Whatever libcurl did not remove is closed here, so no poll handle
	   outlives h. */
	while (h->socks != NULL)
		sock_ctx_close(h, h->socks);
	curl_slist_free_all(h->headers);
	h->headers = NULL;
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, on_handle_close);
	uv_close((uv_handle_t *)&h->more, on_handle_close);
	uv_close((uv_handle_t *)&h->refill, on_handle_close);
}

void agent_http_free(struct agent_http *h)
{
	if (h == NULL)
		return;
	if (h->dispatching) {
		/* Called from a transfer callback: finish after it returns. */
		h->free_pending = 1;
		return;
	}
	free_now(h);
}

/* 0 refused, 1 https, 2 plain http to loopback.  *out keeps the parsed URL
   when non-NULL, so the transfer uses exactly what was checked. */
static int url_kind(const char *url, CURLU **out)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL;
	unsigned char addr[sizeof(struct in6_addr)];
	char inner[INET6_ADDRSTRLEN + 1];
	size_t hl;
	int kind = 0;

	if (out != NULL)
		*out = NULL;
	if (url == NULL || (u = curl_url()) == NULL)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "https") == 0) {
		kind = 1;
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0)
		goto out;
	/* libcurl's parser has already normalised numeric IPv4 forms
	   ("127.1", "0x7f000001") to dotted quads. */
	if (strcasecmp(host, "localhost") == 0) {
		kind = 2;
	} else if (inet_pton(AF_INET, host, addr) == 1) {
		if (addr[0] == 127)
			kind = 2;
	} else if (host[0] == '[' && (hl = strlen(host)) < sizeof(inner) + 1 &&
		   host[hl - 1] == ']') {
		memcpy(inner, host + 1, hl - 2);
		inner[hl - 2] = '\0';
		if (inet_pton(AF_INET6, inner, addr) == 1 &&
		    IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr))
			kind = 2;
	}
out:
	curl_free(scheme);
	curl_free(host);
	if (kind != 0 && out != NULL) {
		*out = u;
		u = NULL; /* transferred */
	}
	curl_url_cleanup(u);
	return kind;
}

/* What every transfer of the agent's sets, mail or HTTP: the server's
   certificate and name verified (against ca_file alone when it is not
   NULL), no signals, the whole transfer's deadline, errbuf for libcurl's
   message, and no proxy from the environment for loopback.  Each is
   policy (DESIGN.md, "Secrets"): 0, or XO_ERR_INTERNAL when one could
   not be set, and the transfer must not start. */
static int setup_common(CURL *e, long timeout_ms, const char *ca_file,
			int loopback, char *errbuf)
{
	if (curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK)
		return XO_ERR_INTERNAL;
	if (ca_file != NULL &&
	    curl_easy_setopt(e, CURLOPT_CAINFO, ca_file) != CURLE_OK)
		return XO_ERR_INTERNAL;
	/* A proxy from the environment has no business with loopback. */
	if (loopback && curl_easy_setopt(e, CURLOPT_NOPROXY, "*") != CURLE_OK)
		return XO_ERR_INTERNAL;
	return 0;
}

int agent_http_mail_setup(CURL *e, const struct agent_mail_login *m)
{
	if (curl_easy_setopt(e, CURLOPT_URL, m->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, m->protocols) !=
		CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_USERNAME, m->user) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, m->token) != CURLE_OK ||
	    /* XOAUTH2: what Microsoft documents.  (Debian 12's curl still
	       takes OAUTHBEARER where a server offers it too; Microsoft's
	       do not.) */
	    curl_easy_setopt(e, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2") !=
		CURLE_OK ||
	    /* A connection cached by the multi handle would skip the login
	       this one is here for; and a logged-in connection must not
	       outlive its session. */
	    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK ||
	    /* The token never crosses a network in clear. */
	    curl_easy_setopt(e, CURLOPT_USE_SSL,
			     m->loopback ? (long)CURLUSESSL_TRY
					 : (long)CURLUSESSL_ALL) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			     m->timeout_ms < m->connect_timeout_ms
				 ? m->timeout_ms
				 : m->connect_timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, m->debug) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_DEBUGDATA, m->debug_arg) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L) != CURLE_OK)
		return XO_ERR_INTERNAL;
	return setup_common(e, m->timeout_ms, m->ca_file, m->loopback,
			    m->errbuf);
}

int agent_http_unreachable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return 1;
	default:
		return 0;
	}
}

void agent_http_lines(const char *data, size_t size,
		      void (*line)(void *arg, const char *text), void *arg)
{
	char buf[400];
	size_t i, n;

	while (size > 0) {
		for (n = 0; n < size && data[n] != '\n'; n++)
			;
		for (i = 0; i < n && i < sizeof(buf) - 1; i++)
			buf[i] =
			    (unsigned char)data[i] < 0x20 || data[i] == 0x7f
				? ' '
				: data[i];
		while (i > 0 && buf[i - 1] == ' ')
			i--;
		buf[i] = '\0';
		if (i > 0)
			line(arg, buf);
		if (n < size)
			n++;
		data += n;
		size -= n;
	}
}

int agent_http_url_allowed(const char *url)
{
	return url_kind(url, NULL) != 0;
}

/* Appends "name: value" to *list; value may be a secret (its line is
   built in wiped memory, and curl's copy is wiped when freed). */
static int add_header(struct curl_slist **list, const char *name,
		      const char *value, size_t vlen)
{
	struct agent_plain *line = NULL;
	struct curl_slist *l;
	size_t n = strlen(name) + 2 + vlen;
	int r;

	if ((r = agent_plain_new(n, &line)) != 0)
		return r;
	memcpy(line->data, name, strlen(name));
	memcpy(line->data + strlen(name), ": ", 2);
	memcpy(line->data + strlen(name) + 2, value, vlen);
	line->data[n] = '\0';
	line->len = n;
	l = curl_slist_append(*list, line->data);
	agent_plain_free(line);
	if (l == NULL)
		return XO_ERR_NOMEM;
	*list = l;
	return 0;
}

/* The headers of a request with a body of its own: the shared ones, its
   content type and its bearer token. */
static int body_headers(struct agent_http *h, struct agent_http_xfer *x,
			const struct agent_http_req *req)
{
	static const char bearer[] = "Bearer ";
	struct agent_plain *auth = NULL;
	struct curl_slist *s, *l;
	int r;

	for (s = h->headers; s != NULL; s = s->next) {
		if ((l = curl_slist_append(x->headers, s->data)) == NULL)
			return XO_ERR_NOMEM;
		x->headers = l;
	}
	if ((r = add_header(&x->headers, "Content-Type", req->content_type,
			    strlen(req->content_type))) != 0 ||
	    req->bearer == NULL)
		return r;
	if ((r = agent_plain_new(sizeof(bearer) - 1 + req->bearer->len,
				 &auth)) != 0)
		return r;
	memcpy(auth->data, bearer, sizeof(bearer) - 1);
	memcpy(auth->data + sizeof(bearer) - 1, req->bearer->data,
	       req->bearer->len);
	auth->len = sizeof(bearer) - 1 + req->bearer->len;
	r = add_header(&x->headers, "Authorization", auth->data, auth->len);
	agent_plain_free(auth);
	return r;
}

int agent_http_start(struct agent_http *h, const struct agent_http_req *req,
		     agent_http_cb cb, void *arg, struct agent_http_xfer **xfer)
{
	struct agent_http_xfer *x = NULL;
	CURL *e;
	int kind;
	int r = XO_ERR_INTERNAL;

	if (xfer != NULL)
		*xfer = NULL;
	if (h == NULL || req == NULL || cb == NULL || h->free_pending) {
		r = XO_ERR_INVALID;
		goto out;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	x->h = h;
	x->cb = cb;
	x->arg = arg;
	x->retry_after = -1;
	x->timeout_ms =
	    req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	agent_buf_init(&x->body, AGENT_HTTP_MAX_RESPONSE + 1);
	if ((kind = url_kind(req->url, &x->url)) == 0) {
		r = XO_ERR_INVALID;
		goto out;
	}
	if (req->form != NULL &&
	    (r = agent_plain_dup(req->form, req->form_len, &x->form)) != 0)
		goto out;
	if (req->content_type != NULL && (r = body_headers(h, x, req)) != 0)
		goto out;
	r = XO_ERR_INTERNAL;
	if ((x->easy = e = curl_easy_init()) == NULL)
		goto out;

	/* Each setopt below is policy (DESIGN.md, "Secrets"): a failure of
	   any of them must not start a weaker transfer. */
	if (curl_easy_setopt(e, CURLOPT_CURLU, x->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
			     kind == 2 ? "http,https" : "https") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    /* A kept connection only while requests follow each other (a
	       storm of refreshes): one refresh minutes after another would
	       find it closed by the provider, and the try on the dead one
	       would leave its error ("Broken pipe") in errbuf, which keeps
	       the first, over the real one of the retry (a refused
	       certificate, say). */
	    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, MAX_IDLE_CONN_S) !=
		CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
			     (curl_off_t)AGENT_HTTP_MAX_RESPONSE) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, x) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) !=
		CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HEADERDATA, x) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, x) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER,
			     x->headers != NULL ? x->headers : h->headers) !=
		CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT,
			     "xoauth-agent/" XO_VERSION) != CURLE_OK ||
	    setup_common(e, x->timeout_ms, req->ca_file, kind == 2,
			 x->errbuf) != 0)
		goto out;
	if (x->form != NULL) {
		/* POSTFIELDS, not COPYPOSTFIELDS: curl's copy would sit in
		   the ordinary heap, unwiped. */
		if (curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->form->data) !=
			CURLE_OK ||
		    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				     (curl_off_t)x->form->len) != CURLE_OK)
			goto out;
	} else if (req->content_type != NULL) {
		/* The body is the caller's, and no secret. */
		if (curl_easy_setopt(e, CURLOPT_POSTFIELDS,
				     req->body != NULL ? req->body : "") !=
			CURLE_OK ||
		    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				     (curl_off_t)req->body_len) != CURLE_OK)
			goto out;
	} else if (curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK) {
		goto out;
	}
	if (xfer_submit(h, x) != 0)
		goto out;
	x->next = h->xfers;
	if (h->xfers != NULL)
		h->xfers->prev = x;
	h->xfers = x;
	if (xfer != NULL)
		*xfer = x;
	x = NULL; /* transferred */
	r = 0;
out:
	xfer_free(x);
	return r;
}

int agent_http_start_easy(struct agent_http *h, CURL *easy,
			  agent_http_easy_cb cb, void *arg,
			  struct agent_http_xfer **xfer)
{
	struct agent_http_xfer *x;

	if (xfer != NULL)
		*xfer = NULL;
	if (h == NULL || easy == NULL || cb == NULL || h->free_pending)
		return XO_ERR_INVALID;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return XO_ERR_NOMEM;
	x->h = h;
	x->easy = easy;
	x->easy_cb = cb;
	x->arg = arg;
	/* The caller's easy handle writes the body where it says: none
	   is kept here. */
	agent_buf_init(&x->body, 0);
	if (curl_easy_setopt(easy, CURLOPT_PRIVATE, x) != CURLE_OK ||
	    xfer_submit(h, x) != 0) {
		free(x);
		return XO_ERR_INTERNAL;
	}
	x->next = h->xfers;
	if (h->xfers != NULL)
		h->xfers->prev = x;
	h->xfers = x;
	if (xfer != NULL)
		*xfer = x;
	return 0;
}

void agent_http_cancel(struct agent_http *h, struct agent_http_xfer *xfer)
{
	if (h == NULL || xfer == NULL || xfer->done)
		return;
	xfer_unlink(h, xfer);
	xfer_withdraw(h, xfer);
	xfer_free(xfer);
	/* Not from a transfer's callback (check_multi_info() does it
	   then): a place freed is taken now. */
	if (!h->dispatching)
		take_turns(h);
}
