/*
 * test_proto.c: the wire codec against PROTOCOL.md.
 *
 * Round trips alone would pass a codec that is wrong in the same way on both
 * sides, so the examples of PROTOCOL.md section 7 are checked byte for byte
 * as well.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "proto.h"
#include "proto_any.h"

#define BUF_CAP 4096

/* One encoded frame, with room for a byte of garbage after it. */
struct frame {
	unsigned char buf[BUF_CAP];
	size_t len;
};

static const struct proto_account_info sample_accounts[] = {
    {
	.name = {"work", 4},
	.email = {"alice@example.com", 17},
	.provider = {"microsoft", 9},
	.flow = {"device", 6},
	.state = PROTO_STATE_ACTIVE,
	.expires_at = 1700000000,
	.refreshed_at = 1699996400,
	.next_refresh_at = 1699999400,
	.last_error = {"", 0},
    },
    {
	.name = {"home", 4},
	.email = {"bob@example.org", 15},
	.provider = {"google", 6},
	.flow = {"browser", 7},
	.state = PROTO_STATE_IDLE,
	.expires_at = 0,
	.refreshed_at = UINT64_MAX,
	.next_refresh_at = 0x0102030405060708ULL,
	.last_error = {"invalid_grant: AADSTS70008", 26},
    },
};

#define N_ACCOUNTS (sizeof(sample_accounts) / sizeof(sample_accounts[0]))

static void assert_str_eq(struct proto_str got, struct proto_str want)
{
	assert_int_equal(got.len, want.len);
	if (want.len > 0)
		assert_memory_equal(got.ptr, want.ptr, want.len);
}

/* ---- Encoding every message ------------------------------------------ */

enum sample {
	S_QUERY,
	S_VERSION,
	S_TOKEN_REQ,
	S_TOKEN_REP,
	S_LIST_REQ,
	S_REFRESH,
	S_REMOVE,
	S_LOGIN_START,
	S_LOGIN_WAIT,
	S_IMPORT,
	S_LOGIN_REP,
	S_FAILURE,
	S_SUCCESS,
	S_LIST_REP,
	S_LIST_REP_EMPTY,
	S_LOGIN_CODE,
	S_ADD,
	S_DELETE,
	S_DOCTOR_REQ,
	S_DOCTOR_REP,
	S_LOCK,
	S_UNLOCK,
	S_EXPORT_REQ,
	S_EXPORT_REP,
	S_RESTORE,
	S_SEND,
	S_SEND_DATA,
	S_SEND_END,
	S_SENT,
	S_COUNT,
};

static const struct proto_query sample_query = {PROTO_VERSION};
static const struct proto_version sample_version = {
    1, {"xoauth-agent 0.1.0", 18}, {"token xoauth2 oauthbearer", 25}};
static const struct proto_token_req sample_token_req = {
    {"alice@example.com", 17},
    PROTO_FORM_OAUTHBEARER,
    {"smtp.example.com", 16},
    587,
    600,
    10000,
    {"", 0}};
static const struct proto_token_rep sample_token_rep = {
    {"ya29.secret", 11}, 1700000000, {"alice@example.com", 17}};
static const struct proto_account_req sample_account_req = {{"work", 4}, 12345};
static const struct proto_import_req sample_import = {{"work", 4},
						      {"1//refresh", 10}};
static const struct proto_login_rep sample_login = {
    {"https://microsoft.com/devicelogin", 33},
    {"", 0},
    {"ABCD-EFGH", 9},
    900,
    5,
    {"device", 6}};
static const struct proto_login_start_req sample_login_start = {
    {"work", 4}, {"paste", 5}, 60000};
static const struct proto_login_code_req sample_login_code = {
    {"work", 4}, {"http://localhost/?code=abc&state=xyz", 36}, 30000};
static const struct proto_add_req sample_add = {
    {"shop", 4},
    3,
    {{{"provider", 8}, {"microsoft", 9}},
     {{"client_id", 9}, {"0000-1111", 9}},
     {{"email", 5}, {"", 0}}}};
static const struct proto_doctor_req sample_doctor_req = {
    {"work", 4}, {"smtp.office365.com:587", 22}, {"", 0}, 20000};
static const struct proto_finding sample_findings[] = {
    {PROTO_LEVEL_OK, {"the token is accepted", 21}, {"", 0}},
    {PROTO_LEVEL_PROBLEM,
     {"SMTP AUTH is disabled", 21},
     {"Set-CASMailbox -SmtpClientAuthenticationDisabled $false", 55}},
};
#define N_FINDINGS (sizeof(sample_findings) / sizeof(sample_findings[0]))
static const struct proto_passphrase_req sample_unlock = {
    {"correct horse", 13}, 1};
static const struct proto_passphrase_req sample_export_req = {
    {"export pass", 11}, 0};
static const struct proto_export sample_export = {
    2, {{"WE9BVVRIVlQ", 11}, {"AAAAAQ==", 8}}};
static const struct proto_restore_req sample_restore = {
    {2, {{"WE9BVVRIVlQ", 11}, {"AAAAAQ==", 8}}}, {"export pass", 11}};
static const struct proto_send_req sample_send = {
    {"work", 4},
    {"alice@example.com", 17},
    {"Alice Smith", 11},
    PROTO_SEND_RCPTS_FROM_HEADERS,
    1234,
    2,
    {{"bob@example.com", 15}, {"carol@example.org", 17}}};
static const unsigned char sample_bytes[] = "Subject: hi\r\n\r\n\x00\xff\x80";
static const struct proto_send_data sample_send_data = {
    sample_bytes, sizeof(sample_bytes) - 1};
static const struct proto_send_end sample_send_end = {30000};
static const struct proto_sent sample_sent = {
    {"graph", 5}, {"202 Accepted", 12}, {"SMTP AUTH is off", 16}};
static const struct proto_failure sample_failure = {
    4, {"no such account: nope", 21}};

static uint8_t sample_account_type(enum sample s)
{
	switch (s) {
	case S_LIST_REQ:
		return PROTO_REQ_LIST;
	case S_REFRESH:
		return PROTO_REQ_REFRESH;
	case S_REMOVE:
		return PROTO_REQ_REMOVE;
	case S_DELETE:
		return PROTO_REQ_DELETE;
	case S_LOCK:
		return PROTO_REQ_LOCK;
	default:
		return PROTO_REQ_LOGIN_WAIT;
	}
}

static int encode_list(struct proto_writer *w, size_t n)
{
	size_t i;

	proto_enc_list_begin(w, (uint32_t)n);
	for (i = 0; i < n; i++)
		proto_enc_list_entry(w, &sample_accounts[i]);
	return proto_enc_list_end(w);
}

static int encode_findings(struct proto_writer *w)
{
	size_t i;

	proto_enc_doctor_begin(w, (uint32_t)N_FINDINGS);
	for (i = 0; i < N_FINDINGS; i++)
		proto_enc_doctor_entry(w, &sample_findings[i]);
	return proto_enc_doctor_end(w);
}

