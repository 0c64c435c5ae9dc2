/*
 * account.h: the account store, the one room that writes an account's
 * state and tokens (agent/README.md).
 *
 * An account is one [account NAME] section of the config, or one added at
 * run time (ADD).  It holds its tokens sealed (secret.h), plans and runs
 * its refreshes (one at a time: single flight), keeps its last error, and
 * parks the requests that wait on it.  Other rooms see the functions
 * below, never the fields: login/ runs a login and hands its tokens over
 * with account_take_login_tokens(), vault/ reads records and gives tokens
 * back with account_import(), doctor/ reads account_status().
 *
 * What the store needs of the rooms above it (the vault: writing, the
 * locked state) comes through struct account_hooks, which daemon/ sets;
 * with none set there is no vault and nothing is written.
 */
#ifndef XO_ACCOUNT_H
#define XO_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto.h"

struct account;
struct account_store;
struct agent;
struct agent_account_cfg;
struct agent_config;
struct agent_err;
struct agent_plain;
struct agent_secret;
struct agent_setting;
struct conn;
struct oauth_client;
struct oauth_result;
struct waiter_list;

/* Told when something the account waited for is done. */
typedef void (*account_cb)(struct account *acct);

/* ---- the store ---- */

/* What the store asks of the vault (daemon/ wires it). */
struct account_hooks {
	void *arg; /* given to each hook */
	/* Write the account named name as it is now (NULL: anything may
	   have changed), or with mark_only its "presented" mark alone:
	   0 when nothing is written (no vault open), else the number of
	   the change to wait for. */
	uint64_t (*persist)(void *arg, const char *name, bool mark_only);
	/* 1 while the agent is locked: nothing is refreshed. */
	int (*locked)(void *arg);
	/* What LIST shows on every account ("locked: ...", a failed
	   write), or NULL. */
	const char *(*problem)(void *arg);
};

/* An empty store for a's accounts; 0 or XO_ERR_NOMEM. */
int account_store_new(struct agent *a, struct account_store **out);
void account_store_set_hooks(struct account_store *s,
			     const struct account_hooks *h);
/* Makes the accounts of cfg (which must outlive the store's use of it,
   as a->config does); 0 or XO_ERR_*. */
int account_store_load(struct account_store *s, const struct agent_config *cfg);
/*
 * A reload with the new config cfg: accounts whose settings did not change
 * keep their tokens, runtime accounts stay as they are.  0, or XO_ERR_CONFIG
 * (a section of the file now takes the name or address of a runtime
 * account) or XO_ERR_NOMEM in err; then every account stays exactly as it
 * was.  On success the caller makes cfg the agent's config.
 */
int account_store_reload(struct account_store *s,
			 const struct agent_config *cfg, struct agent_err *err);
/* Re-plans the refresh timer after a change of any account. */
void account_store_schedule(struct account_store *s);
/* The agent stops: every account goes (their waiters are answered), the
   timer is closed; run the loop, then account_store_free(). */
void account_store_stop(struct account_store *s);
void account_store_free(struct account_store *s);

/* LOCK: every secret out of memory (tokens, client secrets, runtime
   accounts, which the vault brings back); whoever waits is told why. */
void account_store_wipe(struct account_store *s, const char *why);
/* After an unlock: the config's client secrets come back, app accounts
   fetch a token. */
void account_store_unlocked(struct account_store *s);

/*
 * The vault's write seq has ended (failure: NULL, or why it failed): the
 * accounts and connections that waited for it go on.
 */
void account_store_written(struct account_store *s, uint64_t seq,
			   const char *failure);
/* Asks the vault to write the account named name (NULL: every account;
   hooks.persist); 0 when nothing is written. */
uint64_t account_store_persist(struct account_store *s, const char *name);
/* Answers c with SUCCESS once write seq has ended (seq 0: now); with
   strict, a failed write is answered as XO_ERR_IO instead. */
void account_reply_when_durable(struct account_store *s, struct conn *c,
				uint64_t seq, bool strict);

/* ---- finding accounts ---- */

/* By name, then by e-mail address (without case); NULL when none. */
struct account *account_find(struct account_store *s, const char *name,
			     size_t len);
/* Exactly this name (the vault's records name their account so). */
struct account *account_find_named(struct account_store *s, const char *name);
struct account *account_first(struct account_store *s);
struct account *account_next(const struct account *acct);

