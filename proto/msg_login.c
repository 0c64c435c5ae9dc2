/*
 * msg_login.c: the requests that drive a login: LOGIN_START (which flow)
 * and LOGIN_CODE (what the user pasted back from the provider's redirect).
 * PROTOCOL.md section 4.7.
 */
#include "codec_internal.h"
#include "proto.h"

int proto_enc_login_start_req(struct proto_writer *w,
			      const struct proto_login_start_req *m)
{
	proto_frame_begin(w, PROTO_REQ_LOGIN_START);
	proto_put_str(w, m->account);
	proto_put_str(w, m->flow);
	proto_put_u32(w, m->wait_ms);
	return proto_frame_end(w);
}

int proto_dec_login_start_req(struct proto_reader *r,
			      struct proto_login_start_req *m)
{
	m->account = proto_get_str(r);
	m->flow = proto_get_str(r);
	m->wait_ms = proto_get_u32(r);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_login_code_req(struct proto_writer *w,
			     const struct proto_login_code_req *m)
{
	proto_frame_begin(w, PROTO_REQ_LOGIN_CODE);
	proto_put_str(w, m->account);
	proto_put_str(w, m->response);
	proto_put_u32(w, m->wait_ms);
	return proto_frame_end(w);
}

int proto_dec_login_code_req(struct proto_reader *r,
			     struct proto_login_code_req *m)
{
	m->account = proto_get_str(r);
	m->response = proto_get_str(r);
	m->wait_ms = proto_get_u32(r);
	return proto_dec_done(r, m, sizeof(*m));
}
