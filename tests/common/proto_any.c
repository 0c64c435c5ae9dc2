/* proto_any.c: one decoder for every message type; see proto_any.h. */
#include <stdlib.h>
#include <string.h>

#include "proto_any.h"

static int decode_list(struct proto_reader *r, struct proto_any *m)
{
	uint32_t count, i;
	int err;

	if ((err = proto_dec_list_count(r, &count)) != 0)
		return err;
	/* proto_dec_list_count() has checked the count against the bytes
	   left, so a hostile count cannot make this large. */
	if (count > 0 &&
	    (m->entries = calloc(count, sizeof(*m->entries))) == NULL)
		return XO_ERR_NOMEM;
	for (i = 0; i < count; i++) {
		if ((err = proto_dec_list_entry(r, &m->entries[i])) != 0)
			return err;
		m->n_entries = i + 1;
	}
	return proto_reader_finish(r);
}

static int decode_findings(struct proto_reader *r, struct proto_any *m)
{
	uint32_t count, i;
	int err;

	if ((err = proto_dec_doctor_count(r, &count)) != 0)
		return err;
	/* Bounded by the bytes left, as for LIST. */
	if (count > 0 &&
	    (m->findings = calloc(count, sizeof(*m->findings))) == NULL)
		return XO_ERR_NOMEM;
	for (i = 0; i < count; i++) {
		if ((err = proto_dec_doctor_entry(r, &m->findings[i])) != 0)
			return err;
		m->n_findings = i + 1;
	}
	return proto_reader_finish(r);
}

int proto_any_decode(uint8_t type, struct proto_reader *r, struct proto_any *m)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	switch (type) {
	case PROTO_REQ_QUERY:
		return proto_dec_query(r, &m->u.query);
	case PROTO_REP_VERSION:
		return proto_dec_version(r, &m->u.version);
	case PROTO_REQ_TOKEN:
		return proto_dec_token_req(r, &m->u.token_req);
	case PROTO_REP_TOKEN:
		return proto_dec_token_rep(r, &m->u.token_rep);
	case PROTO_REQ_REFRESH:
	case PROTO_REQ_REMOVE:
	case PROTO_REQ_LOGIN_WAIT:
	case PROTO_REQ_DELETE:
		return proto_dec_account_req(r, &m->u.account_req);
	case PROTO_REQ_LOGIN_START:
		return proto_dec_login_start_req(r, &m->u.login_start);
	case PROTO_REQ_LOGIN_CODE:
		return proto_dec_login_code_req(r, &m->u.login_code);
	case PROTO_REQ_ADD:
		return proto_dec_add_req(r, &m->u.add);
	case PROTO_REQ_DOCTOR:
		return proto_dec_doctor_req(r, &m->u.doctor_req);
	case PROTO_REP_DOCTOR:
		return decode_findings(r, m);
	case PROTO_REQ_UNLOCK:
	case PROTO_REQ_EXPORT:
		return proto_dec_passphrase_req(r, type, &m->u.passphrase);
	case PROTO_REP_EXPORT:
		return proto_dec_export_rep(r, &m->u.export_rep);
	case PROTO_REQ_RESTORE:
		return proto_dec_restore_req(r, &m->u.restore);
	case PROTO_REQ_SEND:
		return proto_dec_send_req(r, &m->u.send);
	case PROTO_REQ_SEND_DATA:
		return proto_dec_send_data(r, &m->u.send_data);
	case PROTO_REQ_SEND_END:
		return proto_dec_send_end(r, &m->u.send_end);
	case PROTO_REP_SENT:
		return proto_dec_sent(r, &m->u.sent);
	case PROTO_REQ_IMPORT:
		return proto_dec_import_req(r, &m->u.import);
	case PROTO_REP_LOGIN:
		return proto_dec_login_rep(r, &m->u.login);
	case PROTO_REP_FAILURE:
		return proto_dec_failure(r, &m->u.failure);
	case PROTO_REQ_LIST:
	case PROTO_REQ_LOCK:
	case PROTO_REP_SUCCESS:
		return proto_reader_finish(r);
	case PROTO_REP_LIST:
		return decode_list(r, m);
	default:
		return 1;
	}
}

void proto_any_cleanup(struct proto_any *m)
{
	free(m->entries);
	m->entries = NULL;
	m->n_entries = 0;
	free(m->findings);
	m->findings = NULL;
	m->n_findings = 0;
}
