/*
 * config.h: the INI configuration (xoauth.conf(5)), parsed with inih, and
 * the provider presets.
 *
 * agent_config_load() reads the file, applies each account's provider
 * preset (endpoints, scopes, default flow) and lets explicit keys override
 * it.  A bad file gives XO_ERR_CONFIG and a message naming file, line and
 * key in err.  Issuer discovery (`issuer` without explicit endpoints)
 * needs the network and is left to oauth/grant.c: such an account has
 * needs_discovery set.
 */
#ifndef XO_CONFIG_H
#define XO_CONFIG_H

#include <stddef.h>

struct agent_account_cfg {
	char *name;        /* the [account NAME] section name */
	int line;          /* line of the section header, for messages */
	char *provider;    /* microsoft, google, yahoo, aol, fastmail,
			      yandex, generic (also microsoft-us-gov,
			      microsoft-china); never NULL after load */
	char *email;       /* may be NULL: learned from the id_token */
	char *client_id;
	char *client_secret;     /* plain text as read; may be NULL */
	char *client_secret_cmd; /* may be NULL */
	char *tenant;            /* microsoft only */
	char *issuer;            /* may be NULL */
	char *authorization_endpoint;
	char *token_endpoint;
	char *device_authorization_endpoint;
	char *scopes;      /* space-separated */
	char *flow;        /* device, browser, paste, client_credentials */
	char *ca_file;     /* may be NULL: system store */
	int needs_discovery; /* issuer set, token endpoint unknown */
	char *redirect_uri; /* paste flow: the URI registered for the app;
			       NULL unless set or given by the preset.  The
			       browser flow uses it too when it is http to
			       a loopback address */
	unsigned redirect_port; /* browser flow: fixed loopback port (for
				   ssh -L); 0: any free port */
	char *notify_cmd;  /* overrides [agent] notify_cmd; may be NULL.
			      Not compared by agent_account_cfg_equal():
			      changing it keeps the tokens. */
	unsigned lifetime_s; /* forget the tokens this long after login or
				import; 0: xoauth-agent -t, or never.  Not
				compared either. */
	/* Sending (xoauth sendmail, SEND): the transport and where each
	   one goes; the preset fills them in. */
	char *send;	      /* smtp, graph, gmail or auto; never NULL
				 after load (smtp) */
	char *smtp;	      /* HOST[:PORT] of SMTP submission; may be NULL */
	char *graph_endpoint; /* Microsoft Graph, ".../v1.0"; may be NULL */
	char *graph_scope;    /* the scope of Graph's token; NULL: the
				 account's own token */
	char *gmail_endpoint; /* the Gmail API, ".../gmail/v1"; may be NULL */
	char *gmail_scope;    /* NULL: the account's own token (Google's
				 https://mail.google.com/ covers it) */
	char *local_recipient; /* "a@b.c, d@e.f": where mail for a local
				  user (an address without '@', as cron
				  writes "root") goes; NULL: refused.  Not
				  compared by agent_account_cfg_equal():
				  changing it keeps the tokens. */
};

struct agent_config {
	char *path;        /* the file read, or NULL when none existed */
	struct agent_account_cfg *accounts;
	size_t n_accounts;
	/* [agent] section */
	unsigned wait_default_ms;  /* default refresh wait, 10000 */
	unsigned max_connections;  /* 0 (the default): as many as the
				      open-file limit leaves room for */
	unsigned idle_timeout_ms;  /* per-connection idle timeout, 60000 */
	unsigned secret_cmd_timeout_ms; /* client_secret_cmd deadline, 10000 */
	char *notify_cmd;          /* run when an account needs the user;
				      may be NULL */
	unsigned notify_timeout_ms; /* notify_cmd deadline, 30000 */
	char *vault_path;          /* [agent] vault; NULL: the default */
	char *vault_key_file;      /* [agent] vault_key_file; may be NULL */
	char *restricted_socket;   /* [agent] restricted_socket: a second
				      socket answering token requests only
				      (for ssh -R); may be NULL */
};

/* The longest lifetime (xoauth-agent -t, lifetime =): ten years. */
#define AGENT_DURATION_MAX (3650ul * 86400)

/*
 * Parses a time as xoauth-agent -t and `lifetime` take it: a whole number
 * of seconds, or one followed by s, m, h or d; from 1 s to
 * AGENT_DURATION_MAX.  0 and *out in seconds, or XO_ERR_INVALID.
 */
