/*
 * agent.h: the daemon's runtime state and the functions its files share.
 *
 * One struct agent owns everything: the loop, the HTTP engine, the
 * listener, the connections, the accounts and the config (STYLE.md rule 9).
 * Callbacks reach it through handle->data.
 */
#ifndef XO_AGENT_AGENT_H
#define XO_AGENT_AGENT_H

#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "config/config.h"
#include "oauth/http.h"
#include "oauth/oauth.h"
#include "config/pure/presets.h"
#include "proto.h"
#include "secret/secret.h"
#include "account/spawn.h"

struct account;
struct conn;
struct waiter;

/* secret_cmd.c: told when client_secret_cmd has run; err 0 means
   acct->client_secret now holds the secret. */
typedef void (*agent_secret_ready_cb)(struct account *acct, int err);

struct agent_options {
	const char *config_path; /* -f, or NULL for the default */
	int foreground;          /* -D or -d */
	int debug;               /* -d */
	unsigned long lifetime_s; /* -t: default account lifetime, 0: none */
};

struct agent_vault;

/* Called once the vault holds what the account waited to see written
   (or the write failed, which is reported elsewhere). */
typedef void (*agent_durable_cb)(struct account *acct);

struct redirect_server;

/* How many codes one login remembers, to refuse a replayed one. */
#define LOGIN_MAX_CODES 8

/* A login in progress (login.c, login_device.c, login_code.c). */
struct login {
	enum agent_flow flow;
	int64_t expires_boot;    /* CLOCK_BOOTTIME ms when the login dies */
	uv_timer_t timer;        /* device: next poll; others: expiry; the
				    login is freed in its close callback */
	int ready;               /* the LOGIN reply can be sent */
	struct account *acct;    /* NULL once the account let go of it */
	agent_durable_cb stored; /* the flow's end, once the vault holds the
				    tokens (login_store_tokens()) */

	/* device flow */
	struct oauth_device dev;
	long interval_s;

	/* browser and paste flows: authorization code with PKCE */
	char *auth_url;          /* what the user opens */
	char *redirect_uri;      /* sent again with the code */
	char *state;             /* LOGIN_STATE_LEN characters */
	struct agent_secret *verifier; /* PKCE code_verifier, sealed */
	struct redirect_server *redirect; /* browser flow's listener */
	int exchanging;          /* a code is at the token endpoint */
	int exchange_err;        /* last failed exchange that did not end
				    the login; 0 when none */
	char exchange_error[512];
	/* SHA-256 of every code tried, so a replay is refused here. */
	unsigned char tried[LOGIN_MAX_CODES][32];
	unsigned n_tried;
};

struct account {
	struct account *next;
	struct agent *agent;
	struct agent_account_cfg cfg; /* private copy; see account.c */
	struct oauth_client *oauth;
	int runtime;             /* added with ADD, not in the config file */
	struct agent_secret *settings; /* runtime: its ADD settings as a
					  JSON object, sealed (they may hold
					  client_secret), for the vault */

	struct agent_secret *refresh_token;
	struct agent_secret *access_token;
	/* Rotation with a vault (DESIGN.md, "Refresh policy"): the new
	   refresh token is already refresh_token, but until the vault holds
	   it the old one stays here and the new access token waits. */
	struct agent_secret *prev_refresh;
	struct agent_secret *staged_access;
	long staged_expires_in;
	int presented;           /* refresh_token went to the provider and no
				    answer came back yet (kept in the vault) */
	int interrupted;         /* loaded with presented set: the agent
				    stopped mid-refresh, so the provider may
				    have rotated the token; it is sent again
				    only on an explicit REFRESH */
	uint64_t durable_seq;    /* vault write this account waits for */
	agent_durable_cb on_durable;
	time_t obtained_wall;    /* when the refresh token came by login,
				    import or restore (lifetime) */
	int64_t drop_boot;       /* lifetime: forget the tokens then; 0 */
	struct agent_secret *client_secret; /* from the config, or from
					       client_secret_cmd once run */
	char *email;             /* from config or learned from id_token */

