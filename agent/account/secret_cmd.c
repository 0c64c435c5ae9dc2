/*
 * secret_cmd.c: client_secret_cmd, run on demand (secret_cmd.h).
 *
 * The output lands in sodium_malloc memory (spawn.c), the first line is
 * sealed from there, and the buffer is wiped when the run is freed, so the
 * secret is never in ordinary heap memory.  Messages describe how the
 * command ended and never quote what it printed: a failing password
 * manager may well print the secret's neighbours.
 */
#include <stdio.h>
#include <string.h>

#include <xoauth/xo_errors.h>

#include "account/account_internal.h"
#include "account/secret_cmd.h"
#include "account/spawn.h"
#include "core/log.h"
#include "secret/secret.h"

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

size_t agent_secret_cmd_first_line(const char *out, size_t len, size_t *start)
{
	const char *nl = memchr(out, '\n', len);
	size_t b = 0, e = nl != NULL ? (size_t)(nl - out) : len;

	while (b < e && is_blank(out[b]))
		b++;
	while (e > b && is_blank(out[e - 1]))
		e--;
	*start = b;
	return e - b;
}

int agent_secret_cmd_used(const struct account *acct)
{
	return acct->cfg.client_secret_cmd != NULL;
}

void agent_secret_cmd_forget(struct account *acct)
{
	if (!agent_secret_cmd_used(acct))
		return;
	agent_secret_free(acct->client_secret);
	acct->client_secret = NULL;
	acct->secret_fresh = false;
}

int agent_secret_cmd_waits(const struct account *acct, agent_secret_ready_cb cb)
{
	return acct->secret_run != NULL && acct->secret_cb == cb;
}

void agent_secret_cmd_cancel(struct account *acct)
{
	agent_spawn_cancel(acct->secret_run);
	acct->secret_run = NULL;
	acct->secret_cb = NULL;
}

/* Seals the first line of the output; 0 or XO_ERR_CONFIG (why in
   acct->last). */
static int take_secret(struct account *acct,
		       const struct agent_spawn_result *res)
{
	const char *name = acct->cfg.name;
	struct agent_secret *sec = NULL;
	char how[160], fp[9];
	size_t start = 0, n = 0;
	int r;

	if (!res->exited || res->status != 0) {
		agent_spawn_describe(res, how, sizeof(how));
		return agent_err_set(&acct->last, XO_ERR_CONFIG,
				     "%s: client_secret_cmd %s", name, how);
	}
	if (res->out != NULL)
		n = agent_secret_cmd_first_line(res->out->data, res->out->len,
						&start);
	if (res->truncated &&
	    memchr(res->out->data, '\n', res->out->len) == NULL) {
		return agent_err_set(&acct->last, XO_ERR_CONFIG,
				     "%s: client_secret_cmd printed a first "
				     "line longer than %d bytes, which is no "
				     "client secret",
				     name, AGENT_SECRET_CMD_MAX_OUTPUT);
	}
	if (n == 0) {
		return agent_err_set(&acct->last, XO_ERR_CONFIG,
				     "%s: client_secret_cmd printed no secret "
				     "(its first line is empty)",
				     name);
	}
	if ((r = agent_secret_seal(acct->agent->shield, res->out->data + start,
				   n, &sec)) != 0) {
		return agent_err_set(&acct->last, r,
				     "%s: cannot keep the client secret: %s",
				     name, proto_strerror(r));
	}
	agent_secret_free(acct->client_secret);
	acct->client_secret = sec;
	acct->secret_fresh = true;
	agent_secret_fingerprint(sec, fp);
	log_info("%s: client secret %s from client_secret_cmd", name, fp);
	return 0;
}

static void on_done(void *arg, struct agent_spawn_result *res)
{
	struct account *acct = arg;
	agent_secret_ready_cb cb = acct->secret_cb;
	int r;

	acct->secret_run = NULL;
	acct->secret_cb = NULL;
	/* Whoever waits logs the failure, with what it means for them. */
	r = take_secret(acct, res);
	if (cb != NULL)
		cb(acct, r);
}

int agent_secret_cmd_fetch(struct account *acct, agent_secret_ready_cb cb,
			   bool *running)
{
	struct agent *a = acct->agent;
	struct agent_spawn_opts opts;
	char label[96], env_account[96];
	const char *env[2];
	int r;

	*running = false;
	if (!agent_secret_cmd_used(acct) || acct->client_secret != NULL)
		return 0;
	if (acct->secret_run != NULL) {
		*running = acct->secret_cb == cb;
		return *running ? 0 : XO_ERR_BUSY;
	}
	snprintf(label, sizeof(label), "%s: client_secret_cmd", acct->cfg.name);
	/* One script may serve several accounts. */
	snprintf(env_account, sizeof(env_account), "XOAUTH_ACCOUNT=%s",
		 acct->cfg.name);
	env[0] = env_account;
	env[1] = NULL;
	memset(&opts, 0, sizeof(opts));
	opts.cmd = acct->cfg.client_secret_cmd;
	opts.label = label;
	opts.env = env;
	opts.out_cap = AGENT_SECRET_CMD_MAX_OUTPUT;
	opts.timeout_ms = a->config->secret_cmd_timeout_ms;
	r = agent_spawn(a->spawns, &opts, on_done, acct, &acct->secret_run);
	if (r != 0)
		return agent_err_set(
		    &acct->last, r == XO_ERR_IO ? XO_ERR_CONFIG : r,
		    "%s: client_secret_cmd could not be started: %s",
		    acct->cfg.name,
		    r == XO_ERR_BUSY ? "too many commands are running"
				     : proto_strerror(r));
	acct->secret_cb = cb;
	acct->secret_fresh = false;
	*running = true;
	log_debug("%s: running client_secret_cmd", acct->cfg.name);
	return 0;
}
