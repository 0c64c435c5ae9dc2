/*
 * config.c: xoauth.conf(5), parsed with inih, checked, and completed from
 * the provider presets (presets.c).
 *
 * How inih is used.  Debian's inih is built without INI_HANDLER_LINENO, so
 * its handler never learns the line number, and it copies section names
 * into a 50-byte buffer, which would silently cut "[account NAME]" for
 * names longer than 41 characters.  So we feed ini_parse_stream() from our
 * own reader (read_line below), which walks the text one physical line at
 * a time and counts lines; when inih calls the handler, the reader's count
 * is the line of that key.  The reader parses the section headers itself
 * (they are simple) and hands inih only the key = value lines, which inih
 * splits, trims and strips of inline comments as documented.  Leading
 * blanks are removed first, so an indented key is a key and never one of
 * inih's continuation lines.  The whole file is read into memory first
 * (capped at CONFIG_MAX_SIZE) so that parsing is a pure function of the
 * bytes, which the fuzzer calls directly.
 *
 * The file is untrusted: every value is checked before it is stored, lines
 * longer than inih's buffer and NUL or control bytes are rejected rather
 * than cut, and anything echoed back in a message is escaped.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "config/pure/presets.h"

#define CONFIG_MAX_ACCOUNTS 1000
#define ACCOUNT_NAME_MAX 64
#define MSG_MAX 768

enum value_kind {
	V_PROVIDER,
	V_EMAIL,
	V_CLIENT_ID,
	V_TEXT,
	V_TENANT,
	V_URL,
	V_SCOPES,
	V_FLOW,
	V_PATH,
	V_PORT,
	V_DURATION,
};

enum account_key {
	K_PROVIDER,
	K_EMAIL,
	K_CLIENT_ID,
	K_CLIENT_SECRET,
	K_CLIENT_SECRET_CMD,
	K_TENANT,
	K_ISSUER,
	K_AUTHORIZATION_ENDPOINT,
	K_TOKEN_ENDPOINT,
	K_DEVICE_AUTHORIZATION_ENDPOINT,
	K_SCOPES,
	K_FLOW,
	K_CA_FILE,
	K_REDIRECT_URI,
	K_NOTIFY_CMD,
	K_REDIRECT_PORT,
	K_LIFETIME,
	K_COUNT
};

struct key_info {
	const char *name;
	size_t offset; /* of the char * in struct agent_account_cfg (of the
			  unsigned for V_PORT) */
	enum value_kind kind;
	const char *expect; /* what a good value looks like */
};

#define ACC(field) offsetof(struct agent_account_cfg, field)

static const char url_expect[] =
    "an https:// URL; plain http:// only to 127.0.0.0/8, ::1 or localhost";

static const struct key_info account_keys[K_COUNT] = {
    [K_PROVIDER] = {"provider", ACC(provider), V_PROVIDER, NULL},
    [K_EMAIL] = {"email", ACC(email), V_EMAIL,
		 "an e-mail address such as alice@example.com"},
    [K_CLIENT_ID] = {"client_id", ACC(client_id), V_CLIENT_ID,
		     "the application (client) id of your app "
		     "registration"},
    [K_CLIENT_SECRET] = {"client_secret", ACC(client_secret), V_TEXT,
			 "the client secret"},
    [K_CLIENT_SECRET_CMD] = {"client_secret_cmd", ACC(client_secret_cmd),
			     V_TEXT, "a shell command that prints the secret"},
    [K_TENANT] = {"tenant", ACC(tenant), V_TENANT,
		  "common, organizations, consumers, a tenant id (GUID) "
		  "or a domain such as contoso.onmicrosoft.com"},
    [K_ISSUER] = {"issuer", ACC(issuer), V_URL, url_expect},
    [K_AUTHORIZATION_ENDPOINT] = {"authorization_endpoint",
				  ACC(authorization_endpoint), V_URL,
				  url_expect},
    [K_TOKEN_ENDPOINT] = {"token_endpoint", ACC(token_endpoint), V_URL,
			  url_expect},
    [K_DEVICE_AUTHORIZATION_ENDPOINT] = {"device_authorization_endpoint",
					 ACC(device_authorization_endpoint),
					 V_URL, url_expect},
    [K_SCOPES] = {"scopes", ACC(scopes), V_SCOPES,
		  "OAuth scopes separated by spaces"},
    [K_FLOW] = {"flow", ACC(flow), V_FLOW,
		"device, browser, paste or client_credentials"},
    [K_CA_FILE] = {"ca_file", ACC(ca_file), V_PATH,
		   "the absolute path of a PEM file of CA certificates"},
    [K_REDIRECT_URI] = {"redirect_uri", ACC(redirect_uri), V_URL, url_expect},
    [K_NOTIFY_CMD] = {"notify_cmd", ACC(notify_cmd), V_TEXT,
		      "a shell command to run when the account needs you"},
    [K_REDIRECT_PORT] = {"redirect_port", ACC(redirect_port), V_PORT,
			 "a TCP port from 1 to 65535 for the browser flow's "
			 "loopback redirect"},
    [K_LIFETIME] = {"lifetime", ACC(lifetime_s), V_DURATION,
		    "a time such as 3600, 90m, 12h or 7d (at most 3650d)"},
};

enum agent_key {
	A_WAIT,
	A_MAX_CONNECTIONS,
	A_IDLE_TIMEOUT,
	A_SECRET_CMD_TIMEOUT,
	A_NOTIFY_CMD,
	A_NOTIFY_TIMEOUT,
	A_VAULT,
	A_VAULT_KEY_FILE,
	A_COUNT
};

struct agent_key_info {
	const char *name;
	size_t offset; /* of the unsigned (or, if text, the char *) in
			  struct agent_config */
	unsigned long min, max;
	unsigned scale; /* seconds to milliseconds, or 1 */
	const char *expect;
	int text; /* a string, stored as given */
	int path; /* a text that must be an absolute path */
};

static const struct agent_key_info agent_keys[A_COUNT] = {
    [A_WAIT] = {"wait", offsetof(struct agent_config, wait_default_ms), 0, 3600,
		1000, "a whole number of seconds from 0 to 3600"},
    [A_MAX_CONNECTIONS] = {"max_connections",
			   offsetof(struct agent_config, max_connections), 1,
			   65536, 1, "a whole number from 1 to 65536"},
    [A_IDLE_TIMEOUT] = {"idle_timeout",
			offsetof(struct agent_config, idle_timeout_ms), 1,
			86400, 1000,
			"a whole number of seconds from 1 to 86400"},
    [A_SECRET_CMD_TIMEOUT] = {"secret_cmd_timeout",
			      offsetof(struct agent_config,
				       secret_cmd_timeout_ms),
			      1, 3600, 1000,
			      "a whole number of seconds from 1 to 3600"},
    [A_NOTIFY_CMD] = {"notify_cmd", offsetof(struct agent_config, notify_cmd),
		      0, 0, 1,
		      "a shell command to run when an account needs you", 1},
    [A_NOTIFY_TIMEOUT] = {"notify_timeout",
			  offsetof(struct agent_config, notify_timeout_ms), 1,
			  3600, 1000,
			  "a whole number of seconds from 1 to 3600"},
    [A_VAULT] = {"vault", offsetof(struct agent_config, vault_path), 0, 0, 1,
		 "the absolute path of the vault file", 1, 1},
    [A_VAULT_KEY_FILE] = {"vault_key_file",
			  offsetof(struct agent_config, vault_key_file), 0, 0,
			  1,
			  "the absolute path of a file of 32 random bytes "
			  "(head -c 32 /dev/urandom)",
			  1, 1},
};

/* Where each key of one account was set; 0 when it was not. */
struct key_lines {
	int at[K_COUNT];
};

enum section { SEC_NONE, SEC_AGENT, SEC_ACCOUNT };

struct parse_ctx {
	const char *file;    /* for messages */
	const char *p, *end; /* input not yet handed to inih */
	int line;	     /* the line last handed to inih */
	struct agent_config *cfg;
	struct key_lines *lines; /* parallel to cfg->accounts */
	size_t cap;		 /* of cfg->accounts and lines */
	enum section sec;
	int agent_line;		     /* of [agent], 0 before it */
	int agent_key_line[A_COUNT]; /* as key_lines, for [agent] */
	int r;			     /* first error, 0 while none */
	int err_line;		     /* its line */
	char *err;
	size_t errlen;
	/* Checking one section given as key/value pairs (the ADD request)
	   rather than a file: `line` counts the pairs, and messages read
	   "KEY: problem", as there is no file or line to name. */
	int pairs;
};

/*
 * Records the first error as "FILE:LINE: [section] key 'K': message".
 * sect and key may be NULL; key is escaped, sect must already be safe.
 * Later errors are dropped: one precise message beats a cascade.
 */
static void fail(struct parse_ctx *x, int line, const char *sect,
		 const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void fail(struct parse_ctx *x, int line, const char *sect,
		 const char *key, const char *fmt, ...)
{
	char msg[MSG_MAX], file[256], k[80];
	va_list ap;

	if (x->r != 0)
		return;
	x->r = XO_ERR_CONFIG;
	x->err_line = line;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->err == NULL || x->errlen == 0)
		return;
	if (x->pairs) {
		if (key != NULL) {
			config_escape(k, sizeof(k), key, 48);
			snprintf(x->err, x->errlen, "%s: %s", k, msg);
		} else {
			snprintf(x->err, x->errlen, "%s", msg);
		}
		return;
	}
	config_escape(file, sizeof(file), x->file, 200);
	if (key != NULL) {
		config_escape(k, sizeof(k), key, 48);
		snprintf(x->err, x->errlen, "%s:%d: %s%skey '%s': %s", file,
			 line, sect != NULL ? sect : "",
			 sect != NULL ? " " : "", k, msg);
	} else if (sect != NULL) {
		snprintf(x->err, x->errlen, "%s:%d: %s: %s", file, line, sect,
			 msg);
	} else {
		snprintf(x->err, x->errlen, "%s:%d: %s", file, line, msg);
	}
}

/* "[account NAME]" for messages; names are checked, so safe to print. */
static const char *account_label(const struct agent_account_cfg *a, char *buf,
				 size_t len)
{
	snprintf(buf, len, "[account %s]", a->name);
	return buf;
}

static const char *current_label(struct parse_ctx *x, char *buf, size_t len)
{
	if (x->sec == SEC_AGENT)
		return "[agent]";
	if (x->sec == SEC_ACCOUNT)
		return account_label(&x->cfg->accounts[x->cfg->n_accounts - 1],
				     buf, len);
	return NULL;
}

static void provider_list(char *buf, size_t len)
{
	const struct agent_preset *p;
	size_t i, w = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; (p = agent_preset_at(i)) != NULL && w < len; i++) {
		n = snprintf(buf + w, len - w, "%s%s", i > 0 ? ", " : "",
			     p->name);
		if (n < 0)
			break;
		w += (size_t)n;
	}
}

static void key_list(char *buf, size_t len)
{
	size_t i, w = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < K_COUNT && w < len; i++) {
		n = snprintf(buf + w, len - w, "%s%s", i > 0 ? ", " : "",
			     account_keys[i].name);
		if (n < 0)
			break;
		w += (size_t)n;
	}
}

/* Checks value for an account key; on success stores a copy. */
static int account_key(struct parse_ctx *x, const char *name, const char *value)
{
	struct agent_account_cfg *a = &x->cfg->accounts[x->cfg->n_accounts - 1];
	struct key_lines *kl = &x->lines[x->cfg->n_accounts - 1];
	const char *known[K_COUNT], *hint, *bad;
	const struct key_info *k = NULL;
	char label[96], list[512], shown[80], *copy = NULL, **slot;
	enum agent_flow flow;
	size_t i;

	account_label(a, label, sizeof(label));
	for (i = 0; i < K_COUNT; i++) {
		known[i] = account_keys[i].name;
		if (strcmp(name, known[i]) == 0)
			k = &account_keys[i];
	}
	if (k == NULL) {
		if ((hint = config_suggest(name, known, K_COUNT)) != NULL) {
			fail(x, x->line, label, name,
			     "unknown key (did you mean '%s'?)", hint);
		} else {
			key_list(list, sizeof(list));
			fail(x, x->line, label, name,
			     "unknown key (known keys: %s)", list);
		}
		return 0;
	}
	i = (size_t)(k - account_keys);
	if (kl->at[i] != 0) {
		if (x->pairs)
			fail(x, x->line, label, name, "set twice; keep one");
		else
			fail(x, x->line, label, name,
			     "set twice (first at line %d); keep one",
			     kl->at[i]);
		return 0;
	}
	if (value[0] == '\0') {
		if (k->kind == V_PROVIDER) {
			provider_list(list, sizeof(list));
			fail(x, x->line, label, name,
			     "value missing (expected one of %s)", list);
		} else {
			fail(x, x->line, label, name,
			     "value missing (expected %s)", k->expect);
		}
		return 0;
	}
	if ((bad = config_find_control(value)) != NULL) {
		fail(x, x->line, label, name,
		     "value contains the control character 0x%02x (expected "
		     "printable text)",
		     (unsigned char)*bad);
		return 0;
	}
	config_escape(shown, sizeof(shown), value, 64);
	switch (k->kind) {
	case V_PROVIDER:
		if (agent_preset_find(value) == NULL) {
			provider_list(list, sizeof(list));
			fail(x, x->line, label, name,
			     "unknown provider '%s' (expected one of %s)",
			     shown, list);
			return 0;
		}
		break;
	case V_FLOW:
		if (agent_flow_parse(value, &flow) != 0) {
			fail(x, x->line, label, name,
			     "unknown flow '%s' (expected %s)", shown,
			     k->expect);
			return 0;
		}
		break;
	case V_EMAIL:
		if (!config_is_email(value)) {
			fail(x, x->line, label, name,
			     "'%s' is not an e-mail address (expected %s)",
			     shown, k->expect);
			return 0;
		}
		break;
	case V_CLIENT_ID:
		if (strchr(value, ' ') != NULL) {
			fail(x, x->line, label, name,
			     "contains a space (expected %s)", k->expect);
			return 0;
		}
		break;
	case V_TENANT:
		if (!config_is_tenant(value)) {
			fail(x, x->line, label, name,
			     "'%s' is not a tenant (expected %s)", shown,
			     k->expect);
			return 0;
		}
		break;
	case V_URL:
		if ((bad = config_check_url(value)) != NULL) {
			fail(x, x->line, label, name, "'%s' %s (expected %s)",
			     shown, bad, k->expect);
			return 0;
		}
		break;
	case V_PATH:
		if (value[0] != '/') {
			fail(x, x->line, label, name,
			     "'%s' is not an absolute path (expected %s; the "
			     "agent does not resolve relative paths)",
			     shown, k->expect);
			return 0;
		}
		break;
	case V_SCOPES:
		if (config_normalise_scopes(value, &copy, &bad) ==
		    XO_ERR_NOMEM) {
			x->r = XO_ERR_NOMEM;
			return 0;
		}
		if (copy == NULL) {
			config_escape_n(shown, sizeof(shown), bad,
					strcspn(bad, " "), 64);
			fail(x, x->line, label, name,
			     "the scope '%s' has a character OAuth does not "
			     "allow in a scope (expected %s)",
			     shown, k->expect);
			return 0;
		}
		break;
	case V_PORT: {
		unsigned long port = 0;
		size_t len = strlen(value);

		/* Digits only: strtoul would take a sign or blanks. */
		if (len <= 5 && strspn(value, "0123456789") == len)
			port = strtoul(value, NULL, 10);
		if (port < 1 || port > 65535) {
			fail(x, x->line, label, name,
			     "'%s' is not a port (expected %s)", shown,
			     k->expect);
			return 0;
		}
		*(unsigned *)((char *)a + k->offset) = (unsigned)port;
		kl->at[i] = x->line;
		return 1;
	}
	case V_DURATION: {
		unsigned long secs;

		if (agent_duration_parse(value, &secs) != 0) {
			fail(x, x->line, label, name,
			     "'%s' is not a time (expected %s)", shown,
			     k->expect);
			return 0;
		}
		*(unsigned *)((char *)a + k->offset) = (unsigned)secs;
		kl->at[i] = x->line;
		return 1;
	}
	case V_TEXT:
		break;
	}
	if (copy == NULL && (copy = strdup(value)) == NULL) {
		x->r = XO_ERR_NOMEM;
		return 0;
	}
	slot = (char **)((char *)a + k->offset);
	*slot = copy; /* transferred */
	kl->at[i] = x->line;
	return 1;
}

static int agent_key(struct parse_ctx *x, const char *name, const char *value)
{
	const struct agent_key_info *k = NULL;
	const char *known[A_COUNT], *hint, *bad;
	unsigned long v = 0;
	size_t i, len;
	char *copy;
	int ok;

	for (i = 0; i < A_COUNT; i++) {
		known[i] = agent_keys[i].name;
		if (strcmp(name, known[i]) == 0)
			k = &agent_keys[i];
	}
	if (k == NULL) {
		if ((hint = config_suggest(name, known, A_COUNT)) != NULL)
			fail(x, x->line, "[agent]", name,
			     "unknown key (did you mean '%s'?)", hint);
		else
			fail(x, x->line, "[agent]", name,
			     "unknown key (known keys: wait, max_connections, "
			     "idle_timeout, secret_cmd_timeout, notify_cmd, "
			     "notify_timeout, vault, vault_key_file)");
		return 0;
	}
	i = (size_t)(k - agent_keys);
	if (x->agent_key_line[i] != 0) {
		fail(x, x->line, "[agent]", name,
		     "set twice (first at line %d); keep one",
		     x->agent_key_line[i]);
		return 0;
	}
	if (value[0] == '\0') {
		fail(x, x->line, "[agent]", name, "value missing (expected %s)",
		     k->expect);
		return 0;
	}
	if (k->text) {
		if ((bad = config_find_control(value)) != NULL) {
			fail(x, x->line, "[agent]", name,
			     "value contains the control character 0x%02x "
			     "(expected printable text)",
			     (unsigned char)*bad);
			return 0;
		}
		if (k->path && value[0] != '/') {
			char shown[80];

			config_escape(shown, sizeof(shown), value, 64);
			fail(x, x->line, "[agent]", name,
			     "'%s' is not an absolute path (expected %s)",
			     shown, k->expect);
			return 0;
		}
		if ((copy = strdup(value)) == NULL) {
			x->r = XO_ERR_NOMEM;
			return 0;
		}
		*(char **)((char *)x->cfg + k->offset) = copy;
		x->agent_key_line[i] = x->line;
		return 1;
	}
	/* strtoul accepts blanks and a sign, so only digits reach it, and
	   nine of them cannot overflow. */
	len = strlen(value);
	ok = len <= 9 && strspn(value, "0123456789") == len;
	if (ok) {
		v = strtoul(value, NULL, 10);
		ok = v >= k->min && v <= k->max;
	}
	if (!ok) {
		char shown[80];

		config_escape(shown, sizeof(shown), value, 64);
		fail(x, x->line, "[agent]", name,
		     "'%s' is out of range "
		     "or not a number (expected %s)",
		     shown, k->expect);
		return 0;
	}
	*(unsigned *)((char *)x->cfg + k->offset) = (unsigned)(v * k->scale);
	x->agent_key_line[i] = x->line;
	return 1;
}

/* inih's handler; see the comment at the top for why section is unused. */
static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parse_ctx *x = user;
	char label[96];

	(void)section;
	if (x->r != 0)
		return 0;
	if (name[0] == '\0') {
		fail(x, x->line, current_label(x, label, sizeof(label)), NULL,
		     "%s",
		     x->pairs ? "a setting has an empty key"
			      : "a line starts with '=' or ':' (expected "
				"'key = value')");
		return 0;
	}
	switch (x->sec) {
	case SEC_AGENT:
		return agent_key(x, name, value);
	case SEC_ACCOUNT:
		return account_key(x, name, value);
	case SEC_NONE:
		break;
	}
	fail(x, x->line, NULL, name,
	     "outside any section (put it under [agent] or [account NAME])");
	return 0;
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
	       c == '+' || c == '-';
}

static int is_account_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > ACCOUNT_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_name_char(s[i]))
			return 0;
	return 1;
}

#define NAME_EXPECT "expected 1 to %d of A-Z a-z 0-9 . _ @ + -"

