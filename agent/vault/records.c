/*
 * records.c: the plain text inside the vault: JSON, with a format
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
 * it does not send it again by itself (account/refresh.c).  "obtained" starts
 * an account's lifetime.
 *
 * Records for accounts the agent does not have (a section taken out of
 * the config, say) are kept, sealed, and written back with every
 * snapshot: a vault never loses a token because a config changed.
 *
 * A journal record (pure/journal.h) holds the same text for the accounts
 * that changed, and names those that have no record any more:
 *
 *   {"format": 1, "accounts": [...], "gone": ["old", ...]}
 *
 * A refresh marks its account "presented" before its token goes out, and
 * a record of that alone names the account, not its whole entry with the
 * token (format 2, vault_internal.h): in a storm of refreshes, that is
 * half the records' bytes, and of the new bases that fold them in:
 *
 *   {"format": 2, "accounts": [], "presented": ["work", ...]}
 *
 * A text of every account says so ("whole": true): a base, an export, or
 * a record that replaces all before it (after a reload or a RESTORE).
 * Loading plays the records over the base, in their order (the replay
 * below), into the one document the base alone used to be.
 *
 * All of it is secret: jansson wipes what it frees (oauth_json_init()),
 * and the text itself lives in wiped memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "account/account.h"
#include "config/config.h"
#include "core/log.h"
#include "secret/secret.h"
#include "vault/vault_internal.h"

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

#define STR_(x) #x
#define STR(x) STR_(x)

/* Adds the sealed text as a JSON string member (or, parsed, as an
   object when as_object). */
static int set_secret(struct agent_shield *shield, json_t *rec, const char *key,
		      const struct agent_secret *sec, int as_object)
{
	struct agent_plain *p = NULL;
	json_t *v;
	int r;

	if ((r = agent_secret_open(shield, sec, &p)) != 0)
		return r;
	v = as_object ? json_loadb(p->data, p->len, 0, NULL)
		      : json_stringn(p->data, p->len);
	agent_plain_free(p);
	if (v == NULL || json_object_set_new(rec, key, v) != 0)
		return XO_ERR_NOMEM;
	return 0;
}

/* What a snapshot keeps of an account: copies of its strings and
   references to its sealed secrets, which never change. */
struct snap_rec {
	char *name, *email;
	struct agent_secret *refresh, *settings; /* references; may be NULL */
	time_t obtained;
	bool presented;
};

/* The JSON record of an account, opening its secrets with shield. */
static int make_record(struct agent_shield *shield, const struct snap_rec *ar,
		       json_t **out)
{
	json_t *rec = json_object();
	int r = XO_ERR_NOMEM;

	*out = NULL;
	if (rec == NULL ||
	    json_object_set_new(rec, "name", json_string(ar->name)) != 0)
		goto fail;
	if (ar->email != NULL &&
	    json_object_set_new(rec, "email", json_string(ar->email)) != 0)
		goto fail;
	if (ar->refresh != NULL) {
		if ((r = set_secret(shield, rec, "refresh_token", ar->refresh,
				    0)) != 0)
			goto fail;
		r = XO_ERR_NOMEM;
		if (json_object_set_new(
			rec, "obtained",
			json_integer((json_int_t)ar->obtained)) != 0 ||
		    json_object_set_new(rec, "presented",
					json_boolean(ar->presented)) != 0)
			goto fail;
	}
	if (ar->settings != NULL &&
	    (r = set_secret(shield, rec, "settings", ar->settings, 1)) != 0)
		goto fail;
	*out = rec;
	return 0;
fail:
	json_decref(rec);
	return r;
}

struct vault_snapshot {
	struct agent_vault *vault;   /* takes the shield back */
	struct agent_shield *shield; /* a copy, for the thread that joins */
	struct snap_rec *recs;	     /* the accounts that have a record */
	size_t n_recs, recs_cap;
	json_t *kept;	   /* the kept records not shadowed by an account */
	json_t *gone;	   /* names without a record any more (a change) */
	json_t *presented; /* names whose mark alone is recorded (a change) */
	bool whole;	   /* every account, not only those that changed */
};

