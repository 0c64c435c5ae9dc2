/*
 * parse.c: xoauth.conf(5), parsed with inih, checked, and completed from
 * the provider presets (presets.c).
 *
 * Where the rules are.  What a key takes is its row in account_keys[] or
 * agent_keys[] and the check_*() function the row names; what every key
 * shares (a known name, set once, a value of printable text) is set_key().
 * The rules between the keys of an account, applied once its section has
 * been read, are the steps of resolve_account(), in the order it runs
 * them.
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
#include "secret/stack.h"

#define CONFIG_MAX_ACCOUNTS 1000
#define ACCOUNT_NAME_MAX 64
#define MSG_MAX 768

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
	K_SEND,
	K_SMTP,
	K_GRAPH_ENDPOINT,
	K_GRAPH_SCOPE,
	K_GMAIL_ENDPOINT,
	K_GMAIL_SCOPE,
	K_LOCAL_RECIPIENT,
	K_COUNT
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
	A_RESTRICTED_SOCKET,
	A_COUNT
};

/* The most keys a section has, for the list of their names. */
#define KEYS_MAX 32
_Static_assert(K_COUNT <= KEYS_MAX && A_COUNT <= KEYS_MAX,
	       "KEYS_MAX is too small for a section's keys");

struct key_info;

/*
 * One value on its way into a section's struct.  set_key() fills k, value,
 * shown and expect; the key's check leaves what to store in text or number
 * or, when the value is bad, what is wrong in why.
 */
struct value_check {
	const struct key_info *k;
	const char *value;    /* not empty; printable unless k->raw */
	char shown[80];	      /* value, escaped for a message */
	const char *expect;   /* what a good value looks like */
	char *text;	      /* to store instead of a copy of value (malloc) */
	unsigned long number; /* to store, for a key that holds a number */
	char why[MSG_MAX];
};

/* 0 when v->value is good; XO_ERR_CONFIG with v->why set; XO_ERR_NOMEM. */
typedef int (*value_check_cb)(struct value_check *v);

struct key_info {
	const char *name;
	size_t offset;	      /* of the char * in the section's struct (of the
				 unsigned when number is set) */
	value_check_cb check; /* NULL: any printable text */
	const char *expect;   /* what a good value looks like; NULL: one of
				 the providers, listed from the presets */
	int number; /* the check gives a number, kept as an unsigned */
	int raw;    /* control characters are left to the check: an
		       [agent] number calls them "not a number" */
	unsigned long min, max; /* of an [agent] number */
	unsigned scale;		/* seconds to milliseconds, or 1 */
};

/* Sets v->why; returns XO_ERR_CONFIG, for `return refuse(...)`. */
static int refuse(struct value_check *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int refuse(struct value_check *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	return XO_ERR_CONFIG;
}

/*
 * The checks of the key tables below, one for each kind of value.  Each
 * says what is wrong in the words users read, so each message stands in
 * one place.
 */

static int check_provider(struct value_check *v)
{
	if (agent_preset_find(v->value) != NULL)
		return 0;
	return refuse(v, "unknown provider '%s' (expected %s)", v->shown,
		      v->expect);
}

static int check_email(struct value_check *v)
{
	if (config_is_email(v->value))
		return 0;
	return refuse(v, "'%s' is not an e-mail address (expected %s)",
		      v->shown, v->expect);
}

static int check_client_id(struct value_check *v)
{
	if (strchr(v->value, ' ') == NULL)
		return 0;
	return refuse(v, "contains a space (expected %s)", v->expect);
}

static int check_tenant(struct value_check *v)
{
	if (config_is_tenant(v->value))
		return 0;
	return refuse(v, "'%s' is not a tenant (expected %s)", v->shown,
		      v->expect);
}

static int check_url(struct value_check *v)
{
	const char *bad = config_check_url(v->value);

	if (bad == NULL)
		return 0;
	return refuse(v, "'%s' %s (expected %s)", v->shown, bad, v->expect);
}

static int check_flow(struct value_check *v)
{
	enum agent_flow flow;

	if (agent_flow_parse(v->value, &flow) == 0)
		return 0;
	return refuse(v, "unknown flow '%s' (expected %s)", v->shown,
		      v->expect);
}

/* Stores the scopes joined by single spaces, as they are sent. */
static int check_scopes(struct value_check *v)
{
	const char *bad;
	char token[80];

	if (config_normalise_scopes(v->value, &v->text, &bad) == XO_ERR_NOMEM)
		return XO_ERR_NOMEM;
	if (v->text != NULL)
		return 0;
	config_escape_n(token, sizeof(token), bad, strcspn(bad, " "), 64);
	return refuse(v,
		      "the scope '%s' has a character OAuth does not allow in "
		      "a scope (expected %s)",
		      token, v->expect);
}

/* The transports `xoauth sendmail` knows (xoauth.conf(5), "send"). */
static const char *const send_names[] = {"smtp", "graph", "gmail", "auto"};

static int check_send(struct value_check *v)
{
	size_t i;

	for (i = 0; i < sizeof(send_names) / sizeof(send_names[0]); i++)
		if (strcmp(v->value, send_names[i]) == 0)
			return 0;
	return refuse(v, "unknown transport '%s' (expected %s)", v->shown,
		      v->expect);
}

/* One or more plain addresses separated by commas, kept as "a, b". */
static int check_addresses(struct value_check *v)
{
	const char *p = v->value, *end;
	char one[EMAIL_MAX + 1], shown[80];
	size_t n, k = 0, cap = strlen(v->value) * 2 + 1;

	if ((v->text = malloc(cap)) == NULL)
		return XO_ERR_NOMEM;
	while (*p != '\0') {
		p += strspn(p, " \t");
		end = p + strcspn(p, ",");
		for (n = (size_t)(end - p); n > 0 && strchr(" \t", p[n - 1]);
		     n--)
			;
		if (n == 0 && *end == '\0' && k > 0)
			break; /* "a@b.c," */
		snprintf(one, sizeof(one), "%.*s", (int)n, p);
		if (n > EMAIL_MAX || !config_is_email(one) ||
		    strpbrk(one, "<>()\"\t") != NULL) {
			config_escape_n(shown, sizeof(shown), p, n, 64);
			free(v->text);
			v->text = NULL;
			return refuse(v,
				      "'%s' is not an e-mail address "
				      "(expected %s)",
				      shown, v->expect);
		}
		/* Each address is no longer than it was, and ", " takes
		   no more room than the comma and blanks doubled. */
		k += (size_t)snprintf(v->text + k, cap - k, "%s%s",
				      k > 0 ? ", " : "", one);
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int check_mailhost(struct value_check *v)
{
	struct agent_mailhost h;
	char why[128];

	if (agent_mailhost_parse(v->value, 0, &h, why, sizeof(why)) == 0)
		return 0;
	return refuse(v, "'%s' is no mail server: %s (expected %s)", v->shown,
		      why, v->expect);
}

static int check_path(struct value_check *v)
{
	if (v->value[0] == '/')
		return 0;
	return refuse(v,
		      "'%s' is not an absolute path (expected %s; the agent "
		      "does not resolve relative paths)",
		      v->shown, v->expect);
}

/* The paths of [agent], whose message is shorter than an account's. */
static int check_agent_path(struct value_check *v)
{
	if (v->value[0] == '/')
		return 0;
	return refuse(v, "'%s' is not an absolute path (expected %s)", v->shown,
		      v->expect);
}

/*
 * A whole number of at most max digits into *out, or 0 when s is anything
 * else: strtoul alone would take blanks and a sign.  Nine digits, the most
 * any caller asks for, cannot overflow it.
 */
static int read_digits(const char *s, size_t max, unsigned long *out)
{
	size_t len = strlen(s);

	if (len == 0 || len > max || strspn(s, "0123456789") != len)
		return 0;
	*out = strtoul(s, NULL, 10);
	return 1;
}

static int check_port(struct value_check *v)
{
	unsigned long port;

	if (read_digits(v->value, 5, &port) && port >= 1 && port <= 65535) {
		v->number = port;
		return 0;
	}
	return refuse(v, "'%s' is not a port (expected %s)", v->shown,
		      v->expect);
}

static int check_duration(struct value_check *v)
{
	if (agent_duration_parse(v->value, &v->number) == 0)
		return 0;
	return refuse(v, "'%s' is not a time (expected %s)", v->shown,
		      v->expect);
}

/* An [agent] number from k->min to k->max, kept times k->scale. */
static int check_number(struct value_check *v)
{
	unsigned long n;

	if (read_digits(v->value, 9, &n) && n >= v->k->min && n <= v->k->max) {
		v->number = n * v->k->scale;
		return 0;
	}
	return refuse(v, "'%s' is out of range or not a number (expected %s)",
		      v->shown, v->expect);
}

#define ACC(field) offsetof(struct agent_account_cfg, field)

/* The endpoints and the redirect URI, which tokens and codes travel to. */
#define URL_KEY(key, field)                                                    \
	{                                                                      \
		key, ACC(field), check_url,                                    \
		    "an https:// URL; plain http:// only to 127.0.0.0/8, ::1 " \
		    "or localhost"                                             \
	}

static const struct key_info account_keys[K_COUNT] = {
    [K_PROVIDER] = {"provider", ACC(provider), check_provider, NULL},
    [K_EMAIL] = {"email", ACC(email), check_email,
		 "an e-mail address such as alice@example.com"},
    [K_CLIENT_ID] = {"client_id", ACC(client_id), check_client_id,
		     "the application (client) id of your app "
		     "registration"},
    [K_CLIENT_SECRET] = {"client_secret", ACC(client_secret), NULL,
			 "the client secret"},
    [K_CLIENT_SECRET_CMD] = {"client_secret_cmd", ACC(client_secret_cmd), NULL,
			     "a shell command that prints the secret"},
    [K_TENANT] = {"tenant", ACC(tenant), check_tenant,
		  "common, organizations, consumers, a tenant id (GUID) "
		  "or a domain such as contoso.onmicrosoft.com"},
    [K_ISSUER] = URL_KEY("issuer", issuer),
    [K_AUTHORIZATION_ENDPOINT] =
	URL_KEY("authorization_endpoint", authorization_endpoint),
    [K_TOKEN_ENDPOINT] = URL_KEY("token_endpoint", token_endpoint),
    [K_DEVICE_AUTHORIZATION_ENDPOINT] =
	URL_KEY("device_authorization_endpoint", device_authorization_endpoint),
    [K_SCOPES] = {"scopes", ACC(scopes), check_scopes,
		  "OAuth scopes separated by spaces"},
    [K_FLOW] = {"flow", ACC(flow), check_flow,
		"device, browser, paste or client_credentials"},
    [K_CA_FILE] = {"ca_file", ACC(ca_file), check_path,
		   "the absolute path of a PEM file of CA certificates"},
    [K_REDIRECT_URI] = URL_KEY("redirect_uri", redirect_uri),
    [K_NOTIFY_CMD] = {"notify_cmd", ACC(notify_cmd), NULL,
		      "a shell command to run when the account needs you"},
    [K_REDIRECT_PORT] = {"redirect_port", ACC(redirect_port), check_port,
			 "a TCP port from 1 to 65535 for the browser flow's "
			 "loopback redirect",
			 .number = 1},
    [K_LIFETIME] = {"lifetime", ACC(lifetime_s), check_duration,
		    "a time such as 3600, 90m, 12h or 7d (at most 3650d)",
		    .number = 1},
    [K_SEND] = {"send", ACC(send), check_send, "smtp, graph, gmail or auto"},
    [K_SMTP] = {"smtp", ACC(smtp), check_mailhost,
		"HOST[:PORT] of the SMTP submission server, such as "
		"smtp.office365.com:587"},
    [K_GRAPH_ENDPOINT] = URL_KEY("graph_endpoint", graph_endpoint),
    [K_GRAPH_SCOPE] = {"graph_scope", ACC(graph_scope), check_scopes,
		       "the OAuth scope of Graph's Mail.Send"},
    [K_GMAIL_ENDPOINT] = URL_KEY("gmail_endpoint", gmail_endpoint),
    [K_GMAIL_SCOPE] = {"gmail_scope", ACC(gmail_scope), check_scopes,
		       "the OAuth scope of the Gmail API's send"},
    [K_LOCAL_RECIPIENT] = {"local_recipient", ACC(local_recipient),
			   check_addresses,
			   "the e-mail address (or addresses, separated by "
			   "commas) that mail for a local user such as root "
			   "goes to"},
};

#define AGT(field) offsetof(struct agent_config, field)
/* A whole number of [agent] (see check_number). */
#define AGENT_NUMBER(key, field, lo, hi, times, what)                          \
	{                                                                      \
		.name = key, .offset = AGT(field), .check = check_number,      \
		.expect = what, .number = 1, .raw = 1, .min = lo, .max = hi,   \
		.scale = times                                                 \
	}

static const struct key_info agent_keys[A_COUNT] = {
    [A_WAIT] = AGENT_NUMBER("wait", wait_default_ms, 0, 3600, 1000,
			    "a whole number of seconds from 0 to 3600"),
    [A_MAX_CONNECTIONS] =
	AGENT_NUMBER("max_connections", max_connections, 1, 1048576, 1,
		     "a whole number from 1 to 1048576"),
    [A_IDLE_TIMEOUT] =
	AGENT_NUMBER("idle_timeout", idle_timeout_ms, 1, 86400, 1000,
		     "a whole number of seconds from 1 to 86400"),
    [A_SECRET_CMD_TIMEOUT] =
	AGENT_NUMBER("secret_cmd_timeout", secret_cmd_timeout_ms, 1, 3600, 1000,
		     "a whole number of seconds from 1 to 3600"),
    [A_NOTIFY_CMD] = {"notify_cmd", AGT(notify_cmd), NULL,
		      "a shell command to run when an account needs you"},
    [A_NOTIFY_TIMEOUT] =
	AGENT_NUMBER("notify_timeout", notify_timeout_ms, 1, 3600, 1000,
		     "a whole number of seconds from 1 to 3600"),
    [A_VAULT] = {"vault", AGT(vault_path), check_agent_path,
		 "the absolute path of the vault file"},
    [A_VAULT_KEY_FILE] = {"vault_key_file", AGT(vault_key_file),
			  check_agent_path,
			  "the absolute path of a file of 32 random bytes "
			  "(head -c 32 /dev/urandom)"},
    [A_RESTRICTED_SOCKET] = {"restricted_socket", AGT(restricted_socket),
			     check_agent_path,
			     "the absolute path of a socket to make"},
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
 * Later errors are dropped: one precise message beats a cascade.  Returns
 * XO_ERR_CONFIG, for `return fail(...)`.
 */
static int fail(struct parse_ctx *x, int line, const char *sect,
		const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(struct parse_ctx *x, int line, const char *sect,
		const char *key, const char *fmt, ...)
{
	char msg[MSG_MAX], file[256], k[80];
	va_list ap;

	if (x->r != 0)
		return XO_ERR_CONFIG;
	x->r = XO_ERR_CONFIG;
	x->err_line = line;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->err == NULL || x->errlen == 0)
		return XO_ERR_CONFIG;
	if (x->pairs) {
		if (key != NULL) {
			config_escape(k, sizeof(k), key, 48);
			snprintf(x->err, x->errlen, "%s: %s", k, msg);
		} else {
			snprintf(x->err, x->errlen, "%s", msg);
		}
		return XO_ERR_CONFIG;
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
	return XO_ERR_CONFIG;
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

/* Writes "a, b, c" into buf, cut to fit. */
static void join_names(char *buf, size_t len, const char *const *names,
		       size_t n)
{
	size_t i, w = 0;
	int c;

	buf[0] = '\0';
	for (i = 0; i < n && w < len; i++) {
		c = snprintf(buf + w, len - w, "%s%s", i > 0 ? ", " : "",
			     names[i]);
		if (c < 0)
			break;
		w += (size_t)c;
	}
}

/* What a good value of k looks like.  The providers are listed from the
   presets, so that the list in a message cannot go stale. */
static const char *expected(const struct key_info *k, char *buf, size_t len)
{
	const struct agent_preset *p;
	size_t i, w = 0;
	int n;

	if (k->expect != NULL)
		return k->expect;
	buf[0] = '\0';
	for (i = 0; (p = agent_preset_at(i)) != NULL && w < len; i++) {
		n = snprintf(buf + w, len - w, "%s%s", i > 0 ? ", " : "one of ",
			     p->name);
		if (n < 0)
			break;
		w += (size_t)n;
	}
	return buf;
}

/* The keys of one section and where their values go. */
struct section_keys {
	const struct key_info *keys;
	size_t n;
	void *dst;	   /* the struct the offsets are in */
	int *at;	   /* where each key was set; 0 while it is not */
	const char *label; /* "[agent]" or "[account NAME]" */
};

/* Sets v->k to the key called name.  An unknown one is refused with the
   nearest known key or, when none is near, the list of them. */
static int find_key(const struct section_keys *s, const char *name,
		    struct value_check *v)
{
	const char *known[KEYS_MAX], *hint;
	char list[512];
	size_t i;

	for (i = 0; i < s->n; i++) {
		known[i] = s->keys[i].name;
		if (strcmp(name, known[i]) == 0)
			v->k = &s->keys[i];
	}
	if (v->k != NULL)
		return 0;
	if ((hint = config_suggest(name, known, s->n)) != NULL)
		return refuse(v, "unknown key (did you mean '%s'?)", hint);
	join_names(list, sizeof(list), known, s->n);
	return refuse(v, "unknown key (known keys: %s)", list);
}

/* A key is set once; the ADD request has no line to name. */
static int check_set_once(const struct parse_ctx *x, int first,
			  struct value_check *v)
{
	if (first == 0)
		return 0;
	if (x->pairs)
		return refuse(v, "set twice; keep one");
	return refuse(v, "set twice (first at line %d); keep one", first);
}

/* A value is given, and is printable text unless its check takes any
   byte (v->k->raw). */
static int check_given(struct value_check *v)
{
	const char *bad;

	if (v->value[0] == '\0')
		return refuse(v, "value missing (expected %s)", v->expect);
	if (!v->k->raw && (bad = config_find_control(v->value)) != NULL)
		return refuse(v,
			      "value contains the control character 0x%02x "
			      "(expected printable text)",
			      (unsigned char)*bad);
	return 0;
}

/* Stores the checked value in its field of s->dst. */
static int store(const struct section_keys *s, struct value_check *v)
{
	char *field = (char *)s->dst + v->k->offset;

	if (v->k->number) {
		*(unsigned *)field = (unsigned)v->number;
		return 0;
	}
	if (v->text == NULL && (v->text = strdup(v->value)) == NULL)
		return XO_ERR_NOMEM;
	*(char **)field = v->text;
	v->text = NULL; /* transferred */
	return 0;
}

/*
 * Checks value for the key called name of section s and, when it is good,
 * stores it.  As inih's handler: 1 when stored, 0 after recording the
 * error in x.
 */
static int set_key(struct parse_ctx *x, const struct section_keys *s,
		   const char *name, const char *value)
{
	struct value_check v;
	char list[512];
	size_t i;
	int r = XO_ERR_INTERNAL;

	memset(&v, 0, sizeof(v));
	if ((r = find_key(s, name, &v)) != 0)
		goto out;
	i = (size_t)(v.k - s->keys);
	v.value = value;
	v.expect = expected(v.k, list, sizeof(list));
	if ((r = check_set_once(x, s->at[i], &v)) != 0 ||
	    (r = check_given(&v)) != 0)
		goto out;
	config_escape(v.shown, sizeof(v.shown), value, 64);
	if ((v.k->check != NULL && (r = v.k->check(&v)) != 0) ||
	    (r = store(s, &v)) != 0)
		goto out;
	s->at[i] = x->line;
	r = 0;
out:
	if (r == XO_ERR_NOMEM)
		x->r = XO_ERR_NOMEM;
	else if (r != 0)
		fail(x, x->line, s->label, name, "%s", v.why);
	free(v.text);
	return r == 0;
}

static int agent_key(struct parse_ctx *x, const char *name, const char *value)
{
	const struct section_keys s = {agent_keys, A_COUNT, x->cfg,
				       x->agent_key_line, "[agent]"};

	return set_key(x, &s, name, value);
}

static int account_key(struct parse_ctx *x, const char *name, const char *value)
{
	size_t i = x->cfg->n_accounts - 1;
	char label[96];
	const struct section_keys s = {
	    account_keys, K_COUNT, &x->cfg->accounts[i], x->lines[i].at,
	    account_label(&x->cfg->accounts[i], label, sizeof(label))};

	return set_key(x, &s, name, value);
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

/* One account being completed after its section was read. */
struct completion {
	struct parse_ctx *x;
	struct agent_account_cfg *a;
	const struct key_lines *kl;
	const struct agent_preset *p;
	char label[96];
	int explicit_flow;    /* the section set flow */
	enum agent_flow flow; /* as set; device until a default is chosen */
	int flow_line;	      /* of flow, else of the section header */
};

/* The preset of the account's provider, generic when none is set. */
static int find_preset(struct completion *c)
{
	if (c->a->provider == NULL &&
	    (c->a->provider = strdup("generic")) == NULL)
		return XO_ERR_NOMEM;
	c->p = agent_preset_find(c->a->provider);
	if (c->p == NULL) /* checked when read; a bug if it happens */
		return XO_ERR_INTERNAL;
	return 0;
}

/* Only the Microsoft identity platform has tenants. */
static int check_tenant_allowed(struct completion *c)
{
	if (c->a->tenant == NULL || agent_preset_is_microsoft(c->p))
		return 0;
	return fail(c->x, c->kl->at[K_TENANT], c->label, "tenant",
		    "only the microsoft providers take a tenant, and this "
		    "account's provider is %s (drop the key, or set provider "
		    "= microsoft)",
		    c->a->provider);
}

/* The client identity: a client id, and at most one way to its secret. */
static int check_client(struct completion *c)
{
	const struct agent_account_cfg *a = c->a;
	int second;

	if (a->client_id == NULL)
		return fail(c->x, a->line, c->label, "client_id",
			    "missing (expected %s)",
			    account_keys[K_CLIENT_ID].expect);
	if (a->client_secret == NULL || a->client_secret_cmd == NULL)
		return 0;
	/* Named at the later of the two, where the conflict shows. */
	second = c->kl->at[K_CLIENT_SECRET] > c->kl->at[K_CLIENT_SECRET_CMD]
		     ? K_CLIENT_SECRET
		     : K_CLIENT_SECRET_CMD;
	return fail(c->x, c->kl->at[second], c->label,
		    account_keys[second].name,
		    "client_secret and client_secret_cmd are both set (keep "
		    "one: client_secret_cmd keeps the secret out of this "
		    "file)");
}

/* A flow the section sets must be one its provider does not refuse. */
static int check_flow_allowed(struct completion *c)
{
	const char *refused;

	if (!c->explicit_flow)
		return 0;
	if (agent_flow_parse(c->a->flow, &c->flow) != 0)
		return XO_ERR_INTERNAL; /* checked when read */
	if ((refused = c->p->refused[c->flow]) == NULL)
		return 0;
	return fail(c->x, c->flow_line, c->label, "flow", "%s", refused);
}

/*
 * Fills what the section left out from the preset: the default tenant, the
 * endpoints (with the tenant in them), the scopes and the paste redirect.
 * The app-only scopes go with client_credentials set in the section: a
 * preset's default flow is always a delegated one.
 */
static int fill_from_preset(struct completion *c)
{
	struct agent_account_cfg *a = c->a;
	const struct agent_preset *p = c->p;
	const char *scopes =
	    c->explicit_flow && c->flow == AGENT_FLOW_CLIENT_CREDENTIALS
		? p->app_scopes
		: p->scopes;
	int r;

	if (agent_preset_is_microsoft(p) && a->tenant == NULL &&
	    (a->tenant = strdup(p->default_tenant)) == NULL)
		return XO_ERR_NOMEM;
	if ((r = dup_into(&a->authorization_endpoint, p->authorization_endpoint,
			  a->tenant)) != 0 ||
	    (r = dup_into(&a->token_endpoint, p->token_endpoint, a->tenant)) !=
		0 ||
	    (r = dup_into(&a->device_authorization_endpoint,
			  p->device_authorization_endpoint, a->tenant)) != 0 ||
	    (r = dup_into(&a->scopes, scopes, NULL)) != 0 ||
	    (r = dup_into(&a->redirect_uri, p->redirect_uri, NULL)) != 0)
		return r;
	return 0;
}

/*
 * Sending: the transport (smtp unless set) has where it goes.  A preset
 * fills the SMTP host and its provider's API in; an app-only account's
 * Graph token is the application permission's (.default).
 */
static int fill_send(struct completion *c)
{
	struct agent_account_cfg *a = c->a;
	const struct agent_preset *p = c->p;
	int app = c->explicit_flow && c->flow == AGENT_FLOW_CLIENT_CREDENTIALS;
	int explicit_send = a->send != NULL;
	const char *need = NULL;
	int r;

	if ((r = dup_into(&a->send, "smtp", NULL)) != 0 ||
	    (r = dup_into(&a->smtp, p->smtp, NULL)) != 0 ||
	    (r = dup_into(&a->graph_endpoint, p->graph_endpoint, NULL)) != 0 ||
	    (r = dup_into(&a->graph_scope,
			  app ? p->app_graph_scope : p->graph_scope, NULL)) !=
		0 ||
	    (r = dup_into(&a->gmail_endpoint, p->gmail_endpoint, NULL)) != 0)
		return r;
	if (!explicit_send)
		return 0;
	if (strcmp(a->send, "graph") == 0 || strcmp(a->send, "auto") == 0) {
		if (a->graph_endpoint == NULL)
			need = "graph_endpoint (Microsoft Graph, which the "
			       "microsoft providers fill in)";
	} else if (strcmp(a->send, "gmail") == 0 && a->gmail_endpoint == NULL) {
		need = "gmail_endpoint (the Gmail API, which provider = "
		       "google fills in)";
	}
	if (need == NULL && strcmp(a->send, "gmail") != 0 &&
	    strcmp(a->send, "graph") != 0 && a->smtp == NULL)
		need = "smtp = HOST[:PORT], the SMTP submission server";
	if (need == NULL)
		return 0;
	return fail(c->x, c->kl->at[K_SEND], c->label, "send",
		    "send = %s needs %s", a->send, need);
}

/* The token endpoint is set, or found later by discovery from issuer. */
static int check_token_endpoint(struct completion *c)
{
	struct agent_account_cfg *a = c->a;

	if (a->token_endpoint == NULL && a->issuer == NULL)
		return fail(c->x, a->line, c->label, "token_endpoint",
			    "neither token_endpoint nor issuer is set "
			    "(expected issuer for discovery, or the "
			    "endpoints; or a provider such as microsoft or "
			    "google, which fills them in)");
	a->needs_discovery = a->issuer != NULL && a->token_endpoint == NULL;
	return 0;
}

/*
 * The flow when the section sets none: the preset's, but browser where no
 * device endpoint can be known.  A default must be a flow that can start;
 * tokens may also come in by `xoauth import`, so no check follows.
 */
static int choose_default_flow(struct completion *c)
{
	struct agent_account_cfg *a = c->a;
	enum agent_flow flow = c->p->default_flow;

	if (flow == AGENT_FLOW_DEVICE &&
	    a->device_authorization_endpoint == NULL && !a->needs_discovery)
		flow = AGENT_FLOW_BROWSER;
	if ((a->flow = strdup(agent_flow_name(flow))) == NULL)
		return XO_ERR_NOMEM;
	return 0;
}

/* Why the device flow cannot start, or NULL: it needs its endpoint,
   set or to be discovered. */
static const char *device_flow_lacks(const struct agent_account_cfg *a)
{
	if (a->device_authorization_endpoint != NULL || a->needs_discovery)
		return NULL;
	return "flow 'device' needs device_authorization_endpoint (this "
	       "provider has none known: use browser or paste)";
}

/* Why the browser or paste flow cannot start, or NULL: both need the
   authorization endpoint, set or to be discovered; paste also the
   redirect URI registered for the app, where the browser lands with the
   code the user pastes back. */
static const char *authorization_flow_lacks(const struct agent_account_cfg *a,
					    enum agent_flow flow)
{
	if (a->authorization_endpoint == NULL && !a->needs_discovery)
		return "this flow needs authorization_endpoint (or issuer, "
		       "for discovery)";
	if (flow == AGENT_FLOW_PASTE && a->redirect_uri == NULL)
		return "flow 'paste' needs redirect_uri, the redirect URI "
		       "registered for your app";
	return NULL;
}

/* Why client_credentials cannot start, or NULL: it needs a secret, and at
   Microsoft a tenant of the account's own. */
static const char *client_credentials_lacks(const struct completion *c)
{
	if (c->a->client_secret == NULL && c->a->client_secret_cmd == NULL)
		return "flow 'client_credentials' needs client_secret_cmd (or "
		       "client_secret)";
	if (agent_preset_is_microsoft(c->p) &&
	    config_is_shared_tenant(c->a->tenant))
		return "flow 'client_credentials' needs your own tenant (its "
		       "id or domain) in `tenant`: Microsoft refuses app-only "
		       "tokens on common, organizations and consumers "
		       "(AADSTS9001023)";
	return NULL;
}

/* The flow the section sets has what it needs from the other keys. */
static int check_flow_needs(struct completion *c)
{
	const char *why = NULL;

	switch (c->flow) {
	case AGENT_FLOW_DEVICE:
		why = device_flow_lacks(c->a);
		break;
	case AGENT_FLOW_BROWSER:
	case AGENT_FLOW_PASTE:
		why = authorization_flow_lacks(c->a, c->flow);
		break;
	case AGENT_FLOW_CLIENT_CREDENTIALS:
		why = client_credentials_lacks(c);
		/* No user signs in, so no ID token can tell the address;
		   mail programs need it as the user name. */
		if (why == NULL && c->a->email == NULL)
			return fail(c->x, c->flow_line, c->label, "email",
				    "missing: flow 'client_credentials' needs "
				    "the address of the mailbox to send as "
				    "(expected %s)",
				    account_keys[K_EMAIL].expect);
		break;
	case AGENT_FLOW_COUNT:
		return XO_ERR_INTERNAL;
	}
	if (why == NULL)
		return 0;
	return fail(c->x, c->flow_line, c->label, "flow", "%s", why);
}

/*
 * Completes one account after its section was read: its preset, the checks
 * between its keys, what the preset fills in, and its flow.  The order
 * matters: the scopes the preset fills in depend on the flow set, the
 * checks of the token endpoint and of the flow on what the preset filled
 * in, and the first check to fail is the one reported.  0, XO_ERR_CONFIG
 * (recorded in x), XO_ERR_NOMEM, or another code for a bug.
 */
static int resolve_account(struct parse_ctx *x, struct agent_account_cfg *a,
			   const struct key_lines *kl)
{
	struct completion c;
	int r;

	memset(&c, 0, sizeof(c));
	c.x = x;
	c.a = a;
	c.kl = kl;
	c.explicit_flow = a->flow != NULL;
	c.flow = AGENT_FLOW_DEVICE;
	c.flow_line = c.explicit_flow ? kl->at[K_FLOW] : a->line;
	account_label(a, c.label, sizeof(c.label));
	if ((r = find_preset(&c)) != 0 || (r = check_tenant_allowed(&c)) != 0 ||
	    (r = check_client(&c)) != 0 || (r = check_flow_allowed(&c)) != 0 ||
	    (r = fill_from_preset(&c)) != 0 || (r = fill_send(&c)) != 0 ||
	    (r = check_token_endpoint(&c)) != 0)
		goto out;
	r = c.explicit_flow ? check_flow_needs(&c) : choose_default_flow(&c);
out:
	return r;
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
	free(a->send);
	free(a->smtp);
	free(a->graph_endpoint);
	free(a->graph_scope);
	free(a->gmail_endpoint);
	free(a->gmail_scope);
	free(a->local_recipient);
	memset(a, 0, sizeof(*a));
}

void agent_config_forget_secrets(struct agent_config *c)
{
	size_t i;

	for (i = 0; c != NULL && i < c->n_accounts; i++) {
		struct agent_account_cfg *a = &c->accounts[i];

		if (a->client_secret == NULL)
			continue;
		sodium_memzero(a->client_secret, strlen(a->client_secret));
		free(a->client_secret);
		a->client_secret = NULL;
	}
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
	free(c->restricted_socket);
	free(c->vault_key_file);
	free(c);
}

struct agent_config *config_new(void)
{
	struct agent_config *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->wait_default_ms = 10000;
	c->max_connections = 0; /* as many as the open-file limit allows */
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
	/* inih leaves each line, client_secret included, in its dead
	   stack frame (ini.h: INI_USE_STACK). */
	agent_wipe_dead_stack();
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
	       a->needs_discovery == b->needs_discovery &&
	       str_equal(a->send, b->send) && str_equal(a->smtp, b->smtp) &&
	       str_equal(a->graph_endpoint, b->graph_endpoint) &&
	       str_equal(a->graph_scope, b->graph_scope) &&
	       str_equal(a->gmail_endpoint, b->gmail_endpoint) &&
	       str_equal(a->gmail_scope, b->gmail_scope);
}

const char *agent_account_send_scope(const struct agent_account_cfg *a)
{
	if (a->send == NULL)
		return NULL;
	if (strcmp(a->send, "graph") == 0 || strcmp(a->send, "auto") == 0)
		return a->graph_scope;
	if (strcmp(a->send, "gmail") == 0)
		return a->gmail_scope;
	return NULL;
}

/* 1 when the space-separated list has every scope of want. */
static int scopes_have(const char *list, const char *want)
{
	const char *w = want, *l;
	size_t wl, ll;

	while (*w != '\0') {
		wl = strcspn(w, " ");
		for (l = list; *l != '\0'; l += ll + (l[ll] == ' ')) {
			ll = strcspn(l, " ");
			if (ll == wl && memcmp(l, w, wl) == 0)
				break;
		}
		if (*l == '\0')
			return 0;
		w += wl + (w[wl] == ' ');
	}
	return 1;
}

int agent_account_login_scopes(const struct agent_account_cfg *a, char **out)
{
	const char *extra = agent_account_send_scope(a);
	size_t n;

	*out = NULL;
	if (a->scopes == NULL && extra == NULL)
		return 0;
	if (a->scopes == NULL || extra == NULL ||
	    scopes_have(a->scopes, extra)) {
		*out = strdup(a->scopes != NULL ? a->scopes : extra);
		return *out != NULL ? 0 : XO_ERR_NOMEM;
	}
	n = strlen(a->scopes) + 1 + strlen(extra) + 1;
	if ((*out = malloc(n)) == NULL)
		return XO_ERR_NOMEM;
	snprintf(*out, n, "%s %s", a->scopes, extra);
	return 0;
}
