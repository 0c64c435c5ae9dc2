/*
 * msg_send.c: sending a message through the agent (PROTOCOL.md section
 * 4.11): SEND names the account, the envelope and the size, SEND_DATA
 * carries the message in pieces (any bytes: a message is no text field),
 * SEND_END sends it, and SENT says how it went out.  The codec checks the
 * shape only; what the message says is the agent's business.
 */
#include <string.h>

#include "codec_internal.h"
#include "proto.h"

/* A recipient is a non-empty address with no control character: each
   becomes an SMTP command line of its own. */
static int rcpt_ok(struct proto_str s)
{
	uint32_t i;

	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++)
		if ((unsigned char)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
			return 0;
	return 1;
}

static int send_req_ok(const struct proto_send_req *m)
{
	return m->count <= PROTO_MAX_RCPTS && m->size <= PROTO_MAX_MAIL &&
	       (m->flags & ~PROTO_SEND_FLAGS_ALL) == 0 &&
	       (m->from.len == 0 || rcpt_ok(m->from)) &&
	       (m->fullname.len == 0 || rcpt_ok(m->fullname));
}

int proto_enc_send_req(struct proto_writer *w, const struct proto_send_req *m)
{
	uint32_t i;

	proto_frame_begin(w, PROTO_REQ_SEND);
	if (!send_req_ok(m))
		proto_writer_fail(w, XO_ERR_INVALID);
	proto_put_str(w, m->account);
	proto_put_str(w, m->from);
	proto_put_str(w, m->fullname);
	proto_put_u8(w, m->flags);
	proto_put_u64(w, m->size);
	proto_put_u32(w, m->count);
	for (i = 0; i < m->count && i < PROTO_MAX_RCPTS; i++) {
		if (!rcpt_ok(m->rcpts[i]))
			proto_writer_fail(w, XO_ERR_INVALID);
		proto_put_str(w, m->rcpts[i]);
	}
	return proto_frame_end(w);
}

int proto_dec_send_req(struct proto_reader *r, struct proto_send_req *m)
{
	uint32_t i;

	m->account = proto_get_str(r);
	m->from = proto_get_str(r);
	m->fullname = proto_get_str(r);
	m->flags = proto_get_u8(r);
	m->size = proto_get_u64(r);
	m->count = proto_get_u32(r);
	if (r->err == 0 && !send_req_ok(m))
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	for (i = 0; r->err == 0 && i < m->count; i++) {
		m->rcpts[i] = proto_get_str(r);
		if (r->err == 0 && !rcpt_ok(m->rcpts[i]))
			proto_reader_fail(r, XO_ERR_MSG_BAD);
	}
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_send_data(struct proto_writer *w, const struct proto_send_data *m)
{
	proto_frame_begin(w, PROTO_REQ_SEND_DATA);
	if (m->len == 0 || m->len > PROTO_MAX_DATA)
		proto_writer_fail(w, XO_ERR_INVALID);
	proto_put_u32(w, m->len);
	proto_put_bytes(w, m->data, m->len);
	return proto_frame_end(w);
}

int proto_dec_send_data(struct proto_reader *r, struct proto_send_data *m)
{
	m->len = proto_get_u32(r);
	m->data = NULL;
	if (r->err == 0 && (m->len == 0 || m->len > PROTO_MAX_DATA))
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	if (r->err == 0 && m->len > r->len - r->off)
		proto_reader_fail(r, XO_ERR_MSG_TRUNCATED);
	if (r->err == 0) {
		m->data = r->p + r->off;
		r->off += m->len;
	}
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_send_end(struct proto_writer *w, const struct proto_send_end *m)
{
	proto_frame_begin(w, PROTO_REQ_SEND_END);
	proto_put_u32(w, m->wait_ms);
	return proto_frame_end(w);
}

int proto_dec_send_end(struct proto_reader *r, struct proto_send_end *m)
{
	m->wait_ms = proto_get_u32(r);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_sent(struct proto_writer *w, const struct proto_sent *m)
{
	proto_frame_begin(w, PROTO_REP_SENT);
	if (m->transport.len == 0)
		proto_writer_fail(w, XO_ERR_INVALID);
	proto_put_str(w, m->transport);
	proto_put_str(w, m->reply);
	proto_put_str(w, m->notice);
	return proto_frame_end(w);
}

int proto_dec_sent(struct proto_reader *r, struct proto_sent *m)
{
	m->transport = proto_get_str(r);
	m->reply = proto_get_str(r);
	m->notice = proto_get_str(r);
	if (r->err == 0 && m->transport.len == 0)
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	return proto_dec_done(r, m, sizeof(*m));
}
