/*
 * checks.c: what can be told about an account without the
 * network: its client type, its scopes against the provider and the mail
 * hosts, its state and its last error, each with cause and remedy.
 * Facts come from ../shared/reference/providers.md (section numbers in
 * the comments).  Pure: no I/O, no globals.
 */
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xoauth/xo_errors.h>

#include "doctor/pure/doctor.h"
#include "config/pure/presets.h"
#include "oauth/pure/reply.h"

#define EXCHANGE_SCOPES                                                        \
	"https://outlook.office.com/SMTP.Send "                                \
	"https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
#define GMAIL_SCOPE "https://mail.google.com/"

/* ---- hosts and scopes ---- */

/* 1 when host is domain or ends in "." domain, without case. */
static int in_domain(const char *host, const char *domain)
{
	size_t hl = strlen(host), dl = strlen(domain);

	if (hl == dl)
		return strcasecmp(host, domain) == 0;
	return hl > dl && host[hl - dl - 1] == '.' &&
	       strcasecmp(host + hl - dl, domain) == 0;
}

enum doctor_host_kind doctor_host_kind(const char *host)
{
	/* providers.md 1.3 and 2.1: Microsoft's mail hosts, also the
	   national clouds' (secondary); Gmail's. */
	static const char *const microsoft[] = {
	    "office365.com", "outlook.office.com", "outlook.com",
	    "office365.us",  "partner.outlook.cn",
	};
	static const char *const google[] = {"gmail.com", "googlemail.com"};
	size_t i;

	if (host == NULL || host[0] == '\0')
		return DOCTOR_HOST_NONE;
	for (i = 0; i < sizeof(microsoft) / sizeof(microsoft[0]); i++)
		if (in_domain(host, microsoft[i]))
			return DOCTOR_HOST_MICROSOFT;
	for (i = 0; i < sizeof(google) / sizeof(google[0]); i++)
		if (in_domain(host, google[i]))
			return DOCTOR_HOST_GOOGLE;
	return DOCTOR_HOST_OTHER;
}

static int contains(const char *s, const char *needle)
{
	return s != NULL && strstr(s, needle) != NULL;
}

int doctor_is_microsoft(const struct doctor_account *a)
{
	return agent_preset_is_microsoft(agent_preset_find(a->provider)) ||
	       contains(a->token_endpoint, "login.microsoftonline.") ||
	       contains(a->token_endpoint, "login.partner.microsoftonline.");
}

int doctor_is_google(const struct doctor_account *a)
{
	return strcmp(a->provider, "google") == 0 ||
	       contains(a->token_endpoint, "oauth2.googleapis.com");
}

static int flow_is(const struct doctor_account *a, const char *flow)
{
	return a->flow != NULL && strcmp(a->flow, flow) == 0;
}

/* Calls f on every space-separated scope; stops when f returns 1. */
static int each_scope(const char *scopes,
		      int (*f)(const char *s, size_t n, void *arg), void *arg)
{
	const char *p = scopes != NULL ? scopes : "";
	size_t n;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		n = strcspn(p, " \t");
		if (f(p, n, arg))
			return 1;
		p += n;
	}
}

