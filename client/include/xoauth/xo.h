/*
 * libxoauth: talk to xoauth-agent over its Unix socket.
 *
 * Depends on libc only.  There is no global state: each struct xo_client is
 * one connection, and several threads may each use their own.  Every
 * function returns 0 or a negative XO_ERR_* code (see <xoauth/xo_errors.h>);
 * after a failure reply from the agent, xo_client_message() gives the
 * agent's own one-line explanation.
 */
#ifndef XOAUTH_XO_H
#define XOAUTH_XO_H

#include <stddef.h>
#include <stdint.h>

#include <xoauth/xo_errors.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define XO_EXTERN __attribute__((visibility("default")))
#else
#define XO_EXTERN
#endif

/* The environment variable naming the agent's socket. */
#define XO_AUTH_SOCK_ENV "XOAUTH_AUTH_SOCK"

struct xo_client;

/* What xo_token() hands back. */
enum xo_form {
	XO_FORM_ACCESS = 0,
	XO_FORM_XOAUTH2 = 1,
	XO_FORM_OAUTHBEARER = 2,
};

struct xo_token_opts {
	enum xo_form form;
	const char *host;   /* OAUTHBEARER only; NULL for none */
	unsigned port;	    /* OAUTHBEARER only; 0 for none */
	unsigned min_valid; /* seconds the token must stay valid; 0: default */
	unsigned wait_ms;   /* longest wait for a refresh; 0: agent default */
	const char *scope;  /* NULL: the account's own token; else one of the
			       scopes it keeps tokens of (graph_scope,
			       gmail_scope), on an agent that says
			       "token-scope" */
};

/* What xo_send() is told besides the message (xoauth(1), SENDMAIL). */
struct xo_send_opts {
	const char *account;	  /* NULL: the agent chooses: the account whose
				     address is the sender's, else the only
				     one */
	const char *from;	  /* envelope sender; NULL: the account's */
	const char *fullname;	  /* the name of a From: the agent adds when the
				     message has none; NULL */
	const char *const *rcpts; /* envelope recipients */
	size_t n_rcpts;
	int rcpts_from_headers; /* 1: also those of To, Cc and Bcc (-t) */
	unsigned wait_ms;	/* longest wait for the send; 0: the
				   agent's (120 s) */
};

/* How xo_send() sent; strings freed by xo_sent_free(). */
struct xo_sent {
	char *transport; /* "smtp", "graph" or "gmail" */
	char *reply;	 /* the server's last words */
	char *notice;	 /* a fallback taken ("" when none): show it */
};

/* A token: token is a NUL-terminated secret, freed (and wiped) by
 * xo_token_free(). */
struct xo_token {
	char *token;
	uint64_t expires_at; /* Unix time */
	char *email;
};

struct xo_account {
	char *name;
	char *email;
	char *provider;
	char *flow;
	int state;		/* PROTO_STATE_* as in PROTOCOL.md */
	const char *state_name; /* static string: "active", ... */
	uint64_t expires_at;
	uint64_t refreshed_at;
	uint64_t next_refresh_at;
	char *last_error;
};

/* The token of another scope than its account's own (graph_scope,
 * gmail_scope: Microsoft Graph's Mail.Send for `send = graph`), as
 * xo_list_scopes() gives it: why sending through an API fails shows
 * here (no consent for the scope: AADSTS65001). */
struct xo_scope_token {
	char *account;		/* the account's name */
	char *scope;
	int state;		/* PROTO_STATE_*: active, refreshing,
				   retrying, reauth (the provider refused
				   the scope) or idle (none held yet) */
	const char *state_name; /* static string */
	uint64_t expires_at;	/* 0: none held */
	uint64_t refreshed_at;
	uint64_t next_refresh_at;
	char *last_error; /* the scope's own failure, "" */
};

struct xo_login {
	/* device flow: where the user enters user_code; browser and paste
	 * flows: the authorization URL to open. */
	char *verification_uri;
	char *verification_uri_complete; /* may be "" */
	char *user_code;		 /* device flow; "" otherwise */
	unsigned expires_in;
	unsigned interval;
	char *flow; /* "device", "browser", "paste", "client_credentials" */
};