/*
 * The copy of the shield a snapshot's thread opens its secrets with: one
 * that a snapshot gave back, else a new one.  A new copy costs the loop
 * two sodium_malloc()s (mmap, mprotect, mlock) and its end two munmap()s,
 * each of which interrupts every CPU to flush its TLB: once per journal
 * record, in a refresh storm that was a fifth of the loop's time, ahead
 * of the TOKENs waiting (tests/bench/README.md, "The storm's tail").  The
 * key never changes, so a copy stays right; one thread at a time uses it
 * (the pool hands it on), and vault_snapshot_text() makes its key
 * unreadable again before it lets go.
 */
static int shield_take(struct agent *a, struct agent_shield **out)
{
	struct agent_vault *v = a->vault;

	if (v != NULL && v->n_spare_shields > 0) {
		*out = v->spare_shields[--v->n_spare_shields];
		return 0;
	}
	return agent_shield_copy(a->shield, out);
}

static void shield_give_back(struct agent_vault *v, struct agent_shield *s)
{
	if (s != NULL && v != NULL && v->n_spare_shields < VAULT_SPARE_SHIELDS)
		v->spare_shields[v->n_spare_shields++] = s;
	else
		agent_shield_free(s);
}

void vault_spare_shields_free(struct agent_vault *v)
{
	while (v->n_spare_shields > 0)
		agent_shield_free(v->spare_shields[--v->n_spare_shields]);
}

int vault_snapshot_free_some(struct vault_snapshot *snap, size_t n)
{
	struct snap_rec *sr;

	if (snap == NULL)
		return 1;
	for (; n > 0 && snap->n_recs > 0; n--) {
		sr = &snap->recs[--snap->n_recs];
		free(sr->name);
		free(sr->email);
		agent_secret_free(sr->refresh);
		agent_secret_free(sr->settings);
	}
	if (snap->n_recs > 0)
		return 0;
	free(snap->recs);
	json_decref(snap->kept);
	json_decref(snap->gone);
	json_decref(snap->presented);
	shield_give_back(snap->vault, snap->shield);
	free(snap);
	return 1;
}

void vault_snapshot_free(struct vault_snapshot *snap)
{
	if (snap != NULL)
		vault_snapshot_free_some(snap, snap->n_recs);
}

/* Room for one more record: a snapshot taken in pieces grows, as
   accounts may be added between them. */
static int snap_room(struct vault_snapshot *snap)
{
	struct snap_rec *more;
	size_t cap;

	if (snap->n_recs < snap->recs_cap)
		return 0;
	cap = snap->recs_cap == 0 ? 64 : snap->recs_cap * 2;
	if ((more = reallocarray(snap->recs, cap, sizeof(*more))) == NULL)
		return XO_ERR_NOMEM;
	memset(more + snap->recs_cap, 0,
	       (cap - snap->recs_cap) * sizeof(*more));
	snap->recs = more;
	snap->recs_cap = cap;
	return 0;
}

/* Adds acct to snap if it has a record (1), else 0; <0 on error. */
static int snap_account(struct vault_snapshot *snap, struct account *acct)
{
	struct account_record ar;
	struct snap_rec *sr;
	int r;

	account_record(acct, &ar);
	if (ar.settings == NULL && ar.refresh == NULL)
		return 0;
	if ((r = snap_room(snap)) != 0)
		return r;
	sr = &snap->recs[snap->n_recs++];
	if ((sr->name = strdup(ar.name)) == NULL ||
	    (ar.email != NULL && (sr->email = strdup(ar.email)) == NULL))
		return XO_ERR_NOMEM;
	if (ar.refresh != NULL)
		sr->refresh =
		    agent_secret_ref((struct agent_secret *)ar.refresh);
	if (ar.settings != NULL)
		sr->settings =
		    agent_secret_ref((struct agent_secret *)ar.settings);
	sr->obtained = ar.obtained;
	sr->presented = ar.presented;
	return 1;
}

/* A deep copy of rec for snap's kept records: the thread that joins must
   share no reference count with the loop. */
static int snap_kept(struct vault_snapshot *snap, const json_t *rec)
{
	return json_array_append_new(snap->kept, json_deep_copy(rec)) != 0
		   ? XO_ERR_NOMEM
		   : 0;
}

/*
 * A snapshot is taken on the loop, which owns the accounts, and made into
 * text in the thread pool (vault/write.c): the loop copies each account's
 * name and address and takes a reference to its sealed refresh token and
 * settings; the thread opens them with a copy of the shield and has
 * jansson build and dump each record.  With 100,000 accounts the loop
 * spends some milliseconds on a whole snapshot, not the seconds that
 * building and dumping some 250 MiB of records take.
 */