/*
 * A walk of every account spread over several turns of the loop (a new
 * base's snapshot, vault/walk.c), while accounts come and go between its
 * pieces.  The store keeps where the walk stands: an account taken out
 * of the list moves the walk on to the one after it, so the walk never
 * visits a freed account nor skips one that stayed in the list; an
 * account appended is reached at the tail, even once the walk had
 * reached the end.  A reload reorders the list and frees accounts: the
 * walk starts again from the (new) first account, and
 * account_walk_restarts() counts it, so that the walker drops what it
 * took.  One walk at a time; account_walk_start() begins it,
 * account_walk_end() ends it (and forgets the count).
 */
void account_walk_start(struct account_store *s);
/* The walk's next account, or NULL when it has reached the end. */
struct account *account_walk_next(struct account_store *s);
/* How many times the walk started again since account_walk_start(). */
unsigned account_walk_restarts(const struct account_store *s);
void account_walk_end(struct account_store *s);

/* How many accounts the store holds (config and runtime). */
size_t account_store_size(const struct account_store *s);

/* ---- what an account is ---- */

const char *account_name(const struct account *acct);
/* The known address (from the config or the id_token), or NULL. */
const char *account_email(const struct account *acct);
const struct agent_account_cfg *account_cfg(const struct account *acct);
struct agent *account_agent(const struct account *acct);
/* The account's OAuth client: its grants run there. */
struct oauth_client *account_oauth(const struct account *acct);
/* The requests parked on the account (waiter.h). */
struct waiter_list *account_waiters(struct account *acct);

/* A client_credentials account: no user, no refresh token. */
bool account_is_app(const struct account *acct);
/* Added with ADD rather than written in the config. */
bool account_is_runtime(const struct account *acct);
/* The agent can get an access token by itself (a refresh token, or an
   app's own credentials). */
bool account_can_refresh(const struct account *acct);
/* A refresh (or an app's grant) is in flight. */
bool account_refreshing(const struct account *acct);
/* The access token stays valid for at least min_ms more. */
bool account_token_ok(const struct account *acct, int64_t min_ms);
/* The account would take a refresh token from the vault: it holds none,
   is not busy, and is no app. */
bool account_wants_token(const struct account *acct);

/* The client secret, opened (*out NULL when the account has none);
   0 or XO_ERR_*.  Free with agent_plain_free(). */
int account_open_client_secret(const struct account *acct,
			       struct agent_plain **out);
/* The access token, opened; XO_ERR_LOGIN_NEEDED when none is held. */
int account_open_access_token(const struct account *acct,
			      struct agent_plain **out);

/*
 * An access token for the agent's own use (the send transports): of scope
 * (NULL or "": the account's own; else one of its graph_scope and
 * gmail_scope), valid for min_ms more (0: the margin TOKEN has by
 * default, policy_min_valid()).  0 with *out opened (free it with
 * agent_plain_free()); XO_ERR_BUSY while a refresh runs that may bring it
 * (one is started when none runs: look again once account_refreshing()
 * is false); else XO_ERR_* with the reason in err.
 */
int account_token_get(struct account *acct, const char *scope, int64_t min_ms,
		      struct agent_plain **out, struct agent_err *err);
/* A service refused the token of scope (HTTP 401): it is forgotten, so
   that the next account_token_get() refreshes. */
void account_token_refused(struct account *acct, const char *scope);

/* What LIST and the doctor show; pointers are into the account. */
struct account_status {
	uint8_t state;	/* enum proto_state, as LIST shows it */
	uint8_t health; /* the same without a refresh in flight:
			   how the account is (a login shows as
			   LOGIN_PENDING) */
	bool has_refresh_token;
	bool has_access_token;	/* held and not expired */
	bool has_tokens;	/* a refresh or an access token is held,
				   expired or not: a login has been done */
	bool has_client_secret; /* held, or a client_secret_cmd to get it */
	int64_t valid_ms;	/* the access token's remaining life */
	time_t expires_at;	/* its expiry (Unix time), 0: none */
	time_t refreshed_at;	/* last successful refresh, 0: never */
	time_t next_refresh_at; /* next planned refresh, 0: none */
	const struct agent_err *last;  /* the last failure; code 0: none */
	const struct agent_err *login; /* the last login's outcome */
	long last_aadsts;	       /* the provider's AADSTS number, 0 */
	const char *last_oauth_error;  /* the provider's "error", "" */
	int last_fault;		       /* enum oauth_fault of the last
					  failure */
	const char *lifetime_note;     /* what the agent made of the last
					  reply's expires_in, "" if fine */
};
void account_status(const struct account *acct, struct account_status *out);
/* Fills a LIST entry; strings point into the account. */
void account_list_entry(const struct account *acct,
			struct proto_account_info *info);

