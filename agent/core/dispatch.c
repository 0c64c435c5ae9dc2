/*
 * dispatch.c: one request in, exactly one reply out (now, or later through
 * a waiter).  Decoding errors get a FAILURE reply and the connection stays
 * open; only framing errors (conn.c) close it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/agent.h"
#include "core/log.h"
#include "vault/vault.h"

#define CAPABILITIES                                                          \
	"token xoauth2 oauthbearer list refresh remove import login-device "   \
	"login-browser login-paste client-credentials add delete doctor "      \
	"vault"

int agent_reply_buf(size_t cap, struct proto_writer *w)
{
	void *buf;

	if (cap > PROTO_MAX_MSG + PROTO_HEADER_LEN)
		cap = PROTO_MAX_MSG + PROTO_HEADER_LEN;
	if ((buf = malloc(cap)) == NULL) {
		proto_writer_init(w, NULL, 0);
		return XO_ERR_NOMEM;
	}
	proto_writer_init(w, buf, cap);
	return 0;
}

/* Finds the named account or answers NO_ACCOUNT. */
static struct account *account_or_fail(struct conn *c, struct proto_str name)
{
	struct account *acct;
	char msg[200];

	acct = agent_account_find(agent_conn_agent(c), name.ptr, name.len);
	if (acct == NULL) {
		snprintf(msg, sizeof(msg), "no account '%.*s'",
			 (int)(name.len > 100 ? 100 : name.len), name.ptr);
		agent_conn_reply_failure(c, XO_ERR_NO_ACCOUNT, msg);
	}
	return acct;
}

static void do_query(struct conn *c, struct proto_reader *r)
{
	struct proto_query q;
	struct proto_version v;
	struct proto_writer w;

	if (proto_dec_query(r, &q) != 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		return;
	}
	/* PROTOCOL.md 3.1: answer with the highest version we speak that
	   the client does too. */
	if (q.version < 1) {
		agent_conn_reply_failure(c, XO_ERR_VERSION,
					 "this agent speaks protocol version 1");
		return;
	}
	v.version = PROTO_VERSION;
	v.agent = proto_str_c("xoauth-agent " XO_VERSION);
	v.caps = proto_str_c(CAPABILITIES);
	if (agent_reply_buf(512, &w) != 0 || proto_enc_version(&w, &v) != 0) {
		free(w.buf);
		agent_conn_reply_failure(c, XO_ERR_NOMEM, NULL);
		return;
	}
	agent_conn_reply(c, w.buf, w.len);
}

static void do_token(struct conn *c, struct proto_reader *r)
{
	struct proto_token_req q;
	struct account *acct;
	char msg[512] = "";
	int rc;

	if (proto_dec_token_req(r, &q) != 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		return;
	}
	if ((acct = account_or_fail(c, q.account)) == NULL)
		return;
	rc = agent_token_try(acct, c, &q, msg, sizeof(msg));
	if (rc == 1)
		rc = agent_waiter_add(acct, c, WAIT_TOKEN, &q, q.wait_ms);
	if (rc < 0)
		agent_conn_reply_failure(c, rc, msg);
}

static void do_list(struct conn *c)
{
	struct agent *a = agent_conn_agent(c);
	struct proto_account_info info;
	struct proto_writer w;
	struct account *acct;
	uint32_t n = 0;

	for (acct = a->accounts; acct != NULL; acct = acct->next)
		n++;
	if (agent_reply_buf(PROTO_MAX_MSG + PROTO_HEADER_LEN, &w) != 0) {
		agent_conn_reply_failure(c, XO_ERR_NOMEM, NULL);
		return;
	}
	proto_enc_list_begin(&w, n);
	for (acct = a->accounts; acct != NULL; acct = acct->next) {
		agent_account_info(acct, &info);
		proto_enc_list_entry(&w, &info);
	}
	if (proto_enc_list_end(&w) != 0) {
		free(w.buf);
		agent_conn_reply_failure(c, XO_ERR_MSG_TOO_LARGE,
					 "too many accounts for one reply");
		return;
	}
	agent_conn_reply(c, w.buf, w.len);
}

static void do_refresh(struct conn *c, struct account *acct,
		       uint32_t wait_ms)
{
	int rc;

	/* Asked by name: a token the agent would not send again by itself
	   (an interrupted refresh, refresh.c) is tried now. */
	acct->interrupted = 0;
	if ((rc = agent_refresh_start(acct)) != 0) {
		agent_conn_reply_failure(c, rc, acct->last_error);
		return;
	}
	if ((rc = agent_waiter_add(acct, c, WAIT_REFRESH, NULL, wait_ms)) != 0)
		agent_conn_reply_failure(c, rc, NULL);
}

