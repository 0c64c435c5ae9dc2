/*
 * config.h: the INI configuration (xoauth.conf(5)), parsed with inih, and
 * the provider presets.
 *
 * agent_config_load() reads the file, applies each account's provider
 * preset (endpoints, scopes, default flow) and lets explicit keys override
 * it.  A bad file gives XO_ERR_CONFIG and a message naming file, line and
 * key in err.  Issuer discovery (`issuer` without explicit endpoints)
 * needs the network and is left to oauth.c: such an account has
 * needs_discovery set.
 */
#ifndef XO_AGENT_CONFIG_H
#define XO_AGENT_CONFIG_H

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
};

struct agent_config {
	char *path;        /* the file read, or NULL when none existed */
	struct agent_account_cfg *accounts;
	size_t n_accounts;
	/* [agent] section */
	unsigned wait_default_ms;  /* default refresh wait, 10000 */
	unsigned max_connections;  /* default 64 */
	unsigned idle_timeout_ms;  /* per-connection idle timeout, 60000 */
};

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

/* Looks an account up by section name, then by e-mail address. */
const struct agent_account_cfg *
agent_config_find(const struct agent_config *c, const char *name);

/* 1 when two accounts have the same settings (so SIGHUP keeps tokens). */
int agent_account_cfg_equal(const struct agent_account_cfg *a,
			    const struct agent_account_cfg *b);

#endif
