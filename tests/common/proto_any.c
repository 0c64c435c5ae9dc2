/* proto_any.c: one decoder and one encoder for every message type; see
 * proto_any.h. */
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
	/* Bounded by the bytes left too. */
	if ((err = proto_dec_list_scopes_count(r, &count)) != 0)
		return err;
	if (count > 0 &&
	    (m->scopes = calloc(count, sizeof(*m->scopes))) == NULL)
		return XO_ERR_NOMEM;
	for (i = 0; i < count; i++) {
		if ((err = proto_dec_list_scope(r, &m->scopes[i])) != 0)
			return err;
		m->n_scopes = i + 1;
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
		return proto_dec_list_req(r, &m->u.list_req);
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
	free(m->scopes);
	m->scopes = NULL;
	m->n_scopes = 0;
	free(m->findings);
	m->findings = NULL;
	m->n_findings = 0;
}

/* Hands a text field to the caller's callback, if any. */
static void see(proto_any_str_cb cb, void *arg, struct proto_str s)
{
	if (cb != NULL)
		cb(s, arg);
}

static int encode_list(const struct proto_any *m, struct proto_writer *w,
		       proto_any_str_cb cb, void *arg)
{
	uint32_t i;

	proto_enc_list_begin(w, m->n_entries);
	for (i = 0; i < m->n_entries; i++) {
		const struct proto_account_info *e = &m->entries[i];

		see(cb, arg, e->name);
		see(cb, arg, e->email);
		see(cb, arg, e->provider);
		see(cb, arg, e->flow);
		see(cb, arg, e->last_error);
		proto_enc_list_entry(w, e);
	}
	if (m->n_scopes > 0)
		proto_enc_list_scopes_begin(w, m->n_scopes);
	for (i = 0; i < m->n_scopes; i++) {
		const struct proto_scope_info *s = &m->scopes[i];

		see(cb, arg, s->account);
		see(cb, arg, s->scope);
		see(cb, arg, s->last_error);
		proto_enc_list_scope(w, s);
	}
	return proto_enc_list_end(w);
}

static int encode_findings(const struct proto_any *m, struct proto_writer *w,
			   proto_any_str_cb cb, void *arg)
{
	uint32_t i;

	proto_enc_doctor_begin(w, m->n_findings);
	for (i = 0; i < m->n_findings; i++) {
		see(cb, arg, m->findings[i].text);
		see(cb, arg, m->findings[i].fix);
		proto_enc_doctor_entry(w, &m->findings[i]);
	}
	return proto_enc_doctor_end(w);
}

static void see_export(const struct proto_export *e, proto_any_str_cb cb,
		       void *arg)
{
	uint32_t i;

	for (i = 0; i < e->count && i < PROTO_MAX_CHUNKS; i++)
		see(cb, arg, e->chunks[i]);
}