static int add_account(struct parse_ctx *x, const char *name, size_t len)
{
	struct agent_config *c = x->cfg;
	struct agent_account_cfg *a;
	size_t i;

	for (i = 0; i < c->n_accounts; i++) {
		if (strlen(c->accounts[i].name) == len &&
		    memcmp(c->accounts[i].name, name, len) == 0) {
			fail(x, x->line, NULL, NULL,
			     "[account %.*s] appears twice (first at line "
			     "%d); account names must be unique",
			     (int)len, name, c->accounts[i].line);
			return XO_ERR_CONFIG;
		}
	}
	if (c->n_accounts == CONFIG_MAX_ACCOUNTS) {
		fail(x, x->line, NULL, NULL, "more than %d accounts",
		     CONFIG_MAX_ACCOUNTS);
		return XO_ERR_CONFIG;
	}
	if (c->n_accounts == x->cap) {
		size_t cap = x->cap == 0 ? 4 : x->cap * 2;
		struct agent_account_cfg *na;
		struct key_lines *nl;

		na = reallocarray(c->accounts, cap, sizeof(*na));
		if (na == NULL)
			return x->r = XO_ERR_NOMEM;
		c->accounts = na;
		nl = reallocarray(x->lines, cap, sizeof(*nl));
		if (nl == NULL)
			return x->r = XO_ERR_NOMEM;
		x->lines = nl;
		x->cap = cap;
	}
	a = &c->accounts[c->n_accounts];
	memset(a, 0, sizeof(*a));
	memset(&x->lines[c->n_accounts], 0, sizeof(x->lines[0]));
	if ((a->name = strndup(name, len)) == NULL)
		return x->r = XO_ERR_NOMEM;
	a->line = x->line;
	c->n_accounts++;
	x->sec = SEC_ACCOUNT;
	return 0;
}

/*
 * Handles a "[...]" line (s..e, leading blanks gone).  inih never sees it:
 * see the comment at the top.
 */
static int open_section(struct parse_ctx *x, const char *s, const char *e)
{
	const char *close = memchr(s, ']', (size_t)(e - s)), *p, *in, *in_end;
	char shown[96];
	size_t len;

	if (close == NULL) {
		fail(x, x->line, NULL, NULL,
		     "section header without its closing ']'");
		return XO_ERR_CONFIG;
	}
	for (p = close + 1; p < e && config_is_blank(*p); p++)
		;
	if (p < e && *p != ';' && *p != '#') {
		fail(x, x->line, NULL, NULL,
		     "text after the section header's ']' (only a comment "
		     "may follow)");
		return XO_ERR_CONFIG;
	}
	for (in = s + 1; in < close && config_is_blank(*in); in++)
		;
	for (in_end = close; in_end > in && config_is_blank(in_end[-1]);
	     in_end--)
		;
	len = (size_t)(in_end - in);
	if (len == 5 && memcmp(in, "agent", 5) == 0) {
		if (x->agent_line != 0) {
			fail(x, x->line, NULL, NULL,
			     "[agent] appears twice (first at line %d)",
			     x->agent_line);
			return XO_ERR_CONFIG;
		}
		x->agent_line = x->line;
		x->sec = SEC_AGENT;
		return 0;
	}
	if (len >= 7 && memcmp(in, "account", 7) == 0 &&
	    (len == 7 || config_is_blank(in[7]))) {
		for (p = in + 7; p < in_end && config_is_blank(*p); p++)
			;
		len = (size_t)(in_end - p);
		if (len == 0) {
			fail(x, x->line, "[account]", NULL,
			     "the section needs a name: [account NAME]");
			return XO_ERR_CONFIG;
		}
		if (!is_account_name(p, len)) {
			char nm[96];

			config_escape_n(nm, sizeof(nm), p, len, 70);
			fail(x, x->line, NULL, NULL,
			     "bad account name '%s' (" NAME_EXPECT ")", nm,
			     ACCOUNT_NAME_MAX);
			return XO_ERR_CONFIG;
		}
		return add_account(x, p, len);
	}
	config_escape_n(shown, sizeof(shown), s, (size_t)(close - s) + 1, 70);
	{
		static const char *const words[] = {"agent", "account"};
		char word[16];
		const char *hint = NULL;

		len = strcspn(in, " \t]");
		if (len < sizeof(word)) {
			memcpy(word, in, len);
			word[len] = '\0';
			hint = config_suggest(word, words, 2);
		}
		fail(x, x->line, NULL, NULL,
		     "unknown section %s (expected [agent] or [account "
		     "NAME]%s)",
		     shown,
		     hint == NULL ? ""
		     : strcmp(hint, "agent") == 0
			 ? "; did you mean [agent]?"
			 : "; did you mean [account NAME]?");
	}
	return XO_ERR_CONFIG;
}

/*
 * inih's reader (fgets-like): hands it the next physical line, so that
 * x->line is the number of the line inih is working on.  Headers, comments
 * and blank lines reach inih as empty lines, which it skips, so its own
 * count stays equal to ours.  Returning NULL ends the parse: at the end of
 * the input, and at the first error so that no later line can bury it.
 */
