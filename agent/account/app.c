/*
 * app.c: `xoauth login` for an app account (flow = client_credentials).
 *
 * There is no user to sign in: a login is a client_credentials grant made
 * now, through the refresh machinery (refresh.c), so it shares its single
 * flight, its secret command and its classification.  The LOGIN reply
 * follows the grant and carries no URL and no code, which tells the client
 * there is nothing to show; its LOGIN_WAIT then succeeds at once.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/agent.h"
#include "core/log.h"

int agent_app_login_start(struct account *acct, struct conn *c)
{
	struct agent *a = acct->agent;
	int r;

	if ((r = agent_refresh_start(acct)) != 0) {
		snprintf(acct->login_error, sizeof(acct->login_error), "%s",
			 acct->last_error);
		return r;
	}
	/* Long enough for the secret command to run into its own deadline
	   and the provider to answer after it. */
	return agent_waiter_add(acct, c, WAIT_APP_LOGIN, NULL,
				a->config->secret_cmd_timeout_ms +
				    (a->config->wait_default_ms > 0
					 ? a->config->wait_default_ms
					 : 10000));
}

int agent_app_login_reply(struct conn *c)
{
	struct proto_login_rep rep;
	struct proto_writer w;

	rep.verification_uri = proto_str_c("");
	rep.verification_uri_complete = proto_str_c("");
	rep.user_code = proto_str_c("");
	rep.expires_in = 0;
	rep.interval = 0;
	rep.flow = proto_str_c("client_credentials");
	if (agent_reply_buf(256, &w) != 0)
		return XO_ERR_NOMEM;
	if (proto_enc_login_rep(&w, &rep) != 0) {
		free(w.buf);
		return XO_ERR_INTERNAL;
	}
	agent_conn_reply(c, w.buf, w.len);
	return 0;
}