static void do_import(struct conn *c, struct proto_reader *r)
{
	struct agent *a = agent_conn_agent(c);
	struct proto_import_req q;
	struct agent_secret *sec = NULL;
	struct account *acct;
	char fp[9];
	int rc;

	if (proto_dec_import_req(r, &q) != 0 || q.refresh_token.len == 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD,
					 "empty or malformed refresh token");
		return;
	}
	if ((acct = account_or_fail(c, q.account)) == NULL)
		return;
	if (agent_account_is_app(acct)) {
		agent_conn_reply_failure(
		    c, XO_ERR_UNSUPPORTED_FLOW,
		    "this account uses flow = client_credentials: it has no "
		    "refresh token, and gets its tokens with the client's own "
		    "credentials");
		return;
	}
	if (acct->refreshing || acct->login != NULL) {
		agent_conn_reply_failure(c, XO_ERR_BUSY,
					 "a refresh or login is in progress; "
					 "try again in a moment");
		return;
	}
	if ((rc = agent_secret_seal(a->shield, q.refresh_token.ptr,
				    q.refresh_token.len, &sec)) != 0) {
		agent_conn_reply_failure(c, rc, NULL);
		return;
	}
	agent_account_forget(acct);
	acct->refresh_token = sec;
	sec = NULL; /* transferred */
	agent_secret_fingerprint(acct->refresh_token, fp);
	log_info("%s: refresh token imported (%s)", acct->cfg.name, fp);
	acct->state = PROTO_STATE_IDLE;
	agent_account_set_obtained(acct, time(NULL));
	/* With a vault, the refresh writes the token before sending it. */
	do_refresh(c, acct, 0);
}

static void do_login_wait(struct conn *c, struct account *acct,
			  uint32_t wait_ms)
{
	int rc;

	if (acct->login != NULL) {
		rc = agent_waiter_add(acct, c, WAIT_LOGIN, NULL, wait_ms);
		if (rc != 0)
			agent_conn_reply_failure(c, rc, NULL);
	} else if (acct->login_err != 0) {
		agent_conn_reply_failure(c, acct->login_err, acct->login_error);
	} else if (acct->refresh_token != NULL || acct->access_token != NULL) {
		agent_conn_reply_success(c);
	} else {
		agent_conn_reply_failure(c, XO_ERR_LOGIN_NEEDED,
					 "no login in progress");
	}
}

static void do_login_start(struct conn *c, struct proto_reader *r)
{
	struct proto_login_start_req q;
	struct account *acct;
	char flow[32];
	int rc;

	if (proto_dec_login_start_req(r, &q) != 0 ||
	    q.flow.len >= sizeof(flow)) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		return;
	}
	if ((acct = account_or_fail(c, q.account)) == NULL)
		return;
	memcpy(flow, q.flow.ptr, q.flow.len);
	flow[q.flow.len] = '\0';
	rc = agent_login_start(acct, c, flow[0] != '\0' ? flow : NULL);
	if (rc != 0)
		agent_conn_reply_failure(c, rc, acct->login_error);
}

static void do_add(struct conn *c, struct proto_reader *r)
{
	struct proto_add_req q;
	char msg[900];
	int rc;

	if (proto_dec_add_req(r, &q) != 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		return;
	}
	rc = agent_runtime_add(agent_conn_agent(c), &q, msg, sizeof(msg));
	if (rc != 0)
		agent_conn_reply_failure(c, rc, msg[0] != '\0' ? msg : NULL);
	else
		agent_vault_reply_when_written(
		    c, agent_vault_persist(agent_conn_agent(c)));
}

static void do_doctor(struct conn *c, struct proto_reader *r)
{
	struct proto_doctor_req q;
	struct account *acct;
	int rc;

	if (proto_dec_doctor_req(r, &q) != 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		return;
	}
	if ((acct = account_or_fail(c, q.account)) == NULL)
		return;
	if ((rc = agent_doctor_start(acct, c, &q)) != 0)
		agent_conn_reply_failure(c, rc, NULL);
}

static void do_login_code(struct conn *c, struct proto_reader *r)
{
	struct proto_login_code_req q;
	struct account *acct;
	char msg[700] = "";
	int rc;

	if (proto_dec_login_code_req(r, &q) != 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		return;
	}
	if ((acct = account_or_fail(c, q.account)) == NULL)
		return;
	/* q.response points into the frame, which conn.c wipes. */
	rc = agent_login_code(acct, c, q.response.ptr, q.response.len,
			      q.wait_ms, msg, sizeof(msg));
	if (rc != 0)
		agent_conn_reply_failure(c, rc, msg);
}