static char *read_line(char *buf, int num, void *stream)
{
	struct parse_ctx *x = stream;
	const char *s, *e, *nl;
	char label[96];
	size_t len;

	if (x->r != 0 || x->p >= x->end || num < 4)
		return NULL;
	x->line++;
	s = x->p;
	nl = memchr(s, '\n', (size_t)(x->end - s));
	e = nl != NULL ? nl : x->end;
	x->p = nl != NULL ? nl + 1 : x->end;
	/* fgets-style readers end a string at NUL, so whatever follows it
	   on the line would vanish without a trace. */
	if (memchr(s, '\0', (size_t)(e - s)) != NULL) {
		fail(x, x->line, current_label(x, label, sizeof(label)), NULL,
		     "the line contains a NUL byte");
		return NULL;
	}
	if (e > s && e[-1] == '\r')
		e--;
	while (s < e && config_is_blank(*s))
		s++;
	buf[0] = '\n';
	buf[1] = '\0';
	if (s == e || *s == ';' || *s == '#')
		return buf;
	if (*s == '[')
		return open_section(x, s, e) == 0 ? buf : NULL;
	len = (size_t)(e - s);
	/* inih would cut a longer line and read the rest as a new line;
	   num - 3 leaves room for "\r\n\0" as ini.h asks. */
	if (len > (size_t)num - 3) {
		char key[64];
		size_t klen = 0;

		while (s + klen < e && s[klen] != '=' && s[klen] != ':')
			klen++;
		while (klen > 0 && config_is_blank(s[klen - 1]))
			klen--;
		if (klen >= sizeof(key) || klen >= len)
			klen = 0;
		memcpy(key, s, klen);
		key[klen] = '\0';
		fail(x, x->line, current_label(x, label, sizeof(label)),
		     klen > 0 ? key : NULL,
		     "the line is longer than %d characters, the most the INI "
		     "parser takes (put a long command in a script)",
		     num - 3);
		return NULL;
	}
	memcpy(buf, s, len);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	return buf;
}

static int dup_into(char **slot, const char *v, const char *tenant)
{
	if (*slot != NULL || v == NULL)
		return 0;
	return agent_preset_expand(v, tenant, slot);
}

/*
 * Applies the preset to one account, fills defaults and checks what needs
 * the whole section (required keys, conflicts, flows).
 */
