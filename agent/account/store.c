/*
 * account.c: the account store.  Each configured account holds its tokens
 * sealed (secret.h), its refresh state and the requests waiting on it.
 *
 * An account keeps a private copy of its config section, so that a reload
 * (SIGHUP) can free the old config while a refresh of a kept account is
 * still in flight.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "core/agent.h"
#include "core/log.h"
#include "account/notify.h"
#include "account/secret_cmd.h"
#include "vault/vault.h"

/* The string fields of struct agent_account_cfg, for copying and freeing. */
static const size_t cfg_strings[] = {
	offsetof(struct agent_account_cfg, name),
	offsetof(struct agent_account_cfg, provider),
	offsetof(struct agent_account_cfg, email),
	offsetof(struct agent_account_cfg, client_id),
	offsetof(struct agent_account_cfg, client_secret),
	offsetof(struct agent_account_cfg, client_secret_cmd),
	offsetof(struct agent_account_cfg, tenant),
	offsetof(struct agent_account_cfg, issuer),
	offsetof(struct agent_account_cfg, authorization_endpoint),
	offsetof(struct agent_account_cfg, token_endpoint),
	offsetof(struct agent_account_cfg, device_authorization_endpoint),
	offsetof(struct agent_account_cfg, scopes),
	offsetof(struct agent_account_cfg, flow),
	offsetof(struct agent_account_cfg, ca_file),
	offsetof(struct agent_account_cfg, redirect_uri),
	offsetof(struct agent_account_cfg, notify_cmd),
};

#define CFG_STR(cfg, off) ((char **)((char *)(cfg) + (off)))

static void cfg_cleanup(struct agent_account_cfg *cfg)
{
	size_t i;

	for (i = 0; i < sizeof(cfg_strings) / sizeof(cfg_strings[0]); i++) {
		char **p = CFG_STR(cfg, cfg_strings[i]);

		free(*p);
		*p = NULL;
	}
}

/* Copies src, except the client secret, which lives sealed instead. */
static int cfg_copy(struct agent_account_cfg *dst,
		    const struct agent_account_cfg *src)
{
	size_t i;

	*dst = *src;
	for (i = 0; i < sizeof(cfg_strings) / sizeof(cfg_strings[0]); i++)
		*CFG_STR(dst, cfg_strings[i]) = NULL;
	for (i = 0; i < sizeof(cfg_strings) / sizeof(cfg_strings[0]); i++) {
		const char *s = *CFG_STR(src, cfg_strings[i]);

		if (cfg_strings[i] ==
		    offsetof(struct agent_account_cfg, client_secret))
			continue;
		if (s != NULL &&
		    (*CFG_STR(dst, cfg_strings[i]) = strdup(s)) == NULL) {
			cfg_cleanup(dst);
			return XO_ERR_NOMEM;
		}
	}
	return 0;
}

int agent_account_new(struct agent *a, const struct agent_account_cfg *cfg,
		      struct account **out)
{
	struct account *acct;
	int r;

	*out = NULL;
	if ((acct = calloc(1, sizeof(*acct))) == NULL)
		return XO_ERR_NOMEM;
	acct->agent = a;
	acct->state = PROTO_STATE_NEED_LOGIN;
	if ((r = cfg_copy(&acct->cfg, cfg)) != 0)
		goto fail;
	if (cfg->client_secret != NULL &&
	    (r = agent_secret_seal(a->shield, cfg->client_secret,
				   strlen(cfg->client_secret),
				   &acct->client_secret)) != 0)
		goto fail;
	if (cfg->email != NULL && (acct->email = strdup(cfg->email)) == NULL) {
		r = XO_ERR_NOMEM;
		goto fail;
	}
	if ((r = oauth_client_new(a->http, &acct->cfg, &acct->oauth)) != 0)
		goto fail;
	if (agent_account_is_app(acct)) {
		/* No user to wait for: the first token is fetched as soon as
		   the scheduler runs. */
		acct->state = PROTO_STATE_IDLE;
		acct->next_refresh_boot = agent_now_boot();
	}
	*out = acct;
	return 0;
fail:
	agent_account_free(acct);
	return r;
}