static int snapshot_new(struct agent *a, size_t n, bool whole,
			struct vault_snapshot **out)
{
	struct vault_snapshot *snap;

	*out = NULL;
	if ((snap = calloc(1, sizeof(*snap))) == NULL)
		return XO_ERR_NOMEM;
	snap->whole = whole;
	snap->vault = a->vault;
	snap->recs_cap = n;
	if ((n > 0 && (snap->recs = calloc(n, sizeof(*snap->recs))) == NULL) ||
	    (snap->kept = json_array()) == NULL ||
	    (!whole && ((snap->gone = json_array()) == NULL ||
			(snap->presented = json_array()) == NULL)) ||
	    shield_take(a, &snap->shield) != 0) {
		vault_snapshot_free(snap);
		return XO_ERR_NOMEM;
	}
	*out = snap;
	return 0;
}

int vault_snapshot_begin(struct agent *a, size_t n, struct vault_snapshot **out)
{
	return snapshot_new(a, n, true, out);
}

int vault_snapshot_add(struct vault_snapshot *snap, struct account *acct)
{
	int r = snap_account(snap, acct);

	return r < 0 ? r : 0;
}

int vault_snapshot_add_kept(struct agent *a, struct vault_snapshot *snap)
{
	json_t *kept, *rec, *name;
	size_t i;
	int r = 0;

	if ((kept = open_json(a, a->vault->kept)) == NULL)
		return XO_ERR_INTERNAL;
	json_array_foreach(kept, i, rec)
	{
		name = json_object_get(rec, "name");
		/* An account that has appeared since has its own record. */
		if (json_is_string(name) &&
		    account_find_named(a->store, json_string_value(name)) !=
			NULL)
			continue;
		if ((r = snap_kept(snap, rec)) != 0)
			break;
	}
	json_decref(kept);
	return r;
}

int vault_snapshot_take(struct agent *a, struct vault_snapshot **out)
{
	struct vault_snapshot *snap = NULL;
	struct account *acct;
	size_t n = 0;
	int r;

	*out = NULL;
	for (acct = account_first(a->store); acct != NULL;
	     acct = account_next(acct))
		n++;
	if ((r = vault_snapshot_begin(a, n, &snap)) != 0)
		return r;
	for (acct = account_first(a->store); acct != NULL;
	     acct = account_next(acct))
		if ((r = vault_snapshot_add(snap, acct)) != 0)
			goto out;
	if ((r = vault_snapshot_add_kept(a, snap)) != 0)
		goto out;
	*out = snap;
	snap = NULL; /* transferred */
out:
	vault_snapshot_free(snap);
	return r;
}

/* The kept record named name in kept (a JSON array), or NULL. */
static json_t *kept_named(json_t *kept, const char *name)
{
	const char *n;
	json_t *rec;
	size_t i;

	json_array_foreach(kept, i, rec)
	{
		n = json_string_value(json_object_get(rec, "name"));
		if (n != NULL && strcmp(n, name) == 0)
			return rec;
	}
	return NULL;
}

/* The marks of marked that a record holds as names alone: of accounts
   that hold a token and are presented still, and not in names, whose
   whole entries the record holds. */
static int snap_marks(struct vault_snapshot *snap, struct agent *a,
		      const struct vault_names *names,
		      const struct vault_names *marked)
{
	struct account_record ar;
	struct account *acct;
	size_t i;

	for (i = 0; i < marked->n; i++) {
		const char *name = marked->names[i];

		if (vault_names_has(names, name) ||
		    (acct = account_find_named(a->store, name)) == NULL)
			continue;
		account_record(acct, &ar);
		if (ar.refresh == NULL || !ar.presented)
			continue;
		if (json_array_append_new(snap->presented, json_string(name)) !=
		    0)
			return XO_ERR_NOMEM;
	}
	return 0;
}

int vault_snapshot_take_names(struct agent *a, const struct vault_names *names,
			      const struct vault_names *marked,
			      struct vault_snapshot **out)
{
	struct vault_snapshot *snap = NULL;
	struct account *acct;
	json_t *kept = NULL, *rec;
	size_t i, n = names->n;
	int r;

