/*
 * notify.h: the notification hook (xoauth.conf(5), notify_cmd).
 *
 * When an account needs the user, the agent runs the account's notify_cmd,
 * or else [agent] notify_cmd, once per event, bounded by notify_timeout.
 * The command learns what happened from its environment:
 *
 *   XOAUTH_ACCOUNT    the account's name
 *   XOAUTH_EMAIL      its address, when known
 *   XOAUTH_REASON     login-pending, reauth or config-error
 *   XOAUTH_MESSAGE    one line for people: what happened, what to do
 *   XOAUTH_URL        login-pending: where to sign in
 *   XOAUTH_USER_CODE  login-pending: the code to enter there
 *
 * None of them ever holds a secret (the device code, tokens and client
 * secrets stay in the agent).  Its output is discarded and its exit status
 * only logged; the agent never waits for it.
 */
#ifndef XO_ACCOUNT_NOTIFY_H
#define XO_ACCOUNT_NOTIFY_H

#include <stddef.h>

struct account;

enum agent_notify_reason {
	NOTIFY_LOGIN_PENDING,
	NOTIFY_REAUTH,
	NOTIFY_CONFIG_ERROR,
};

/* The XOAUTH_REASON value: "login-pending", "reauth", "config-error". */
const char *agent_notify_reason_name(enum agent_notify_reason why);

/*
 * Runs the hook for acct, if one is configured.  message is required; url
 * and user_code may be NULL (left out of the environment).  Failures to
 * start are logged, never reported: the hook is a courtesy.
 */
void agent_notify(struct account *acct, enum agent_notify_reason why,
		  const char *message, const char *url, const char *user_code);

/*
 * Pure: "NAME=value" into buf, cut to fit, with control characters in
 * value turned into spaces (a message from a provider may hold anything).
 * Returns buf; NULL only when not even "NAME=" fits.
 */
const char *agent_notify_env(char *buf, size_t len, const char *name,
			     const char *value);

#endif
