/*
 * account_internal.h: the account and the store as the files of account/
 * see them.  Nothing outside account/ includes it (the room's own unit
 * tests may); the layout check (tests/layout/) says so.
 *
 *   store.c      making, finding, freeing accounts; what they show
 *   index.c      the list of accounts, and finding one without a walk
 *   tokens.c     the tokens: stage and commit, forget, import, lifetime
 *   reload.c     SIGHUP: the new config's accounts, tokens kept
 *   runtime.c    ADD and DELETE
 *   schedule.c   when refreshes start: the heap of deadlines, the timer
 *   refresh.c    one refresh from start to end
 *   durable.c    waiting for the vault's writes
 *   token.c      answering TOKEN, now or once a refresh has ended
 *   scopes.c     access tokens of other scopes than the account's own
 *   login.c      the login slot login/ fills
 *   lock.c       what LOCK and UNLOCK do to the accounts
 *   app.c        LOGIN_START of a client_credentials account
 *   requests.c   the requests this room answers
 *   secret_cmd.c, spawn.c, notify.c: the commands the agent runs
 */
#ifndef XO_ACCOUNT_ACCOUNT_INTERNAL_H
#define XO_ACCOUNT_ACCOUNT_INTERNAL_H

#include <stdbool.h>
#include <sys/queue.h>
#include <stdint.h>
#include <time.h>

#include <uv.h>

#include "account/account.h"
#include "account/pure/quota.h"
#include "account/secret_cmd.h"
#include "config/config.h"
#include "core/agent.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/waiter.h"
#include "oauth/pure/reply.h"

/* What the account is doing with the provider: one thing at a time. */
enum account_op {
	ACCOUNT_OP_NONE = 0,
	/* A refresh, or an app's client_credentials grant, from its secret
	   command through the grant to the vault's write of a rotated
	   refresh token. */
	ACCOUNT_OP_REFRESH,
	/* A login of login/ (account.login holds it). */
	ACCOUNT_OP_LOGIN,
};

/* Where the refresh token stands with the provider (DESIGN.md,
   "Rotation"; kept in the vault as "presented"). */
enum refresh_mark {
	MARK_NONE = 0,	  /* not at the provider */
	MARK_PRESENTED,	  /* sent, and no answer seen yet */
	MARK_INTERRUPTED, /* loaded presented: the agent stopped
			     mid-refresh, so the provider may have rotated
			     it; sent again only on an explicit REFRESH */
};

/* The hash tables of the store's index (index.c). */
enum {
	IDX_NAME,  /* the name, exactly */
	IDX_LNAME, /* the name, without case */
	IDX_EMAIL, /* the address, without case */
	IDX_N,
};

/*
 * An access token of another scope than the account's own (TOKEN with a
 * scope; Graph's Mail.Send for the send transports), got with the one
 * refresh token: a refresh for it may rotate that token like any other,
 * and runs as the account's one refresh (single flight).  Its failures
 * are its own unless they concern the grant or the client.
 */
struct account_scope {
	struct account_scope *next;
	char *scope;
	struct agent_secret *access_token;
	struct agent_secret *staged_access;
	long staged_expires_in;
	int64_t expires_boot;	   /* CLOCK_BOOTTIME ms; 0: none */
	int64_t lifetime_ms;	   /* its lifetime */
	int64_t next_refresh_boot; /* 0: nothing planned */
	time_t expires_wall;
	time_t refreshed_wall; /* its last refresh, 0: never */
	unsigned failures;     /* consecutive transient failures */
	bool refused;	       /* the provider refused the scope: no
				  refresh until the next login */
	struct agent_err last; /* the last failure; code 0: none */
};

