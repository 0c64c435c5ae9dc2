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
static void check_str(struct proto_str s)
{
	char *copy = NULL;

	if (proto_str_dup(s, &copy) != 0)
		abort();
	if (strlen(copy) != s.len)
		abort();
	free(copy);
}

/* Writes a decoded LIST reply again into w. */
static void list_encode(const struct proto_any *m, struct proto_writer *w)
{
	uint32_t i;

	proto_enc_list_begin(w, m->n_entries);
	for (i = 0; i < m->n_entries; i++) {
		const struct proto_account_info *e = &m->entries[i];

		check_str(e->name);
		check_str(e->email);
		check_str(e->provider);
		check_str(e->flow);
		check_str(e->last_error);
		(void)proto_state_name(e->state);
		proto_enc_list_entry(w, e);
	}
	if (proto_enc_list_end(w) != 0)
		abort();
}

/* Writes a decoded DOCTOR reply again into w. */
static void findings_encode(const struct proto_any *m, struct proto_writer *w)
{
	uint32_t i;

	proto_enc_doctor_begin(w, m->n_findings);
	for (i = 0; i < m->n_findings; i++) {
		check_str(m->findings[i].text);
		check_str(m->findings[i].fix);
		proto_enc_doctor_entry(w, &m->findings[i]);
	}
	if (proto_enc_doctor_end(w) != 0)
		abort();
}

static void export_check(const struct proto_export *e)
{
	uint32_t i;

	for (i = 0; i < e->count; i++)
		check_str(e->chunks[i]);
}

/* The messages of logins, runtime accounts, the doctor and the vault. */
static int encode_more(const struct proto_any *m, struct proto_writer *w)
{
	const struct proto_add_req *ad = &m->u.add;
	uint32_t i;

	switch (m->type) {
	case PROTO_REQ_LOGIN_START:
		check_str(m->u.login_start.account);
		check_str(m->u.login_start.flow);
		proto_enc_login_start_req(w, &m->u.login_start);
		return 1;
	case PROTO_REQ_LOGIN_CODE:
		check_str(m->u.login_code.account);
		check_str(m->u.login_code.response);
		proto_enc_login_code_req(w, &m->u.login_code);
		return 1;
	case PROTO_REQ_ADD:
		check_str(ad->name);
		for (i = 0; i < ad->count; i++) {
			check_str(ad->settings[i].key);
			check_str(ad->settings[i].value);
		}
		proto_enc_add_req(w, ad);
		return 1;
	case PROTO_REQ_DOCTOR:
		check_str(m->u.doctor_req.account);
		check_str(m->u.doctor_req.smtp);
		check_str(m->u.doctor_req.imap);
		proto_enc_doctor_req(w, &m->u.doctor_req);
		return 1;
	case PROTO_REP_DOCTOR:
		findings_encode(m, w);
		return 1;
	case PROTO_REQ_DELETE:
		check_str(m->u.account_req.account);
		proto_enc_account_req(w, m->type, &m->u.account_req);
		return 1;
	case PROTO_REQ_LOCK:
		proto_enc_account_req(w, m->type, NULL);
		return 1;
	case PROTO_REQ_UNLOCK:
	case PROTO_REQ_EXPORT:
		check_str(m->u.passphrase.passphrase);
		proto_enc_passphrase_req(w, m->type, &m->u.passphrase);
		return 1;
	case PROTO_REP_EXPORT:
		export_check(&m->u.export_rep);
		proto_enc_export_rep(w, &m->u.export_rep);
		return 1;
	case PROTO_REQ_RESTORE:
		export_check(&m->u.restore.data);
		check_str(m->u.restore.passphrase);
		proto_enc_restore_req(w, &m->u.restore);
		return 1;
	default:
		return 0;
	}
}

/* Encodes a decoded message again into w, checking its text fields. */
static void encode(const struct proto_any *m, struct proto_writer *w)
{
	const struct proto_login_rep *lr = &m->u.login;

	switch (m->type) {
	case PROTO_REQ_QUERY:
		proto_enc_query(w, &m->u.query);
		break;
	case PROTO_REP_VERSION:
		check_str(m->u.version.agent);
		check_str(m->u.version.caps);
		proto_enc_version(w, &m->u.version);
		break;
	case PROTO_REQ_TOKEN:
		check_str(m->u.token_req.account);
		check_str(m->u.token_req.host);
		proto_enc_token_req(w, &m->u.token_req);
		break;
	case PROTO_REP_TOKEN:
		check_str(m->u.token_rep.token);
		check_str(m->u.token_rep.email);
		proto_enc_token_rep(w, &m->u.token_rep);
		break;
	case PROTO_REQ_REFRESH:
	case PROTO_REQ_REMOVE:
	case PROTO_REQ_LOGIN_WAIT:
		check_str(m->u.account_req.account);
		proto_enc_account_req(w, m->type, &m->u.account_req);
		break;
	case PROTO_REQ_IMPORT:
		check_str(m->u.import.account);
		check_str(m->u.import.refresh_token);
		proto_enc_import_req(w, &m->u.import);
		break;
	case PROTO_REP_LOGIN:
		check_str(lr->verification_uri);
		check_str(lr->verification_uri_complete);
		check_str(lr->user_code);
		check_str(lr->flow);
		proto_enc_login_rep(w, lr);
		break;
	case PROTO_REP_FAILURE:
		check_str(m->u.failure.message);
		(void)proto_strerror(proto_status_to_err(m->u.failure.status));
		proto_enc_failure(w, &m->u.failure);
		break;
	case PROTO_REQ_LIST:
		proto_enc_account_req(w, m->type, NULL);
		break;
	case PROTO_REP_SUCCESS:
		proto_enc_success(w);
		break;
	case PROTO_REP_LIST:
		list_encode(m, w);
		break;
	default:
		if (!encode_more(m, w))
			abort(); /* proto_any_decode() decoded a type that
				    has no encoder here */
	}
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
