/*
 * reload.c: SIGHUP (account_store_reload()): the accounts of a new config
 * replace those of the old one.  An account whose settings did not change
 * keeps its tokens; a busy one (a refresh, a login, or a request waiting
 * on it) stays itself; runtime accounts stay as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "account/account_internal.h"
#include "account/secret_cmd.h"
#include "core/clock.h"
#include "core/log.h"
#include "secret/secret.h"

/* Moves the tokens of an unchanged account into its successor. */
static void keep_tokens(struct account *from, struct account *to)
{
	to->refresh_token = from->refresh_token;
	to->access_token = from->access_token;
	from->refresh_token = from->access_token = NULL; /* transferred */
	to->expires_boot = from->expires_boot;
	to->expires_wall = from->expires_wall;
	to->lifetime_ms = from->lifetime_ms;
	memcpy(to->lifetime_note, from->lifetime_note,
	       sizeof(to->lifetime_note));
	to->refreshed_wall = from->refreshed_wall;
	to->next_refresh_boot = from->next_refresh_boot;
	/* The other scopes' tokens came from the same grant. */
	to->scopes = from->scopes;
	from->scopes = NULL; /* transferred */
	to->state = from->state;
	to->mark = from->mark;
	/* A new lifetime applies from the same start. */
	if (from->obtained_wall != 0)
		account_set_obtained(to, from->obtained_wall);
	/* A reload is how a user fixes a config error (or a secret command
	   that failed): try again at once instead of keeping the verdict. */
	if (to->state == PROTO_STATE_CONFIG_ERROR) {
		to->state = to->access_token != NULL ? PROTO_STATE_ACTIVE
						     : PROTO_STATE_IDLE;
		if (account_can_refresh(to))
			to->next_refresh_boot = agent_now_boot();
	}
	if (from->email != NULL && to->email == NULL) {
		to->email = from->email;
		from->email = NULL; /* transferred */
	}
}

/*
 * 1 when the account's settings equal the section's, 0 when they differ,
 * or an XO_ERR_* when that cannot be told: the client secret is kept only
 * sealed, so it is compared by opening it, which needs memory.
 */
static int same_settings(const struct account *acct,
			 const struct agent_account_cfg *c)
{
	struct agent_account_cfg shallow = *c;
	struct agent_plain *secret = NULL;
	int r;

	shallow.client_secret = NULL;
	if (!agent_account_cfg_equal(&acct->cfg, &shallow))
		return 0;
	if (acct->client_secret == NULL || c->client_secret == NULL)
		return acct->client_secret == NULL && c->client_secret == NULL;
	if ((r = account_open_client_secret(acct, &secret)) != 0)
		return r;
	r = secret->len == strlen(c->client_secret) &&
	    sodium_memcmp(secret->data, c->client_secret, secret->len) == 0;
	agent_plain_free(secret);
	return r;
}

/* What a reload does with one section of the new config. */
struct reload_step {
	struct account *old;   /* the account of that name today, or NULL */
	struct account *fresh; /* its successor; NULL: old stays as it is */
	int same;	       /* old has the section's settings */
	char *notify_cmd;      /* old stays: its new notify_cmd */
};

/*
 * A section of the new file may not take the name or address of an account
 * added at run time: which of the two a client means would depend on the
 * order of a list.  Refusing the whole reload, as for any other mistake in
 * the file, keeps both accounts and their tokens; the message says how to
 * settle it.
 */
static int runtime_clash(struct account_store *s,
			 const struct agent_config *cfg, struct agent_err *err)
{
	const struct agent_account_cfg *c;
	const struct account *rt;
	bool by_email;
	size_t i;

	for (i = 0; i < cfg->n_accounts; i++) {
		c = &cfg->accounts[i];
		rt = account_clash(s, NULL, c->name, c->email, true, &by_email);
		if (rt == NULL)
			continue;
		if (by_email)
			return agent_err_set(
			    err, XO_ERR_CONFIG,
			    "%s:%d: [account %s] takes the address %s of the "
			    "account '%s' added at run time: run 'xoauth "
			    "delete %s' first, or change the section",
			    cfg->path, c->line, c->name,
			    rt->email != NULL ? rt->email : c->name,
			    rt->cfg.name, rt->cfg.name);
		return agent_err_set(
		    err, XO_ERR_CONFIG,
		    "%s:%d: [account %s] is also an account added at run "
		    "time: run 'xoauth delete %s' first, or rename the "
		    "section",
		    cfg->path, c->line, c->name, rt->cfg.name);
	}
	return 0;
}

