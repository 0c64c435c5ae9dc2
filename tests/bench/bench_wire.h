/*
 * bench_wire.h: the raw client side the benchmark programs share
 * (bench_conn.c, bench_load.c): a Unix-socket connection, whole frames
 * written and read with plain blocking write() and read(), and the
 * request frames of each kind of peer.
 *
 * The same code talks to ssh-agent, to xoauth-agent and to bench_echo, so
 * that a difference in their figures is the server's, not the client's.
 * libxoauth's own client is measured beside it (mode "xoauth").
 */
#ifndef XO_BENCH_WIRE_H
#define XO_BENCH_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* ssh-agent's protocol (draft-miller-ssh-agent, section 5.1). */
#define BENCH_SSH_REQUEST_IDENTITIES 11
#define BENCH_SSH_IDENTITIES_ANSWER 12
/* The largest reply read (ssh-agent's cap, and above ours). */
#define BENCH_MAX_REPLY (256 * 1024 + 16)

/* Which server, spoken to how. */
enum bench_mode {
	BENCH_XOAUTH, /* a TOKEN request through libxoauth (xo_token) */
	BENCH_TOKEN,  /* the same TOKEN frame, raw */
	BENCH_SSH,    /* ssh-agent REQUEST_IDENTITIES, raw */
	BENCH_ECHO,   /* the TOKEN frame to bench_echo, raw */
	BENCH_TWO,    /* QUERY, its VERSION awaited, then the TOKEN frame,
			 raw: two round trips, as libxoauth's connect and
			 xo_token() were before issue 11 */
};

/* "xoauth", "token", "ssh", "echo", "two"; -1 for anything else. */
int bench_mode_parse(const char *s);

/* A connected blocking Unix stream socket, or -1 (with a message). */
int bench_connect(const char *path);

/* The request frame of mode (the TOKEN request names account, and waits
   wait_ms for a refresh, 0: the agent's default; "two"'s is the TOKEN
   frame) into out; its length, or 0 when it does not fit. */
size_t bench_request(int mode, const char *account, unsigned wait_ms,
		     unsigned char *out, size_t cap);

/* The QUERY frame of our protocol into out (cap bytes); its length, or 0
   when it does not fit. */
size_t bench_query(unsigned char *out, size_t cap);

/* Writes req whole and reads one reply frame into buf (cap bytes): the
   reply's body length, or -1 when the peer failed or closed.  The first
   body byte (the reply's type) is checked against want unless want is 0. */
long bench_roundtrip(int fd, const unsigned char *req, size_t len,
		     unsigned char *buf, size_t cap, uint8_t want);

uint64_t bench_now_ns(void);
/* A positive count from the command line, or -1. */
long bench_count(const char *s);

#endif
