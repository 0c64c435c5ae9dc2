/*
 * The pure parts of `xoauth doctor` (agent/doctor.h): JWT claims, the
 * meaning of SMTP/IMAP replies and of provider errors, the checks of
 * settings, scopes and hosts, and the encoding of the findings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "doctor/pure/doctor.h"
#include "oauth/pure/reply.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* header.payload.sig, made with Python's base64.urlsafe_b64encode (padding
   stripped); the payloads are in the comments. */
#define JWT_HDR "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
/* {"aud": "https://outlook.office.com", "scp": "IMAP.AccessAsUser.All
   SMTP.Send", "appidacr": "0", "tid": "11111111-2222-3333-4444-
   555555555555", "upn": "alice@example.com", "exp": 2000000000,
   "ver": "1.0"} */
static const char jwt_exchange[] = JWT_HDR
    "eyJhdWQiOiAiaHR0cHM6Ly9vdXRsb29rLm9mZmljZS5jb20iLCAic2NwIjogIklNQVAuQW"
    "NjZXNzQXNVc2VyLkFsbCBTTVRQLlNlbmQiLCAiYXBwaWRhY3IiOiAiMCIsICJ0aWQiOiAi"
    "MTExMTExMTEtMjIyMi0zMzMzLTQ0NDQtNTU1NTU1NTU1NTU1IiwgInVwbiI6ICJhbGljZU"
    "BleGFtcGxlLmNvbSIsICJleHAiOiAyMDAwMDAwMDAwLCAidmVyIjogIjEuMCJ9.c2ln";
/* {"aud": ["https://graph.microsoft.com", "x"], "scp": "Mail.Send",
   "azpacr": "1", "email": "bob@example.com", "exp": 1000, "ver": "2.0"} */
static const char jwt_graph[] = JWT_HDR
    "eyJhdWQiOiBbImh0dHBzOi8vZ3JhcGgubWljcm9zb2Z0LmNvbSIsICJ4Il0sICJzY3AiOi"
    "AiTWFpbC5TZW5kIiwgImF6cGFjciI6ICIxIiwgImVtYWlsIjogImJvYkBleGFtcGxlLmNv"
    "bSIsICJleHAiOiAxMDAwLCAidmVyIjogIjIuMCJ9.c2ln";
/* {"aud": "https://outlook.office365.com", "roles": ["SMTP.SendAsApp"],
   "appidacr": "1", "exp": 2000000000} */
static const char jwt_app[] = JWT_HDR
    "eyJhdWQiOiAiaHR0cHM6Ly9vdXRsb29rLm9mZmljZTM2NS5jb20iLCAicm9sZXMiOiBbIl"
    "NNVFAuU2VuZEFzQXBwIl0sICJhcHBpZGFjciI6ICIxIiwgImV4cCI6IDIwMDAwMDAwMDB9"
    ".c2ln";
/* [1,2] */
static const char jwt_array[] = JWT_HDR "WzEsMl0.c2ln";
/* not json */
static const char jwt_text[] = JWT_HDR "bm90IGpzb24.c2ln";

#define NOW ((time_t)1900000000)
#define MS_SCOPES                                                              \
	"https://outlook.office.com/IMAP.AccessAsUser.All "                    \
	"https://outlook.office.com/POP.AccessAsUser.All "                     \
	"https://outlook.office.com/SMTP.Send offline_access openid email"

static struct doctor_report *report_new(void)
{
	struct doctor_report *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	return r;
}

static struct doctor_account ms_account(void)
{
	struct doctor_account a;

	memset(&a, 0, sizeof(a));
	a.name = "work";
	a.provider = "microsoft";
	a.email = "alice@example.com";
	a.client_id = "00000000-0000-0000-0000-000000000000";
	a.tenant = "organizations";
	a.scopes = MS_SCOPES;
	a.flow = "device";
	a.state = PROTO_STATE_ACTIVE;
	a.has_refresh_token = a.has_access_token = 1;
	a.valid_s = 3000;
	return a;
}

/* 1 when a finding of this level mentions every needle (NULL-ended). */
static int has_finding(const struct doctor_report *r, int level, ...)
{
	va_list ap;
	const char *needle;
	size_t i;
	int all;

	for (i = 0; i < r->n; i++) {
		if (r->items[i].level != level)
			continue;
		all = 1;
		va_start(ap, level);
		while ((needle = va_arg(ap, const char *)) != NULL)
			if (strstr(r->items[i].text, needle) == NULL &&
			    strstr(r->items[i].fix, needle) == NULL)
				all = 0;
		va_end(ap);
		if (all)
			return 1;
	}
	return 0;
}

static void dump(const struct doctor_report *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		print_message("  [%d] %s\n      fix: %s\n", r->items[i].level,
			      r->items[i].text, r->items[i].fix);
}

/* ------------------------------------------------------------------ */
/* JWT claims                                                          */

static void jwt_claims_of_an_exchange_token_are_read(void **state)
{
	struct doctor_claims c;

	(void)state;
	assert_int_equal(
	    doctor_jwt_claims(jwt_exchange, strlen(jwt_exchange), &c),
	    DOCTOR_JWT_OK);
	assert_string_equal(c.aud, "https://outlook.office.com");
	assert_string_equal(c.scp, "IMAP.AccessAsUser.All SMTP.Send");
	assert_string_equal(c.appidacr, "0");
	assert_string_equal(c.azpacr, "");
	assert_string_equal(c.tid, "11111111-2222-3333-4444-555555555555");
	assert_string_equal(c.upn, "alice@example.com");
	assert_string_equal(c.ver, "1.0");
	assert_true(c.exp == 2000000000LL);
}

