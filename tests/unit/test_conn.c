/*
 * The core alone: a connection's framing and back-pressure (conn.c), and
 * the waiters of requests answered later (waiter.c), driven through a
 * socketpair with a request table of the test's own.
 *
 * The table has three requests: ECHO answers at once with the number it
 * was given, PARK waits on the fixture's waiter list until the test wakes
 * it with its tag (or its wait runs out), BIG answers with a reply of
 * BIG_LEN bytes.  The agent here is only a loop and its limits: no shield,
 * no store, no vault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "core/agent.h"
#include "core/conn.h"
#include "core/dispatch.h"
#include "core/log.h"
#include "core/server.h"
#include "core/waiter.h"
#include "loop_client.h"

enum {
	T_ECHO = 1, /* u32 n: answered at once with REP_SUCCESS u32 n */
	T_PARK = 2, /* u32 tag, u32 wait_ms: parked on f->list */
	T_BIG = 3,  /* nothing: answered with BIG_LEN bytes */
	T_NONE = 99 /* no entry */
};

/* Bigger than a socket's buffer, smaller than a frame may be. */
#define BIG_LEN (200 * 1024)
/* How long a test waits for something that should not come. */
#define QUIET_MS 100

struct fixture {
	struct agent a; /* first: handlers reach the fixture from q->agent */
	uv_loop_t loop;
	struct dispatch_table table;
	struct agent_server *server;
	struct waiter_list list; /* PARK waits here */
	unsigned echoed;	 /* ECHO handled */
	unsigned parked;	 /* PARK handled */
	unsigned wakes;		 /* the wake op ran */
	unsigned expired;	 /* the expired op ran */
};

static struct fixture *fixture_of(struct agent *a)
{
	return (struct fixture *)a;
}

/* ---- the test's request table ---- */

static void reply_u32(struct conn *c, uint32_t n)
{
	struct agent_reply r;

	assert_int_equal(agent_reply_init(&r, 16), 0);
	proto_frame_begin(&r.w, PROTO_REP_SUCCESS);
	proto_put_u32(&r.w, n);
	assert_int_equal(proto_frame_end(&r.w), 0);
	agent_conn_send(c, &r);
	agent_reply_cleanup(&r);
}

static int decode_u32(struct proto_reader *r, struct agent_request *q)
{
	q->m.query.version = proto_get_u32(r);
	return proto_reader_finish(r) != 0 ? XO_ERR_MSG_BAD : 0;
}

static void handle_echo(struct agent_request *q)
{
	fixture_of(q->agent)->echoed++;
	reply_u32(q->conn, q->m.query.version);
}

/* PARK's payload, kept in the decoded message's token member. */
static int decode_park(struct proto_reader *r, struct agent_request *q)
{
	q->m.token.port = proto_get_u32(r);    /* tag */
	q->m.token.wait_ms = proto_get_u32(r); /* wait */
	return proto_reader_finish(r) != 0 ? XO_ERR_MSG_BAD : 0;
}

/* A waiter answers when it is woken with its own tag. */
static int park_wake(struct waiter *w, int event)
{
	struct fixture *f = waiter_owner(w);
	uint32_t tag = *(uint32_t *)waiter_extra(w);

	f->wakes++;
	if (event != (int)tag)
		return 1;
	reply_u32(waiter_conn(w), tag);
	return 0;
}

static void park_expired(struct waiter *w)
{
	struct fixture *f = waiter_owner(w);

	f->expired++;
	agent_conn_reply_failure(waiter_conn(w), XO_ERR_TIMEOUT, "waited");
}

static const struct waiter_ops park_ops = {park_wake, park_expired};

static void handle_park(struct agent_request *q)
{
	struct fixture *f = fixture_of(q->agent);
	struct waiter *w = NULL;

	f->parked++;
	assert_int_equal(agent_waiter_add(q->agent, &f->list, q->conn,
					  &park_ops, f, q->m.token.wait_ms,
					  sizeof(uint32_t), &w),
			 0);
	*(uint32_t *)waiter_extra(w) = q->m.token.port;
}

