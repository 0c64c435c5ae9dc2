/*
 * msg_add.c: ADD, a runtime account given as the key = value settings of a
 * config section (PROTOCOL.md section 4.8).  The agent validates the
 * settings with the same code as the config file; the codec only checks
 * the shape.
 */
#include "codec_internal.h"
#include "proto.h"

int proto_enc_add_req(struct proto_writer *w, const struct proto_add_req *m)
{
	uint32_t i;

	proto_frame_begin(w, PROTO_REQ_ADD);
	if (m->count > PROTO_MAX_SETTINGS || m->name.len == 0)
		proto_writer_fail(w, XO_ERR_INVALID);
	proto_put_str(w, m->name);
	proto_put_u32(w, m->count);
	for (i = 0; i < m->count && i < PROTO_MAX_SETTINGS; i++) {
		if (m->settings[i].key.len == 0)
			proto_writer_fail(w, XO_ERR_INVALID);
		proto_put_str(w, m->settings[i].key);
		proto_put_str(w, m->settings[i].value);
	}
	return proto_frame_end(w);
}

int proto_dec_add_req(struct proto_reader *r, struct proto_add_req *m)
{
	uint32_t i;

	m->name = proto_get_str(r);
	m->count = proto_get_u32(r);
	if (r->err == 0 && (m->count > PROTO_MAX_SETTINGS || m->name.len == 0))
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	for (i = 0; r->err == 0 && i < m->count; i++) {
		m->settings[i].key = proto_get_str(r);
		m->settings[i].value = proto_get_str(r);
		if (r->err == 0 && m->settings[i].key.len == 0)
			proto_reader_fail(r, XO_ERR_MSG_BAD);
	}
	return proto_dec_done(r, m, sizeof(*m));
}
