/*
 * notify.c: the notification hook (notify.h).
 *
 * The run is not tied to the account: the hook outlives a reload or the
 * account's removal, and spawn.c ends it at its deadline or when the agent
 * stops.  The environment is built on the stack and copied by uv_spawn().
 */
#include <stdio.h>
#include <string.h>

#include <xoauth/xo_errors.h>

#include "core/log.h"
#include "account/account_internal.h"
#include "account/notify.h"
#include "account/spawn.h"

#define ENV_MAX 1200

const char *agent_notify_reason_name(enum agent_notify_reason why)
{
	switch (why) {
	case NOTIFY_LOGIN_PENDING:
		return "login-pending";
	case NOTIFY_REAUTH:
		return "reauth";
	case NOTIFY_CONFIG_ERROR:
		return "config-error";
	}
	return "unknown";
}

const char *agent_notify_env(char *buf, size_t len, const char *name,
			     const char *value)
{
	size_t i, nl = strlen(name);
	int n;

	n = snprintf(buf, len, "%s=%s", name, value);
	if (n < 0 || nl + 1 >= len)
		return NULL;
	for (i = nl + 1; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = ' ';
	return buf;
}

static void on_done(void *arg, struct agent_spawn_result *res)
{
	char how[160];

	(void)arg;
	if (res->exited && res->status == 0) {
		log_debug("%s: done", res->label);
		return;
	}
	agent_spawn_describe(res, how, sizeof(how));
	log_info("%s %s", res->label, how);
}

void agent_notify(struct account *acct, enum agent_notify_reason why,
		  const char *message, const char *url, const char *user_code)
{
	struct agent *a = acct->agent;
	const char *cmd = acct->cfg.notify_cmd;
	const char *env[7];
	char e_account[ENV_MAX], e_email[ENV_MAX], e_reason[64];
	char e_message[ENV_MAX], e_url[ENV_MAX], e_code[ENV_MAX], label[128];
	struct agent_spawn_opts opts;
	size_t n = 0;
	int r;

	if (cmd == NULL && a->config != NULL)
		cmd = a->config->notify_cmd;
	if (cmd == NULL || a->stopping)
		return;
	env[n++] = agent_notify_env(e_account, sizeof(e_account),
				    "XOAUTH_ACCOUNT", acct->cfg.name);
	env[n++] = agent_notify_env(e_reason, sizeof(e_reason), "XOAUTH_REASON",
				    agent_notify_reason_name(why));
	env[n++] = agent_notify_env(e_message, sizeof(e_message),
				    "XOAUTH_MESSAGE", message);
	if (acct->email != NULL)
		env[n++] = agent_notify_env(e_email, sizeof(e_email),
					    "XOAUTH_EMAIL", acct->email);
	if (url != NULL)
		env[n++] =
		    agent_notify_env(e_url, sizeof(e_url), "XOAUTH_URL", url);
	if (user_code != NULL)
		env[n++] = agent_notify_env(e_code, sizeof(e_code),
					    "XOAUTH_USER_CODE", user_code);
	env[n] = NULL;
	snprintf(label, sizeof(label), "%s: notify_cmd (%s)", acct->cfg.name,
		 agent_notify_reason_name(why));
	memset(&opts, 0, sizeof(opts));
	opts.cmd = cmd;
	opts.label = label;
	opts.env = env;
	opts.timeout_ms = a->config->notify_timeout_ms;
	if ((r = agent_spawn(a->spawns, &opts, on_done, NULL, NULL)) != 0)
		log_error("%s: could not be run: %s", label, proto_strerror(r));
	else
		log_info("%s: started", label);
}