/* The messages of logins, runtime accounts, the doctor and the vault. */
static int encode_more(const struct proto_any *m, struct proto_writer *w,
		       proto_any_str_cb cb, void *arg)
{
	const struct proto_add_req *ad = &m->u.add;
	uint32_t i;

	switch (m->type) {
	case PROTO_REQ_LOGIN_START:
		see(cb, arg, m->u.login_start.account);
		see(cb, arg, m->u.login_start.flow);
		return proto_enc_login_start_req(w, &m->u.login_start);
	case PROTO_REQ_LOGIN_CODE:
		see(cb, arg, m->u.login_code.account);
		see(cb, arg, m->u.login_code.response);
		return proto_enc_login_code_req(w, &m->u.login_code);
	case PROTO_REQ_ADD:
		see(cb, arg, ad->name);
		for (i = 0; i < ad->count && i < PROTO_MAX_SETTINGS; i++) {
			see(cb, arg, ad->settings[i].key);
			see(cb, arg, ad->settings[i].value);
		}
		return proto_enc_add_req(w, ad);
	case PROTO_REQ_DOCTOR:
		see(cb, arg, m->u.doctor_req.account);
		see(cb, arg, m->u.doctor_req.smtp);
		see(cb, arg, m->u.doctor_req.imap);
		return proto_enc_doctor_req(w, &m->u.doctor_req);
	case PROTO_REP_DOCTOR:
		return encode_findings(m, w, cb, arg);
	case PROTO_REQ_UNLOCK:
	case PROTO_REQ_EXPORT:
		see(cb, arg, m->u.passphrase.passphrase);
		return proto_enc_passphrase_req(w, m->type, &m->u.passphrase);
	case PROTO_REP_EXPORT:
		see_export(&m->u.export_rep, cb, arg);
		return proto_enc_export_rep(w, &m->u.export_rep);
	case PROTO_REQ_RESTORE:
		see_export(&m->u.restore.data, cb, arg);
		see(cb, arg, m->u.restore.passphrase);
		return proto_enc_restore_req(w, &m->u.restore);
	case PROTO_REQ_SEND:
		see(cb, arg, m->u.send.account);
		see(cb, arg, m->u.send.from);
		see(cb, arg, m->u.send.fullname);
		for (i = 0; i < m->u.send.count && i < PROTO_MAX_RCPTS; i++)
			see(cb, arg, m->u.send.rcpts[i]);
		return proto_enc_send_req(w, &m->u.send);
	case PROTO_REQ_SEND_DATA:
		/* Bytes, not a text field. */
		return proto_enc_send_data(w, &m->u.send_data);
	case PROTO_REQ_SEND_END:
		return proto_enc_send_end(w, &m->u.send_end);
	case PROTO_REP_SENT:
		see(cb, arg, m->u.sent.transport);
		see(cb, arg, m->u.sent.reply);
		see(cb, arg, m->u.sent.notice);
		return proto_enc_sent(w, &m->u.sent);
	default:
		return 1;
	}
}

int proto_any_encode(const struct proto_any *m, struct proto_writer *w,
		     proto_any_str_cb cb, void *arg)
{
	const struct proto_login_rep *lr = &m->u.login;

	switch (m->type) {
	case PROTO_REQ_QUERY:
		return proto_enc_query(w, &m->u.query);
	case PROTO_REP_VERSION:
		see(cb, arg, m->u.version.agent);
		see(cb, arg, m->u.version.caps);
		return proto_enc_version(w, &m->u.version);
	case PROTO_REQ_TOKEN:
		see(cb, arg, m->u.token_req.account);
		see(cb, arg, m->u.token_req.host);
		if (m->u.token_req.scope.len > 0)
			see(cb, arg, m->u.token_req.scope);
		return proto_enc_token_req(w, &m->u.token_req);
	case PROTO_REP_TOKEN:
		see(cb, arg, m->u.token_rep.token);
		see(cb, arg, m->u.token_rep.email);
		return proto_enc_token_rep(w, &m->u.token_rep);
	case PROTO_REQ_REFRESH:
	case PROTO_REQ_REMOVE:
	case PROTO_REQ_LOGIN_WAIT:
	case PROTO_REQ_DELETE:
		see(cb, arg, m->u.account_req.account);
		return proto_enc_account_req(w, m->type, &m->u.account_req);
	case PROTO_REQ_IMPORT:
		see(cb, arg, m->u.import.account);
		see(cb, arg, m->u.import.refresh_token);
		return proto_enc_import_req(w, &m->u.import);
	case PROTO_REP_LOGIN:
		see(cb, arg, lr->verification_uri);
		see(cb, arg, lr->verification_uri_complete);
		see(cb, arg, lr->user_code);
		see(cb, arg, lr->flow);
		return proto_enc_login_rep(w, lr);
	case PROTO_REP_FAILURE:
		see(cb, arg, m->u.failure.message);
		return proto_enc_failure(w, &m->u.failure);
	case PROTO_REQ_LIST:
		return proto_enc_list_req(w, &m->u.list_req);
	case PROTO_REQ_LOCK:
		return proto_enc_account_req(w, m->type, NULL);
	case PROTO_REP_SUCCESS:
		return proto_enc_success(w);
	case PROTO_REP_LIST:
		return encode_list(m, w, cb, arg);
	default:
		return encode_more(m, w, cb, arg);
	}
}