/* The messages of logins, runtime accounts, the doctor and the vault. */
static int encode_sample_more(struct proto_writer *w, enum sample s)
{
	switch (s) {
	case S_LOGIN_START:
		return proto_enc_login_start_req(w, &sample_login_start);
	case S_LOGIN_CODE:
		return proto_enc_login_code_req(w, &sample_login_code);
	case S_ADD:
		return proto_enc_add_req(w, &sample_add);
	case S_DELETE:
		return proto_enc_account_req(w, PROTO_REQ_DELETE,
					     &sample_account_req);
	case S_DOCTOR_REQ:
		return proto_enc_doctor_req(w, &sample_doctor_req);
	case S_DOCTOR_REP:
		return encode_findings(w);
	case S_LOCK:
		return proto_enc_account_req(w, PROTO_REQ_LOCK, NULL);
	case S_UNLOCK:
		return proto_enc_passphrase_req(w, PROTO_REQ_UNLOCK,
						&sample_unlock);
	case S_EXPORT_REQ:
		return proto_enc_passphrase_req(w, PROTO_REQ_EXPORT,
						&sample_export_req);
	case S_EXPORT_REP:
		return proto_enc_export_rep(w, &sample_export);
	case S_RESTORE:
		return proto_enc_restore_req(w, &sample_restore);
	case S_SEND:
		return proto_enc_send_req(w, &sample_send);
	case S_SEND_DATA:
		return proto_enc_send_data(w, &sample_send_data);
	case S_SEND_END:
		return proto_enc_send_end(w, &sample_send_end);
	case S_SENT:
		return proto_enc_sent(w, &sample_sent);
	default:
		return XO_ERR_INTERNAL;
	}
}

static int encode_sample(struct proto_writer *w, enum sample s)
{
	switch (s) {
	case S_QUERY:
		return proto_enc_query(w, &sample_query);
	case S_VERSION:
		return proto_enc_version(w, &sample_version);
	case S_TOKEN_REQ:
		return proto_enc_token_req(w, &sample_token_req);
	case S_TOKEN_REP:
		return proto_enc_token_rep(w, &sample_token_rep);
	case S_LIST_REQ:
		return proto_enc_account_req(w, PROTO_REQ_LIST, NULL);
	case S_REFRESH:
	case S_REMOVE:
	case S_LOGIN_WAIT:
		return proto_enc_account_req(w, sample_account_type(s),
					     &sample_account_req);
	case S_IMPORT:
		return proto_enc_import_req(w, &sample_import);
	case S_LOGIN_REP:
		return proto_enc_login_rep(w, &sample_login);
	case S_FAILURE:
		return proto_enc_failure(w, &sample_failure);
	case S_SUCCESS:
		return proto_enc_success(w);
	case S_LIST_REP:
		return encode_list(w, N_ACCOUNTS);
	case S_LIST_REP_EMPTY:
		return encode_list(w, 0);
	default:
		return encode_sample_more(w, s);
	}
}

static uint8_t sample_type(enum sample s)
{
	static const uint8_t types[S_COUNT] = {
	    [S_QUERY] = PROTO_REQ_QUERY,
	    [S_VERSION] = PROTO_REP_VERSION,
	    [S_TOKEN_REQ] = PROTO_REQ_TOKEN,
	    [S_TOKEN_REP] = PROTO_REP_TOKEN,
	    [S_LIST_REQ] = PROTO_REQ_LIST,
	    [S_REFRESH] = PROTO_REQ_REFRESH,
	    [S_REMOVE] = PROTO_REQ_REMOVE,
	    [S_LOGIN_START] = PROTO_REQ_LOGIN_START,
	    [S_LOGIN_WAIT] = PROTO_REQ_LOGIN_WAIT,
	    [S_IMPORT] = PROTO_REQ_IMPORT,
	    [S_LOGIN_REP] = PROTO_REP_LOGIN,
	    [S_FAILURE] = PROTO_REP_FAILURE,
	    [S_SUCCESS] = PROTO_REP_SUCCESS,
	    [S_LIST_REP] = PROTO_REP_LIST,
	    [S_LIST_REP_EMPTY] = PROTO_REP_LIST,
	    [S_LOGIN_CODE] = PROTO_REQ_LOGIN_CODE,
	    [S_ADD] = PROTO_REQ_ADD,
	    [S_DELETE] = PROTO_REQ_DELETE,
	    [S_DOCTOR_REQ] = PROTO_REQ_DOCTOR,
	    [S_DOCTOR_REP] = PROTO_REP_DOCTOR,
	    [S_LOCK] = PROTO_REQ_LOCK,
	    [S_UNLOCK] = PROTO_REQ_UNLOCK,
	    [S_EXPORT_REQ] = PROTO_REQ_EXPORT,
	    [S_EXPORT_REP] = PROTO_REP_EXPORT,
	    [S_RESTORE] = PROTO_REQ_RESTORE,
	    [S_SEND] = PROTO_REQ_SEND,
	    [S_SEND_DATA] = PROTO_REQ_SEND_DATA,
	    [S_SEND_END] = PROTO_REQ_SEND_END,
	    [S_SENT] = PROTO_REP_SENT,
	};
	return types[s];
}

static void make_frame(struct frame *f, enum sample s)
{
	struct proto_writer w;

	proto_writer_init(&w, f->buf, sizeof(f->buf));
	assert_int_equal(encode_sample(&w, s), 0);
	f->len = w.len;
	assert_true(f->len >= PROTO_HEADER_LEN);
}

static void check_export(const struct proto_export *got,
			 const struct proto_export *want)
{
	uint32_t i;

	assert_int_equal(got->count, want->count);
	for (i = 0; i < got->count; i++)
		assert_str_eq(got->chunks[i], want->chunks[i]);
}

/* check_sample() for the messages of logins, runtime accounts, the doctor
 * and the vault. */