void agent_account_unstage(struct account *acct)
{
	agent_secret_free(acct->prev_refresh);
	agent_secret_free(acct->staged_access);
	acct->prev_refresh = acct->staged_access = NULL;
	/* A refresh that waited for the vault has nothing left to finish. */
	if (acct->on_durable != NULL) {
		acct->on_durable = NULL;
		acct->durable_seq = 0;
		acct->refreshing = 0;
	}
}

void agent_account_forget(struct account *acct)
{
	agent_account_unstage(acct);
	agent_secret_free(acct->refresh_token);
	agent_secret_free(acct->access_token);
	acct->refresh_token = acct->access_token = NULL;
	acct->presented = acct->interrupted = 0;
	acct->obtained_wall = 0;
	acct->drop_boot = 0;
	acct->expires_boot = acct->expires_wall = 0;
	acct->next_refresh_boot = 0;
	acct->failures = 0;
	acct->last_err = 0;
	acct->last_error[0] = '\0';
	acct->last_aadsts = 0;
	acct->last_oauth_error[0] = '\0';
}

void agent_account_free(struct account *acct)
{
	if (acct == NULL)
		return;
	agent_login_cancel(acct);
	agent_secret_cmd_cancel(acct);
	agent_waiters_fail(acct, XO_ERR_NO_ACCOUNT,
			   "the account was removed from the configuration");
	oauth_client_free(acct->oauth);
	agent_account_forget(acct);
	agent_secret_free(acct->client_secret);
	agent_secret_free(acct->settings);
	free(acct->email);
	cfg_cleanup(&acct->cfg);
	free(acct);
}

void agent_accounts_free(struct agent *a)
{
	struct account *acct;

	while ((acct = a->accounts) != NULL) {
		a->accounts = acct->next;
		agent_account_free(acct);
	}
}

int agent_accounts_load(struct agent *a, const struct agent_config *cfg)
{
	struct account **tail = &a->accounts, *acct;
	size_t i;
	int r;

	for (i = 0; i < cfg->n_accounts; i++) {
		if ((r = agent_account_new(a, &cfg->accounts[i], &acct)) != 0)
			return r;
		*tail = acct;
		tail = &acct->next;
	}
	return 0;
}

struct account *agent_account_find(struct agent *a, const char *name,
				   size_t len)
{
	struct account *acct;

	for (acct = a->accounts; acct != NULL; acct = acct->next)
		if (strlen(acct->cfg.name) == len &&
		    memcmp(acct->cfg.name, name, len) == 0)
			return acct;
	/* E-mail addresses compare without case. */
	for (acct = a->accounts; acct != NULL; acct = acct->next)
		if (acct->email != NULL && strlen(acct->email) == len &&
		    strncasecmp(acct->email, name, len) == 0)
			return acct;
	return NULL;
}

int agent_account_is_app(const struct account *acct)
{
	return acct->cfg.flow != NULL &&
	       strcmp(acct->cfg.flow, "client_credentials") == 0;
}

int agent_account_can_refresh(const struct account *acct)
{
	return acct->refresh_token != NULL || agent_account_is_app(acct);
}

void agent_account_config_error(struct account *acct, int err,
				const char *msg)
{
	int was = acct->state == PROTO_STATE_CONFIG_ERROR;

	acct->state = PROTO_STATE_CONFIG_ERROR;
	acct->next_refresh_boot = 0;
	acct->last_err = err;
	if (msg != acct->last_error)
		snprintf(acct->last_error, sizeof(acct->last_error), "%s", msg);
	log_error("%s", acct->last_error);
	/* One notification per event: a request that finds the account
	   still broken is not a new one. */
	if (!was)
		agent_notify(acct, NOTIFY_CONFIG_ERROR, acct->last_error, NULL,
			     NULL);
}

int agent_account_token_ok(const struct account *acct, int64_t min_ms)
{
	return acct->access_token != NULL &&
	       acct->expires_boot - agent_now_boot() >= min_ms;
}

