/*
 * store.c: the account store: making, finding and freeing accounts, and
 * what they show to LIST, the doctor and the vault.
 *
 * An account keeps a private copy of its config section, so that a reload
 * (SIGHUP) can free the old config while a refresh of a kept account is
 * still in flight.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "account/account_internal.h"
#include "account/secret_cmd.h"
#include "core/clock.h"
#include "core/log.h"
#include "oauth/oauth.h"
#include "secret/secret.h"

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
    offsetof(struct agent_account_cfg, send),
    offsetof(struct agent_account_cfg, smtp),
    offsetof(struct agent_account_cfg, graph_endpoint),
    offsetof(struct agent_account_cfg, graph_scope),
    offsetof(struct agent_account_cfg, gmail_endpoint),
    offsetof(struct agent_account_cfg, gmail_scope),
    offsetof(struct agent_account_cfg, local_recipient),
};

#define N_CFG_STRINGS (sizeof(cfg_strings) / sizeof(cfg_strings[0]))
#define CFG_STR(cfg, off) ((char **)((char *)(cfg) + (off)))

static void cfg_cleanup(struct agent_account_cfg *cfg)
{
	size_t i;

	for (i = 0; i < N_CFG_STRINGS; i++) {
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
	for (i = 0; i < N_CFG_STRINGS; i++)
		*CFG_STR(dst, cfg_strings[i]) = NULL;
	for (i = 0; i < N_CFG_STRINGS; i++) {
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

int account_store_new(struct agent *a, struct account_store **out)
{
	struct account_store *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return XO_ERR_NOMEM;
	s->agent = a;
	TAILQ_INIT(&s->durable);
	TAILQ_INIT(&s->ready_queue);
	TAILQ_INIT(&s->urgent_queue);
	s->max_refreshing = MAX_REFRESHING;
	s->pace_per_s = PACE_PER_S;
	s->pace_burst = PACE_BURST;
	if (account_index_init(s) != 0) {
		free(s);
		return XO_ERR_NOMEM;
	}
	if (agent_boot_timer_init(a->loop, &s->scheduler,
				  account_scheduler_tick) != 0) {
		account_index_free(s);
		free(s);
		return XO_ERR_INTERNAL;
	}
	s->scheduler.data = s;
	uv_idle_init(a->loop, &s->durable_more);
	s->durable_more.data = s;
	account_refresh_log_init(s);
	*out = s;
	return 0;
}

void account_store_set_hooks(struct account_store *s,
			     const struct account_hooks *h)
{
	s->hooks = *h;
}

int account_new(struct account_store *s, const struct agent_account_cfg *cfg,
		struct account **out)
{
	struct agent *a = s->agent;
	struct account *acct;
	int r;

	*out = NULL;
	if ((acct = calloc(1, sizeof(*acct))) == NULL)
		return XO_ERR_NOMEM;
	acct->store = s;
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
	if (account_is_app(acct)) {
		/* No user to wait for: the first token is fetched as soon as
		   the scheduler runs. */
		acct->state = PROTO_STATE_IDLE;
		acct->next_refresh_boot = agent_now_boot();
	}
	*out = acct;
	return 0;
fail:
	account_free(acct, NULL);
	return r;
}

void account_free(struct account *acct, const char *why)
{
	if (acct == NULL)
		return;
	account_login_cancel(acct);
	agent_secret_cmd_cancel(acct);
	/* A refresh of an account that goes (DELETE, a reload) no longer
	   takes one of the scheduler's places. */
	if (acct->op == ACCOUNT_OP_REFRESH)
		account_set_op(acct, ACCOUNT_OP_NONE);
	account_unschedule(acct);
	agent_waiters_fail(&acct->waiters, XO_ERR_NO_ACCOUNT,
			   why != NULL ? why
				       : "the account was removed from the "
					 "configuration");
	oauth_client_free(acct->oauth);
	account_forget(acct);
	account_scopes_free(acct);
	agent_secret_free(acct->client_secret);
	agent_secret_free(acct->settings);
	account_login_outcome_clear(acct);
	free(acct->email);
	cfg_cleanup(&acct->cfg);
	free(acct);
}

/* Frees every account of the store. */
static void free_all(struct account_store *s)
{
	struct account *acct;

	while ((acct = s->accounts) != NULL) {
		account_unlink(s, acct);
		account_free(acct, NULL);
	}
}

int account_store_load(struct account_store *s, const struct agent_config *cfg)
{
	struct account *acct;
	size_t i;
	int r;

	for (i = 0; i < cfg->n_accounts; i++) {
		if ((r = account_new(s, &cfg->accounts[i], &acct)) != 0)
			return r;
		account_store_append(s, acct);
	}
	return 0;
}

void account_store_stop(struct account_store *s)
{
	if (s == NULL || s->stopped)
		return;
	s->stopped = 1;
	agent_boot_timer_close(&s->scheduler, NULL);
	uv_close((uv_handle_t *)&s->durable_more, NULL);
	account_refresh_log_close(s);
	free_all(s);
}

void account_store_free(struct account_store *s)
{
	if (s == NULL)
		return;
	account_index_free(s);
	free(s->heap);
	free(s);
}

struct account *account_find(struct account_store *s, const char *name,
			     size_t len)
{
	struct account *acct;

	if ((acct = account_index_find(s, IDX_NAME, name, len, NULL, false)) !=
	    NULL)
		return acct;
	/* E-mail addresses compare without case. */
	return account_index_find(s, IDX_EMAIL, name, len, NULL, false);
}

struct account *account_find_named(struct account_store *s, const char *name)
{
	return account_index_find(s, IDX_NAME, name, strlen(name), NULL, false);
}

