/*
 * conn.c: one client connection.  Reads frames (bounded by PROTO_MAX_MSG,
 * checked before the body is buffered), hands each complete frame to
 * agent_dispatch(), and writes exactly one reply per request, in order.
 *
 * While a request waits for its answer (a refresh, a login) the connection
 * stops reading, so a client that pipelines requests is held back by the
 * kernel's socket buffer rather than by our memory.  A connection that
 * stays silent for idle_timeout, sends a frame that is too large or
 * garbage framing, or does not read its replies, is closed; nobody else
 * notices.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/agent.h"
#include "core/log.h"

/* A client that leaves this much of our replies unread is cut off. */
#define MAX_UNSENT (1024 * 1024)
#define INITIAL_BUF 4096

struct conn {
	struct conn *next;
	struct conn **prevp;
	struct agent *agent;
	uv_pipe_t pipe;
	uv_timer_t idle;
	unsigned char *buf;
	size_t len;
	size_t cap;
	int busy;        /* a request is being answered */
	int in_dispatch; /* agent_dispatch() is on the stack */
	int closing;
	int handles_open;
	struct waiter *waiter;
	agent_conn_cancel_cb hold_cancel; /* a job answers later */
	void *hold_arg;
	unsigned long id;
};

struct write_req {
	uv_write_t req;
	unsigned char *frame;
	size_t len;
};

static void process_frames(struct conn *c);
static void conn_close(struct conn *c, const char *why);

struct agent *agent_conn_agent(struct conn *c)
{
	return c->agent;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->handles_open > 0)
		return;
	sodium_memzero(c->buf, c->cap);
	free(c->buf);
	free(c);
}

static void conn_close(struct conn *c, const char *why)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (why != NULL)
		log_info("connection %lu closed: %s", c->id, why);
	if (c->waiter != NULL) {
		agent_waiter_cancel(c->waiter);
		c->waiter = NULL;
	}
	if (c->hold_cancel != NULL) {
		agent_conn_cancel_cb cancel = c->hold_cancel;

		c->hold_cancel = NULL;
		cancel(c->hold_arg);
	}
	*c->prevp = c->next;
	if (c->next != NULL)
		c->next->prevp = c->prevp;
	c->agent->n_conns--;
	uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_handle_closed);
}

static void on_idle(uv_timer_t *t)
{
	struct conn *c = t->data;

	conn_close(c, "idle timeout");
}

static void arm_idle(struct conn *c)
{
	uv_timer_start(&c->idle, on_idle,
		       c->agent->config->idle_timeout_ms, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct conn *c = h->data;

	(void)suggested;
	b->base = (char *)c->buf + c->len;
	b->len = c->cap - c->len;
}

/*
 * Makes room for the frame the buffered header announces.  The length is
 * checked against PROTO_MAX_MSG before anything is allocated.
 */
static int grow_for_frame(struct conn *c)
{
	size_t frame_len, need;
	unsigned char *nb;
	int r;

	r = proto_frame_peek(c->buf, c->len, PROTO_MAX_MSG, &frame_len);
	if (r != XO_ERR_MSG_TRUNCATED)
		return r;
	if (c->len < 4)
		need = INITIAL_BUF;
	else
		need = ((size_t)c->buf[0] << 24 | (size_t)c->buf[1] << 16 |
			(size_t)c->buf[2] << 8 | c->buf[3]) +
		       4;
	if (need <= c->cap)
		return 0;
	if ((nb = malloc(need)) == NULL)
		return XO_ERR_NOMEM;
	memcpy(nb, c->buf, c->len);
	sodium_memzero(c->buf, c->cap);
	free(c->buf);
	c->buf = nb;
	c->cap = need;
	return 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;
	int r;

	(void)b;
	if (n < 0) {
		conn_close(c, n == UV_EOF ? NULL : uv_strerror((int)n));
		return;
	}
	if (n == 0)
		return;
	c->len += (size_t)n;
	arm_idle(c);
	if ((r = grow_for_frame(c)) != 0 && r != XO_ERR_MSG_TRUNCATED) {
		/* Framing errors close the connection (PROTOCOL.md). */
		conn_close(c, proto_strerror(r));
		return;
	}
	process_frames(c);
}

static void start_reading(struct conn *c)
{
	int r = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);

	/* Already reading is fine: process_frames() asks after each reply. */
	if (r != 0 && r != UV_EALREADY)
		conn_close(c, uv_strerror(r));
}