/* One key = value line of an account, as in xoauth.conf(5). */
struct xo_setting {
	const char *key;
	const char *value;
};

/* How much a finding of xo_doctor() matters. */
enum xo_level {
	XO_LEVEL_OK = 0,
	XO_LEVEL_INFO = 1,
	XO_LEVEL_WARNING = 2,
	XO_LEVEL_PROBLEM = 3,
};

struct xo_finding {
	int level;  /* enum xo_level */
	char *text; /* what was found */
	char *fix;  /* what to do about it; may be "" */
};

/*
 * Connects to the agent at path, or at $XOAUTH_AUTH_SOCK when path is NULL.
 * Checks that the process listening there is of our uid (or root's: a
 * client running as root talks to anyone's) before it sends anything.
 * Returns XO_ERR_NO_AGENT when no socket is named, nothing listens there,
 * or another user's process does.  *out is freed with xo_client_free().
 *
 * The protocol version is checked with the first request, at no extra
 * round trip: QUERY goes out in the same write (PROTOCOL.md 3.1).  So an
 * agent of another protocol version (XO_ERR_VERSION), or one that stays
 * full ("busy", tried again for about 1.5 s: XO_ERR_BUSY), fails the first
 * call, and every call after it, rather than the connect.
 */
XO_EXTERN int xo_client_connect(const char *path, struct xo_client **out);
/*
 * As xo_client_connect(), but on failure *out is still a client (not
 * connected) whose xo_client_message() says why, for callers that show
 * it; free it with xo_client_free() either way.  *out is NULL only when
 * memory ran out.
 */
XO_EXTERN int xo_client_open(const char *path, struct xo_client **out);
XO_EXTERN void xo_client_free(struct xo_client *c);
/* Sets the per-call I/O timeout in milliseconds (default 30000); waits
 * requested from the agent are added to it. */
XO_EXTERN void xo_client_set_timeout(struct xo_client *c, unsigned ms);
/* The agent's message for the last failure, or a local one; never NULL. */
XO_EXTERN const char *xo_client_message(const struct xo_client *c);
/* 1 when the last failure was the agent's answer (a FAILURE reply), 0
 * when it happened on this side (no agent, broken connection, bad reply). */
XO_EXTERN int xo_client_agent_failed(const struct xo_client *c);
/* The agent's version string, e.g. "xoauth-agent 0.1.0"; "" when it
 * cannot be asked (xo_client_message() says why).  Before any request on
 * the connection, this asks (a QUERY, one round trip). */
XO_EXTERN const char *xo_client_agent_version(struct xo_client *c);
/* 1 when the agent announced the capability word (PROTOCOL.md 3.1); 0 when
 * it did not, or could not be asked (as xo_client_agent_version()). */
XO_EXTERN int xo_client_has_cap(struct xo_client *c, const char *word);

XO_EXTERN int xo_token(struct xo_client *c, const char *account,
		       const struct xo_token_opts *opts, struct xo_token *out);
XO_EXTERN void xo_token_free(struct xo_token *t);

/*
 * Sends the message (len bytes of RFC 5322 text, LF or CRLF line ends)
 * through the account's transport (SMTP with XOAUTH2, Microsoft Graph or
 * the Gmail API): Bcc fields are taken out of what SMTP sends, and the
 * agent adds From, Date and Message-ID when they are missing.  0 and *out
 * filled, or an XO_ERR_*: XO_ERR_SEND_TEMPFAIL (try later; nothing was
 * sent, or the message says it may have been), XO_ERR_SEND_REFUSED,
 * XO_ERR_RCPT_REFUSED, XO_ERR_SEND_AUTH, XO_ERR_MESSAGE_BAD, or the
 * account's failures as xo_token() has them.  XO_ERR_MSG_UNKNOWN from an
 * agent that does not send.
 */
XO_EXTERN int xo_send(struct xo_client *c, const struct xo_send_opts *opts,
		      const void *msg, size_t len, struct xo_sent *out);
XO_EXTERN void xo_sent_free(struct xo_sent *s);

XO_EXTERN int xo_list(struct xo_client *c, struct xo_account **accounts,
		      size_t *count);
