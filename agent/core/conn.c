/*
 * conn.c: one client connection (conn.h).  Reads frames (bounded by
 * PROTO_MAX_MSG, checked before the body is buffered), hands each complete
 * frame to agent_dispatch(), and writes exactly one reply per request, in
 * order.
 *
 * While a request waits for its answer (a refresh, a login) the connection
 * dispatches nothing more, but goes on reading into its input buffer,
 * which is bounded like any frame: that is how a client that hangs up is
 * noticed, and its request cancelled, before the answer is due.  Once the
 * buffer is full the connection stops reading, so a client that pipelines
 * requests is held back by the kernel's socket buffer rather than by our
 * memory.
 *
 * Admission (PROTOCOL.md 6): nobody may lock the agent's users out by
 * holding connections.  A connection gets limits.first_request_ms for its
 * first whole request, a frame limits.frame_ms from its first byte to its
 * last (however slowly it trickles in), and limits.idle_timeout_ms of
 * silence between requests.  When a new connection would pass
 * limits.max_connections, the oldest one that has not yet sent a whole
 * request is let go to make room; only when every connection has been
 * served is the new one refused.  Either way the one let go is told
 * "busy" in a FAILURE frame before the close, never just reset.  A
 * connection that sends garbage framing, or leaves more than MAX_UNSENT
 * of its replies unread, is closed; nobody else notices.  Frames may hold
 * secrets (IMPORT, UNLOCK, TOKEN replies): both directions live in
 * agent_buf memory, wiped as it is consumed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include "core/agent.h"
#include "core/conn.h"
#include "core/core_internal.h"
#include "core/log.h"
#include "core/server.h"
#include "core/waiter.h"

/* A client that leaves this much of our replies unread is cut off; it is
   more than the largest reply, so a client that reads is never cut. */
#define MAX_UNSENT (1024 * 1024)
/* Replies held back while the frames read in one go are answered, then
   written together (one writev); more are written at once. */
#define MAX_CORKED 8
/* A connection this young is not let go to make room: one that has just
   connected gets the time to send its request, even while a burst of
   others is accepted in the same turn of the loop. */
#define EVICT_AFTER_MS 500

struct conn {
	TAILQ_ENTRY(conn) link;	      /* in the server's conns */
	TAILQ_ENTRY(conn) fresh_link; /* in its fresh list, while fresh */
	struct agent_server *server;
	uv_pipe_t pipe;
	uv_timer_t deadline;   /* the first request, a frame, or silence */
	uint64_t due_ms;       /* uv_now() of the deadline in force; 0: none */
	uint64_t timer_due_ms; /* when the deadline timer fires, if active */
	struct agent_buf in;   /* bytes read, not yet dispatched */
	uint64_t opened_ms;    /* uv_now() at accept */
	uint64_t frame_began_ms; /* when the buffered partial frame began */
	int busy;		 /* a request is being answered */
	int in_dispatch;	 /* agent_dispatch() is on the stack */
	bool fresh;		 /* no whole request yet */
	bool close_when_sent;	 /* refused: close once the answer is out */
	int closing;
	int handles_open;
	struct waiter *waiter;		  /* the request is parked on it */
	agent_conn_cancel_cb hold_cancel; /* a job answers later */
	void *hold_arg;
	void *attached; /* agent_conn_attach() */
	agent_conn_cancel_cb attached_drop;
	unsigned long id;
	/* Replies to the requests of one read, not written yet: a client
	   that sends QUERY and TOKEN together reads both answers from one
	   write (flush()). */
	uv_buf_t corked[MAX_CORKED];
	size_t corked_cap[MAX_CORKED];
	unsigned n_corked;
};

/* Replies on their way once the socket took what it could; each frame is
   wiped once written. */
struct write_req {
	uv_write_t req;
	unsigned n;
	unsigned char *frame[MAX_CORKED];
	size_t cap[MAX_CORKED];
};

static void process_frames(struct conn *c);
static void took(struct conn *c, size_t n);
static void conn_close(struct conn *c, const char *why);
static void flush(struct conn *c);

struct agent *agent_conn_agent(const struct conn *c)
{
	return c->server->agent;
}

unsigned long agent_conn_id(const struct conn *c)
{
	return c->id;
}