static int eq_n(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static int prefix_n(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && strncasecmp(s, lit, l) == 0;
}

static int suffix_n(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && strncasecmp(s + n - l, lit, l) == 0;
}

/* OpenID Connect and refresh scopes: they name no resource. */
static int is_oidc(const char *s, size_t n)
{
	return eq_n(s, n, "offline_access") || eq_n(s, n, "openid") ||
	       eq_n(s, n, "email") || eq_n(s, n, "profile");
}

/* Exchange Online resources (providers.md 2.1, 2.2, 2.5). */
static int is_exchange(const char *s, size_t n)
{
	return prefix_n(s, n, "https://outlook.office.com/") ||
	       prefix_n(s, n, "https://outlook.office365.com/") ||
	       prefix_n(s, n, "https://outlook.office365.us/") ||
	       prefix_n(s, n, "https://partner.outlook.cn/") ||
	       prefix_n(s, n, "https://ps.outlook.com/");
}

/* Microsoft reads a scope without a resource as one of Microsoft Graph's
   ("SMTP.Send" means https://graph.microsoft.com/SMTP.Send). */
static int is_graph(const char *s, size_t n)
{
	if (prefix_n(s, n, "https://graph.microsoft.") ||
	    prefix_n(s, n, "https://microsoftgraph.") ||
	    prefix_n(s, n, "https://graph.microsoft.us/"))
		return 1;
	return !is_oidc(s, n) && memchr(s, ':', n) == NULL &&
	       memchr(s, '/', n) == NULL;
}

struct scope_scan {
	const char *word; /* an exact scope, or a suffix to find */
	int suffix;
	int exchange_only; /* the suffix must be on an Exchange scope */
};

static int scan_one(const char *s, size_t n, void *arg)
{
	const struct scope_scan *q = arg;

	if (q->suffix)
		return suffix_n(s, n, q->word) &&
		       (!q->exchange_only || is_exchange(s, n));
	return eq_n(s, n, q->word);
}

static int has_scope(const char *scopes, const char *word)
{
	struct scope_scan q = {word, 0, 0};

	return each_scope(scopes, scan_one, &q);
}

static int has_exchange_scope(const char *scopes, const char *suffix)
{
	struct scope_scan q = {suffix, 1, 1};

	return each_scope(scopes, scan_one, &q);
}

struct scope_list {
	char text[300];
	size_t count;
	int (*pred)(const char *s, size_t n);
};

static int collect(const char *s, size_t n, void *arg)
{
	struct scope_list *l = arg;
	size_t len = strlen(l->text);

	if (!l->pred(s, n))
		return 0;
	if (l->count++ < 3)
		snprintf(l->text + len, sizeof(l->text) - len, "%s%.*s",
			 len > 0 ? ", " : "", (int)(n > 120 ? 120 : n), s);
	return 0;
}

static int not_oidc(const char *s, size_t n)
{
	return !is_oidc(s, n);
}

static int first_resource(const char *s, size_t n, void *arg)
{
	struct scope_list *l = arg;

	if (is_oidc(s, n))
		return 0;
	snprintf(l->text, sizeof(l->text), "%.*s", (int)(n > 200 ? 200 : n), s);
	return 1;
}

/* ---- client ---- */

void doctor_check_client(const struct doctor_account *a,
			 struct doctor_report *r)
{
	char text[DOCTOR_TEXT_MAX], fix[DOCTOR_FIX_MAX];
	int ms = doctor_is_microsoft(a);
	int app_only = flow_is(a, "client_credentials");

	/* providers.md 0 and 2.4: public clients send no secret. */
	if (ms && a->has_client_secret && !app_only) {
		snprintf(text, sizeof(text),
			 "[account %s] has a client secret with the %s flow. "
			 "A public client must send none: Microsoft refuses "
			 "it with AADSTS700025 \"client is public so neither "
			 "client_assertion nor client_secret should be "
			 "presented\", and Outlook.com refuses SMTP with "
			 "tokens of a confidential client (535 5.7.3)",
			 a->name, a->flow != NULL ? a->flow : "login");
		snprintf(fix, sizeof(fix),
			 "Remove client_secret and client_secret_cmd from "
			 "[account %s], and in the app registration (Entra "
			 "admin center > App registrations > the app > "
			 "Authentication > Advanced settings) set 'Allow "
			 "public client flows' to Yes. A secret belongs only "
			 "to flow = client_credentials.",
			 a->name);
		doctor_add(r, PROTO_LEVEL_WARNING, text, fix);
	}
	if (ms && app_only && !a->has_client_secret)
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Set client_secret_cmd (or client_secret) to the "
			    "app's secret value, not its secret ID.",
			    "[account %s] uses flow = client_credentials "
			    "without a client secret: there is no user, so "
			    "the app must prove who it is",
			    a->name);
	if (ms && app_only && a->tenant != NULL &&
	    (strcmp(a->tenant, "common") == 0 ||
	     strcmp(a->tenant, "organizations") == 0 ||
	     strcmp(a->tenant, "consumers") == 0))
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Set tenant to the organisation's tenant ID or "
			    "domain (Entra admin center > Overview).",
			    "[account %s] asks for app-only tokens over "
			    "tenant '%s', which Microsoft refuses "
			    "(AADSTS9001023): client_credentials needs one "
			    "tenant",
			    a->name, a->tenant);
	if (ms && !a->has_client_secret && a->last_aadsts == 7000218) {
		snprintf(fix, sizeof(fix),
			 "In the app registration (Authentication > Advanced "
			 "settings) set 'Allow public client flows' to Yes: "
			 "the device flow needs it. Only a web app "
			 "registration should get client_secret_cmd "
			 "instead.");
		doctor_addf(r, PROTO_LEVEL_PROBLEM, fix,
			    "Microsoft wants a client secret from [account "
			    "%s] (AADSTS7000218): its app registration is a "
			    "confidential client, as 'Allow public client "
			    "flows' is off",
			    a->name);
	}
	if (doctor_is_google(a) && flow_is(a, "device"))
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Set flow = browser (or paste where no browser "
			    "runs on this machine).",
			    "[account %s] uses the device flow with Google, "
			    "which refuses it for the Gmail scope "
			    "https://mail.google.com/ (invalid_scope)",
			    a->name);
	if (a->email == NULL || a->email[0] == '\0')
		doctor_addf(r, PROTO_LEVEL_WARNING,
			    "Set email = ADDRESS in the account's section, or "
			    "ask for the openid and email scopes so the agent "
			    "learns it at login.",
			    "[account %s] has no email known: SMTP and IMAP "
			    "need it as the XOAUTH2 user name",
			    a->name);
}

