/*
 * redirect.c: the browser flow's loopback HTTP listener (see redirect.h).
 *
 * Lifetimes follow libuv's rule: memory goes in the close callbacks.  The
 * server counts its open handles (the listener, and a TCP handle and a
 * timer per connection) and frees itself when the count reaches zero after
 * redirect_close().  A connection is freed when both of its handles have
 * closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xoauth/xo_errors.h>

#include "core/log.h"
#include "login/redirect.h"
#include "secret/buf.h"

enum conn_state {
	C_READING,  /* gathering the request */
	C_HANDLING, /* inside the callback */
	C_HELD,	    /* waiting for redirect_reply_held() */
	C_WRITING,  /* answer on its way, then close */
	C_CLOSING,
};

struct redirect_conn {
	struct redirect_conn *next;
	struct redirect_server *srv;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	enum conn_state state;
	int open_handles;
	char *out; /* the answer being written */
	size_t out_len;
	/* The request read so far (login/pure/request.c reads it): it can
	   carry an authorization code, and agent_buf wipes it. */
	struct agent_buf in;
};

struct redirect_server {
	uv_tcp_t tcp;
	int open_handles;
	int closing;
	char *name;
	char *path;
	redirect_cb cb;
	void *arg;
	struct redirect_conn *conns;
	unsigned n_conns;
	struct redirect_conn *held;
};

static void server_maybe_free(struct redirect_server *s)
{
	if (!s->closing || s->open_handles > 0)
		return;
	free(s->name);
	free(s->path);
	free(s);
}

static void on_server_handle_closed(uv_handle_t *h)
{
	struct redirect_server *s = h->data;

	s->open_handles--;
	server_maybe_free(s);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct redirect_conn *rc = h->data;
	struct redirect_server *s = rc->srv;

	if (--rc->open_handles > 0)
		return;
	agent_buf_cleanup(&rc->in);
	free(rc->out);
	free(rc);
	s->open_handles -= 2;
	server_maybe_free(s);
}

static void conn_close(struct redirect_conn *rc)
{
	struct redirect_server *s = rc->srv;
	struct redirect_conn **pp;

	if (rc->state == C_CLOSING)
		return;
	rc->state = C_CLOSING;
	if (s->held == rc)
		s->held = NULL;
	for (pp = &s->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == rc) {
			*pp = rc->next;
			s->n_conns--;
			break;
		}
	}
	uv_timer_stop(&rc->timer);
	uv_close((uv_handle_t *)&rc->timer, on_conn_handle_closed);
	uv_close((uv_handle_t *)&rc->tcp, on_conn_handle_closed);
}

/* Appends s HTML-escaped to b (cap bytes, NUL kept); cuts when full. */
static size_t put_escaped(char *b, size_t at, size_t cap, const char *s)
{
	for (; s != NULL && *s != '\0' && at + 7 < cap; s++) {
		const char *e = NULL;

		switch (*s) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\'':
			e = "&#39;";
			break;
		default:
			if ((unsigned char)*s >= 0x20 && *s != 0x7f)
				b[at++] = *s;
			continue;
		}
		memcpy(b + at, e, strlen(e));
		at += strlen(e);
	}
	b[at] = '\0';
	return at;
}

static size_t put_raw(char *b, size_t at, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (at + n >= cap)
		n = cap - at - 1;
	memcpy(b + at, s, n);
	b[at + n] = '\0';
	return at + n;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	return "Internal Server Error";
}

static void on_written(uv_write_t *wr, int status)
{
	struct redirect_conn *rc = wr->data;

	(void)status;
	conn_close(rc);
}