XO_EXTERN void xo_accounts_free(struct xo_account *accounts, size_t count);
/*
 * As xo_list(), and the tokens the accounts keep of other scopes than
 * their own in *tokens (*n_tokens of them; none from an agent that does
 * not say "list-scopes").  Free them with xo_scope_tokens_free().
 */
XO_EXTERN int xo_list_scopes(struct xo_client *c,
			     struct xo_account **accounts, size_t *count,
			     struct xo_scope_token **tokens, size_t *n_tokens);
XO_EXTERN void xo_scope_tokens_free(struct xo_scope_token *tokens,
				    size_t count);

/* Refreshes now and waits for the result (up to wait_ms, 0: default). */
XO_EXTERN int xo_refresh(struct xo_client *c, const char *account,
			 unsigned wait_ms);
XO_EXTERN int xo_remove(struct xo_client *c, const char *account);
/* Hands the agent a refresh token, e.g. from another tool. */
XO_EXTERN int xo_import(struct xo_client *c, const char *account,
			const char *refresh_token);

/*
 * Adds an account at run time, with the settings of a config section
 * (provider, client_id, email, ...); the agent checks them as it checks its
 * config file.  XO_ERR_EXISTS if the name is taken.
 */
XO_EXTERN int xo_add(struct xo_client *c, const char *name,
		     const struct xo_setting *settings, size_t count);
/* Deletes an account added with xo_add(), tokens and all.  Accounts of the
 * config file are refused (XO_ERR_CONFIGURED). */
XO_EXTERN int xo_delete(struct xo_client *c, const char *account);

/*
 * Starts a login with the account's flow and returns what the user must
 * do: for the device flow, open verification_uri and enter user_code; for
 * the browser and paste flows, open verification_uri (the authorization
 * URL).  Then call xo_login_wait() until it returns something other than
 * XO_ERR_LOGIN_PENDING; in the paste flow, first hand the redirect URL (or
 * the bare code) the user copied to xo_login_code().
 */
XO_EXTERN int xo_login_start(struct xo_client *c, const char *account,
			     struct xo_login *out);
/* The same with a flow named by the caller ("device", "browser", "paste";
 * NULL for the account's own). */
XO_EXTERN int xo_login_start_flow(struct xo_client *c, const char *account,
				  const char *flow, struct xo_login *out);
XO_EXTERN void xo_login_free(struct xo_login *l);
XO_EXTERN int xo_login_code(struct xo_client *c, const char *account,
			    const char *response, unsigned wait_ms);
XO_EXTERN int xo_login_wait(struct xo_client *c, const char *account,
			    unsigned wait_ms);

/*
 * Diagnoses an account: the agent checks its settings, its last errors and
 * its token, and with smtp / imap ("host[:port]", NULL for none) tries a
 * real XOAUTH2 login there.  *findings is freed with xo_findings_free().
 */
XO_EXTERN int xo_doctor(struct xo_client *c, const char *account,
			const char *smtp, const char *imap,
			struct xo_finding **findings, size_t *count);
XO_EXTERN void xo_findings_free(struct xo_finding *findings, size_t count);

/*
 * Locks the agent: it wipes its decrypted secrets and keys and refuses
 * token requests (XO_ERR_LOCKED) until unlocked.
 */
XO_EXTERN int xo_lock(struct xo_client *c);
/*
 * Unlocks the agent's vault with passphrase.  With no vault yet, create
 * says whether to make one with it (else XO_ERR_NO_VAULT, so that the
 * caller can have a new passphrase confirmed first).  XO_ERR_WRONG_PASSPHRASE
 * when it does not open the vault.
 */
XO_EXTERN int xo_unlock(struct xo_client *c, const char *passphrase,
			int create);
/* The agent's accounts and tokens, sealed under passphrase (chosen for
 * the export), as base64 text in *data (a secret: wipe and free it). */
XO_EXTERN int xo_export(struct xo_client *c, const char *passphrase,
			char **data);
/* Adds the accounts of an export made by xo_export(). */
XO_EXTERN int xo_restore(struct xo_client *c, const char *data,
			 const char *passphrase);

XO_EXTERN const char *xo_strerror(int err);
XO_EXTERN const char *xo_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif
