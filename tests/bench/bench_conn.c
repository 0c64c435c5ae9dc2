/*
 * bench_conn: request latency over one open connection, for bench.py.
 *
 *   bench_conn xoauth SOCKET ACCOUNT N   N token requests through libxoauth
 *   bench_conn ssh SOCKET N              N ssh-agent REQUEST_IDENTITIES
 *
 * Connects once, makes a few untimed requests (so that neither side is
 * measured while warming up), then prints the time of each of N requests
 * in nanoseconds, one per line.  Statistics are bench.py's business, so
 * that both agents' samples go through the same code.  Exits 0, or 1 with
 * a message when a request fails.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xoauth/xo.h>

#define WARMUP 20

/* ssh-agent's protocol (draft-miller-ssh-agent, section 5.1). */
#define SSH_AGENTC_REQUEST_IDENTITIES 11
#define SSH_AGENT_IDENTITIES_ANSWER 12
#define SSH_MAX_REPLY (256 * 1024)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long parse_count(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > 10000000)
		return -1;
	return n;
}

/* One TOKEN request; 0 or -1. */
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
		t0 = now_ns();
		if (xoauth_once(c, account) != 0)
			goto out;
		printf("%llu\n", (unsigned long long)(now_ns() - t0));
	}
	r = 0;
out:
	xo_client_free(c);
	return r;
}

static int read_full(int fd, unsigned char *buf, size_t len)
{
	ssize_t got;

	while (len > 0) {
		if ((got = read(fd, buf, len)) < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		buf += got;
		len -= (size_t)got;
	}
	return 0;
}

/* One REQUEST_IDENTITIES and its answer, read whole; 0 or -1. */
static int ssh_once(int fd, unsigned char *reply)
{
	static const unsigned char req[] = {0, 0, 0, 1,
					    SSH_AGENTC_REQUEST_IDENTITIES};
	unsigned char hdr[4];
	uint32_t len;

	if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req) ||
	    read_full(fd, hdr, sizeof(hdr)) != 0)
		return -1;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	      (uint32_t)hdr[2] << 8 | hdr[3];
	if (len < 1 || len > SSH_MAX_REPLY || read_full(fd, reply, len) != 0 ||
	    reply[0] != SSH_AGENT_IDENTITIES_ANSWER)
		return -1;
	return 0;
}

static int bench_ssh(const char *sock, long n)
{
	struct sockaddr_un sun;
	unsigned char *reply = NULL;
	uint64_t t0;
	long i;
	int fd = -1, r = 1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(sun.sun_path) ||
	    (reply = malloc(SSH_MAX_REPLY)) == NULL ||
	    (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		goto out;
	memcpy(sun.sun_path, sock, strlen(sock));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "bench_conn: cannot connect to %s\n", sock);
		goto out;
	}
	for (i = 0; i < WARMUP + n; i++) {
		t0 = now_ns();
		if (ssh_once(fd, reply) != 0) {
			fprintf(stderr,
				"bench_conn: ssh-agent request failed\n");
			goto out;
		}
		if (i >= WARMUP)
			printf("%llu\n", (unsigned long long)(now_ns() - t0));
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

	if (argc == 5 && strcmp(argv[1], "xoauth") == 0 &&
	    (n = parse_count(argv[4])) > 0)
		return bench_xoauth(argv[2], argv[3], n);
	if (argc == 4 && strcmp(argv[1], "ssh") == 0 &&
	    (n = parse_count(argv[3])) > 0)
		return bench_ssh(argv[2], n);
	fprintf(stderr, "usage: bench_conn xoauth SOCKET ACCOUNT N\n"
			"       bench_conn ssh SOCKET N\n");
	return 2;
}
