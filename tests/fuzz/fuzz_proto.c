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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks that a decoded text field really is a C string once copied. */
static void check_str(struct proto_str s)
{
	char *copy = NULL;

	if (proto_str_dup(s, &copy) != 0)
		abort();
	if (strlen(copy) != s.len)
		abort();
	free(copy);
}

/* Decodes a LIST reply and writes it again into w. */
static int list_round_trip(struct proto_reader *r, struct proto_writer *w)
{
	struct proto_account_info e;
	uint32_t count, i;
	int err;

	if ((err = proto_dec_list_count(r, &count)) != 0)
		return err;
	proto_enc_list_begin(w, count);
	for (i = 0; i < count; i++) {
		if ((err = proto_dec_list_entry(r, &e)) != 0)
			return err;
		check_str(e.name);
		check_str(e.email);
		check_str(e.provider);
		check_str(e.flow);
		check_str(e.last_error);
		(void)proto_state_name(e.state);
		proto_enc_list_entry(w, &e);
	}
	if ((err = proto_reader_finish(r)) != 0)
		return err;
	if (proto_enc_list_end(w) != 0)
		abort();
	return 0;
}

/* Decodes a DOCTOR reply and writes it again into w. */
static int doctor_round_trip(struct proto_reader *r, struct proto_writer *w)
{
	struct proto_finding f;
	uint32_t count, i;
	int err;

	if ((err = proto_dec_doctor_count(r, &count)) != 0)
		return err;
	proto_enc_doctor_begin(w, count);
	for (i = 0; i < count; i++) {
		if ((err = proto_dec_doctor_entry(r, &f)) != 0)
			return err;
		check_str(f.text);
		check_str(f.fix);
		proto_enc_doctor_entry(w, &f);
	}
	if ((err = proto_reader_finish(r)) != 0)
		return err;
	if (proto_enc_doctor_end(w) != 0)
		abort();
	return 0;
}

/* The messages of logins, runtime accounts and the doctor. */
static int round_trip_more(uint8_t type, struct proto_reader *r,
			   struct proto_writer *w)
{
	union {
		struct proto_login_start_req ls;
		struct proto_login_code_req lc;
		struct proto_add_req ad;
		struct proto_doctor_req dq;
	} m;
	uint32_t i;
	int err = 1;

	switch (type) {
	case PROTO_REQ_LOGIN_START:
		if ((err = proto_dec_login_start_req(r, &m.ls)) == 0) {
			check_str(m.ls.account);
			check_str(m.ls.flow);
			proto_enc_login_start_req(w, &m.ls);
		}
		break;
	case PROTO_REQ_LOGIN_CODE:
		if ((err = proto_dec_login_code_req(r, &m.lc)) == 0) {
			check_str(m.lc.account);
			check_str(m.lc.response);
			proto_enc_login_code_req(w, &m.lc);
		}
		break;
	case PROTO_REQ_ADD:
		if ((err = proto_dec_add_req(r, &m.ad)) == 0) {
			check_str(m.ad.name);
			for (i = 0; i < m.ad.count; i++) {
				check_str(m.ad.settings[i].key);
				check_str(m.ad.settings[i].value);
			}
			proto_enc_add_req(w, &m.ad);
		}
		break;
	case PROTO_REQ_DOCTOR:
		if ((err = proto_dec_doctor_req(r, &m.dq)) == 0) {
			check_str(m.dq.account);
			check_str(m.dq.smtp);
			check_str(m.dq.imap);
			proto_enc_doctor_req(w, &m.dq);
		}
		break;
	case PROTO_REP_DOCTOR:
		err = doctor_round_trip(r, w);
		break;
	default:
		break;
	}
	return err;
}

/*
 * Decodes a payload as message type and, when it decodes, encodes it again
 * into w.  Returns the decoder's result; 1 for a type with no decoder.
 */
static int round_trip(uint8_t type, struct proto_reader *r,
		      struct proto_writer *w)
{
	union {
		struct proto_query q;
		struct proto_version v;
		struct proto_token_req tq;
		struct proto_token_rep tp;
		struct proto_account_req ar;
		struct proto_import_req ir;
		struct proto_login_rep lr;
		struct proto_failure fl;
	} m;
	int err = 1;

	switch (type) {
	case PROTO_REQ_QUERY:
		if ((err = proto_dec_query(r, &m.q)) == 0)
			proto_enc_query(w, &m.q);
		break;
	case PROTO_REP_VERSION:
		if ((err = proto_dec_version(r, &m.v)) == 0) {
			check_str(m.v.agent);
			check_str(m.v.caps);
			proto_enc_version(w, &m.v);
		}
		break;
	case PROTO_REQ_TOKEN:
		if ((err = proto_dec_token_req(r, &m.tq)) == 0) {
			check_str(m.tq.account);
			check_str(m.tq.host);
			proto_enc_token_req(w, &m.tq);
		}
		break;
	case PROTO_REP_TOKEN:
		if ((err = proto_dec_token_rep(r, &m.tp)) == 0) {
			check_str(m.tp.token);
			check_str(m.tp.email);
			proto_enc_token_rep(w, &m.tp);
		}
		break;
	case PROTO_REQ_REFRESH:
	case PROTO_REQ_REMOVE:
	case PROTO_REQ_LOGIN_WAIT:
	case PROTO_REQ_DELETE:
		if ((err = proto_dec_account_req(r, &m.ar)) == 0) {
			check_str(m.ar.account);
			proto_enc_account_req(w, type, &m.ar);
		}
		break;
	case PROTO_REQ_IMPORT:
		if ((err = proto_dec_import_req(r, &m.ir)) == 0) {
			check_str(m.ir.account);
			check_str(m.ir.refresh_token);
			proto_enc_import_req(w, &m.ir);
		}
		break;
	case PROTO_REP_LOGIN:
		if ((err = proto_dec_login_rep(r, &m.lr)) == 0) {
			check_str(m.lr.verification_uri);
			check_str(m.lr.verification_uri_complete);
			check_str(m.lr.user_code);
			proto_enc_login_rep(w, &m.lr);
		}
		break;
	case PROTO_REP_FAILURE:
		if ((err = proto_dec_failure(r, &m.fl)) == 0) {
			check_str(m.fl.message);
			(void)proto_strerror(proto_status_to_err(m.fl.status));
			proto_enc_failure(w, &m.fl);
		}
		break;
	case PROTO_REQ_LIST:
		if ((err = proto_reader_finish(r)) == 0)
			proto_enc_account_req(w, type, NULL);
		break;
	case PROTO_REP_SUCCESS:
		if ((err = proto_reader_finish(r)) == 0)
			proto_enc_success(w);
		break;
	case PROTO_REP_LIST:
		err = list_round_trip(r, w);
		break;
	default:
		err = round_trip_more(type, r, w);
		break;
	}
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
