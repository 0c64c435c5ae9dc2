/*
 * waiter.c: requests that cannot be answered yet.  A TOKEN request whose
 * token is due for refresh, a REFRESH or IMPORT, and a LOGIN_WAIT park
 * here, bounded by their wait time (DESIGN.md: "a token request never
 * returns an expired token ... it waits for [the refresh] (bounded)").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/agent.h"
#include "core/log.h"
#include "account/pure/policy.h"

struct waiter {
	struct waiter *next;
	struct account *acct;
	struct conn *conn;
	enum waiter_kind kind;
	struct proto_token_req req; /* WAIT_TOKEN: strings below */
	char *host;
	int dropped; /* answered or cancelled; memory goes with the timer */
	uv_timer_t timer;
};

static void on_timer_closed(uv_handle_t *h)
{
	struct waiter *w = h->data;

	free(w->host);
	free(w);
}

/* Unlinks w from its account and frees it (after its timer closes). */
static void waiter_drop(struct waiter *w)
{
	struct waiter **pp;

	if (w->dropped)
		return;
	w->dropped = 1;
	for (pp = &w->acct->waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}

void agent_waiter_cancel(struct waiter *w)
{
	waiter_drop(w);
}

static int token_reply(struct account *acct, struct conn *c,
		       const struct proto_token_req *req, char *msg,
		       size_t msglen)
{
	struct agent *a = acct->agent;
	struct agent_plain *token = NULL, *value = NULL;
	struct proto_token_rep rep;
	struct proto_writer w = {0};
	char host[256];
	int r;

	if (req->form != PROTO_FORM_ACCESS && acct->email == NULL) {
		snprintf(msg, msglen,
			 "%s: no e-mail address known for the SASL user name; "
			 "set 'email' in the account's section",
			 acct->cfg.name);
		return XO_ERR_CONFIG;
	}
	if ((r = agent_secret_open(a->shield, acct->access_token, &token)) !=
	    0)
		goto out;
	if (req->form == PROTO_FORM_ACCESS) {
		value = token;
		token = NULL; /* transferred */
	} else {
		snprintf(host, sizeof(host), "%.*s", (int)req->host.len,
			 req->host.ptr);
		if ((r = agent_sasl_build(req->form, acct->email, host,
					  req->port, token, &value)) != 0)
			goto out;
	}
	rep.token.ptr = value->data;
	rep.token.len = (uint32_t)value->len;
	rep.expires_at = (uint64_t)acct->expires_wall;
	rep.email = proto_str_c(acct->email);
	if ((r = agent_reply_buf(value->len + 512, &w)) != 0 ||
	    (r = proto_enc_token_rep(&w, &rep)) != 0)
		goto out;
	agent_conn_reply(c, w.buf, w.len);
	w.buf = NULL; /* transferred */
	r = 0;
out:
	if (w.buf != NULL) {
		sodium_memzero(w.buf, w.cap);
		free(w.buf);
	}
	agent_plain_free(token);
	agent_plain_free(value);
	return r;
}

int agent_token_try(struct account *acct, struct conn *c,
		    const struct proto_token_req *req, char *msg,
		    size_t msglen)
{
	int64_t now = agent_now_boot(), min_ms;
	int r;

	min_ms = req->min_valid > 0 ? (int64_t)req->min_valid * 1000
				    : policy_min_valid(acct->lifetime_ms);
	if (agent_account_token_ok(acct, min_ms))
		return token_reply(acct, c, req, msg, msglen);

	if (!agent_account_can_refresh(acct)) {
		if (acct->state == PROTO_STATE_CONFIG_ERROR) {
			snprintf(msg, msglen, "%s", acct->last_error);
			return acct->last_err ? acct->last_err
					      : XO_ERR_PROVIDER_CONFIG;
		}
		if (acct->login != NULL)
			snprintf(msg, msglen,
				 "%s: a login is waiting for the user; "
				 "finish it or run 'xoauth login %s'",
				 acct->cfg.name, acct->cfg.name);
		else if (acct->state == PROTO_STATE_REAUTH)
			snprintf(msg, msglen,
				 "%s; run 'xoauth login %s'", acct->last_error,
				 acct->cfg.name);
		else
			snprintf(msg, msglen,
				 "%s: login needed: run 'xoauth login %s'",
				 acct->cfg.name, acct->cfg.name);
		return XO_ERR_LOGIN_NEEDED;
	}
	if (acct->state == PROTO_STATE_CONFIG_ERROR && !acct->refreshing) {
		snprintf(msg, msglen, "%s", acct->last_error);
		return acct->last_err ? acct->last_err : XO_ERR_PROVIDER_CONFIG;
	}
	if (acct->refreshing)
		return 1;
	/* Backing off after transient failures: wait for the next try if
	   it comes within this request's wait, else say why now. */
	if (acct->state == PROTO_STATE_RETRYING &&
	    acct->next_refresh_boot > now) {
		uint32_t wait = req->wait_ms ? req->wait_ms
					     : acct->agent->config->wait_default_ms;
		if (acct->next_refresh_boot - now > (int64_t)wait) {
			snprintf(msg, msglen,
				 "%s: refresh failed, next try in %lld s: %s",
				 acct->cfg.name,
				 (long long)((acct->next_refresh_boot - now +
					      999) / 1000),
				 acct->last_error);
			return XO_ERR_REFRESH_FAILED;
		}
		return 1;
	}
	if ((r = agent_refresh_start(acct)) != 0) {
		snprintf(msg, msglen, "%s", acct->last_error);
		return r;
	}
	return 1;
}

static void on_wait_timeout(uv_timer_t *t)
{
	struct waiter *w = t->data;
	struct account *acct = w->acct;
	struct conn *c = w->conn;
	char msg[700];

	switch (w->kind) {
	case WAIT_LOGIN_START:
		snprintf(msg, sizeof(msg),
			 "%s: the provider did not answer the login request",
			 acct->cfg.name);
		waiter_drop(w);
		agent_conn_reply_failure(c, XO_ERR_TIMEOUT, msg);
		return;
	case WAIT_LOGIN_CODE:
		snprintf(msg, sizeof(msg),
			 "%s: the provider has not answered the code exchange "
			 "yet; 'xoauth login' tells when it has",
			 acct->cfg.name);
		waiter_drop(w);
		agent_conn_reply_failure(c, XO_ERR_TIMEOUT, msg);
		return;
	case WAIT_LOGIN:
		snprintf(msg, sizeof(msg), "%s: still waiting for the user",
			 acct->cfg.name);
		waiter_drop(w);
		agent_conn_reply_failure(c, XO_ERR_LOGIN_PENDING, msg);
		return;
	case WAIT_TOKEN:
	case WAIT_REFRESH:
	case WAIT_APP_LOGIN:
		if (acct->last_err != 0)
			snprintf(msg, sizeof(msg),
				 "%s: timed out waiting for a refresh; last "
				 "error: %s",
				 acct->cfg.name, acct->last_error);
		else
			snprintf(msg, sizeof(msg),
				 "%s: timed out waiting for the provider",
				 acct->cfg.name);
		waiter_drop(w);
		agent_conn_reply_failure(c, XO_ERR_TIMEOUT, msg);
		return;
	}
}

int agent_waiter_add(struct account *acct, struct conn *c,
		     enum waiter_kind kind, const struct proto_token_req *req,
		     uint32_t wait_ms)
{
	struct agent *a = acct->agent;
	struct waiter *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return XO_ERR_NOMEM;
	w->acct = acct;
	w->conn = c;
	w->kind = kind;
	if (req != NULL) {
		w->req = *req;
		w->req.account.ptr = NULL;
		w->req.account.len = 0;
		if (proto_str_dup(req->host, &w->host) != 0) {
			free(w);
			return XO_ERR_NOMEM;
		}
		w->req.host = proto_str_c(w->host);
	}
	if (wait_ms == 0)
		wait_ms = a->config->wait_default_ms;
	uv_timer_init(a->loop, &w->timer);
	w->timer.data = w;
	uv_timer_start(&w->timer, on_wait_timeout, wait_ms, 0);
	w->next = acct->waiters;
	acct->waiters = w;
	agent_conn_park(c, w);
	return 0;
}

/* Decides about one waiter; returns 1 to keep it waiting. */
static int wake_one(struct waiter *w, int refresh_done)
{
	struct account *acct = w->acct;
	char msg[700] = "";
	int r;

	switch (w->kind) {
	case WAIT_TOKEN:
		if (refresh_done && acct->last_err != 0 &&
		    !agent_account_token_ok(acct, 1000)) {
			agent_conn_reply_failure(w->conn, acct->last_err,
						 acct->last_error);
			return 0;
		}
		r = agent_token_try(acct, w->conn, &w->req, msg, sizeof(msg));
		if (r == 1)
			return 1;
		if (r < 0)
			agent_conn_reply_failure(w->conn, r, msg);
		return 0;
	case WAIT_REFRESH:
	case WAIT_APP_LOGIN:
		if (!refresh_done)
			return 1;
		if (acct->last_err != 0)
			agent_conn_reply_failure(w->conn, acct->last_err,
						 acct->last_error);
		else if (w->kind == WAIT_REFRESH)
			agent_conn_reply_success(w->conn);
		else if ((r = agent_app_login_reply(w->conn)) != 0)
			agent_conn_reply_failure(w->conn, r, NULL);
		return 0;
	case WAIT_LOGIN_START:
		if (acct->login != NULL && !acct->login->ready)
			return 1;
		if (acct->login != NULL) {
			if ((r = agent_login_reply(acct, w->conn)) != 0)
				agent_conn_reply_failure(w->conn, r, NULL);
		} else {
			agent_conn_reply_failure(
				w->conn,
				acct->login_err ? acct->login_err
						: XO_ERR_LOGIN_NEEDED,
				acct->login_error);
		}
		return 0;
	case WAIT_LOGIN_CODE:
		if ((r = agent_login_code_outcome(acct, msg, sizeof(msg))) == 1)
			return 1;
		if (r == 0)
			agent_conn_reply_success(w->conn);
		else
			agent_conn_reply_failure(w->conn, r, msg);
		return 0;
	case WAIT_LOGIN:
		if (acct->login != NULL)
			return 1;
		if (acct->login_err == 0)
			agent_conn_reply_success(w->conn);
		else
			agent_conn_reply_failure(w->conn, acct->login_err,
						 acct->login_error);
		return 0;
	}
	return 0;
}

void agent_waiters_wake(struct account *acct, int refresh_done)
{
	struct waiter *list = acct->waiters, *w, *next;

	/* Answering may start new requests on the same connections, which
	   may park new waiters: work on a detached list. */
	acct->waiters = NULL;
	for (w = list; w != NULL; w = next) {
		next = w->next;
		w->next = NULL;
		if (w->dropped)
			continue;
		if (wake_one(w, refresh_done)) {
			w->next = acct->waiters;
			acct->waiters = w;
		} else if (!w->dropped) {
			w->dropped = 1;
			uv_timer_stop(&w->timer);
			uv_close((uv_handle_t *)&w->timer, on_timer_closed);
		}
	}
}

void agent_waiters_fail(struct account *acct, int err, const char *msg)
{
	struct waiter *w;

	while ((w = acct->waiters) != NULL) {
		struct conn *c = w->conn;

		waiter_drop(w);
		agent_conn_reply_failure(c, err, msg);
	}
}