	/* client_secret_cmd (secret_cmd.c) */
	struct agent_spawn *secret_run; /* the command, while it runs */
	agent_secret_ready_cb secret_cb; /* who waits for it */
	int secret_fresh;        /* the secret was fetched for the grant in
				    flight, so a rejection is final */

	int64_t expires_boot;    /* CLOCK_BOOTTIME ms; 0: no access token */
	int64_t lifetime_ms;     /* lifetime of the current access token */
	int64_t next_refresh_boot; /* 0: nothing planned */
	time_t expires_wall;     /* the same expiry in Unix time, for LIST */
	time_t refreshed_wall;

	uint8_t state;           /* enum proto_state */
	int refreshing;          /* single flight: one grant at a time */
	unsigned failures;       /* consecutive transient failures */
	int last_err;            /* XO_ERR_* of the last failure, 0 if none */
	char last_error[512];
	long last_aadsts;        /* the provider's AADSTS number, 0: none */
	char last_oauth_error[48]; /* the provider's "error", "": none */

	struct login *login;     /* login in progress, or NULL */
	int login_err;           /* result of the last finished login */
	char login_error[512];

	struct waiter *waiters;  /* requests waiting on this account */
};

struct agent {
	uv_loop_t *loop;
	struct agent_options opts;
	char *config_path;
	int config_must_exist;
	struct agent_config *config;
	struct agent_shield *shield;
	struct agent_http *http;

	uv_pipe_t listener;
	char *socket_path;       /* unlinked at exit */
	char *socket_dir;        /* removed at exit when we made it */
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t scheduler;    /* wakes at least every 30 s */
	uv_timer_t parent_check; /* command mode: exit when parent is gone */
	pid_t parent_pid;

	struct agent_spawns spawns; /* client_secret_cmd, notify_cmd runs */
	struct account *accounts;
	struct conn *conns;
	unsigned n_conns;
	unsigned long next_conn_id; /* for log lines */
	int stopping;
	int socket_from_systemd; /* socket activation: systemd owns it */
	struct agent_vault *vault; /* vault.h */
};

/* ---- clock.c ---- */
/* Milliseconds on CLOCK_BOOTTIME, which counts time spent suspended. */
int64_t agent_now_boot(void);

/* ---- account.c ---- */
int agent_accounts_load(struct agent *a, const struct agent_config *cfg);
/* A new account (need-login) for the section cfg, which stays the
   caller's; the client secret is sealed, not copied.  0 or XO_ERR_*. */
int agent_account_new(struct agent *a, const struct agent_account_cfg *cfg,
		      struct account **out);
struct account *agent_account_find(struct agent *a, const char *name,
				   size_t len);
void agent_account_free(struct account *acct);
void agent_accounts_free(struct agent *a);
/* Re-reads the config: accounts whose settings did not change keep their
   tokens, runtime accounts stay as they are; 0, or XO_ERR_CONFIG (also
   when a section of the file now takes the name or address of a runtime
   account) or XO_ERR_NOMEM, and then the old config and accounts stay
   exactly as they were. */
int agent_reload(struct agent *a);
/* Replaces the account's tokens after a successful grant. */
int agent_account_store_tokens(struct account *acct, struct oauth_result *res);
/* The two halves of agent_account_store_tokens(): stage seals the new
   tokens, makes a new refresh token the account's (keeping the old one
   in prev_refresh) and holds the access token back; it returns 1 when the
   refresh token changed, so that the vault must hold it before commit
   serves the access token and drops the old refresh token. */
int agent_account_stage_tokens(struct account *acct, struct oauth_result *res);
void agent_account_commit_tokens(struct account *acct);
/* Sets the account's lifetime clock from obtained (Unix time): its
   tokens are forgotten lifetime seconds after it (xoauth-agent -t,
   `lifetime`). */
void agent_account_set_obtained(struct account *acct, time_t obtained);
/* Drops what waits for a vault write (lock, removal): the staged tokens
   and the previous refresh token, wiped. */