/* Moves the runtime accounts, in their order, to *tail: they are in no
   file, so a reload keeps them as they are. */
static size_t move_runtime(struct account_store *s, struct account **tail)
{
	struct account **pp, *acct;
	size_t n = 0;

	for (pp = &s->accounts; (acct = *pp) != NULL;) {
		if (!acct->runtime) {
			pp = &acct->next;
			continue;
		}
		*pp = acct->next;
		acct->next = NULL;
		*tail = acct;
		tail = &acct->next;
		n++;
	}
	return n;
}

/*
 * A reload first does everything that can fail (comparing settings,
 * making the new accounts) without touching an account, then swaps the
 * new set in, which cannot fail.  So a failure, for lack of memory too,
 * leaves every account as it was: a busy one is still where its operation
 * expects it, and no tokens have moved.
 */
int account_store_reload(struct account_store *s,
			 const struct agent_config *cfg, struct agent_err *err)
{
	struct reload_step *steps = NULL;
	struct account *fresh = NULL, **tail = &fresh, *acct, *old;
	size_t i, n = cfg->n_accounts, n_runtime;
	int r;

	if ((r = runtime_clash(s, cfg, err)) != 0)
		return r;
	if (n > 0 && (steps = calloc(n, sizeof(*steps))) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct agent_account_cfg *c = &cfg->accounts[i];
		struct reload_step *st = &steps[i];

		st->old = account_find(s, c->name, strlen(c->name));
		if (st->old != NULL && (r = same_settings(st->old, c)) < 0)
			goto out;
		st->same = st->old != NULL && r == 1;
		/* A busy account, unchanged, stays itself; a new notify_cmd
		   applies to it at once (copied now, while failing is still
		   harmless). */
		if (st->same && account_busy(st->old)) {
			if (c->notify_cmd != NULL &&
			    (st->notify_cmd = strdup(c->notify_cmd)) == NULL) {
				r = XO_ERR_NOMEM;
				goto out;
			}
			continue;
		}
		if ((r = account_new(s, c, &st->fresh)) != 0)
			goto out;
	}

	for (i = 0; i < n; i++) {
		struct reload_step *st = &steps[i];

		if (st->fresh == NULL) {
			acct = st->old;
			account_unlink(s, acct);
			/* Its secret command runs again with the new config
			   (the grant in flight has its own copy). */
			agent_secret_cmd_forget(acct);
			free(acct->cfg.notify_cmd);
			acct->cfg.notify_cmd = st->notify_cmd;
			st->notify_cmd = NULL; /* transferred */
		} else {
			acct = st->fresh;
			st->fresh = NULL; /* transferred */
			if (st->same)
				keep_tokens(st->old, acct);
		}
		*tail = acct;
		tail = &acct->next;
	}
	n_runtime = move_runtime(s, tail);
	old = s->accounts;
	s->accounts = fresh;
	account_store_relink(s);
	/* What is left are the accounts removed or changed, out of the index
	   already: a request that a waiter's answer lets through finds none
	   of them. */
	while ((acct = old) != NULL) {
		old = acct->next;
		account_free(acct, NULL);
	}
	log_info("configuration reloaded: %zu accounts, and %zu added at run "
		 "time",
		 n, n_runtime);
	r = 0;
out:
	if (r != 0)
		agent_err_set(err, r,
			      "reload failed, keeping the old accounts: "
			      "%s",
			      proto_strerror(r));
	for (i = 0; steps != NULL && i < n; i++) {
		account_free(steps[i].fresh, NULL);
		free(steps[i].notify_cmd);
	}
	free(steps);
	return r;
}