/* ---- scopes ---- */

static void check_microsoft_scopes(const struct doctor_account *a,
				   const char *smtp, const char *imap,
				   struct doctor_report *r)
{
	char fix[DOCTOR_FIX_MAX];
	struct scope_list graph = {.pred = is_graph};
	struct scope_list first = {.pred = NULL};
	int app_only = flow_is(a, "client_credentials");
	int any_default = has_exchange_scope(a->scopes, "/.default");

	snprintf(fix, sizeof(fix),
		 "In [account %s] set scopes = " EXCHANGE_SCOPES
		 " (or drop the scopes line: the microsoft preset has "
		 "them), then log in again: xoauth login %s",
		 a->name, a->name);
	each_scope(a->scopes, collect, &graph);
	if (graph.count > 0)
		doctor_addf(r, PROTO_LEVEL_PROBLEM, fix,
			    "The scopes of [account %s] ask for Microsoft "
			    "Graph (%s; a scope without a resource is "
			    "Graph's), but SMTP, IMAP and POP of Exchange "
			    "Online accept only tokens for Exchange Online "
			    "(aud https://outlook.office.com) and refuse "
			    "Graph tokens with 535 5.7.3",
			    a->name, graph.text);
	/* providers.md 2.2: the token is for the first scope's resource. */
	if (each_scope(a->scopes, first_resource, &first) &&
	    !is_exchange(first.text, strlen(first.text)) &&
	    !is_graph(first.text, strlen(first.text)))
		doctor_addf(r, PROTO_LEVEL_PROBLEM, fix,
			    "The first scope of [account %s] is %s: "
			    "Microsoft issues the token for that resource, "
			    "not for Exchange Online",
			    a->name, first.text);
	if (app_only) {
		if (!any_default)
			doctor_addf(r, PROTO_LEVEL_PROBLEM,
				    "Set scopes = "
				    "https://outlook.office365.com/.default",
				    "[account %s] uses client_credentials, "
				    "which takes the scope "
				    "https://outlook.office365.com/.default",
				    a->name);
		return;
	}
	if (!has_scope(a->scopes, "offline_access"))
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Add offline_access to scopes and log in again.",
			    "The scopes of [account %s] lack offline_access: "
			    "Microsoft then issues no refresh token, and the "
			    "access token dies within the hour",
			    a->name);
	if (smtp != NULL && !any_default && graph.count == 0 &&
	    !has_exchange_scope(a->scopes, "/SMTP.Send"))
		doctor_addf(r, PROTO_LEVEL_PROBLEM, fix,
			    "The scopes of [account %s] lack "
			    "https://outlook.office.com/SMTP.Send, which SMTP "
			    "AUTH at %s needs",
			    a->name, smtp);
	if (imap != NULL && !any_default && graph.count == 0 &&
	    !has_exchange_scope(a->scopes, "/IMAP.AccessAsUser.All"))
		doctor_addf(r, PROTO_LEVEL_PROBLEM, fix,
			    "The scopes of [account %s] lack "
			    "https://outlook.office.com/IMAP.AccessAsUser.All,"
			    " which IMAP at %s needs",
			    a->name, imap);
	if (smtp == NULL && imap == NULL && graph.count == 0 && !any_default &&
	    !has_exchange_scope(a->scopes, "/SMTP.Send") &&
	    !has_exchange_scope(a->scopes, "/IMAP.AccessAsUser.All") &&
	    !has_exchange_scope(a->scopes, "/POP.AccessAsUser.All"))
		doctor_addf(r, PROTO_LEVEL_WARNING, fix,
			    "The scopes of [account %s] name no Exchange "
			    "Online mail scope (SMTP.Send, "
			    "IMAP.AccessAsUser.All, POP.AccessAsUser.All)",
			    a->name);
}

static void check_host_family(const struct doctor_account *a, const char *host,
			      const char *what, struct doctor_report *r)
{
	enum doctor_host_kind k = doctor_host_kind(host);
	int ms = doctor_is_microsoft(a), g = doctor_is_google(a);
	char fix[DOCTOR_FIX_MAX];

	if (k == DOCTOR_HOST_MICROSOFT && !ms &&
	    !has_exchange_scope(a->scopes, "/")) {
		snprintf(fix, sizeof(fix),
			 "Use an account with provider = microsoft for this "
			 "server (its preset asks for " EXCHANGE_SCOPES
			 "), or check the %s host name.",
			 what);
		doctor_addf(r, PROTO_LEVEL_PROBLEM, fix,
			    "%s is an Exchange Online host, but the scopes "
			    "of [account %s] (provider %s) name no Exchange "
			    "Online scope: its tokens are for another "
			    "resource, and Exchange refuses them (535 5.7.3)",
			    host, a->name, a->provider);
	} else if (k == DOCTOR_HOST_GOOGLE && !g &&
		   !has_scope(a->scopes, GMAIL_SCOPE)) {
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Use an account with provider = google for this "
			    "server, or check the host name.",
			    "%s is a Gmail host, but [account %s] (provider "
			    "%s) does not ask for the Gmail scope "
			    "https://mail.google.com/",
			    host, a->name, a->provider);
	}
}

void doctor_check_scopes(const struct doctor_account *a, const char *smtp,
			 const char *imap, struct doctor_report *r)
{
	struct scope_list all = {.pred = not_oidc};

	if (smtp != NULL && smtp[0] == '\0')
		smtp = NULL;
	if (imap != NULL && imap[0] == '\0')
		imap = NULL;
	if (doctor_is_microsoft(a)) {
		check_microsoft_scopes(a, smtp, imap, r);
	} else if (doctor_is_google(a)) {
		/* providers.md 3: one scope for IMAP, POP and SMTP. */
		if (!has_scope(a->scopes, GMAIL_SCOPE))
			doctor_addf(r, PROTO_LEVEL_PROBLEM,
				    "Add https://mail.google.com/ to scopes "
				    "and log in again.",
				    "The scopes of [account %s] lack "
				    "https://mail.google.com/, the only scope "
				    "Gmail's IMAP, POP and SMTP accept",
				    a->name);
	} else {
		each_scope(a->scopes, collect, &all);
		if (all.count == 0 && (smtp != NULL || imap != NULL))
			doctor_addf(r, PROTO_LEVEL_WARNING,
				    "Add the provider's mail scope to scopes.",
				    "The scopes of [account %s] name no "
				    "resource, only OpenID ones: the token "
				    "may not be good for mail",
				    a->name);
	}
	if (smtp != NULL)
		check_host_family(a, smtp, "SMTP", r);
	if (imap != NULL)
		check_host_family(a, imap, "IMAP", r);
	/* A Microsoft account at Gmail, or the other way round. */
	if (doctor_is_microsoft(a) &&
	    (doctor_host_kind(smtp) == DOCTOR_HOST_GOOGLE ||
	     doctor_host_kind(imap) == DOCTOR_HOST_GOOGLE))
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Use a Google account (provider = google) for "
			    "Gmail.",
			    "%s is a Gmail host, but [account %s] gets "
			    "Microsoft tokens",
			    doctor_host_kind(smtp) == DOCTOR_HOST_GOOGLE ? smtp
									 : imap,
			    a->name);
	if (doctor_is_google(a) &&
	    (doctor_host_kind(smtp) == DOCTOR_HOST_MICROSOFT ||
	     doctor_host_kind(imap) == DOCTOR_HOST_MICROSOFT))
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    "Use a Microsoft account (provider = microsoft) "
			    "for Exchange Online and Outlook.com.",
			    "%s is an Exchange Online host, but [account %s] "
			    "gets Google tokens",
			    doctor_host_kind(smtp) == DOCTOR_HOST_MICROSOFT
				? smtp
				: imap,
			    a->name);
}

/* ---- provider errors ---- */

struct error_rule {
	long code;	   /* AADSTS number, or 0 */
	const char *error; /* OAuth error name, or NULL */
	const char *text;
	const char *fix; /* {name}, {tenant}, {client_id} are filled in */
};

#define LOGIN_AGAIN "Log in again: xoauth login {name}"
#define ADMIN_CONSENT                                                          \
	"an administrator grants it once for the tenant: Entra admin center "  \
	"> "                                                                   \
	"Enterprise applications > the app > Permissions > Grant admin "       \
	"consent, or by opening "                                              \
	"https://login.microsoftonline.com/{tenant}/adminconsent?client_id="   \
	"{client_id}"

/* providers.md 2.9, with what to do about each. */
static const struct error_rule error_rules[] = {
    {700082, NULL,
     "The refresh token expired after a long time unused (AADSTS700082: "
     "Microsoft ends a grant that sees no use for about 90 days, counted "
     "from inactivity)",
     LOGIN_AGAIN ". A running agent refreshes every hour, which keeps the "
		 "grant alive."},
    {50173, NULL,
     "The grant was revoked (AADSTS50173): the password was changed, or an "
     "administrator or the user revoked the sessions",
     LOGIN_AGAIN "."},
    {70000, NULL,
     "Microsoft says the refresh token is not valid (AADSTS70000): revoked, "
     "or issued to another client or for other scopes",
     LOGIN_AGAIN "."},
    {70008, NULL, "The refresh token expired or was revoked (AADSTS70008)",
     LOGIN_AGAIN "."},
    {70043, NULL,
     "A Conditional Access sign-in frequency policy ended the grant "
     "(AADSTS70043)",
     LOGIN_AGAIN "; if this comes back every few hours, ask the tenant's "
		 "administrator about the sign-in frequency policy that "
		 "applies to the app."},
    {50076, NULL,
     "Microsoft requires multi-factor authentication (AADSTS50076)",
     LOGIN_AGAIN " and complete the multi-factor prompt in the browser."},
    {50078, NULL, "The multi-factor authentication expired (AADSTS50078)",
     LOGIN_AGAIN " and complete the multi-factor prompt in the browser."},
    {50079, NULL,
     "The user must enrol in multi-factor authentication (AADSTS50079)",
     LOGIN_AGAIN " and complete the enrolment in the browser."},
    {65001, NULL,
     "The app has no consent for the scopes it asks for (AADSTS65001: the "
     "user or administrator has not consented)",
     LOGIN_AGAIN " and accept the consent page. Where users may not "
		 "consent, " ADMIN_CONSENT "."},
    {90094, NULL, "The app needs an administrator's consent (AADSTS90094)",
     "Ask an administrator: " ADMIN_CONSENT "."},
    {90095, NULL, "The app needs an administrator's consent (AADSTS90095)",
     "Ask an administrator: " ADMIN_CONSENT "."},
    {700016, NULL,
     "Application {client_id} was not found in tenant '{tenant}' "
     "(AADSTS700016): a wrong client_id, a wrong tenant, or a single-tenant "
     "app used from another directory",
     "Check client_id against the app's Overview page (the Application "
     "(client) ID, not the object ID) and set tenant to the directory the "
     "app is registered in (its Directory (tenant) ID or domain); to serve "
     "other tenants or personal accounts, change 'Supported account types' "
     "in the app registration."},
    {700025, NULL,
     "The app is a public client, so Microsoft refuses the client secret "
     "sent with it (AADSTS700025)",
     "Remove client_secret and client_secret_cmd from [account {name}]."},
    {7000218, NULL,
     "Microsoft wants a client secret: the app registration is a "
     "confidential client, as 'Allow public client flows' is off "
     "(AADSTS7000218)",
     "In the app registration (Authentication > Advanced settings) set "
     "'Allow public client flows' to Yes; only a web app registration "
     "should get client_secret_cmd instead."},
    {7000215, NULL,
     "Microsoft refuses the client secret (AADSTS7000215): not the secret's "
     "value",
     "Set client_secret_cmd to print the secret's Value (shown once when "
     "it was created), not its Secret ID."},
    {7000222, NULL, "The client secret expired (AADSTS7000222)",
     "Create a new secret in the app registration (Certificates & "
     "secrets) and update client_secret_cmd."},
    {9001023, NULL,
     "Microsoft refuses app-only tokens over common, organizations or "
     "consumers (AADSTS9001023)",
     "Set tenant to the organisation's tenant ID or domain."},
    {530035, NULL,
     "The sign-in was blocked by the tenant's security defaults "
     "(AADSTS530035)",
     "An administrator turns security defaults off (Entra admin center > "
     "Properties > Manage security defaults) and protects sign-ins with "
     "Conditional Access instead."},
    {0, "invalid_scope", "The provider refused the scopes (invalid_scope)",
     "Check scopes in [account {name}]: Microsoft wants "
     "https://outlook.office.com/SMTP.Send and IMAP.AccessAsUser.All with "
     "offline_access; Google wants https://mail.google.com/ and refuses it "
     "in the device flow (use flow = browser or paste)."},
    {0, "invalid_grant",
     "The provider no longer accepts the grant (invalid_grant): the refresh "
     "token expired, was revoked, or was used twice",
     LOGIN_AGAIN "."},
    {0, "invalid_client",
     "The provider does not accept the client "
     "(invalid_client)",
     "Check client_id and the client secret in [account {name}] (a public "
     "client sends no secret)."},
    {0, "unauthorized_client",
     "The client may not use this grant (unauthorized_client)",
     "Check the app registration: the device flow needs 'Allow public "
     "client flows'; client_credentials needs application permissions."},
};

