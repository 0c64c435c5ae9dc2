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

#include "agent.h"
#include "log.h"

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

static int account_new(struct agent *a, const struct agent_account_cfg *cfg,
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
	*out = acct;
	return 0;
fail:
	agent_account_free(acct);
	return r;
}

void agent_account_forget(struct account *acct)
{
	agent_secret_free(acct->refresh_token);
	agent_secret_free(acct->access_token);
	acct->refresh_token = acct->access_token = NULL;
	acct->expires_boot = acct->expires_wall = 0;
	acct->next_refresh_boot = 0;
	acct->failures = 0;
	acct->last_err = 0;
	acct->last_error[0] = '\0';
}

void agent_account_free(struct account *acct)
{
	if (acct == NULL)
		return;
	agent_login_cancel(acct);
	agent_waiters_fail(acct, XO_ERR_NO_ACCOUNT,
			   "the account was removed from the configuration");
	oauth_client_free(acct->oauth);
	agent_account_forget(acct);
	agent_secret_free(acct->client_secret);
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
		if ((r = account_new(a, &cfg->accounts[i], &acct)) != 0)
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

int agent_account_token_ok(const struct account *acct, int64_t min_ms)
{
	return acct->access_token != NULL &&
	       acct->expires_boot - agent_now_boot() >= min_ms;
}

int agent_account_store_tokens(struct account *acct, struct oauth_result *res)
{
	struct agent *a = acct->agent;
	struct agent_secret *access = NULL, *refresh = NULL;
	char fp[9];
	int r;

	if ((r = agent_secret_seal(a->shield, res->access_token->data,
				   res->access_token->len, &access)) != 0)
		return r;
	/* A reply without a refresh token means: keep the old one. */
	if (res->refresh_token != NULL &&
	    (r = agent_secret_seal(a->shield, res->refresh_token->data,
				   res->refresh_token->len, &refresh)) != 0) {
		agent_secret_free(access);
		return r;
	}
	if (refresh != NULL) {
		/* Rotation: the old token is dropped here and never sent
		   again.  (With a vault, the new one is on disk first.) */
		agent_secret_free(acct->refresh_token);
		acct->refresh_token = refresh;
		agent_secret_fingerprint(refresh, fp);
		log_info("%s: new refresh token %s", acct->cfg.name, fp);
	}
	agent_secret_free(acct->access_token);
	acct->access_token = access;
	acct->lifetime_ms = (int64_t)res->expires_in * 1000;
	acct->expires_boot = agent_now_boot() + acct->lifetime_ms;
	acct->refreshed_wall = time(NULL);
	acct->expires_wall = acct->refreshed_wall + res->expires_in;
	if (res->email != NULL && acct->email == NULL) {
		acct->email = res->email;
		res->email = NULL; /* transferred */
	}
	acct->state = PROTO_STATE_ACTIVE;
	acct->failures = 0;
	acct->last_err = 0;
	acct->last_error[0] = '\0';
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
	if (from->email != NULL && to->email == NULL) {
		to->email = from->email;
		from->email = NULL; /* transferred */
	}
}

/*
 * 1 when the account's settings equal the section's.  The client secret
 * is kept only sealed, so it is compared by opening it.
 */
static int same_settings(struct agent *a, const struct account *acct,
			 const struct agent_account_cfg *c)
{
	struct agent_account_cfg shallow = *c;
	struct agent_plain *secret = NULL;
	int same;

	shallow.client_secret = NULL;
	if (!agent_account_cfg_equal(&acct->cfg, &shallow))
		return 0;
	if (acct->client_secret == NULL || c->client_secret == NULL)
		return acct->client_secret == NULL && c->client_secret == NULL;
	if (agent_secret_open(a->shield, acct->client_secret, &secret) != 0)
		return 0;
	same = strcmp(secret->data, c->client_secret) == 0;
	agent_plain_free(secret);
	return same;
}

int agent_reload(struct agent *a)
{
	struct agent_config *cfg = NULL;
	struct account *old, *fresh = NULL, **tail = &fresh, *acct;
	char err[512];
	size_t i;
	int r;

	if ((r = agent_config_load(a->config_path, a->config_must_exist, &cfg,
				   err, sizeof(err))) != 0) {
		log_error("reload refused, keeping the old configuration: %s",
			  err);
		return r;
	}
	for (i = 0; i < cfg->n_accounts; i++) {
		const struct agent_account_cfg *c = &cfg->accounts[i];

		old = agent_account_find(a, c->name, strlen(c->name));
		/* An account busy with the provider, and unchanged, stays
		   as it is: its operation holds pointers into it. */
		if (old != NULL && same_settings(a, old, c) &&
		    (old->refreshing || old->login != NULL ||
		     old->waiters != NULL)) {
			struct account **pp;

			for (pp = &a->accounts; *pp != old; pp = &(*pp)->next)
				;
			*pp = old->next;
			old->next = NULL;
			*tail = old;
			tail = &old->next;
			continue;
		}
		if ((r = account_new(a, c, &acct)) != 0)
			goto fail;
		if (old != NULL && same_settings(a, old, c))
			keep_tokens(old, acct);
		*tail = acct;
		tail = &acct->next;
	}
	agent_accounts_free(a);
	a->accounts = fresh;
	agent_config_free(a->config);
	a->config = cfg;
	log_info("configuration reloaded: %zu accounts", cfg->n_accounts);
	agent_schedule(a);
	return 0;
fail:
	while ((acct = fresh) != NULL) {
		fresh = acct->next;
		agent_account_free(acct);
	}
	agent_config_free(cfg);
	log_error("reload failed: %s", proto_strerror(r));
	return r;
}
