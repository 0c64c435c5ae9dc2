/*
 * xo_vault.c: locking and unlocking the agent, and exporting and restoring
 * its vault (PROTOCOL.md section 4.10).
 */
#include <stdlib.h>
#include <string.h>

#include "xo_internal.h"

/* Unlocking runs Argon2id in the agent, and the agent slows down repeated
 * failures: allow for both on top of the client's timeout. */
#define UNLOCK_WAIT_MS 60000u

struct typed_passphrase {
	uint8_t type;
	struct proto_passphrase_req q;
};

static int enc_passphrase(struct proto_writer *w, const void *m)
{
	const struct typed_passphrase *t = m;

	return proto_enc_passphrase_req(w, t->type, &t->q);
}

static int enc_lock(struct proto_writer *w, const void *m)
{
	(void)m;
	return proto_enc_account_req(w, PROTO_REQ_LOCK, NULL);
}

static int enc_restore(struct proto_writer *w, const void *m)
{
	return proto_enc_restore_req(w, m);
}

XO_EXTERN int xo_lock(struct xo_client *c)
{
	if (c == NULL)
		return XO_ERR_INVALID;
	xoc_begin(c);
	return xoc_call_ok(c, enc_lock, NULL, 0, 0);
}

XO_EXTERN int xo_unlock(struct xo_client *c, const char *passphrase, int create)
{
	struct typed_passphrase t;

	if (c == NULL || passphrase == NULL)
		return XO_ERR_INVALID;
	xoc_begin(c);
	if (strlen(passphrase) > PROTO_MAX_STR)
		return xoc_fail(c, XO_ERR_INVALID,
				"the passphrase is too long");
	t.type = PROTO_REQ_UNLOCK;
	t.q.passphrase = proto_str_c(passphrase);
	t.q.create = create ? 1 : 0;
	return xoc_call_ok(c, enc_passphrase, &t, t.q.passphrase.len,
			   UNLOCK_WAIT_MS);
}

/* Joins the export's pieces into one C string. */
static int join_export(struct xo_client *c, const struct proto_export *e,
		       char **out)
{
	size_t n = 0, off = 0;
	uint32_t i;
	char *s;

	for (i = 0; i < e->count; i++)
		n += e->chunks[i].len;
	if ((s = malloc(n + 1)) == NULL)
		return xoc_fail(c, XO_ERR_NOMEM, "out of memory");
	for (i = 0; i < e->count; i++) {
		if (e->chunks[i].len > 0)
			memcpy(s + off, e->chunks[i].ptr, e->chunks[i].len);
		off += e->chunks[i].len;
	}
	s[off] = '\0';
	*out = s;
	return 0;
}

XO_EXTERN int xo_export(struct xo_client *c, const char *passphrase,
			char **data)
{
	struct typed_passphrase t;
	struct proto_export e;
	struct reply rep;
	int r;

	if (data != NULL)
		*data = NULL;
	if (c == NULL || data == NULL)
		return XO_ERR_INVALID;
	xoc_begin(c);
	if ((r = xoc_check_text(c, passphrase, "export passphrase")) != 0)
		return r;
	t.type = PROTO_REQ_EXPORT;
	t.q.passphrase = proto_str_c(passphrase);
	t.q.create = 0;
	if ((r = xoc_call(c, enc_passphrase, &t, t.q.passphrase.len,
			  UNLOCK_WAIT_MS, PROTO_REP_EXPORT, &rep)) == 0 &&
	    (r = xoc_finish(c, &rep, proto_dec_export_rep(&rep.r, &e))) == 0)
		r = join_export(c, &e, data);
	xoc_reply_cleanup(&rep);
	return r;
}

XO_EXTERN int xo_restore(struct xo_client *c, const char *data,
			 const char *passphrase)
{
	struct proto_restore_req q;
	size_t len, i;
	int r;

	if (c == NULL)
		return XO_ERR_INVALID;
	xoc_begin(c);
	if ((r = xoc_check_text(c, passphrase, "export passphrase")) != 0)
		return r;
	if (data == NULL || (len = strlen(data)) == 0)
		return xoc_fail(c, XO_ERR_INVALID, "no export data");
	if (len > (size_t)PROTO_MAX_CHUNKS * PROTO_MAX_STR)
		return xoc_fail(c, XO_ERR_INVALID, "the export is too large");
	/* Pieces of at most PROTO_MAX_STR bytes, in order. */
	memset(&q, 0, sizeof(q));
	for (i = 0; i < len; i += PROTO_MAX_STR) {
		q.data.chunks[q.data.count].ptr = data + i;
		q.data.chunks[q.data.count].len =
		    (uint32_t)(len - i < PROTO_MAX_STR ? len - i
						       : PROTO_MAX_STR);
		q.data.count++;
	}
	q.passphrase = proto_str_c(passphrase);
	return xoc_call_ok(c, enc_restore, &q, len + 16 + q.passphrase.len,
			   UNLOCK_WAIT_MS);
}
