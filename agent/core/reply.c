/*
 * reply.c: building reply frames (conn.h).  Replies may carry tokens, so
 * they are built in agent_buf memory, which the writer wipes once the
 * frame is out (conn.c).
 */
#include "core/conn.h"
#include "core/err.h"

/* The longest message of a FAILURE frame (PROTOCOL.md). */
#define FAILURE_MSG_MAX 1024

int agent_reply_init(struct agent_reply *r, size_t cap)
{
	int rc;

	if (cap > PROTO_MAX_MSG + PROTO_HEADER_LEN)
		cap = PROTO_MAX_MSG + PROTO_HEADER_LEN;
	agent_buf_init(&r->buf, cap);
	if ((rc = agent_buf_reserve(&r->buf, cap)) != 0) {
		proto_writer_init(&r->w, NULL, 0);
		return rc;
	}
	proto_writer_init(&r->w, r->buf.data, r->buf.cap);
	return 0;
}

void agent_reply_cleanup(struct agent_reply *r)
{
	agent_buf_cleanup(&r->buf);
	proto_writer_init(&r->w, NULL, 0);
}

void agent_conn_reply_failure(struct conn *c, int err, const char *msg)
{
	struct agent_reply r;
	struct proto_failure f;

	if (msg == NULL || msg[0] == '\0')
		msg = proto_strerror(err);
	f.status = proto_status_from_err(err);
	f.message = proto_str_c(msg);
	if (f.message.len > FAILURE_MSG_MAX)
		f.message.len = FAILURE_MSG_MAX;
	/* A frame this small only fails for lack of memory, and then the
	   empty reply makes the writer close the connection. */
	if (agent_reply_init(&r, f.message.len + 64) == 0)
		proto_enc_failure(&r.w, &f);
	agent_conn_send(c, &r);
	agent_reply_cleanup(&r);
}

void agent_conn_reply_err(struct conn *c, const struct agent_err *e)
{
	agent_conn_reply_failure(c, e->code, e->msg);
}

void agent_conn_reply_success(struct conn *c)
{
	struct agent_reply r;

	if (agent_reply_init(&r, 16) == 0)
		proto_enc_success(&r.w);
	agent_conn_send(c, &r);
	agent_reply_cleanup(&r);
}
