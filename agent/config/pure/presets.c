/*
 * presets.c: the provider presets.  Every fact here comes from
 * ../shared/reference/providers.md (section numbers below); where that page
 * marks a fact secondary or UNVERIFIED, so does the comment here.  A user
 * can override any value with an explicit key, which is the escape hatch
 * when a provider changes something.
 */
#include <stdlib.h>
#include <string.h>

#include <xoauth/xo_errors.h>

#include "config/pure/presets.h"

#define TENANT "{tenant}"

/* Microsoft refuses no delegated flow outright: whether device, browser or
   paste works depends on the app registration (providers.md 2.3, 2.4). */
#define MS_AUTHORITY(host) "https://" host "/" TENANT "/oauth2/v2.0/"

/* A Microsoft cloud's three endpoints, all under its authority. */
#define MS_ENDPOINTS(host)                                                     \
	.authorization_endpoint = MS_AUTHORITY(host) "authorize",              \
	.token_endpoint = MS_AUTHORITY(host) "token",                          \
	.device_authorization_endpoint = MS_AUTHORITY(host) "devicecode"

/* Yahoo's OAuth platform, which AOL runs under its own host. */
#define YAHOO_ENDPOINTS(host)                                                  \
	.authorization_endpoint = "https://" host "/oauth2/request_auth",      \
	.token_endpoint = "https://" host "/oauth2/get_token"

/*
 * The Exchange Online scopes (providers.md 2.2): IMAP, POP and SMTP share
 * one resource, so one token serves all three.  The resource scopes come
 * first because Microsoft issues the token for the resource of the first
 * scope.  offline_access is what yields a refresh token; openid and email
 * are not a resource (they do not trigger AADSTS700022) and make the reply
 * carry an id_token, from which the agent learns the address when the
 * config does not give `email`.
 */
#define MS_SCOPES(res)                                                         \
	res "/IMAP.AccessAsUser.All " res "/POP.AccessAsUser.All " res         \
	    "/SMTP.Send offline_access openid email"

/*
 * What every Microsoft cloud shares but its login host and the resources
 * its scopes are on.  offline_access alone yields a refresh token there;
 * prompt=consent would only show the consent page at every login.
 */
#define MS_CLOUD(host, res, app_res)                                           \
	MS_ENDPOINTS(host), .scopes = MS_SCOPES(res),                          \
			    .app_scopes = app_res "/.default",                 \
			    .default_tenant = "common", .authz_extra = "",     \
			    .default_flow = AGENT_FLOW_DEVICE

/*
 * A Microsoft cloud's Graph, for `send = graph` and `auto`: sendMail with
 * the message as MIME needs the delegated Mail.Send permission (app-only:
 * the application permission, asked for as .default).  The token of a
 * refresh that names a Graph scope is for Graph: Microsoft issues tokens
 * for the resource of the first scope (providers.md 2.2).
 */
#define MS_GRAPH(graph)                                                        \
	.graph_endpoint = graph "/v1.0", .graph_scope = graph "/Mail.Send",    \
	.app_graph_scope = graph "/.default"

static const char only_microsoft_app_only[] =
    "only Microsoft 365 is known to offer app-only (client_credentials) "
    "access to mail; use browser or paste";

