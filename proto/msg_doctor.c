/*
 * msg_doctor.c: DOCTOR, the request for a diagnosis of one account, and its
 * reply, a list of findings (PROTOCOL.md section 4.9).
 */
#include <string.h>

#include "codec_internal.h"
#include "proto.h"

/* The smallest finding: the level byte and two empty strings. */
#define FINDING_MIN (1 + 4 + 4)

int proto_enc_doctor_req(struct proto_writer *w,
			 const struct proto_doctor_req *m)
{
	proto_frame_begin(w, PROTO_REQ_DOCTOR);
	proto_put_str(w, m->account);
	proto_put_str(w, m->smtp);
	proto_put_str(w, m->imap);
	proto_put_u32(w, m->wait_ms);
	return proto_frame_end(w);
}

int proto_dec_doctor_req(struct proto_reader *r, struct proto_doctor_req *m)
{
	m->account = proto_get_str(r);
	m->smtp = proto_get_str(r);
	m->imap = proto_get_str(r);
	m->wait_ms = proto_get_u32(r);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_doctor_begin(struct proto_writer *w, uint32_t count)
{
	proto_frame_begin(w, PROTO_REP_DOCTOR);
	if (count > PROTO_MAX_FINDINGS)
		proto_writer_fail(w, XO_ERR_MSG_TOO_LARGE);
	proto_put_u32(w, count);
	return w->err;
}

void proto_enc_doctor_entry(struct proto_writer *w,
			    const struct proto_finding *f)
{
	if (f->level > PROTO_LEVEL_PROBLEM)
		proto_writer_fail(w, XO_ERR_INVALID);
	proto_put_u8(w, f->level);
	proto_put_str(w, f->text);
	proto_put_str(w, f->fix);
}

int proto_enc_doctor_end(struct proto_writer *w)
{
	struct proto_finding f;
	struct proto_reader r;
	uint32_t count, i;

	if (w->err == 0 && w->frame_start == NO_FRAME)
		proto_writer_fail(w, XO_ERR_INVALID);
	if (w->err != 0)
		return w->err;
	/* As for LIST: read the body back so that a count that does not
	 * match the entries fails here. */
	proto_reader_init(&r, w->buf + w->frame_start + PROTO_HEADER_LEN,
			  w->len - w->frame_start - PROTO_HEADER_LEN);
	if (proto_dec_doctor_count(&r, &count) == 0)
		for (i = 0; i < count && r.err == 0; i++)
			proto_dec_doctor_entry(&r, &f);
	if (proto_reader_finish(&r) != 0) {
		proto_writer_fail(w, XO_ERR_INVALID);
		return w->err;
	}
	return proto_frame_end(w);
}

int proto_dec_doctor_count(struct proto_reader *r, uint32_t *count)
{
	*count = proto_get_u32(r);
	if (r->err == 0 && *count > PROTO_MAX_FINDINGS)
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	if (r->err == 0 && (size_t)*count * FINDING_MIN > r->len - r->off)
		proto_reader_fail(r, XO_ERR_MSG_TRUNCATED);
	if (r->err != 0)
		*count = 0;
	return r->err;
}

int proto_dec_doctor_entry(struct proto_reader *r, struct proto_finding *f)
{
	f->level = proto_get_u8(r);
	f->text = proto_get_str(r);
	f->fix = proto_get_str(r);
	if (r->err == 0 && f->level > PROTO_LEVEL_PROBLEM)
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	if (r->err != 0)
		memset(f, 0, sizeof(*f));
	return r->err;
}