static void do_account_req(struct conn *c, uint8_t type,
			   struct proto_reader *r)
{
	struct proto_account_req q;
	struct account *acct;
	char msg[700];
	int rc;

	if (proto_dec_account_req(r, &q) != 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		return;
	}
	if ((acct = account_or_fail(c, q.account)) == NULL)
		return;
	switch (type) {
	case PROTO_REQ_REFRESH:
		do_refresh(c, acct, q.wait_ms);
		break;
	case PROTO_REQ_REMOVE:
		agent_login_cancel(acct);
		agent_account_forget(acct);
		acct->state = PROTO_STATE_NEED_LOGIN;
		agent_waiters_fail(acct, XO_ERR_LOGIN_NEEDED,
				   "the account's tokens were removed");
		log_info("%s: tokens removed", acct->cfg.name);
		agent_schedule(acct->agent);
		agent_vault_reply_when_written(
		    c, agent_vault_persist(acct->agent));
		break;
	case PROTO_REQ_LOGIN_WAIT:
		do_login_wait(c, acct, q.wait_ms);
		break;
	case PROTO_REQ_DELETE:
		rc = agent_runtime_delete(agent_conn_agent(c), acct, msg,
					  sizeof(msg));
		if (rc != 0)
			agent_conn_reply_failure(c, rc, msg);
		else
			agent_vault_reply_when_written(
			    c, agent_vault_persist(agent_conn_agent(c)));
		break;
	}
}

static void do_vault(struct conn *c, uint8_t type, struct proto_reader *r)
{
	struct proto_passphrase_req pq;
	struct proto_restore_req rq;

	switch (type) {
	case PROTO_REQ_LOCK:
		if (proto_reader_finish(r) != 0)
			agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		else
			agent_vault_lock_req(c);
		return;
	case PROTO_REQ_UNLOCK:
	case PROTO_REQ_EXPORT:
		/* The passphrase points into the frame, which conn.c
		   wipes; the vault copies it into wiped memory. */
		if (proto_dec_passphrase_req(r, type, &pq) != 0)
			agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		else if (type == PROTO_REQ_UNLOCK)
			agent_vault_unlock_req(c, &pq);
		else
			agent_vault_export_req(c, &pq);
		return;
	case PROTO_REQ_RESTORE:
		if (proto_dec_restore_req(r, &rq) != 0)
			agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		else
			agent_vault_restore_req(c, &rq);
		return;
	}
}

/* What a locked agent still answers: nothing that needs a secret. */
static int works_locked(uint8_t type)
{
	return type == PROTO_REQ_QUERY || type == PROTO_REQ_LIST ||
	       type == PROTO_REQ_LOCK || type == PROTO_REQ_UNLOCK;
}

void agent_dispatch(struct conn *c, const unsigned char *frame, size_t len)
{
	struct proto_reader r;
	uint8_t type;

	if (proto_frame_open(frame, len, &type, &r) != 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		return;
	}
	if (agent_vault_locked(agent_conn_agent(c)) && !works_locked(type) &&
	    type <= PROTO_REQ_RESTORE) {
		agent_conn_reply_failure(c, XO_ERR_LOCKED,
					 "the agent is locked: run 'xoauth "
					 "unlock'");
		return;
	}
	switch (type) {
	case PROTO_REQ_LOCK:
	case PROTO_REQ_UNLOCK:
	case PROTO_REQ_EXPORT:
	case PROTO_REQ_RESTORE:
		do_vault(c, type, &r);
		break;
	case PROTO_REQ_QUERY:
		do_query(c, &r);
		break;
	case PROTO_REQ_TOKEN:
		do_token(c, &r);
		break;
	case PROTO_REQ_LIST:
		if (proto_reader_finish(&r) != 0)
			agent_conn_reply_failure(c, XO_ERR_MSG_BAD, NULL);
		else
			do_list(c);
		break;
	case PROTO_REQ_IMPORT:
		do_import(c, &r);
		break;
	case PROTO_REQ_REFRESH:
	case PROTO_REQ_REMOVE:
	case PROTO_REQ_LOGIN_WAIT:
	case PROTO_REQ_DELETE:
		do_account_req(c, type, &r);
		break;
	case PROTO_REQ_ADD:
		do_add(c, &r);
		break;
	case PROTO_REQ_LOGIN_START:
		do_login_start(c, &r);
		break;
	case PROTO_REQ_DOCTOR:
		do_doctor(c, &r);
		break;
	case PROTO_REQ_LOGIN_CODE:
		do_login_code(c, &r);
		break;
	default:
		log_debug("unknown message type %u", type);
		agent_conn_reply_failure(c, XO_ERR_MSG_UNKNOWN, NULL);
		break;
	}
}