	*out = NULL;
	if ((r = snapshot_new(a, n, false, &snap)) != 0)
		return r;
	if ((r = snap_marks(snap, a, names, marked)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		/* What a whole snapshot would hold for the name: the
		   account's record, else a kept one, else none. */
		rec = NULL;
		if ((acct = account_find_named(a->store, names->names[i])) !=
		    NULL) {
			if ((r = snap_account(snap, acct)) < 0)
				goto out;
			if (r == 1)
				continue;
		} else {
			if (kept == NULL &&
			    (kept = open_json(a, a->vault->kept)) == NULL) {
				r = XO_ERR_INTERNAL;
				goto out;
			}
			rec = kept_named(kept, names->names[i]);
		}
		r = rec != NULL ? snap_kept(snap, rec)
		    : json_array_append_new(snap->gone,
					    json_string(names->names[i])) != 0
			? XO_ERR_NOMEM
			: 0;
		if (r != 0)
			goto out;
	}
	*out = snap;
	snap = NULL; /* transferred */
	r = 0;
out:
	json_decref(kept);
	vault_snapshot_free(snap);
	return r;
}

/* Appends j, dumped, to p at *at, growing p as needed. */
static int append_json(struct agent_plain *p, size_t *at, const json_t *j)
{
	size_t len = json_dumpb(j, NULL, 0, JSON_COMPACT), want;
	int r;

	if (len == 0)
		return XO_ERR_NOMEM;
	if (*at + len + 2 > p->len) {
		want = p->len * 2 > *at + len + 2 ? p->len * 2 : *at + len + 2;
		if ((r = agent_plain_large_grow(p, want)) != 0)
			return r;
	}
	if (json_dumpb(j, p->data + *at, len, JSON_COMPACT) != len)
		return XO_ERR_INTERNAL;
	*at += len;
	return 0;
}

static int append_bytes(struct agent_plain *p, size_t *at, const char *b,
			size_t n)
{
	int r;

	if (*at + n + 1 > p->len &&
	    (r = agent_plain_large_grow(p, p->len * 2 + n)) != 0)
		return r;
	memcpy(p->data + *at, b, n);
	*at += n;
	return 0;
}

int vault_snapshot_open(struct vault_snapshot *snap,
			const struct agent_secret *sec,
			struct agent_plain **out)
{
	int r = agent_secret_open(snap->shield, sec, out);

	/* Left readable for vault_snapshot_text(), which closes it; not
	   when there will be no text. */
	if (r != 0)
		agent_shield_close(snap->shield);
	return r;
}

int vault_snapshot_text(struct vault_snapshot *snap, struct agent_plain **out)
{
	static const char head[] =
	    "{\"format\":" STR(VAULT_TEXT_FORMAT) ",\"accounts\":[";
	static const char head_marks[] =
	    "{\"format\":" STR(VAULT_MARKS_FORMAT) ",\"accounts\":[";
	static const char whole[] = ",\"whole\":true";
	bool marks = json_array_size(snap->presented) > 0;
	struct agent_plain *p = NULL;
	json_t *rec;
	size_t i, at = 0, items = 0;
	int r;

	*out = NULL;
	/* A guess at the size: grown (mremap, no copy left behind) if short. */
	if ((r = agent_plain_large(64 + snap->n_recs * 2560, &p)) != 0)
		return r;
	if ((r = marks
		     ? append_bytes(p, &at, head_marks, sizeof(head_marks) - 1)
		     : append_bytes(p, &at, head, sizeof(head) - 1)) != 0)
		goto out;
	for (i = 0; i < snap->n_recs; i++) {
		if ((r = make_record(snap->shield, &snap->recs[i], &rec)) != 0)
			goto out;
		if ((items++ > 0 && (r = append_bytes(p, &at, ",", 1)) != 0) ||
		    (r = append_json(p, &at, rec)) != 0) {
			json_decref(rec);
			goto out;
		}
		json_decref(rec);
	}
	json_array_foreach(snap->kept, i, rec)
	{
		if ((items++ > 0 && (r = append_bytes(p, &at, ",", 1)) != 0) ||
		    (r = append_json(p, &at, rec)) != 0)
			goto out;
	}
	if ((r = append_bytes(p, &at, "]", 1)) != 0)
		goto out;
	if (snap->whole)
		r = append_bytes(p, &at, whole, sizeof(whole) - 1);
	else if (json_array_size(snap->gone) > 0 &&
		 (r = append_bytes(p, &at, ",\"gone\":", 8)) == 0)
		r = append_json(p, &at, snap->gone);
	if (r == 0 && marks &&
	    (r = append_bytes(p, &at, ",\"presented\":", 13)) == 0)
		r = append_json(p, &at, snap->presented);
	if (r != 0 || (r = append_bytes(p, &at, "}", 1)) != 0)
		goto out;
	p->len = at;
	p->data[at] = '\0';
	*out = p;
	p = NULL; /* transferred */
out:
	agent_plain_free(p);
	agent_shield_close(snap->shield);
	return r;
}

int vault_store_snapshot(struct agent *a, struct agent_plain **out)
{
	struct vault_snapshot *snap = NULL;
	int r;

	*out = NULL;
	if ((r = vault_snapshot_take(a, &snap)) == 0)
		r = vault_snapshot_text(snap, out);
	vault_snapshot_free(snap);
	return r;
}

static int check_format(const json_t *root, struct agent_err *err);

/* Checks the document before anything is applied: a vault that is not
   ours changes nothing. */
static int check_document(const json_t *root, struct agent_err *err)
{
	const json_t *list, *rec, *v;
	size_t i;
	int r;

	if ((r = check_format(root, err)) != 0)
		return r;
	list = json_object_get(root, "accounts");
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
		     !json_is_string(v)))
			return agent_err_set(err, XO_ERR_VAULT_CORRUPT,
					     "account record %zu of its "
					     "contents is malformed",
					     i + 1);
	}
	return 0;
}