static int decode_empty(struct proto_reader *r, struct agent_request *q)
{
	(void)q;
	return proto_reader_finish(r) != 0 ? XO_ERR_MSG_BAD : 0;
}

static void handle_big(struct agent_request *q)
{
	struct agent_reply r;
	unsigned char *bytes = calloc(1, BIG_LEN);

	assert_non_null(bytes);
	assert_int_equal(agent_reply_init(&r, BIG_LEN + 16), 0);
	proto_frame_begin(&r.w, PROTO_REP_SUCCESS);
	proto_put_bytes(&r.w, bytes, BIG_LEN);
	assert_int_equal(proto_frame_end(&r.w), 0);
	agent_conn_send(q->conn, &r);
	agent_reply_cleanup(&r);
	free(bytes);
}

static int never_locked(struct agent *a)
{
	(void)a;
	return 0;
}

static struct account *find_none(struct agent *a, struct proto_str name)
{
	(void)a;
	(void)name;
	return NULL;
}

static const struct request_entry entries[] = {
    {T_ECHO, decode_u32, handle_echo, false, true, true},
    {T_PARK, decode_park, handle_park, false, true, true},
    {T_BIG, decode_empty, handle_big, false, true, false},
};

/* ---- the fixture ---- */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || sodium_init() < 0)
		return -1;
	agent_log_init("test_conn", LOG_LEVEL_ERROR, 1);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->a.loop = &f->loop;
	f->a.limits.max_connections = 8;
	f->a.limits.idle_timeout_ms = 60000;
	f->a.limits.first_request_ms = 60000;
	f->a.limits.frame_ms = 60000;
	f->a.limits.wait_default_ms = 60000;
	f->table.entries = entries;
	f->table.n = sizeof(entries) / sizeof(entries[0]);
	f->table.hooks.locked = never_locked;
	f->table.hooks.find = find_none;
	assert_int_equal(agent_server_new(&f->a, &f->table, &f->server), 0);
	*state = f;
	return 0;
}

/* Every connection closed, every handle gone: the loop closes. */
static int teardown(void **state)
{
	struct fixture *f = *state;

	agent_server_close(f->server);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	assert_false(agent_waiters_any(&f->list));
	agent_server_free(f->server);
	free(f);
	return 0;
}

/* ---- frames the client sends ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* An ECHO frame of n, as its 9 bytes on the wire. */
static void echo_frame(unsigned char frame[9], uint32_t n)
{
	put_be32(frame, 5);
	frame[4] = T_ECHO;
	put_be32(frame + 5, n);
}

static void send_echo(struct loop_client *c, uint32_t n)
{
	unsigned char p[4];

	put_be32(p, n);
	loop_client_send(c, T_ECHO, p, sizeof(p));
}

static void send_park(struct loop_client *c, uint32_t tag, uint32_t wait_ms)
{
	unsigned char p[8];

	put_be32(p, tag);
	put_be32(p + 4, wait_ms);
	loop_client_send(c, T_PARK, p, sizeof(p));
}

/* The next frame is the SUCCESS carrying n. */
static void expect_u32(struct loop_client *c, uint32_t n)
{
	struct loop_frame fr;

	assert_int_equal(loop_client_read(c, &fr, 5000), 1);
	assert_int_equal(fr.type, PROTO_REP_SUCCESS);
	assert_int_equal(fr.len, 4);
	assert_int_equal(get_be32(fr.payload), n);
	loop_frame_cleanup(&fr);
}

/* Nothing arrives for a while, and the connection stays open. */
static void expect_nothing(struct loop_client *c)
{
	struct loop_frame fr;

	assert_int_equal(loop_client_read(c, &fr, QUIET_MS), -1);
}