static void jwt_array_audience_is_joined_and_email_stands_for_upn(void **state)
{
	struct doctor_claims c;

	(void)state;
	assert_int_equal(doctor_jwt_claims(jwt_graph, strlen(jwt_graph), &c),
			 DOCTOR_JWT_OK);
	assert_string_equal(c.aud, "https://graph.microsoft.com x");
	assert_string_equal(c.azpacr, "1");
	assert_string_equal(c.upn, "bob@example.com");
	assert_true(c.exp == 1000);
	assert_int_equal(doctor_jwt_claims(jwt_app, strlen(jwt_app), &c),
			 DOCTOR_JWT_OK);
	assert_string_equal(c.roles, "SMTP.SendAsApp");
}

static void opaque_tokens_are_not_jwts(void **state)
{
	static const char *const opaque[] = {
	    "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA",
	    "ya29.a0AfH6SMBx",
	    "a.b.c.d",
	    "",
	    "..",
	};
	struct doctor_claims c;
	size_t i;

	(void)state;
	for (i = 0; i < N(opaque); i++) {
		assert_int_equal(
		    doctor_jwt_claims(opaque[i], strlen(opaque[i]), &c),
		    DOCTOR_JWT_NOT_JWT);
		assert_string_equal(c.aud, "");
	}
}

static void jwt_with_bad_base64_is_refused(void **state)
{
	static const char *const bad[] = {
	    JWT_HDR "e$$$.c2ln",
	    JWT_HDR "eyJh+dWQ/.c2ln", /* standard, not url-safe, alphabet */
	    "e!J0.eyJhdWQiOiAiYSJ9.c2ln",
	};
	struct doctor_claims c;
	size_t i;

	(void)state;
	for (i = 0; i < N(bad); i++)
		assert_int_equal(doctor_jwt_claims(bad[i], strlen(bad[i]), &c),
				 DOCTOR_JWT_BAD_BASE64);
}

static void jwt_with_bad_json_is_refused(void **state)
{
	struct doctor_claims c;

	(void)state;
	assert_int_equal(doctor_jwt_claims(jwt_text, strlen(jwt_text), &c),
			 DOCTOR_JWT_BAD_JSON);
	assert_int_equal(doctor_jwt_claims(jwt_array, strlen(jwt_array), &c),
			 DOCTOR_JWT_BAD_JSON);
}

static void jwt_exp_beyond_any_date_counts_as_none(void **state)
{
	/* Found by fuzz_jwt: {"exp": 1.7e105} was cast to long long, which
	   is undefined.  {"exp":1.7e105,"upn":"a@b.c"}, {"exp":-1e300} and
	   {"exp":1700000000.5}. */
	static const char huge[] =
	    JWT_HDR "eyJleHAiOjEuN2UxMDUsInVwbiI6ImFAYi5jIn0.c2ln";
	static const char negative[] = JWT_HDR "eyJleHAiOi0xZTMwMH0.c2ln";
	static const char real[] = JWT_HDR "eyJleHAiOjE3MDAwMDAwMDAuNX0.c2ln";
	struct doctor_claims c;

	(void)state;
	assert_int_equal(doctor_jwt_claims(huge, strlen(huge), &c),
			 DOCTOR_JWT_OK);
	assert_true(c.exp == 0);
	assert_string_equal(c.upn, "a@b.c");
	assert_int_equal(doctor_jwt_claims(negative, strlen(negative), &c),
			 DOCTOR_JWT_OK);
	assert_true(c.exp == 0);
	assert_int_equal(doctor_jwt_claims(real, strlen(real), &c),
			 DOCTOR_JWT_OK);
	assert_true(c.exp == 1700000000);
}

static void good_exchange_claims_raise_no_problem(void **state)
{
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();
	struct doctor_claims c;

	(void)state;
	assert_int_equal(
	    doctor_jwt_claims(jwt_exchange, strlen(jwt_exchange), &c), 0);
	doctor_check_claims(&c, &a, "smtp.office365.com",
			    "outlook.office365.com", NOW, r);
	dump(r);
	assert_int_equal(doctor_count(r, PROTO_LEVEL_PROBLEM), 0);
	assert_int_equal(doctor_count(r, PROTO_LEVEL_WARNING), 0);
	/* The claims are shown, the token is not. */
	assert_true(doctor_mentions(r, "SMTP.Send"));
	assert_true(doctor_mentions(r, "alice@example.com"));
	assert_false(doctor_mentions(r, "eyJ"));
	free(r);
}

static void graph_token_for_office365_smtp_is_a_problem(void **state)
{
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();
	struct doctor_claims c;

	(void)state;
	assert_int_equal(doctor_jwt_claims(jwt_graph, strlen(jwt_graph), &c),
			 0);
	doctor_check_claims(&c, &a, "smtp.office365.com",
			    "outlook.office365.com", NOW, r);
	dump(r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM, "aud",
				"https://graph.microsoft.com", NULL));
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM, "SMTP.Send", NULL));
	assert_true(
	    has_finding(r, PROTO_LEVEL_PROBLEM, "IMAP.AccessAsUser.All", NULL));
	assert_true(has_finding(r, PROTO_LEVEL_WARNING, "confidential", NULL));
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM, "expired", NULL));
	/* The token belongs to bob, the SASL user is alice. */
	assert_true(
	    has_finding(r, PROTO_LEVEL_WARNING, "bob@example.com", NULL));
	free(r);
}

static void app_only_token_with_send_as_app_role_is_fine_for_smtp(void **state)
{
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();
	struct doctor_claims c;

	(void)state;
	a.flow = "client_credentials";
	a.has_client_secret = 1;
	assert_int_equal(doctor_jwt_claims(jwt_app, strlen(jwt_app), &c), 0);
	doctor_check_claims(&c, &a, "smtp.office365.com", NULL, NOW, r);
	dump(r);
	assert_int_equal(doctor_count(r, PROTO_LEVEL_PROBLEM), 0);
	assert_false(has_finding(r, PROTO_LEVEL_WARNING, "confidential", NULL));
	free(r);
}