/* Creates the runtime account a record describes; NULL when it cannot be
   (a clash with another account, settings this agent refuses). */
static struct account *create_runtime(struct agent *a, const char *name,
				      const json_t *settings,
				      enum vault_apply_mode mode)
{
	struct agent_setting s[PROTO_MAX_SETTINGS];
	struct account *acct = NULL;
	struct agent_err err;
	const char *key;
	json_t *v;
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
	if (account_runtime_create(a->store, name, s, n, &acct, &err) != 0) {
		log_error("vault: the account '%s' added at run time cannot "
			  "come back (%s); kept in the vault",
			  name, agent_err_text(&err));
		return NULL;
	}
	/* A load logs one line for the vault (state.c), not one for each
	   of its accounts, which may be 100,000. */
	agent_log(mode == VAULT_APPLY_LOAD ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
		  "%s: account added at run time, back from the vault", name);
	return acct;
}

/* Gives the record's refresh token to acct; 1 when given. */
static int give_token(struct account *acct, const json_t *rec,
		      enum vault_apply_mode mode)
{
	const json_t *rt = json_object_get(rec, "refresh_token");
	const json_t *email = json_object_get(rec, "email");
	const json_t *obtained = json_object_get(rec, "obtained");
	struct account_import how = {
	    .obtained = json_is_integer(obtained)
			    ? (time_t)json_integer_value(obtained)
			    : 0,
	    .email = json_string_value(email),
	    /* Only the agent's own vault knows whether it stopped during a
	       refresh: an export is a copy made at rest. */
	    .interrupted = mode == VAULT_APPLY_LOAD &&
			   json_is_true(json_object_get(rec, "presented")),
	    .refresh_now = true,
	    .source = mode == VAULT_APPLY_LOAD ? "from the vault" : "restored",
	    .quiet = mode == VAULT_APPLY_LOAD,
	};

	if (rt == NULL || !account_wants_token(acct))
		return 0;
	return account_import(acct, json_string_value(rt),
			      json_string_length(rt), &how) == 0;
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
		if (name == NULL || account_find_named(a->store, name) != NULL)
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
			  struct agent_err *err)
{
	json_t *list, *rec, *settings, *kept = NULL, *old = NULL;
	struct agent_plain *text = NULL;
	struct agent_secret *sealed = NULL;
	struct account *acct;
	const char *name;
	size_t i;
	int r, changed;

	*n_applied = 0;
	if ((r = check_document(root, err)) != 0)
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
		acct = account_find_named(a->store, name);
		changed = 0;
		if (acct == NULL && settings != NULL &&
		    (acct = create_runtime(a, name, settings, mode)) != NULL)
			changed = 1;
		if (acct != NULL && settings != NULL &&
		    !account_is_runtime(acct)) {
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
		changed |= give_token(acct, rec, mode);
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
		      struct agent_err *err)
{
	json_t *root;
	int r;

