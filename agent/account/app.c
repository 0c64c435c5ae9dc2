/*
 * app.c: `xoauth login` for an app account (flow = client_credentials).
 *
 * There is no user to sign in: a login is a client_credentials grant made
 * now, through the refresh machinery (refresh.c), so it shares its single
 * flight, its secret command and its classification.  The LOGIN reply
 * follows the grant and carries no URL and no code, which tells the client
 * there is nothing to show; its LOGIN_WAIT then succeeds at once.
 */
#include "account/account_internal.h"
#include "account/requests.h"
#include "core/conn.h"

int account_app_login_start(struct account *acct, struct conn *c,
			    struct agent_err *err)
{
	const struct agent_config *cfg = acct->agent->config;
	int r;

	if ((r = account_refresh_start(acct, err)) != 0)
		return r;
	/* Long enough for the secret command to run into its own deadline
	   and the provider to answer after it. */
	if ((r = account_wait_refresh(acct, c, WAIT_APP_LOGIN, NULL,
				      cfg->secret_cmd_timeout_ms +
					  (cfg->wait_default_ms > 0
					       ? cfg->wait_default_ms
					       : 10000))) != 0)
		return agent_err_code(err, r);
	return 0;
}

int account_app_login_reply(struct conn *c)
{
	struct proto_login_rep rep;
	struct agent_reply reply;
	int r;

	rep.verification_uri = proto_str_c("");
	rep.verification_uri_complete = proto_str_c("");
	rep.user_code = proto_str_c("");
	rep.expires_in = 0;
	rep.interval = 0;
	rep.flow = proto_str_c("client_credentials");
	if ((r = agent_reply_init(&reply, 256)) == 0 &&
	    (r = proto_enc_login_rep(&reply.w, &rep)) == 0)
		agent_conn_send(c, &reply);
	agent_reply_cleanup(&reply);
	return r;
}
