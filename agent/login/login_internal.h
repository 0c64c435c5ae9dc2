/*
 * login.h: what the login files share (login.c: starting, joining,
 * ending and answering; login_device.c: RFC 8628; login_code.c: the
 * browser and paste flows).  Internal to those three files.
 */
#ifndef XO_AGENT_LOGIN_H
#define XO_AGENT_LOGIN_H

#include "core/agent.h"

/* How long a browser or paste login waits for the user. */
#define LOGIN_CODE_TTL_S 900

/*
 * Ends the account's login with err (0: logged in) and msg (for people),
 * closes what it holds and wakes whoever waits.  The struct login is freed
 * later, from the loop.
 */
void login_finish(struct account *acct, int err, const char *msg);

/* Starts the device flow for l (already the account's login). */
int login_device_start(struct account *acct, struct login *l);
/* Sends the device flow's LOGIN reply fields into rep. */
void login_device_reply(const struct login *l, struct proto_login_rep *rep);

/* Starts the browser or paste flow for l; the reason of a failure goes
   to acct->login_error. */
int login_code_start(struct account *acct, struct login *l);
/* Stops the browser flow's listener (an answer being written still goes
   out). */
void login_code_close_listener(struct login *l);
/* Frees what the browser and paste flows hold in l. */
void login_code_cleanup(struct login *l);

/*
 * Stores a grant's tokens, starts the account's lifetime and plans the
 * first refresh.  With a vault the refresh token is written first: then
 * it returns 1, and stored(acct) runs once the vault holds it (the tokens
 * are the account's by then).  0 when the tokens are stored already, or
 * an XO_ERR_*.
 */
int login_store_tokens(struct account *acct, struct oauth_result *res,
		       agent_durable_cb stored);

#endif