static void check_sample_more(enum sample s, const struct proto_any *m)
{
	const struct proto_add_req *ad = &m->u.add;
	const struct proto_doctor_req *dq = &m->u.doctor_req;
	uint32_t i;

	switch (s) {
	case S_LOGIN_START:
		assert_str_eq(m->u.login_start.account,
			      sample_login_start.account);
		assert_str_eq(m->u.login_start.flow, sample_login_start.flow);
		assert_int_equal(m->u.login_start.wait_ms,
				 sample_login_start.wait_ms);
		break;
	case S_LOGIN_CODE:
		assert_str_eq(m->u.login_code.account,
			      sample_login_code.account);
		assert_str_eq(m->u.login_code.response,
			      sample_login_code.response);
		assert_int_equal(m->u.login_code.wait_ms,
				 sample_login_code.wait_ms);
		break;
	case S_ADD:
		assert_str_eq(ad->name, sample_add.name);
		assert_int_equal(ad->count, sample_add.count);
		for (i = 0; i < ad->count; i++) {
			assert_str_eq(ad->settings[i].key,
				      sample_add.settings[i].key);
			assert_str_eq(ad->settings[i].value,
				      sample_add.settings[i].value);
		}
		break;
	case S_DELETE:
		assert_str_eq(m->u.account_req.account,
			      sample_account_req.account);
		break;
	case S_DOCTOR_REQ:
		assert_str_eq(dq->account, sample_doctor_req.account);
		assert_str_eq(dq->smtp, sample_doctor_req.smtp);
		assert_str_eq(dq->imap, sample_doctor_req.imap);
		assert_int_equal(dq->wait_ms, sample_doctor_req.wait_ms);
		break;
	case S_DOCTOR_REP:
		assert_int_equal(m->n_findings, N_FINDINGS);
		for (i = 0; i < m->n_findings; i++) {
			assert_int_equal(m->findings[i].level,
					 sample_findings[i].level);
			assert_str_eq(m->findings[i].text,
				      sample_findings[i].text);
			assert_str_eq(m->findings[i].fix,
				      sample_findings[i].fix);
		}
		break;
	case S_LOCK:
		break;
	case S_UNLOCK:
		assert_str_eq(m->u.passphrase.passphrase,
			      sample_unlock.passphrase);
		assert_int_equal(m->u.passphrase.create, 1);
		break;
	case S_EXPORT_REQ:
		assert_str_eq(m->u.passphrase.passphrase,
			      sample_export_req.passphrase);
		assert_int_equal(m->u.passphrase.create, 0);
		break;
	case S_EXPORT_REP:
		check_export(&m->u.export_rep, &sample_export);
		break;
	case S_RESTORE:
		check_export(&m->u.restore.data, &sample_restore.data);
		assert_str_eq(m->u.restore.passphrase,
			      sample_restore.passphrase);
		break;
	case S_SEND:
		assert_str_eq(m->u.send.account, sample_send.account);
		assert_str_eq(m->u.send.from, sample_send.from);
		assert_str_eq(m->u.send.fullname, sample_send.fullname);
		assert_int_equal(m->u.send.flags, sample_send.flags);
		assert_true(m->u.send.size == sample_send.size);
		assert_int_equal(m->u.send.count, sample_send.count);
		for (i = 0; i < m->u.send.count; i++)
			assert_str_eq(m->u.send.rcpts[i], sample_send.rcpts[i]);
		break;
	case S_SEND_DATA:
		assert_int_equal(m->u.send_data.len, sample_send_data.len);
		assert_memory_equal(m->u.send_data.data, sample_send_data.data,
				    sample_send_data.len);
		break;
	case S_SEND_END:
		assert_int_equal(m->u.send_end.wait_ms,
				 sample_send_end.wait_ms);
		break;
	case S_SENT:
		assert_str_eq(m->u.sent.transport, sample_sent.transport);
		assert_str_eq(m->u.sent.reply, sample_sent.reply);
		assert_str_eq(m->u.sent.notice, sample_sent.notice);
		break;
	default:
		fail_msg("no sample %d", (int)s);
	}
}

/* Checks a decoded message against the sample it was encoded from. */
static void check_sample(enum sample s, const struct proto_any *m)
{
	const struct proto_token_req *tq = &m->u.token_req;
	const struct proto_login_rep *lr = &m->u.login;
	uint32_t i;

	switch (s) {
	case S_QUERY:
		assert_int_equal(m->u.query.version, sample_query.version);
		break;
	case S_VERSION:
		assert_int_equal(m->u.version.version, sample_version.version);
		assert_str_eq(m->u.version.agent, sample_version.agent);
		assert_str_eq(m->u.version.caps, sample_version.caps);
		break;
	case S_TOKEN_REQ:
		assert_str_eq(tq->account, sample_token_req.account);
		assert_int_equal(tq->form, sample_token_req.form);
		assert_str_eq(tq->host, sample_token_req.host);
		assert_int_equal(tq->port, sample_token_req.port);
		assert_int_equal(tq->min_valid, sample_token_req.min_valid);
		assert_int_equal(tq->wait_ms, sample_token_req.wait_ms);
		break;
	case S_TOKEN_REP:
		assert_str_eq(m->u.token_rep.token, sample_token_rep.token);
		assert_true(m->u.token_rep.expires_at ==
			    sample_token_rep.expires_at);
		assert_str_eq(m->u.token_rep.email, sample_token_rep.email);
		break;
	case S_LIST_REQ:
	case S_SUCCESS:
		break;
	case S_REFRESH:
	case S_REMOVE:
	case S_LOGIN_WAIT:
		assert_str_eq(m->u.account_req.account,
			      sample_account_req.account);
		assert_int_equal(m->u.account_req.wait_ms,
				 sample_account_req.wait_ms);
		break;
	case S_IMPORT:
		assert_str_eq(m->u.import.account, sample_import.account);
		assert_str_eq(m->u.import.refresh_token,
			      sample_import.refresh_token);
		break;
	case S_LOGIN_REP:
		assert_str_eq(lr->verification_uri,
			      sample_login.verification_uri);
		assert_str_eq(lr->verification_uri_complete,
			      sample_login.verification_uri_complete);
		assert_str_eq(lr->user_code, sample_login.user_code);
		assert_int_equal(lr->expires_in, sample_login.expires_in);
		assert_int_equal(lr->interval, sample_login.interval);
		assert_str_eq(lr->flow, sample_login.flow);
		break;
	case S_FAILURE:
		assert_int_equal(m->u.failure.status, sample_failure.status);
		assert_str_eq(m->u.failure.message, sample_failure.message);
		break;
	case S_LIST_REP:
	case S_LIST_REP_EMPTY:
		assert_int_equal(m->n_entries,
				 s == S_LIST_REP ? N_ACCOUNTS : 0);
		for (i = 0; i < m->n_entries; i++) {
			const struct proto_account_info *e = &m->entries[i];
			const struct proto_account_info *want =
			    &sample_accounts[i];

			assert_str_eq(e->name, want->name);
			assert_str_eq(e->email, want->email);
			assert_str_eq(e->provider, want->provider);
			assert_str_eq(e->flow, want->flow);
			assert_int_equal(e->state, want->state);
			assert_true(e->expires_at == want->expires_at);
			assert_true(e->refreshed_at == want->refreshed_at);
			assert_true(e->next_refresh_at ==
				    want->next_refresh_at);
			assert_str_eq(e->last_error, want->last_error);
		}
		break;
	default:
		check_sample_more(s, m);
	}
}

/*
 * Decodes a payload with the decoder for the sample's type, checking the
 * values against the sample when check is set.  Returns the decoder's
 * result.
 */
static int decode_payload(enum sample s, struct proto_reader *r, int check)
{
	struct proto_any m;
	int err;

	if ((err = proto_any_decode(sample_type(s), r, &m)) == 0 && check)
		check_sample(s, &m);
	proto_any_cleanup(&m);
	return err;
}

