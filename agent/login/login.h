/*
 * login.h: the requests the login room answers (PROTOCOL.md 4.6, 4.7 and
 * 4.11), for the request table (daemon/requests.c): LOGIN_START starts or
 * joins a login and answers with what the user must do, LOGIN_WAIT waits
 * for its end, LOGIN_CODE hands the paste flow's redirect in.
 */
#ifndef XO_LOGIN_H
#define XO_LOGIN_H

#include "core/dispatch.h"

void login_handle_start(struct agent_request *q);
void login_handle_wait(struct agent_request *q);
void login_handle_code(struct agent_request *q);

#endif
