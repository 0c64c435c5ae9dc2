/*
 * codec.c: the xoauth-agent wire codec (see PROTOCOL.md).
 *
 * Both the writer and the reader are "sticky": the first error is kept and
 * every later call is a no-op, so encoders and decoders can be written as
 * straight field lists with a single check at the end, as OpenSSH's sshbuf
 * callers do.  Nothing here allocates except proto_str_dup().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "proto.h"

/* The smallest LIST entry: four empty strings, the state byte, three u64
 * times and an empty last_error. */
#define LIST_ENTRY_MIN (4 * 4 + 1 + 3 * 8 + 4)
/* The smallest token of another scope: three empty strings, the state
   byte, three u64. */
#define LIST_SCOPE_MIN (3 * 4 + 1 + 3 * 8)

/* The largest OAUTHBEARER port. */
#define PORT_MAX 65535

struct proto_str proto_str_c(const char *s)
{
	struct proto_str v = {"", 0};
	size_t n;

	if (s == NULL)
		return v;
	n = strlen(s);
	v.ptr = s;
	/* A string this long cannot be sent anyway; saturating keeps the
	 * writer's PROTO_MAX_STR check in charge of rejecting it. */
	v.len = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	return v;
}

int proto_str_eq(struct proto_str a, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n != a.len)
		return 0;
	return n == 0 || memcmp(a.ptr, s, n) == 0;
}