/* ------------------------------------------------------------------ */
/* SMTP and IMAP replies                                               */

struct reply_case {
	int imap;
	const char *reply;
	int level;
	const char *says[3]; /* each in text or fix */
};

static const struct reply_case replies[] = {
    {0,
     "535 5.7.3 Authentication unsuccessful [DB8PR04CA0001.eurprd04]",
     PROTO_LEVEL_PROBLEM,
     {"rejected the token", "SMTP.Send", "licen"}},
    {0,
     "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
     "disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled",
     PROTO_LEVEL_PROBLEM,
     {"disabled for the tenant",
      "Set-TransportConfig -SmtpClientAuthenticationDisabled $false",
      "security defaults"}},
    {0,
     "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
     "disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled",
     PROTO_LEVEL_PROBLEM,
     {"disabled for the mailbox",
      "Set-CASMailbox -Identity alice@example.com "
      "-SmtpClientAuthenticationDisabled $false",
      "set send = auto"}},
    {0,
     "535 5.7.139 Authentication unsuccessful, the request did not meet the "
     "criteria to be authenticated successfully. Contact your "
     "administrator.",
     PROTO_LEVEL_PROBLEM,
     {"Conditional Access", "security defaults", "set send = auto"}},
    {0,
     "535 5.7.139 Authentication unsuccessful, basic authentication is "
     "disabled.",
     PROTO_LEVEL_PROBLEM,
     {"basic authentication", "XOAUTH2", NULL}},
    {0,
     "530 5.7.57 Client not authenticated to send mail.",
     PROTO_LEVEL_PROBLEM,
     {"not authenticated", "AUTH", NULL}},
    {0,
     "550 5.7.60 SMTP; Client does not have permissions to send as this "
     "sender",
     PROTO_LEVEL_PROBLEM,
     {"send as", "Add-RecipientPermission", NULL}},
    {0,
     "550 5.7.30 Basic authentication is not supported for Client "
     "Submission.",
     PROTO_LEVEL_PROBLEM,
     {"Basic authentication", "XOAUTH2", NULL}},
    {0,
     "535-5.7.8 Username and Password not accepted. For more information, "
     "go to",
     PROTO_LEVEL_PROBLEM,
     {"Gmail", "https://mail.google.com/", NULL}},
    {0,
     "454 4.7.0 Temporary authentication failure",
     PROTO_LEVEL_WARNING,
     {"temporar", "again", NULL}},
    {0,
     "535 5.7.0 Something nobody has seen",
     PROTO_LEVEL_PROBLEM,
     {"535 5.7.0 Something nobody has seen", NULL, NULL}},
    {1,
     "A002 NO AUTHENTICATE failed.",
     PROTO_LEVEL_PROBLEM,
     {"rejected the token", "IMAP.AccessAsUser.All",
      "Set-CASMailbox -Identity alice@example.com -ImapEnabled $true"}},
    {1,
     "A002 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
     PROTO_LEVEL_PROBLEM,
     {"rejected the token", "Invalid credentials", NULL}},
    {1,
     /* Dovecot's oauth2 passdb, for a token its introspection refuses. */
     "NO [AUTHENTICATIONFAILED] Authentication failed.",
     PROTO_LEVEL_PROBLEM,
     {"rejected the token", "revoked", "Log in again"}},
    {1,
     /* The error challenge before it, for XOAUTH2, decoded. */
     "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"mail\"}",
     PROTO_LEVEL_PROBLEM,
     {"rejected the token", "revoked", "Log in again"}},
    {1,
     "NO [CONTACTADMIN] AUTHENTICATE failed.",
     PROTO_LEVEL_PROBLEM,
     {"Exchange Online", "IMAP.AccessAsUser.All", NULL}},
    {1,
     "A002 NO [UNAVAILABLE] Temporary authentication failure",
     PROTO_LEVEL_WARNING,
     {"temporar", NULL, NULL}},
};

static void mail_replies_map_to_cause_and_remedy(void **state)
{
	struct doctor_cause c;
	size_t i, k;

	(void)state;
	for (i = 0; i < N(replies); i++) {
		const struct reply_case *t = &replies[i];

		memset(&c, 0xAA, sizeof(c));
		if (t->imap)
			doctor_imap_reply_cause(t->reply, "alice@example.com",
						&c);
		else
			doctor_smtp_reply_cause(t->reply, "alice@example.com",
						&c);
		print_message("%s\n  -> [%d] %s\n     %s\n", t->reply, c.level,
			      c.text, c.fix);
		assert_int_equal(c.level, t->level);
		for (k = 0; k < N(t->says) && t->says[k] != NULL; k++)
			if (strstr(c.text, t->says[k]) == NULL &&
			    strstr(c.fix, t->says[k]) == NULL)
				fail_msg("reply %zu: '%s' not said", i,
					 t->says[k]);
	}
}

static void mailbox_fix_without_address_names_a_placeholder(void **state)
{
	struct doctor_cause c;

	(void)state;
	doctor_smtp_reply_cause("535 5.7.139 Authentication unsuccessful, "
				"SmtpClientAuthentication is disabled for the "
				"Mailbox.",
				NULL, &c);
	assert_non_null(strstr(c.fix, "Set-CASMailbox -Identity ADDRESS"));
}

/* ------------------------------------------------------------------ */
/* Provider errors                                                     */

struct aadsts_case {
	long code;
	const char *error;
	int level;
	const char *says;
};

