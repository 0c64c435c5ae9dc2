/*
 * runtime.c: accounts added and deleted at run time (ADD and DELETE,
 * PROTOCOL.md 4.5 and 4.8).
 *
 * A runtime account is an ordinary struct account with `runtime` set: it
 * refreshes, logs in and answers like one from the file.  Its settings are
 * checked by the very code that checks the file (agent_config_account()),
 * so a mistake gets the same words, as "KEY: problem".  SIGHUP keeps it
 * (reload.c); the vault keeps its settings (sealed on the account as
 * `settings`) and creates it again at start and unlock.  Without a vault
 * it lives as long as the agent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "account/account_internal.h"
#include "core/log.h"
#include "secret/buf.h"
#include "secret/secret.h"

/* Keeps the first (in the list) of best and a match by_email. */
static struct account *first_of(struct account *best, bool *best_by_email,
				struct account *acct, bool by_email)
{
	if (acct == NULL)
		return best;
	if (best == NULL || acct->seq < best->seq ||
	    (acct == best && !by_email)) {
		*best_by_email = by_email;
		return acct;
	}
	return best;
}

struct account *account_clash(struct account_store *s,
			      const struct account *self, const char *name,
			      const char *email, bool runtime_only,
			      bool *by_email)
{
	struct account *best = NULL;
	size_t nl = name != NULL ? strlen(name) : 0;
	size_t el = email != NULL ? strlen(email) : 0;

	/* An account is named by its name or its address (PROTOCOL.md 4),
	   so each of the two must not be either of another account's.
	   Addresses compare without case, as account_find() does.  Of
	   several accounts that clash, the first in the list is named; a
	   clash of names is told before one of addresses. */
	*by_email = false;
	if (name != NULL) {
		best = first_of(best, by_email,
				account_index_find(s, IDX_NAME, name, nl, self,
						   runtime_only),
				false);
		best = first_of(best, by_email,
				account_index_find(s, IDX_EMAIL, name, nl, self,
						   runtime_only),
				true);
	}
	if (email != NULL) {
		best = first_of(best, by_email,
				account_index_find(s, IDX_EMAIL, email, el,
						   self, runtime_only),
				true);
		best = first_of(best, by_email,
				account_index_find(s, IDX_LNAME, email, el,
						   self, runtime_only),
				true);
	}
	return best;
}

/*
 * The request's strings as C strings, one after another in one buffer:
 * values may be a client_secret, and agent_buf wipes them (settings_free).
 */
struct settings {
	struct agent_setting s[PROTO_MAX_SETTINGS];
	char *name;
	struct agent_buf buf;
};

/* Appends str and its NUL to b; the string there, or NULL when it does
   not fit. */
static char *take(struct agent_buf *b, struct proto_str str)
{
	size_t at = b->len;

	if (agent_buf_append(b, str.ptr, str.len) != 0 ||
	    agent_buf_append(b, "", 1) != 0)
		return NULL;
	return (char *)b->data + at;
}

static int settings_init(struct settings *st, const struct proto_add_req *q)
{
	size_t i, len = q->name.len + 1;
	int r;

	memset(st, 0, sizeof(*st)); /* st->buf: empty, never grown */
	if (q->count > PROTO_MAX_SETTINGS)
		return XO_ERR_MSG_BAD;
	/* Each string is at most PROTO_MAX_STR long and there are at most
	   129 of them, so the sum cannot overflow. */
	for (i = 0; i < q->count; i++)
		len += q->settings[i].key.len + q->settings[i].value.len + 2;
	/* All of it at once: a buffer that grew would move the strings
	   already taken. */
	agent_buf_init(&st->buf, len);
	if ((r = agent_buf_reserve(&st->buf, len)) != 0)
		return r;
	/* NULL would mean len was summed wrong. */
	if ((st->name = take(&st->buf, q->name)) == NULL)
		return XO_ERR_INTERNAL;
	for (i = 0; i < q->count; i++) {
		st->s[i].key = take(&st->buf, q->settings[i].key);
		st->s[i].value = take(&st->buf, q->settings[i].value);
		if (st->s[i].key == NULL || st->s[i].value == NULL)
			return XO_ERR_INTERNAL;
	}
	return 0;
}

static void settings_free(struct settings *st)
{
	agent_buf_cleanup(&st->buf);
	memset(st, 0, sizeof(*st));
}

/* The settings as a JSON object, sealed: the vault keeps them to create
   the account again (jansson wipes what it frees, and the text is dumped
   into wiped memory). */
