/*
 * xo_errors.h: the one list of xoauth error codes, shared by the agent, the
 * wire codec and libxoauth.  Installed with <xoauth/xo.h>.
 *
 * Each entry is XX(NAME, code, wire_status, "message"):
 *   code         the value a function returns: 0 for success, negative for
 *                an error (XO_ERR_NAME);
 *   wire_status  the stable status number a FAILURE reply carries for it
 *                (see proto/PROTOCOL.md, "Status codes");
 *   message      a short English description, for xo_strerror().
 *
 * Codes and status numbers never change once released; new entries go at
 * the end.
 */
#ifndef XOAUTH_XO_ERRORS_H
#define XOAUTH_XO_ERRORS_H

#define XO_ERR_MAP(XX)                                                        \
	XX(OK, 0, 0, "success")                                               \
	XX(INTERNAL, -1, 1, "internal error")                                 \
	XX(NOMEM, -2, 1, "out of memory")                                     \
	XX(INVALID, -3, 3, "invalid argument")                                \
	XX(MSG_TRUNCATED, -4, 3, "message is truncated")                      \
	XX(MSG_TOO_LARGE, -5, 3, "message exceeds the maximum size")          \
	XX(MSG_UNKNOWN, -6, 2, "unknown message type")                        \
	XX(MSG_BAD, -7, 3, "malformed message")                               \
	XX(NO_ACCOUNT, -8, 4, "no such account")                              \
	XX(LOGIN_NEEDED, -9, 5, "login needed")                               \
	XX(REFRESH_FAILED, -10, 6, "token refresh failed")                    \
	XX(TIMEOUT, -11, 7, "timed out")                                      \
	XX(PROVIDER_CONFIG, -12, 8,                                           \
	   "the provider rejected the client configuration")                  \
	XX(LOCKED, -13, 9, "the agent is locked")                             \
	XX(BUSY, -14, 10, "the agent is busy")                                \
	XX(LOGIN_PENDING, -15, 11, "login is still in progress")              \
	XX(LOGIN_DENIED, -16, 12, "login was denied")                         \
	XX(LOGIN_EXPIRED, -17, 13, "the login code expired")                  \
	XX(VERSION, -18, 14, "unsupported protocol version")                  \
	XX(CONFIG, -19, 15, "configuration error")                            \
	XX(UNSUPPORTED_FLOW, -20, 16,                                         \
	   "the login flow is not supported for this account")                \
	XX(NO_AGENT, -21, 1, "no agent is reachable")                         \
	XX(IO, -22, 1, "I/O error talking to the agent")                      \
	XX(HTTP, -23, 6, "HTTP request failed")                               \
	XX(PROVIDER_REPLY, -24, 6, "the provider sent an unusable reply")     \
	XX(LOGIN_MISMATCH, -25, 17,                                           \
	   "the response does not belong to this login")                      \
	XX(EXISTS, -26, 18, "an account of that name already exists")        \
	XX(CONFIGURED, -27, 19,                                               \
	   "the account is defined in the config file")                       \
	XX(WRONG_PASSPHRASE, -28, 20, "wrong passphrase or key")              \
	XX(VAULT_CORRUPT, -29, 21, "the vault file is damaged")               \
	XX(VAULT_FOREIGN, -30, 21, "the file is not an xoauth-agent vault")   \
	XX(VAULT_NEWER, -31, 21,                                              \
	   "the vault was written by a newer xoauth-agent")                   \
	XX(VAULT_IN_USE, -32, 21, "another agent is using the vault")        \
	XX(NO_VAULT, -33, 22, "there is no vault yet")                      \
	XX(RESTRICTED, -34, 23,                                               \
	   "not answered on this socket: it takes token requests only")      \
	XX(SEND_REFUSED, -35, 24, "the mail service refused the message")     \
	XX(RCPT_REFUSED, -36, 25, "the mail service refused a recipient")     \
	XX(SEND_TEMPFAIL, -37, 26,                                            \
	   "the message could not be sent now; try again later")              \
	XX(SEND_AUTH, -38, 27, "the mail service refused the access token")   \
	XX(MESSAGE_BAD, -39, 28, "the message cannot be sent as it is")

enum xo_err {
#define XO_ERR_ENUM_(name, code, status, msg) XO_ERR_##name = (code),
	XO_ERR_MAP(XO_ERR_ENUM_)
#undef XO_ERR_ENUM_
};

#endif