void agent_account_set_obtained(struct account *acct, time_t obtained)
{
	unsigned long life = acct->cfg.lifetime_s != 0
				 ? acct->cfg.lifetime_s
				 : acct->agent->opts.lifetime_s;
	time_t now = time(NULL);
	int64_t age;

	acct->obtained_wall = obtained;
	acct->drop_boot = 0;
	if (life == 0)
		return;
	/* The deadline runs on CLOCK_BOOTTIME like every other; the wall
	   clock only says how much of the lifetime a token from the vault
	   has used.  A clock set back cannot lengthen it (age counts as 0),
	   one set forward only shortens it. */
	age = obtained > 0 && now > obtained ? (int64_t)(now - obtained) : 0;
	if (age > (int64_t)life)
		age = (int64_t)life;
	acct->drop_boot = agent_now_boot() + ((int64_t)life - age) * 1000;
	if (acct->drop_boot == 0)
		acct->drop_boot = 1;
}

/* 1 when p holds the same bytes as the sealed s. */
static int same_secret(struct agent *a, const struct agent_secret *s,
		       const struct agent_plain *p)
{
	struct agent_plain *old = NULL;
	int same;

	if (s == NULL || agent_secret_open(a->shield, s, &old) != 0)
		return 0;
	same = old->len == p->len && sodium_memcmp(old->data, p->data,
						   p->len) == 0;
	agent_plain_free(old);
	return same;
}

int agent_account_stage_tokens(struct account *acct, struct oauth_result *res)
{
	struct agent *a = acct->agent;
	struct agent_secret *access = NULL, *refresh = NULL;
	char fp[9];
	int r;

	agent_account_unstage(acct);
	if ((r = agent_secret_seal(a->shield, res->access_token->data,
				   res->access_token->len, &access)) != 0)
		return r;
	/* A reply without a refresh token means: keep the old one; so does
	   one that sends the same token again. */
	if (res->refresh_token != NULL &&
	    !same_secret(a, acct->refresh_token, res->refresh_token) &&
	    (r = agent_secret_seal(a->shield, res->refresh_token->data,
				   res->refresh_token->len, &refresh)) != 0) {
		agent_secret_free(access);
		return r;
	}
	acct->staged_access = access;
	acct->staged_expires_in = res->expires_in;
	if (res->email != NULL && acct->email == NULL) {
		acct->email = res->email;
		res->email = NULL; /* transferred */
	}
	if (refresh == NULL)
		return 0;
	/* Rotation: the old token is never sent again, but it is dropped
	   only in commit, once the vault holds the new one. */
	acct->prev_refresh = acct->refresh_token;
	acct->refresh_token = refresh;
	agent_secret_fingerprint(refresh, fp);
	log_info("%s: new refresh token %s", acct->cfg.name, fp);
	return 1;
}

void agent_account_commit_tokens(struct account *acct)
{
	agent_secret_free(acct->prev_refresh);
	acct->prev_refresh = NULL;
	if (acct->staged_access == NULL)
		return;
	agent_secret_free(acct->access_token);
	acct->access_token = acct->staged_access;
	acct->staged_access = NULL; /* transferred */
	acct->lifetime_ms = (int64_t)acct->staged_expires_in * 1000;
	acct->expires_boot = agent_now_boot() + acct->lifetime_ms;
	acct->refreshed_wall = time(NULL);
	acct->expires_wall = acct->refreshed_wall + acct->staged_expires_in;
	acct->state = PROTO_STATE_ACTIVE;
	acct->failures = 0;
	acct->last_err = 0;
	acct->last_error[0] = '\0';
	acct->last_aadsts = 0;
	acct->last_oauth_error[0] = '\0';
}

int agent_account_store_tokens(struct account *acct, struct oauth_result *res)
{
	int r;

	if ((r = agent_account_stage_tokens(acct, res)) < 0)
		return r;
	agent_account_commit_tokens(acct);
	return 0;
}

void agent_account_info(const struct account *acct,
			struct proto_account_info *info)
{
	int64_t now = agent_now_boot();

