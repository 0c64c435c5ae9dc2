/*
 * xo_accounts.c: listing and managing accounts: list, refresh, remove,
 * import, and the runtime accounts of add and delete.
 */
#include <stdlib.h>
#include <string.h>

#include "xo_internal.h"

static int enc_list(struct proto_writer *w, const void *m)
{
	return proto_enc_list_req(w, m);
}

static int enc_import(struct proto_writer *w, const void *m)
{
	return proto_enc_import_req(w, m);
}

static int enc_add(struct proto_writer *w, const void *m)
{
	return proto_enc_add_req(w, m);
}

/* REFRESH, REMOVE and DELETE share a payload; the type travels with it. */
struct typed_account_req {
	uint8_t type;
	struct proto_account_req q;
};

static int enc_account(struct proto_writer *w, const void *m)
{
	const struct typed_account_req *t = m;

	return proto_enc_account_req(w, t->type, &t->q);
}

static void account_cleanup(struct xo_account *a)
{
	free(a->name);
	free(a->email);
	free(a->provider);
	free(a->flow);
	free(a->last_error);
	memset(a, 0, sizeof(*a));
}

static void scope_cleanup(struct xo_scope_token *t)
{
	free(t->account);
	free(t->scope);
	free(t->last_error);
	memset(t, 0, sizeof(*t));
}

XO_EXTERN void xo_scope_tokens_free(struct xo_scope_token *tokens, size_t count)
{
	size_t i;

	if (tokens == NULL)
		return;
	for (i = 0; i < count; i++)
		scope_cleanup(&tokens[i]);
	free(tokens);
}

/* The scopes' tokens after LIST's entries (PROTOCOL.md 4.4), into *out;
   0 or an error already recorded on c. */
static int read_scopes(struct xo_client *c, struct reply *rep,
		       struct xo_scope_token **out, size_t *n_out)
{
	struct xo_scope_token *list = NULL;
	uint32_t n = 0, i;
	int r = 0;

	if (proto_dec_list_scopes_count(&rep->r, &n) != 0)
		return xoc_finish(c, rep, XO_ERR_MSG_BAD);
	/* n is bounded by the bytes left (proto_dec_list_scopes_count). */
	if (n > 0 && (list = calloc(n, sizeof(*list))) == NULL)
		return xoc_fail(c, XO_ERR_NOMEM, "out of memory");
	for (i = 0; i < n && r == 0; i++) {
		struct proto_scope_info s;
		struct xo_scope_token *t = &list[i];

		if (proto_dec_list_scope(&rep->r, &s) != 0) {
			r = xoc_finish(c, rep, XO_ERR_MSG_BAD);
			break;
		}
		if ((r = xoc_dup_str(c, s.account, &t->account)) != 0 ||
		    (r = xoc_dup_str(c, s.scope, &t->scope)) != 0 ||
		    (r = xoc_dup_str(c, s.last_error, &t->last_error)) != 0)
			break;
		t->state = s.state;
		t->state_name = proto_state_name(s.state);
		t->expires_at = s.expires_at;
		t->refreshed_at = s.refreshed_at;
		t->next_refresh_at = s.next_refresh_at;
	}
	if (r != 0) {
		xo_scope_tokens_free(list, n);
		return r;
	}
	*out = list;
	*n_out = n;
	return 0;
}

/* LIST, with the scopes' tokens when tokens is not NULL and the agent
   has them. */