/* Appends one byte to the frame's payload and fixes up its length. */
static void append_garbage(struct frame *f)
{
	uint32_t n = (uint32_t)(f->len - 4 + 1);

	f->buf[f->len++] = 0xAA;
	f->buf[0] = (unsigned char)(n >> 24);
	f->buf[1] = (unsigned char)(n >> 16);
	f->buf[2] = (unsigned char)(n >> 8);
	f->buf[3] = (unsigned char)n;
}

/* ---- Tests ------------------------------------------------------------ */

static void every_message_round_trips(void **state)
{
	struct proto_reader r;
	struct frame f;
	size_t flen;
	uint8_t type;
	int s;

	(void)state;
	for (s = 0; s < S_COUNT; s++) {
		make_frame(&f, (enum sample)s);
		assert_int_equal(
		    proto_frame_peek(f.buf, f.len, PROTO_MAX_MSG, &flen), 0);
		assert_int_equal(flen, f.len);
		assert_int_equal(proto_frame_open(f.buf, f.len, &type, &r), 0);
		assert_int_equal(type, sample_type((enum sample)s));
		assert_int_equal(decode_payload((enum sample)s, &r, 1), 0);
	}
}

static void frames_match_protocol_md_examples(void **state)
{
	static const unsigned char query[] = {0, 0, 0, 5, 1, 0, 0, 0, 1};
	static const unsigned char token_req[] = {
	    0, 0, 0, 0x1a, 2, 0, 0, 0, 4, 'w', 'o',  'r', 'k', 1, 0,
	    0, 0, 0, 0,	   0, 0, 0, 0, 0, 2,   0x58, 0,	  0,   0, 0};
	static const unsigned char failure[] = {
	    0,	 0,   0,   0x18, 0x81, 0,   0,	 0,   4,   0,
	    0,	 0,   15,  'n',	 'o',  ' ', 's', 'u', 'c', 'h',
	    ' ', 'a', 'c', 'c',	 'o',  'u', 'n', 't'};
	const struct proto_token_req tq = {proto_str_c("work"),
					   PROTO_FORM_XOAUTH2,
					   proto_str_c(NULL),
					   0,
					   600,
					   0,
					   proto_str_c(NULL)};
	const struct proto_failure fl = {4, proto_str_c("no such account")};
	const struct proto_query q = {1};
	unsigned char buf[64];
	struct proto_writer w;

	(void)state;
	proto_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(proto_enc_query(&w, &q), 0);
	assert_int_equal(w.len, sizeof(query));
	assert_memory_equal(buf, query, sizeof(query));

	proto_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(proto_enc_token_req(&w, &tq), 0);
	assert_int_equal(w.len, sizeof(token_req));
	assert_memory_equal(buf, token_req, sizeof(token_req));

	proto_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(proto_enc_failure(&w, &fl), 0);
	assert_int_equal(w.len, sizeof(failure));
	assert_memory_equal(buf, failure, sizeof(failure));
}

static void integers_are_big_endian(void **state)
{
	static const unsigned char want[] = {0x01, 0x01, 0x02, 0x03, 0x04,
					     0x01, 0x02, 0x03, 0x04, 0x05,
					     0x06, 0x07, 0x08};
	unsigned char buf[sizeof(want)];
	struct proto_writer w;
	struct proto_reader r;

	(void)state;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_put_u8(&w, 0x01);
	proto_put_u32(&w, 0x01020304);
	proto_put_u64(&w, 0x0102030405060708ULL);
	assert_int_equal(w.err, 0);
	assert_memory_equal(buf, want, sizeof(want));

	proto_reader_init(&r, want, sizeof(want));
	assert_int_equal(proto_get_u8(&r), 0x01);
	assert_int_equal(proto_get_u32(&r), 0x01020304);
	assert_true(proto_get_u64(&r) == 0x0102030405060708ULL);
	assert_int_equal(proto_reader_finish(&r), 0);
}

static void every_proper_prefix_is_truncated(void **state)
{
	struct proto_reader r;
	struct frame f;
	size_t k, flen;
	uint8_t type;
	int s;

	(void)state;
	for (s = 0; s < S_COUNT; s++) {
		make_frame(&f, (enum sample)s);
		for (k = 0; k < f.len; k++) {
			/* A reader of the stream waits for more. */
			assert_int_equal(
			    proto_frame_peek(f.buf, k, PROTO_MAX_MSG, &flen),
			    XO_ERR_MSG_TRUNCATED);
			assert_int_equal(proto_frame_open(f.buf, k, &type, &r),
					 XO_ERR_MSG_TRUNCATED);
		}
		/* A payload cut short is caught by the decoder itself. */
		for (k = 0; k < f.len - PROTO_HEADER_LEN; k++) {
			proto_reader_init(&r, f.buf + PROTO_HEADER_LEN, k);
			assert_int_equal(decode_payload((enum sample)s, &r, 0),
					 XO_ERR_MSG_TRUNCATED);
		}
	}
}

static void oversized_announced_length_is_rejected_before_the_body(void **state)
{
	unsigned char hdr[PROTO_HEADER_LEN] = {0, 0, 0, 0, PROTO_REQ_LIST};
	uint32_t n = PROTO_MAX_MSG + 1;
	struct proto_reader r;
	size_t flen = 99;
	uint8_t type;

	(void)state;
	hdr[0] = (unsigned char)(n >> 24);
	hdr[1] = (unsigned char)(n >> 16);
	hdr[2] = (unsigned char)(n >> 8);
	hdr[3] = (unsigned char)n;
	/* Only the length is buffered: it must be judged now. */
	assert_int_equal(proto_frame_peek(hdr, 4, PROTO_MAX_MSG, &flen),
			 XO_ERR_MSG_TOO_LARGE);
	assert_int_equal(flen, 0);
	assert_int_equal(proto_frame_open(hdr, sizeof(hdr), &type, &r),
			 XO_ERR_MSG_TOO_LARGE);

	memset(hdr, 0xff, 4);
	assert_int_equal(proto_frame_peek(hdr, 4, PROTO_MAX_MSG, &flen),
			 XO_ERR_MSG_TOO_LARGE);

	/* Exactly the limit is allowed: it is merely not all here yet. */
	n = PROTO_MAX_MSG;
	hdr[0] = (unsigned char)(n >> 24);
	hdr[1] = (unsigned char)(n >> 16);
	hdr[2] = (unsigned char)(n >> 8);
	hdr[3] = (unsigned char)n;
	assert_int_equal(proto_frame_peek(hdr, 4, PROTO_MAX_MSG, &flen),
			 XO_ERR_MSG_TRUNCATED);
	/* The caller's own, smaller limit is honoured. */
	assert_int_equal(proto_frame_peek(hdr, 4, 1024, &flen),
			 XO_ERR_MSG_TOO_LARGE);
}

