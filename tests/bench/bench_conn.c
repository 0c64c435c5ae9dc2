/*
 * bench_conn: request latency over one open connection, for bench.py.
 *
 *   bench_conn MODE SOCKET ACCOUNT N   N requests (MODE: bench_wire.h)
 *   bench_conn size SOCKET ACCOUNT     the body length of one raw TOKEN
 *                                      reply (bench_echo answers with as
 *                                      many bytes)
 *   bench_conn any SOCKET ACCOUNT      one raw TOKEN request, any answer
 *                                      (FAILURE too): the agent serves
 *   bench_conn first SOCKET ACCOUNT    one raw TOKEN request that waits up
 *                                      to 30 minutes for a refresh
 *
 * Connects once, makes a few untimed requests (so that neither side is
 * measured while warming up), then prints the time of each of N requests
 * in nanoseconds, one per line.  Statistics are bench.py's business, so
 * that every server's samples go through the same code.  ACCOUNT is
 * ignored by ssh; in the raw modes, PREFIX*COUNT names the accounts
 * PREFIX0 to PREFIX<COUNT-1>, a different one for each request, in an
 * order that jumps about (so that no lookup finds its account warm in
 * the cache).  Exits 0, or 1 with a message when a request fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xoauth/xo.h>

#include "proto.h"

#include "bench_wire.h"

#define WARMUP 20

/* One TOKEN request through libxoauth; 0 or -1. */
static int xoauth_once(struct xo_client *c, const char *account)
{
	struct xo_token t;
	int r;

	if ((r = xo_token(c, account, NULL, &t)) != 0) {
		fprintf(stderr, "bench_conn: xo_token: %s: %s\n",
			xo_err_name(r), xo_client_message(c));
		return -1;
	}
	xo_token_free(&t);
	return 0;
}

static int bench_xoauth(const char *sock, const char *account, long n)
{
	struct xo_client *c = NULL;
	uint64_t t0;
	long i;
	int r = 1;

	if (xo_client_connect(sock, &c) != 0) {
		fprintf(stderr, "bench_conn: cannot connect to %s\n", sock);
		goto out;
	}
	for (i = 0; i < WARMUP; i++)
		if (xoauth_once(c, account) != 0)
			goto out;
	for (i = 0; i < n; i++) {
		t0 = bench_now_ns();
		if (xoauth_once(c, account) != 0)
			goto out;
		printf("%llu\n", (unsigned long long)(bench_now_ns() - t0));
	}
	r = 0;
out:
	xo_client_free(c);
	return r;
}

static uint8_t expected_reply(int mode)
{
	return mode == BENCH_SSH ? BENCH_SSH_IDENTITIES_ANSWER
				 : PROTO_REP_TOKEN;
}

/* PREFIX*COUNT: account number i of COUNT, into name; else the name. */
static const char *account_for(const char *account, long i, char *name,
			       size_t cap)
{
	const char *star = strchr(account, '*');
	long count;

	if (star == NULL || (count = bench_count(star + 1)) < 0)
		return account;
	/* A multiplier prime to any count walks every account once. */
	snprintf(name, cap, "%.*s%lu", (int)(star - account), account,
		 (unsigned long)((uint64_t)i * 2654435761u % (uint64_t)count));
	return name;
}

/* The raw modes: the same write and reads whoever answers.  size_only: 0
   timed requests, 1 the reply's size, 2 any answer, 3 one request that
   waits long. */
static int bench_raw(int mode, const char *sock, const char *account, long n,
		     int size_only)
{
	unsigned char req[1024], *reply = NULL;
	uint8_t want = size_only == 2 ? 0 : expected_reply(mode);
	char name[256];
	size_t len;
	uint64_t t0;
	long i, got;
	int fd = -1, r = 1;

	if ((reply = malloc(BENCH_MAX_REPLY)) == NULL ||
	    (fd = bench_connect(sock)) < 0)
		goto out;
	for (i = 0; i < (size_only ? 1 : WARMUP + n); i++) {
		if ((len = bench_request(
			 mode, account_for(account, i, name, sizeof(name)),
			 size_only == 3 ? 30 * 60 * 1000 : 0, req,
			 sizeof(req))) == 0)
			goto out;
		t0 = bench_now_ns();
		if ((got = bench_roundtrip(fd, req, len, reply, BENCH_MAX_REPLY,
					   want)) < 0) {
			fprintf(stderr, "bench_conn: request failed\n");
			goto out;
		}
		if (size_only == 1)
			printf("%ld\n", got);
		else if (i >= WARMUP)
			printf("%llu\n",
			       (unsigned long long)(bench_now_ns() - t0));
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(reply);
	return r;
}

int main(int argc, char **argv)
{
	long n;
	int mode;

	if (argc == 4 && strcmp(argv[1], "size") == 0)
		return bench_raw(BENCH_TOKEN, argv[2], argv[3], 1, 1);
	if (argc == 4 && strcmp(argv[1], "any") == 0)
		return bench_raw(BENCH_TOKEN, argv[2], argv[3], 1, 2);
	if (argc == 4 && strcmp(argv[1], "first") == 0)
		return bench_raw(BENCH_TOKEN, argv[2], argv[3], 1, 3);
	if (argc != 5 || (mode = bench_mode_parse(argv[1])) < 0 ||
	    (n = bench_count(argv[4])) < 0) {
		fprintf(stderr,
			"usage: bench_conn xoauth|token|ssh|echo SOCKET "
			"ACCOUNT N\n"
			"       bench_conn size SOCKET ACCOUNT\n");
		return 2;
	}
	if (mode == BENCH_XOAUTH)
		return bench_xoauth(argv[2], argv[3], n);
	return bench_raw(mode, argv[2], argv[3], n, 0);
}