	memset(info, 0, sizeof(*info));
	info->name = proto_str_c(acct->cfg.name);
	info->email = proto_str_c(acct->email);
	info->provider = proto_str_c(acct->cfg.provider);
	info->flow = proto_str_c(acct->cfg.flow);
	info->state = acct->state;
	if (acct->refreshing)
		info->state = PROTO_STATE_REFRESHING;
	else if (acct->login != NULL)
		info->state = PROTO_STATE_LOGIN_PENDING;
	if (acct->access_token != NULL)
		info->expires_at = (uint64_t)acct->expires_wall;
	info->refreshed_at = (uint64_t)acct->refreshed_wall;
	if (acct->next_refresh_boot > 0)
		info->next_refresh_at =
			(uint64_t)(time(NULL) +
				   (acct->next_refresh_boot - now) / 1000);
	info->last_error = proto_str_c(acct->last_error);
	/* The vault's troubles concern every account: a locked agent, or
	   tokens the vault could not take. */
	if (acct->last_error[0] == '\0' &&
	    agent_vault_problem(acct->agent) != NULL)
		info->last_error = proto_str_c(agent_vault_problem(acct->agent));
}

/* Moves the tokens of an unchanged account into its successor. */
static void keep_tokens(struct account *from, struct account *to)
{
	to->refresh_token = from->refresh_token;
	to->access_token = from->access_token;
	from->refresh_token = from->access_token = NULL; /* transferred */
	to->expires_boot = from->expires_boot;
	to->expires_wall = from->expires_wall;
	to->lifetime_ms = from->lifetime_ms;
	to->refreshed_wall = from->refreshed_wall;
	to->next_refresh_boot = from->next_refresh_boot;
	to->state = from->state;
	to->presented = from->presented;
	to->interrupted = from->interrupted;
	/* A new lifetime applies from the same start. */
	if (from->obtained_wall != 0)
		agent_account_set_obtained(to, from->obtained_wall);
	/* A reload is how a user fixes a config error (or a secret command
	   that failed): try again at once instead of keeping the verdict. */
	if (to->state == PROTO_STATE_CONFIG_ERROR) {
		to->state = to->access_token != NULL ? PROTO_STATE_ACTIVE
						     : PROTO_STATE_IDLE;
		if (agent_account_can_refresh(to))
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
static int same_settings(struct agent *a, const struct account *acct,
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
	if ((r = agent_secret_open(a->shield, acct->client_secret, &secret)) !=
	    0)
		return r;
	r = strcmp(secret->data, c->client_secret) == 0;
	agent_plain_free(secret);
	return r;
}

/* An operation with the provider, or a request waiting on one, holds
   pointers into the account. */
static int busy(const struct account *acct)
{
	return acct->refreshing || acct->login != NULL || acct->waiters != NULL;
}

/* What a reload does with one section of the new config. */
struct reload_step {
	struct account *old;   /* the account of that name today, or NULL */
	struct account *fresh; /* its successor; NULL: old stays as it is */
	int same;	       /* old has the section's settings */
	char *notify_cmd;      /* old stays: its new notify_cmd */
};

static void unlink_account(struct agent *a, struct account *acct)
{
	struct account **pp;

	for (pp = &a->accounts; *pp != acct; pp = &(*pp)->next)
		;
	*pp = acct->next;
	acct->next = NULL;
}

/*
 * A section of the new file may not take the name or address of an account
 * added at run time: which of the two a client means would depend on the
 * order of a list.  Refusing the whole reload, as for any other mistake in
 * the file, keeps both accounts and their tokens; the message says how to
 * settle it.
 */
static int runtime_clash(struct agent *a, const struct agent_config *cfg,
			 char *err, size_t errlen)
{
	const struct agent_account_cfg *c;
	const struct account *rt;
	int by_email;
	size_t i;

	for (i = 0; i < cfg->n_accounts; i++) {
		c = &cfg->accounts[i];
		rt = agent_account_clash(a, NULL, c->name, c->email, 1,
					 &by_email);
		if (rt == NULL)
			continue;
		if (by_email)
			snprintf(err, errlen,
				 "%s:%d: [account %s] takes the address %s of "
				 "the account '%s' added at run time: run "
				 "'xoauth delete %s' first, or change the "
				 "section",
				 cfg->path, c->line, c->name,
				 rt->email != NULL ? rt->email : c->name,
				 rt->cfg.name, rt->cfg.name);
		else
			snprintf(
			    err, errlen,
			    "%s:%d: [account %s] is also an account added "
			    "at run time: run 'xoauth delete %s' first, or "
			    "rename the section",
			    cfg->path, c->line, c->name, rt->cfg.name);
		return XO_ERR_CONFIG;
	}
	return 0;
}

/* Moves the runtime accounts, in their order, to *tail: they are in no
   file, so a reload keeps them as they are. */
static size_t move_runtime(struct agent *a, struct account **tail)
{
	struct account **pp, *acct;
	size_t n = 0;

	for (pp = &a->accounts; (acct = *pp) != NULL;) {
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
 * A reload first does everything that can fail (reading the config,
 * comparing settings, making the new accounts) without touching an
 * account, then swaps the new set in, which cannot fail.  So a failure,
 * for lack of memory too, leaves every account as it was: a busy one is
 * still where its operation expects it, and no tokens have moved.
 */
int agent_reload(struct agent *a)
{
	struct agent_config *cfg = NULL;
	struct reload_step *steps = NULL;
	struct account *fresh = NULL, **tail = &fresh, *acct;
	char err[768];
	size_t i, n, n_runtime;
	int r;

	if ((r = agent_config_load(a->config_path, a->config_must_exist, &cfg,
				   err, sizeof(err))) != 0 ||
	    (r = runtime_clash(a, cfg, err, sizeof(err))) != 0) {
		log_error("reload refused, keeping the old configuration: %s",
			  err);
		agent_config_free(cfg);
		return r;
	}
	n = cfg->n_accounts;
	if (n > 0 && (steps = calloc(n, sizeof(*steps))) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct agent_account_cfg *c = &cfg->accounts[i];
		struct reload_step *s = &steps[i];

		s->old = agent_account_find(a, c->name, strlen(c->name));
		if (s->old != NULL && (r = same_settings(a, s->old, c)) < 0)
			goto out;
		s->same = s->old != NULL && r == 1;
		/* A busy account, unchanged, stays itself; a new notify_cmd
		   applies to it at once (copied now, while failing is still
		   harmless). */
		if (s->same && busy(s->old)) {
			if (c->notify_cmd != NULL &&
			    (s->notify_cmd = strdup(c->notify_cmd)) == NULL) {
				r = XO_ERR_NOMEM;
				goto out;
			}
			continue;
		}
		if ((r = agent_account_new(a, c, &s->fresh)) != 0)
			goto out;
	}

	for (i = 0; i < n; i++) {
		struct reload_step *s = &steps[i];

		if (s->fresh == NULL) {
			acct = s->old;
			unlink_account(a, acct);
			/* Its secret command runs again with the new config
			   (the grant in flight has its own copy). */
			agent_secret_cmd_forget(acct);
			free(acct->cfg.notify_cmd);
			acct->cfg.notify_cmd = s->notify_cmd;
			s->notify_cmd = NULL; /* transferred */
		} else {
			acct = s->fresh;
			s->fresh = NULL; /* transferred */
			if (s->same)
				keep_tokens(s->old, acct);
		}
		*tail = acct;
		tail = &acct->next;
	}
	n_runtime = move_runtime(a, tail);
	/* What is left are the accounts removed or changed. */
	agent_accounts_free(a);
	a->accounts = fresh;
	agent_config_free(a->config);
	a->config = cfg;
	cfg = NULL; /* transferred */
	log_info("configuration reloaded: %zu accounts, and %zu added at run "
		 "time",
		 n, n_runtime);
	/* Tokens the vault kept for an account the file lacked go to it
	   now, and those of accounts gone stay in the vault. */
	agent_vault_reloaded(a);
	agent_schedule(a);
	r = 0;
out:
	if (r != 0)
		log_error("reload failed, keeping the old accounts: %s",
			  proto_strerror(r));
	for (i = 0; steps != NULL && i < n; i++) {
		agent_account_free(steps[i].fresh);
		free(steps[i].notify_cmd);
	}
	free(steps);
	agent_config_free(cfg);
	return r;
}