static int list(struct xo_client *c, struct xo_account **accounts,
		size_t *count, struct xo_scope_token **tokens, size_t *n_tokens)
{
	struct xo_account *list = NULL;
	struct xo_scope_token *scopes = NULL;
	struct proto_list_req q;
	struct reply rep;
	uint32_t n = 0, i;
	size_t n_scopes = 0;
	int r = XO_ERR_INTERNAL;

	memset(&rep, 0, sizeof(rep));
	if (accounts != NULL)
		*accounts = NULL;
	if (count != NULL)
		*count = 0;
	if (tokens != NULL)
		*tokens = NULL;
	if (n_tokens != NULL)
		*n_tokens = 0;
	if (c == NULL || accounts == NULL || count == NULL ||
	    (tokens != NULL && n_tokens == NULL))
		return XO_ERR_INVALID;
	xoc_begin(c);
	/* An agent that does not know the field would call it bytes left
	   over (PROTOCOL.md 4.4). */
	q.flags = tokens != NULL && xo_client_has_cap(c, "list-scopes")
		      ? PROTO_LIST_SCOPES
		      : 0;
	if ((r = xoc_call(c, enc_list, &q, 0, 0, PROTO_REP_LIST, &rep)) != 0)
		goto out;
	if (proto_dec_list_count(&rep.r, &n) != 0 || n > PROTO_MAX_ACCOUNTS) {
		r = xoc_finish(c, &rep, XO_ERR_MSG_BAD);
		goto out;
	}
	/* n is bounded by PROTO_MAX_ACCOUNTS, and each entry takes several
	 * bytes of the (bounded) frame, so this allocation is bounded too. */
	if ((list = calloc(n > 0 ? n : 1, sizeof(*list))) == NULL) {
		r = xoc_fail(c, XO_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct proto_account_info e;
		struct xo_account *a = &list[i];

		if (proto_dec_list_entry(&rep.r, &e) != 0) {
			r = xoc_finish(c, &rep, XO_ERR_MSG_BAD);
			goto out;
		}
		if ((r = xoc_dup_str(c, e.name, &a->name)) != 0 ||
		    (r = xoc_dup_str(c, e.email, &a->email)) != 0 ||
		    (r = xoc_dup_str(c, e.provider, &a->provider)) != 0 ||
		    (r = xoc_dup_str(c, e.flow, &a->flow)) != 0 ||
		    (r = xoc_dup_str(c, e.last_error, &a->last_error)) != 0)
			goto out;
		a->state = e.state;
		a->state_name = proto_state_name(e.state);
		a->expires_at = e.expires_at;
		a->refreshed_at = e.refreshed_at;
		a->next_refresh_at = e.next_refresh_at;
	}
	if (q.flags != 0 && (r = read_scopes(c, &rep, &scopes, &n_scopes)) != 0)
		goto out;
	if ((r = xoc_finish(c, &rep, 0)) != 0)
		goto out;
	*accounts = list;
	*count = n;
	list = NULL; /* transferred */
	if (tokens != NULL) {
		*tokens = scopes;
		*n_tokens = n_scopes;
		scopes = NULL; /* transferred */
	}
	r = 0;
out:
	xo_accounts_free(list, n);
	xo_scope_tokens_free(scopes, n_scopes);
	xoc_reply_cleanup(&rep);
	return r;
}

XO_EXTERN int xo_list(struct xo_client *c, struct xo_account **accounts,
		      size_t *count)
{
	return list(c, accounts, count, NULL, NULL);
}

XO_EXTERN int xo_list_scopes(struct xo_client *c, struct xo_account **accounts,
			     size_t *count, struct xo_scope_token **tokens,
			     size_t *n_tokens)
{
	if (tokens == NULL)
		return XO_ERR_INVALID;
	return list(c, accounts, count, tokens, n_tokens);
}

XO_EXTERN void xo_accounts_free(struct xo_account *accounts, size_t count)
{
	size_t i;

	if (accounts == NULL)
		return;
	for (i = 0; i < count; i++)
		account_cleanup(&accounts[i]);
	free(accounts);
}

int xoc_simple_request(struct xo_client *c, uint8_t type, const char *account,
		       unsigned wait_ms)
{
	struct typed_account_req t;
	int r = XO_ERR_INTERNAL;

	if (c == NULL)
		return XO_ERR_INVALID;
	xoc_begin(c);
	if ((r = xoc_check_text(c, account, "account")) != 0)
		return r;
	t.type = type;
	t.q.account = proto_str_c(account);
	t.q.wait_ms = wait_ms;
	return xoc_call_ok(c, enc_account, &t, t.q.account.len, wait_ms);
}

XO_EXTERN int xo_refresh(struct xo_client *c, const char *account,
			 unsigned wait_ms)
{
	return xoc_simple_request(c, PROTO_REQ_REFRESH, account, wait_ms);
}

XO_EXTERN int xo_remove(struct xo_client *c, const char *account)
{
	return xoc_simple_request(c, PROTO_REQ_REMOVE, account, 0);
}

XO_EXTERN int xo_delete(struct xo_client *c, const char *account)
{
	return xoc_simple_request(c, PROTO_REQ_DELETE, account, 0);
}

XO_EXTERN int xo_import(struct xo_client *c, const char *account,
			const char *refresh_token)
{
	struct proto_import_req q;
	int r = XO_ERR_INTERNAL;

	if (c == NULL)
		return XO_ERR_INVALID;
	xoc_begin(c);
	if ((r = xoc_check_text(c, account, "account")) != 0 ||
	    (r = xoc_check_text(c, refresh_token, "refresh token")) != 0)
		return r;
	q.account = proto_str_c(account);
	q.refresh_token = proto_str_c(refresh_token);
	return xoc_call_ok(c, enc_import, &q,
			   q.account.len + q.refresh_token.len, 0);
}

XO_EXTERN int xo_add(struct xo_client *c, const char *name,
		     const struct xo_setting *settings, size_t count)
{
	struct proto_add_req q;
	size_t i, strings;
	int r = XO_ERR_INTERNAL;

	if (c == NULL || (settings == NULL && count > 0))
		return XO_ERR_INVALID;
	xoc_begin(c);
	if ((r = xoc_check_text(c, name, "account name")) != 0)
		return r;
	if (count > PROTO_MAX_SETTINGS)
		return xoc_fail(c, XO_ERR_INVALID, "more than %d settings",
				PROTO_MAX_SETTINGS);
	memset(&q, 0, sizeof(q));
	q.name = proto_str_c(name);
	q.count = (uint32_t)count;
	strings = q.name.len + 8 * count;
	for (i = 0; i < count; i++) {
		if ((r = xoc_check_text(c, settings[i].key, "setting name")) !=
		    0)
			return r;
		if (settings[i].value != NULL &&
		    strlen(settings[i].value) > PROTO_MAX_STR)
			return xoc_fail(c, XO_ERR_INVALID,
					"the value of %s is too long",
					settings[i].key);
		q.settings[i].key = proto_str_c(settings[i].key);
		q.settings[i].value = proto_str_c(settings[i].value);
		strings += q.settings[i].key.len + q.settings[i].value.len;
	}
	if (strings > PROTO_MAX_MSG)
		return xoc_fail(c, XO_ERR_INVALID, "the settings are too long");
	return xoc_call_ok(c, enc_add, &q, strings, 0);
}