static void zero_length_frame_is_bad(void **state)
{
	static const unsigned char zero[] = {0, 0, 0, 0, 0};
	struct proto_reader r;
	size_t flen;
	uint8_t type;

	(void)state;
	assert_int_equal(
	    proto_frame_peek(zero, sizeof(zero), PROTO_MAX_MSG, &flen),
	    XO_ERR_MSG_BAD);
	assert_int_equal(proto_frame_open(zero, 4, &type, &r), XO_ERR_MSG_BAD);
}

static void unknown_type_is_opened_for_the_caller_to_refuse(void **state)
{
	static const unsigned char frame[] = {0, 0, 0, 3, 77, 0xde, 0xad};
	struct proto_reader r;
	size_t flen;
	uint8_t type = 0;

	(void)state;
	assert_int_equal(
	    proto_frame_peek(frame, sizeof(frame), PROTO_MAX_MSG, &flen), 0);
	assert_int_equal(flen, sizeof(frame));
	assert_int_equal(proto_frame_open(frame, flen, &type, &r), 0);
	assert_int_equal(type, 77);
	assert_int_equal(r.len, 2);
	/* The agent answers status 2 for it and keeps the connection. */
	assert_int_equal(proto_status_from_err(XO_ERR_MSG_UNKNOWN), 2);
}

static void back_to_back_frames_are_split_one_at_a_time(void **state)
{
	struct proto_writer w;
	struct proto_reader r;
	unsigned char buf[256];
	size_t flen, first;
	uint8_t type;

	(void)state;
	proto_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(proto_enc_query(&w, &sample_query), 0);
	first = w.len;
	assert_int_equal(proto_enc_import_req(&w, &sample_import), 0);

	assert_int_equal(proto_frame_peek(buf, w.len, PROTO_MAX_MSG, &flen), 0);
	assert_int_equal(flen, first);
	/* Open wants exactly one frame, not the whole buffer. */
	assert_int_equal(proto_frame_open(buf, w.len, &type, &r),
			 XO_ERR_MSG_BAD);
	assert_int_equal(proto_frame_open(buf, flen, &type, &r), 0);
	assert_int_equal(type, PROTO_REQ_QUERY);

	assert_int_equal(
	    proto_frame_peek(buf + first, w.len - first, PROTO_MAX_MSG, &flen),
	    0);
	assert_int_equal(flen, w.len - first);
	assert_int_equal(proto_frame_open(buf + first, flen, &type, &r), 0);
	assert_int_equal(type, PROTO_REQ_IMPORT);
	assert_int_equal(decode_payload(S_IMPORT, &r, 1), 0);
}

static void trailing_garbage_is_rejected(void **state)
{
	struct proto_reader r;
	struct frame f;
	uint8_t type;
	int s;

	(void)state;
	for (s = 0; s < S_COUNT; s++) {
		make_frame(&f, (enum sample)s);
		append_garbage(&f);
		assert_int_equal(proto_frame_open(f.buf, f.len, &type, &r), 0);
		assert_int_equal(decode_payload((enum sample)s, &r, 0),
				 XO_ERR_MSG_BAD);
	}
}

static void nul_in_a_text_field_is_rejected(void **state)
{
	/* IMPORT: account "work", refresh token "ab\0cd". */
	static const unsigned char frame[] = {
	    0,	 0,   0,   18,	PROTO_REQ_IMPORT,
	    0,	 0,   0,   4,	'w',
	    'o', 'r', 'k', 0,	0,
	    0,	 5,   'a', 'b', 0,
	    'c', 'd'};
	const struct proto_str bad = {"ab\0cd", 5};
	struct proto_import_req m;
	struct proto_writer w;
	struct proto_reader r;
	unsigned char buf[64];
	char *dup = NULL;
	uint8_t type;

	(void)state;
	assert_int_equal(proto_frame_open(frame, sizeof(frame), &type, &r), 0);
	assert_int_equal(proto_dec_import_req(&r, &m), XO_ERR_MSG_BAD);
	assert_null(m.account.ptr);

	/* Nor does our side ever write one. */
	proto_writer_init(&w, buf, sizeof(buf));
	proto_put_str(&w, bad);
	assert_int_equal(w.err, XO_ERR_INVALID);
	assert_int_equal(proto_str_dup(bad, &dup), XO_ERR_INVALID);
	assert_null(dup);
}

static void string_longer_than_max_is_rejected(void **state)
{
	size_t cap = 4 + PROTO_MAX_STR + 1;
	unsigned char *buf = calloc(1, cap);
	struct proto_writer w;
	struct proto_reader r;
	struct proto_str s;

	(void)state;
	assert_non_null(buf);
	memset(buf + 4, 'x', PROTO_MAX_STR + 1);

	/* Exactly the limit is fine. */
	buf[0] = 0;
	buf[1] = (PROTO_MAX_STR >> 16) & 0xff;
	buf[2] = (PROTO_MAX_STR >> 8) & 0xff;
	buf[3] = PROTO_MAX_STR & 0xff;
	proto_reader_init(&r, buf, cap - 1);
	s = proto_get_str(&r);
	assert_int_equal(proto_reader_finish(&r), 0);
	assert_int_equal(s.len, PROTO_MAX_STR);

	/* One more byte is malformed, even though the bytes are there. */
	buf[3] = (PROTO_MAX_STR + 1) & 0xff;
	proto_reader_init(&r, buf, cap);
	s = proto_get_str(&r);
	assert_int_equal(r.err, XO_ERR_MSG_BAD);
	assert_int_equal(s.len, 0);

	proto_writer_init(&w, buf, cap);
	proto_put_str(
	    &w, (struct proto_str){(const char *)buf + 4, PROTO_MAX_STR + 1});
	assert_int_equal(w.err, XO_ERR_MSG_TOO_LARGE);
	free(buf);
}

static void writer_overflow_is_reported_and_sticky(void **state)
{
	struct proto_writer w;
	struct frame f;
	size_t need, cap;
	int s;

	(void)state;
	for (s = 0; s < S_COUNT; s++) {
		make_frame(&f, (enum sample)s);
		need = f.len;
		for (cap = 0; cap < need; cap++) {
			proto_writer_init(&w, f.buf, cap);
			assert_int_equal(encode_sample(&w, (enum sample)s),
					 XO_ERR_MSG_TOO_LARGE);
			assert_true(w.len <= cap);
		}
	}

	/* Once failed, later writes change nothing, even if they would
	 * fit. */
	proto_writer_init(&w, f.buf, 6);
	proto_put_u64(&w, 1);
	assert_int_equal(w.err, XO_ERR_MSG_TOO_LARGE);
	proto_put_u8(&w, 1);
	assert_int_equal(w.len, 0);
	assert_int_equal(proto_enc_success(&w), XO_ERR_MSG_TOO_LARGE);
	assert_int_equal(w.len, 0);
}