struct account {
	struct account *next, *prev;	 /* the store's list, in order */
	struct account *idx_next[IDX_N]; /* chains of the index */
	bool indexed;
	uint64_t seq; /* place in the list: a lower one came first */
	struct account_store *store;
	struct agent *agent;
	struct agent_account_cfg cfg; /* private copy; see store.c */
	struct oauth_client *oauth;
	bool runtime;			    /* added with ADD */
	struct agent_secret *settings;	    /* runtime: its ADD settings as a
					       JSON object, sealed (they may
					       hold client_secret) */
	char *email;			    /* from config or id_token */
	struct agent_secret *client_secret; /* from the config, or from
					       client_secret_cmd */

	/* Tokens.  Rotation with a vault: the new refresh token is
	   refresh_token already, but until the vault holds it the old one
	   stays in prev_refresh and the new access token waits staged. */
	struct agent_secret *refresh_token;
	struct agent_secret *access_token;
	struct agent_secret *prev_refresh;
	struct agent_secret *staged_access;
	long staged_expires_in;
	enum oauth_lifetime staged_lifetime; /* how the reply gave it */
	char staged_said[40];		     /* what the reply had */
	enum refresh_mark mark;
	time_t obtained_wall; /* login, import or restore (lifetime) */
	int64_t drop_boot;    /* lifetime: forget the tokens then; 0 */

	/* The access token's times. */
	int64_t expires_boot;	   /* CLOCK_BOOTTIME ms; 0: none */
	int64_t lifetime_ms;	   /* its lifetime, as planned */
	int64_t next_refresh_boot; /* 0: nothing planned */
	time_t expires_wall;	   /* the same expiry in Unix time */
	time_t refreshed_wall;
	/* What the agent made of the last token reply's expires_in when it
	   was missing, unusable or over a day; "" when it was fine.  LIST
	   and the doctor show it. */
	char lifetime_note[400];

	/* Health. */
	uint8_t state; /* enum proto_state: NEED_LOGIN, ACTIVE, RETRYING,
			  REAUTH, CONFIG_ERROR or IDLE */
	enum account_op op;
	unsigned failures;	     /* consecutive transient failures */
	struct agent_err last;	     /* the last failure; code 0: none */
	enum oauth_fault last_fault; /* what it met (TLS, timeout ...) */
	long last_aadsts;	     /* the provider's AADSTS number, 0 */
	char last_oauth_error[48];   /* the provider's "error", "" */

	/* client_secret_cmd (secret_cmd.c) */
	struct agent_spawn *secret_run;	 /* the command, while it runs */
	agent_secret_ready_cb secret_cb; /* who waits for it */
	bool secret_fresh; /* fetched for the grant in flight, so a
			      rejection of it is final */

	/* The login (login.c; the data is login/'s). */
	void *login;
	account_login_cancel_cb login_cancel;
	account_cb login_stored; /* the login's end, once the vault holds its
				    tokens (tokens.c) */
	struct agent_err *login_outcome; /* NULL: none (login.c) */

	/* A vault write this account waits for (durable.c): while it does,
	   it is in the store's durable list, which is in order of seq. */
	uint64_t durable_seq;
	account_cb on_durable;
	TAILQ_ENTRY(account) durable_link;

	struct waiter_list waiters;

	/* The scheduler (schedule.c). */
	size_t heap_at;	  /* place in the heap plus one; 0: not there */
	int64_t heap_key; /* the deadline it is there for */
	bool ready;	  /* in a ready queue */
	bool urgent;	  /* that one is the urgent queue */
	TAILQ_ENTRY(account) ready_link;

	/* Tokens of other scopes (scopes.c); the refresh in flight is for
	   cur (NULL: the account's own token), and ended says, while the
	   waiters are woken, which one has just ended. */
	struct account_scope *scopes;
	struct account_scope *cur;
	struct account_scope *ended;
};

/* A connection waiting for a write before its SUCCESS (durable.c). */
struct durable_reply;

struct account_index {
	struct account **b[IDX_N]; /* nb buckets each */
	size_t nb;		   /* a power of two */
	size_t n;		   /* accounts indexed */
};