/* The connection still serves: an ECHO is answered. */
static void expect_served(struct loop_client *c, uint32_t n)
{
	send_echo(c, n);
	expect_u32(c, n);
}

/* ---- framing ---- */

static void
frame_split_into_single_bytes_is_answered_once_in_order(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	unsigned char two[2][9];
	struct loop_frame fr;
	int i;
	size_t k;

	loop_client_open(&c, f->server, &f->loop);
	for (i = 0; i < 2; i++)
		echo_frame(two[i], 100 + (uint32_t)i);
	for (i = 0; i < 2; i++) {
		for (k = 0; k < sizeof(two[i]); k++) {
			/* No reply before the frame is whole. */
			assert_int_equal(loop_client_read(&c, &fr, 5), -1);
			loop_client_write(&c, &two[i][k], 1);
		}
		expect_u32(&c, 100 + (uint32_t)i);
	}
	expect_nothing(&c);
	assert_int_equal(f->echoed, 2);
	loop_client_close(&c);
}

static void pipelined_request_waits_until_parked_one_is_answered(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	unsigned char both[13 + 9];

	loop_client_open(&c, f->server, &f->loop);
	/* PARK(tag 7) and ECHO(8) in one write. */
	put_be32(both, 9);
	both[4] = T_PARK;
	put_be32(both + 5, 7);
	put_be32(both + 9, 60000);
	put_be32(both + 13, 5);
	both[17] = T_ECHO;
	put_be32(both + 18, 8);
	loop_client_write(&c, both, sizeof(both));
	expect_nothing(&c);
	assert_int_equal(f->parked, 1);
	assert_int_equal(f->echoed, 0);
	agent_waiters_wake(&f->list, 7);
	expect_u32(&c, 7);
	expect_u32(&c, 8);
	assert_int_equal(f->echoed, 1);
	assert_false(agent_waiters_any(&f->list));
	loop_client_close(&c);
}

static void
requests_pipelined_beyond_input_buffer_are_served_after_parked_one(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	unsigned char *echoes = malloc(2000 * 9);
	uint32_t i;

	assert_non_null(echoes);
	loop_client_open(&c, f->server, &f->loop);
	send_park(&c, 1, 60000);
	/* 18 KB behind it, in one write (the kernel counts a socket's
	   buffer by the write): more than the connection buffers while
	   the first is answered, so it stops reading and the kernel holds
	   the rest. */
	for (i = 0; i < 2000; i++) {
		put_be32(echoes + 9 * i, 5);
		echoes[9 * i + 4] = T_ECHO;
		put_be32(echoes + 9 * i + 5, 1000 + i);
	}
	loop_client_write(&c, echoes, 2000 * 9);
	free(echoes);
	loop_run_for(&f->loop, 50);
	assert_int_equal(f->parked, 1);
	assert_int_equal(f->echoed, 0);
	expect_nothing(&c);
	agent_waiters_wake(&f->list, 1);
	expect_u32(&c, 1);
	for (i = 0; i < 2000; i++)
		expect_u32(&c, 1000 + i);
	assert_int_equal(f->echoed, 2000);
	loop_client_close(&c);
}

static void frame_over_max_size_closes_connection_before_body(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	unsigned char header[5];

	loop_client_open(&c, f->server, &f->loop);
	put_be32(header, PROTO_MAX_MSG + 1);
	header[4] = T_ECHO;
	/* The header alone: an agent that waited for the body would keep
	   the connection open. */
	loop_client_write(&c, header, sizeof(header));
	assert_true(loop_client_closed(&c, 5000));
	assert_int_equal(c.len, 0);
	assert_int_equal(f->echoed, 0);
	loop_client_close(&c);
}

static void frame_of_max_size_is_read_and_served(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	unsigned char *frame = calloc(1, PROTO_MAX_MSG + 4);
	char *msg;

	assert_non_null(frame);
	loop_client_open(&c, f->server, &f->loop);
	put_be32(frame, PROTO_MAX_MSG);
	frame[4] = T_NONE;
	loop_client_write(&c, frame, PROTO_MAX_MSG + 4);
	free(frame);
	msg = loop_client_expect_failure(&c, XO_ERR_MSG_UNKNOWN);
	free(msg);
	expect_served(&c, 1);
	loop_client_close(&c);
}

static void zero_length_frame_closes_connection(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	unsigned char zero[4] = {0, 0, 0, 0};

	loop_client_open(&c, f->server, &f->loop);
	expect_served(&c, 1);
	loop_client_write(&c, zero, sizeof(zero));
	assert_true(loop_client_closed(&c, 5000));
	assert_int_equal(c.len, 0);
	loop_client_close(&c);
}

static void
unknown_type_gets_msg_unknown_and_connection_stays_open(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	char *msg;

	loop_client_open(&c, f->server, &f->loop);
	loop_client_send(&c, T_NONE, "xyz", 3);
	msg = loop_client_expect_failure(&c, XO_ERR_MSG_UNKNOWN);
	free(msg);
	expect_served(&c, 42);
	loop_client_close(&c);
}

/* A malformed payload is the table's business: FAILURE, and the
   connection goes on. */
static void
malformed_payload_gets_msg_bad_and_connection_stays_open(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	char *msg;

	loop_client_open(&c, f->server, &f->loop);
	loop_client_send(&c, T_ECHO, "xy", 2);
	msg = loop_client_expect_failure(&c, XO_ERR_MSG_BAD);
	free(msg);
	assert_int_equal(f->echoed, 0);
	expect_served(&c, 43);
	loop_client_close(&c);
}

/* ---- limits ---- */

/* At the limit, the oldest connection that has sent nothing goes, told
   "busy", and the newcomer is served: silent connections cannot lock the
   agent's users out. */
static void oldest_silent_connection_makes_room_and_is_told_busy(void **state)
{
	struct fixture *f = *state;
	struct loop_client c[3];
	char *msg;
	int i;

	f->a.limits.max_connections = 2;
	loop_client_open(&c[0], f->server, &f->loop);
	loop_client_open(&c[1], f->server, &f->loop);
	/* Older than the grace a new connection gets (conn.c). */
	loop_run_for(&f->loop, 600);
	loop_client_open(&c[2], f->server, &f->loop);
	msg = loop_client_expect_failure(&c[0], XO_ERR_BUSY);
	assert_non_null(strstr(msg, "try again"));
	free(msg);
	assert_true(loop_client_closed(&c[0], 5000));
	expect_served(&c[2], 1);
	expect_served(&c[1], 2);
	for (i = 0; i < 3; i++)
		loop_client_close(&c[i]);
}

/* A connection made just now keeps its place for a moment, so that a
   burst of newcomers cannot push out a client before its request is in:
   the newcomer is refused instead. */
static void connection_just_made_keeps_its_place(void **state)
{
	struct fixture *f = *state;
	struct loop_client c[3];
	char *msg;
	int i;

	f->a.limits.max_connections = 2;
	for (i = 0; i < 3; i++)
		loop_client_open(&c[i], f->server, &f->loop);
	msg = loop_client_expect_failure(&c[2], XO_ERR_BUSY);
	free(msg);
	expect_served(&c[0], 1);
	expect_served(&c[1], 2);
	for (i = 0; i < 3; i++)
		loop_client_close(&c[i]);
}

/* When every connection has been served, the newcomer is the one told
   "busy" (rather than reset); its place is free again once it has gone. */
static void newcomer_is_told_busy_when_every_connection_was_served(void **state)
{
	struct fixture *f = *state;
	struct loop_client c[3];
	char *msg;
	int i;

	f->a.limits.max_connections = 2;
	for (i = 0; i < 2; i++) {
		loop_client_open(&c[i], f->server, &f->loop);
		expect_served(&c[i], (uint32_t)i);
	}
	loop_client_open(&c[2], f->server, &f->loop);
	msg = loop_client_expect_failure(&c[2], XO_ERR_BUSY);
	free(msg);
	assert_true(loop_client_closed(&c[2], 5000));
	expect_served(&c[0], 10);
	expect_served(&c[1], 11);
	loop_client_close(&c[2]);
	loop_client_close(&c[1]);
	loop_run_for(&f->loop, 10);
	loop_client_open(&c[1], f->server, &f->loop);
	expect_served(&c[1], 12);
	for (i = 0; i < 2; i++)
		loop_client_close(&c[i]);
}

/* A connection that sends nothing is closed at the first-request
   deadline, which bytes trickling in do not push back. */
static void first_request_is_due_however_slowly_it_trickles(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	unsigned char frame[9];
	int i;

	f->a.limits.first_request_ms = 400;
	loop_client_open(&c, f->server, &f->loop);
	echo_frame(frame, 7);
	for (i = 0; i < 4; i++) {
		loop_client_write(&c, &frame[i], 1);
		loop_run_for(&f->loop, 150);
	}
	assert_true(loop_client_closed(&c, 5000));
	assert_int_equal(f->echoed, 0);
	loop_client_close(&c);
}

/* After its first request, a frame must still be whole within frame_ms
   of its first byte (slow-loris); silence between requests is the idle
   timeout's. */
static void frame_begun_must_end_in_time(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	unsigned char frame[9];
	int i;

	f->a.limits.frame_ms = 400;
	loop_client_open(&c, f->server, &f->loop);
	expect_served(&c, 1);
	/* Silence longer than frame_ms is fine... */
	loop_run_for(&f->loop, 600);
	expect_served(&c, 2);
	/* ...a frame that takes longer is not. */
	echo_frame(frame, 3);
	for (i = 0; i < 6; i++) {
		loop_client_write(&c, &frame[i], 1);
		loop_run_for(&f->loop, 100);
	}
	assert_true(loop_client_closed(&c, 5000));
	loop_client_close(&c);
}

static void idle_connection_is_closed_after_idle_timeout(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;

	f->a.limits.idle_timeout_ms = 300;
	loop_client_open(&c, f->server, &f->loop);
	/* Each request starts the idle time again. */
	loop_run_for(&f->loop, 200);
	expect_served(&c, 1);
	loop_run_for(&f->loop, 200);
	expect_served(&c, 2);
	assert_false(loop_client_closed(&c, 100));
	assert_true(loop_client_closed(&c, 5000));
	loop_client_close(&c);
}

static void parked_request_keeps_connection_from_idle_timeout(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;

	f->a.limits.idle_timeout_ms = 50;
	loop_client_open(&c, f->server, &f->loop);
	send_park(&c, 1, 60000);
	assert_false(loop_client_closed(&c, 300));
	agent_waiters_wake(&f->list, 1);
	expect_u32(&c, 1);
	/* Answered, the connection is idle again. */
	assert_true(loop_client_closed(&c, 5000));
	loop_client_close(&c);
}

static void client_that_never_reads_is_cut_off_past_unsent_limit(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	struct loop_frame fr;
	unsigned replies = 0, i;

	loop_client_open(&c, f->server, &f->loop);
	/* 4 MB of replies, far more than the socket holds plus the
	   agent's 1 MiB. */
	for (i = 0; i < 20; i++)
		loop_client_send(&c, T_BIG, NULL, 0);
	loop_run_for(&f->loop, 200);
	/* Only now does the client read: the agent had hung up, after
	   what the socket held. */
	assert_true(loop_client_closed(&c, 5000));
	while (loop_client_read(&c, &fr, 0) == 1) {
		assert_int_equal(fr.len, BIG_LEN);
		loop_frame_cleanup(&fr);
		replies++;
	}
	assert_true(replies < 20);
	loop_client_close(&c);
}