static const struct agent_preset presets[] = {
    {
	/* Microsoft 365 and Outlook.com (providers.md 2.1-2.5).  The
	   tenant is common, organizations, consumers, a tenant id or a
	   domain.  Device is the default: it needs no redirect URI,
	   which suits servers and SSH sessions.  app_scopes is the one
	   documented for SMTP.SendAsApp (2.5).  The paste redirect is
	   the one Microsoft gives for embedded browsers (2.4), which
	   mutt_oauth2.py's paste flow also uses: the page stays blank
	   and its address holds the code (peers-mail-tools.md). */
	.name = "microsoft",
	MS_CLOUD("login.microsoftonline.com", "https://outlook.office.com",
		 "https://outlook.office365.com"),
	/* SMTP submission for work accounts and Outlook.com alike
	   (providers.md 1.3). */
	.smtp = "smtp.office365.com:587",
	MS_GRAPH("https://graph.microsoft.com"),
	.redirect_uri = "https://login.microsoftonline.com/common/oauth2/"
			"nativeclient",
    },
    {
	/* US Government cloud.  Secondary source only (sasl-xoauth2's
	   README, providers.md 2.1): login.microsoftonline.us with
	   scopes on outlook.office365.us; not read on Microsoft's
	   site.  No paste redirect: which one such apps register is
	   not known, so paste needs an explicit redirect_uri. */
	.name = "microsoft-us-gov",
	MS_CLOUD("login.microsoftonline.us", "https://outlook.office365.us",
		 "https://outlook.office365.us"),
	/* UNVERIFIED, as the rest of this cloud: the SMTP host and Graph
	   endpoint of the US Government cloud (GCC High) as third-party
	   guides give them. */
	.smtp = "smtp.office365.us:587",
	MS_GRAPH("https://graph.microsoft.us"),
    },
    {
	/* China (21Vianet).  Secondary, as above: the authority is
	   login.partner.microsoftonline.cn and the scopes are on
	   partner.outlook.cn.  email-oauth2-proxy notes that the
	   .default scope may be needed there (providers.md 2.2): set
	   `scopes` if the per-protocol ones are refused. */
	.name = "microsoft-china",
	MS_CLOUD("login.partner.microsoftonline.cn",
		 "https://partner.outlook.cn", "https://partner.outlook.cn"),
	/* UNVERIFIED likewise: 21Vianet's SMTP host and Graph. */
	.smtp = "smtp.partner.outlook.cn:587",
	MS_GRAPH("https://microsoftgraph.chinacloudapi.cn"),
    },
    {
	/* Gmail (providers.md 3).  The device endpoint exists, but
	   the device flow allows only a short list of scopes and the
	   mail scope is not on it; that list comes from third-party
	   transcriptions, Google's own list was not read.  openid and
	   email make Google return an id_token with the address.  The
	   paste redirect is loopback, which Google keeps for desktop
	   clients: nothing listens there, so the browser shows an
	   error page whose address holds the code to paste back. */
	.name = "google",
	.authorization_endpoint =
	    "https://accounts.google.com/o/oauth2/v2/auth",
	.token_endpoint = "https://oauth2.googleapis.com/token",
	.device_authorization_endpoint =
	    "https://oauth2.googleapis.com/device/code",
	.scopes = "https://mail.google.com/ openid email",
	.redirect_uri = "http://127.0.0.1",
	/* A refresh token comes only with access_type=offline, and again
	   after the first grant only with prompt=consent (providers.md 3,
	   secondary). */
	.authz_extra = "access_type=offline&prompt=consent",
	.default_flow = AGENT_FLOW_BROWSER,
	/* SMTP submission with STARTTLS (465 takes TLS from the start).
	   users.messages.send takes https://mail.google.com/ among its
	   scopes, so the account's own token serves the Gmail API. */
	.smtp = "smtp.gmail.com:587",
	.gmail_endpoint = "https://gmail.googleapis.com/gmail/v1",
	.refused =
	    {
		[AGENT_FLOW_DEVICE] = "Google refuses the device flow for "
				      "the Gmail scope https://mail.google.com/"
				      " (its device flow allows only a few "
				      "scopes such as email and profile): use "
				      "flow = browser, or flow = paste where "
				      "no browser runs",
		[AGENT_FLOW_CLIENT_CREDENTIALS] =
		    "Google has no client_credentials grant "
		    "for mail (Workspace service accounts "
		    "use signed JWTs, which xoauth does not "
		    "support): use browser or paste",
	    },
    },
    {
	/* Yahoo (providers.md 4).  Endpoints and the mail-w scope are
	   from Thunderbird, K-9 and email-oauth2-proxy; the SASL
	   mechanism Yahoo accepts today is UNVERIFIED, and Yahoo is
	   reported not to register new clients for the mail scope.
	   No openid scope: set `email`. */
	.name = "yahoo",
	YAHOO_ENDPOINTS("api.login.yahoo.com"),
	.scopes = "mail-w",
	.default_flow = AGENT_FLOW_BROWSER,
	.smtp = "smtp.mail.yahoo.com:465",
	.refused = {[AGENT_FLOW_CLIENT_CREDENTIALS] = only_microsoft_app_only},
    },
    {
	/* AOL: Yahoo's platform under another host (providers.md 4);
	   the same caveats apply. */
	.name = "aol",
	YAHOO_ENDPOINTS("api.login.aol.com"),
	.scopes = "mail-w",
	.default_flow = AGENT_FLOW_BROWSER,
	.smtp = "smtp.aol.com:465",
	.refused = {[AGENT_FLOW_CLIENT_CREDENTIALS] = only_microsoft_app_only},
    },
    {
	/* Fastmail (providers.md 4): the token endpoint really is
	   /oauth/refresh.  Public clients with PKCE; the SASL
	   mechanism Fastmail accepts is UNVERIFIED. */
	.name = "fastmail",
	.authorization_endpoint = "https://api.fastmail.com/oauth/authorize",
	.token_endpoint = "https://api.fastmail.com/oauth/refresh",
	.scopes = "https://www.fastmail.com/dev/protocol-imap "
		  "https://www.fastmail.com/dev/protocol-pop "
		  "https://www.fastmail.com/dev/protocol-smtp",
	.default_flow = AGENT_FLOW_BROWSER,
	.smtp = "smtp.fastmail.com:465",
	.refused = {[AGENT_FLOW_CLIENT_CREDENTIALS] = only_microsoft_app_only},
    },
    {
	/* Yandex (providers.md 4).  UNVERIFIED: Yandex's help page
	   documents OAuth for IMAP/SMTP, but one Yandex support reply
	   said only app passwords work. */
	.name = "yandex",
	.authorization_endpoint = "https://oauth.yandex.com/authorize",
	.token_endpoint = "https://oauth.yandex.com/token",
	.scopes = "mail:imap_full mail:smtp",
	.default_flow = AGENT_FLOW_BROWSER,
	.smtp = "smtp.yandex.com:465",
	.refused = {[AGENT_FLOW_CLIENT_CREDENTIALS] = only_microsoft_app_only},
    },
    {
	/* Nothing filled in: explicit endpoints, or `issuer` for
	   discovery.  Device by default: parse.c falls back to
	   browser when no device endpoint can be known. */
	.name = "generic",
	.default_flow = AGENT_FLOW_DEVICE,
    },
};