static void process_frames(struct conn *c)
{
	size_t frame_len;
	int r;

	while (!c->busy && !c->closing) {
		r = proto_frame_peek(c->buf, c->len, PROTO_MAX_MSG,
				     &frame_len);
		if (r == XO_ERR_MSG_TRUNCATED)
			break;
		if (r != 0) {
			conn_close(c, proto_strerror(r));
			return;
		}
		c->busy = 1;
		c->in_dispatch = 1;
		agent_dispatch(c, c->buf, frame_len);
		c->in_dispatch = 0;
		/* The request may hold a refresh token (IMPORT). */
		sodium_memzero(c->buf, frame_len);
		memmove(c->buf, c->buf + frame_len, c->len - frame_len);
		c->len -= frame_len;
		if (grow_for_frame(c) == XO_ERR_MSG_TOO_LARGE) {
			conn_close(c, proto_strerror(XO_ERR_MSG_TOO_LARGE));
			return;
		}
	}
	if (c->closing)
		return;
	if (c->busy) {
		uv_read_stop((uv_stream_t *)&c->pipe);
		uv_timer_stop(&c->idle);
	} else {
		start_reading(c);
		arm_idle(c);
	}
}

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct conn *c = req->handle->data;

	sodium_memzero(w->frame, w->len);
	free(w->frame);
	free(w);
	if (status < 0 && status != UV_ECANCELED)
		conn_close(c, uv_strerror(status));
}

void agent_conn_reply(struct conn *c, unsigned char *frame, size_t len)
{
	struct write_req *w;
	uv_buf_t b;

	c->busy = 0;
	c->waiter = NULL;
	c->hold_cancel = NULL;
	if (c->closing || (w = malloc(sizeof(*w))) == NULL) {
		sodium_memzero(frame, len);
		free(frame);
		if (!c->closing)
			conn_close(c, "out of memory");
		return;
	}
	w->frame = frame;
	w->len = len;
	b = uv_buf_init((char *)frame, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) !=
	    0) {
		sodium_memzero(frame, len);
		free(frame);
		free(w);
		conn_close(c, "write failed");
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) >
	    MAX_UNSENT) {
		conn_close(c, "client does not read its replies");
		return;
	}
	if (!c->in_dispatch)
		process_frames(c);
}

void agent_conn_reply_failure(struct conn *c, int err, const char *msg)
{
	struct proto_writer w;
	struct proto_failure f;

	if (msg == NULL || msg[0] == '\0')
		msg = proto_strerror(err);
	f.status = proto_status_from_err(err);
	f.message = proto_str_c(msg);
	if (f.message.len > 1024)
		f.message.len = 1024;
	if (agent_reply_buf(f.message.len + 64, &w) != 0 ||
	    proto_enc_failure(&w, &f) != 0) {
		free(w.buf);
		conn_close(c, "out of memory");
		return;
	}
	agent_conn_reply(c, w.buf, w.len);
}

void agent_conn_reply_success(struct conn *c)
{
	struct proto_writer w;

	if (agent_reply_buf(16, &w) != 0 || proto_enc_success(&w) != 0) {
		free(w.buf);
		conn_close(c, "out of memory");
		return;
	}
	agent_conn_reply(c, w.buf, w.len);
}

void agent_conn_park(struct conn *c, struct waiter *w)
{
	c->waiter = w;
}

void agent_conn_hold(struct conn *c, agent_conn_cancel_cb cancel, void *arg)
{
	c->hold_cancel = cancel;
	c->hold_arg = arg;
}

void agent_conn_accept(struct agent *a, uv_stream_t *server)
{
	struct conn *c;
	uv_os_fd_t fd;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->buf = malloc(INITIAL_BUF)) == NULL) {
		free(c);
		log_error("out of memory accepting a connection");
		return;
	}
	c->cap = INITIAL_BUF;
	c->agent = a;
	c->id = ++a->next_conn_id;
	uv_pipe_init(a->loop, &c->pipe, 0);
	c->pipe.data = c;
	uv_timer_init(a->loop, &c->idle);
	c->idle.data = c;
	c->handles_open = 2;
	c->next = a->conns;
	c->prevp = &a->conns;
	if (a->conns != NULL)
		a->conns->prevp = &c->next;
	a->conns = c;
	a->n_conns++;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
		conn_close(c, "accept failed");
		return;
	}
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    !agent_peer_allowed(fd, c->id)) {
		conn_close(c, NULL);
		return;
	}
	/* Over the limit the newest connection goes, so one client that
	   opens many cannot lock out the others for long: idle ones time
	   out. */
	if (a->n_conns > a->config->max_connections) {
		conn_close(c, "too many connections");
		return;
	}
	start_reading(c);
	arm_idle(c);
}

void agent_conns_close_all(struct agent *a)
{
	while (a->conns != NULL)
		conn_close(a->conns, NULL);
}