int proto_str_dup(struct proto_str s, char **out)
{
	int r = XO_ERR_INTERNAL;
	char *p = NULL;

	*out = NULL;
	if (s.len > 0 &&
	    (s.ptr == NULL || memchr(s.ptr, '\0', s.len) != NULL)) {
		/* The copy would not be the string the peer sent. */
		r = XO_ERR_INVALID;
		goto out;
	}
	if ((p = malloc((size_t)s.len + 1)) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	if (s.len > 0)
		memcpy(p, s.ptr, s.len);
	p[s.len] = '\0';
	*out = p;
	p = NULL; /* transferred */
	r = 0;
out:
	free(p);
	return r;
}

/* ---- Writer ----------------------------------------------------------- */

void proto_writer_init(struct proto_writer *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf != NULL ? cap : 0;
	w->len = 0;
	w->frame_start = NO_FRAME;
	w->err = 0;
}

void proto_writer_fail(struct proto_writer *w, int err)
{
	if (w->err == 0)
		w->err = err;
}

/* Reserves n bytes and returns where to write them, or NULL (and the
 * writer fails) when they do not fit. */
static unsigned char *writer_reserve(struct proto_writer *w, size_t n)
{
	unsigned char *p;

	if (w->err != 0)
		return NULL;
	if (n > w->cap - w->len) {
		proto_writer_fail(w, XO_ERR_MSG_TOO_LARGE);
		return NULL;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

static void be32_store(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t be32_load(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void proto_frame_begin(struct proto_writer *w, uint8_t type)
{
	size_t start = w->len;

	if (w->err != 0)
		return;
	if (w->frame_start != NO_FRAME) {
		/* Frames do not nest; the length of the outer one would be
		 * patched over the inner one's bytes. */
		proto_writer_fail(w, XO_ERR_INVALID);
		return;
	}
	proto_put_u32(w, 0); /* patched by proto_frame_end() */
	proto_put_u8(w, type);
	if (w->err == 0)
		w->frame_start = start;
}

int proto_frame_end(struct proto_writer *w)
{
	size_t body;

	if (w->err == 0 && w->frame_start == NO_FRAME)
		proto_writer_fail(w, XO_ERR_INVALID);
	if (w->err != 0)
		return w->err;
	body = w->len - w->frame_start - 4;
	if (body > PROTO_MAX_MSG) {
		/* The peer would close the connection on it. */
		proto_writer_fail(w, XO_ERR_MSG_TOO_LARGE);
		return w->err;
	}
	be32_store(w->buf + w->frame_start, (uint32_t)body);
	w->frame_start = NO_FRAME;
	return 0;
}

void proto_put_u8(struct proto_writer *w, uint8_t v)
{
	unsigned char *p = writer_reserve(w, 1);

	if (p != NULL)
		p[0] = v;
}

void proto_put_u32(struct proto_writer *w, uint32_t v)
{
	unsigned char *p = writer_reserve(w, 4);

	if (p != NULL)
		be32_store(p, v);
}

void proto_put_u64(struct proto_writer *w, uint64_t v)
{
	unsigned char *p = writer_reserve(w, 8);

	if (p != NULL) {
		be32_store(p, (uint32_t)(v >> 32));
		be32_store(p + 4, (uint32_t)v);
	}
}

void proto_put_bytes(struct proto_writer *w, const void *src, size_t n)
{
	unsigned char *p;

	if (n > 0 && src == NULL) {
		proto_writer_fail(w, XO_ERR_INVALID);
		return;
	}
	if ((p = writer_reserve(w, n)) != NULL && n > 0)
		memcpy(p, src, n);
}

void proto_put_str(struct proto_writer *w, struct proto_str s)
{
	if (w->err != 0)
		return;
	/* Refuse to write what the reader on the other side must reject, so
	 * that a bad value fails here, with a clear error, and not as a
	 * FAILURE from the peer. */
	if (s.len > PROTO_MAX_STR) {
		proto_writer_fail(w, XO_ERR_MSG_TOO_LARGE);
		return;
	}
	if (s.len > 0 &&
	    (s.ptr == NULL || memchr(s.ptr, '\0', s.len) != NULL)) {
		proto_writer_fail(w, XO_ERR_INVALID);
		return;
	}
	proto_put_u32(w, s.len);
	proto_put_bytes(w, s.ptr, s.len);
}

/* ---- Reader ----------------------------------------------------------- */

void proto_reader_init(struct proto_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p != NULL ? len : 0;
	r->off = 0;
	r->err = 0;
}

void proto_reader_fail(struct proto_reader *r, int err)
{
	if (r->err == 0)
		r->err = err;
}

/* Consumes n bytes and returns them, or NULL (and the reader fails) when
 * fewer are left. */
static const unsigned char *reader_take(struct proto_reader *r, size_t n)
{
	const unsigned char *p;

	if (r->err != 0)
		return NULL;
	if (n > r->len - r->off) {
		proto_reader_fail(r, XO_ERR_MSG_TRUNCATED);
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t proto_get_u8(struct proto_reader *r)
{
	const unsigned char *p = reader_take(r, 1);

	return p != NULL ? p[0] : 0;
}

uint32_t proto_get_u32(struct proto_reader *r)
{
	const unsigned char *p = reader_take(r, 4);

	return p != NULL ? be32_load(p) : 0;
}

uint64_t proto_get_u64(struct proto_reader *r)
{
	const unsigned char *p = reader_take(r, 8);

	return p != NULL ? (uint64_t)be32_load(p) << 32 | be32_load(p + 4) : 0;
}

struct proto_str proto_get_str(struct proto_reader *r)
{
	struct proto_str s = {"", 0};
	const unsigned char *p;
	uint32_t n = proto_get_u32(r);

	if (r->err != 0)
		return s;
	/* Checked before the bytes are looked for, so a huge announced length
	 * is malformed rather than merely "truncated". */
	if (n > PROTO_MAX_STR) {
		proto_reader_fail(r, XO_ERR_MSG_BAD);
		return s;
	}
	if ((p = reader_take(r, n)) == NULL)
		return s;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		/* A C string made from it would silently lose the rest. */
		proto_reader_fail(r, XO_ERR_MSG_BAD);
		return s;
	}
	if (n > 0) {
		s.ptr = (const char *)p;
		s.len = n;
	}
	return s;
}

int proto_reader_finish(struct proto_reader *r)
{
	if (r->err == 0 && r->off != r->len)
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	return r->err;
}

/* ---- Framing ---------------------------------------------------------- */

int proto_frame_peek(const void *buf, size_t len, size_t max, size_t *frame_len)
{
	int r = XO_ERR_INTERNAL;
	uint32_t n;

	*frame_len = 0;
	if (buf == NULL || len < 4) {
		r = XO_ERR_MSG_TRUNCATED;
		goto out;
	}
	n = be32_load(buf);
	/* The length is judged before any more bytes are waited for, so that
	 * a peer cannot make us buffer an oversized body. */
	if (n > max) {
		r = XO_ERR_MSG_TOO_LARGE;
		goto out;
	}
	if (n == 0) {
		/* Not even a type byte. */
		r = XO_ERR_MSG_BAD;
		goto out;
	}
	if (len - 4 < n) {
		r = XO_ERR_MSG_TRUNCATED;
		goto out;
	}
	*frame_len = (size_t)n + 4;
	r = 0;
out:
	return r;
}

int proto_frame_open(const void *frame, size_t frame_len, uint8_t *type,
		     struct proto_reader *payload)
{
	const unsigned char *p = frame;
	int r = XO_ERR_INTERNAL;
	size_t n;

	*type = 0;
	proto_reader_init(payload, NULL, 0);
	if ((r = proto_frame_peek(frame, frame_len, PROTO_MAX_MSG, &n)) != 0)
		goto out;
	if (n != frame_len) {
		/* The caller must hand over exactly one frame. */
		r = XO_ERR_MSG_BAD;
		goto out;
	}
	*type = p[4];
	proto_reader_init(payload, p + PROTO_HEADER_LEN,
			  frame_len - PROTO_HEADER_LEN);
	r = 0;
out:
	return r;
}

/* ---- Messages ----------------------------------------------------------
 *
 * Encoders return the writer's sticky error after proto_frame_end(); on
 * failure the writer holds a partial frame the caller must not send.
 * Decoders read every field, then require the payload to be used up; on
 * failure they clear the message so that no view into a bad frame leaks.
 */

int proto_dec_done(struct proto_reader *r, void *m, size_t size)
{
	int err = proto_reader_finish(r);

	if (err != 0)
		memset(m, 0, size);
	return err;
}

int proto_enc_query(struct proto_writer *w, const struct proto_query *m)
{
	proto_frame_begin(w, PROTO_REQ_QUERY);
	proto_put_u32(w, m->version);
	return proto_frame_end(w);
}

int proto_dec_query(struct proto_reader *r, struct proto_query *m)
{
	m->version = proto_get_u32(r);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_version(struct proto_writer *w, const struct proto_version *m)
{
	proto_frame_begin(w, PROTO_REP_VERSION);
	proto_put_u32(w, m->version);
	proto_put_str(w, m->agent);
	proto_put_str(w, m->caps);
	return proto_frame_end(w);
}

int proto_dec_version(struct proto_reader *r, struct proto_version *m)
{
	m->version = proto_get_u32(r);
	m->agent = proto_get_str(r);
	m->caps = proto_get_str(r);
	return proto_dec_done(r, m, sizeof(*m));
}

/* OAUTHBEARER separates its key/value pairs with \x01, so a host holding
 * one would let the client inject fields into the SASL message. */
static int host_ok(struct proto_str host)
{
	return host.len == 0 || memchr(host.ptr, 0x01, host.len) == NULL;
}

/* RFC 6749 3.3: scope tokens are printable ASCII but '"' and '\\',
   separated by spaces. */
static int scope_ok(struct proto_str scope)
{
	uint32_t i;

	for (i = 0; i < scope.len; i++) {
		unsigned char ch = (unsigned char)scope.ptr[i];

		if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\')
			return 0;
	}
	return 1;
}

int proto_enc_token_req(struct proto_writer *w, const struct proto_token_req *m)
{
	proto_frame_begin(w, PROTO_REQ_TOKEN);
	if (m->form > PROTO_FORM_OAUTHBEARER || m->port > PORT_MAX ||
	    !host_ok(m->host) || !scope_ok(m->scope))
		proto_writer_fail(w, XO_ERR_INVALID);
	proto_put_str(w, m->account);
	proto_put_u8(w, m->form);
	proto_put_str(w, m->host);
	proto_put_u32(w, m->port);
	proto_put_u32(w, m->min_valid);
	proto_put_u32(w, m->wait_ms);
	/* The optional scope: an agent without "token-scope" would read it
	   as bytes left over, so an empty one is not written at all. */
	if (m->scope.len > 0)
		proto_put_str(w, m->scope);
	return proto_frame_end(w);
}

int proto_dec_token_req(struct proto_reader *r, struct proto_token_req *m)
{
	m->account = proto_get_str(r);
	m->form = proto_get_u8(r);
	m->host = proto_get_str(r);
	m->port = proto_get_u32(r);
	m->min_valid = proto_get_u32(r);
	m->wait_ms = proto_get_u32(r);
	m->scope = proto_str_c(NULL);
	if (r->err == 0 && r->off < r->len) {
		m->scope = proto_get_str(r);
		/* What follows wait_ms is a scope or nothing: bytes that are
		   not a whole string are left over, not a short frame; and an
		   empty scope is left off, never sent, so that each request
		   has one encoding. */
		if (r->err == XO_ERR_MSG_TRUNCATED ||
		    (r->err == 0 && m->scope.len == 0))
			r->err = XO_ERR_MSG_BAD;
	}
	if (r->err == 0 &&
	    (m->form > PROTO_FORM_OAUTHBEARER || m->port > PORT_MAX ||
	     !host_ok(m->host) || !scope_ok(m->scope)))
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_token_rep_fill(struct proto_writer *w, uint32_t token_len,
			     uint64_t expires_at, struct proto_str email,
			     proto_fill_cb fill, void *arg)
{
	unsigned char *dst;
	int r;

	proto_frame_begin(w, PROTO_REP_TOKEN);
	if (w->err == 0 && token_len > PROTO_MAX_STR)
		proto_writer_fail(w, XO_ERR_MSG_TOO_LARGE);
	proto_put_u32(w, token_len);
	/* As proto_put_str() checks a string, once its bytes are there. */
	if ((dst = writer_reserve(w, token_len)) != NULL && token_len > 0) {
		if ((r = fill(arg, dst, token_len)) != 0)
			proto_writer_fail(w, r);
		else if (memchr(dst, '\0', token_len) != NULL)
			proto_writer_fail(w, XO_ERR_INVALID);
	}
	proto_put_u64(w, expires_at);
	proto_put_str(w, email);
	return proto_frame_end(w);
}

/* proto_fill_cb: a token that is in memory already, copied in. */
static int copy_token(void *arg, unsigned char *dst, size_t len)
{
	const struct proto_str *token = arg;

	if (token->ptr == NULL)
		return XO_ERR_INVALID;
	memcpy(dst, token->ptr, len);
	return 0;
}

/* The TOKEN reply's one layout is proto_enc_token_rep_fill()'s. */
int proto_enc_token_rep(struct proto_writer *w, const struct proto_token_rep *m)
{
	struct proto_str token = m->token;

	return proto_enc_token_rep_fill(w, token.len, m->expires_at, m->email,
					copy_token, &token);
}

size_t proto_token_rep_size(size_t token_len, size_t email_len)
{
	/* The header, the token's length and bytes, expires_at, the
	   address's length and bytes (proto_enc_token_rep()). */
	return PROTO_HEADER_LEN + 4 + token_len + 8 + 4 + email_len;
}

int proto_dec_token_rep(struct proto_reader *r, struct proto_token_rep *m)
{
	m->token = proto_get_str(r);
	m->expires_at = proto_get_u64(r);
	m->email = proto_get_str(r);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_account_req(struct proto_writer *w, uint8_t type,
			  const struct proto_account_req *m)
{
	proto_frame_begin(w, type);
	switch (type) {
	case PROTO_REQ_LIST:
	case PROTO_REQ_LOCK:
		/* LIST and LOCK have an empty payload; m is ignored. */
		break;
	case PROTO_REQ_REFRESH:
	case PROTO_REQ_REMOVE:
	case PROTO_REQ_LOGIN_WAIT:
	case PROTO_REQ_DELETE:
		if (m == NULL) {
			proto_writer_fail(w, XO_ERR_INVALID);
			break;
		}
		proto_put_str(w, m->account);
		proto_put_u32(w, m->wait_ms);
		break;
	default:
		proto_writer_fail(w, XO_ERR_INVALID);
		break;
	}
	return proto_frame_end(w);
}

int proto_dec_account_req(struct proto_reader *r, struct proto_account_req *m)
{
	m->account = proto_get_str(r);
	m->wait_ms = proto_get_u32(r);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_import_req(struct proto_writer *w,
			 const struct proto_import_req *m)
{
	proto_frame_begin(w, PROTO_REQ_IMPORT);
	proto_put_str(w, m->account);
	proto_put_str(w, m->refresh_token);
	return proto_frame_end(w);
}

int proto_dec_import_req(struct proto_reader *r, struct proto_import_req *m)
{
	m->account = proto_get_str(r);
	m->refresh_token = proto_get_str(r);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_login_rep(struct proto_writer *w, const struct proto_login_rep *m)
{
	proto_frame_begin(w, PROTO_REP_LOGIN);
	proto_put_str(w, m->verification_uri);
	proto_put_str(w, m->verification_uri_complete);
	proto_put_str(w, m->user_code);
	proto_put_u32(w, m->expires_in);
	proto_put_u32(w, m->interval);
	proto_put_str(w, m->flow);
	return proto_frame_end(w);
}

int proto_dec_login_rep(struct proto_reader *r, struct proto_login_rep *m)
{
	m->verification_uri = proto_get_str(r);
	m->verification_uri_complete = proto_get_str(r);
	m->user_code = proto_get_str(r);
	m->expires_in = proto_get_u32(r);
	m->interval = proto_get_u32(r);
	m->flow = proto_get_str(r);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_failure(struct proto_writer *w, const struct proto_failure *m)
{
	proto_frame_begin(w, PROTO_REP_FAILURE);
	/* Status 0 means success: a FAILURE carrying it would let a client
	 * take a failure for a success. */
	if (m->status == 0)
		proto_writer_fail(w, XO_ERR_INVALID);
	proto_put_u32(w, m->status);
	proto_put_str(w, m->message);
	return proto_frame_end(w);
}

int proto_dec_failure(struct proto_reader *r, struct proto_failure *m)
{
	m->status = proto_get_u32(r);
	m->message = proto_get_str(r);
	if (r->err == 0 && m->status == 0)
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_success(struct proto_writer *w)
{
	proto_frame_begin(w, PROTO_REP_SUCCESS);
	return proto_frame_end(w);
}

int proto_enc_list_req(struct proto_writer *w, const struct proto_list_req *m)
{
	proto_frame_begin(w, PROTO_REQ_LIST);
	/* Flags 0 is the request without the field: one encoding each. */
	if (m->flags & ~(uint32_t)PROTO_LIST_FLAGS_ALL)
		proto_writer_fail(w, XO_ERR_INVALID);
	if (m->flags != 0)
		proto_put_u32(w, m->flags);
	return proto_frame_end(w);
}

int proto_dec_list_req(struct proto_reader *r, struct proto_list_req *m)
{
	m->flags = 0;
	if (r->off < r->len) {
		m->flags = proto_get_u32(r);
		/* Bytes that are no whole field are left over; 0 is sent as
		   no field at all; an unknown flag cannot be honoured. */
		if (r->err == XO_ERR_MSG_TRUNCATED ||
		    (r->err == 0 &&
		     (m->flags == 0 ||
		      (m->flags & ~(uint32_t)PROTO_LIST_FLAGS_ALL) != 0)))
			r->err = XO_ERR_MSG_BAD;
	}
	return proto_dec_done(r, m, sizeof(*m));
}

int proto_enc_list_begin(struct proto_writer *w, uint32_t count)
{
	proto_frame_begin(w, PROTO_REP_LIST);
	if (count > PROTO_MAX_ACCOUNTS)
		proto_writer_fail(w, XO_ERR_MSG_TOO_LARGE);
	proto_put_u32(w, count);
	return w->err;
}

void proto_enc_list_entry(struct proto_writer *w,
			  const struct proto_account_info *e)
{
	/* A state out of range is caught by proto_enc_list_end(), which reads
	 * the whole list back. */
	proto_put_str(w, e->name);
	proto_put_str(w, e->email);
	proto_put_str(w, e->provider);
	proto_put_str(w, e->flow);
	proto_put_u8(w, e->state);
	proto_put_u64(w, e->expires_at);
	proto_put_u64(w, e->refreshed_at);
	proto_put_u64(w, e->next_refresh_at);
	proto_put_str(w, e->last_error);
}

void proto_enc_list_scopes_begin(struct proto_writer *w, uint32_t count)
{
	/* None is left off; more cannot be read back. */
	if (count == 0 || count > PROTO_MAX_SCOPE_TOKENS)
		proto_writer_fail(w, XO_ERR_INVALID);
	proto_put_u32(w, count);
}

void proto_enc_list_scope(struct proto_writer *w,
			  const struct proto_scope_info *s)
{
	proto_put_str(w, s->account);
	proto_put_str(w, s->scope);
	proto_put_u8(w, s->state);
	proto_put_u64(w, s->expires_at);
	proto_put_u64(w, s->refreshed_at);
	proto_put_u64(w, s->next_refresh_at);
	proto_put_str(w, s->last_error);
}

int proto_enc_list_end(struct proto_writer *w)
{
	struct proto_account_info e;
	struct proto_scope_info s;
	struct proto_reader r;
	uint32_t count, i;

	if (w->err == 0 && w->frame_start == NO_FRAME)
		proto_writer_fail(w, XO_ERR_INVALID);
	if (w->err != 0)
		goto out;
	/* The count was written before the entries; read the body back so
	 * that a count that does not match the entries fails here and not in
	 * every client. */
	proto_reader_init(&r, w->buf + w->frame_start + PROTO_HEADER_LEN,
			  w->len - w->frame_start - PROTO_HEADER_LEN);
	if (proto_dec_list_count(&r, &count) == 0)
		for (i = 0; i < count && r.err == 0; i++)
			proto_dec_list_entry(&r, &e);
	if (r.err == 0 && proto_dec_list_scopes_count(&r, &count) == 0)
		for (i = 0; i < count && r.err == 0; i++)
			proto_dec_list_scope(&r, &s);
	if (proto_reader_finish(&r) != 0) {
		proto_writer_fail(w, XO_ERR_INVALID);
		goto out;
	}
	proto_frame_end(w);
out:
	return w->err;
}

int proto_dec_list_count(struct proto_reader *r, uint32_t *count)
{
	int err;

	*count = proto_get_u32(r);
	if (r->err == 0 && *count > PROTO_MAX_ACCOUNTS)
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	/* Fail before the caller allocates room for entries that cannot be
	 * there. */
	if (r->err == 0 && (size_t)*count * LIST_ENTRY_MIN > r->len - r->off)
		proto_reader_fail(r, XO_ERR_MSG_TRUNCATED);
	if ((err = r->err) != 0)
		*count = 0;
	return err;
}

int proto_dec_list_scopes_count(struct proto_reader *r, uint32_t *count)
{
	int err;

	*count = 0;
	if (r->err != 0 || r->off == r->len)
		return r->err;
	*count = proto_get_u32(r);
	/* Bytes that are no whole count are left over, not a short frame;
	   a count of 0 is left off, never sent. */
	if (r->err == XO_ERR_MSG_TRUNCATED ||
	    (r->err == 0 && (*count == 0 || *count > PROTO_MAX_SCOPE_TOKENS)))
		r->err = XO_ERR_MSG_BAD;
	if (r->err == 0 && (size_t)*count * LIST_SCOPE_MIN > r->len - r->off)
		proto_reader_fail(r, XO_ERR_MSG_TRUNCATED);
	if ((err = r->err) != 0)
		*count = 0;
	return err;
}

int proto_dec_list_scope(struct proto_reader *r, struct proto_scope_info *s)
{
	s->account = proto_get_str(r);
	s->scope = proto_get_str(r);
	s->state = proto_get_u8(r);
	s->expires_at = proto_get_u64(r);
	s->refreshed_at = proto_get_u64(r);
	s->next_refresh_at = proto_get_u64(r);
	s->last_error = proto_get_str(r);
	if (r->err == 0 && s->state > PROTO_STATE_IDLE)
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	if (r->err != 0)
		memset(s, 0, sizeof(*s));
	return r->err;
}

int proto_dec_list_entry(struct proto_reader *r, struct proto_account_info *e)
{
	e->name = proto_get_str(r);
	e->email = proto_get_str(r);
	e->provider = proto_get_str(r);
	e->flow = proto_get_str(r);
	e->state = proto_get_u8(r);
	e->expires_at = proto_get_u64(r);
	e->refreshed_at = proto_get_u64(r);
	e->next_refresh_at = proto_get_u64(r);
	e->last_error = proto_get_str(r);
	if (r->err == 0 && e->state > PROTO_STATE_IDLE)
		proto_reader_fail(r, XO_ERR_MSG_BAD);
	if (r->err != 0)
		memset(e, 0, sizeof(*e));
	return r->err;
}