void agent_account_unstage(struct account *acct);
/* Forgets every token of the account. */
void agent_account_forget(struct account *acct);
/* 1 for a client_credentials account: no user, no refresh token; the
   agent asks for access tokens with the client's secret alone. */
int agent_account_is_app(const struct account *acct);
/* 1 when the agent can get a new access token by itself: it holds a
   refresh token, or the account is an app (client_credentials). */
int agent_account_can_refresh(const struct account *acct);
/* 1 when the access token stays valid for at least min_ms more. */
int agent_account_token_ok(const struct account *acct, int64_t min_ms);
/* Fills a LIST entry; strings point into acct. */
void agent_account_info(const struct account *acct,
			struct proto_account_info *info);

/* ---- runtime.c: accounts added and deleted at run time ---- */
/* ADD: checks the settings as the config file's (XO_ERR_CONFIG, msg
   "KEY: problem"), refuses a name or address in use (XO_ERR_EXISTS), and
   appends the account.  The request's strings need no NUL. */
int agent_runtime_add(struct agent *a, const struct proto_add_req *q,
		      char *msg, size_t msglen);
/* DELETE: cancels the account's login or refresh, fails its waiters and
   frees it with its secrets; an account of the file gets
   XO_ERR_CONFIGURED and stays. */
int agent_runtime_delete(struct agent *a, struct account *acct, char *msg,
			 size_t msglen);
/* Creates the runtime account name from settings (as ADD does; the vault
   and RESTORE bring them back this way); *out is the new account, already
   in the list.  0, XO_ERR_CONFIG or XO_ERR_EXISTS with msg, or
   XO_ERR_NOMEM. */
int agent_runtime_create(struct agent *a, const char *name,
			 const struct agent_setting *settings, size_t n,
			 struct account **out, char *msg, size_t msglen);
/* The account other than self whose name or address equals name or email
   (either may be NULL), looking at runtime accounts only when
   runtime_only; NULL when none.  *by_email says which matched. */
struct account *agent_account_clash(struct agent *a, const struct account *self,
				    const char *name, const char *email,
				    int runtime_only, int *by_email);

/* ---- refresh.c ---- */
/* Starts a refresh now unless one is in flight; 0 or an XO_ERR_*. */
int agent_refresh_start(struct account *acct);
/* Re-plans the scheduler timer after a change of any account. */
void agent_schedule(struct agent *a);
void agent_scheduler_tick(uv_timer_t *t);

/* Puts the account in config-error with msg (as last_error, logged) and
   runs the notify hook if it was not in config-error already. */
void agent_account_config_error(struct account *acct, int err,
				const char *msg);

/* ---- login.c ---- */
/*
 * Starts a login with the named flow ("device", "browser", "paste"; NULL:
 * the account's own), or joins the one in progress; the conn gets the
 * LOGIN reply when the flow is ready.  An error return leaves the reason in
 * acct->login_error (XO_ERR_UNSUPPORTED_FLOW names the flows that work).
 */
int agent_login_start(struct account *acct, struct conn *c,
		      const char *flow);
void agent_login_cancel(struct account *acct);
/* Sends the LOGIN reply for the account's pending login; 0 or XO_ERR_*. */
int agent_login_reply(struct account *acct, struct conn *c);
/*
 * LOGIN_CODE: takes what the paste flow brought back (len bytes, a secret
 * the caller wipes).  0 when the exchange has started (the conn waits for
 * it), else an XO_ERR_* with the reason in msg.
 */
int agent_login_code(struct account *acct, struct conn *c,
		     const char *response, size_t len, uint32_t wait_ms,
		     char *msg, size_t msglen);
/* For a parked LOGIN_CODE: 1 while the exchange runs, else its outcome
   (0 or an XO_ERR_* with the reason in msg). */
int agent_login_code_outcome(const struct account *acct, char *msg,
			     size_t msglen);

/* ---- app.c ---- */
/* LOGIN_START for a client_credentials account: gets a token now and
   answers with an empty LOGIN reply (no URL, no code) when it has one. */
int agent_app_login_start(struct account *acct, struct conn *c);
int agent_app_login_reply(struct conn *c);