static int resolve_account(struct parse_ctx *x, struct agent_account_cfg *a,
			   const struct key_lines *kl)
{
	const struct agent_preset *p;
	enum agent_flow flow = AGENT_FLOW_DEVICE;
	int explicit_flow = a->flow != NULL, flow_line, r;
	char label[96];
	const char *why = NULL;

	account_label(a, label, sizeof(label));
	if (a->provider == NULL && (a->provider = strdup("generic")) == NULL)
		return XO_ERR_NOMEM;
	p = agent_preset_find(a->provider);
	if (p == NULL) /* checked when read; a bug if it happens */
		return XO_ERR_INTERNAL;
	if (a->tenant != NULL && !agent_preset_is_microsoft(p)) {
		fail(x, kl->at[K_TENANT], label, "tenant",
		     "only the microsoft providers take a tenant, and this "
		     "account's provider is %s (drop the key, or set provider "
		     "= microsoft)",
		     a->provider);
		return XO_ERR_CONFIG;
	}
	if (a->client_id == NULL) {
		fail(x, a->line, label, "client_id", "missing (expected %s)",
		     account_keys[K_CLIENT_ID].expect);
		return XO_ERR_CONFIG;
	}
	if (a->client_secret != NULL && a->client_secret_cmd != NULL) {
		int second =
		    kl->at[K_CLIENT_SECRET] > kl->at[K_CLIENT_SECRET_CMD]
			? K_CLIENT_SECRET
			: K_CLIENT_SECRET_CMD;

		fail(x, kl->at[second], label, account_keys[second].name,
		     "client_secret and client_secret_cmd are both set (keep "
		     "one: client_secret_cmd keeps the secret out of this "
		     "file)");
		return XO_ERR_CONFIG;
	}
	flow_line = explicit_flow ? kl->at[K_FLOW] : a->line;
	if (explicit_flow) {
		if (agent_flow_parse(a->flow, &flow) != 0)
			return XO_ERR_INTERNAL; /* checked when read */
		if (p->refused[flow] != NULL) {
			fail(x, flow_line, label, "flow", "%s",
			     p->refused[flow]);
			return XO_ERR_CONFIG;
		}
	}
	if (agent_preset_is_microsoft(p) && a->tenant == NULL &&
	    (a->tenant = strdup(p->default_tenant)) == NULL)
		return XO_ERR_NOMEM;
	if ((r = dup_into(&a->authorization_endpoint, p->authorization_endpoint,
			  a->tenant)) != 0 ||
	    (r = dup_into(&a->token_endpoint, p->token_endpoint, a->tenant)) !=
		0 ||
	    (r = dup_into(&a->device_authorization_endpoint,
			  p->device_authorization_endpoint, a->tenant)) != 0 ||
	    (r = dup_into(&a->scopes,
			  flow == AGENT_FLOW_CLIENT_CREDENTIALS && explicit_flow
			      ? p->app_scopes
			      : p->scopes,
			  NULL)) != 0 ||
	    (r = dup_into(&a->redirect_uri, p->redirect_uri, NULL)) != 0)
		return r;
	if (a->token_endpoint == NULL && a->issuer == NULL) {
		fail(x, a->line, label, "token_endpoint",
		     "neither token_endpoint nor issuer is set (expected "
		     "issuer for discovery, or the endpoints; or a provider "
		     "such as microsoft or google, which fills them in)");
		return XO_ERR_CONFIG;
	}
	a->needs_discovery = a->issuer != NULL && a->token_endpoint == NULL;
	if (!explicit_flow) {
		/* A default must be a flow that can start; tokens may also
		   come in by `xoauth import`, so no check follows. */
		flow = p->default_flow;
		if (flow == AGENT_FLOW_DEVICE &&
		    a->device_authorization_endpoint == NULL &&
		    !a->needs_discovery)
			flow = AGENT_FLOW_BROWSER;
		if ((a->flow = strdup(agent_flow_name(flow))) == NULL)
			return XO_ERR_NOMEM;
		return 0;
	}
	switch (flow) {
	case AGENT_FLOW_DEVICE:
		if (a->device_authorization_endpoint == NULL &&
		    !a->needs_discovery)
			why =
			    "flow 'device' needs device_authorization_endpoint "
			    "(this provider has none known: use browser or "
			    "paste)";
		break;
	case AGENT_FLOW_BROWSER:
	case AGENT_FLOW_PASTE:
		if (a->authorization_endpoint == NULL && !a->needs_discovery)
			why = "this flow needs authorization_endpoint (or "
			      "issuer, for discovery)";
		else if (flow == AGENT_FLOW_PASTE && a->redirect_uri == NULL)
			why = "flow 'paste' needs redirect_uri, the redirect "
			      "URI registered for your app";
		break;
	case AGENT_FLOW_CLIENT_CREDENTIALS:
		if (a->client_secret == NULL && a->client_secret_cmd == NULL)
			why = "flow 'client_credentials' needs "
			      "client_secret_cmd (or client_secret)";
		else if (agent_preset_is_microsoft(p) &&
			 config_is_shared_tenant(a->tenant))
			why = "flow 'client_credentials' needs your own tenant "
			      "(its id or domain) in `tenant`: Microsoft "
			      "refuses app-only tokens on common, "
			      "organizations and consumers (AADSTS9001023)";
		else if (a->email == NULL) {
			/* No user signs in, so no ID token can tell the
			   address; mail programs need it as the user name. */
			fail(x, flow_line, label, "email",
			     "missing: flow 'client_credentials' needs the "
			     "address of the mailbox to send as (expected %s)",
			     account_keys[K_EMAIL].expect);
			return XO_ERR_CONFIG;
		}
		break;
	case AGENT_FLOW_COUNT:
		return XO_ERR_INTERNAL;
	}
	if (why != NULL) {
		fail(x, flow_line, label, "flow", "%s", why);
		return XO_ERR_CONFIG;
	}
	return 0;
}

void agent_account_cfg_cleanup(struct agent_account_cfg *a)
{
	if (a == NULL)
		return;
	if (a->client_secret != NULL)
		sodium_memzero(a->client_secret, strlen(a->client_secret));
	free(a->name);
	free(a->provider);
	free(a->email);
	free(a->client_id);
	free(a->client_secret);
	free(a->client_secret_cmd);
	free(a->tenant);
	free(a->issuer);
	free(a->authorization_endpoint);
	free(a->token_endpoint);
	free(a->device_authorization_endpoint);
	free(a->scopes);
	free(a->flow);
	free(a->ca_file);
	free(a->redirect_uri);
	free(a->notify_cmd);
	memset(a, 0, sizeof(*a));
}

void agent_config_free(struct agent_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_accounts; i++)
		agent_account_cfg_cleanup(&c->accounts[i]);
	free(c->accounts);
	free(c->path);
	free(c->notify_cmd);
	free(c->vault_path);
	free(c->vault_key_file);
	free(c);
}

struct agent_config *config_new(void)
{
	struct agent_config *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->wait_default_ms = 10000;
	c->max_connections = 64;
	c->idle_timeout_ms = 60000;
	c->secret_cmd_timeout_ms = 10000;
	c->notify_timeout_ms = 30000;
	return c;
}

int agent_config_parse(const char *name, const char *data, size_t len,
		       struct agent_config **out, char *err, size_t errlen)
{
	struct parse_ctx x;
	size_t i;
	int r = XO_ERR_INTERNAL, n;