struct agent_server *conn_server(const struct conn *c)
{
	return c->server;
}

/* Wipes and frees the replies held back, unwritten. */
static void drop_corked(struct conn *c)
{
	unsigned i;

	for (i = 0; i < c->n_corked; i++)
		agent_buf_free_bytes((unsigned char *)c->corked[i].base,
				     c->corked_cap[i]);
	c->n_corked = 0;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->handles_open > 0)
		return;
	drop_corked(c);
	agent_buf_cleanup(&c->in);
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
	if (c->attached_drop != NULL) {
		agent_conn_cancel_cb drop = c->attached_drop;

		drop(agent_conn_detach(c));
	}
	TAILQ_REMOVE(&c->server->conns, c, link);
	if (c->fresh)
		TAILQ_REMOVE(&c->server->fresh, c, fresh_link);
	if (!c->close_when_sent)
		c->server->n_conns--;
	uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
	uv_close((uv_handle_t *)&c->deadline, on_handle_closed);
}

/* What the running deadline is, for the log line. */
static const char *deadline_name(const struct conn *c)
{
	if (c->close_when_sent)
		return "refused, and the answer was not read";
	if (c->fresh)
		return "no request in time";
	return c->in.len > 0 ? "a frame not finished in time" : "idle timeout";
}

static void on_deadline(uv_timer_t *t);

/* Starts the deadline timer to fire at due (uv_now() time). */
static void start_timer(struct conn *c, uint64_t now, uint64_t due)
{
	c->timer_due_ms = due > now ? due : now;
	uv_timer_start(&c->deadline, on_deadline, c->timer_due_ms - now, 0);
}

/*
 * Makes due (uv_now() time; 0: none) the deadline in force.  The timer is
 * started again only when it would fire too late (or not at all): a
 * deadline that moves later, as the idle time does with every request,
 * leaves it as it is, and it starts again from on_deadline() when it fires
 * early.  So a stream of requests costs a timer's stop and start per
 * idle timeout, not two per request.
 */
static void set_deadline(struct conn *c, uint64_t due)
{
	c->due_ms = due;
	if (due == 0)
		return;
	if (!uv_is_active((uv_handle_t *)&c->deadline) || c->timer_due_ms > due)
		start_timer(c, uv_now(c->server->agent->loop), due);
}

static void on_deadline(uv_timer_t *t)
{
	struct conn *c = t->data;
	uint64_t now = uv_now(c->server->agent->loop);

	if (c->due_ms == 0)
		return;
	if (c->due_ms > now) {
		/* Moved later since the timer was started. */
		start_timer(c, now, c->due_ms);
		return;
	}
	conn_close(c, deadline_name(c));
}

/*
 * Sets the one deadline that applies now: a fresh connection's first
 * request (counted from the accept, not re-armed by bytes that trickle
 * in), a partial frame's end (counted from its first byte), or the silence
 * between requests.  A request being answered has none: its wait is
 * bounded where it waits (a timer still running finds no deadline and
 * stops).
 */
static void arm_deadline(struct conn *c)
{
	const struct agent_limits *l = &c->server->agent->limits;
	uint64_t due;

	if (c->busy)
		due = 0;
	else if (c->fresh)
		due = c->opened_ms + l->first_request_ms;
	else if (c->in.len > 0)
		due = c->frame_began_ms + l->frame_ms;
	else
		due = uv_now(c->server->agent->loop) + l->idle_timeout_ms;
	set_deadline(c, due);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct conn *c = h->data;
	size_t room;

	(void)suggested;
	b->base = (char *)agent_buf_tail(&c->in, &room);
	b->len = room;
}

/*
 * Makes room for the frame the buffered header announces (or for a header,
 * when none is whole yet).  The length is checked against PROTO_MAX_MSG
 * before anything is allocated: 0, or XO_ERR_MSG_TOO_LARGE /
 * XO_ERR_MSG_BAD (close the connection) or XO_ERR_NOMEM.
 */
static int grow_for_frame(struct conn *c)
{
	size_t frame_len;
	int r;

	r = proto_frame_peek(c->in.data, c->in.len, PROTO_MAX_MSG, &frame_len);
	if (r == 0)
		return 0;
	if (r != XO_ERR_MSG_TRUNCATED)
		return r;
	if (c->in.len < 4)
		return agent_buf_reserve(&c->in, PROTO_HEADER_LEN);
	return agent_buf_reserve(
	    &c->in, ((size_t)c->in.data[0] << 24 | (size_t)c->in.data[1] << 16 |
		     (size_t)c->in.data[2] << 8 | c->in.data[3]) +
			4);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;

	(void)b;
	if (n == UV_ENOBUFS && c->busy) {
		/* The input buffer is full of requests pipelined behind the
		   one being answered: the rest waits in the kernel. */
		uv_read_stop(s);
		return;
	}
	if (n < 0) {
		/* A hang-up while a request is answered later cancels it
		   (its waiter, or the job holding it). */
		conn_close(c, n == UV_EOF ? NULL : uv_strerror((int)n));
		return;
	}
	if (n == 0)
		return;
	took(c, (size_t)n);
}

/* n bytes were read into the input buffer's tail: serve what they
   complete. */
static void took(struct conn *c, size_t n)
{
	int r;

	if (c->in.len == 0)
		c->frame_began_ms = uv_now(c->server->agent->loop);
	c->in.len += n;
	/* No arm_deadline() here: process_frames() sets the deadline once
	   the frames are answered (the idle time, or the rest of a partial
	   frame), rather than a frame's deadline and then the idle time. */
	if ((r = grow_for_frame(c)) != 0) {
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

	while (!c->busy && !c->closing && !c->close_when_sent) {
		r = proto_frame_peek(c->in.data, c->in.len, PROTO_MAX_MSG,
				     &frame_len);
		if (r == XO_ERR_MSG_TRUNCATED)
			break;
		if (r != 0) {
			/* The answers to the frames before it still go. */
			flush(c);
			conn_close(c, proto_strerror(r));
			return;
		}
		c->busy = 1;
		if (c->fresh) {
			c->fresh = false;
			TAILQ_REMOVE(&c->server->fresh, c, fresh_link);
		}
		c->in_dispatch = 1;
		agent_dispatch(c, c->in.data, frame_len);
		c->in_dispatch = 0;
		/* Wiped as it goes: the request may hold a refresh token
		   (IMPORT) or a passphrase (UNLOCK). */
		agent_buf_consume(&c->in, frame_len);
		/* What is left begins the next frame now. */
		c->frame_began_ms = uv_now(c->server->agent->loop);
		if ((r = grow_for_frame(c)) != 0) {
			flush(c);
			conn_close(c, proto_strerror(r));
			return;
		}
	}
	/* Everything read that could be answered now has been: the
	   answers go out together. */
	flush(c);
	if (c->closing || c->close_when_sent)
		return;
	/* Reading goes on while a request is answered later (see the
	   top); only the deadline stops. */
	start_reading(c);
	arm_deadline(c);
}

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct conn *c = req->handle->data;
	unsigned i;

	for (i = 0; i < w->n; i++)
		agent_buf_free_bytes(w->frame[i], w->cap[i]);
	free(w);
	if (status < 0 && status != UV_ECANCELED)
		conn_close(c, uv_strerror(status));
	else if (c->close_when_sent &&
		 uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) == 0)
		conn_close(c, NULL);
}

/*
 * Writes the replies held back, all in one go.  Most go out at once:
 * written here (uv_try_write(), a writev), they need no write request, no
 * callback in a later turn of the loop, and no change to what epoll
 * watches.  Only what the socket does not take now is queued
 * (uv_try_write() takes nothing while a queue exists, so the order holds).
 * A connection that ends with its answer is closed once that is out.
 */
