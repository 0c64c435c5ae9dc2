/*
 * fuzz_proto.c: libFuzzer target for the wire codec.
 *
 * The input is read twice: as a byte stream of frames, the way the agent
 * and libxoauth read a socket, and as a bare payload handed to every
 * decoder, so that the decoders are reached without the fuzzer having to
 * discover the framing first.  Every message that decodes is encoded again
 * and must come out byte for byte the same: the encoding is canonical, so a
 * difference means the decoder accepted something the encoder would never
 * write, or the two disagree about a field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_any.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks that a decoded text field really is a C string once copied. */
static void check_str(struct proto_str s, void *arg)
{
	char *copy = NULL;

	(void)arg;
	if (proto_str_dup(s, &copy) != 0)
		abort();
	if (strlen(copy) != s.len)
		abort();
	free(copy);
}

/* Encodes a decoded message again into w, checking its text fields and
 * the names its numbers map to. */
static void encode(const struct proto_any *m, struct proto_writer *w)
{
	uint32_t i;

	for (i = 0; i < m->n_entries; i++)
		(void)proto_state_name(m->entries[i].state);
	if (m->type == PROTO_REP_FAILURE)
		(void)proto_strerror(proto_status_to_err(m->u.failure.status));
	/* A message that decoded always encodes: 1 would be a type
	   proto_any_decode() knows and proto_any_encode() does not. */
	if (proto_any_encode(m, w, check_str, NULL) != 0)
		abort();
}

/*
 * Decodes a payload as message type and, when it decodes, encodes it again
 * into w.  Returns the decoder's result; 1 for a type with no decoder.
 */
static int round_trip(uint8_t type, struct proto_reader *r,
		      struct proto_writer *w)
{
	struct proto_any m;
	int err;

	if ((err = proto_any_decode(type, r, &m)) == 0)
		encode(&m, w);
	proto_any_cleanup(&m);
	if (err != 0 && err != 1 && err != XO_ERR_MSG_BAD &&
	    err != XO_ERR_MSG_TRUNCATED)
		abort();
	return err;
}

/* Runs a whole frame through its decoder and back. */
static void check_frame(const uint8_t *frame, size_t len)
{
	struct proto_reader r;
	struct proto_writer w;
	unsigned char *out;
	uint8_t type;

	if (proto_frame_open(frame, len, &type, &r) != 0)
		abort(); /* proto_frame_peek() accepted it */
	if ((out = malloc(len)) == NULL)
		abort();
	proto_writer_init(&w, out, len);
	if (round_trip(type, &r, &w) == 0) {
		if (w.err != 0 || w.len != len || memcmp(out, frame, len) != 0)
			abort();
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_reader r;
	struct proto_writer w;
	unsigned char *out;
	size_t off = 0, n;
	int t;

	/* As a stream: frames one after another until one is incomplete or
	 * a framing error would close the connection. */
	while (proto_frame_peek(data + off, size - off, PROTO_MAX_MSG, &n) ==
	       0) {
		if (n < PROTO_HEADER_LEN || n > size - off)
			abort();
		check_frame(data + off, n);
		off += n;
	}

	/* As a bare payload for every decoder.  A payload that decodes fits
	 * in a frame of its own size plus the header, if that frame is within
	 * the limit at all. */
	if (size >= PROTO_MAX_MSG)
		return 0;
	if ((out = malloc(size + PROTO_HEADER_LEN)) == NULL)
		abort();
	for (t = 0; t <= 255; t++) {
		proto_reader_init(&r, data, size);
		proto_writer_init(&w, out, size + PROTO_HEADER_LEN);
		if (round_trip((uint8_t)t, &r, &w) != 0)
			continue;
		if (w.err != 0 || w.len != size + PROTO_HEADER_LEN ||
		    out[4] != t ||
		    (size > 0 && memcmp(out + PROTO_HEADER_LEN, data, size)))
			abort();
	}
	free(out);
	return 0;
}