static void frame_body_above_max_is_refused_by_the_writer(void **state)
{
	size_t cap = PROTO_MAX_MSG + 16;
	unsigned char *buf = malloc(cap);
	unsigned char *body = calloc(1, PROTO_MAX_MSG);
	struct proto_writer w;

	(void)state;
	assert_non_null(buf);
	assert_non_null(body);
	proto_writer_init(&w, buf, cap);
	proto_frame_begin(&w, PROTO_REP_LIST);
	/* The type byte counts, so this is one byte over. */
	proto_put_bytes(&w, body, PROTO_MAX_MSG);
	assert_int_equal(w.err, 0);
	assert_int_equal(proto_frame_end(&w), XO_ERR_MSG_TOO_LARGE);

	proto_writer_init(&w, buf, cap);
	proto_frame_begin(&w, PROTO_REP_LIST);
	proto_put_bytes(&w, body, PROTO_MAX_MSG - 1);
	assert_int_equal(proto_frame_end(&w), 0);
	assert_int_equal(buf[1], (PROTO_MAX_MSG >> 16) & 0xff);
	free(body);
	free(buf);
}

static void frame_end_without_begin_is_refused(void **state)
{
	unsigned char buf[16];
	struct proto_writer w;

	(void)state;
	proto_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(proto_frame_end(&w), XO_ERR_INVALID);
	proto_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(proto_enc_success(&w), 0);
	assert_int_equal(proto_frame_end(&w), XO_ERR_INVALID);
}

static void out_of_range_values_are_bad(void **state)
{
	struct proto_token_req tq = sample_token_req;
	struct proto_account_info e = sample_accounts[0];
	struct proto_failure fl = sample_failure;
	struct proto_writer w;
	struct proto_reader r;
	struct frame f;
	uint32_t count;
	uint8_t type;
	size_t i;

	(void)state;
	/* Each case: the writer refuses it, and a hand-made frame is
	 * refused by the reader. Patch byte offsets follow PROTOCOL.md. */
	struct {
		enum sample s;
		size_t off; /* offset in the payload of the patched byte */
		unsigned char val;
	} cases[] = {
	    /* form is after the 4+17 byte account */
	    {S_TOKEN_REQ, 21, 3},
	    /* port's high byte: after account, form and 4+16 byte host */
	    {S_TOKEN_REQ, 42, 1},
	    /* first host byte becomes \x01 */
	    {S_TOKEN_REQ, 26, 0x01},
	    /* state of the first entry: after count and four strings */
	    {S_LIST_REP, 4 + 8 + 21 + 13 + 10, 8},
	    /* status 4 becomes 0 */
	    {S_FAILURE, 3, 0},
	    /* count 2 becomes 0x1002 > PROTO_MAX_ACCOUNTS */
	    {S_LIST_REP, 2, 0x10},
	    /* ADD: count 3 becomes 0x43 > PROTO_MAX_SETTINGS (after the
	     * 4+4 byte name) */
	    {S_ADD, 8 + 3, 0x43},
	    /* DOCTOR: the first finding's level becomes 4 */
	    {S_DOCTOR_REP, 4, 4},
	    /* DOCTOR: count 2 becomes 0x102 > PROTO_MAX_FINDINGS */
	    {S_DOCTOR_REP, 2, 0x01},
	    /* EXPORT: count 2 becomes 5 > PROTO_MAX_CHUNKS */
	    {S_EXPORT_REP, 3, 5},
	    /* EXPORT: count 2 becomes 0 */
	    {S_EXPORT_REP, 3, 0},
	    /* UNLOCK: create 1 becomes 2 (after the 4+13 byte passphrase) */
	    {S_UNLOCK, 17, 2},
	};
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_frame(&f, cases[i].s);
		/* The sample must hold a valid value there to begin with. */
		assert_true(f.buf[PROTO_HEADER_LEN + cases[i].off] !=
			    cases[i].val);
		f.buf[PROTO_HEADER_LEN + cases[i].off] = cases[i].val;
		assert_int_equal(proto_frame_open(f.buf, f.len, &type, &r), 0);
		assert_int_equal(decode_payload(cases[i].s, &r, 0),
				 XO_ERR_MSG_BAD);
	}

	/* The highest port is valid, one more is not. */
	tq.port = 65535;
	proto_writer_init(&w, f.buf, sizeof(f.buf));
	assert_int_equal(proto_enc_token_req(&w, &tq), 0);
	f.len = w.len;
	assert_int_equal(proto_frame_open(f.buf, f.len, &type, &r), 0);
	assert_int_equal(decode_payload(S_TOKEN_REQ, &r, 0), 0);
	/* port is at payload offset 42, big-endian: 0x00010000 */
	memcpy(f.buf + PROTO_HEADER_LEN + 42, "\x00\x01\x00\x00", 4);
	assert_int_equal(proto_frame_open(f.buf, f.len, &type, &r), 0);
	assert_int_equal(decode_payload(S_TOKEN_REQ, &r, 0), XO_ERR_MSG_BAD);

	/* A refused entry leaves no view into the bad frame behind. */
	make_frame(&f, S_LIST_REP);
	f.buf[PROTO_HEADER_LEN + 56] = 8;
	assert_int_equal(proto_frame_open(f.buf, f.len, &type, &r), 0);
	assert_int_equal(proto_dec_list_count(&r, &count), 0);
	assert_int_equal(proto_dec_list_entry(&r, &e), XO_ERR_MSG_BAD);
	assert_null(e.name.ptr);
	assert_int_equal(e.name.len, 0);
	e = sample_accounts[0];

	tq.form = 3;
	proto_writer_init(&w, f.buf, sizeof(f.buf));
	assert_int_equal(proto_enc_token_req(&w, &tq), XO_ERR_INVALID);
	tq = sample_token_req;
	tq.port = 65536;
	proto_writer_init(&w, f.buf, sizeof(f.buf));
	assert_int_equal(proto_enc_token_req(&w, &tq), XO_ERR_INVALID);
	e.state = PROTO_STATE_IDLE + 1;
	proto_writer_init(&w, f.buf, sizeof(f.buf));
	proto_enc_list_begin(&w, 1);
	proto_enc_list_entry(&w, &e);
	assert_int_equal(proto_enc_list_end(&w), XO_ERR_INVALID);
	fl.status = 0;
	proto_writer_init(&w, f.buf, sizeof(f.buf));
	assert_int_equal(proto_enc_failure(&w, &fl), XO_ERR_INVALID);
	proto_writer_init(&w, f.buf, sizeof(f.buf));
	assert_int_not_equal(proto_enc_list_begin(&w, PROTO_MAX_ACCOUNTS + 1),
			     0);
}