static void flush(struct conn *c)
{
	struct write_req *w;
	size_t done = 0;
	unsigned i, first;
	int n;

	if (c->n_corked == 0 || c->closing)
		return;
	n = uv_try_write((uv_stream_t *)&c->pipe, c->corked, c->n_corked);
	if (n > 0)
		done = (size_t)n;
	else if (n != UV_EAGAIN) {
		drop_corked(c);
		conn_close(c, uv_strerror(n));
		return;
	}
	/* The frames written whole are wiped now. */
	for (first = 0; first < c->n_corked && done >= c->corked[first].len;
	     first++) {
		done -= c->corked[first].len;
		agent_buf_free_bytes((unsigned char *)c->corked[first].base,
				     c->corked_cap[first]);
	}
	if (first == c->n_corked) {
		c->n_corked = 0;
		if (c->close_when_sent)
			conn_close(c, NULL);
		return;
	}
	if ((w = malloc(sizeof(*w))) == NULL) {
		c->n_corked -= first;
		memmove(c->corked, c->corked + first,
			c->n_corked * sizeof(c->corked[0]));
		memmove(c->corked_cap, c->corked_cap + first,
			c->n_corked * sizeof(c->corked_cap[0]));
		drop_corked(c);
		conn_close(c, "out of memory");
		return;
	}
	w->n = 0;
	for (i = first; i < c->n_corked; i++) {
		w->frame[w->n] = (unsigned char *)c->corked[i].base;
		w->cap[w->n++] = c->corked_cap[i];
	}
	/* What is left of the first one that went out in part. */
	c->corked[first].base += done;
	c->corked[first].len -= done;
	n = uv_write(&w->req, (uv_stream_t *)&c->pipe, c->corked + first,
		     c->n_corked - first, on_written);
	c->n_corked = 0;
	if (n != 0) {
		for (i = 0; i < w->n; i++)
			agent_buf_free_bytes(w->frame[i], w->cap[i]);
		free(w);
		conn_close(c, "write failed");
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) >
	    MAX_UNSENT)
		conn_close(c, "client does not read its replies");
}

void agent_conn_send(struct conn *c, struct agent_reply *r)
{
	unsigned char *frame;
	size_t len, cap;

	r->buf.len = r->w.err == 0 ? r->w.len : 0;
	frame = agent_buf_take(&r->buf, &len, &cap);
	c->busy = 0;
	c->waiter = NULL;
	c->hold_cancel = NULL;
	/* A reply that could not be built (no memory even for a FAILURE)
	   leaves the client nothing to wait for but the close. */
	if (c->closing || len == 0) {
		agent_buf_free_bytes(frame, cap);
		if (!c->closing) {
			/* The answers before it still go. */
			flush(c);
			conn_close(c, "out of memory");
		}
		return;
	}
	if (c->n_corked == MAX_CORKED)
		flush(c);
	if (c->closing) {
		agent_buf_free_bytes(frame, cap);
		return;
	}
	c->corked[c->n_corked] = uv_buf_init((char *)frame, (unsigned)len);
	c->corked_cap[c->n_corked++] = cap;
	/* An answer given while the frames read are dispatched waits for
	   the others of that read (process_frames() flushes); one given
	   later goes at once, and the frames behind it are taken up. */
	if (c->in_dispatch)
		return;
	flush(c);
	if (!c->closing && !c->close_when_sent)
		process_frames(c);
}

void agent_conn_park(struct conn *c, struct waiter *w)
{
	c->waiter = w;
}

void agent_conn_attach(struct conn *c, void *data, agent_conn_cancel_cb drop)
{
	agent_conn_cancel_cb old_drop = c->attached_drop;
	void *old = agent_conn_detach(c);

	if (old != NULL && old_drop != NULL)
		old_drop(old);
	c->attached = data;
	c->attached_drop = drop;
}

void *agent_conn_attached(const struct conn *c)
{
	return c->attached;
}

void *agent_conn_detach(struct conn *c)
{
	void *data = c->attached;

	c->attached = NULL;
	c->attached_drop = NULL;
	return data;
}

void agent_conn_hold(struct conn *c, agent_conn_cancel_cb cancel, void *arg)
{
	c->hold_cancel = cancel;
	c->hold_arg = arg;
}

/* A connection of s, not open yet; NULL when out of memory. */
static struct conn *conn_new(struct agent_server *s)
{
	struct agent *a = s->agent;
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_error("out of memory accepting a connection");
		return NULL;
	}
	c->server = s;
	c->id = ++s->next_conn_id;
	c->opened_ms = uv_now(a->loop);
	c->fresh = true;
	agent_buf_init(&c->in, PROTO_MAX_MSG + 4);
	uv_pipe_init(a->loop, &c->pipe, 0);
	c->pipe.data = c;
	uv_timer_init(a->loop, &c->deadline);
	c->deadline.data = c;
	c->handles_open = 2;
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	TAILQ_INSERT_TAIL(&s->fresh, c, fresh_link);
	s->n_conns++;
	return c;
}

void agent_conn_end_after_reply(struct conn *c)
{
	if (c->close_when_sent || c->closing)
		return;
	/* Out of the count at once, while the answer is written: the next
	   newcomer must not make room a second time for the same one. */
	c->close_when_sent = true;
	c->server->n_conns--;
	uv_read_stop((uv_stream_t *)&c->pipe);
	/* A peer that does not take even this answer is not waited for. */
	set_deadline(c, uv_now(c->server->agent->loop) +
			    c->server->agent->limits.frame_ms);
}

/* Tells c it must go (a FAILURE with XO_ERR_BUSY and why) and closes it
   once that is written: a client learns it was refused, and can try
   again, rather than reading a reset. */
static void send_busy(struct conn *c, const char *why)
{
	agent_conn_end_after_reply(c);
	log_info("connection %lu refused: %s", c->id, why);
	agent_conn_reply_failure(c, XO_ERR_BUSY, why);
}

/*
 * The agent is full: the oldest connection that has sent no whole request
 * goes, so that a flood of silent connections (or slow ones) makes room
 * for the newest instead of locking it out.  When every connection has
 * been served, or the oldest silent one connected only just now, the
 * newcomer c is the one refused.
 */
static void make_room(struct agent_server *s, struct conn *c)
{
	struct conn *old = TAILQ_FIRST(&s->fresh);
	uint64_t now = uv_now(s->agent->loop);
	char why[160];

	snprintf(why, sizeof(why),
		 "the agent is serving as many connections as it may (%u): "
		 "try again in a moment",
		 s->agent->limits.max_connections);
	if (old != NULL && old != c && now - old->opened_ms >= EVICT_AFTER_MS) {
		TAILQ_REMOVE(&s->fresh, old, fresh_link);
		old->fresh = false;
		send_busy(old, why);
		return;
	}
	send_busy(c, why);
}

/* The pipe is open: check the peer, then serve it. */
static void conn_start(struct conn *c)
{
	struct agent_server *s = c->server;
	uv_os_fd_t fd;
	unsigned char *tail;
	size_t room;
	ssize_t n;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    !agent_peer_allowed(s, fd, c->id)) {
		conn_close(c, NULL);
		return;
	}
	if (grow_for_frame(c) != 0) {
		conn_close(c, "out of memory");
		return;
	}
	if (s->n_conns > s->agent->limits.max_connections) {
		make_room(s, c);
		if (c->close_when_sent)
			return;
	}
	/* A client sends its first request as soon as it is connected
	   (libxoauth: QUERY and the request in one write), so it is usually
	   there already: read it now rather than ask epoll first (one
	   epoll_wait a connection less).  Nothing there yet: libuv reads
	   when it comes. */
	tail = agent_buf_tail(&c->in, &room);
	do
		n = recv(fd, tail, room, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		took(c, (size_t)n);
		return;
	}
	if (n == 0) {
		conn_close(c, NULL);
		return;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
		conn_close(c, strerror(errno));
		return;
	}
	start_reading(c);
	arm_deadline(c);
}

void agent_conn_accept(struct agent_server *s, uv_stream_t *listener)
{
	struct conn *c = conn_new(s);

	if (c == NULL)
		return;
	if (uv_accept(listener, (uv_stream_t *)&c->pipe) != 0) {
		conn_close(c, "accept failed");
		return;
	}
	conn_start(c);
}

void agent_conn_open(struct agent_server *s, int fd)
{
	struct conn *c = conn_new(s);

	if (c == NULL) {
		close(fd);
		return;
	}
	if (uv_pipe_open(&c->pipe, fd) != 0) {
		close(fd);
		conn_close(c, "cannot use the connection");
		return;
	}
	conn_start(c);
}

void agent_conns_close_all(struct agent_server *s)
{
	while (!TAILQ_EMPTY(&s->conns))
		conn_close(TAILQ_FIRST(&s->conns), NULL);
}
