/*
 * vault_store.c: the plain text inside the vault: JSON, with a format
 * version.
 *
 *   {"format": 1,
 *    "accounts": [{"name": "work", "email": "a@example.com",
 *                  "refresh_token": "...", "obtained": 1700000000,
 *                  "presented": false,
 *                  "settings": {"provider": "generic", ...}}, ...]}
 *
 * An account is written when it holds a refresh token, or when it was
 * added at run time ("settings" are its ADD settings, which may hold a
 * client_secret: the vault makes it again from them).  "presented" says
 * the token went to the provider and no answer was seen: an agent that
 * stopped right then cannot know whether the provider has rotated it, so
 * it does not send it again by itself (refresh.c).  "obtained" starts an
 * account's lifetime.
 *
 * Records for accounts the agent does not have (a section taken out of
 * the config, say) are kept, sealed, and written back with every
 * snapshot: a vault never loses a token because a config changed.
 *
 * All of it is secret: jansson wipes what it frees (oauth_json_init()),
 * and the text itself lives in wiped memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/log.h"
#include "vault/vault_internal.h"

/* An account of exactly this name (not an address: records name their
   account by name). */
static struct account *find_named(struct agent *a, const char *name)
{
	struct account *acct;

	for (acct = a->accounts; acct != NULL; acct = acct->next)
		if (strcmp(acct->cfg.name, name) == 0)
			return acct;
	return NULL;
}

/* Parses sealed JSON text (NULL reads as an empty array). */
static json_t *open_json(struct agent *a, const struct agent_secret *sec)
{
	struct agent_plain *p = NULL;
	json_t *j;

	if (sec == NULL)
		return json_array();
	if (agent_secret_open(a->shield, sec, &p) != 0)
		return NULL;
	j = json_loadb(p->data, p->len, 0, NULL);
	agent_plain_free(p);
	return j;
}

/* Dumps j into wiped memory. */
static int dump_json(const json_t *j, struct agent_plain **out)
{
	size_t len = json_dumpb(j, NULL, 0, JSON_COMPACT);
	int r;

	*out = NULL;
	if (len == 0)
		return XO_ERR_NOMEM;
	if ((r = agent_plain_new(len, out)) != 0)
		return r;
	if (json_dumpb(j, (*out)->data, len, JSON_COMPACT) != len) {
		agent_plain_free(*out);
		*out = NULL;
		return XO_ERR_INTERNAL;
	}
	return 0;
}

/* Adds the sealed text as a JSON string member (or, parsed, as an
   object when as_object). */
static int set_secret(struct agent *a, json_t *rec, const char *key,
		      const struct agent_secret *sec, int as_object)
{
	struct agent_plain *p = NULL;
	json_t *v;
	int r;

	if ((r = agent_secret_open(a->shield, sec, &p)) != 0)
		return r;
	v = as_object ? json_loadb(p->data, p->len, 0, NULL)
		      : json_stringn(p->data, p->len);
	agent_plain_free(p);
	if (v == NULL || json_object_set_new(rec, key, v) != 0)
		return XO_ERR_NOMEM;
	return 0;
}

static int account_record(struct agent *a, const struct account *acct,
			  json_t **out)
{
	json_t *rec = json_object();
	int r = XO_ERR_NOMEM;

	*out = NULL;
	if (rec == NULL ||
	    json_object_set_new(rec, "name", json_string(acct->cfg.name)) != 0)
		goto fail;
	if (acct->email != NULL &&
	    json_object_set_new(rec, "email", json_string(acct->email)) != 0)
		goto fail;
	if (acct->refresh_token != NULL) {
		if ((r = set_secret(a, rec, "refresh_token",
				    acct->refresh_token, 0)) != 0)
			goto fail;
		r = XO_ERR_NOMEM;
		if (json_object_set_new(
			rec, "obtained",
			json_integer((json_int_t)acct->obtained_wall)) != 0 ||
		    json_object_set_new(rec, "presented",
					json_boolean(acct->presented ||
						     acct->interrupted)) != 0)
			goto fail;
	}
	if (acct->runtime && acct->settings != NULL &&
	    (r = set_secret(a, rec, "settings", acct->settings, 1)) != 0)
		goto fail;
	*out = rec;
	return 0;
fail:
	json_decref(rec);
	return r;
}

int vault_store_snapshot(struct agent *a, struct agent_plain **out)
{
	json_t *root = NULL, *list = NULL, *kept = NULL, *rec, *name;
	struct account *acct;
	size_t i;
	int r = XO_ERR_NOMEM;

	*out = NULL;
	if ((root = json_object()) == NULL || (list = json_array()) == NULL)
		goto out;
	for (acct = a->accounts; acct != NULL; acct = acct->next) {
		if (!acct->runtime && acct->refresh_token == NULL)
			continue;
		if ((r = account_record(a, acct, &rec)) != 0)
			goto out;
		r = XO_ERR_NOMEM;
		if (json_array_append_new(list, rec) != 0)
			goto out;
	}
	if ((kept = open_json(a, a->vault->kept)) == NULL) {
		r = XO_ERR_INTERNAL;
		goto out;
	}
	json_array_foreach(kept, i, rec)
	{
		name = json_object_get(rec, "name");
		/* An account that has appeared since has its own record. */
		if (json_is_string(name) &&
		    find_named(a, json_string_value(name)) != NULL)
			continue;
		if (json_array_append(list, rec) != 0)
			goto out;
	}
	if (json_object_set_new(root, "format",
				json_integer(VAULT_STORE_FORMAT)) != 0 ||
	    json_object_set(root, "accounts", list) != 0)
		goto out;
	r = dump_json(root, out);
out:
	json_decref(kept);
	json_decref(list);
	json_decref(root);
	return r;
}