static void list_count_beyond_the_entries_is_caught(void **state)
{
	unsigned char buf[BUF_CAP];
	struct proto_writer w;
	struct proto_reader r;
	uint32_t count = 99;
	uint8_t type;

	(void)state;
	/* The writer checks that the count matches what was written. */
	proto_writer_init(&w, buf, sizeof(buf));
	proto_enc_list_begin(&w, 2);
	proto_enc_list_entry(&w, &sample_accounts[0]);
	assert_int_equal(proto_enc_list_end(&w), XO_ERR_INVALID);
	proto_writer_init(&w, buf, sizeof(buf));
	proto_enc_list_begin(&w, 0);
	proto_enc_list_entry(&w, &sample_accounts[0]);
	assert_int_equal(proto_enc_list_end(&w), XO_ERR_INVALID);

	/* A reader refuses a count the payload cannot hold before the caller
	 * allocates for it. */
	buf[0] = 0;
	buf[1] = 0;
	buf[2] = 0;
	buf[3] = 5;
	buf[4] = PROTO_REP_LIST;
	buf[5] = 0;
	buf[6] = 0;
	buf[7] = (PROTO_MAX_ACCOUNTS >> 8) & 0xff;
	buf[8] = PROTO_MAX_ACCOUNTS & 0xff;
	assert_int_equal(proto_frame_open(buf, 9, &type, &r), 0);
	assert_int_equal(proto_dec_list_count(&r, &count),
			 XO_ERR_MSG_TRUNCATED);
	assert_int_equal(count, 0);
}