/* ---- sasl.c ---- */
/* Builds the reply token for a form into a new plain buffer. */
int agent_sasl_build(uint8_t form, const char *email, const char *host,
		     uint32_t port, const struct agent_plain *token,
		     struct agent_plain **out);

/* ---- waiter.c ---- */
enum waiter_kind {
	WAIT_TOKEN,   /* a TOKEN request: answer with a token */
	WAIT_REFRESH, /* REFRESH or IMPORT: answer when a refresh finishes */
	WAIT_LOGIN,   /* LOGIN_WAIT: answer when the login finishes */
	WAIT_LOGIN_START, /* LOGIN_START: answer when the code is known */
	WAIT_APP_LOGIN, /* LOGIN_START of an app: answer after the grant */
	WAIT_LOGIN_CODE,  /* LOGIN_CODE: answer when the exchange ends */
};
/* Parks the connection's current request on the account until it can be
   answered or wait_ms passes. */
int agent_waiter_add(struct account *acct, struct conn *c,
		     enum waiter_kind kind, const struct proto_token_req *req,
		     uint32_t wait_ms);
/* Looks at every waiter of the account again (after a change). The
   refresh_done flag says a refresh has just finished (with acct->last_err
   as its outcome). */
void agent_waiters_wake(struct account *acct, int refresh_done);
/* Answers all waiters of the account with a failure and drops them. */
void agent_waiters_fail(struct account *acct, int err, const char *msg);
void agent_waiter_cancel(struct waiter *w);
/* Tries to answer a TOKEN request now: 0 when answered, 1 when it must
   wait, or an XO_ERR_* to answer with. */
int agent_token_try(struct account *acct, struct conn *c,
		    const struct proto_token_req *req, char *msg,
		    size_t msglen);

/* ---- conn.c ---- */
/* Takes over an accepted client pipe. */
void agent_conn_accept(struct agent *a, uv_stream_t *server);
/* Send one reply frame for the current request and go on with the next
   buffered request. The frame buffer is wiped and freed after writing. */
void agent_conn_reply(struct conn *c, unsigned char *frame, size_t len);
void agent_conn_reply_failure(struct conn *c, int err, const char *msg);
void agent_conn_reply_success(struct conn *c);
/* Marks the current request as parked on waiter w. */
void agent_conn_park(struct conn *c, struct waiter *w);
/* Marks the current request as held by a job of another module (the
   doctor), which replies later; if the connection closes first, cancel(arg)
   runs instead, and the job must not touch c again. */
typedef void (*agent_conn_cancel_cb)(void *arg);
void agent_conn_hold(struct conn *c, agent_conn_cancel_cb cancel, void *arg);
struct agent *agent_conn_agent(struct conn *c);
void agent_conns_close_all(struct agent *a);

/* ---- dispatch.c ---- */
/* Handles one complete frame; always ends in exactly one reply (now or
   later, through a waiter). */
void agent_dispatch(struct conn *c, const unsigned char *frame, size_t len);
/* A buffer for one reply frame: malloc'd, wiped by the writer. */
int agent_reply_buf(size_t cap, struct proto_writer *w);

/* ---- doctor_job.c ---- */
/* Diagnoses acct for a DOCTOR request (PROTOCOL.md 4.9) and replies to c,
   now or after a refresh and the SMTP/IMAP logins asked for.  0, or an
   XO_ERR_* for the caller to answer with. */
int agent_doctor_start(struct account *acct, struct conn *c,
		       const struct proto_doctor_req *req);

/* ---- listener.c / sockdir.c ---- */
int agent_listen_fd(struct agent *a, int fd);
/* SO_PEERCRED check: same uid or root; others are refused and logged. */
int agent_peer_allowed(int fd, unsigned long conn_id);
int agent_socket_bind(const char *path, int *fd_out, char *err,
		      size_t errlen);
int agent_socket_path(char **path, char **dir, char *err, size_t errlen);

/* ---- harden.c ---- */
void agent_harden(void);
void agent_detach_stdio(void);

#endif