static const struct aadsts_case aadsts[] = {
    {700082, NULL, PROTO_LEVEL_PROBLEM, "xoauth login work"},
    {700082, NULL, PROTO_LEVEL_PROBLEM, "inactiv"},
    {50173, NULL, PROTO_LEVEL_PROBLEM, "revoked"},
    {70000, NULL, PROTO_LEVEL_PROBLEM, "xoauth login work"},
    {70008, NULL, PROTO_LEVEL_PROBLEM, "expired or was revoked"},
    {70043, NULL, PROTO_LEVEL_PROBLEM, "Conditional Access"},
    {65001, NULL, PROTO_LEVEL_PROBLEM, "adminconsent"},
    {65001, NULL, PROTO_LEVEL_PROBLEM, "consent"},
    {50076, NULL, PROTO_LEVEL_PROBLEM, "multi-factor"},
    {700016, NULL, PROTO_LEVEL_PROBLEM, "tenant"},
    {700016, NULL, PROTO_LEVEL_PROBLEM, "client_id"},
    {700025, NULL, PROTO_LEVEL_PROBLEM, "Remove client_secret"},
    {7000218, NULL, PROTO_LEVEL_PROBLEM, "Allow public client flows"},
    {0, "invalid_scope", PROTO_LEVEL_PROBLEM, "scopes"},
    {0, "invalid_grant", PROTO_LEVEL_PROBLEM, "xoauth login work"},
    {0, "invalid_client", PROTO_LEVEL_PROBLEM, "client_id"},
    /* The number decides before the name, as in oauth_parse.c. */
    {65001, "invalid_grant", PROTO_LEVEL_PROBLEM, "consent"},
};

static void provider_errors_map_to_cause_and_remedy(void **state)
{
	struct doctor_account a = ms_account();
	struct doctor_cause c;
	size_t i;

	(void)state;
	for (i = 0; i < N(aadsts); i++) {
		assert_int_equal(doctor_provider_error_cause(
				     aadsts[i].code, aadsts[i].error, &a, &c),
				 0);
		assert_int_equal(c.level, aadsts[i].level);
		if (strstr(c.text, aadsts[i].says) == NULL &&
		    strstr(c.fix, aadsts[i].says) == NULL)
			fail_msg("AADSTS%ld/%s: '%s' not said in '%s' / '%s'",
				 aadsts[i].code,
				 aadsts[i].error ? aadsts[i].error : "-",
				 aadsts[i].says, c.text, c.fix);
	}
	assert_int_equal(doctor_provider_error_cause(12345, NULL, &a, &c), -1);
	assert_int_equal(doctor_provider_error_cause(0, "bogus", &a, &c), -1);
	assert_int_equal(doctor_provider_error_cause(0, NULL, &a, &c), -1);
}

static void aadsts_numbers_are_found_in_text(void **state)
{
	(void)state;
	assert_int_equal(doctor_aadsts_in("work: login needed: the refresh "
					  "token expired (provider: "
					  "invalid_grant: \"AADSTS700082: The "
					  "refresh token has expired\")"),
			 700082);
	assert_int_equal(doctor_aadsts_in("no number here"), 0);
	assert_int_equal(doctor_aadsts_in("AADSTS"), 0);
	assert_int_equal(doctor_aadsts_in("AADSTSx AADSTS65001:"), 65001);
	assert_int_equal(doctor_aadsts_in(NULL), 0);
}

/* REAUTH has three causes, and each is told as what it is. */
static void
reauth_tells_a_revoked_grant_from_a_held_token_and_a_lifetime(void **state)
{
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();

	(void)state;
	a.state = PROTO_STATE_REAUTH;
	a.has_refresh_token = a.has_access_token = 0;
	a.last_err = XO_ERR_LOGIN_NEEDED;
	a.last_error = "work: login needed: the provider revoked the grant";
	a.last_oauth_error = "invalid_grant";
	doctor_check_state(&a, r);
	dump(r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM, "revoked the grant",
				"serves none", "xoauth login work", NULL));
	free(r);

	/* Loaded from a vault whose agent stopped mid-refresh. */
	r = report_new();
	a.has_refresh_token = 1;
	a.last_oauth_error = NULL;
	a.last_error = "work: the agent stopped during a refresh";
	doctor_check_state(&a, r);
	dump(r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM,
				"does not send by itself",
				"xoauth refresh work", NULL));
	assert_false(has_finding(r, PROTO_LEVEL_PROBLEM, "revoked", NULL));
	free(r);

	/* xoauth-agent -t: the lifetime dropped the tokens. */
	r = report_new();
	a.has_refresh_token = 0;
	a.last_error = "work: the tokens' lifetime is over";
	doctor_check_state(&a, r);
	dump(r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM, "lifetime is over",
				"xoauth login work", NULL));
	assert_false(has_finding(r, PROTO_LEVEL_PROBLEM, "revoked", NULL));
	free(r);
}

static void last_error_is_explained_with_its_remedy(void **state)
{
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();

	(void)state;
	a.state = PROTO_STATE_REAUTH;
	a.has_refresh_token = a.has_access_token = 0;
	a.last_err = XO_ERR_LOGIN_NEEDED;
	a.last_error = "work: login needed: the refresh token expired "
		       "(provider: invalid_grant: \"AADSTS700082: ...\")";
	a.last_aadsts = 700082;
	a.last_oauth_error = "invalid_grant";
	doctor_check_state(&a, r);
	dump(r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM, "AADSTS700082",
				"xoauth login work", NULL));
	free(r);

	/* Without the stored number, the one in the text still counts. */
	r = report_new();
	a.last_aadsts = 0;
	a.last_error = "work: (provider: invalid_grant: \"AADSTS65001: The "
		       "user or administrator has not consented\")";
	doctor_check_state(&a, r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM, "consent", NULL));
	free(r);
}

/* The token of the transport's scope: why Graph sending fails while the
   account's own token is fine. */