static void status_and_error_map_round_trip_for_every_status(void **state)
{
	uint32_t s;

	(void)state;
	/* Every status PROTOCOL.md lists has a canonical error that maps
	 * back to it. */
	for (s = 0; s <= 28; s++)
		assert_int_equal(proto_status_from_err(proto_status_to_err(s)),
				 s);
	assert_int_equal(proto_status_to_err(0), XO_ERR_OK);
	assert_int_equal(proto_status_to_err(1), XO_ERR_INTERNAL);
	assert_int_equal(proto_status_to_err(2), XO_ERR_MSG_UNKNOWN);
	assert_int_equal(proto_status_to_err(3), XO_ERR_INVALID);
	assert_int_equal(proto_status_to_err(4), XO_ERR_NO_ACCOUNT);
	assert_int_equal(proto_status_to_err(6), XO_ERR_REFRESH_FAILED);
	assert_int_equal(proto_status_to_err(11), XO_ERR_LOGIN_PENDING);
	assert_int_equal(proto_status_to_err(16), XO_ERR_UNSUPPORTED_FLOW);
	/* A status from a newer agent is still a failure. */
	assert_int_equal(proto_status_to_err(17), XO_ERR_LOGIN_MISMATCH);
	assert_int_equal(proto_status_to_err(20), XO_ERR_WRONG_PASSPHRASE);
	assert_int_equal(proto_status_to_err(23), XO_ERR_RESTRICTED);
	assert_int_equal(proto_status_to_err(24), XO_ERR_SEND_REFUSED);
	assert_int_equal(proto_status_to_err(28), XO_ERR_MESSAGE_BAD);
	assert_int_equal(proto_status_to_err(29), XO_ERR_INTERNAL);
	assert_int_equal(proto_status_to_err(UINT32_MAX), XO_ERR_INTERNAL);

	/* Every error keeps its status through the canonical error. */
#define CHECK_ERR_(name, code, status, msg)                                    \
	assert_int_equal(proto_status_from_err(code), (status));               \
	assert_int_equal(proto_status_from_err(proto_status_to_err(status)),   \
			 (status));                                            \
	assert_string_equal(proto_err_name(code), #name);                      \
	assert_string_equal(proto_strerror(code), (msg));
	XO_ERR_MAP(CHECK_ERR_)
#undef CHECK_ERR_

	/* An error we do not know is never reported as success. */
	assert_int_equal(proto_status_from_err(-999), 1);
	assert_int_equal(proto_status_from_err(5), 1);
	assert_string_equal(proto_strerror(-999), "unknown error");
	assert_string_equal(proto_err_name(-999), "UNKNOWN");
}

static void state_names_match_protocol_md(void **state)
{
	(void)state;
	assert_string_equal(proto_state_name(PROTO_STATE_NEED_LOGIN),
			    "need-login");
	assert_string_equal(proto_state_name(PROTO_STATE_ACTIVE), "active");
	assert_string_equal(proto_state_name(PROTO_STATE_REFRESHING),
			    "refreshing");
	assert_string_equal(proto_state_name(PROTO_STATE_LOGIN_PENDING),
			    "login-pending");
	assert_string_equal(proto_state_name(PROTO_STATE_RETRYING), "retrying");
	assert_string_equal(proto_state_name(PROTO_STATE_REAUTH), "reauth");
	assert_string_equal(proto_state_name(PROTO_STATE_CONFIG_ERROR),
			    "config-error");
	assert_string_equal(proto_state_name(PROTO_STATE_IDLE), "idle");
	assert_string_equal(proto_state_name(8), "unknown");
	assert_string_equal(proto_state_name(255), "unknown");
}

/* TOKEN's scope is a trailing field an old client never sends: a request
 * without one is byte for byte what it was, and one with it round-trips. */
static void token_scope_is_optional_and_trailing(void **state)
{
	struct proto_token_req tq = sample_token_req, got;
	struct frame plain, scoped;
	struct proto_writer w;
	struct proto_reader r;
	uint8_t type;

	(void)state;
	make_frame(&plain, S_TOKEN_REQ);
	tq.scope = proto_str_c("https://graph.microsoft.com/Mail.Send");
	proto_writer_init(&w, scoped.buf, sizeof(scoped.buf));
	assert_int_equal(proto_enc_token_req(&w, &tq), 0);
	scoped.len = w.len;
	/* The same fields first, then the scope string. */
	assert_int_equal(scoped.len, plain.len + 4 + tq.scope.len);
	assert_memory_equal(scoped.buf + 4, plain.buf + 4, plain.len - 4);
	assert_int_equal(proto_frame_open(scoped.buf, scoped.len, &type, &r),
			 0);
	assert_int_equal(proto_dec_token_req(&r, &got), 0);
	assert_str_eq(got.scope, tq.scope);
	assert_str_eq(got.account, sample_token_req.account);
	/* Without it the scope reads as empty. */
	assert_int_equal(proto_frame_open(plain.buf, plain.len, &type, &r), 0);
	assert_int_equal(proto_dec_token_req(&r, &got), 0);
	assert_int_equal(got.scope.len, 0);
	/* A scope with a control character or a quote is no OAuth scope. */
	tq.scope = proto_str_c("mail\x01send");
	proto_writer_init(&w, scoped.buf, sizeof(scoped.buf));
	assert_int_equal(proto_enc_token_req(&w, &tq), XO_ERR_INVALID);
	tq.scope = proto_str_c("mail.send");
	proto_writer_init(&w, scoped.buf, sizeof(scoped.buf));
	assert_int_equal(proto_enc_token_req(&w, &tq), 0);
	scoped.buf[w.len - 1] = '"';
	assert_int_equal(proto_frame_open(scoped.buf, w.len, &type, &r), 0);
	assert_int_equal(proto_dec_token_req(&r, &got), XO_ERR_MSG_BAD);
}

/* SEND's limits: the writer refuses what the reader would. */
static void send_limits_are_enforced_both_ways(void **state)
{
	struct proto_send_req sq = sample_send, got;
	struct proto_send_data d = sample_send_data;
	struct proto_writer w;
	struct proto_reader r;
	struct frame f;
	uint8_t type;

	(void)state;
	sq.size = (uint64_t)PROTO_MAX_MAIL + 1;
	proto_writer_init(&w, f.buf, sizeof(f.buf));
	assert_int_equal(proto_enc_send_req(&w, &sq), XO_ERR_INVALID);
	sq = sample_send;
	sq.flags = 0x80;
	proto_writer_init(&w, f.buf, sizeof(f.buf));
	assert_int_equal(proto_enc_send_req(&w, &sq), XO_ERR_INVALID);
	sq = sample_send;
	sq.rcpts[1] = proto_str_c("eve@example.com\r\nDATA");
	proto_writer_init(&w, f.buf, sizeof(f.buf));
	assert_int_equal(proto_enc_send_req(&w, &sq), XO_ERR_INVALID);
	d.len = 0;
	proto_writer_init(&w, f.buf, sizeof(f.buf));
	assert_int_equal(proto_enc_send_data(&w, &d), XO_ERR_INVALID);

	/* A recipient with a line break, patched in: malformed. */
	make_frame(&f, S_SEND);
	f.buf[f.len - 3] = '\n';
	assert_int_equal(proto_frame_open(f.buf, f.len, &type, &r), 0);
	assert_int_equal(proto_dec_send_req(&r, &got), XO_ERR_MSG_BAD);
	/* A piece announcing more bytes than the frame has: truncated. */
	make_frame(&f, S_SEND_DATA);
	f.buf[PROTO_HEADER_LEN + 3]++;
	assert_int_equal(proto_frame_open(f.buf, f.len, &type, &r), 0);
	assert_int_not_equal(proto_dec_send_data(&r, &d), 0);
}

static void str_helpers_make_c_strings(void **state)
{
	struct proto_str v = proto_str_c(NULL);
	char *dup = NULL;

	(void)state;
	assert_int_equal(v.len, 0);
	assert_non_null(v.ptr);
	assert_true(proto_str_eq(v, ""));
	assert_true(proto_str_eq(v, NULL));
	v = proto_str_c("work");
	assert_true(proto_str_eq(v, "work"));
	assert_false(proto_str_eq(v, "wor"));
	assert_false(proto_str_eq(v, "works"));
	assert_false(proto_str_eq(v, "home"));

	/* A view into a frame is not NUL-terminated; the copy is. */
	v.ptr = "workXYZ";
	v.len = 4;
	assert_int_equal(proto_str_dup(v, &dup), 0);
	assert_string_equal(dup, "work");
	free(dup);
	assert_int_equal(proto_str_dup(proto_str_c(NULL), &dup), 0);
	assert_string_equal(dup, "");
	free(dup);
}

/* A token copied in by proto_enc_token_rep_fill()'s callback. */
static int fill_copy(void *arg, unsigned char *dst, size_t len)
{
	memcpy(dst, arg, len);
	return 0;
}

static int fill_fails(void *arg, unsigned char *dst, size_t len)
{
	(void)arg;
	memset(dst, 'x', len);
	return XO_ERR_INTERNAL;
}

/* The TOKEN reply whose token is written in place (the agent decrypts it
   straight into the frame) is byte for byte the one proto_enc_token_rep()
   writes, fits in exactly proto_token_rep_size() bytes, and keeps the
   rules of a string: no NUL; a fill that fails fails the writer. */
static void token_reply_filled_in_place_is_the_encoded_one(void **state)
{
	const struct proto_token_rep *m = &sample_token_rep;
	size_t size = proto_token_rep_size(m->token.len, m->email.len);
	unsigned char want[256], got[256];
	struct proto_writer w;

	(void)state;
	proto_writer_init(&w, want, sizeof(want));
	assert_int_equal(proto_enc_token_rep(&w, m), 0);
	assert_int_equal(w.len, size);
	proto_writer_init(&w, got, size);
	assert_int_equal(
	    proto_enc_token_rep_fill(&w, m->token.len, m->expires_at, m->email,
				     fill_copy, (void *)m->token.ptr),
	    0);
	assert_int_equal(w.len, size);
	assert_memory_equal(got, want, size);

	/* One byte short: the writer says so. */
	proto_writer_init(&w, got, size - 1);
	assert_int_equal(
	    proto_enc_token_rep_fill(&w, m->token.len, m->expires_at, m->email,
				     fill_copy, (void *)m->token.ptr),
	    XO_ERR_MSG_TOO_LARGE);
	/* A NUL in the token, as proto_put_str() refuses it. */
	proto_writer_init(&w, got, size);
	assert_int_equal(proto_enc_token_rep_fill(&w, 3, m->expires_at,
						  m->email, fill_copy, "a\0b"),
			 XO_ERR_INVALID);
	/* The fill's own failure. */
	proto_writer_init(&w, got, size);
	assert_int_equal(proto_enc_token_rep_fill(&w, m->token.len,
						  m->expires_at, m->email,
						  fill_fails, NULL),
			 XO_ERR_INTERNAL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_message_round_trips),
	    cmocka_unit_test(frames_match_protocol_md_examples),
	    cmocka_unit_test(integers_are_big_endian),
	    cmocka_unit_test(every_proper_prefix_is_truncated),
	    cmocka_unit_test(
		oversized_announced_length_is_rejected_before_the_body),
	    cmocka_unit_test(zero_length_frame_is_bad),
	    cmocka_unit_test(unknown_type_is_opened_for_the_caller_to_refuse),
	    cmocka_unit_test(back_to_back_frames_are_split_one_at_a_time),
	    cmocka_unit_test(trailing_garbage_is_rejected),
	    cmocka_unit_test(nul_in_a_text_field_is_rejected),
	    cmocka_unit_test(string_longer_than_max_is_rejected),
	    cmocka_unit_test(writer_overflow_is_reported_and_sticky),
	    cmocka_unit_test(frame_body_above_max_is_refused_by_the_writer),
	    cmocka_unit_test(frame_end_without_begin_is_refused),
	    cmocka_unit_test(out_of_range_values_are_bad),
	    cmocka_unit_test(list_count_beyond_the_entries_is_caught),
	    cmocka_unit_test(status_and_error_map_round_trip_for_every_status),
	    cmocka_unit_test(state_names_match_protocol_md),
	    cmocka_unit_test(str_helpers_make_c_strings),
	    cmocka_unit_test(token_scope_is_optional_and_trailing),
	    cmocka_unit_test(send_limits_are_enforced_both_ways),
	    cmocka_unit_test(token_reply_filled_in_place_is_the_encoded_one),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("proto", tests, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