	*n_applied = 0;
	if ((root = json_loadb(text->data, text->len, 0, NULL)) == NULL)
		return agent_err_set(err, XO_ERR_VAULT_CORRUPT,
				     "its contents are not readable");
	r = apply_document(a, root, mode, n_applied, err);
	json_decref(root);
	return r;
}

/* ---- the replay of a journal over its base ---- */

void vault_replay_init(struct vault_replay *rp)
{
	memset(rp, 0, sizeof(*rp));
}

void vault_replay_cleanup(struct vault_replay *rp)
{
	json_decref(rp->root);
	json_decref(rp->at);
	memset(rp, 0, sizeof(*rp));
}

/* Where each name stands in the document's list (built at the first
   record: a vault without a journal needs none). */
static int index_names(struct vault_replay *rp)
{
	json_t *list = json_object_get(rp->root, "accounts"), *rec;
	const char *name;
	size_t i;

	json_decref(rp->at);
	if ((rp->at = json_object()) == NULL)
		return XO_ERR_NOMEM;
	json_array_foreach(list, i, rec)
	{
		name = json_string_value(json_object_get(rec, "name"));
		if (name != NULL && json_object_get(rp->at, name) == NULL &&
		    json_object_set_new(rp->at, name,
					json_integer((json_int_t)i)) != 0)
			return XO_ERR_NOMEM;
	}
	return 0;
}

/* The format of a text (base or record), as check_document() says. */
static int check_format(const json_t *root, struct agent_err *err)
{
	const json_t *format;

	if (!json_is_object(root))
		return agent_err_set(err, XO_ERR_VAULT_CORRUPT,
				     "its contents are not readable");
	format = json_object_get(root, "format");
	if (!json_is_integer(format) || json_integer_value(format) < 1)
		return agent_err_set(err, XO_ERR_VAULT_CORRUPT,
				     "its contents have no format version");
	if (json_integer_value(format) > VAULT_STORE_FORMAT)
		return agent_err_set(err, XO_ERR_VAULT_NEWER,
				     "its contents have format %lld, and this "
				     "agent reads up to %d: use a newer "
				     "xoauth-agent",
				     (long long)json_integer_value(format),
				     VAULT_STORE_FORMAT);
	if (!json_is_array(json_object_get(root, "accounts")))
		return agent_err_set(err, XO_ERR_VAULT_CORRUPT,
				     "its contents list no accounts");
	return 0;
}

int vault_replay_start(struct vault_replay *rp, const struct agent_plain *base,
		       struct agent_err *err)
{
	int r;

	vault_replay_cleanup(rp);
	if ((rp->root = json_loadb(base->data, base->len, 0, NULL)) == NULL)
		return agent_err_set(err, XO_ERR_VAULT_CORRUPT,
				     "its contents are not readable");
	if ((r = check_format(rp->root, err)) != 0)
		return r;
	return 0;
}

/* Puts rec in the list in its name's place, or at the end. */
static int replay_put(struct vault_replay *rp, json_t *list, json_t *rec)
{
	const char *name = json_string_value(json_object_get(rec, "name"));
	json_t *at = json_object_get(rp->at, name);

	if (at != NULL)
		return json_array_set(list, (size_t)json_integer_value(at),
				      rec) != 0
			   ? XO_ERR_NOMEM
			   : 0;
	if (json_array_append(list, rec) != 0 ||
	    json_object_set_new(
		rp->at, name,
		json_integer((json_int_t)json_array_size(list) - 1)) != 0)
		return XO_ERR_NOMEM;
	return 0;
}

/* A list of names, or none. */
static bool names_well_formed(const json_t *names)
{
	const json_t *v;
	size_t i;

	if (names == NULL)
		return true;
	if (!json_is_array(names))
		return false;
	json_array_foreach(names, i, v)
	{
		if (!json_is_string(v))
			return false;
	}
	return true;
}

/* A record's accounts are objects with a name; its "gone" and
   "presented" are names. */
static bool record_well_formed(const json_t *recs, const json_t *gone,
			       const json_t *presented)
{
	const json_t *v;
	size_t i;

	json_array_foreach(recs, i, v)
	{
		if (!json_is_object(v) ||
		    json_string_length(json_object_get(v, "name")) == 0)
			return false;
	}
	return names_well_formed(gone) && names_well_formed(presented);
}

/* The marks of a record: each named account's entry, if it holds a
   refresh token, says it was presented. */
static int replay_marks(struct vault_replay *rp, json_t *list,
			const json_t *presented)
{
	json_t *at, *entry;
	const json_t *v;
	size_t i;

	json_array_foreach(presented, i, v)
	{
		if ((at = json_object_get(rp->at, json_string_value(v))) ==
			NULL ||
		    (entry = json_array_get(
			 list, (size_t)json_integer_value(at))) == NULL ||
		    json_object_get(entry, "refresh_token") == NULL)
			continue;
		if (json_object_set_new(entry, "presented", json_true()) != 0)
			return XO_ERR_NOMEM;
	}
	return 0;
}

int vault_replay_record(struct vault_replay *rp, const struct agent_plain *text,
			struct agent_err *err)
{
	json_t *doc, *list, *recs, *gone, *presented, *rec, *at;
	struct agent_err why;
	size_t i;
	int r = XO_ERR_VAULT_CORRUPT;