	memset(&x, 0, sizeof(x));
	if (out == NULL)
		return XO_ERR_INVALID;
	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (name == NULL || (data == NULL && len > 0)) {
		r = XO_ERR_INVALID;
		goto out;
	}
	if (len > CONFIG_MAX_SIZE) {
		char file[256];

		config_escape(file, sizeof(file), name, 200);
		config_set_err(err, errlen, "%s: larger than %d bytes", file,
			       CONFIG_MAX_SIZE);
		r = XO_ERR_CONFIG;
		goto out;
	}
	x.file = name;
	x.p = data;
	x.end = data + len;
	x.err = err;
	x.errlen = errlen;
	/* A UTF-8 byte order mark, as some editors write one. */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		x.p += 3;
	if ((x.cfg = config_new()) == NULL ||
	    (x.cfg->path = strdup(name)) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	n = ini_parse_stream(read_line, &x, on_key, &x);
	if (n < 0 || x.r == XO_ERR_NOMEM) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	/* inih reports lines it could not read as 'key = value' by number
	   only; our handler saw every other problem.  Both counts are
	   physical lines, so the smaller one is the first error. */
	if (n > 0 && (x.r == 0 || n < x.err_line)) {
		char label[96];

		x.r = 0;
		fail(&x, n, current_label(&x, label, sizeof(label)), NULL,
		     "not a 'key = value' line, a [section] header or a "
		     "comment");
	}
	if (x.r != 0) {
		r = x.r;
		goto out;
	}
	for (i = 0; i < x.cfg->n_accounts; i++) {
		r = resolve_account(&x, &x.cfg->accounts[i], &x.lines[i]);
		if (r != 0)
			goto out;
	}
	*out = x.cfg;
	x.cfg = NULL; /* transferred */
	r = 0;
out:
	if (r == XO_ERR_NOMEM)
		config_set_err(err, errlen,
			       "out of memory reading the configuration");
	agent_config_free(x.cfg);
	free(x.lines);
	return r;
}

int agent_config_account(const char *name, const struct agent_setting *settings,
			 size_t n, struct agent_account_cfg *out, char *err,
			 size_t errlen)
{
	struct parse_ctx x;
	size_t i, len;
	int r = XO_ERR_INTERNAL;

	memset(&x, 0, sizeof(x));
	if (out == NULL)
		return XO_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (name == NULL || (settings == NULL && n > 0))
		return XO_ERR_INVALID;
	x.file = "";
	x.pairs = 1;
	x.err = err;
	x.errlen = errlen;
	if ((x.cfg = config_new()) == NULL) {
		r = XO_ERR_NOMEM;
		goto out;
	}
	len = strlen(name);
	if (!is_account_name(name, len)) {
		char nm[96];

		config_escape_n(nm, sizeof(nm), name, len, 70);
		fail(&x, 0, NULL, "name",
		     "bad account name '%s' (" NAME_EXPECT ")", nm,
		     ACCOUNT_NAME_MAX);
		r = x.r;
		goto out;
	}
	if ((r = add_account(&x, name, len)) != 0)
		goto out;
	/* The very handler inih calls for the file, one pair at a time;
	   `line` counts pairs, so "set twice" and the order of
	   client_secret and client_secret_cmd still work. */
	for (i = 0; i < n && x.r == 0; i++) {
		x.line = (int)i + 1;
		on_key(&x, NULL, settings[i].key != NULL ? settings[i].key : "",
		       settings[i].value != NULL ? settings[i].value : "");
	}
	if ((r = x.r) != 0)
		goto out;
	if ((r = resolve_account(&x, &x.cfg->accounts[0], &x.lines[0])) != 0)
		goto out;
	*out = x.cfg->accounts[0];
	x.cfg->n_accounts = 0; /* transferred */
	r = 0;
out:
	if (r == XO_ERR_NOMEM)
		config_set_err(err, errlen, "out of memory");
	agent_config_free(x.cfg);
	free(x.lines);
	return r;
}

const struct agent_account_cfg *agent_config_find(const struct agent_config *c,
						  const char *name)
{
	size_t i;

	if (c == NULL || name == NULL)
		return NULL;
	for (i = 0; i < c->n_accounts; i++)
		if (strcmp(c->accounts[i].name, name) == 0)
			return &c->accounts[i];
	/* Addresses are case-insensitive in practice (the domain always,
	   the local part at every provider we know). */
	for (i = 0; i < c->n_accounts; i++)
		if (c->accounts[i].email != NULL &&
		    strcasecmp(c->accounts[i].email, name) == 0)
			return &c->accounts[i];
	return NULL;
}

static int str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int agent_account_cfg_equal(const struct agent_account_cfg *a,
			    const struct agent_account_cfg *b)
{
	/* Every setting, but not `line`: a comment added above a section
	   must not make SIGHUP drop that account's tokens. */
	return str_equal(a->name, b->name) &&
	       str_equal(a->provider, b->provider) &&
	       str_equal(a->email, b->email) &&
	       str_equal(a->client_id, b->client_id) &&
	       str_equal(a->client_secret, b->client_secret) &&
	       str_equal(a->client_secret_cmd, b->client_secret_cmd) &&
	       str_equal(a->tenant, b->tenant) &&
	       str_equal(a->issuer, b->issuer) &&
	       str_equal(a->authorization_endpoint,
			 b->authorization_endpoint) &&
	       str_equal(a->token_endpoint, b->token_endpoint) &&
	       str_equal(a->device_authorization_endpoint,
			 b->device_authorization_endpoint) &&
	       str_equal(a->scopes, b->scopes) && str_equal(a->flow, b->flow) &&
	       str_equal(a->ca_file, b->ca_file) &&
	       str_equal(a->redirect_uri, b->redirect_uri) &&
	       a->redirect_port == b->redirect_port &&
	       a->needs_discovery == b->needs_discovery;
}