struct account_store {
	struct agent *agent;
	struct account *accounts, *last;
	uint64_t next_seq;
	/* A walk of the list over several turns of the loop (index.c): the
	   account it visits next (NULL: it has reached the end), kept right
	   by account_unlink(); account_store_relink() starts it again. */
	struct account *walk_next;
	bool walking;
	unsigned walk_restarts;
	struct account_index index;
	struct account_hooks hooks;
	struct agent_boot_timer scheduler; /* wakes at the earliest deadline
					      (schedule.c) */
	struct account **heap; /* accounts by deadline (schedule.c) */
	size_t heap_n, heap_cap;
	TAILQ_HEAD(account_queue, account)
	ready_queue;			   /* due, waiting for a slot or
					      the pacing bucket */
	struct account_queue urgent_queue; /* due and urgent, waiting for a
					      slot: started first */
	unsigned refreshing;		   /* accounts in ACCOUNT_OP_REFRESH */
	unsigned max_refreshing;	   /* MAX_REFRESHING (tests: fewer) */
	unsigned pace_per_s;		   /* PACE_PER_S (tests: other) */
	unsigned pace_burst;		   /* PACE_BURST (tests: other) */
	int64_t pace_credit;		   /* paced starts allowed now, in
					      thousandths (schedule.c) */
	int64_t pace_at;		   /* when pace_credit was counted */
	int stopped;
	struct durable_reply *replies; /* connections waiting for a write */
	TAILQ_HEAD(, account)
	durable;			/* accounts waiting for a write, in
					   order of durable_seq */
	uv_idle_t durable_more;		/* the rest of them, next turn */
	unsigned durable_spent;		/* gone on since durable_more last ran
					   (durable.c: DURABLE_PER_TURN) */
	uint64_t written_seq;		/* the newest write that has ended */
	const char *write_failure;	/* why it failed (the vault's), or
					   NULL */
	struct log_quota refresh_quota; /* refresh lines (refresh_log.c) */
	uv_timer_t refresh_summary;	/* sums up those held back */
};

/* ---- store.c ---- */
/* A new account (need-login) for the section cfg, which stays the
   caller's; the client secret is sealed, not copied.  0 or XO_ERR_*. */
int account_new(struct account_store *s, const struct agent_account_cfg *cfg,
		struct account **out);
/* Frees the account (cancelling what runs, answering its waiters with
   why); it must be out of the list. */
void account_free(struct account *acct, const char *why);

/* ---- index.c ---- */
/* The index's first tables; 0 or XO_ERR_NOMEM. */
int account_index_init(struct account_store *s);
void account_index_free(struct account_store *s);
/* Puts acct at the end of the list, and in the index. */
void account_store_append(struct account_store *s, struct account *acct);
/* Takes acct out of the list and the index. */
void account_unlink(struct account_store *s, struct account *acct);
/* After code that changed the list through the next links alone (reload,
   lock): the other links and the index made again from them. */
void account_store_relink(struct account_store *s);
/* Sets the account's address (taking email, which may be NULL), keeping
   the index right. */
void account_set_email(struct account *acct, char *email);
/* The first account in the list, other than self and (runtime_only) a
   runtime one, whose key in table idx equals key (len bytes; without case
   but for IDX_NAME); NULL when none. */
struct account *account_index_find(struct account_store *s, int idx,
				   const char *key, size_t len,
				   const struct account *self,
				   bool runtime_only);
/* 1 when an operation with the provider, or a request waiting on one,
   holds pointers into the account. */
bool account_busy(const struct account *acct);

/* ---- refresh_log.c ---- */
void account_refresh_log_init(struct account_store *s);
/* Logs what is held back, and closes the timer. */
void account_refresh_log_close(struct account_store *s);
/* The line of a refresh that has ended well: of the account's token, or
   of scope's (NULL: the account's own); rotated: the refresh token
   changed.  Past the quota, at debug level (pure/quota.h). */
void account_log_refreshed(struct account *acct, const char *scope,
			   int64_t lifetime_ms, int64_t next_in_ms,
			   bool rotated);

