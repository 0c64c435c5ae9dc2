/*
 * msg_vault.c: the vault's requests: UNLOCK and EXPORT (a passphrase),
 * RESTORE, and the EXPORT reply (PROTOCOL.md section 4.10).  LOCK has no
 * payload and goes through proto_enc_account_req().
 */
#include "codec_internal.h"
#include "proto.h"

int proto_enc_passphrase_req(struct proto_writer *w, uint8_t type,
			     const struct proto_passphrase_req *m)
{
	proto_frame_begin(w, type);
	if ((type != PROTO_REQ_UNLOCK && type != PROTO_REQ_EXPORT) ||
	    m->create > 1 || (type == PROTO_REQ_EXPORT && m->create != 0))
		proto_writer_fail(w, XO_ERR_INVALID);
	proto_put_str(w, m->passphrase);
	if (type == PROTO_REQ_UNLOCK)
		proto_put_u8(w, m->create);
	return proto_frame_end(w);
}

int proto_dec_passphrase_req(struct proto_reader *r, uint8_t type,
			     struct proto_passphrase_req *m)
{
	m->passphrase = proto_get_str(r);
	m->create = type == PROTO_REQ_UNLOCK ? proto_get_u8(r) : 0;
	if (r->err == 0 && m->create > 1)
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	return proto_dec_done(r, m, sizeof(*m));
}

static void put_export(struct proto_writer *w, const struct proto_export *m)
{
	uint32_t i;

	if (m->count == 0 || m->count > PROTO_MAX_CHUNKS)
		proto_writer_fail(w, XO_ERR_INVALID);
	proto_put_u32(w, m->count);
	for (i = 0; i < m->count && i < PROTO_MAX_CHUNKS; i++)
		proto_put_str(w, m->chunks[i]);
}

static void get_export(struct proto_reader *r, struct proto_export *m)
{
	uint32_t i;

	m->count = proto_get_u32(r);
	if (r->err == 0 && (m->count == 0 || m->count > PROTO_MAX_CHUNKS))
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	for (i = 0; r->err == 0 && i < m->count; i++)
		m->chunks[i] = proto_get_str(r);
}

int proto_enc_export_rep(struct proto_writer *w, const struct proto_export *m)
{
	proto_frame_begin(w, PROTO_REP_EXPORT);
	put_export(w, m);
	return proto_frame_end(w);
}

int proto_dec_export_rep(struct proto_reader *r, struct proto_export *m)
{
	get_export(r, m);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_restore_req(struct proto_writer *w,
			  const struct proto_restore_req *m)
{
	proto_frame_begin(w, PROTO_REQ_RESTORE);
	put_export(w, &m->data);
	proto_put_str(w, m->passphrase);
	return proto_frame_end(w);
}

int proto_dec_restore_req(struct proto_reader *r, struct proto_restore_req *m)
{
	get_export(r, &m->data);
	m->passphrase = proto_get_str(r);
	return proto_dec_done(r, m, sizeof(*m));
}
