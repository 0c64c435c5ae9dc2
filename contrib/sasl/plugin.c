/*
 * plugin.c: a Cyrus SASL client plugin offering XOAUTH2 and OAUTHBEARER
 * with tokens from xoauth-agent (xoauth-sasl(7)).
 *
 * libsasl2 loads it from its plugin directory (Debian:
 * /usr/lib/<multiarch>/sasl2, or $SASL_PATH) into every program that
 * uses Cyrus SASL as a client: mbsync, Postfix's smtp(8), ...  So it
 * keeps to what such a program can bear: libxoauth (libc only) is linked
 * in statically with its names hidden, nothing is global but the table
 * libsasl2 reads, and the only output is through libsasl2's own error
 * string and log.
 *
 * The account is the SASL authentication name the application gives
 * (mbsync's User, the user name of Postfix's smtp_sasl_password_maps):
 * an account's config name or its e-mail address.  The agent builds the
 * initial response (PROTOCOL.md 4.3); the plugin only decodes it.  When
 * the server refuses the token with an error challenge, the plugin
 * answers it as the mechanism wants and asks the agent to refresh, so
 * that the application's next attempt goes out with a new token.
 */
#include <string.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include <xoauth/xo.h>

#include "exchange.h"

/* -fvisibility=hidden hides everything else, libxoauth included. */
#define SXO_EXPORT __attribute__((visibility("default")))

/* The longest OAUTHBEARER host= the agent takes (a DNS name). */
#define HOST_MAX 255

/* How much of a server's error challenge goes into the log. */
#define CHALLENGE_SHOWN 200

/* One connection's exchange. */
struct sxo_conn {
	enum sxo_mech mech;
	enum sxo_state state;
	char *account; /* the SASL authentication name */
	char *out;     /* the initial response: holds the token */
	unsigned out_len;
	unsigned out_size;
};

/* What the plugin needs of the application: the authentication name.
   Without this list libsasl2 would ask for a password as well. */
static const unsigned long required_prompts[] = {SASL_CB_AUTHNAME,
						 SASL_CB_LIST_END};

static const enum sxo_mech mechs[] = {SXO_MECH_OAUTHBEARER, SXO_MECH_XOAUTH2};

static void *str_dup(const sasl_utils_t *u, const char *s, size_t n)
{
	char *p = u->malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* Wipes and frees the initial response. */
static void drop_out(struct sxo_conn *t, const sasl_utils_t *u)
{
	if (t->out == NULL)
		return;
	explicit_bzero(t->out, t->out_size);
	u->free(t->out);
	t->out = NULL;
	t->out_len = t->out_size = 0;
}

static int mech_new(void *glob, sasl_client_params_t *params, void **ctx)
{
	const sasl_utils_t *u = params->utils;
	struct sxo_conn *t;

	if ((t = u->malloc(sizeof(*t))) == NULL) {
		u->seterror(u->conn, 0, "xoauth: out of memory");
		return SASL_NOMEM;
	}
	memset(t, 0, sizeof(*t));
	t->mech = *(const enum sxo_mech *)glob;
	t->state = SXO_STATE_START;
	*ctx = t;
	return SASL_OK;
}

static void mech_dispose(void *ctx, const sasl_utils_t *u)
{
	struct sxo_conn *t = ctx;

	if (t == NULL)
		return;
	drop_out(t, u);
	u->free(t->account);
	u->free(t);
}

/*
 * The authentication name: from the prompt the application filled in on
 * an earlier call, or from its callback; else a prompt is made for it
 * (SASL_INTERACT), when the application takes prompts.
 */
static int get_account(struct sxo_conn *t, sasl_client_params_t *params,
		       sasl_interact_t **prompt_need)
{
	const sasl_utils_t *u = params->utils;
	sasl_getsimple_t *simple = NULL;
	sasl_interact_t *p;
	const char *name = NULL;
	unsigned len = 0;
	void *cb_ctx = NULL;
	int r;

	if (prompt_need != NULL && *prompt_need != NULL) {
		for (p = *prompt_need; p->id != SASL_CB_LIST_END; p++)
			if (p->id == SASL_CB_AUTHNAME) {
				name = p->result;
				len = p->len;
			}
		if (name != NULL)
			t->account = str_dup(u, name, len ? len : strlen(name));
		u->free(*prompt_need);
		*prompt_need = NULL;
		goto got;
	}
	r = u->getcallback(u->conn, SASL_CB_AUTHNAME,
			   (sasl_callback_ft *)&simple, &cb_ctx);
	if (r == SASL_OK && simple != NULL) {
		if ((r = simple(cb_ctx, SASL_CB_AUTHNAME, &name, &len)) !=
		    SASL_OK)
			return r;
		if (name != NULL)
			t->account = str_dup(u, name, len ? len : strlen(name));
		goto got;
	}
	if (r == SASL_INTERACT && prompt_need != NULL) {
		if ((p = u->malloc(2 * sizeof(*p))) == NULL)
			return SASL_NOMEM;
		memset(p, 0, 2 * sizeof(*p));
		p[0].id = SASL_CB_AUTHNAME;
		p[0].challenge = "Authentication Name";
		p[0].prompt = "xoauth-agent account (name or e-mail address)";
		p[1].id = SASL_CB_LIST_END;
		*prompt_need = p;
		return SASL_INTERACT;
	}
got:
	if (name == NULL || name[0] == '\0') {
		u->seterror(u->conn, 0,
			    "xoauth: no user name: give the xoauth-agent "
			    "account's name or e-mail address as the user");
		return SASL_BADPARAM;
	}
	return t->account != NULL ? SASL_OK : SASL_NOMEM;
}

/* Reports a failure of libxoauth (r) through libsasl2's error string. */
static int agent_failure(const sasl_utils_t *u, const struct xo_client *c,
			 int r)
{
	const char *msg = c != NULL ? xo_client_message(c) : xo_strerror(r);

	switch (r) {
	case XO_ERR_NOMEM:
		u->seterror(u->conn, 0, "xoauth: out of memory");
		return SASL_NOMEM;
	case XO_ERR_NO_AGENT:
		u->seterror(u->conn, 0, "xoauth: no agent reachable: %s", msg);
		return SASL_UNAVAIL;
	case XO_ERR_NO_ACCOUNT:
		u->seterror(u->conn, 0, "xoauth: %s", msg);
		return SASL_NOUSER;
	default:
		u->seterror(u->conn, 0, "xoauth: %s", msg);
		return SASL_FAIL;
	}
}

/*
 * Gets the initial response from the agent into t->out, and names the
 * user for libsasl2 (the account's e-mail address, which the response
 * carries).
 */
static int fetch_response(struct sxo_conn *t, sasl_client_params_t *params,
			  sasl_out_params_t *oparams)
{
	const sasl_utils_t *u = params->utils;
	struct xo_token_opts o = {0};
	struct xo_token tok = {0};
	struct xo_client *c = NULL;
	char host[HOST_MAX + 1];
	const char *user;
	size_t n;
	int r, rc = SASL_FAIL;

	if (t->mech == SXO_MECH_OAUTHBEARER) {
		o.form = XO_FORM_OAUTHBEARER;
		/* RFC 7628 3.1: host and port are where the client
		   connected, as far as the application told libsasl2. */
		if (params->serverFQDN != NULL && params->slen > 0 &&
		    params->slen <= HOST_MAX) {
			memcpy(host, params->serverFQDN, params->slen);
			host[params->slen] = '\0';
			o.host = host;
		}
		o.port = sxo_server_port(params->ipremoteport);
	} else {
		o.form = XO_FORM_XOAUTH2;
	}
	if ((r = xo_client_open(NULL, &c)) != 0 ||
	    (r = xo_token(c, t->account, &o, &tok)) != 0) {
		rc = agent_failure(u, c, r);
		goto out;
	}
	n = strlen(tok.token);
	drop_out(t, u);
	if (n >= ~0u || (t->out = u->malloc(n + 1)) == NULL) {
		rc = SASL_NOMEM;
		goto out;
	}
	t->out_size = (unsigned)n + 1;
	if (u->decode64(tok.token, (unsigned)n, t->out, t->out_size,
			&t->out_len) != SASL_OK) {
		u->seterror(u->conn, 0,
			    "xoauth: the agent's response is not base64");
		drop_out(t, u);
		goto out;
	}
	user =
	    tok.email != NULL && tok.email[0] != '\0' ? tok.email : t->account;
	if ((rc = params->canon_user(u->conn, user, 0,
				     SASL_CU_AUTHID | SASL_CU_AUTHZID,
				     oparams)) != SASL_OK) {
		drop_out(t, u);
		goto out;
	}
	rc = SASL_OK;
out:
	xo_token_free(&tok);
	xo_client_free(c);
	return rc;
}

/* A server's error challenge as it may go into a log: printable ASCII
   only, cut short. */
static void printable(const char *in, unsigned len, char *out, size_t n)
{
	size_t i;

	for (i = 0; i < len && i + 1 < n; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

/*
 * The server refused the token: asks the agent for a new one now, so that
 * the application's next attempt gets it, and logs what came of it.  The
 * application sees only the server's refusal; the log (Postfix's maillog,
 * through its SASL log callback) says why and what next.
 */
static void renew(const struct sxo_conn *t, const sasl_utils_t *u,
		  const char *challenge, unsigned len)
{
	struct xo_client *c = NULL;
	char said[CHALLENGE_SHOWN + 1];
	int r;

	printable(challenge, len, said, sizeof(said));
	if ((r = xo_client_open(NULL, &c)) == 0 &&
	    (r = xo_refresh(c, t->account, 0)) == 0)
		u->log(u->conn, SASL_LOG_WARN,
		       "xoauth: the server refused the token of %s (%s); the "
		       "agent has refreshed it: the next attempt sends the "
		       "new one",
		       t->account, said);
	else
		u->log(u->conn, SASL_LOG_WARN,
		       "xoauth: the server refused the token of %s (%s), and "
		       "the agent could not refresh it: %s",
		       t->account, said,
		       c != NULL ? xo_client_message(c) : xo_strerror(r));
	xo_client_free(c);
}

static int mech_step(void *ctx, sasl_client_params_t *params,
		     const char *serverin, unsigned serverinlen,
		     sasl_interact_t **prompt_need, const char **clientout,
		     unsigned *clientoutlen, sasl_out_params_t *oparams)
{
	const sasl_utils_t *u = params->utils;
	struct sxo_conn *t = ctx;
	enum sxo_state next = t->state;
	int r;

	*clientout = NULL;
	*clientoutlen = 0;
	if (serverin == NULL)
		serverinlen = 0;
	switch (sxo_exchange_next(&next, serverinlen)) {
	case SXO_SEND_TOKEN:
		if (t->account == NULL &&
		    (r = get_account(t, params, prompt_need)) != SASL_OK)
			return r;
		if ((r = fetch_response(t, params, oparams)) != SASL_OK)
			return r;
		*clientout = t->out;
		*clientoutlen = t->out_len;
		t->state = next;
		return SASL_CONTINUE;
	case SXO_ANSWER_REFUSAL:
		drop_out(t, u);
		renew(t, u, serverin, serverinlen);
		sxo_refusal_answer(t->mech, clientout, clientoutlen);
		t->state = next;
		return SASL_CONTINUE;
	case SXO_FINISH:
		drop_out(t, u);
		oparams->doneflag = 1;
		oparams->mech_ssf = 0;
		oparams->maxoutbuf = 0;
		oparams->encode_context = NULL;
		oparams->encode = NULL;
		oparams->decode_context = NULL;
		oparams->decode = NULL;
		oparams->param_version = 0;
		return SASL_OK;
	case SXO_OUT_OF_TURN:
		break;
	}
	u->seterror(u->conn, 0,
		    "xoauth: the server went on after refusing the token");
	return SASL_BADPROT;
}

/*
 * A bearer token is no password: nobody guesses it from a dictionary
 * (SASL_SEC_NODICTIONARY), but whoever sees it may use it until it
 * expires: the mechanisms are plaintext ones and want TLS under them, so
 * they claim no SASL_SEC_NOPLAINTEXT (an application that asks for
 * "noplaintext", as Postfix does by default, must drop that).  libsasl2
 * keeps pointers into this table, and of two equally strong mechanisms
 * prefers the one listed first: OAUTHBEARER, the standard one, so that a
 * server offering both gets it.
 */
static sasl_client_plug_t plugins[] = {
    {
	.mech_name = "OAUTHBEARER",
	.max_ssf = 0,
	.security_flags = SASL_SEC_NOANONYMOUS | SASL_SEC_NODICTIONARY,
	.features = SASL_FEAT_WANT_CLIENT_FIRST,
	.required_prompts = required_prompts,
	.glob_context = (void *)&mechs[0],
	.mech_new = mech_new,
	.mech_step = mech_step,
	.mech_dispose = mech_dispose,
    },
    {
	.mech_name = "XOAUTH2",
	.max_ssf = 0,
	.security_flags = SASL_SEC_NOANONYMOUS | SASL_SEC_NODICTIONARY,
	.features = SASL_FEAT_WANT_CLIENT_FIRST,
	.required_prompts = required_prompts,
	.glob_context = (void *)&mechs[1],
	.mech_new = mech_new,
	.mech_step = mech_step,
	.mech_dispose = mech_dispose,
    },
};

SXO_EXPORT int sasl_client_plug_init(const sasl_utils_t *utils, int maxversion,
				     int *out_version,
				     sasl_client_plug_t **pluglist,
				     int *plugcount);

SXO_EXPORT int sasl_client_plug_init(const sasl_utils_t *utils, int maxversion,
				     int *out_version,
				     sasl_client_plug_t **pluglist,
				     int *plugcount)
{
	if (maxversion < SASL_CLIENT_PLUG_VERSION) {
		utils->seterror(utils->conn, 0,
				"xoauth: libsasl2 is too old (client plugin "
				"version %d, this plugin needs %d)",
				maxversion, SASL_CLIENT_PLUG_VERSION);
		return SASL_BADVERS;
	}
	*out_version = SASL_CLIENT_PLUG_VERSION;
	*pluglist = plugins;
	*plugcount = (int)(sizeof(plugins) / sizeof(plugins[0]));
	return SASL_OK;
}