static void send_scope_refusal_is_explained_for_its_transport(void **state)
{
	static const char graph[] = "https://graph.microsoft.com/Mail.Send";
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();

	(void)state;
	doctor_check_send_scope(&a, "graph", graph, 0, "", r);
	assert_true(has_finding(r, PROTO_LEVEL_OK, "gets tokens for", graph,
				"send = graph", NULL));
	free(r);

	r = report_new();
	doctor_check_send_scope(&a, "graph", graph, XO_ERR_LOGIN_NEEDED,
				"work: the provider gives no token for ... "
				"(AADSTS65001: The user or administrator has "
				"not consented)",
				r);
	dump(r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM, "No token for", graph,
				"AADSTS65001", "xoauth login work",
				"send = smtp", NULL));
	free(r);

	/* auto needs it only to fall back: a warning. */
	r = report_new();
	doctor_check_send_scope(&a, "auto", graph, XO_ERR_LOGIN_NEEDED,
				"work: ... (invalid_scope: nope)", r);
	assert_true(has_finding(r, PROTO_LEVEL_WARNING, "fall back to Graph",
				"invalid_scope", NULL));
	assert_int_equal(doctor_count(r, PROTO_LEVEL_PROBLEM), 0);
	free(r);

	/* A cause the rules do not know: the words, and the general fix. */
	r = report_new();
	doctor_check_send_scope(&a, "graph", graph, XO_ERR_TIMEOUT,
				"its refresh did not end within the wait", r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM, "did not end",
				"Mail.Send", NULL));
	free(r);
}

static void account_without_tokens_needs_a_login(void **state)
{
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();

	(void)state;
	a.state = PROTO_STATE_NEED_LOGIN;
	a.has_refresh_token = a.has_access_token = 0;
	doctor_check_state(&a, r);
	assert_true(
	    has_finding(r, PROTO_LEVEL_PROBLEM, "xoauth login work", NULL));
	free(r);

	r = report_new();
	a = ms_account();
	doctor_check_state(&a, r);
	assert_true(has_finding(r, PROTO_LEVEL_OK, "valid", NULL));
	assert_int_equal(doctor_count(r, PROTO_LEVEL_PROBLEM), 0);
	free(r);
}

/* A refresh being retried gets the advice for what it met. */
static void retrying_account_is_advised_by_what_failed(void **state)
{
	static const struct {
		int fault;
		const char *fix;
	} cases[] = {
	    {OAUTH_FAULT_TLS, "never skips the certificate check"},
	    {OAUTH_FAULT_RESET, "broke in the middle"},
	    {OAUTH_FAULT_TIMEOUT, "did not answer within"},
	    {OAUTH_FAULT_REDIRECT, "set token_endpoint"},
	    {OAUTH_FAULT_NONE, "check the network"},
	};
	struct doctor_report *r;
	struct doctor_account a = ms_account();
	size_t i;

	(void)state;
	a.state = PROTO_STATE_RETRYING;
	a.last_err = XO_ERR_REFRESH_FAILED;
	a.last_error = "work: refresh failed (...)";
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = report_new();
		a.last_fault = cases[i].fault;
		doctor_check_state(&a, r);
		dump(r);
		assert_true(has_finding(r, PROTO_LEVEL_WARNING,
					"Refreshes of [account work] fail",
					cases[i].fix, NULL));
		free(r);
	}
	/* A permanent redirect is a config error: the fix is the URL. */
	r = report_new();
	a.state = PROTO_STATE_CONFIG_ERROR;
	a.last_fault = OAUTH_FAULT_REDIRECT;
	doctor_check_state(&a, r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM,
				"Set token_endpoint (or issuer)", NULL));
	free(r);
}

/* A token whose life the agent had to guess is a warning that says so. */
static void planned_token_life_is_told(void **state)
{
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();

	(void)state;
	a.lifetime_note = "work: the provider's last token reply has a bad "
			  "expires_in (0): the token is taken to live 3600 s";
	doctor_check_state(&a, r);
	dump(r);
	assert_true(has_finding(r, PROTO_LEVEL_WARNING,
				"planned the token's life itself",
				"expires_in (0)", "RFC 6749", NULL));
	free(r);

	r = report_new();
	a.lifetime_note = "";
	doctor_check_state(&a, r);
	assert_int_equal(doctor_count(r, PROTO_LEVEL_WARNING), 0);
	free(r);
}

/* ------------------------------------------------------------------ */
/* Settings, scopes and hosts                                          */

static void mail_hosts_are_classified_by_domain(void **state)
{
	(void)state;
	assert_int_equal(doctor_host_kind("smtp.office365.com"),
			 DOCTOR_HOST_MICROSOFT);
	assert_int_equal(doctor_host_kind("OUTLOOK.office365.com"),
			 DOCTOR_HOST_MICROSOFT);
	assert_int_equal(doctor_host_kind("outlook.office.com"),
			 DOCTOR_HOST_MICROSOFT);
	assert_int_equal(doctor_host_kind("smtp-mail.outlook.com"),
			 DOCTOR_HOST_MICROSOFT);
	assert_int_equal(doctor_host_kind("smtp.gmail.com"),
			 DOCTOR_HOST_GOOGLE);
	assert_int_equal(doctor_host_kind("imap.googlemail.com"),
			 DOCTOR_HOST_GOOGLE);
	assert_int_equal(doctor_host_kind("notoutlook.com"), DOCTOR_HOST_OTHER);
	assert_int_equal(doctor_host_kind("gmail.com.evil.example"),
			 DOCTOR_HOST_OTHER);
	assert_int_equal(doctor_host_kind("127.0.0.1"), DOCTOR_HOST_OTHER);
	assert_int_equal(doctor_host_kind(NULL), DOCTOR_HOST_NONE);
	assert_int_equal(doctor_host_kind(""), DOCTOR_HOST_NONE);
}

