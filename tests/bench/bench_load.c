/*
 * bench_load: throughput with many clients at once, for bench.py.
 *
 *   bench_load MODE SOCKET ACCOUNT CLIENTS MILLIS [connect]
 *
 * CLIENTS threads each make requests of MODE (bench_wire.h) one after the
 * other, for MILLIS milliseconds after a short warm-up; with "connect",
 * every request opens a connection of its own and closes it after the
 * answer, as msmtp's passwordeval does through `xoauth token` (without
 * the process start, which bench.py measures on its own).  Mode "two"
 * sends QUERY and waits for its VERSION before each TOKEN: the two round
 * trips libxoauth made before it sent both in one write.  Prints
 * "requests N seconds S": the requests answered in the timed window, and
 * its length.  Exits 1 when a request fails.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xoauth/xo.h>

#include "proto.h"

#include "bench_wire.h"

#define WARMUP_MS 200
#define MAX_CLIENTS 1024

struct run {
	int mode;
	const char *sock;
	const char *account;
	int connect_each;
	unsigned char query[16]; /* "two": the QUERY sent first */
	size_t query_len;
	uint64_t start_ns, end_ns;
	atomic_int failed;
};

struct worker {
	pthread_t thread;
	struct run *run;
	unsigned long done; /* requests answered inside the window */
};

/* One request on the open connection (or a new one); 0 or -1. */
static int once(struct run *run, struct xo_client **xc, int *fd,
		const unsigned char *req, size_t len, unsigned char *reply)
{
	uint8_t want = run->mode == BENCH_SSH ? BENCH_SSH_IDENTITIES_ANSWER
					      : PROTO_REP_TOKEN;
	struct xo_token t;
	int r = -1;

	if (run->mode == BENCH_XOAUTH) {
		if (*xc == NULL && xo_client_connect(run->sock, xc) != 0)
			return -1;
		if (xo_token(*xc, run->account, NULL, &t) == 0) {
			xo_token_free(&t);
			r = 0;
		} else {
			fprintf(stderr, "bench_load: %s\n",
				xo_client_message(*xc));
		}
		if (run->connect_each) {
			xo_client_free(*xc);
			*xc = NULL;
		}
		return r;
	}
	if (*fd < 0 && (*fd = bench_connect(run->sock)) < 0)
		return -1;
	if (run->mode == BENCH_TWO &&
	    bench_roundtrip(*fd, run->query, run->query_len, reply,
			    BENCH_MAX_REPLY, PROTO_REP_VERSION) < 0) {
		close(*fd);
		*fd = -1;
		return -1;
	}
	if (bench_roundtrip(*fd, req, len, reply, BENCH_MAX_REPLY, want) >= 0)
		r = 0;
	if (run->connect_each || r != 0) {
		close(*fd);
		*fd = -1;
	}
	return r;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	struct xo_client *xc = NULL;
	unsigned char req[1024], *reply = malloc(BENCH_MAX_REPLY);
	size_t len =
	    bench_request(run->mode, run->account, 0, req, sizeof(req));
	uint64_t now;
	int fd = -1;

	if (reply == NULL || len == 0) {
		run->failed = 1;
		goto out;
	}
	while (!run->failed) {
		if (once(run, &xc, &fd, req, len, reply) != 0) {
			run->failed = 1;
			break;
		}
		now = bench_now_ns();
		if (now >= run->end_ns)
			break;
		if (now >= run->start_ns)
			w->done++;
	}
out:
	xo_client_free(xc);
	if (fd >= 0)
		close(fd);
	free(reply);
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker *ws;
	struct run run;
	unsigned long total = 0;
	long clients, ms, i;

	memset(&run, 0, sizeof(run));
	if ((argc != 6 && argc != 7) ||
	    (run.mode = bench_mode_parse(argv[1])) < 0 ||
	    run.mode == BENCH_ECHO || (clients = bench_count(argv[4])) < 0 ||
	    clients > MAX_CLIENTS || (ms = bench_count(argv[5])) < 0 ||
	    (argc == 7 && strcmp(argv[6], "connect") != 0)) {
		fprintf(stderr, "usage: bench_load xoauth|token|two|ssh SOCKET "
				"ACCOUNT CLIENTS MILLIS [connect]\n");
		return 2;
	}
	if ((run.query_len = bench_query(run.query, sizeof(run.query))) == 0)
		return 1;
	run.sock = argv[2];
	run.account = argv[3];
	run.connect_each = argc == 7;
	run.start_ns = bench_now_ns() + WARMUP_MS * 1000000ull;
	run.end_ns = run.start_ns + (uint64_t)ms * 1000000ull;
	if ((ws = calloc((size_t)clients, sizeof(*ws))) == NULL)
		return 1;
	for (i = 0; i < clients; i++) {
		ws[i].run = &run;
		if (pthread_create(&ws[i].thread, NULL, work, &ws[i]) != 0) {
			run.failed = 1;
			clients = i;
			break;
		}
	}
	for (i = 0; i < clients; i++) {
		pthread_join(ws[i].thread, NULL);
		total += ws[i].done;
	}
	free(ws);
	if (run.failed) {
		fprintf(stderr, "bench_load: a request failed\n");
		return 1;
	}
	printf("requests %lu seconds %.6f\n", total, ms / 1000.0);
	return 0;
}
