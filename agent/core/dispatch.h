/*
 * dispatch.h: one request in, exactly one reply out, driven by a table
 * (dispatch.c runs it; daemon/requests.c is the table).
 *
 * Each request type has one entry saying how its payload is decoded, who
 * answers it, whether it names an account, and whether a locked agent
 * still answers it.  For every frame dispatch does, in this order: look
 * the type up (a type without an entry: MSG_UNKNOWN), refuse it on a
 * restricted socket unless the entry is forwardable (RESTRICTED), refuse
 * it when the agent is locked unless the entry works locked (LOCKED),
 * decode it (a
 * malformed payload: MSG_BAD, the connection stays open), find the account
 * it names when the entry needs one (NO_ACCOUNT), and call the handler,
 * which answers now or later.  Only framing errors close a connection
 * (conn.c).
 */
#ifndef XO_CORE_DISPATCH_H
#define XO_CORE_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct account;
struct agent;
struct conn;

/* A decoded payload: the member the entry's decoder fills. */
union agent_msg {
	struct proto_query query;
	struct proto_token_req token;
	struct proto_account_req account; /* REFRESH, REMOVE, LOGIN_WAIT,
					     DELETE */
	struct proto_import_req import;
	struct proto_login_start_req login_start;
	struct proto_login_code_req login_code;
	struct proto_add_req add;
	struct proto_doctor_req doctor;
	struct proto_passphrase_req passphrase; /* UNLOCK, EXPORT */
	struct proto_restore_req restore;
	struct proto_send_req send;
	struct proto_send_data send_data;
	struct proto_send_end send_end;
	struct proto_list_req list;
};

/* One request, as a handler gets it.  Strings in m point into the frame,
   which is wiped once the handler returns: copy what must last. */
struct agent_request {
	struct agent *agent;
	struct conn *conn;
	uint8_t type;
	struct proto_str name; /* the account named, set by the decoder */
	struct account *acct;  /* found, for entries that need one */
	union agent_msg m;
};

struct request_entry {
	uint8_t type; /* enum proto_type */
	/* Fills q->m (and q->name for a request that names an account);
	   0, or XO_ERR_MSG_BAD for a malformed payload. */
	int (*decode)(struct proto_reader *r, struct agent_request *q);
	/* Answers q->conn exactly once, now or later. */
	void (*handle)(struct agent_request *q);
	bool needs_account; /* q->acct must be the account q->name names */
	bool works_locked;  /* answered while the agent is locked */
	bool forwardable;   /* answered on a restricted socket (one that may
			       be forwarded to another machine): it reads
			       tokens, it changes nothing */
};

/* What dispatch asks of the rooms above it (daemon/ wires them). */
struct dispatch_hooks {
	/* 1 while the agent is locked (vault/). */
	int (*locked)(struct agent *a);
	/* The account named by name or e-mail address, or NULL (account/). */
	struct account *(*find)(struct agent *a, struct proto_str name);
};

struct dispatch_table {
	const struct request_entry *entries;
	size_t n;
	struct dispatch_hooks hooks;
};

/* The entry for type, or NULL. */
const struct request_entry *agent_request_entry(const struct dispatch_table *t,
						uint8_t type);
/* Handles one complete frame from c; always ends in exactly one reply. */
void agent_dispatch(struct conn *c, const unsigned char *frame, size_t len);

#endif
