/*
 * requests.c: the request table (core/dispatch.h): for every request type
 * of PROTOCOL.md 4, how its payload is decoded, which room answers it,
 * whether it names an account, and whether a locked agent answers it.
 *
 * A locked agent answers only what needs no secret: QUERY, LIST, LOCK and
 * UNLOCK.  Every other entry says works_locked = false, so a new request
 * type is refused while locked unless its entry says otherwise.  Likewise
 * a restricted socket (xoauth-agent -r, for ssh forwarding) answers only
 * QUERY, TOKEN and LIST: a forwarded socket reads tokens and may change
 * nothing.
 */
#include <string.h>

#include "account/account.h"
#include "account/requests.h"
#include "core/conn.h"
#include "doctor/job.h"
#include "login/login.h"
#include "send/send.h"
#include "vault/vault.h"
#include "daemon/daemon.h"

/* The capability words of QUERY's reply (PROTOCOL.md 3.1). */
#define CAPABILITIES                                                           \
	"token xoauth2 oauthbearer list refresh remove import login-device "   \
	"login-browser login-paste client-credentials add delete doctor "      \
	"vault token-scope send list-scopes"

static void handle_query(struct agent_request *q)
{
	struct proto_version v;
	struct agent_reply reply;

	/* PROTOCOL.md 3.1: answer with the highest version we speak that
	   the client does too.  With none, the connection ends with the
	   answer: what the client sent behind its QUERY is in a layout we
	   do not know, and is not carried out. */
	if (q->m.query.version < 1) {
		agent_conn_end_after_reply(q->conn);
		agent_conn_reply_failure(
		    q->conn, XO_ERR_VERSION,
		    "this agent speaks protocol version 1");
		return;
	}
	v.version = PROTO_VERSION;
	v.agent = proto_str_c("xoauth-agent " XO_VERSION);
	v.caps = proto_str_c(CAPABILITIES);
	if (agent_reply_init(&reply, 512) != 0 ||
	    proto_enc_version(&reply.w, &v) != 0)
		agent_conn_reply_failure(q->conn, XO_ERR_NOMEM, NULL);
	else
		agent_conn_send(q->conn, &reply);
	agent_reply_cleanup(&reply);
}

/* ---- decoders: each zeroes and fills its member of q->m ---- */

/* agent_dispatch() leaves q->m as it found it (zeroing the whole union per
   request cost more than the rest of a TOKEN): a decoder starts from a
   zeroed member of its own, as handlers expect, and nothing reads the
   others. */
#define ZERO_MEMBER(q, member) memset(&(q)->m.member, 0, sizeof((q)->m.member))

/* One for each proto_dec_*() of a request that names no account. */
#define DECODER(dec, member)                                                   \
	static int decode_##member(struct proto_reader *r,                     \
				   struct agent_request *q)                    \
	{                                                                      \
		ZERO_MEMBER(q, member);                                        \
		return dec(r, &q->m.member) != 0 ? XO_ERR_MSG_BAD : 0;         \
	}

/* The same for a request whose field `account` names its account. */
#define NAMED_DECODER(dec, member)                                             \
	static int decode_##member(struct proto_reader *r,                     \
				   struct agent_request *q)                    \
	{                                                                      \
		ZERO_MEMBER(q, member);                                        \
		if (dec(r, &q->m.member) != 0)                                 \
			return XO_ERR_MSG_BAD;                                 \
		q->name = q->m.member.account;                                 \
		return 0;                                                      \
	}

DECODER(proto_dec_query, query)
DECODER(proto_dec_add_req, add)
DECODER(proto_dec_restore_req, restore)
DECODER(proto_dec_send_req, send)
DECODER(proto_dec_send_data, send_data)
DECODER(proto_dec_send_end, send_end)
DECODER(proto_dec_list_req, list)
NAMED_DECODER(proto_dec_token_req, token)
NAMED_DECODER(proto_dec_account_req, account)
NAMED_DECODER(proto_dec_import_req, import)
NAMED_DECODER(proto_dec_login_start_req, login_start)
NAMED_DECODER(proto_dec_login_code_req, login_code)
NAMED_DECODER(proto_dec_doctor_req, doctor)