static void secret_on_a_microsoft_delegated_account_is_flagged(void **state)
{
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();

	(void)state;
	a.has_client_secret = 1;
	doctor_check_client(&a, r);
	dump(r);
	assert_true(has_finding(r, PROTO_LEVEL_WARNING, "AADSTS700025",
				"public", "Outlook.com", NULL));
	free(r);

	/* client_credentials needs its secret. */
	r = report_new();
	a.flow = "client_credentials";
	a.scopes = "https://outlook.office365.com/.default";
	doctor_check_client(&a, r);
	assert_false(doctor_mentions(r, "AADSTS700025"));
	free(r);

	/* Without a secret, a refusal for want of one is explained. */
	r = report_new();
	a = ms_account();
	a.last_aadsts = 7000218;
	doctor_check_client(&a, r);
	dump(r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM,
				"Allow public client flows", NULL));
	free(r);

	/* No e-mail address: no SASL user name. */
	r = report_new();
	a = ms_account();
	a.email = NULL;
	doctor_check_client(&a, r);
	assert_true(has_finding(r, PROTO_LEVEL_WARNING, "email", NULL));
	free(r);
}

static void preset_scopes_fit_exchange_hosts(void **state)
{
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();

	(void)state;
	doctor_check_scopes(&a, "smtp.office365.com", "outlook.office365.com",
			    r);
	dump(r);
	assert_int_equal(doctor_count(r, PROTO_LEVEL_PROBLEM), 0);
	free(r);
}

static void graph_scopes_for_exchange_are_flagged(void **state)
{
	static const char *const graphish[] = {
	    "https://graph.microsoft.com/Mail.Send offline_access",
	    /* Without a resource, Microsoft reads a scope as Graph's. */
	    "SMTP.Send offline_access",
	};
	struct doctor_report *r;
	struct doctor_account a = ms_account();
	size_t i;

	(void)state;
	for (i = 0; i < N(graphish); i++) {
		r = report_new();
		a.scopes = graphish[i];
		doctor_check_scopes(&a, "smtp.office365.com", NULL, r);
		dump(r);
		assert_true(has_finding(r, PROTO_LEVEL_PROBLEM, "Graph",
					"https://outlook.office.com/SMTP.Send",
					NULL));
		free(r);
	}
}

static void missing_scopes_are_flagged(void **state)
{
	struct doctor_report *r = report_new();
	struct doctor_account a = ms_account();

	(void)state;
	/* No offline_access: no refresh token. */
	a.scopes = "https://outlook.office.com/SMTP.Send";
	doctor_check_scopes(&a, NULL, NULL, r);
	assert_true(
	    has_finding(r, PROTO_LEVEL_PROBLEM, "offline_access", NULL));
	free(r);

	/* IMAP wanted, only SMTP granted. */
	r = report_new();
	a.scopes = "https://outlook.office.com/SMTP.Send offline_access";
	doctor_check_scopes(&a, NULL, "outlook.office365.com", r);
	assert_true(
	    has_finding(r, PROTO_LEVEL_PROBLEM, "IMAP.AccessAsUser.All", NULL));
	free(r);

	/* Gmail without its scope. */
	r = report_new();
	a = ms_account();
	a.provider = "google";
	a.flow = "browser";
	a.scopes = "openid email";
	doctor_check_scopes(&a, NULL, NULL, r);
	assert_true(has_finding(r, PROTO_LEVEL_PROBLEM,
				"https://mail.google.com/", NULL));
	free(r);

	/* A local provider's scopes for an Office 365 host. */
	r = report_new();
	a = ms_account();
	a.provider = "generic";
	a.scopes = "openid email offline_access mail.send";
	doctor_check_scopes(&a, "outlook.office365.com", NULL, r);
	dump(r);
	assert_true(
	    has_finding(r, PROTO_LEVEL_PROBLEM, "outlook.office365.com", NULL));
	free(r);

	/* A Google account for a Microsoft host. */
	r = report_new();
	a = ms_account();
	a.provider = "google";
	a.flow = "browser";
	a.scopes = "https://mail.google.com/ openid email";
	doctor_check_scopes(&a, "smtp.office365.com", NULL, r);
	assert_true(
	    has_finding(r, PROTO_LEVEL_PROBLEM, "smtp.office365.com", NULL));
	free(r);
}

static void mail_targets_are_parsed_strictly(void **state)
{
	static const char *const bad[] = {
	    "",		  "a b",	  "user@host",	 "host:0",
	    "host:99999", "host/x",	  "host:",	 "[::1",
	    "host:25x",	  "imaps://host", "host?x",	 "[::1]x",
	    "smtps://",	  "http://host",  "smtp://h/x",	 "smtps://[::1",
	    "-host",	  "host:-1",	  "[nothex]:25", "h\001st",
	};
	struct agent_mailhost t;
	char why[200];
	size_t i;

	(void)state;
	assert_int_equal(
	    agent_mailhost_parse("smtp.example.com", 0, &t, why, sizeof(why)),
	    0);
	assert_string_equal(t.host, "smtp.example.com");
	assert_int_equal(t.port, 587);
	assert_false(t.implicit_tls);
	assert_false(t.loopback);
	assert_int_equal(agent_mailhost_parse("smtp.example.com:465", 0, &t,
					      why, sizeof(why)),
			 0);
	assert_int_equal(t.port, 465);
	assert_true(t.implicit_tls);
	assert_int_equal(
	    agent_mailhost_parse("imap.example.com", 1, &t, why, sizeof(why)),
	    0);
	assert_int_equal(t.port, 993);
	assert_true(t.implicit_tls);
	assert_int_equal(
	    agent_mailhost_parse("127.0.0.1:2525", 0, &t, why, sizeof(why)), 0);
	assert_true(t.loopback);
	assert_int_equal(
	    agent_mailhost_parse("[::1]:143", 1, &t, why, sizeof(why)), 0);
	assert_string_equal(t.host, "::1");
	assert_int_equal(t.port, 143);
	assert_true(t.loopback);
	assert_false(t.implicit_tls);
	assert_int_equal(
	    agent_mailhost_parse("LocalHost:25", 0, &t, why, sizeof(why)), 0);
	assert_true(t.loopback);
	/* A scheme says how TLS starts, whatever the port. */
	assert_int_equal(agent_mailhost_parse("smtps://localhost:2465", 0, &t,
					      why, sizeof(why)),
			 0);
	assert_string_equal(t.host, "localhost");
	assert_int_equal(t.port, 2465);
	assert_true(t.implicit_tls);
	assert_int_equal(agent_mailhost_parse("SMTPS://smtp.example.com", 0, &t,
					      why, sizeof(why)),
			 0);
	assert_int_equal(t.port, 465);
	assert_true(t.implicit_tls);
	assert_int_equal(agent_mailhost_parse("smtp://smtp.example.com:465", 0,
					      &t, why, sizeof(why)),
			 0);
	assert_false(t.implicit_tls);
	assert_int_equal(
	    agent_mailhost_parse("imap://[::1]", 1, &t, why, sizeof(why)), 0);
	assert_string_equal(t.host, "::1");
	assert_int_equal(t.port, 143);
	assert_false(t.implicit_tls);
	assert_int_equal(agent_mailhost_parse("imaps://imap.example.com:1993",
					      1, &t, why, sizeof(why)),
			 0);
	assert_true(t.implicit_tls);
	assert_int_equal(agent_mailhost_parse("smtps://imap.example.com", 1, &t,
					      why, sizeof(why)),
			 -1);
	for (i = 0; i < N(bad); i++) {
		why[0] = '\0';
		if (agent_mailhost_parse(bad[i], 0, &t, why, sizeof(why)) == 0)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(why[0] != '\0');
	}
}