	rp->records++;
	if ((doc = json_loadb(text->data, text->len, 0, NULL)) == NULL ||
	    (r = check_format(doc, &why)) != 0) {
		r = agent_err_set(err, r != 0 ? r : XO_ERR_VAULT_CORRUPT,
				  "record %zu of its journal: %s", rp->records,
				  doc == NULL ? "not readable"
					      : agent_err_text(&why));
		goto out;
	}
	recs = json_object_get(doc, "accounts");
	gone = json_object_get(doc, "gone");
	presented = json_object_get(doc, "presented");
	if (!record_well_formed(recs, gone, presented)) {
		r = agent_err_set(err, XO_ERR_VAULT_CORRUPT,
				  "record %zu of its journal is malformed",
				  rp->records);
		goto out;
	}
	if (json_is_true(json_object_get(doc, "whole"))) {
		/* Everything before it is replaced. */
		rp->holes = 0;
		r = json_object_set(rp->root, "accounts", recs) != 0
			? XO_ERR_NOMEM
			: index_names(rp);
		goto out;
	}
	r = XO_ERR_NOMEM;
	if (rp->at == NULL && index_names(rp) != 0)
		goto out;
	list = json_object_get(rp->root, "accounts");
	json_array_foreach(recs, i, rec)
	{
		if (replay_put(rp, list, rec) != 0)
			goto out;
	}
	json_array_foreach(gone, i, rec)
	{
		const char *name = json_string_value(rec);

		/* A hole, taken out at the end: the places of the others
		   stay where the index says. */
		if ((at = json_object_get(rp->at, name)) == NULL)
			continue;
		if (json_array_set_new(list, (size_t)json_integer_value(at),
				       json_null()) != 0 ||
		    json_object_del(rp->at, name) != 0)
			goto out;
		rp->holes++;
	}
	r = replay_marks(rp, list, presented);
out:
	json_decref(doc);
	return r;
}

int vault_replay_apply(struct agent *a, struct vault_replay *rp,
		       unsigned *n_applied, struct agent_err *err)
{
	json_t *list, *packed, *rec;
	size_t i;

	*n_applied = 0;
	if (rp->holes > 0) {
		list = json_object_get(rp->root, "accounts");
		if ((packed = json_array()) == NULL)
			return XO_ERR_NOMEM;
		json_array_foreach(list, i, rec)
		{
			if (!json_is_null(rec) &&
			    json_array_append(packed, rec) != 0) {
				json_decref(packed);
				return XO_ERR_NOMEM;
			}
		}
		if (json_object_set_new(rp->root, "accounts", packed) != 0)
			return XO_ERR_NOMEM;
		rp->holes = 0;
	}
	return apply_document(a, rp->root, VAULT_APPLY_LOAD, n_applied, err);
}

int vault_store_adopt(struct agent *a, unsigned *n_applied)
{
	json_t *root, *kept;
	struct agent_err err;
	int r;

	*n_applied = 0;
	if (a->vault->kept == NULL)
		return 0;
	if ((kept = open_json(a, a->vault->kept)) == NULL)
		return XO_ERR_NOMEM;
	if ((root = json_pack("{s:i,s:o}", "format", VAULT_TEXT_FORMAT,
			      "accounts", kept)) == NULL)
		return XO_ERR_NOMEM;
	/* The kept records themselves are applied: those that find their
	   account leave the list (merge_kept()). */
	r = apply_document(a, root, VAULT_APPLY_LOAD, n_applied, &err);
	json_decref(root);
	return r;
}
