/*
 * bench_wire.c: the raw client side of the benchmarks (bench_wire.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#include "bench_wire.h"

int bench_mode_parse(const char *s)
{
	static const char *const names[] = {
	    [BENCH_XOAUTH] = "xoauth", [BENCH_TOKEN] = "token",
	    [BENCH_SSH] = "ssh",       [BENCH_ECHO] = "echo",
	    [BENCH_TWO] = "two",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

int bench_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "bench: socket path too long: %s\n", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "bench: cannot connect to %s: %s\n", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

size_t bench_request(int mode, const char *account, unsigned wait_ms,
		     unsigned char *out, size_t cap)
{
	struct proto_token_req q;
	struct proto_writer w;

	if (mode == BENCH_SSH) {
		if (cap < 5)
			return 0;
		memcpy(out, "\0\0\0\1", 4);
		out[4] = BENCH_SSH_REQUEST_IDENTITIES;
		return 5;
	}
	memset(&q, 0, sizeof(q));
	q.account = proto_str_c(account);
	q.form = PROTO_FORM_ACCESS;
	q.wait_ms = wait_ms;
	proto_writer_init(&w, out, cap);
	if (proto_enc_token_req(&w, &q) != 0 || w.err != 0)
		return 0;
	return w.len;
}

size_t bench_query(unsigned char *out, size_t cap)
{
	struct proto_query q = {.version = PROTO_VERSION};
	struct proto_writer w;

	proto_writer_init(&w, out, cap);
	if (proto_enc_query(&w, &q) != 0 || w.err != 0)
		return 0;
	return w.len;
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

static int write_full(int fd, const unsigned char *buf, size_t len)
{
	ssize_t put;

	while (len > 0) {
		if ((put = write(fd, buf, len)) < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return -1;
		buf += put;
		len -= (size_t)put;
	}
	return 0;
}

long bench_roundtrip(int fd, const unsigned char *req, size_t len,
		     unsigned char *buf, size_t cap, uint8_t want)
{
	unsigned char hdr[4];
	uint32_t n;

	if (write_full(fd, req, len) != 0 || read_full(fd, hdr, 4) != 0)
		return -1;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (n < 1 || n > cap || read_full(fd, buf, n) != 0)
		return -1;
	if (want != 0 && buf[0] != want)
		return -1;
	return (long)n;
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long bench_count(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > 100000000)
		return -1;
	return n;
}