/* Copies tmpl into out with {name}, {tenant} and {client_id} filled. */
static void fill(char *out, size_t cap, const char *tmpl,
		 const struct doctor_account *a)
{
	static const struct {
		const char *key;
		size_t off;
		const char *absent;
	} keys[] = {
	    {"{name}", offsetof(struct doctor_account, name), "NAME"},
	    {"{tenant}", offsetof(struct doctor_account, tenant), "common"},
	    {"{client_id}", offsetof(struct doctor_account, client_id),
	     "CLIENT_ID"},
	};
	size_t len = 0, i, kl;
	const char *v;

	out[0] = '\0';
	while (*tmpl != '\0' && len + 1 < cap) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			kl = strlen(keys[i].key);
			if (strncmp(tmpl, keys[i].key, kl) == 0)
				break;
		}
		if (i == sizeof(keys) / sizeof(keys[0])) {
			out[len++] = *tmpl++;
			continue;
		}
		v = *(const char *const *)((const char *)a + keys[i].off);
		if (v == NULL)
			v = keys[i].absent;
		len += (size_t)snprintf(out + len, cap - len, "%s", v);
		if (len >= cap)
			len = cap - 1;
		tmpl += kl;
	}
	out[len] = '\0';
}

int doctor_provider_error_cause(long aadsts, const char *oauth_error,
				const struct doctor_account *a,
				struct doctor_cause *out)
{
	const struct error_rule *rule = NULL;
	size_t i, n = sizeof(error_rules) / sizeof(error_rules[0]);

	memset(out, 0, sizeof(*out));
	/* The number is more precise than the name (oauth/pure/reply.c). */
	for (i = 0; i < n && aadsts != 0 && rule == NULL; i++)
		if (error_rules[i].code == aadsts)
			rule = &error_rules[i];
	for (i = 0; i < n && oauth_error != NULL && rule == NULL; i++)
		if (error_rules[i].error != NULL &&
		    strcmp(error_rules[i].error, oauth_error) == 0)
			rule = &error_rules[i];
	if (rule == NULL)
		return -1;
	out->level = PROTO_LEVEL_PROBLEM;
	fill(out->text, sizeof(out->text), rule->text, a);
	fill(out->fix, sizeof(out->fix), rule->fix, a);
	return 0;
}

void doctor_check_send_scope(const struct doctor_account *a, const char *send,
			     const char *scope, int err, const char *msg,
			     struct doctor_report *r)
{
	struct doctor_cause c;
	int fallback = strcmp(send, "auto") == 0;
	int level = fallback ? PROTO_LEVEL_WARNING : PROTO_LEVEL_PROBLEM;
	const char *why =
	    msg != NULL && msg[0] != '\0' ? msg : "no reason given";
	char fix[DOCTOR_FIX_MAX];