/* Checks the document before anything is applied: a vault that is not
   ours changes nothing. */
static int check_document(const json_t *root, char *msg, size_t msglen)
{
	const json_t *format, *list, *rec, *v;
	size_t i;

	if (!json_is_object(root)) {
		snprintf(msg, msglen, "its contents are not readable");
		return XO_ERR_VAULT_CORRUPT;
	}
	format = json_object_get(root, "format");
	if (!json_is_integer(format) || json_integer_value(format) < 1) {
		snprintf(msg, msglen, "its contents have no format version");
		return XO_ERR_VAULT_CORRUPT;
	}
	if (json_integer_value(format) > VAULT_STORE_FORMAT) {
		snprintf(msg, msglen,
			 "its contents have format %lld, and this agent "
			 "reads up to %d: use a newer xoauth-agent",
			 (long long)json_integer_value(format),
			 VAULT_STORE_FORMAT);
		return XO_ERR_VAULT_NEWER;
	}
	list = json_object_get(root, "accounts");
	if (!json_is_array(list)) {
		snprintf(msg, msglen, "its contents list no accounts");
		return XO_ERR_VAULT_CORRUPT;
	}
	json_array_foreach(list, i, rec)
	{
		v = json_object_get(rec, "name");
		if (!json_is_object(rec) || !json_is_string(v) ||
		    json_string_length(v) == 0 ||
		    ((v = json_object_get(rec, "refresh_token")) != NULL &&
		     (!json_is_string(v) || json_string_length(v) == 0)) ||
		    ((v = json_object_get(rec, "settings")) != NULL &&
		     !json_is_object(v)) ||
		    ((v = json_object_get(rec, "email")) != NULL &&
		     !json_is_string(v))) {
			snprintf(msg, msglen,
				 "account record %zu of its contents is "
				 "malformed",
				 i + 1);
			return XO_ERR_VAULT_CORRUPT;
		}
	}
	return 0;
}

/* Creates the runtime account a record describes; NULL when it cannot be
   (a clash with another account, settings this agent refuses). */
static struct account *create_runtime(struct agent *a, const char *name,
				      const json_t *settings)
{
	struct agent_setting s[PROTO_MAX_SETTINGS];
	struct account *acct = NULL;
	const char *key;
	json_t *v;
	char msg[900];
	size_t n = 0;

	json_object_foreach((json_t *)settings, key, v)
	{
		if (n == PROTO_MAX_SETTINGS || !json_is_string(v)) {
			log_error("vault: the account '%s' has settings this "
				  "agent cannot read; kept in the vault",
				  name);
			return NULL;
		}
		s[n].key = key;
		s[n].value = json_string_value(v);
		n++;
	}
	if (agent_runtime_create(a, name, s, n, &acct, msg, sizeof(msg)) != 0) {
		log_error("vault: the account '%s' added at run time cannot "
			  "come back (%s); kept in the vault",
			  name, msg);
		return NULL;
	}
	log_info("%s: account added at run time, back from the vault", name);
	return acct;
}

/* Gives the record's refresh token to acct; 1 when given. */
static int give_token(struct agent *a, struct account *acct, const json_t *rec,
		      enum vault_apply_mode mode)
{
	const json_t *rt = json_object_get(rec, "refresh_token");
	const json_t *email = json_object_get(rec, "email");
	const json_t *obtained = json_object_get(rec, "obtained");
	struct agent_secret *sec = NULL;
	char fp[9];

	if (rt == NULL || acct->refresh_token != NULL || acct->refreshing ||
	    acct->login != NULL || agent_account_is_app(acct))
		return 0;
	if (agent_secret_seal(a->shield, json_string_value(rt),
			      json_string_length(rt), &sec) != 0)
		return 0;
	agent_account_forget(acct);
	acct->refresh_token = sec;
	if (email != NULL && acct->email == NULL)
		acct->email = strdup(json_string_value(email));
	agent_account_set_obtained(acct,
				   json_is_integer(obtained)
				       ? (time_t)json_integer_value(obtained)
				       : time(NULL));
	agent_secret_fingerprint(sec, fp);
	if (mode == VAULT_APPLY_LOAD &&
	    json_is_true(json_object_get(rec, "presented"))) {
		acct->interrupted = 1;
		acct->state = PROTO_STATE_REAUTH;
		acct->last_err = XO_ERR_LOGIN_NEEDED;
		snprintf(acct->last_error, sizeof(acct->last_error),
			 "%s: the agent stopped during a refresh, so the "
			 "provider may have replaced this refresh token "
			 "already, and sending it again could make it revoke "
			 "the whole grant: run 'xoauth refresh %s' to try it "
			 "anyway, or 'xoauth login %s'",
			 acct->cfg.name, acct->cfg.name, acct->cfg.name);
		log_error("%s (token %s)", acct->last_error, fp);
		return 1;
	}
	acct->state = PROTO_STATE_IDLE;
	/* An access token at once, as after a login. */
	acct->next_refresh_boot = agent_now_boot();
	log_info("%s: refresh token %s %s", acct->cfg.name, fp,
		 mode == VAULT_APPLY_LOAD ? "from the vault" : "restored");
	return 1;
}