static void client_that_reads_gets_replies_beyond_socket_buffer(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	struct loop_frame fr;
	unsigned i;

	loop_client_open(&c, f->server, &f->loop);
	/* 800 KB: more than the socket holds, less than 1 MiB. */
	for (i = 0; i < 4; i++)
		loop_client_send(&c, T_BIG, NULL, 0);
	loop_run_for(&f->loop, 100);
	for (i = 0; i < 4; i++) {
		assert_int_equal(loop_client_read(&c, &fr, 5000), 1);
		assert_int_equal(fr.len, BIG_LEN);
		loop_frame_cleanup(&fr);
	}
	expect_served(&c, 5);
	loop_client_close(&c);
}

static void
client_hangup_while_parked_cancels_waiter_without_reply(void **state)
{
	struct fixture *f = *state;
	struct loop_client c, other;

	loop_client_open(&c, f->server, &f->loop);
	loop_client_open(&other, f->server, &f->loop);
	send_park(&c, 1, 500);
	loop_run_for(&f->loop, 20);
	assert_int_equal(f->parked, 1);
	assert_true(agent_waiters_any(&f->list));
	loop_client_close(&c);
	/* Long before the wait would run out, the hang-up is noticed. */
	loop_run_for(&f->loop, 100);
	assert_false(agent_waiters_any(&f->list));
	agent_waiters_wake(&f->list, 1);
	loop_run_for(&f->loop, 600);
	assert_int_equal(f->wakes, 0);
	assert_int_equal(f->expired, 0);
	/* The agent goes on serving the others. */
	expect_served(&other, 9);
	loop_client_close(&other);
}

/* ---- waiters ---- */

static void waiter_whose_wait_runs_out_is_answered_by_expired_once(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	char *msg;

	loop_client_open(&c, f->server, &f->loop);
	send_park(&c, 1, 50);
	loop_run_for(&f->loop, 10);
	assert_int_equal(f->expired, 0);
	msg = loop_client_expect_failure(&c, XO_ERR_TIMEOUT);
	assert_string_equal(msg, "waited");
	free(msg);
	loop_run_for(&f->loop, 200);
	assert_int_equal(f->expired, 1);
	assert_int_equal(f->wakes, 0);
	assert_false(agent_waiters_any(&f->list));
	/* One reply only, and the connection serves the next request. */
	expect_served(&c, 2);
	loop_client_close(&c);
}

static void waiters_wake_answers_those_ready_and_keeps_the_others(void **state)
{
	struct fixture *f = *state;
	struct loop_client c[3];
	int i;

	for (i = 0; i < 3; i++) {
		loop_client_open(&c[i], f->server, &f->loop);
		send_park(&c[i], 1 + (uint32_t)i, 60000);
	}
	loop_run_for(&f->loop, 20);
	assert_int_equal(f->parked, 3);
	agent_waiters_wake(&f->list, 2);
	assert_int_equal(f->wakes, 3);
	expect_u32(&c[1], 2);
	expect_nothing(&c[0]);
	expect_nothing(&c[2]);
	assert_true(agent_waiters_any(&f->list));
	/* Those kept are offered the next event; the answered one is
	   not. */
	agent_waiters_wake(&f->list, 3);
	assert_int_equal(f->wakes, 5);
	expect_u32(&c[2], 3);
	agent_waiters_wake(&f->list, 1);
	assert_int_equal(f->wakes, 6);
	expect_u32(&c[0], 1);
	assert_false(agent_waiters_any(&f->list));
	assert_int_equal(f->expired, 0);
	for (i = 0; i < 3; i++)
		loop_client_close(&c[i]);
}

