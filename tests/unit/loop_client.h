/*
 * loop_client.h: the client end of a connection the agent serves, for the
 * unit tests that drive core/ through a socketpair (test_conn.c,
 * test_dispatch.c).
 *
 * The agent's end goes to agent_conn_open(); the test keeps the other,
 * non-blocking, and writes and reads raw bytes on it while it runs the
 * agent's loop, so that nothing here needs a thread or a real socket path.
 */
#ifndef XO_TESTS_LOOP_CLIENT_H
#define XO_TESTS_LOOP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct agent_server;

/* What the client has read and not yet taken. */
struct loop_client {
	uv_loop_t *loop;
	int fd;		    /* -1 once closed */
	unsigned char *buf; /* read, not yet taken */
	size_t len, cap;
	int eof; /* the agent closed its end */
};

/* One reply frame, as the client read it. */
struct loop_frame {
	uint8_t type;
	unsigned char *payload; /* malloc'd; loop_frame_cleanup() frees it */
	size_t len;
};

/* Makes a socketpair, hands one end to the agent (agent_conn_open()) and
   keeps the other in c; asserts on failure. */
void loop_client_open(struct loop_client *c, struct agent_server *s,
		      uv_loop_t *loop);
/* Closes the client's end (the agent sees a hang-up); the bytes it had
   read are dropped.  A closed client is a no-op. */
void loop_client_close(struct loop_client *c);

/* Writes all n bytes, running the loop while the socket is full. */
void loop_client_write(struct loop_client *c, const void *p, size_t n);
/* Encodes one frame of type with payload and writes it. */
void loop_client_send(struct loop_client *c, uint8_t type, const void *payload,
		      size_t n);

/*
 * Runs the loop until a whole frame has been read (1, *f filled), the
 * agent has closed the connection with no frame left (0), or timeout_ms
 * have passed (-1).
 */
int loop_client_read(struct loop_client *c, struct loop_frame *f,
		     unsigned timeout_ms);
void loop_frame_cleanup(struct loop_frame *f);
/* Runs the loop for up to timeout_ms; 1 when the agent closed the
   connection by then (bytes read meanwhile are kept), else 0. */
int loop_client_closed(struct loop_client *c, unsigned timeout_ms);
/* Asserts that the next frame is a FAILURE with err's wire status and
   returns its message (malloc'd, NUL-terminated). */
char *loop_client_expect_failure(struct loop_client *c, int err);

/* Runs the loop for ms milliseconds of its own clock (a timer), so that
   every timer due by then has run. */
void loop_run_for(uv_loop_t *loop, unsigned ms);

#endif
