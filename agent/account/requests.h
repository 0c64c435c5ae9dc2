/*
 * requests.h: the requests the account room answers (PROTOCOL.md 4),
 * for the request table (daemon/requests.c).  Each gets a decoded request
 * whose account, where the table says it names one, is found already.
 */
#ifndef XO_ACCOUNT_REQUESTS_H
#define XO_ACCOUNT_REQUESTS_H

#include "core/dispatch.h"

struct agent_err;

void account_handle_token(struct agent_request *q);
void account_handle_list(struct agent_request *q);
void account_handle_refresh(struct agent_request *q);
void account_handle_remove(struct agent_request *q);
void account_handle_import(struct agent_request *q);
void account_handle_add(struct agent_request *q);
void account_handle_delete(struct agent_request *q);

/* LOGIN_START of an app account (login/ hands it over): the token is
   fetched now and the LOGIN reply follows it.  0, or the reason in err
   for the caller to answer with. */
int account_app_login_start(struct account *acct, struct conn *c,
			    struct agent_err *err);

#endif