static void waiter_of_closed_connection_is_dropped_without_its_ops(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;

	loop_client_open(&c, f->server, &f->loop);
	send_park(&c, 1, 100);
	loop_run_for(&f->loop, 20);
	assert_true(agent_waiters_any(&f->list));
	/* The agent closes the connection (as when it stops). */
	agent_server_close(f->server);
	assert_false(agent_waiters_any(&f->list));
	agent_waiters_wake(&f->list, 1);
	loop_run_for(&f->loop, 300);
	assert_int_equal(f->wakes, 0);
	assert_int_equal(f->expired, 0);
	assert_true(loop_client_closed(&c, 5000));
	assert_int_equal(c.len, 0);
	loop_client_close(&c);
}

static void waiters_fail_answers_every_waiter_with_the_failure(void **state)
{
	struct fixture *f = *state;
	struct loop_client c[2];
	char *msg;
	int i;

	for (i = 0; i < 2; i++) {
		loop_client_open(&c[i], f->server, &f->loop);
		send_park(&c[i], 1, 200);
	}
	loop_run_for(&f->loop, 20);
	agent_waiters_fail(&f->list, XO_ERR_LOGIN_NEEDED, "gone away");
	assert_false(agent_waiters_any(&f->list));
	for (i = 0; i < 2; i++) {
		msg = loop_client_expect_failure(&c[i], XO_ERR_LOGIN_NEEDED);
		assert_string_equal(msg, "gone away");
		free(msg);
	}
	/* Their waits end with them: nothing more comes. */
	loop_run_for(&f->loop, 300);
	assert_int_equal(f->wakes, 0);
	assert_int_equal(f->expired, 0);
	for (i = 0; i < 2; i++) {
		expect_served(&c[i], 10 + (uint32_t)i);
		loop_client_close(&c[i]);
	}
}

static void waiter_with_no_wait_waits_the_default(void **state)
{
	struct fixture *f = *state;
	struct loop_client c;
	char *msg;

	f->a.limits.wait_default_ms = 300;
	loop_client_open(&c, f->server, &f->loop);
	send_park(&c, 1, 0);
	loop_run_for(&f->loop, 100);
	assert_int_equal(f->parked, 1);
	assert_int_equal(f->expired, 0);
	msg = loop_client_expect_failure(&c, XO_ERR_TIMEOUT);
	free(msg);
	assert_int_equal(f->expired, 1);
	loop_client_close(&c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest conn[] = {
	    cmocka_unit_test_setup_teardown(
		frame_split_into_single_bytes_is_answered_once_in_order, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		pipelined_request_waits_until_parked_one_is_answered, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		requests_pipelined_beyond_input_buffer_are_served_after_parked_one,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		frame_over_max_size_closes_connection_before_body, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		frame_of_max_size_is_read_and_served, setup, teardown),
	    cmocka_unit_test_setup_teardown(zero_length_frame_closes_connection,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		unknown_type_gets_msg_unknown_and_connection_stays_open, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		malformed_payload_gets_msg_bad_and_connection_stays_open, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		oldest_silent_connection_makes_room_and_is_told_busy, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		connection_just_made_keeps_its_place, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		newcomer_is_told_busy_when_every_connection_was_served, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		first_request_is_due_however_slowly_it_trickles, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(frame_begun_must_end_in_time, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		idle_connection_is_closed_after_idle_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		parked_request_keeps_connection_from_idle_timeout, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		client_that_never_reads_is_cut_off_past_unsent_limit, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		client_that_reads_gets_replies_beyond_socket_buffer, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		client_hangup_while_parked_cancels_waiter_without_reply, setup,
		teardown),
	};
	const struct CMUnitTest waiter[] = {
	    cmocka_unit_test_setup_teardown(
		waiter_whose_wait_runs_out_is_answered_by_expired_once, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		waiters_wake_answers_those_ready_and_keeps_the_others, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		waiter_of_closed_connection_is_dropped_without_its_ops, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		waiters_fail_answers_every_waiter_with_the_failure, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		waiter_with_no_wait_waits_the_default, setup, teardown),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("conn", conn, NULL, NULL),
	    UNIT_GROUP("waiter", waiter, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 2);
}