	if (err == 0) {
		doctor_addf(r, PROTO_LEVEL_OK, NULL,
			    "[account %s] gets tokens for %s, which send = %s "
			    "needs",
			    a->name, scope, send);
		return;
	}
	if (doctor_provider_error_cause(
		doctor_aadsts_in(why),
		strstr(why, "invalid_scope") != NULL ? "invalid_scope" : NULL,
		a, &c) == 0) {
		snprintf(fix, sizeof(fix), "%s Until then, %s.", c.fix,
			 fallback ? "mail goes by SMTP while SMTP AUTH works"
				  : "send = smtp sends without it, where the "
				    "server allows SMTP AUTH");
		doctor_addf(r, level, fix,
			    "No token for %s, which send = %s needs%s: %s",
			    scope, send,
			    fallback ? " to fall back to Graph" : "", c.text);
		return;
	}
	snprintf(fix, sizeof(fix),
		 "Check that the app registration has the permission the "
		 "scope stands for (Microsoft Graph's Mail.Send), then log in "
		 "again so that the consent covers it: xoauth login %s.",
		 a->name);
	doctor_addf(r, level, fix,
		    "No token for %s, which send = %s needs%s: %s", scope, send,
		    fallback ? " to fall back to Graph" : "", why);
}

long doctor_aadsts_in(const char *text)
{
	const char *p = text;
	char *end;
	long l;

	while (p != NULL && (p = strstr(p, "AADSTS")) != NULL) {
		p += 6;
		if (!isdigit((unsigned char)*p))
			continue;
		errno = 0;
		l = strtol(p, &end, 10);
		if (errno == 0 && l > 0)
			return l;
		p = end;
	}
	return 0;
}

/* ---- state ---- */

/* Why an account wants a login again: the three ways into REAUTH. */
static void reauth(const struct doctor_account *a, const char *login,
		   struct doctor_report *r)
{
	char fix[300];

	if (a->has_refresh_token) {
		/* The vault's agent stopped while the token was presented. */
		snprintf(fix, sizeof(fix),
			 "Run 'xoauth refresh %s' to send it anyway, or "
			 "'xoauth login %s'.",
			 a->name, a->name);
		doctor_addf(
		    r, PROTO_LEVEL_PROBLEM, fix,
		    "[account %s] holds a refresh token the agent does "
		    "not send by itself: the agent stopped during a "
		    "refresh, so the provider may have replaced it, and "
		    "a replayed one makes it revoke the whole grant",
		    a->name);
	} else if (a->last_oauth_error != NULL || a->last_aadsts != 0) {
		doctor_addf(r, PROTO_LEVEL_PROBLEM, login,
			    "The provider no longer accepts the refresh token "
			    "of [account %s]: it has revoked the grant, and "
			    "with it the access tokens it issued, so the agent "
			    "serves none of them",
			    a->name);
	} else {
		doctor_addf(r, PROTO_LEVEL_PROBLEM, login,
			    "[account %s] needs a login again: %s", a->name,
			    a->last_error != NULL && a->last_error[0] != '\0'
				? a->last_error
				: "its tokens were dropped");
	}
}

/* What to do about a transient failure, by what it met. */
static const char *retry_fix(int fault)
{
	switch (fault) {
	case OAUTH_FAULT_TLS:
		return "The agent never skips the certificate check. Check "
		       "that the clock is right (an expired certificate), "
		       "that token_endpoint names the provider's own host, "
		       "and the account's ca_file if it sets one; a proxy "
		       "that inspects TLS needs its CA there. The agent "
		       "retries by itself and serves the current token while "
		       "it lasts.";
	case OAUTH_FAULT_RESET:
		return "The connection broke in the middle of the "
		       "provider's reply: a proxy, a firewall or the "
		       "provider dropping connections. The agent retries by "
		       "itself and serves the current token while it lasts.";
	case OAUTH_FAULT_TIMEOUT:
		return "The provider did not answer within the agent's 30 s: "
		       "check the network, a proxy or firewall, and the "
		       "provider's status page. The agent retries by itself "
		       "and serves the current token while it lasts.";
	case OAUTH_FAULT_REDIRECT:
		return "The agent never follows a redirect from the token "
		       "endpoint: the refresh token would go with it. If the "
		       "provider moved the endpoint, set token_endpoint (or "
		       "issuer) to the new URL and reload the agent: kill -HUP "
		       "$XOAUTH_AGENT_PID. Meanwhile it retries and serves the "
		       "current token while it lasts.";
	default:
		return "The agent retries by itself and serves the current "
		       "token while it lasts; check the network and the "
		       "provider's status page.";
	}
}