/* ---- the vault's view ---- */

/* What the vault keeps of an account; pointers are into the account (the
   vault may take references to its secrets, agent_secret_ref()). */
struct account_record {
	const char *name;
	const char *email;		     /* may be NULL */
	const struct agent_secret *refresh;  /* NULL: none held */
	time_t obtained;		     /* start of its lifetime */
	bool presented;			     /* sent, no answer seen yet */
	const struct agent_secret *settings; /* runtime: ADD settings (a
						JSON object); else NULL */
};
void account_record(const struct account *acct, struct account_record *out);

/* Where a refresh token given to an account comes from. */
struct account_import {
	time_t obtained;    /* start of its lifetime; 0: now */
	const char *email;  /* the address it was for, or NULL */
	bool interrupted;   /* the vault's agent stopped while it was
			       presented: send it only when asked by name */
	bool refresh_now;   /* plan a refresh at once */
	const char *source; /* for the log: "imported", "from the vault" */
	bool quiet;	    /* its log line at debug level: the caller logs
			       one line for many (a vault's load) */
};
/*
 * Makes token (len bytes, sealed here) the account's refresh token and
 * forgets every token it had.  0 or XO_ERR_NOMEM.  An interrupted token
 * leaves the account asking for a login or an explicit refresh
 * (xoauth-agent(1), VAULT).
 */
int account_import(struct account *acct, const char *token, size_t len,
		   const struct account_import *how);

/* Creates the runtime account name from its ADD settings (as ADD does;
   the vault and RESTORE bring runtime accounts back this way).  0, or
   XO_ERR_CONFIG / XO_ERR_EXISTS / XO_ERR_NOMEM in err. */
int account_runtime_create(struct account_store *s, const char *name,
			   const struct agent_setting *settings, size_t n,
			   struct account **out, struct agent_err *err);

/* ---- refreshing and waiting ---- */

/* What changed, for the account's waiters (account_wake()). */
enum account_event {
	ACCOUNT_CHANGED = 0,   /* look again */
	ACCOUNT_REFRESHED = 1, /* a refresh has ended, with the outcome in
				  the account's last error */
};
void account_wake(struct account *acct, enum account_event ev);

/* Starts a refresh now unless one is in flight; 0, or the reason in err
   (LOCKED, BUSY during a login, LOGIN_NEEDED ...). */
int account_refresh_start(struct account *acct, struct agent_err *err);

/* ---- logins (login/) ---- */

/* Stops the login data of acct without calling back; the account has let
   go of it already. */
typedef void (*account_login_cancel_cb)(struct account *acct, void *data);

/*
 * A login begins: data is login/'s (account_login() gives it back),
 * cancel stops it when the account is removed, locked or forgets its
 * tokens.  0, or XO_ERR_BUSY in err while a refresh is in flight.
 */
int account_login_begin(struct account *acct, void *data,
			account_login_cancel_cb cancel, struct agent_err *err);
/* The running login's data, or NULL. */
void *account_login(const struct account *acct);
/* The login has ended with outcome (code 0: logged in): it is logged,
   kept for LOGIN_WAIT, and whoever waits is woken. */
void account_login_end(struct account *acct, const struct agent_err *outcome);
/* Cancels the running login, if any (its outcome: cancelled). */
void account_login_cancel(struct account *acct);
const struct agent_err *account_login_outcome(const struct account *acct);
/* Forgets the last outcome (a new login starts). */
void account_login_outcome_clear(struct account *acct);

/*
 * A login's tokens: sealed, the account's lifetime started and its first
 * refresh planned.  With a vault a new refresh token is written first;
 * stored(acct) runs once the tokens are the account's, at once when there
 * is nothing to wait for.  0, or XO_ERR_* and stored never runs.
 */
int account_take_login_tokens(struct account *acct, struct oauth_result *res,
			      account_cb stored);
/* The provider's words on a failed login, for the doctor. */
void account_note_provider_error(struct account *acct, long aadsts,
				 const char *oauth_error);

#endif
