/*
 * proto_echo: the C codec as a filter, so that another implementation of
 * the protocol (the Python package's, contrib/python/xoauth/protocol.py)
 * can be checked against it.  Reads frames from standard input, one after
 * another, and writes one line for each:
 *
 *   ok HEX      the frame decoded (proto_any_decode()) and was encoded
 *               again (proto_any_encode()); HEX is what the encoder wrote
 *   bad NAME    its payload did not decode; NAME is the codec's error
 *               (MSG_BAD, MSG_TRUNCATED), or UNKNOWN_TYPE
 *
 * and at the end, when the input does not end on a frame boundary or
 * holds a framing error, "framing NAME" (MSG_TOO_LARGE, MSG_BAD for a
 * length of 0, MSG_TRUNCATED).  Exit status 0, or 2 when the input could
 * not be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_any.h"

/* More than any test sends: every frame is at most PROTO_MAX_MSG + 4. */
#define INPUT_MAX (16u * 1024 * 1024)

static unsigned char *read_all(size_t *len)
{
	unsigned char *buf = malloc(INPUT_MAX);
	size_t n = 0, got;

	if (buf == NULL)
		return NULL;
	while ((got = fread(buf + n, 1, INPUT_MAX - n, stdin)) > 0)
		n += got;
	if (ferror(stdin) || n == INPUT_MAX) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* Decodes one whole frame and prints its line. */
static void echo_frame(const unsigned char *frame, size_t len,
		       unsigned char *out)
{
	struct proto_reader r;
	struct proto_writer w;
	struct proto_any m;
	uint8_t type;
	size_t i;
	int err;

	if ((err = proto_frame_open(frame, len, &type, &r)) == 0)
		err = proto_any_decode(type, &r, &m);
	else
		memset(&m, 0, sizeof(m));
	if (err == 1) {
		printf("bad UNKNOWN_TYPE\n");
	} else if (err != 0) {
		printf("bad %s\n", proto_err_name(err));
	} else {
		proto_writer_init(&w, out, PROTO_MAX_MSG + 4);
		if ((err = proto_any_encode(&m, &w, NULL, NULL)) != 0) {
			printf("bad ENCODE_%s\n", proto_err_name(err));
		} else {
			printf("ok ");
			for (i = 0; i < w.len; i++)
				printf("%02x", out[i]);
			printf("\n");
		}
	}
	proto_any_cleanup(&m);
}

int main(void)
{
	unsigned char *in, *out;
	size_t len = 0, off = 0, n;
	int err;

	if ((in = read_all(&len)) == NULL ||
	    (out = malloc(PROTO_MAX_MSG + 4)) == NULL) {
		fprintf(stderr, "proto_echo: cannot read the input\n");
		return 2;
	}
	while (off < len) {
		if ((err = proto_frame_peek(in + off, len - off, PROTO_MAX_MSG,
					    &n)) != 0) {
			printf("framing %s\n", proto_err_name(err));
			break;
		}
		echo_frame(in + off, n, out);
		off += n;
	}
	free(out);
	free(in);
	return 0;
}
