/*
 * requests.c: the requests the account room answers (requests.h): TOKEN,
 * LIST, REFRESH, REMOVE, IMPORT, ADD and DELETE.  A change a client asks
 * for is answered once the vault holds it (durable.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account_internal.h"
#include "account/requests.h"
#include "core/conn.h"
#include "core/log.h"
#include "secret/secret.h"

void account_handle_token(struct agent_request *q)
{
	struct agent_err err;
	bool must_wait;
	int r;

	agent_err_clear(&err);
	r = account_token_try(q->acct, q->conn, &q->m.token, &must_wait, &err);
	if (r == 0 && must_wait)
		r = agent_err_code(&err, account_wait_refresh(
					     q->acct, q->conn, WAIT_TOKEN,
					     &q->m.token, q->m.token.wait_ms));
	if (r != 0)
		agent_conn_reply_err(q->conn, &err);
}

/* The most tokens of other scopes one account shows: its graph_scope
   and gmail_scope, with room to spare. */
#define SCOPES_SHOWN 4

void account_handle_list(struct agent_request *q)
{
	struct account_store *s = q->agent->store;
	struct proto_scope_info scopes[SCOPES_SHOWN];
	struct proto_account_info info;
	struct agent_reply reply;
	struct account *acct;
	uint32_t n = 0, n_scopes = 0;
	size_t k, i;

	for (acct = s->accounts; acct != NULL; acct = acct->next) {
		n++;
		if (q->m.list.flags & PROTO_LIST_SCOPES) {
			k = account_list_scopes(acct, scopes, 0);
			n_scopes +=
			    (uint32_t)(k < SCOPES_SHOWN ? k : SCOPES_SHOWN);
		}
	}
	if (agent_reply_init(&reply, PROTO_MAX_MSG + PROTO_HEADER_LEN) != 0) {
		agent_conn_reply_failure(q->conn, XO_ERR_NOMEM, NULL);
		return;
	}
	proto_enc_list_begin(&reply.w, n);
	for (acct = s->accounts; acct != NULL; acct = acct->next) {
		account_list_entry(acct, &info);
		proto_enc_list_entry(&reply.w, &info);
	}
	/* Asked for, and only when there is one: an older client never
	   sees the field (PROTOCOL.md 4.4). */
	if (n_scopes > 0) {
		proto_enc_list_scopes_begin(&reply.w, n_scopes);
		for (acct = s->accounts; acct != NULL; acct = acct->next) {
			k = account_list_scopes(acct, scopes, SCOPES_SHOWN);
			for (i = 0; i < k && i < SCOPES_SHOWN; i++)
				proto_enc_list_scope(&reply.w, &scopes[i]);
		}
	}
	if (proto_enc_list_end(&reply.w) != 0)
		agent_conn_reply_failure(q->conn, XO_ERR_MSG_TOO_LARGE,
					 "too many accounts for one reply");
	else
		agent_conn_send(q->conn, &reply);
	agent_reply_cleanup(&reply);
}

/* Starts a refresh and answers when it has ended. */
static void refresh_and_wait(struct conn *c, struct account *acct,
			     uint32_t wait_ms)
{
	struct agent_err err;
	int r;

	agent_err_clear(&err);
	if (account_refresh_start(acct, &err) != 0) {
		agent_conn_reply_err(c, &err);
		return;
	}
	if ((r = account_wait_refresh(acct, c, WAIT_REFRESH, NULL, wait_ms)) !=
	    0)
		agent_conn_reply_failure(c, r, NULL);
}

void account_handle_refresh(struct agent_request *q)
{
	/* Asked by name: a token the agent would not send again by itself
	   (an interrupted refresh, refresh.c) is tried now. */
	if (q->acct->mark == MARK_INTERRUPTED)
		q->acct->mark = MARK_NONE;
	refresh_and_wait(q->conn, q->acct, q->m.account.wait_ms);
}

void account_handle_remove(struct agent_request *q)
{
	struct account *acct = q->acct;

	account_login_cancel(acct);
	/* A refresh running now must not bring the tokens back when its
	   reply comes. */
	account_refresh_cancel(acct);
	account_forget(acct);
	acct->state = PROTO_STATE_NEED_LOGIN;
	agent_waiters_fail(&acct->waiters, XO_ERR_LOGIN_NEEDED,
			   "the account's tokens were removed");
	log_info("%s: tokens removed", acct->cfg.name);
	account_schedule(acct);
	account_reply_when_durable(
	    acct->store, q->conn,
	    account_store_persist(acct->store, acct->cfg.name), false);
}

void account_handle_import(struct agent_request *q)
{
	const struct proto_import_req *m = &q->m.import;
	struct account_import how = {.source = "imported"};
	struct account *acct = q->acct;
	int r;

	if (m->refresh_token.len == 0) {
		agent_conn_reply_failure(q->conn, XO_ERR_MSG_BAD,
					 "empty or malformed refresh token");
		return;
	}
	if (account_is_app(acct)) {
		agent_conn_reply_failure(
		    q->conn, XO_ERR_UNSUPPORTED_FLOW,
		    "this account uses flow = client_credentials: it has no "
		    "refresh token, and gets its tokens with the client's own "
		    "credentials");
		return;
	}
	if (acct->op != ACCOUNT_OP_NONE) {
		agent_conn_reply_failure(q->conn, XO_ERR_BUSY,
					 "a refresh or login is in progress; "
					 "try again in a moment");
		return;
	}
	/* The token points into the frame, which conn.c wipes. */
	if ((r = account_import(acct, m->refresh_token.ptr,
				m->refresh_token.len, &how)) != 0) {
		agent_conn_reply_failure(q->conn, r, NULL);
		return;
	}
	/* With a vault, the refresh writes the token before sending it. */
	refresh_and_wait(q->conn, acct, 0);
}

void account_handle_add(struct agent_request *q)
{
	struct account_store *s = q->agent->store;
	struct account *acct = NULL;
	struct agent_err err;

	agent_err_clear(&err);
	if (account_runtime_add(s, &q->m.add, &acct, &err) != 0)
		agent_conn_reply_err(q->conn, &err);
	else
		account_reply_when_durable(
		    s, q->conn, account_store_persist(s, acct->cfg.name),
		    false);
}

void account_handle_delete(struct agent_request *q)
{
	struct account_store *s = q->agent->store;
	struct agent_err err;
	char *name;

	agent_err_clear(&err);
	/* The vault writes what is left of the name: a record kept for it,
	   or none. */
	if ((name = strdup(q->acct->cfg.name)) == NULL) {
		agent_conn_reply_failure(q->conn, XO_ERR_NOMEM, NULL);
		return;
	}
	if (account_runtime_delete(s, q->acct, &err) != 0)
		agent_conn_reply_err(q->conn, &err);
	else
		account_reply_when_durable(
		    s, q->conn, account_store_persist(s, name), false);
	free(name);
}