/* ---- tokens.c ---- */
/* Seals a grant's tokens; a new refresh token becomes the account's at
   once (the old one kept as prev_refresh), the access token waits for
   account_commit_tokens().  *rotated: the refresh token changed, so the
   vault must hold it before the commit.  0 or XO_ERR_*. */
int account_stage_tokens(struct account *acct, struct oauth_result *res,
			 bool *rotated);
/* Returns true when the refresh token was rotated (the line of the
   refresh says so). */
bool account_commit_tokens(struct account *acct);
/* Drops what waits for a vault write: the staged tokens and the previous
   refresh token. */
void account_unstage(struct account *acct);
/* Drops every token (wiped) and what was planned for them; the last
   error stays, to say why. */
void account_drop_tokens(struct account *acct);
/* Forgets every token and the last error. */
void account_forget(struct account *acct);
/*
 * The life to plan a new access token with (xoauth-agent(1), REFRESH
 * POLICY), staged_expires_in being what the parser made of the reply
 * (capped at a day) and acct->staged_lifetime how: when the reply said
 * nothing usable, the life of the token before it (prev_ms, 0: none) if
 * that was shorter than the parser's default hour, since a provider's
 * tokens rarely change their life from one to the next.  What was assumed
 * goes to note (the account's lifetime_note, for its own token) and the
 * log; "" when the reply's word was taken.  scope: NULL for the account's
 * own token, else the scope's, for the words.
 */
long account_plan_lifetime(struct account *acct, long staged_expires_in,
			   int64_t prev_ms, const char *scope, char *note,
			   size_t notelen);
/* Starts the lifetime clock from obtained (Unix time). */
void account_set_obtained(struct account *acct, time_t obtained);
/* Puts the account in config-error with e (logged) and runs the notify
   hook if it was not in config-error already. */
void account_config_error(struct account *acct, const struct agent_err *e);

/* ---- runtime.c ---- */
/* The account other than self whose name or address equals name or email
   (either may be NULL), looking at runtime accounts only when
   runtime_only; NULL when none.  *by_email says which matched. */
struct account *account_clash(struct account_store *s,
			      const struct account *self, const char *name,
			      const char *email, bool runtime_only,
			      bool *by_email);
/* ADD: checks the settings as the config file's (XO_ERR_CONFIG, "KEY:
   problem"), refuses a name or address in use (XO_ERR_EXISTS), and
   appends the account (*out, when out is not NULL).  The request's
   strings need no NUL. */
int account_runtime_add(struct account_store *s, const struct proto_add_req *q,
			struct account **out, struct agent_err *err);
/* DELETE: cancels the account's login or refresh, fails its waiters and
   frees it with its secrets; an account of the file gets
   XO_ERR_CONFIGURED and stays. */
int account_runtime_delete(struct account_store *s, struct account *acct,
			   struct agent_err *err);

/* ---- schedule.c ---- */
/* Refreshes the scheduler lets run at once (token.c's do not wait). */
#define MAX_REFRESHING 1024
/* Scheduled refreshes started per second at most, and how many may start
   at once after a quiet spell (schedule.c, "Pacing"). */
#define PACE_PER_S 500
#define PACE_BURST 16
void account_scheduler_tick(struct agent_boot_timer *t);
/* Sets acct->op, counting the refreshes that run. */
void account_set_op(struct account *acct, enum account_op op);
/* Plans acct again after its deadlines or its op changed. */
void account_schedule(struct account *acct);
/* Takes acct out of the plan (it is being freed). */
void account_unschedule(struct account *acct);

/* ---- durable.c ---- */
/* Persists, then calls done(acct) once the write has ended; false when
   nothing is written (no vault): the caller goes on at once. */
bool account_persist_then(struct account *acct, account_cb done);
/* The same for the account's "presented" mark alone (a refresh about to
   send its refresh token): the vault writes the name, not the token. */
bool account_mark_then(struct account *acct, account_cb done);
/* Forgets the account's wait for a write (its callback never runs). */
void account_durable_cancel(struct account *acct);