struct account *account_first(struct account_store *s)
{
	return s->accounts;
}

struct account *account_next(const struct account *acct)
{
	return acct->next;
}

const char *account_name(const struct account *acct)
{
	return acct->cfg.name;
}

const char *account_email(const struct account *acct)
{
	return acct->email;
}

const struct agent_account_cfg *account_cfg(const struct account *acct)
{
	return &acct->cfg;
}

struct agent *account_agent(const struct account *acct)
{
	return acct->agent;
}

struct oauth_client *account_oauth(const struct account *acct)
{
	return acct->oauth;
}

struct waiter_list *account_waiters(struct account *acct)
{
	return &acct->waiters;
}

bool account_is_app(const struct account *acct)
{
	return acct->cfg.flow != NULL &&
	       strcmp(acct->cfg.flow, "client_credentials") == 0;
}

bool account_is_runtime(const struct account *acct)
{
	return acct->runtime;
}

bool account_can_refresh(const struct account *acct)
{
	return acct->refresh_token != NULL || account_is_app(acct);
}

bool account_refreshing(const struct account *acct)
{
	return acct->op == ACCOUNT_OP_REFRESH;
}

bool account_token_ok(const struct account *acct, int64_t min_ms)
{
	return acct->access_token != NULL &&
	       acct->expires_boot - agent_now_boot() >= min_ms;
}

bool account_busy(const struct account *acct)
{
	return acct->op != ACCOUNT_OP_NONE || agent_waiters_any(&acct->waiters);
}

bool account_wants_token(const struct account *acct)
{
	return acct->refresh_token == NULL && acct->op == ACCOUNT_OP_NONE &&
	       !account_is_app(acct);
}

int account_open_client_secret(const struct account *acct,
			       struct agent_plain **out)
{
	*out = NULL;
	if (acct->client_secret == NULL)
		return 0;
	return agent_secret_open(acct->agent->shield, acct->client_secret, out);
}

int account_open_access_token(const struct account *acct,
			      struct agent_plain **out)
{
	*out = NULL;
	if (acct->access_token == NULL)
		return XO_ERR_LOGIN_NEEDED;
	return agent_secret_open(acct->agent->shield, acct->access_token, out);
}

/* The state LIST shows: what runs now before how the account is. */
static uint8_t shown_state(const struct account *acct)
{
	switch (acct->op) {
	case ACCOUNT_OP_REFRESH:
		return PROTO_STATE_REFRESHING;
	case ACCOUNT_OP_LOGIN:
		return PROTO_STATE_LOGIN_PENDING;
	case ACCOUNT_OP_NONE:
		break;
	}
	return acct->state;
}

void account_status(const struct account *acct, struct account_status *out)
{
	int64_t now = agent_now_boot(), left = acct->expires_boot - now;

	memset(out, 0, sizeof(*out));
	out->state = shown_state(acct);
	out->health = acct->op == ACCOUNT_OP_LOGIN ? PROTO_STATE_LOGIN_PENDING
						   : acct->state;
	out->has_refresh_token = acct->refresh_token != NULL;
	out->has_access_token = acct->access_token != NULL && left > 0;
	out->has_tokens =
	    acct->refresh_token != NULL || acct->access_token != NULL;
	out->has_client_secret =
	    acct->client_secret != NULL || acct->cfg.client_secret_cmd != NULL;
	out->valid_ms = out->has_access_token ? left : 0;
	if (acct->access_token != NULL)
		out->expires_at = acct->expires_wall;
	out->refreshed_at = acct->refreshed_wall;
	if (acct->next_refresh_boot > 0)
		out->next_refresh_at =
		    time(NULL) +
		    (time_t)((acct->next_refresh_boot - now) / 1000);
	out->last = &acct->last;
	out->login = account_login_outcome(acct);
	out->last_aadsts = acct->last_aadsts;
	out->last_oauth_error = acct->last_oauth_error;
	out->last_fault = (int)acct->last_fault;
	out->lifetime_note = acct->lifetime_note;
}

void account_list_entry(const struct account *acct,
			struct proto_account_info *info)
{
	const struct account_hooks *h = &acct->store->hooks;
	const char *problem = h->problem != NULL ? h->problem(h->arg) : NULL;
	struct account_status st;

	account_status(acct, &st);
	memset(info, 0, sizeof(*info));
	info->name = proto_str_c(acct->cfg.name);
	info->email = proto_str_c(acct->email);
	info->provider = proto_str_c(acct->cfg.provider);
	info->flow = proto_str_c(acct->cfg.flow);
	info->state = st.state;
	info->expires_at = (uint64_t)st.expires_at;
	info->refreshed_at = (uint64_t)st.refreshed_at;
	info->next_refresh_at = (uint64_t)st.next_refresh_at;
	info->last_error = proto_str_c(acct->last.msg);
	/* The vault's troubles concern every account: a locked agent, or
	   tokens the vault could not take. */
	if (acct->last.msg[0] == '\0' && problem != NULL)
		info->last_error = proto_str_c(problem);
	/* Else what the agent had to assume about its token's life. */
	else if (acct->last.msg[0] == '\0' && acct->lifetime_note[0] != '\0')
		info->last_error = proto_str_c(acct->lifetime_note);
}

void account_record(const struct account *acct, struct account_record *out)
{
	memset(out, 0, sizeof(*out));
	out->name = acct->cfg.name;
	out->email = acct->email;
	out->refresh = acct->refresh_token;
	out->obtained = acct->obtained_wall;
	out->presented = acct->mark != MARK_NONE;
	out->settings = acct->runtime ? acct->settings : NULL;
}

void account_wake(struct account *acct, enum account_event ev)
{
	agent_waiters_wake(&acct->waiters, (int)ev);
}
