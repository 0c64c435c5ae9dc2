/*
 * bench_echo: the Unix-socket floor for the benchmarks.  A server that
 * does nothing but the framing: it reads frames as xoauth-agent and
 * ssh-agent do (uint32 length, big-endian, then the body) and answers each
 * with a frame of REPLY_LEN body bytes whose first byte is a TOKEN reply's
 * type, so the client reads as much as from the agent.
 *
 *   bench_echo SOCKET REPLY_LEN
 *
 * One thread, epoll, non-blocking sockets: the least a single-threaded
 * event-loop server can do per request (epoll_wait, read, write).  It
 * prints "ready" once listening and runs until killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"

#include "bench_wire.h"

#define MAX_EVENTS 64
#define IN_MAX 4096

struct client {
	int fd;
	size_t have;
	unsigned char in[IN_MAX];
};

static unsigned char *reply;
static size_t reply_len;

static void drop(int ep, struct client *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Reads what is there and answers every whole frame; -1 to drop c. */
static int serve(struct client *c)
{
	ssize_t n, got;
	uint32_t flen;
	size_t off, put, room;

	for (;;) {
		room = IN_MAX - c->have;
		got = read(c->fd, c->in + c->have, room);
		if (got == 0)
			return -1;
		if (got < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->have += (size_t)got;
		off = 0;
		while (c->have - off >= 4) {
			flen = (uint32_t)c->in[off] << 24 |
			       (uint32_t)c->in[off + 1] << 16 |
			       (uint32_t)c->in[off + 2] << 8 | c->in[off + 3];
			if (flen == 0 || flen > IN_MAX - 4)
				return -1;
			if (c->have - off < 4 + (size_t)flen)
				break;
			off += 4 + flen;
			/* The client reads each reply before it asks again,
			   so the socket buffer takes it whole. */
			for (put = 0; put < reply_len; put += (size_t)n)
				if ((n = write(c->fd, reply + put,
					       reply_len - put)) <= 0)
					return -1;
		}
		memmove(c->in, c->in + off, c->have - off);
		c->have -= off;
		/* A short read emptied the socket. */
		if ((size_t)got < room)
			return 0;
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev, evs[MAX_EVENTS];
	struct sockaddr_un sun;
	struct client *c;
	long body;
	int lfd, ep, fd, i, n;

	if (argc != 3 || (body = bench_count(argv[2])) < 0 ||
	    body > BENCH_MAX_REPLY || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: bench_echo SOCKET REPLY_LEN\n");
		return 2;
	}
	reply_len = 4 + (size_t)body;
	if ((reply = calloc(1, reply_len)) == NULL)
		return 1;
	reply[0] = (unsigned char)(body >> 24);
	reply[1] = (unsigned char)(body >> 16);
	reply[2] = (unsigned char)(body >> 8);
	reply[3] = (unsigned char)body;
	reply[4] = PROTO_REP_TOKEN;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[1], strlen(argv[1]));
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(lfd, 1024) != 0 || (ep = epoll_create1(0)) < 0) {
		perror("bench_echo");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if ((n = epoll_wait(ep, evs, MAX_EVENTS, -1)) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr != NULL) {
				c = evs[i].data.ptr;
				if (serve(c) != 0)
					drop(ep, c);
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >=
			       0) {
				if ((c = calloc(1, sizeof(*c))) == NULL) {
					close(fd);
					continue;
				}
				c->fd = fd;
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			}
		}
	}
}