void doctor_check_state(const struct doctor_account *a, struct doctor_report *r)
{
	char login[300], tag[32];
	struct doctor_cause c;
	long code;
	int state_said = 0;

	snprintf(login, sizeof(login), "Run 'xoauth login %s'.", a->name);
	switch (a->state) {
	case PROTO_STATE_NEED_LOGIN:
		if (!a->has_refresh_token && !a->has_access_token) {
			doctor_addf(r, PROTO_LEVEL_PROBLEM, login,
				    "[account %s] holds no tokens: nobody has "
				    "logged in yet, or they were removed",
				    a->name);
			state_said = 1;
		}
		break;
	case PROTO_STATE_REAUTH:
		reauth(a, login, r);
		state_said = 1;
		break;
	case PROTO_STATE_CONFIG_ERROR:
		doctor_addf(r, PROTO_LEVEL_PROBLEM,
			    a->last_fault == OAUTH_FAULT_REDIRECT
				? "Set token_endpoint (or issuer) to the "
				  "endpoint's new URL, then reload the "
				  "agent: kill -HUP $XOAUTH_AGENT_PID"
				: "Fix the account's settings (see the other "
				  "findings), then reload the agent: kill -HUP "
				  "$XOAUTH_AGENT_PID",
			    "The provider refused the client settings of "
			    "[account %s]: %s",
			    a->name,
			    a->last_error != NULL ? a->last_error : "");
		state_said = 1;
		break;
	case PROTO_STATE_RETRYING:
		doctor_addf(r, PROTO_LEVEL_WARNING, retry_fix(a->last_fault),
			    "Refreshes of [account %s] fail for now: %s",
			    a->name,
			    a->last_error != NULL ? a->last_error : "");
		state_said = 1;
		break;
	case PROTO_STATE_LOGIN_PENDING:
		doctor_addf(r, PROTO_LEVEL_INFO, NULL,
			    "A login of [account %s] waits for the user",
			    a->name);
		break;
	default:
		break;
	}
	if (a->has_access_token && a->valid_s > 0)
		doctor_addf(r, PROTO_LEVEL_OK, NULL,
			    "[account %s] holds a valid access token (for "
			    "another %ld %s)",
			    a->name,
			    a->valid_s < 120 ? a->valid_s
					     : (a->valid_s + 59) / 60,
			    a->valid_s < 120 ? "s" : "min");
	else if (a->has_refresh_token && !state_said)
		doctor_addf(r, PROTO_LEVEL_INFO, NULL,
			    "[account %s] holds a refresh token but no valid "
			    "access token",
			    a->name);
	if (a->lifetime_note != NULL && a->lifetime_note[0] != '\0')
		doctor_addf(r, PROTO_LEVEL_WARNING,
			    "Nothing to change here: the agent refreshes at "
			    "this pace by itself. If the provider's tokens "
			    "live another time, tell its administrator: the "
			    "token endpoint's expires_in should say how long "
			    "they live (RFC 6749 5.1).",
			    "The agent planned the token's life itself: %s",
			    a->lifetime_note);

	/* The last error, explained. */
	code = a->last_aadsts != 0 ? a->last_aadsts
				   : doctor_aadsts_in(a->last_error);
	if (doctor_provider_error_cause(code, a->last_oauth_error, a, &c) ==
	    0) {
		snprintf(tag, sizeof(tag), "AADSTS%ld", code);
		if (code == 0 || !doctor_mentions(r, tag))
			doctor_add(r, c.level, c.text, c.fix);
	} else if (a->last_err != 0 && a->last_error != NULL &&
		   a->last_error[0] != '\0' && !state_said) {
		doctor_addf(r, PROTO_LEVEL_WARNING, NULL, "Last error: %s",
			    a->last_error);
	}
}