static int seal_settings(struct agent *a, const struct agent_setting *s,
			 size_t n, struct agent_secret **out)
{
	struct agent_plain *text = NULL;
	json_t *obj;
	size_t i, len;
	int r = XO_ERR_NOMEM;

	*out = NULL;
	if ((obj = json_object()) == NULL)
		return r;
	for (i = 0; i < n; i++)
		if (json_object_set_new(
			obj, s[i].key,
			json_string(s[i].value != NULL ? s[i].value : "")) != 0)
			goto out;
	len = json_dumpb(obj, NULL, 0, JSON_COMPACT);
	if (len == 0 || (r = agent_plain_scratch(a->shield, len, &text)) != 0)
		goto out;
	if (json_dumpb(obj, text->data, len, JSON_COMPACT) != len) {
		r = XO_ERR_INTERNAL;
		goto out;
	}
	r = agent_secret_seal(a->shield, text->data, len, out);
out:
	agent_plain_free(text);
	json_decref(obj);
	return r;
}

int account_runtime_create(struct account_store *s, const char *name,
			   const struct agent_setting *settings, size_t n,
			   struct account **out, struct agent_err *err)
{
	struct agent_account_cfg cfg;
	struct account *acct = NULL;
	bool by_email;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	*out = NULL;
	agent_err_clear(err);
	if ((r = agent_config_account(name, settings, n, &cfg, err->msg,
				      sizeof(err->msg))) != 0) {
		err->code = r;
		goto out;
	}
	if ((acct = account_clash(s, NULL, cfg.name, cfg.email, false,
				  &by_email)) != NULL) {
		if (by_email)
			agent_err_set(err, XO_ERR_EXISTS,
				      "the address %s is already the account "
				      "'%s'",
				      acct->email != NULL ? acct->email
							  : cfg.name,
				      acct->cfg.name);
		else
			agent_err_set(
			    err, XO_ERR_EXISTS,
			    "an account '%s' already exists%s", cfg.name,
			    acct->runtime ? "" : " in the config file");
		acct = NULL;
		r = XO_ERR_EXISTS;
		goto out;
	}
	if ((r = account_new(s, &cfg, &acct)) != 0 ||
	    (r = seal_settings(s->agent, settings, n, &acct->settings)) != 0) {
		agent_err_set(err, r, "%s: cannot set the account up: %s",
			      cfg.name, proto_strerror(r));
		account_free(acct, NULL);
		goto out;
	}
	acct->runtime = true;
	account_store_append(s, acct);
	/* An app account wants its first token now. */
	account_schedule(acct);
	*out = acct;
	r = 0;
out:
	agent_account_cfg_cleanup(&cfg);
	return r;
}

int account_runtime_add(struct account_store *s, const struct proto_add_req *q,
			struct account **out, struct agent_err *err)
{
	struct settings st;
	struct account *acct = NULL;
	int r;

	agent_err_clear(err);
	if ((r = settings_init(&st, q)) != 0) {
		agent_err_code(err, r);
		goto out;
	}
	if ((r = account_runtime_create(s, st.name, st.s, q->count, &acct,
					err)) != 0)
		goto out;
	/* The settings are not logged: one may be a client_secret. */
	log_info("%s: account added at run time (provider %s, flow %s)",
		 acct->cfg.name, acct->cfg.provider, acct->cfg.flow);
	if (out != NULL)
		*out = acct;
	r = 0;
out:
	settings_free(&st);
	return r;
}

int account_runtime_delete(struct account_store *s, struct account *acct,
			   struct agent_err *err)
{
	const struct agent_config *cfg = s->agent->config;
	char name[80];

	if (!acct->runtime)
		return agent_err_set(
		    err, XO_ERR_CONFIGURED,
		    "%s is defined in %s (line %d): remove its section there "
		    "and reload the agent (kill -HUP), or forget only its "
		    "tokens with 'xoauth remove %s'",
		    acct->cfg.name,
		    cfg->path != NULL ? cfg->path : "the config file",
		    acct->cfg.line, acct->cfg.name);
	account_unlink(s, acct);
	snprintf(name, sizeof(name), "%s", acct->cfg.name);
	/* Nothing may wait on an account that is gone: a pending login or
	   refresh is cancelled without its callback, the requests parked
	   on it are answered, and its tokens and secret are wiped. */
	account_free(acct, "the account was deleted");
	log_info("%s: account deleted", name);
	return 0;
}
