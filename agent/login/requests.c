/*
 * requests.c: LOGIN_START, LOGIN_WAIT and LOGIN_CODE (login.h).
 */
#include <string.h>

#include "account/account.h"
#include "core/conn.h"
#include "login/login.h"
#include "login/login_internal.h"

/* The longest flow name a LOGIN_START may carry. */
#define FLOW_NAME_MAX 31

void login_handle_start(struct agent_request *q)
{
	const struct proto_login_start_req *m = &q->m.login_start;
	char flow[FLOW_NAME_MAX + 1];
	struct agent_err err;

	if (m->flow.len > FLOW_NAME_MAX) {
		agent_conn_reply_failure(q->conn, XO_ERR_MSG_BAD, NULL);
		return;
	}
	memcpy(flow, m->flow.ptr, m->flow.len);
	flow[m->flow.len] = '\0';
	agent_err_clear(&err);
	if (login_start(q->acct, q->conn, flow[0] != '\0' ? flow : NULL,
			&err) != 0)
		agent_conn_reply_err(q->conn, &err);
}

void login_handle_wait(struct agent_request *q)
{
	struct account *acct = q->acct;
	const struct agent_err *outcome = account_login_outcome(acct);
	struct account_status st;
	int r;

	account_status(acct, &st);
	if (account_login(acct) != NULL) {
		if ((r = login_wait(acct, q->conn, WAIT_LOGIN,
				    q->m.account.wait_ms)) != 0)
			agent_conn_reply_failure(q->conn, r, NULL);
	} else if (outcome->code != 0) {
		agent_conn_reply_err(q->conn, outcome);
	} else if (st.has_tokens) {
		agent_conn_reply_success(q->conn);
	} else {
		agent_conn_reply_failure(q->conn, XO_ERR_LOGIN_NEEDED,
					 "no login in progress");
	}
}

void login_handle_code(struct agent_request *q)
{
	const struct proto_login_code_req *m = &q->m.login_code;
	struct login *l = account_login(q->acct);
	const char *name = account_name(q->acct);
	struct agent_err err;
	int r;

	agent_err_clear(&err);
	if (l == NULL || l->flow != AGENT_FLOW_PASTE || !l->ready) {
		agent_err_set(&err, XO_ERR_LOGIN_MISMATCH,
			      "%s: no paste login is waiting for a code: run "
			      "'xoauth login %s --flow paste' first",
			      name, name);
		agent_conn_reply_err(q->conn, &err);
		return;
	}
	/* The response points into the frame, which conn.c wipes. */
	if (login_take_pasted(l, m->response.ptr, m->response.len, &err) != 0)
		agent_conn_reply_err(q->conn, &err);
	else if ((r = login_wait(q->acct, q->conn, WAIT_LOGIN_CODE,
				 m->wait_ms)) != 0)
		agent_conn_reply_failure(q->conn, r, NULL);
}