static void mail_target_refusal_quotes_no_control_character(void **state)
{
	/* Found by fuzz_doctor_reply: an unclosed IPv6 address with a line
	   break in it came back quoted, line break and all, in the reason
	   the client prints. */
	static const char *const bad[] = {"[\xe8\xe8\xe8\n]", "[::1\x1b[2J]:25",
					  "host\r\n:25"};
	struct agent_mailhost t;
	char why[200];
	size_t i, k;

	(void)state;
	for (i = 0; i < N(bad); i++) {
		assert_int_equal(
		    agent_mailhost_parse(bad[i], 0, &t, why, sizeof(why)), -1);
		for (k = 0; why[k] != '\0'; k++)
			assert_true((unsigned char)why[k] >= 0x20 &&
				    why[k] != 0x7f);
	}
}

/* ------------------------------------------------------------------ */
/* The reply                                                           */

static void findings_encode_as_a_doctor_reply(void **state)
{
	struct doctor_report *r = report_new();
	unsigned char buf[8192];
	struct proto_writer w;
	struct proto_reader rd;
	struct proto_finding f;
	uint32_t n;
	uint8_t type;
	size_t flen;

	(void)state;
	doctor_add(r, PROTO_LEVEL_OK, "fine", NULL);
	doctor_addf(r, PROTO_LEVEL_PROBLEM, "do this", "broken %d", 42);
	proto_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(doctor_report_encode(r, &w), 0);
	assert_int_equal(proto_frame_peek(buf, w.len, PROTO_MAX_MSG, &flen), 0);
	assert_int_equal(proto_frame_open(buf, flen, &type, &rd), 0);
	assert_int_equal(type, PROTO_REP_DOCTOR);
	assert_int_equal(proto_dec_doctor_count(&rd, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(proto_dec_doctor_entry(&rd, &f), 0);
	assert_int_equal(f.level, PROTO_LEVEL_OK);
	assert_int_equal(f.fix.len, 0);
	assert_int_equal(proto_dec_doctor_entry(&rd, &f), 0);
	assert_int_equal(f.level, PROTO_LEVEL_PROBLEM);
	assert_memory_equal(f.text.ptr, "broken 42", f.text.len);
	assert_memory_equal(f.fix.ptr, "do this", f.fix.len);
	free(r);
}

static void too_many_findings_end_with_a_note(void **state)
{
	struct doctor_report *r = report_new();
	unsigned char *buf = malloc(PROTO_MAX_MSG);
	struct proto_writer w;
	struct proto_reader rd;
	struct proto_finding f;
	uint32_t n, i;
	uint8_t type;
	size_t flen;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < DOCTOR_MAX_FINDINGS + 10; i++)
		doctor_addf(r, PROTO_LEVEL_INFO, NULL, "finding %u", i);
	assert_int_equal(r->n, DOCTOR_MAX_FINDINGS);
	assert_int_equal(r->dropped, 10);
	proto_writer_init(&w, buf, PROTO_MAX_MSG);
	assert_int_equal(doctor_report_encode(r, &w), 0);
	assert_int_equal(proto_frame_peek(buf, w.len, PROTO_MAX_MSG, &flen), 0);
	assert_int_equal(proto_frame_open(buf, flen, &type, &rd), 0);
	assert_int_equal(proto_dec_doctor_count(&rd, &n), 0);
	assert_int_equal(n, DOCTOR_MAX_FINDINGS + 1);
	for (i = 0; i < n; i++)
		assert_int_equal(proto_dec_doctor_entry(&rd, &f), 0);
	assert_non_null(memmem(f.text.ptr, f.text.len, "10 more", 7));
	free(buf);
	free(r);
}

/* Each chunk as libcurl hands the server's lines to the debug callback. */
static void hear(struct doctor_heard *h, int imap, const char *const *chunks)
{
	memset(h, 0, sizeof(*h));
	for (; *chunks != NULL; chunks++)
		doctor_heard_feed(h, imap, *chunks, strlen(*chunks));
}

static void smtp_dialogue_keeps_greeting_offer_and_first_refusal(void **state)
{
	static const char *const said[] = {
	    "220 mx.example.com ESMTP ready\r\n",
	    "250-mx.example.com Hello\r\n250-SIZE 35882577\r\n"
	    "250-AUTH LOGIN XOAUTH2\r\n250 SMTPUTF8\r\n",
	    "535 5.7.3 Authentication unsuccessful [AM0PR02CA0001]\r\n",
	    "554 5.7.0 later refusal\r\n",
	    NULL,
	};
	struct doctor_heard h;

	(void)state;
	hear(&h, 0, said);
	assert_true(h.greeted);
	assert_string_equal(h.greeting, "220 mx.example.com ESMTP ready");
	assert_string_equal(h.offer, "AUTH LOGIN XOAUTH2");
	assert_string_equal(h.refusal, "535 5.7.3 Authentication unsuccessful "
				       "[AM0PR02CA0001]");
	assert_false(h.auth_ok);
	hear(&h, 0, (const char *const[]){"235 2.7.0 Accepted\r\n", NULL});
	assert_true(h.auth_ok);
	assert_string_equal(h.success, "235 2.7.0 Accepted");
}

static void imap_dialogue_decodes_the_challenge_and_drops_the_tag(void **state)
{
	/* {"status":"invalid_token"} after a NUL and a line break, in
	   base64, as a hostile or broken server might send it. */
	static const char *const said[] = {
	    "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n",
	    "+ AAp7InN0YXR1cyI6ImludmFsaWRfdG9rZW4ifQ==\r\n",
	    "A002 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
	    NULL,
	};
	struct doctor_heard h;

	(void)state;
	hear(&h, 1, said);
	assert_string_equal(h.offer, "OK [CAPABILITY IMAP4rev1 SASL-IR "
				     "AUTH=XOAUTH2] ready");
	assert_string_equal(h.challenge, "  {\"status\":\"invalid_token\"}");
	assert_string_equal(h.refusal,
			    "NO [AUTHENTICATIONFAILED] Authentication failed.");
	assert_false(h.preauth);
	hear(&h, 1, (const char *const[]){"* PREAUTH welcome\r\n", NULL});
	assert_true(h.preauth);
}

static void server_lines_lose_control_bytes_and_are_cut_to_fit(void **state)
{
	char big[3 * DOCTOR_LINE_MAX];
	struct doctor_heard h;
	size_t i;

	(void)state;
	hear(&h, 0,
	     (const char *const[]){"535 5.7.8 bad\x1b[31m token\x7f \t\r\n",
				   NULL});
	assert_string_equal(h.refusal, "535 5.7.8 bad [31m token");
	/* A line longer than the room is cut, and the next line is read
	   as a line of its own. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "554 ", 4);
	memcpy(big + sizeof(big) - 12, "\n235 ok\r\n", 10);
	memset(&h, 0, sizeof(h));
	doctor_heard_feed(&h, 0, big, strlen(big));
	assert_int_equal(strlen(h.refusal), DOCTOR_LINE_MAX - 1);
	assert_true(h.auth_ok);
	for (i = 0; i < sizeof(h.greeting) && h.greeting[i] != '\0'; i++)
		assert_true((unsigned char)h.greeting[i] >= 0x20);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(jwt_claims_of_an_exchange_token_are_read),
	    cmocka_unit_test(
		reauth_tells_a_revoked_grant_from_a_held_token_and_a_lifetime),
	    cmocka_unit_test(
		jwt_array_audience_is_joined_and_email_stands_for_upn),
	    cmocka_unit_test(opaque_tokens_are_not_jwts),
	    cmocka_unit_test(jwt_with_bad_base64_is_refused),
	    cmocka_unit_test(jwt_with_bad_json_is_refused),
	    cmocka_unit_test(jwt_exp_beyond_any_date_counts_as_none),
	    cmocka_unit_test(good_exchange_claims_raise_no_problem),
	    cmocka_unit_test(graph_token_for_office365_smtp_is_a_problem),
	    cmocka_unit_test(
		app_only_token_with_send_as_app_role_is_fine_for_smtp),
	    cmocka_unit_test(mail_replies_map_to_cause_and_remedy),
	    cmocka_unit_test(mailbox_fix_without_address_names_a_placeholder),
	    cmocka_unit_test(provider_errors_map_to_cause_and_remedy),
	    cmocka_unit_test(aadsts_numbers_are_found_in_text),
	    cmocka_unit_test(last_error_is_explained_with_its_remedy),
	    cmocka_unit_test(send_scope_refusal_is_explained_for_its_transport),
	    cmocka_unit_test(account_without_tokens_needs_a_login),
	    cmocka_unit_test(retrying_account_is_advised_by_what_failed),
	    cmocka_unit_test(planned_token_life_is_told),
	    cmocka_unit_test(mail_hosts_are_classified_by_domain),
	    cmocka_unit_test(
		secret_on_a_microsoft_delegated_account_is_flagged),
	    cmocka_unit_test(preset_scopes_fit_exchange_hosts),
	    cmocka_unit_test(graph_scopes_for_exchange_are_flagged),
	    cmocka_unit_test(missing_scopes_are_flagged),
	    cmocka_unit_test(mail_targets_are_parsed_strictly),
	    cmocka_unit_test(mail_target_refusal_quotes_no_control_character),
	    cmocka_unit_test(findings_encode_as_a_doctor_reply),
	    cmocka_unit_test(too_many_findings_end_with_a_note),
	    cmocka_unit_test(
		smtp_dialogue_keeps_greeting_offer_and_first_refusal),
	    cmocka_unit_test(
		imap_dialogue_decodes_the_challenge_and_drops_the_tag),
	    cmocka_unit_test(
		server_lines_lose_control_bytes_and_are_cut_to_fit),
	};

	if (sodium_init() < 0)
		return 1;
	const struct unit_group groups[] = {
	    UNIT_GROUP("doctor", tests, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
