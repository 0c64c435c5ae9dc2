/* The client end of a connection the agent serves; see loop_client.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/conn.h"
#include "loop_client.h"
#include "proto.h"

/* The most a client buffers: every reply the tests provoke fits. */
#define CLIENT_BUF_MAX (16u * 1024 * 1024)

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

void loop_client_open(struct loop_client *c, struct agent_server *s,
		      uv_loop_t *loop)
{
	int sv[2];

	memset(c, 0, sizeof(*c));
	c->loop = loop;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	c->fd = sv[0];
	agent_conn_open(s, sv[1]);
}

void loop_client_close(struct loop_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

/* Waits (at most ms) for the loop's backend or for events on the
   client's socket, so that the tests do not spin. */
static void wait_some(struct loop_client *c, short events, uint64_t ms)
{
	struct pollfd p[2];
	int t = uv_backend_timeout(c->loop);

	if (t < 0 || (uint64_t)t > ms)
		t = (int)ms;
	p[0].fd = uv_backend_fd(c->loop);
	p[0].events = POLLIN;
	p[1].fd = c->fd;
	p[1].events = events;
	(void)poll(p, events != 0 ? 2 : 1, t);
}

void loop_client_write(struct loop_client *c, const void *p, size_t n)
{
	const unsigned char *b = p;
	ssize_t w;

	while (n > 0) {
		w = send(c->fd, b, n, MSG_NOSIGNAL);
		if (w > 0) {
			b += w;
			n -= (size_t)w;
			continue;
		}
		/* An agent that has hung up reads nothing more: what the
		   test reads next tells. */
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			return;
		assert_true(w < 0 && (errno == EAGAIN || errno == EINTR));
		uv_run(c->loop, UV_RUN_NOWAIT);
		wait_some(c, POLLOUT, 10);
	}
}

void loop_client_send(struct loop_client *c, uint8_t type, const void *payload,
		      size_t n)
{
	unsigned char *frame = malloc(n + PROTO_HEADER_LEN);
	uint32_t len = (uint32_t)n + 1;

	assert_non_null(frame);
	frame[0] = (unsigned char)(len >> 24);
	frame[1] = (unsigned char)(len >> 16);
	frame[2] = (unsigned char)(len >> 8);
	frame[3] = (unsigned char)len;
	frame[4] = type;
	if (n > 0)
		memcpy(frame + PROTO_HEADER_LEN, payload, n);
	loop_client_write(c, frame, n + PROTO_HEADER_LEN);
	free(frame);
}

/* Reads what the socket holds now; notes the agent's hang-up. */
static void pull(struct loop_client *c)
{
	ssize_t n;

	while (!c->eof) {
		if (c->cap - c->len < 65536) {
			size_t cap = c->cap > 0 ? c->cap * 2 : 1024 * 1024;

			assert_true(cap <= CLIENT_BUF_MAX);
			c->buf = realloc(c->buf, cap);
			assert_non_null(c->buf);
			c->cap = cap;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0 || errno == ECONNRESET) {
			c->eof = 1;
			break;
		}
		assert_true(errno == EAGAIN || errno == EINTR);
		break;
	}
}

/* Takes one whole frame off the front of what was read; 1 or 0. */
static int take_frame(struct loop_client *c, struct loop_frame *f)
{
	uint32_t n;

	if (c->len < 4)
		return 0;
	n = (uint32_t)c->buf[0] << 24 | (uint32_t)c->buf[1] << 16 |
	    (uint32_t)c->buf[2] << 8 | c->buf[3];
	assert_true(n >= 1 && n <= PROTO_MAX_MSG);
	if (c->len - 4 < n)
		return 0;
	f->type = c->buf[4];
	f->len = n - 1;
	f->payload = malloc(f->len + 1);
	assert_non_null(f->payload);
	memcpy(f->payload, c->buf + PROTO_HEADER_LEN, f->len);
	f->payload[f->len] = 0;
	memmove(c->buf, c->buf + 4 + n, c->len - 4 - n);
	c->len -= 4 + n;
	return 1;
}

int loop_client_read(struct loop_client *c, struct loop_frame *f,
		     unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms, now;

	memset(f, 0, sizeof(*f));
	assert_true(c->fd >= 0);
	for (;;) {
		pull(c);
		if (take_frame(c, f))
			return 1;
		if (c->eof)
			return 0;
		if ((now = now_ms()) >= deadline)
			return -1;
		uv_run(c->loop, UV_RUN_NOWAIT);
		pull(c);
		if (take_frame(c, f))
			return 1;
		if (c->eof)
			return 0;
		wait_some(c, POLLIN, deadline - now);
	}
}

void loop_frame_cleanup(struct loop_frame *f)
{
	free(f->payload);
	f->payload = NULL;
}

int loop_client_closed(struct loop_client *c, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms, now;

	assert_true(c->fd >= 0);
	for (;;) {
		pull(c);
		if (c->eof)
			return 1;
		if ((now = now_ms()) >= deadline)
			return 0;
		uv_run(c->loop, UV_RUN_NOWAIT);
		wait_some(c, POLLIN, deadline - now);
	}
}

char *loop_client_expect_failure(struct loop_client *c, int err)
{
	struct loop_frame f;
	struct proto_reader r;
	struct proto_failure fail;
	char *msg = NULL;

	assert_int_equal(loop_client_read(c, &f, 5000), 1);
	assert_int_equal(f.type, PROTO_REP_FAILURE);
	proto_reader_init(&r, f.payload, f.len);
	assert_int_equal(proto_dec_failure(&r, &fail), 0);
	assert_int_equal(fail.status, proto_status_from_err(err));
	assert_int_equal(proto_str_dup(fail.message, &msg), 0);
	loop_frame_cleanup(&f);
	return msg;
}

static void on_run_for(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

void loop_run_for(uv_loop_t *loop, unsigned ms)
{
	uv_timer_t t;
	int fired = 0;

	uv_timer_init(loop, &t);
	t.data = &fired;
	uv_timer_start(&t, on_run_for, ms, 0);
	while (!fired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}