/* LOCK has no payload. */
static int decode_none(struct proto_reader *r, struct agent_request *q)
{
	(void)q;
	return proto_reader_finish(r) != 0 ? XO_ERR_MSG_BAD : 0;
}

/* UNLOCK and EXPORT share a message whose decoder needs the type. */
static int decode_unlock(struct proto_reader *r, struct agent_request *q)
{
	ZERO_MEMBER(q, passphrase);
	return proto_dec_passphrase_req(r, PROTO_REQ_UNLOCK,
					&q->m.passphrase) != 0
		   ? XO_ERR_MSG_BAD
		   : 0;
}

static int decode_export(struct proto_reader *r, struct agent_request *q)
{
	ZERO_MEMBER(q, passphrase);
	return proto_dec_passphrase_req(r, PROTO_REQ_EXPORT,
					&q->m.passphrase) != 0
		   ? XO_ERR_MSG_BAD
		   : 0;
}

/* ---- what dispatch asks of the rooms ---- */

static int is_locked(struct agent *a)
{
	return vault_locked(a);
}

static struct account *find_account(struct agent *a, struct proto_str name)
{
	return account_find(a->store, name.ptr, name.len);
}

#define NAMED true
#define UNNAMED false
#define LOCKED_TOO true
#define UNLOCKED_ONLY false
#define FORWARDABLE true
#define LOCAL_ONLY false

/* A table is read as one: one line per request type. */
/* clang-format off */
static const struct request_entry entries[] = {
/*   type                   decode              handle                  account  locked         restricted */
    {PROTO_REQ_QUERY,       decode_query,       handle_query,           UNNAMED, LOCKED_TOO,    FORWARDABLE},
    {PROTO_REQ_TOKEN,       decode_token,       account_handle_token,   NAMED,   UNLOCKED_ONLY, FORWARDABLE},
    {PROTO_REQ_LIST,        decode_list,        account_handle_list,    UNNAMED, LOCKED_TOO,    FORWARDABLE},
    {PROTO_REQ_REFRESH,     decode_account,     account_handle_refresh, NAMED,   UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_REMOVE,      decode_account,     account_handle_remove,  NAMED,   UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_IMPORT,      decode_import,      account_handle_import,  NAMED,   UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_LOGIN_START, decode_login_start, login_handle_start,     NAMED,   UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_LOGIN_WAIT,  decode_account,     login_handle_wait,      NAMED,   UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_LOGIN_CODE,  decode_login_code,  login_handle_code,      NAMED,   UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_ADD,         decode_add,         account_handle_add,     UNNAMED, UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_DELETE,      decode_account,     account_handle_delete,  NAMED,   UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_DOCTOR,      decode_doctor,      doctor_handle,          NAMED,   UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_LOCK,        decode_none,        vault_handle_lock,      UNNAMED, LOCKED_TOO,    LOCAL_ONLY},
    {PROTO_REQ_UNLOCK,      decode_unlock,      vault_handle_unlock,    UNNAMED, LOCKED_TOO,    LOCAL_ONLY},
    {PROTO_REQ_EXPORT,      decode_export,      vault_handle_export,    UNNAMED, UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_RESTORE,     decode_restore,     vault_handle_restore,   UNNAMED, UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_SEND,        decode_send,        send_handle_begin,      UNNAMED, UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_SEND_DATA,   decode_send_data,   send_handle_data,       UNNAMED, UNLOCKED_ONLY, LOCAL_ONLY},
    {PROTO_REQ_SEND_END,    decode_send_end,    send_handle_end,        UNNAMED, UNLOCKED_ONLY, LOCAL_ONLY},
};
/* clang-format on */

const struct dispatch_table daemon_requests = {
    .entries = entries,
    .n = sizeof(entries) / sizeof(entries[0]),
    .hooks = {.locked = is_locked, .find = find_account},
};