int agent_duration_parse(const char *s, unsigned long *out);

/*
 * The default path: $XDG_CONFIG_HOME/xoauth/config, else
 * $HOME/.config/xoauth/config.  Writes into buf; 0 or XO_ERR_CONFIG.
 */
int agent_config_default_path(char *buf, size_t len);

/*
 * Loads path.  A missing file at the default path is not an error (an
 * empty config results); a missing file named with -f is.  On error *out
 * is NULL and err holds "FILE:LINE: key 'K': what is wrong".
 */
int agent_config_load(const char *path, int must_exist,
		      struct agent_config **out, char *err, size_t errlen);
void agent_config_free(struct agent_config *c);

/*
 * Parses len bytes of INI text as agent_config_load() does, with name (the
 * file name) in messages.  Pure: no I/O, no globals; for the fuzzer and the
 * tests.  data need not be NUL-terminated and may hold any bytes.
 */
int agent_config_parse(const char *name, const char *data, size_t len,
		       struct agent_config **out, char *err, size_t errlen);

/* One key = value line of an [account NAME] section. */
struct agent_setting {
	const char *key;
	const char *value; /* NULL reads as "" */
};

/*
 * Builds the account called name from the settings of its section given
 * as key/value pairs (the ADD request, PROTOCOL.md 4.8), checked and
 * completed from its preset by the same code as a section of the file.
 * On success *out is filled and the caller frees it with
 * agent_account_cfg_cleanup(); out->line is 0.  On error *out is zeroed
 * and err reads "KEY: problem" (no file or line: there is none), never
 * quoting a client_secret.  Pure, like agent_config_parse().
 */
int agent_config_account(const char *name, const struct agent_setting *settings,
			 size_t n, struct agent_account_cfg *out, char *err,
			 size_t errlen);

/* Wipes and drops every account's client_secret: once the accounts hold
   them sealed, the config keeps no plain copy (the file still has them,
   for an unlock to read again). */
void agent_config_forget_secrets(struct agent_config *c);

/* Frees the strings of a, wiping the client secret, and zeroes it. */
void agent_account_cfg_cleanup(struct agent_account_cfg *a);

/* A mail server: `smtp = [smtps://]HOST[:PORT]`, `xoauth doctor --smtp`. */
struct agent_mailhost {
	char host[256];
	unsigned port;
	int implicit_tls; /* 465, 993: TLS from the first byte */
	int loopback;	  /* 127.0.0.0/8, ::1, localhost */
};

/* Parses "host[:port]" or "[v6]:port" (default port 587 for SMTP, 993
   for IMAP; TLS from the first byte on 465 and 993, else STARTTLS),
   optionally after a scheme that says how TLS starts whatever the port:
   "smtps://" or "imaps://" from the first byte, "smtp://" or "imap://"
   by STARTTLS (default ports 465, 993, 587, 143).  Host names are
   letters, digits, '-', '.'; no user, path or other URL parts.  0, or -1
   with why filled.  Pure. */
int agent_mailhost_parse(const char *spec, int imap, struct agent_mailhost *out,
			 char *why, size_t whylen);
/* 1 for localhost, 127.0.0.0/8 and ::1. */
int agent_host_is_loopback(const char *host);

/* The scope the account's `send` transport needs a token of, beyond its
   own scopes (graph_scope for graph and auto, gmail_scope for gmail), or
   NULL when its own token serves. */
const char *agent_account_send_scope(const struct agent_account_cfg *a);
/*
 * The scopes a login asks for: the account's own, and the scope its
 * transport needs when that is another one, so that one consent covers
 * both (a Microsoft refresh token then gets tokens for either resource).
 * A new string in *out, or XO_ERR_NOMEM; *out is NULL when the account
 * has no scopes.
 */
int agent_account_login_scopes(const struct agent_account_cfg *a, char **out);

/* Looks an account up by section name, then by e-mail address. */
const struct agent_account_cfg *
agent_config_find(const struct agent_config *c, const char *name);

/* 1 when two accounts have the same settings (so SIGHUP keeps tokens). */
int agent_account_cfg_equal(const struct agent_account_cfg *a,
			    const struct agent_account_cfg *b);

#endif