void redirect_reply(struct redirect_conn *rc, int status, const char *title,
		    const char *text)
{
	char body[2048];
	size_t n = 0, cap;
	uv_buf_t b;
	int len;

	if (rc->state == C_WRITING || rc->state == C_CLOSING)
		return;
	if (rc->srv->held == rc)
		rc->srv->held = NULL;
	n = put_raw(body, n, sizeof(body),
		    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		    "<title>");
	n = put_escaped(body, n, sizeof(body), title);
	n = put_raw(body, n, sizeof(body),
		    "</title></head>\n<body style=\"font-family:sans-serif\">"
		    "<h1>");
	n = put_escaped(body, n, sizeof(body), title);
	n = put_raw(body, n, sizeof(body), "</h1>\n<p>");
	n = put_escaped(body, n, sizeof(body), text);
	n = put_raw(body, n, sizeof(body), "</p>\n</body></html>\n");
	cap = n + 512;
	if ((rc->out = malloc(cap)) == NULL) {
		conn_close(rc);
		return;
	}
	/* No caching, no referrer (the address holds the code), nothing
	   loaded from anywhere. */
	len = snprintf(rc->out, cap,
		       "HTTP/1.1 %d %s\r\n"
		       "Content-Type: text/html; charset=utf-8\r\n"
		       "Content-Length: %zu\r\n"
		       "Cache-Control: no-store\r\n"
		       "Referrer-Policy: no-referrer\r\n"
		       "X-Content-Type-Options: nosniff\r\n"
		       "Content-Security-Policy: default-src 'none'\r\n"
		       "%s"
		       "Connection: close\r\n\r\n%s",
		       status, reason(status), n,
		       status == 405 ? "Allow: GET\r\n" : "", body);
	if (len < 0 || (size_t)len >= cap) {
		conn_close(rc);
		return;
	}
	rc->out_len = (size_t)len;
	rc->state = C_WRITING;
	uv_timer_stop(&rc->timer);
	b = uv_buf_init(rc->out, (unsigned)rc->out_len);
	rc->wr.data = rc;
	if (uv_write(&rc->wr, (uv_stream_t *)&rc->tcp, &b, 1, on_written) != 0)
		conn_close(rc);
}

static void on_timeout(uv_timer_t *t)
{
	struct redirect_conn *rc = t->data;

	if (rc->state == C_HELD) {
		redirect_reply(rc, 504, "Still working",
			       "xoauth-agent has not finished the sign-in yet; "
			       "look at the terminal where you ran xoauth "
			       "login.");
		return;
	}
	log_debug("redirect %s: a connection sent no request in time",
		  rc->srv->name);
	conn_close(rc);
}

int redirect_hold(struct redirect_conn *rc)
{
	if (rc->srv->closing || (rc->srv->held != NULL && rc->srv->held != rc))
		return -1;
	rc->srv->held = rc;
	rc->state = C_HELD;
	uv_timer_start(&rc->timer, on_timeout, REDIRECT_HOLD_MS, 0);
	return 0;
}

void redirect_reply_held(struct redirect_server *s, int status,
			 const char *title, const char *text)
{
	if (s != NULL && s->held != NULL)
		redirect_reply(s->held, status, title, text);
}

int redirect_holding(const struct redirect_server *s)
{
	return s != NULL && s->held != NULL;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct redirect_conn *rc = h->data;
	unsigned char *tail;
	size_t room;

	(void)suggested;
	/* rc->in was reserved whole at accept: a request that fills it
	   is refused (431) before another read. */
	tail = agent_buf_tail(&rc->in, &room);
	*buf = uv_buf_init((char *)tail, (unsigned)room);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct redirect_conn *rc = st->data;
	struct redirect_request req;

	(void)buf;
	if (rc->state != C_READING) {
		if (nread < 0 && rc->state != C_WRITING)
			conn_close(rc);
		return;
	}
	if (nread < 0) {
		conn_close(rc);
		return;
	}
	agent_buf_advance(&rc->in, (size_t)nread);
	redirect_parse_request((const char *)rc->in.data, rc->in.len,
			       rc->srv->path, &req);
	switch (req.verdict) {
	case REDIRECT_MORE:
		break;
	case REDIRECT_GET:
		uv_read_stop(st);
		rc->state = C_HANDLING;
		rc->srv->cb(rc->srv->arg, rc,
			    req.query != NULL ? req.query : "");
		if (rc->state == C_HANDLING)
			redirect_reply(rc, 500, "Internal error",
				       "xoauth-agent could not handle the "
				       "request.");
		break;
	case REDIRECT_REFUSE:
		uv_read_stop(st);
		if (req.status == 431)
			log_info("redirect %s: a request larger than %d bytes "
				 "was refused",
				 rc->srv->name, REDIRECT_MAX_REQUEST);
		redirect_reply(rc, req.status, req.title, req.text);
		break;
	}
	redirect_request_cleanup(&req);
}

/* The connection accepted longest ago (the list's newest are first) that
   is still reading its request, other than except; NULL if none is. */