static const char *const flow_names[AGENT_FLOW_COUNT] = {
    [AGENT_FLOW_DEVICE] = "device",
    [AGENT_FLOW_BROWSER] = "browser",
    [AGENT_FLOW_PASTE] = "paste",
    [AGENT_FLOW_CLIENT_CREDENTIALS] = "client_credentials",
};

const struct agent_preset *agent_preset_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}

const struct agent_preset *agent_preset_at(size_t i)
{
	if (i >= sizeof(presets) / sizeof(presets[0]))
		return NULL;
	return &presets[i];
}

int agent_preset_is_microsoft(const struct agent_preset *p)
{
	return p != NULL && p->default_tenant != NULL;
}

const char *agent_flow_name(enum agent_flow f)
{
	if ((unsigned)f >= AGENT_FLOW_COUNT)
		return NULL;
	return flow_names[f];
}

int agent_flow_parse(const char *s, enum agent_flow *out)
{
	unsigned i;

	for (i = 0; s != NULL && i < AGENT_FLOW_COUNT; i++) {
		if (strcmp(flow_names[i], s) == 0) {
			*out = (enum agent_flow)i;
			return 0;
		}
	}
	return XO_ERR_INVALID;
}

int agent_preset_expand(const char *tmpl, const char *tenant, char **out)
{
	const size_t tlen = strlen(TENANT);
	size_t n = 0, vlen = tenant != NULL ? strlen(tenant) : 0;
	const char *p, *q;
	char *s, *w;

	*out = NULL;
	/* Measure first, so that the copy below cannot overrun. */
	for (p = tmpl; (q = strstr(p, TENANT)) != NULL; p = q + tlen) {
		if (tenant == NULL)
			return XO_ERR_INVALID;
		n += (size_t)(q - p) + vlen;
	}
	n += strlen(p);
	if ((s = malloc(n + 1)) == NULL)
		return XO_ERR_NOMEM;
	w = s;
	for (p = tmpl; (q = strstr(p, TENANT)) != NULL; p = q + tlen) {
		memcpy(w, p, (size_t)(q - p));
		w += q - p;
		memcpy(w, tenant, vlen);
		w += vlen;
	}
	memcpy(w, p, strlen(p) + 1);
	*out = s;
	return 0;
}