/* ---- token.c ---- */
/*
 * Answers a TOKEN request now when it can: 0 when answered, 0 with
 * *must_wait when it waits for a refresh (started here if due), or an
 * XO_ERR_* with the reason in err (the caller answers).
 */
int account_token_try(struct account *acct, struct conn *c,
		      const struct proto_token_req *req, bool *must_wait,
		      struct agent_err *err);
/* Parks the request on the account until a refresh ends: TOKEN answers
   with a token, REFRESH and IMPORT with SUCCESS, an app's LOGIN_START
   with its LOGIN reply. */
enum refresh_wait_kind {
	WAIT_TOKEN,
	WAIT_REFRESH,
	WAIT_APP_LOGIN,
};
int account_wait_refresh(struct account *acct, struct conn *c,
			 enum refresh_wait_kind kind,
			 const struct proto_token_req *req, uint32_t wait_ms);

/* Sends the TOKEN reply for req with the access token tok, which expires
   at expires_wall (Unix time); 0 or XO_ERR_* with the reason in err. */
int account_token_reply(struct account *acct, struct conn *c,
			const struct proto_token_req *req,
			const struct agent_secret *tok, time_t expires_wall,
			struct agent_err *err);

/* Why no refresh can bring a token now (no refresh token, a login
   waits, the provider refused the client), as TOKEN says it; or 0. */
int account_refresh_blocked(const struct account *acct, struct agent_err *err);

/* ---- scopes.c ---- */
/* 1 when scope names the account's own token ("" or its `scopes`). */
bool account_scope_is_own(const struct account *acct, struct proto_str scope);
/* account_token_try() for a TOKEN with another scope. */
int account_scope_token_try(struct account *acct, struct conn *c,
			    const struct proto_token_req *req, bool *must_wait,
			    struct agent_err *err);
/* The failure a waiter for scope (NULL: the account's own) is answered
   with now that a refresh has ended, or NULL to look again. */
const struct agent_err *account_refresh_failure(const struct account *acct,
						const char *scope);
/* The refresh for acct->cur has ended with res (refresh.c calls it);
   true when it is the scope's own business and has been handled (else
   the caller handles res as for the account's own token). */
bool account_scope_outcome(struct account *acct, struct oauth_result *res);
/* A refresh for acct->cur could not start or reach the provider. */
void account_scope_aborted(struct account *acct, int err, const char *msg);
/* Commits the staged token of acct->cur and plans its next refresh;
   rotated: the refresh that brought it rotated the refresh token. */
void account_scope_commit(struct account *acct, bool rotated);
/* The scope whose refresh is due at now, or NULL; the earliest
   deadline of any scope (0: none). */
struct account_scope *account_scope_due(struct account *acct, int64_t now);
int64_t account_scopes_next(const struct account *acct);
/* Drops every scope's tokens (staged ones with staged_only). */
void account_scopes_drop(struct account *acct, bool staged_only);
/*
 * LIST's view of the account's tokens of other scopes (PROTO_LIST_SCOPES):
 * every scope it keeps, and the one its transport needs though none was
 * asked for yet (idle).  Fills at most max entries of out, strings
 * pointing into the account; returns how many there are (which may be
 * more than max).
 */
size_t account_list_scopes(const struct account *acct,
			   struct proto_scope_info *out, size_t max);
void account_scopes_free(struct account *acct);
/* Abandons the account's refresh, if one runs: its grant is cancelled
   (its transfer, and the reply with it), and its secret command; nothing
   it would have ended happens.  Waiters are the caller's. */
void account_refresh_cancel(struct account *acct);
/* Starts a refresh for sc (NULL: the account's own token), as
   account_refresh_start(). */
int account_refresh_scope(struct account *acct, struct account_scope *sc,
			  struct agent_err *err);

/* ---- app.c ---- */
/* The LOGIN reply of an app account (no URL, no code). */
int account_app_login_reply(struct conn *c);

#endif