static struct redirect_conn *oldest_reading(struct redirect_server *s,
					    const struct redirect_conn *except)
{
	struct redirect_conn *rc, *oldest = NULL;

	for (rc = s->conns; rc != NULL; rc = rc->next)
		if (rc != except && rc->state == C_READING)
			oldest = rc;
	return oldest;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct redirect_server *s = server->data;
	struct redirect_conn *rc;

	if (status < 0 || s->closing)
		return;
	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		return;
	rc->srv = s;
	agent_buf_init(&rc->in, REDIRECT_MAX_REQUEST);
	uv_tcp_init(server->loop, &rc->tcp);
	uv_timer_init(server->loop, &rc->timer);
	rc->tcp.data = rc;
	rc->timer.data = rc;
	rc->open_handles = 2;
	s->open_handles += 2;
	rc->next = s->conns;
	s->conns = rc;
	s->n_conns++;
	if (uv_accept(server, (uv_stream_t *)&rc->tcp) != 0) {
		conn_close(rc);
		return;
	}
	/* Over the limit: the oldest connection still without a whole
	   request makes room, so that a flood of idle ones cannot shut out
	   the browser's redirect, which comes with its request at once.  If
	   every other one is being answered, the newcomer is dropped. */
	if (s->n_conns > REDIRECT_MAX_CONNS) {
		struct redirect_conn *victim = oldest_reading(s, rc);

		log_info("redirect %s: more than %d connections; %s dropped",
			 s->name, REDIRECT_MAX_CONNS,
			 victim != NULL ? "the oldest idle one" : "the newest");
		if (victim == NULL) {
			conn_close(rc);
			return;
		}
		conn_close(victim);
	}
	/* The whole request's room at once, as the fixed array it once was:
	   reading needs no growth, and a lack of memory drops the connection
	   before anything is read. */
	if (agent_buf_reserve(&rc->in, REDIRECT_MAX_REQUEST) != 0) {
		conn_close(rc);
		return;
	}
	uv_timer_start(&rc->timer, on_timeout, REDIRECT_READ_MS, 0);
	if (uv_read_start((uv_stream_t *)&rc->tcp, on_alloc, on_read) != 0)
		conn_close(rc);
}

int redirect_listen(uv_loop_t *loop, const char *name, int ipv6, unsigned port,
		    const char *path, redirect_cb cb, void *arg,
		    struct redirect_server **out, unsigned *port_out, char *why,
		    size_t whylen)
{
	struct redirect_server *s;
	struct sockaddr_storage ss;
	int len = sizeof(ss), r;
	const char *host = ipv6 ? "::1" : "127.0.0.1";

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->name = strdup(name)) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		if (s != NULL) {
			free(s->name);
			free(s);
		}
		snprintf(why, whylen, "out of memory");
		return XO_ERR_NOMEM;
	}
	s->cb = cb;
	s->arg = arg;
	uv_tcp_init(loop, &s->tcp);
	s->tcp.data = s;
	s->open_handles = 1;
	if (ipv6)
		r = uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&ss);
	else
		r = uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&ss);
	/* Binding can fail late, at listen() (EADDRINUSE on Linux). */
	if (r == 0)
		r = uv_tcp_bind(&s->tcp, (const struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->tcp, REDIRECT_MAX_CONNS,
			      on_connection);
	if (r == 0)
		r = uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len);
	if (r != 0) {
		snprintf(why, whylen, "cannot listen on %s port %u: %s", host,
			 port, uv_strerror(r));
		redirect_close(s);
		return XO_ERR_BUSY;
	}
	*port_out = ntohs(ipv6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			       : ((struct sockaddr_in *)&ss)->sin_port);
	log_debug("redirect %s: listening on %s port %u", name, host,
		  *port_out);
	*out = s;
	return 0;
}

void redirect_close(struct redirect_server *s)
{
	struct redirect_conn *rc, *next;

	if (s == NULL || s->closing)
		return;
	s->closing = 1;
	for (rc = s->conns; rc != NULL; rc = next) {
		next = rc->next;
		/* One in the callback is answered when the callback
		   returns; one writing closes when written. */
		if (rc->state != C_WRITING && rc->state != C_HANDLING)
			conn_close(rc);
	}
	s->held = NULL;
	uv_close((uv_handle_t *)&s->tcp, on_server_handle_closed);
}