/* Records of old not named in list, nor by an account (which has its
   own record now, and a newer token), are appended to list. */
static int merge_kept(struct agent *a, json_t *list, const json_t *old)
{
	const json_t *rec, *other;
	const char *name;
	size_t i, j;
	int dup;

	json_array_foreach(old, i, rec)
	{
		name = json_string_value(json_object_get(rec, "name"));
		if (name == NULL || find_named(a, name) != NULL)
			continue;
		dup = 0;
		json_array_foreach(
		    list, j,
		    other) if (strcmp(name,
				      json_string_value(json_object_get(
					  other, "name"))) == 0) dup = 1;
		if (!dup &&
		    json_array_append((json_t *)list, (json_t *)rec) != 0)
			return XO_ERR_NOMEM;
	}
	return 0;
}

static int apply_document(struct agent *a, json_t *root,
			  enum vault_apply_mode mode, unsigned *n_applied,
			  char *msg, size_t msglen)
{
	json_t *list, *rec, *settings, *kept = NULL, *old = NULL;
	struct agent_plain *text = NULL;
	struct agent_secret *sealed = NULL;
	struct account *acct;
	const char *name;
	size_t i;
	int r, changed;

	*n_applied = 0;
	if ((r = check_document(root, msg, msglen)) != 0)
		return r;
	r = XO_ERR_NOMEM;
	if ((kept = json_array()) == NULL ||
	    (old = open_json(a, a->vault->kept)) == NULL)
		goto out;
	list = json_object_get(root, "accounts");
	json_array_foreach(list, i, rec)
	{
		name = json_string_value(json_object_get(rec, "name"));
		settings = json_object_get(rec, "settings");
		acct = find_named(a, name);
		changed = 0;
		if (acct == NULL && settings != NULL &&
		    (acct = create_runtime(a, name, settings)) != NULL)
			changed = 1;
		if (acct != NULL && settings != NULL && !acct->runtime) {
			log_error("vault: the account '%s' added at run time "
				  "is now a section of the config; its record "
				  "stays in the vault",
				  name);
			acct = NULL;
		}
		if (acct == NULL) {
			if (json_array_append(kept, rec) != 0)
				goto out;
			continue;
		}
		changed |= give_token(a, acct, rec, mode);
		*n_applied += (unsigned)changed;
	}
	if ((r = merge_kept(a, kept, old)) != 0)
		goto out;
	if (json_array_size(kept) > 0 &&
	    ((r = dump_json(kept, &text)) != 0 ||
	     (r = agent_secret_seal(a->shield, text->data, text->len,
				    &sealed)) != 0))
		goto out;
	agent_secret_free(a->vault->kept);
	a->vault->kept = sealed;
	sealed = NULL; /* transferred */
	r = 0;
out:
	agent_plain_free(text);
	json_decref(kept);
	json_decref(old);
	return r;
}

int vault_store_apply(struct agent *a, const struct agent_plain *text,
		      enum vault_apply_mode mode, unsigned *n_applied,
		      char *msg, size_t msglen)
{
	json_t *root;
	int r;

	*n_applied = 0;
	if ((root = json_loadb(text->data, text->len, 0, NULL)) == NULL) {
		snprintf(msg, msglen, "its contents are not readable");
		return XO_ERR_VAULT_CORRUPT;
	}
	r = apply_document(a, root, mode, n_applied, msg, msglen);
	json_decref(root);
	return r;
}

int vault_store_adopt(struct agent *a, unsigned *n_applied)
{
	json_t *root, *kept;
	char msg[256];
	int r;

	*n_applied = 0;
	if (a->vault->kept == NULL)
		return 0;
	if ((kept = open_json(a, a->vault->kept)) == NULL)
		return XO_ERR_NOMEM;
	if ((root = json_pack("{s:i,s:o}", "format", VAULT_STORE_FORMAT,
			      "accounts", kept)) == NULL)
		return XO_ERR_NOMEM;
	/* The kept records themselves are applied: those that find their
	   account leave the list (merge_kept()). */
	r = apply_document(a, root, VAULT_APPLY_LOAD, n_applied, msg,
			   sizeof(msg));
	json_decref(root);
	return r;
}
