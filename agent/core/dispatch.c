/*
 * dispatch.c: runs the request table (dispatch.h).  Decoding errors get a
 * FAILURE reply and the connection stays open; only framing errors
 * (conn.c) close it.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/agent.h"
#include "core/conn.h"
#include "core/core_internal.h"
#include "core/dispatch.h"
#include "core/log.h"

/* How much of an unknown account's name a message quotes. */
#define NAME_QUOTED_MAX 100

const struct request_entry *agent_request_entry(const struct dispatch_table *t,
						uint8_t type)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->entries[i].type == type)
			return &t->entries[i];
	return NULL;
}

void agent_dispatch(struct conn *c, const unsigned char *frame, size_t len)
{
	const struct dispatch_table *t = conn_server(c)->table;
	const struct request_entry *e;
	struct agent_request q;
	struct proto_reader r;
	char msg[160];

	/* The head only, not the union m: it is 8 KiB (SEND's 512
	   recipients), and zeroing it all wrote 8 KiB per request (a rep
	   stosb, counted by callgrind as 8,300 instructions: more than the
	   rest of a TOKEN), for a TOKEN that reads 72 bytes of it.  The
	   member in use is zeroed by its decoder (daemon/requests.c). */
	memset(&q, 0, offsetof(struct agent_request, m));
	q.agent = agent_conn_agent(c);
	q.conn = c;
	if (proto_frame_open(frame, len, &q.type, &r) != 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		return;
	}
	if ((e = agent_request_entry(t, q.type)) == NULL) {
		log_debug("unknown message type %u", q.type);
		agent_conn_reply_failure(c, XO_ERR_MSG_UNKNOWN, NULL);
		return;
	}
	/* A restricted socket may reach another machine: it reads tokens and
	   changes nothing, whatever the request holds. */
	if (conn_server(c)->restricted && !e->forwardable) {
		agent_conn_reply_failure(
		    c, XO_ERR_RESTRICTED,
		    "this socket answers token requests only (token, list): "
		    "manage accounts on the agent's own socket");
		return;
	}
	/* Before decoding: a locked agent says so to anything that needs a
	   secret, whatever the request holds. */
	if (!e->works_locked && t->hooks.locked(q.agent)) {
		agent_conn_reply_failure(c, XO_ERR_LOCKED,
					 "the agent is locked: run 'xoauth "
					 "unlock'");
		return;
	}
	if (e->decode(&r, &q) != 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		return;
	}
	if (e->needs_account &&
	    (q.acct = t->hooks.find(q.agent, q.name)) == NULL) {
		snprintf(msg, sizeof(msg), "no account '%.*s'",
			 (int)(q.name.len > NAME_QUOTED_MAX ? NAME_QUOTED_MAX
							    : q.name.len),
			 q.name.ptr);
		agent_conn_reply_failure(c, XO_ERR_NO_ACCOUNT, msg);
		return;
	}
	e->handle(&q);
}
