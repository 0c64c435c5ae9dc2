/*
 * xo_send.c: sending mail through the agent (PROTOCOL.md 4.11): SEND with
 * the envelope, the message in SEND_DATA pieces, SEND_END, and the SENT
 * reply.  The agent may refuse at SEND already (no such account, too
 * large, busy), before any byte of the message travels.
 */
#include <stdlib.h>
#include <string.h>

#include "xo_internal.h"

/* The agent's own wait for a send when the caller names none. */
#define SEND_WAIT_DEFAULT_MS 120000u

static int enc_send(struct proto_writer *w, const void *m)
{
	return proto_enc_send_req(w, m);
}

static int enc_data(struct proto_writer *w, const void *m)
{
	return proto_enc_send_data(w, m);
}

static int enc_end(struct proto_writer *w, const void *m)
{
	return proto_enc_send_end(w, m);
}

/* SEND: the envelope.  Room for the strings, their length fields and
   the fixed fields. */
static int send_begin(struct xo_client *c, const struct xo_send_opts *o,
		      size_t len)
{
	struct proto_send_req *q;
	size_t strings = 0, i;
	int r;

	if (o->n_rcpts > PROTO_MAX_RCPTS)
		return xoc_fail(c, XO_ERR_INVALID,
				"more than %d recipients on the command line "
				"(use -t for the header's)",
				PROTO_MAX_RCPTS);
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return xoc_fail(c, XO_ERR_NOMEM, "out of memory");
	q->account = proto_str_c(o->account);
	q->from = proto_str_c(o->from);
	q->fullname = proto_str_c(o->fullname);
	q->flags = o->rcpts_from_headers ? PROTO_SEND_RCPTS_FROM_HEADERS : 0;
	q->size = len;
	q->count = (uint32_t)o->n_rcpts;
	strings = q->account.len + q->from.len + q->fullname.len + 32;
	for (i = 0; i < o->n_rcpts; i++) {
		q->rcpts[i] = proto_str_c(o->rcpts[i]);
		strings += q->rcpts[i].len + 4;
	}
	r = xoc_call_ok(c, enc_send, q, strings, 0);
	free(q);
	return r;
}

XO_EXTERN int xo_send(struct xo_client *c, const struct xo_send_opts *opts,
		      const void *msg, size_t len, struct xo_sent *out)
{
	const unsigned char *p = msg;
	struct proto_send_data d;
	struct proto_send_end e;
	struct proto_sent s;
	struct reply rep;
	size_t off;
	int r = XO_ERR_INTERNAL;

	memset(&rep, 0, sizeof(rep));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || opts == NULL || out == NULL ||
	    (msg == NULL && len > 0))
		return XO_ERR_INVALID;
	xoc_begin(c);
	if ((r = xoc_settle(c)) != 0)
		goto out;
	if (!xo_client_has_cap(c, "send")) {
		r = xoc_fail(c, XO_ERR_MSG_UNKNOWN,
			     "the agent at %s does not send mail (no \"send\": "
			     "it is older than xoauth sendmail)",
			     c->path);
		goto out;
	}
	if (len == 0 || len > PROTO_MAX_MAIL) {
		r = xoc_fail(c, XO_ERR_MESSAGE_BAD,
			     len == 0 ? "the message is empty"
				      : "the message is larger than the %d "
					"bytes the agent takes",
			     PROTO_MAX_MAIL);
		goto out;
	}
	if ((r = send_begin(c, opts, len)) != 0)
		goto out;
	for (off = 0; off < len; off += d.len) {
		d.data = p + off;
		d.len = (uint32_t)(len - off > PROTO_MAX_DATA ? PROTO_MAX_DATA
							      : len - off);
		if ((r = xoc_call_ok(c, enc_data, &d, d.len, 0)) != 0)
			goto out;
	}
	e.wait_ms = opts->wait_ms;
	if ((r = xoc_call(c, enc_end, &e, 0,
			  opts->wait_ms ? opts->wait_ms : SEND_WAIT_DEFAULT_MS,
			  PROTO_REP_SENT, &rep)) != 0 ||
	    (r = xoc_finish(c, &rep, proto_dec_sent(&rep.r, &s))) != 0)
		goto out;
	if ((r = xoc_dup_str(c, s.transport, &out->transport)) != 0 ||
	    (r = xoc_dup_str(c, s.reply, &out->reply)) != 0 ||
	    (r = xoc_dup_str(c, s.notice, &out->notice)) != 0)
		goto out;
	r = 0;
out:
	xoc_reply_cleanup(&rep);
	if (r != 0 && out != NULL)
		xo_sent_free(out);
	return r;
}

XO_EXTERN void xo_sent_free(struct xo_sent *s)
{
	if (s == NULL)
		return;
	free(s->transport);
	free(s->reply);
	free(s->notice);
	memset(s, 0, sizeof(*s));
}
