/*
 * OAuth reply parsing and classification (DESIGN.md, "Refresh policy"),
 * the http URL policy, and real transfers on a libuv loop against a fake
 * HTTP server run in a child process on 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>
#include <uv.h>

#include <xoauth/xo_errors.h>

#include "oauth/http.h"
#include "oauth/oauth.h"
#include "secret/secret.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* Token replies, as data.                                             */

struct token_case {
	const char *name;
	long status;
	const char *body;
	enum oauth_class cls;
	int err;
	const char *access;  /* expected access token, or NULL */
	const char *refresh; /* expected refresh token, or NULL */
	long expires_in;     /* checked when cls == OAUTH_OK */
	const char *says;    /* a substring message must contain */
};

static const struct token_case accepted[] = {
    {"bearer_mixed_case", 200,
     "{\"access_token\":\"AT1\",\"token_type\":\"Bearer\","
     "\"expires_in\":3599,\"refresh_token\":\"RT1\",\"scope\":\"a b\"}",
     OAUTH_OK, 0, "AT1", "RT1", 3599, NULL},
    {"bearer_lower_expires_string_no_refresh", 200,
     "{\"access_token\":\"AT2\",\"token_type\":\"bearer\","
     "\"expires_in\":\"3600\"}",
     OAUTH_OK, 0, "AT2", NULL, 3600, NULL},
    {"bearer_upper_extra_fields", 200,
     "{\"token_type\":\"BEARER\",\"access_token\":\"AT3\","
     "\"expires_in\":120,\"ext_expires_in\":120,\"foo\":{\"bar\":[1,2]},"
     "\"refresh_token\":null}",
     OAUTH_OK, 0, "AT3", NULL, 120, NULL},
    {"no_token_type_no_expires_in", 200, "{\"access_token\":\"AT4\"}", OAUTH_OK,
     0, "AT4", NULL, 3600, NULL},
    {"expires_in_as_integral_real", 200,
     "{\"access_token\":\"AT5\",\"expires_in\":1800.0}", OAUTH_OK, 0, "AT5",
     NULL, 1800, NULL},
    {"created_status_is_fine", 201,
     "{\"access_token\":\"AT6\",\"refresh_token\":\"RT6\"}", OAUTH_OK, 0, "AT6",
     "RT6", 3600, NULL},
};

static const struct token_case broken[] = {
    {"not_json", 200, "access_token=AT", OAUTH_TRANSIENT, XO_ERR_PROVIDER_REPLY,
     NULL, NULL, 0, "not valid JSON"},
    {"html_page", 200, "  <html><body>Sign in</body></html>", OAUTH_TRANSIENT,
     XO_ERR_PROVIDER_REPLY, NULL, NULL, 0, "HTML"},
    {"empty_body", 200, "", OAUTH_TRANSIENT, XO_ERR_PROVIDER_REPLY, NULL, NULL,
     0, "empty"},
    {"json_array", 200, "[{\"access_token\":\"AT\"}]", OAUTH_TRANSIENT,
     XO_ERR_PROVIDER_REPLY, NULL, NULL, 0, "not an object"},
    {"no_access_token", 200, "{\"token_type\":\"Bearer\"}", OAUTH_TRANSIENT,
     XO_ERR_PROVIDER_REPLY, NULL, NULL, 0, "no access_token"},
    {"access_token_not_string", 200, "{\"access_token\":12345}",
     OAUTH_TRANSIENT, XO_ERR_PROVIDER_REPLY, NULL, NULL, 0,
     "access_token is not"},
    {"access_token_empty", 200, "{\"access_token\":\"\"}", OAUTH_TRANSIENT,
     XO_ERR_PROVIDER_REPLY, NULL, NULL, 0, "access_token is not"},
    {"token_type_mac", 200, "{\"access_token\":\"AT\",\"token_type\":\"mac\"}",
     OAUTH_TRANSIENT, XO_ERR_PROVIDER_REPLY, NULL, NULL, 0,
     "\"mac\" is not Bearer"},
    {"token_type_not_string", 200, "{\"access_token\":\"AT\",\"token_type\":1}",
     OAUTH_TRANSIENT, XO_ERR_PROVIDER_REPLY, NULL, NULL, 0,
     "token_type is not a string"},
    {"refresh_token_not_string", 200,
     "{\"access_token\":\"AT\",\"refresh_token\":[]}", OAUTH_TRANSIENT,
     XO_ERR_PROVIDER_REPLY, NULL, NULL, 0, "refresh_token is not"},
    {"truncated_json", 200, "{\"access_token\":\"AT\"", OAUTH_TRANSIENT,
     XO_ERR_PROVIDER_REPLY, NULL, NULL, 0, "not valid JSON"},
    {"error_400_html", 400, "<html>Bad Request</html>", OAUTH_TRANSIENT,
     XO_ERR_PROVIDER_REPLY, NULL, NULL, 0, "HTML"},
    {"error_400_without_error_field", 400, "{\"message\":\"no\"}",
     OAUTH_TRANSIENT, XO_ERR_PROVIDER_REPLY, NULL, NULL, 0, "no error field"},
};

#define ERR_BODY(e) "{\"error\":\"" e "\",\"error_description\":\"d\"}"

static const struct token_case errors[] = {
    {"invalid_grant_needs_login", 400, ERR_BODY("invalid_grant"), OAUTH_REAUTH,
     XO_ERR_LOGIN_NEEDED, NULL, NULL, 0, "log in again"},
    {"invalid_client_is_config", 400, ERR_BODY("invalid_client"), OAUTH_CONFIG,
     XO_ERR_PROVIDER_CONFIG, NULL, NULL, 0, "client_id"},
    {"invalid_client_401_is_config", 401, ERR_BODY("invalid_client"),
     OAUTH_CONFIG, XO_ERR_PROVIDER_CONFIG, NULL, NULL, 0, "client_secret"},
    {"unauthorized_client_is_config", 400, ERR_BODY("unauthorized_client"),
     OAUTH_CONFIG, XO_ERR_PROVIDER_CONFIG, NULL, NULL, 0, "app registration"},
    {"invalid_scope_is_config", 400, ERR_BODY("invalid_scope"), OAUTH_CONFIG,
     XO_ERR_PROVIDER_CONFIG, NULL, NULL, 0, "the provider refused the scopes"},
    {"unsupported_grant_type_is_config", 400,
     ERR_BODY("unsupported_grant_type"), OAUTH_CONFIG, XO_ERR_PROVIDER_CONFIG,
     NULL, NULL, 0, "another flow"},
    {"authorization_pending", 400, ERR_BODY("authorization_pending"),
     OAUTH_PENDING, XO_ERR_LOGIN_PENDING, NULL, NULL, 0, NULL},
    {"slow_down", 400, ERR_BODY("slow_down"), OAUTH_SLOW_DOWN,
     XO_ERR_LOGIN_PENDING, NULL, NULL, 0, NULL},
    {"access_denied", 400, ERR_BODY("access_denied"), OAUTH_DENIED,
     XO_ERR_LOGIN_DENIED, NULL, NULL, 0, NULL},
    {"microsoft_authorization_declined", 400,
     ERR_BODY("authorization_declined"), OAUTH_DENIED, XO_ERR_LOGIN_DENIED,
     NULL, NULL, 0, NULL},
    {"expired_token", 400, ERR_BODY("expired_token"), OAUTH_EXPIRED,
     XO_ERR_LOGIN_EXPIRED, NULL, NULL, 0, NULL},
    {"pending_with_200_as_github_does", 200,
     "{\"error\":\"authorization_pending\"}", OAUTH_PENDING,
     XO_ERR_LOGIN_PENDING, NULL, NULL, 0, NULL},
    {"temporarily_unavailable_is_transient", 400,
     ERR_BODY("temporarily_unavailable"), OAUTH_TRANSIENT, XO_ERR_HTTP, NULL,
     NULL, 0, NULL},
    {"unknown_4xx_quotes_provider", 400,
     "{\"error\":\"weird_thing\",\"error_description\":\"Bad\\u0001 "
     "thing\"}",
     OAUTH_CONFIG, XO_ERR_PROVIDER_CONFIG, NULL, NULL, 0,
     "weird_thing: \"Bad? thing\""},
    {"invalid_request_quotes_provider", 400,
     "{\"error\":\"invalid_request\",\"error_description\":\"missing "
     "client_id\"}",
     OAUTH_CONFIG, XO_ERR_PROVIDER_CONFIG, NULL, NULL, 0,
     "invalid_request: \"missing client_id\""},
    {"http_500_text", 500, "Internal Server Error", OAUTH_TRANSIENT,
     XO_ERR_HTTP, NULL, NULL, 0, "HTTP 500"},
    {"http_503_json", 503, "{\"error\":\"busy\"}", OAUTH_TRANSIENT, XO_ERR_HTTP,
     NULL, NULL, 0, "HTTP 503"},
    {"http_429", 429, "", OAUTH_TRANSIENT, XO_ERR_HTTP, NULL, NULL, 0,
     "HTTP 429"},
    {"http_408", 408, "", OAUTH_TRANSIENT, XO_ERR_HTTP, NULL, NULL, 0,
     "HTTP 408"},
    {"http_404_is_config", 404, "<html>Not Found</html>", OAUTH_CONFIG,
     XO_ERR_PROVIDER_CONFIG, NULL, NULL, 0, "HTTP 404"},
    {"redirect_302_is_refused_and_retried", 302, "", OAUTH_TRANSIENT,
     XO_ERR_HTTP, NULL, NULL, 0, "redirect is refused"},
    {"redirect_307_is_refused_and_retried", 307, "", OAUTH_TRANSIENT,
     XO_ERR_HTTP, NULL, NULL, 0, "set token_endpoint"},
    {"moved_301_is_config", 301, "", OAUTH_CONFIG, XO_ERR_PROVIDER_CONFIG, NULL,
     NULL, 0, "redirect is refused"},
    {"moved_308_is_config", 308, "", OAUTH_CONFIG, XO_ERR_PROVIDER_CONFIG, NULL,
     NULL, 0, "new URL"},
    {"no_reply_is_transient", 0, "", OAUTH_TRANSIENT, XO_ERR_HTTP, NULL, NULL,
     0, NULL},
};

static void check_token_case(const struct token_case *t)
{
	struct oauth_result res;

	oauth_parse_token_reply(t->status, t->body, strlen(t->body), -1, &res);
	if (res.cls != t->cls || res.err != t->err) {
		print_error("case %s: class %s err %d (%s)\n", t->name,
			    oauth_class_name(res.cls), res.err, res.message);
		fail();
	}
	if (t->access != NULL) {
		assert_non_null(res.access_token);
		assert_string_equal(res.access_token->data, t->access);
		assert_int_equal(res.access_token->len, strlen(t->access));
		assert_int_equal(res.expires_in, t->expires_in);
	} else {
		assert_null(res.access_token);
	}
	if (t->refresh != NULL) {
		assert_non_null(res.refresh_token);
		assert_string_equal(res.refresh_token->data, t->refresh);
	} else {
		assert_null(res.refresh_token);
	}
	if (t->says != NULL && strstr(res.message, t->says) == NULL) {
		print_error("case %s: message \"%s\" lacks \"%s\"\n", t->name,
			    res.message, t->says);
		fail();
	}
	/* No path may leave a token in the message. */
	assert_null(strstr(res.message, "AT"));
	oauth_result_cleanup(&res);
}

static void odd_but_valid_token_replies_are_accepted(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(accepted); i++)
		check_token_case(&accepted[i]);
}

static void broken_token_replies_are_rejected_with_a_reason(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(broken); i++)
		check_token_case(&broken[i]);
}

static void error_replies_are_classified(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(errors); i++)
		check_token_case(&errors[i]);
}

static void granted_scope_is_kept(void **state)
{
	struct oauth_result res;
	const char *b = accepted[0].body;

	(void)state;
	oauth_parse_token_reply(200, b, strlen(b), -1, &res);
	assert_int_equal(res.cls, OAUTH_OK);
	assert_string_equal(res.scope, "a b");
	oauth_result_cleanup(&res);
	assert_null(res.scope);
	assert_null(res.access_token);
}

struct aadsts_case {
	long code;
	const char *error;
	enum oauth_class cls;
	const char *says;
};

static const struct aadsts_case aadsts[] = {
    {700082, "invalid_grant", OAUTH_REAUTH, "log in again"},
    {50173, "invalid_grant", OAUTH_REAUTH, "log in again"},
    {70000, "invalid_grant", OAUTH_REAUTH, "log in again"},
    {70008, "invalid_grant", OAUTH_REAUTH, "log in again"},
    {70043, "invalid_grant", OAUTH_REAUTH, "log in again"},
    {50076, "invalid_grant", OAUTH_REAUTH, "multi-factor"},
    {65001, "invalid_grant", OAUTH_REAUTH, "consent"},
    /* The code decides even when the error name says otherwise. */
    {65001, "invalid_request", OAUTH_REAUTH, "consent"},
    {700025, "invalid_client", OAUTH_CONFIG,
     "the app is a public client: remove client_secret from the config"},
    {7000218, "invalid_client", OAUTH_CONFIG,
     "enable 'Allow public client flows' in the app registration or "
     "configure client_secret"},
    {700016, "unauthorized_client", OAUTH_CONFIG,
     "client_id not found in that tenant"},
    {700016, "invalid_grant", OAUTH_CONFIG,
     "client_id not found in that tenant"},
    {50196, "invalid_request", OAUTH_TRANSIENT, "will retry"},
};

static void aadsts_codes_are_classified(void **state)
{
	struct oauth_result res;
	char body[512];
	size_t i;
	int how;

	(void)state;
	for (i = 0; i < N(aadsts); i++) {
		/* 0: code in error_codes and description; 1: only in
		   error_codes; 2: only in the description. */
		for (how = 0; how < 3; how++) {
			snprintf(body, sizeof(body),
				 "{\"error\":\"%s\",\"error_description\":"
				 "\"%s%ld: Something. Trace ID: "
				 "0b2f6a1e-1f4e-4c8b-9d51-2d1c3f0e9a00\","
				 "\"error_codes\":[%ld],\"trace_id\":\"x\"}",
				 aadsts[i].error, how == 1 ? "X" : "AADSTS",
				 aadsts[i].code,
				 how == 2 ? 1L : aadsts[i].code);
			oauth_parse_token_reply(400, body, strlen(body), -1,
						&res);
			if (res.cls != aadsts[i].cls ||
			    strstr(res.message, aadsts[i].says) == NULL) {
				print_error("AADSTS%ld (%d): %s: %s\n",
					    aadsts[i].code, how,
					    oauth_class_name(res.cls),
					    res.message);
				fail();
			}
			/* GUIDs (trace ids) are worth keeping for support. */
			assert_non_null(
			    strstr(res.message,
				   "0b2f6a1e-1f4e-4c8b-9d51-2d1c3f0e9a00"));
			oauth_result_cleanup(&res);
		}
	}
}

static void echoed_tokens_are_redacted_from_messages(void **state)
{
	struct oauth_result res;
	const char *tok = "0.AXEAabcdefghijklmnopqrstuvwxyzABCDEFGHIJ_-"
			  "0123456789abcdefghij";
	char body[512];

	(void)state;
	snprintf(body, sizeof(body),
		 "{\"error\":\"invalid_grant\",\"error_description\":\"Token "
		 "%s is not valid\"}",
		 tok);
	oauth_parse_token_reply(400, body, strlen(body), -1, &res);
	assert_int_equal(res.cls, OAUTH_REAUTH);
	assert_null(strstr(res.message, "abcdefghijklmnopqrstuvwxyz"));
	assert_non_null(strstr(res.message, "Token [redacted] is not valid"));
	oauth_result_cleanup(&res);
}

static void long_descriptions_are_cut(void **state)
{
	struct oauth_result res;
	char body[4096], desc[2000];

	(void)state;
	memset(desc, 'x', sizeof(desc) - 1);
	for (size_t i = 0; i < sizeof(desc) - 1; i += 10)
		desc[i] = ' ';
	desc[sizeof(desc) - 1] = '\0';
	snprintf(body, sizeof(body),
		 "{\"error\":\"invalid_request\",\"error_description\":\"%s\"}",
		 desc);
	oauth_parse_token_reply(400, body, strlen(body), -1, &res);
	assert_int_equal(res.cls, OAUTH_CONFIG);
	assert_true(strlen(res.message) < 400);
	assert_non_null(strstr(res.message, "...\""));
	oauth_result_cleanup(&res);
}

/* expires_in, as data: what the account plans with, how it was found,
   and what the reply said (xoauth-agent(1), REFRESH). */
struct lifetime_case {
	const char *name;
	const char *expires_in; /* JSON text of the member, NULL: absent */
	long planned;
	enum oauth_lifetime how;
	const char *said; /* expires_in_said; "" when GIVEN */
};

static const struct lifetime_case lifetimes[] = {
    {"an_hour", "3600", 3600, OAUTH_LIFETIME_GIVEN, ""},
    {"a_second", "1", 1, OAUTH_LIFETIME_GIVEN, ""},
    {"a_day_exactly", "86400", 86400, OAUTH_LIFETIME_GIVEN, ""},
    {"a_string", "\"1800\"", 1800, OAUTH_LIFETIME_GIVEN, ""},
    {"fraction_cut_to_seconds", "10.5", 10, OAUTH_LIFETIME_GIVEN, ""},
    {"missing", NULL, OAUTH_DEFAULT_LIFETIME, OAUTH_LIFETIME_MISSING,
     "missing"},
    {"null", "null", OAUTH_DEFAULT_LIFETIME, OAUTH_LIFETIME_MISSING, "missing"},
    {"zero", "0", OAUTH_DEFAULT_LIFETIME, OAUTH_LIFETIME_UNUSABLE, "0"},
    {"zero_string", "\"0\"", OAUTH_DEFAULT_LIFETIME, OAUTH_LIFETIME_UNUSABLE,
     "\"0\""},
    {"negative", "-3600", OAUTH_DEFAULT_LIFETIME, OAUTH_LIFETIME_UNUSABLE,
     "-3600"},
    {"under_a_second", "0.5", OAUTH_DEFAULT_LIFETIME, OAUTH_LIFETIME_UNUSABLE,
     "0.5"},
    {"words", "\"soon\"", OAUTH_DEFAULT_LIFETIME, OAUTH_LIFETIME_UNUSABLE,
     "\"soon\""},
    {"a_token_like_string_is_not_quoted",
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
     OAUTH_DEFAULT_LIFETIME, OAUTH_LIFETIME_UNUSABLE, "\"[redacted]\""},
    {"an_object", "{\"s\":1}", OAUTH_DEFAULT_LIFETIME, OAUTH_LIFETIME_UNUSABLE,
     "not a number"},
    {"boolean", "true", OAUTH_DEFAULT_LIFETIME, OAUTH_LIFETIME_UNUSABLE,
     "not a number"},
    {"beyond_long", "\"99999999999999999999999\"", OAUTH_DEFAULT_LIFETIME,
     OAUTH_LIFETIME_UNUSABLE, "\"99999999999999999999999\""},
    {"a_day_and_a_second", "86401", OAUTH_MAX_LIFETIME, OAUTH_LIFETIME_CAPPED,
     "86401"},
    {"ten_years", "315360000", OAUTH_MAX_LIFETIME, OAUTH_LIFETIME_CAPPED,
     "315360000"},
    {"milliseconds_by_mistake", "3600000", OAUTH_MAX_LIFETIME,
     OAUTH_LIFETIME_CAPPED, "3600000"},
    {"huge_real", "1e300", OAUTH_MAX_LIFETIME, OAUTH_LIFETIME_CAPPED,
     "9223372036854775807"},
};

/* A reply whose expires_in is missing, garbled or absurd still grants its
   tokens, refresh token included: with a rotating one, refusing the
   reply would leave only the spent one. */
static void any_expires_in_keeps_the_tokens_and_plans_a_sane_life(void **state)
{
	struct oauth_result res;
	char body[512];
	size_t i;

	(void)state;
	for (i = 0; i < N(lifetimes); i++) {
		const struct lifetime_case *t = &lifetimes[i];

		if (t->expires_in != NULL)
			snprintf(body, sizeof(body),
				 "{\"access_token\":\"AT\",\"token_type\":"
				 "\"Bearer\",\"refresh_token\":\"RT2\","
				 "\"expires_in\":%s}",
				 t->expires_in);
		else
			snprintf(body, sizeof(body),
				 "{\"access_token\":\"AT\",\"token_type\":"
				 "\"Bearer\",\"refresh_token\":\"RT2\"}");
		oauth_parse_token_reply(200, body, strlen(body), -1, &res);
		if (res.cls != OAUTH_OK || res.expires_in != t->planned ||
		    res.lifetime != t->how ||
		    strcmp(res.expires_in_said, t->said) != 0) {
			print_error("case %s: class %s, %ld s, how %d, said "
				    "\"%s\" (%s)\n",
				    t->name, oauth_class_name(res.cls),
				    res.expires_in, (int)res.lifetime,
				    res.expires_in_said, res.message);
			fail();
		}
		assert_non_null(res.access_token);
		assert_non_null(res.refresh_token);
		assert_string_equal(res.refresh_token->data, "RT2");
		assert_in_range(res.expires_in, 1, OAUTH_MAX_LIFETIME);
		oauth_result_cleanup(&res);
	}
}

/* Where a redirect points is said only when it is a plain host. */
static void refused_redirect_names_a_plain_host_only(void **state)
{
	struct oauth_result res;

	(void)state;
	oauth_result_init(&res);
	oauth_redirect_refused(&res, 307, "login.example.net");
	assert_int_equal(res.cls, OAUTH_TRANSIENT);
	assert_int_equal(res.fault, OAUTH_FAULT_REDIRECT);
	assert_non_null(
	    strstr(res.message, "(HTTP 307) to login.example.net,"));
	oauth_redirect_refused(&res, 308, "[::1]");
	assert_int_equal(res.cls, OAUTH_CONFIG);
	assert_int_equal(res.err, XO_ERR_PROVIDER_CONFIG);
	assert_non_null(strstr(res.message, "(HTTP 308) to [::1],"));
	oauth_redirect_refused(&res, 302, "evil\r\nhost");
	assert_null(strstr(res.message, "evil"));
	assert_non_null(strstr(res.message, "(HTTP 302), and"));
	oauth_redirect_refused(&res, 302, NULL);
	assert_non_null(strstr(res.message, "(HTTP 302), and"));
	oauth_result_cleanup(&res);
}

static void retry_after_is_propagated(void **state)
{
	struct oauth_result res;
	const char *ok = "{\"access_token\":\"AT\"}";

	(void)state;
	oauth_parse_token_reply(429, "", 0, 30, &res);
	assert_int_equal(res.cls, OAUTH_TRANSIENT);
	assert_int_equal(res.retry_after, 30);
	oauth_result_cleanup(&res);

	oauth_parse_token_reply(503, "<html/>", 7, 120, &res);
	assert_int_equal(res.cls, OAUTH_TRANSIENT);
	assert_int_equal(res.retry_after, 120);
	oauth_result_cleanup(&res);

	oauth_parse_token_reply(400, ERR_BODY("slow_down"),
				strlen(ERR_BODY("slow_down")), 9, &res);
	assert_int_equal(res.cls, OAUTH_SLOW_DOWN);
	assert_int_equal(res.retry_after, 9);
	oauth_result_cleanup(&res);

	oauth_parse_token_reply(200, ok, strlen(ok), -1, &res);
	assert_int_equal(res.retry_after, -1);
	oauth_result_cleanup(&res);
}

/* header.payload.signature with payload as base64url of claims. */
static void make_jwt(char *out, size_t len, const char *claims, int pad)
{
	char b64[1024];

	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)claims,
			  strlen(claims),
			  pad ? sodium_base64_VARIANT_URLSAFE
			      : sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, len, "eyJhbGciOiJSUzI1NiJ9.%s.c2lnbmF0dXJl", b64);
}

static void email_is_taken_from_the_id_token(void **state)
{
	static const struct {
		const char *claims;
		int pad;
		const char *email;
	} cases[] = {
	    {"{\"sub\":\"1\",\"email\":\"alice@example.com\"}", 0,
	     "alice@example.com"},
	    {"{\"preferred_username\":\"bob@contoso.com\",\"name\":\"B\"}", 0,
	     "bob@contoso.com"},
	    {"{\"email\":\"carol@example.org\","
	     "\"preferred_username\":\"x@y.z\"}",
	     1, "carol@example.org"},
	    {"{\"preferred_username\":\"dave\"}", 0, NULL},
	    {"{\"email\":\"has space@example.com\"}", 0, NULL},
	    {"[1,2,3]", 0, NULL},
	    {"not json at all", 0, NULL},
	};
	char jwt[1200], body[1400];
	struct oauth_result res;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		make_jwt(jwt, sizeof(jwt), cases[i].claims, cases[i].pad);
		snprintf(body, sizeof(body),
			 "{\"access_token\":\"AT\",\"id_token\":\"%s\"}", jwt);
		oauth_parse_token_reply(200, body, strlen(body), -1, &res);
		assert_int_equal(res.cls, OAUTH_OK);
		if (cases[i].email != NULL)
			assert_string_equal(res.email, cases[i].email);
		else
			assert_null(res.email);
		oauth_result_cleanup(&res);
	}
	/* A malformed id_token costs the address, not the token. */
	body[0] = '\0';
	snprintf(body, sizeof(body),
		 "{\"access_token\":\"AT\",\"id_token\":\"garbage\"}");
	oauth_parse_token_reply(200, body, strlen(body), -1, &res);
	assert_int_equal(res.cls, OAUTH_OK);
	assert_null(res.email);
	oauth_result_cleanup(&res);
}

/* ------------------------------------------------------------------ */
/* Device authorization replies.                                       */

struct device_case {
	const char *name;
	long status;
	const char *body;
	int ok;
	const char *uri;
	const char *complete;
	long expires_in, interval;
	const char *says;
};

static const struct device_case device_cases[] = {
    {"microsoft", 200,
     "{\"device_code\":\"DC1\",\"user_code\":\"ABCD1234\","
     "\"verification_uri\":\"https://microsoft.com/devicelogin\","
     "\"expires_in\":900,\"interval\":5,\"message\":\"To sign in...\"}",
     1, "https://microsoft.com/devicelogin", NULL, 900, 5, NULL},
    {"google_verification_url", 200,
     "{\"device_code\":\"DC2\",\"user_code\":\"ABC-DEF-GHI\","
     "\"verification_url\":\"https://www.google.com/device\","
     "\"expires_in\":1800,\"interval\":\"7\"}",
     1, "https://www.google.com/device", NULL, 1800, 7, NULL},
    {"oidc_provider_without_interval", 200,
     "{\"device_code\":\"DC3\",\"user_code\":\"WDJB-MJHT\","
     "\"verification_uri\":\"http://127.0.0.1:3000/device\","
     "\"verification_uri_complete\":"
     "\"http://127.0.0.1:3000/device?user_code=WDJB-MJHT\","
     "\"expires_in\":600}",
     1, "http://127.0.0.1:3000/device",
     "http://127.0.0.1:3000/device?user_code=WDJB-MJHT", 600, 5, NULL},
    {"defaults", 200,
     "{\"device_code\":\"DC4\",\"user_code\":\"U\","
     "\"verification_uri\":\"https://idp/device\",\"interval\":0}",
     1, "https://idp/device", NULL, 900, 5, NULL},
    {"no_device_code", 200,
     "{\"user_code\":\"U\",\"verification_uri\":\"https://idp/d\"}", 0, NULL,
     NULL, 0, 0, "device_code"},
    {"no_verification_uri", 200, "{\"device_code\":\"D\",\"user_code\":\"U\"}",
     0, NULL, NULL, 0, 0, "verification_uri"},
    {"user_code_with_control_chars", 200,
     "{\"device_code\":\"D\",\"user_code\":\"U\\u001b[31m\","
     "\"verification_uri\":\"https://idp/d\"}",
     0, NULL, NULL, 0, 0, "user_code"},
    {"negative_expires_in", 200,
     "{\"device_code\":\"D\",\"user_code\":\"U\","
     "\"verification_uri\":\"https://idp/d\",\"expires_in\":-1}",
     0, NULL, NULL, 0, 0, "expires_in"},
    {"not_json", 200, "<html></html>", 0, NULL, NULL, 0, 0, "HTML"},
    {"error_status", 400, "{\"error\":\"invalid_scope\"}", 0, NULL, NULL, 0, 0,
     "HTTP 400"},
};

static void device_replies_are_parsed(void **state)
{
	struct oauth_device d;
	char why[256];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < N(device_cases); i++) {
		const struct device_case *t = &device_cases[i];

		r = oauth_parse_device_reply(
		    t->status, t->body, strlen(t->body), &d, why, sizeof(why));
		if (!t->ok) {
			if (r != XO_ERR_PROVIDER_REPLY ||
			    strstr(why, t->says) == NULL) {
				print_error("case %s: r=%d why=%s\n", t->name,
					    r, why);
				fail();
			}
			assert_null(d.device_code);
			assert_null(d.user_code);
			continue;
		}
		if (r != 0) {
			print_error("case %s: %s\n", t->name, why);
			fail();
		}
		assert_non_null(d.device_code);
		assert_non_null(d.user_code);
		assert_string_equal(d.verification_uri, t->uri);
		if (t->complete != NULL)
			assert_string_equal(d.verification_uri_complete,
					    t->complete);
		else
			assert_null(d.verification_uri_complete);
		assert_int_equal(d.expires_in, t->expires_in);
		assert_int_equal(d.interval, t->interval);
		oauth_device_cleanup(&d);
		assert_null(d.device_code);
	}
}

/* ------------------------------------------------------------------ */
/* URL policy.                                                         */

static void only_https_or_loopback_http_is_allowed(void **state)
{
	static const struct {
		const char *url;
		int ok;
	} cases[] = {
	    {"https://login.microsoftonline.com/common/oauth2/v2.0/token", 1},
	    {"HTTPS://oauth2.googleapis.com/token", 1},
	    {"http://127.0.0.1:8080/token", 1},
	    {"http://127.3.4.5/token", 1},
	    {"http://localhost:3000/token", 1},
	    {"http://LOCALHOST/token", 1},
	    {"http://[::1]:8080/token", 1},
	    {"http://example.com/token", 0},
	    {"http://127.0.0.1.evil.com/token", 0},
	    {"http://localhost.evil.com/token", 0},
	    {"http://10.0.0.1/token", 0},
	    {"http://[::2]/token", 0},
	    {"http://[::ffff:127.0.0.1]/token", 0},
	    {"ftp://127.0.0.1/token", 0},
	    {"file:///etc/passwd", 0},
	    {"gopher://localhost/", 0},
	    {"not a url", 0},
	    {"", 0},
	    {NULL, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		if (agent_http_url_allowed(cases[i].url) != cases[i].ok) {
			print_error("%s: expected %d\n",
				    cases[i].url ? cases[i].url : "(null)",
				    cases[i].ok);
			fail();
		}
	}
}

/* ------------------------------------------------------------------ */
/* The fake server: a child process answering canned replies by path.  */

static pid_t fake_pid = -1;
static int fake_port;

#define BIG_LEN (AGENT_HTTP_MAX_RESPONSE + 4000)
#define REFRESH_FORM                                                           \
	"grant_type=refresh_token&client_id=cid&refresh_token=r%2Ft%20k%26"    \
	"%3D&scope=openid%20offline_access&client_secret=s%26x"
#define PENDING_FORM                                                           \
	"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&"   \
	"device_code=pending&client_id=cid"
#define DONE_FORM                                                              \
	"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&"   \
	"device_code=DCX&client_id=cid"
#define DEVICE_FORM "client_id=cid&scope=openid%20offline_access"
#define APP_FORM                                                               \
	"grant_type=client_credentials&client_id=cid&client_secret=s%26x&"     \
	"scope=openid%20offline_access"

static void write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, int status, const char *extra, const char *body,
		  size_t len, int with_length)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d X\r\nConnection: close\r\n%s", status,
		     extra != NULL ? extra : "");
	if (with_length)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Length: %zu\r\n", len);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	write_all(fd, head, (size_t)n);
	write_all(fd, body, len);
}

static void reply_json(int fd, int status, const char *body)
{
	reply(fd, status, "Content-Type: application/json\r\n", body,
	      strlen(body), 1);
}

/* Reads one request; returns the body (NUL-terminated) or NULL. */
static char *read_request(int fd, char *buf, size_t cap, char *path,
			  size_t pathlen)
{
	size_t got = 0, need;
	ssize_t n;
	char *end = NULL, *cl, *body;
	long clen = 0;

	while (end == NULL) {
		if (got + 1 >= cap)
			return NULL;
		n = read(fd, buf + got, cap - 1 - got);
		if (n <= 0)
			return NULL;
		got += (size_t)n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (sscanf(buf, "%*s %255s", path) != 1 || pathlen < 256)
		return NULL;
	*end = '\0';
	for (cl = buf; (cl = strchr(cl, '\n')) != NULL; cl++) {
		if (strncasecmp(cl + 1, "content-length:", 15) == 0)
			clen = strtol(cl + 16, NULL, 10);
	}
	body = end + 4;
	need = (size_t)(body - buf) + (size_t)clen;
	if (need + 1 > cap)
		return NULL;
	while (got < need) {
		n = read(fd, buf + got, need - got);
		if (n <= 0)
			return NULL;
		got += (size_t)n;
	}
	body[clen] = '\0';
	return body;
}

static void serve_one(int fd, int *held, size_t *nheld)
{
	static char buf[65536], echo[4096];
	/* Requests served, but for /count, which answers it: a test asks it
	   whether a call sent anything at all. */
	static int served;
	char path[256], doc[512], date[64], hdr[128];
	char *body, *big;
	time_t t;
	struct tm tm;
	int n;

	if ((body = read_request(fd, buf, sizeof(buf), path, sizeof(path))) ==
	    NULL)
		goto out;
	if (strcmp(path, "/count") == 0) {
		n = snprintf(doc, sizeof(doc), "%d", served);
		reply(fd, 200, NULL, doc, (size_t)n, 1);
		goto out;
	}
	served++;
	if (strcmp(path, "/ok") == 0) {
		reply(fd, 200, NULL, "hello", 5, 1);
	} else if (strcmp(path, "/big") == 0 ||
		   strcmp(path, "/bigchunk") == 0 ||
		   strcmp(path, "/exact") == 0) {
		size_t len = strcmp(path, "/exact") == 0
				 ? AGENT_HTTP_MAX_RESPONSE
				 : BIG_LEN;

		big = malloc(len);
		memset(big, 'a', len);
		/* Without a length the write callback's cap must act. */
		reply(fd, 200, NULL, big, len, strcmp(path, "/big") == 0);
		free(big);
	} else if (strcmp(path, "/retry429") == 0) {
		reply_json(fd, 429, "{}");
		goto out; /* no Retry-After: see /retry429h */
	} else if (strcmp(path, "/retry429h") == 0) {
		reply(fd, 429, "Retry-After: 7\r\n", "{}", 2, 1);
	} else if (strcmp(path, "/retrydate") == 0) {
		t = time(NULL) + 120;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		snprintf(hdr, sizeof(hdr), "Retry-After: %s\r\n", date);
		reply(fd, 503, hdr, "busy", 4, 1);
	} else if (strcmp(path, "/redirect") == 0) {
		reply(fd, 302, "Location: /ok\r\n", "moved", 5, 1);
	} else if (strcmp(path, "/redirect-away") == 0) {
		reply(fd, 307,
		      "Location: https://elsewhere.example:8443/token?x=1\r\n",
		      "moved", 5, 1);
	} else if (strcmp(path, "/half") == 0 || strcmp(path, "/reset") == 0) {
		/* The head and half the body of a reply, then the end of
		   the connection: a close, or a reset (SO_LINGER 0). */
		static const char head[] =
		    "HTTP/1.1 200 X\r\nContent-Type: application/json\r\n"
		    "Content-Length: 100\r\n\r\n";
		static const char half[] = "{\"access_token\":\"A";
		struct linger lg = {1, 0};

		write_all(fd, head, sizeof(head) - 1);
		write_all(fd, half, sizeof(half) - 1);
		if (strcmp(path, "/reset") == 0) {
			/* Let the client read what came before the reset,
			   which would otherwise discard it. */
			usleep(100 * 1000);
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
	} else if (strcmp(path, "/slow") == 0) {
		if (*nheld < 16) {
			held[(*nheld)++] = fd;
			return; /* never answered */
		}
	} else if (strcmp(path, "/echo") == 0) {
		reply(fd, 200, NULL, body, strlen(body), 1);
	} else if (strcmp(path, "/echo-form") == 0) {
		/* Token and device endpoint at once, the form sent coming back
		   as the access token and as the device code, so that a test
		   reads what a grant sent.  A form is URL-encoded: it needs no
		   JSON escaping. */
		snprintf(echo, sizeof(echo),
			 "{\"access_token\":\"%s\",\"device_code\":\"%s\","
			 "\"user_code\":\"U\","
			 "\"verification_uri\":\"http://127.0.0.1/verify\"}",
			 body, body);
		reply_json(fd, 200, echo);
	} else if (strcmp(path, "/.well-known/openid-configuration") == 0) {
		snprintf(doc, sizeof(doc),
			 "{\"issuer\":\"http://127.0.0.1:%d\","
			 "\"token_endpoint\":\"http://127.0.0.1:%d/token\","
			 "\"device_authorization_endpoint\":"
			 "\"http://127.0.0.1:%d/device\","
			 "\"authorization_endpoint\":"
			 "\"http://127.0.0.1:%d/auth\"}",
			 fake_port, fake_port, fake_port, fake_port);
		reply_json(fd, 200, doc);
	} else if (strcmp(path, "/bad/.well-known/openid-configuration") == 0) {
		snprintf(doc, sizeof(doc),
			 "{\"issuer\":\"http://127.0.0.1:%d/evil\","
			 "\"token_endpoint\":\"http://127.0.0.1:%d/token\"}",
			 fake_port, fake_port);
		reply_json(fd, 200, doc);
	} else if (strcmp(path, "/.well-known/oauth-authorization-server/fb") ==
		   0) {
		snprintf(doc, sizeof(doc),
			 "{\"issuer\":\"http://127.0.0.1:%d/fb\","
			 "\"token_endpoint\":\"http://127.0.0.1:%d/token\"}",
			 fake_port, fake_port);
		reply_json(fd, 200, doc);
	} else if (strcmp(path, "/token") == 0) {
		if (strcmp(body, REFRESH_FORM) == 0 ||
		    strcmp(body, DONE_FORM) == 0)
			reply_json(fd, 200,
				   "{\"access_token\":\"AT\","
				   "\"refresh_token\":\"RT2\","
				   "\"expires_in\":\"60\","
				   "\"token_type\":\"bearer\"}");
		else if (strcmp(body, APP_FORM) == 0)
			reply_json(fd, 200,
				   "{\"access_token\":\"APP\","
				   "\"expires_in\":3599,"
				   "\"token_type\":\"Bearer\"}");
		else if (strcmp(body, PENDING_FORM) == 0)
			reply_json(fd, 400,
				   "{\"error\":\"authorization_pending\"}");
		else
			reply_json(fd, 400,
				   "{\"error\":\"invalid_request\","
				   "\"error_description\":\"unexpected "
				   "form\"}");
	} else if (strcmp(path, "/device") == 0) {
		if (strcmp(body, DEVICE_FORM) == 0)
			reply_json(fd, 200,
				   "{\"device_code\":\"DCX\","
				   "\"user_code\":\"ABCD-EFGH\","
				   "\"verification_uri\":"
				   "\"http://127.0.0.1/verify\","
				   "\"expires_in\":600}");
		else
			reply_json(fd, 400, "{\"error\":\"invalid_request\"}");
	} else {
		reply(fd, 404, NULL, "no", 2, 1);
	}
out:
	close(fd);
}

static void fake_server(int lfd)
{
	int held[16];
	size_t nheld = 0;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		serve_one(fd, held, &nheld);
	}
}

static int start_fake(void **state)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int lfd, one = 1;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 64) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) != 0)
		return -1;
	fake_port = ntohs(sin.sin_port);
	if ((fake_pid = fork()) < 0)
		return -1;
	if (fake_pid == 0)
		fake_server(lfd);
	close(lfd);
	return 0;
}

static int stop_fake(void **state)
{
	(void)state;
	if (fake_pid > 0) {
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
	}
	return 0;
}

static void url_for(char *buf, size_t len, const char *path)
{
	snprintf(buf, len, "http://127.0.0.1:%d%s", fake_port, path);
}

/* ------------------------------------------------------------------ */
/* http transfers.                                                     */

struct got {
	int calls;
	int err;
	enum oauth_fault fault;
	char error[320];
	char redirect_host[256];
	long status;
	long retry_after;
	size_t body_len;
	char body[256];
};

static void on_resp(void *arg, const struct agent_http_resp *r)
{
	struct got *g = arg;

	g->calls++;
	g->err = r->err;
	g->fault = r->fault;
	snprintf(g->error, sizeof(g->error), "%s", r->error);
	snprintf(g->redirect_host, sizeof(g->redirect_host), "%s",
		 r->redirect_host);
	g->status = r->status;
	g->retry_after = r->retry_after;
	g->body_len = r->body_len;
	snprintf(g->body, sizeof(g->body), "%.*s",
		 (int)(r->body_len < 255 ? r->body_len : 255), r->body);
	assert_int_equal(r->body[r->body_len], '\0');
}

static void close_loop(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void fetch(const char *path, const char *form, long timeout_ms,
		  struct got *g)
{
	uv_loop_t loop;
	struct agent_http *h;
	struct agent_http_req req;
	char url[128];

	memset(g, 0, sizeof(*g));
	url_for(url, sizeof(url), path);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.form = form;
	req.form_len = form != NULL ? strlen(form) : 0;
	req.timeout_ms = timeout_ms;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(agent_http_new(&loop, &h), 0);
	assert_int_equal(agent_http_start(h, &req, on_resp, g, NULL), 0);
	/* The callback never runs inside agent_http_start(). */
	assert_int_equal(g->calls, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	agent_http_free(h);
	close_loop(&loop);
	assert_int_equal(g->calls, 1);
}

static void http_get_returns_body_and_status(void **state)
{
	struct got g;

	(void)state;
	fetch("/ok", NULL, 0, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.body, "hello");
	assert_int_equal(g.retry_after, -1);
}

static void http_post_sends_the_form_unchanged(void **state)
{
	struct got g;

	(void)state;
	fetch("/echo", REFRESH_FORM, 0, &g);
	assert_int_equal(g.err, 0);
	assert_string_equal(g.body, REFRESH_FORM);
}

static void http_body_over_the_cap_is_refused(void **state)
{
	struct got g;

	(void)state;
	/* Announced by Content-Length, and streamed without one. */
	fetch("/big", NULL, 0, &g);
	assert_int_equal(g.err, XO_ERR_PROVIDER_REPLY);
	fetch("/bigchunk", NULL, 0, &g);
	assert_int_equal(g.err, XO_ERR_PROVIDER_REPLY);
	assert_true(g.body_len <= AGENT_HTTP_MAX_RESPONSE);
	/* Exactly the cap is still fine. */
	fetch("/exact", NULL, 0, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.body_len, AGENT_HTTP_MAX_RESPONSE);
}

static void http_retry_after_seconds_and_date_are_read(void **state)
{
	struct got g;

	(void)state;
	fetch("/retry429", NULL, 0, &g);
	assert_int_equal(g.status, 429);
	assert_int_equal(g.retry_after, -1);
	fetch("/retry429h", NULL, 0, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.status, 429);
	assert_int_equal(g.retry_after, 7);
	fetch("/retrydate", NULL, 0, &g);
	assert_int_equal(g.status, 503);
	assert_true(g.retry_after >= 100 && g.retry_after <= 121);
}

static void http_redirects_are_not_followed(void **state)
{
	struct got g;

	(void)state;
	fetch("/redirect", NULL, 0, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.status, 302);
	assert_string_equal(g.body, "moved");
	/* Where it points is kept for the message: the host alone. */
	fetch("/redirect-away", NULL, 0, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.status, 307);
	assert_string_equal(g.redirect_host, "elsewhere.example");
}

static void http_reply_cut_short_is_named(void **state)
{
	struct got g;

	(void)state;
	fetch("/half", NULL, 0, &g);
	assert_int_equal(g.err, XO_ERR_HTTP);
	assert_int_equal(g.fault, OAUTH_FAULT_RESET);
	assert_non_null(strstr(g.error, "closed in the middle of the reply"));
	fetch("/reset", NULL, 0, &g);
	assert_int_equal(g.err, XO_ERR_HTTP);
	assert_int_equal(g.fault, OAUTH_FAULT_RESET);
	assert_non_null(strstr(g.error, "broke in the middle"));
	/* curl's own words, not "select/poll returned error". */
	assert_non_null(strstr(g.error, "reset by peer"));
}

/* More transfers than run at once (http.c's MAX_ACTIVE, 16): the rest
   wait their turn and all end, each once; one cancelled while it waits
   never calls back. */
#define MANY_XFERS 40

static void http_transfers_beyond_the_limit_wait_their_turn(void **state)
{
	struct agent_http_xfer *x[MANY_XFERS];
	struct got g[MANY_XFERS];
	struct agent_http_req req;
	struct agent_http *h;
	uv_loop_t loop;
	char url[128];
	int i;

	(void)state;
	url_for(url, sizeof(url), "/ok");
	memset(&req, 0, sizeof(req));
	req.url = url;
	memset(g, 0, sizeof(g));
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(agent_http_new(&loop, &h), 0);
	for (i = 0; i < MANY_XFERS; i++)
		assert_int_equal(
		    agent_http_start(h, &req, on_resp, &g[i], &x[i]), 0);
	agent_http_cancel(h, x[MANY_XFERS - 2]);
	uv_run(&loop, UV_RUN_DEFAULT);
	agent_http_free(h);
	close_loop(&loop);
	for (i = 0; i < MANY_XFERS; i++) {
		if (i == MANY_XFERS - 2) {
			assert_int_equal(g[i].calls, 0);
			continue;
		}
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].err, 0);
		assert_string_equal(g[i].body, "hello");
	}
}

/* The turns of a loop, counted at the end of each (the check phase, after
   every phase in which libcurl reports an ended transfer), and a pause
   before each poll, so that replies that come meanwhile are read in the
   same turn. */
static unsigned turn;

static void on_turn_end(uv_check_t *c)
{
	(void)c;
	turn++;
}

static void on_turn_pause(uv_prepare_t *p)
{
	(void)p;
	usleep(50 * 1000);
}

struct turn_got {
	struct got g;
	unsigned turn; /* the turn its callback ran in */
};

static void on_resp_turn(void *arg, const struct agent_http_resp *r)
{
	struct turn_got *t = arg;

	on_resp(&t->g, r);
	t->turn = turn;
}

static void http_ended_transfers_take_a_whole_budget_each_turn(void **state)
{
	struct turn_got t[3];
	struct agent_http_req req;
	struct agent_http *h;
	uv_check_t end;
	uv_prepare_t pause;
	uv_loop_t loop;
	char url[128];

	(void)state;
	url_for(url, sizeof(url), "/ok");
	memset(&req, 0, sizeof(req));
	req.url = url;
	memset(t, 0, sizeof(t));
	turn = 0;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(agent_http_new(&loop, &h), 0);
	uv_check_init(&loop, &end);
	uv_check_start(&end, on_turn_end);
	uv_unref((uv_handle_t *)&end);
	/* One transfer ends alone, in a turn of its own: one callback of the
	   turn's two. */
	assert_int_equal(agent_http_start(h, &req, on_resp_turn, &t[0], NULL),
			 0);
	while (t[0].g.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	/* Later, two end in one turn (both replies come while the loop
	   pauses before its poll): both callbacks run in that turn, the
	   budget being the turn's, not what the first turn left. */
	uv_prepare_init(&loop, &pause);
	uv_prepare_start(&pause, on_turn_pause);
	uv_unref((uv_handle_t *)&pause);
	assert_int_equal(agent_http_start(h, &req, on_resp_turn, &t[1], NULL),
			 0);
	assert_int_equal(agent_http_start(h, &req, on_resp_turn, &t[2], NULL),
			 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(t[1].g.calls, 1);
	assert_int_equal(t[2].g.calls, 1);
	assert_string_equal(t[2].g.body, "hello");
	assert_true(t[0].turn < t[1].turn);
	assert_int_equal(t[1].turn, t[2].turn);
	agent_http_free(h);
	uv_close((uv_handle_t *)&end, NULL);
	uv_close((uv_handle_t *)&pause, NULL);
	close_loop(&loop);
}

static void http_timeout_is_reported(void **state)
{
	struct got g;

	(void)state;
	fetch("/slow", NULL, 300, &g);
	assert_int_equal(g.err, XO_ERR_TIMEOUT);
	assert_int_equal(g.fault, OAUTH_FAULT_TIMEOUT);
	assert_non_null(
	    strstr(g.error, "timed out: no complete reply within 1 s"));
}

static void http_connection_refused_is_an_http_error(void **state)
{
	uv_loop_t loop;
	struct agent_http *h;
	struct agent_http_req req;
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	memset(&req, 0, sizeof(req));
	/* Port 1 on loopback: nothing listens there in a test sandbox. */
	req.url = "http://127.0.0.1:1/token";
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(agent_http_new(&loop, &h), 0);
	assert_int_equal(agent_http_start(h, &req, on_resp, &g, NULL), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	agent_http_free(h);
	close_loop(&loop);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.err, XO_ERR_HTTP);
	assert_int_equal(g.status, 0);
	assert_int_equal(g.fault, OAUTH_FAULT_NETWORK);
	assert_non_null(strstr(g.error, "no connection ("));
}

static void http_refuses_plain_http_to_other_hosts(void **state)
{
	uv_loop_t loop;
	struct agent_http *h;
	struct agent_http_req req;
	struct agent_http_xfer *x = (struct agent_http_xfer *)&req;
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	memset(&req, 0, sizeof(req));
	req.url = "http://example.com/token";
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(agent_http_new(&loop, &h), 0);
	assert_int_not_equal(agent_http_start(h, &req, on_resp, &g, &x), 0);
	assert_null(x);
	uv_run(&loop, UV_RUN_DEFAULT);
	agent_http_free(h);
	close_loop(&loop);
	assert_int_equal(g.calls, 0);
}

struct cancel_ctx {
	struct agent_http *h;
	struct agent_http_xfer *x;
	uv_timer_t t;
	int free_instead;
};

static void on_cancel_timer(uv_timer_t *t)
{
	struct cancel_ctx *c = t->data;

	if (c->free_instead)
		agent_http_free(c->h); /* with the transfer still running */
	else
		agent_http_cancel(c->h, c->x);
	uv_close((uv_handle_t *)t, NULL);
}

static void run_cancel(int free_instead)
{
	uv_loop_t loop;
	struct agent_http_req req;
	struct cancel_ctx c;
	struct got g;
	char url[128];

	memset(&g, 0, sizeof(g));
	memset(&c, 0, sizeof(c));
	memset(&req, 0, sizeof(req));
	url_for(url, sizeof(url), "/slow");
	req.url = url;
	req.form = "secret=1";
	req.form_len = 8;
	c.free_instead = free_instead;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(agent_http_new(&loop, &c.h), 0);
	assert_int_equal(agent_http_start(c.h, &req, on_resp, &g, &c.x), 0);
	assert_non_null(c.x);
	assert_int_equal(uv_timer_init(&loop, &c.t), 0);
	c.t.data = &c;
	assert_int_equal(uv_timer_start(&c.t, on_cancel_timer, 200, 0), 0);
	/* After a cancel the loop runs dry by itself; after a free,
	   close_loop() flushes the close callbacks. */
	if (!free_instead) {
		uv_run(&loop, UV_RUN_DEFAULT);
		agent_http_free(c.h);
	}
	close_loop(&loop);
	assert_int_equal(g.calls, 0);
}

static void http_cancel_suppresses_the_callback(void **state)
{
	(void)state;
	run_cancel(0);
}

static void http_free_with_a_transfer_running_closes_cleanly(void **state)
{
	(void)state;
	run_cancel(1);
}

struct free_in_cb {
	struct agent_http *h;
	int calls;
};

static void on_resp_free(void *arg, const struct agent_http_resp *r)
{
	struct free_in_cb *f = arg;

	(void)r;
	f->calls++;
	agent_http_free(f->h);
}

static void http_free_from_a_callback_is_safe(void **state)
{
	uv_loop_t loop;
	struct agent_http_req req, req2;
	struct free_in_cb f = {0};
	struct got g = {0};
	char url[128], url2[128];

	(void)state;
	memset(&req, 0, sizeof(req));
	memset(&req2, 0, sizeof(req2));
	url_for(url, sizeof(url), "/ok");
	url_for(url2, sizeof(url2), "/slow");
	req.url = url;
	req2.url = url2;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(agent_http_new(&loop, &f.h), 0);
	assert_int_equal(agent_http_start(f.h, &req, on_resp_free, &f, NULL),
			 0);
	/* Still running when the first one's callback frees everything. */
	assert_int_equal(agent_http_start(f.h, &req2, on_resp, &g, NULL), 0);
	close_loop(&loop);
	assert_int_equal(f.calls, 1);
	assert_int_equal(g.calls, 0);
}

/* ------------------------------------------------------------------ */
/* The OAuth client against the fake server.                           */

struct tok {
	int calls;
	enum oauth_class cls;
	int err;
	long expires_in;
	char message[512];
	struct agent_plain *access, *refresh;
	int dev_calls;
	int dev_err;
	struct oauth_device dev;
};

static void on_token(void *arg, struct oauth_result *res)
{
	struct tok *t = arg;

	t->calls++;
	t->cls = res->cls;
	t->err = res->err;
	t->expires_in = res->expires_in;
	snprintf(t->message, sizeof(t->message), "%s", res->message);
	t->access = res->access_token;
	res->access_token = NULL; /* transferred */
	t->refresh = res->refresh_token;
	res->refresh_token = NULL; /* transferred */
}

static void on_device(void *arg, int err, const char *message,
		      struct oauth_device *dev)
{
	struct tok *t = arg;

	t->dev_calls++;
	t->dev_err = err;
	snprintf(t->message, sizeof(t->message), "%s", message);
	if (dev != NULL) {
		t->dev = *dev;
		memset(dev, 0, sizeof(*dev)); /* transferred */
	}
}

static void tok_cleanup(struct tok *t)
{
	agent_plain_free(t->access);
	agent_plain_free(t->refresh);
	oauth_device_cleanup(&t->dev);
	memset(t, 0, sizeof(*t));
}

struct fixture {
	uv_loop_t loop;
	struct agent_http *http;
	struct oauth_client *c;
	struct agent_account_cfg cfg;
	char issuer[128], token_ep[128], device_ep[128];
};

static void fixture_open(struct fixture *f)
{
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(agent_http_new(&f->loop, &f->http), 0);
	assert_int_equal(oauth_client_new(f->http, &f->cfg, &f->c), 0);
}

static void fixture_init(struct fixture *f, const char *issuer_path)
{
	memset(f, 0, sizeof(*f));
	f->cfg.name = "test";
	f->cfg.client_id = "cid";
	f->cfg.scopes = "openid offline_access";
	if (issuer_path != NULL) {
		url_for(f->issuer, sizeof(f->issuer), issuer_path);
		f->cfg.issuer = f->issuer;
		f->cfg.needs_discovery = 1;
	} else {
		url_for(f->token_ep, sizeof(f->token_ep), "/token");
		url_for(f->device_ep, sizeof(f->device_ep), "/device");
		f->cfg.token_endpoint = f->token_ep;
		f->cfg.device_authorization_endpoint = f->device_ep;
	}
	fixture_open(f);
}

#define SCOPES "openid offline_access"

/* Both endpoints at /echo-form; the account names SCOPES, or none. */
static void echo_fixture_init(struct fixture *f, int scoped)
{
	memset(f, 0, sizeof(*f));
	f->cfg.name = "test";
	f->cfg.client_id = "cid";
	f->cfg.scopes = scoped ? SCOPES : NULL;
	url_for(f->token_ep, sizeof(f->token_ep), "/echo-form");
	url_for(f->device_ep, sizeof(f->device_ep), "/echo-form");
	f->cfg.token_endpoint = f->token_ep;
	f->cfg.device_authorization_endpoint = f->device_ep;
	fixture_open(f);
}

static void fixture_done(struct fixture *f)
{
	oauth_client_free(f->c);
	agent_http_free(f->http);
	close_loop(&f->loop);
}

static void refresh_with(struct fixture *f, struct tok *t)
{
	struct agent_plain *rt, *secret;

	/* Characters that must be escaped in a form. */
	assert_int_equal(agent_plain_dup("r/t k&=", 7, &rt), 0);
	assert_int_equal(agent_plain_dup("s&x", 3, &secret), 0);
	assert_int_equal(oauth_refresh(f->c, rt, secret, NULL, on_token, t), 0);
	/* The client copied what it needs. */
	agent_plain_free(rt);
	agent_plain_free(secret);
	assert_int_equal(t->calls, 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(t->calls, 1);
}

static void refresh_discovers_then_gets_a_token(void **state)
{
	struct fixture f;
	struct tok t = {0};

	(void)state;
	fixture_init(&f, "");
	assert_null(oauth_client_authorization_endpoint(f.c));
	refresh_with(&f, &t);
	if (t.cls != OAUTH_OK) {
		print_error("%s\n", t.message);
		fail();
	}
	assert_string_equal(t.access->data, "AT");
	assert_string_equal(t.refresh->data, "RT2");
	assert_int_equal(t.expires_in, 60);
	assert_non_null(oauth_client_authorization_endpoint(f.c));
	tok_cleanup(&t);
	/* Discovery is cached: a second refresh goes straight on. */
	refresh_with(&f, &t);
	assert_int_equal(t.cls, OAUTH_OK);
	tok_cleanup(&t);
	fixture_done(&f);
}

static void discovery_falls_back_to_rfc8414(void **state)
{
	struct fixture f;
	struct tok t = {0};

	(void)state;
	fixture_init(&f, "/fb");
	refresh_with(&f, &t);
	if (t.cls != OAUTH_OK) {
		print_error("%s\n", t.message);
		fail();
	}
	tok_cleanup(&t);
	fixture_done(&f);
}

static void discovery_for_another_issuer_is_refused(void **state)
{
	struct fixture f;
	struct tok t = {0};

	(void)state;
	fixture_init(&f, "/bad");
	refresh_with(&f, &t);
	assert_int_equal(t.cls, OAUTH_CONFIG);
	assert_int_equal(t.err, XO_ERR_PROVIDER_CONFIG);
	assert_non_null(strstr(t.message, "another issuer"));
	assert_null(t.access);
	tok_cleanup(&t);
	fixture_done(&f);
}

static void missing_discovery_document_is_config(void **state)
{
	struct fixture f;
	struct tok t = {0};

	(void)state;
	fixture_init(&f, "/nothing");
	refresh_with(&f, &t);
	assert_int_equal(t.cls, OAUTH_CONFIG);
	assert_non_null(strstr(t.message, "issuer"));
	tok_cleanup(&t);
	fixture_done(&f);
}

static void device_flow_start_pending_then_token(void **state)
{
	struct fixture f;
	struct tok t = {0};
	struct agent_plain *code;

	(void)state;
	fixture_init(&f, NULL);
	assert_int_equal(oauth_device_start(f.c, NULL, on_device, &t), 0);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.dev_calls, 1);
	if (t.dev_err != 0) {
		print_error("%s\n", t.message);
		fail();
	}
	assert_string_equal(t.dev.user_code, "ABCD-EFGH");
	assert_int_equal(t.dev.interval, 5);

	assert_int_equal(agent_plain_dup("pending", 7, &code), 0);
	assert_int_equal(oauth_device_poll(f.c, code, NULL, on_token, &t), 0);
	agent_plain_free(code);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.cls, OAUTH_PENDING);

	assert_int_equal(
	    oauth_device_poll(f.c, t.dev.device_code, NULL, on_token, &t), 0);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.calls, 2);
	assert_int_equal(t.cls, OAUTH_OK);
	assert_string_equal(t.access->data, "AT");
	tok_cleanup(&t);
	fixture_done(&f);
}

static void client_credentials_posts_the_secret_and_gets_a_token(void **state)
{
	struct fixture f;
	struct tok t = {0};
	struct agent_plain *secret;

	(void)state;
	fixture_init(&f, NULL);
	/* No secret, no grant: the call refuses without a callback. */
	assert_int_equal(
	    oauth_client_credentials(f.c, NULL, NULL, on_token, &t),
	    XO_ERR_INVALID);
	assert_int_equal(agent_plain_dup("s&x", 3, &secret), 0);
	assert_int_equal(
	    oauth_client_credentials(f.c, secret, NULL, on_token, &t), 0);
	agent_plain_free(secret);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.calls, 1);
	if (t.cls != OAUTH_OK) {
		print_error("%s\n", t.message);
		fail();
	}
	assert_string_equal(t.access->data, "APP");
	assert_null(t.refresh);
	assert_int_equal(t.expires_in, 3599);
	tok_cleanup(&t);
	fixture_done(&f);
}

static void rejected_client_credentials_are_flagged(void **state)
{
	static const struct {
		long status;
		const char *body;
		int rejected;
	} cases[] = {
	    {400, ERR_BODY("invalid_client"), 1},
	    {401, ERR_BODY("invalid_client"), 1},
	    {401, "", 1},
	    {401, "{\"error\":\"invalid_request\",\"error_codes\":[7000215]}",
	     1},
	    {401, "{\"error\":\"invalid_client\",\"error_codes\":[7000222]}",
	     1},
	    /* A public client that sent a secret: a new secret won't help. */
	    {401, "{\"error\":\"invalid_client\",\"error_codes\":[700025]}", 0},
	    {400, "{\"error\":\"invalid_client\",\"error_codes\":[7000218]}",
	     0},
	    {400, ERR_BODY("invalid_grant"), 0},
	    {400, ERR_BODY("unauthorized_client"), 0},
	    {500, "", 0},
	};
	struct oauth_result res;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		oauth_parse_token_reply(cases[i].status, cases[i].body,
					strlen(cases[i].body), -1, &res);
		if (res.client_rejected != cases[i].rejected)
			print_error("case %zu: %ld %s\n", i, cases[i].status,
				    cases[i].body);
		assert_int_equal(res.client_rejected, cases[i].rejected);
		oauth_result_cleanup(&res);
	}
}

static void second_operation_while_one_runs_is_busy(void **state)
{
	struct fixture f;
	struct tok t = {0}, t2 = {0};
	struct agent_plain *rt;

	(void)state;
	fixture_init(&f, NULL);
	assert_int_equal(agent_plain_dup("r", 1, &rt), 0);
	assert_int_equal(oauth_refresh(f.c, rt, NULL, NULL, on_token, &t), 0);
	assert_int_equal(oauth_refresh(f.c, rt, NULL, NULL, on_token, &t2),
			 XO_ERR_BUSY);
	assert_int_equal(oauth_device_start(f.c, NULL, on_device, &t2),
			 XO_ERR_BUSY);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.calls, 1);
	/* The fake refuses this form: a config class, quoted. */
	assert_int_equal(t.cls, OAUTH_CONFIG);
	assert_non_null(strstr(t.message, "unexpected form"));
	assert_int_equal(t2.calls + t2.dev_calls, 0);
	agent_plain_free(rt);
	tok_cleanup(&t);
	fixture_done(&f);
}

static void freeing_the_client_mid_operation_fires_nothing(void **state)
{
	struct fixture f;
	struct tok t = {0};
	struct agent_plain *rt;

	(void)state;
	fixture_init(&f, "");
	assert_int_equal(agent_plain_dup("r", 1, &rt), 0);
	assert_int_equal(oauth_refresh(f.c, rt, NULL, NULL, on_token, &t), 0);
	agent_plain_free(rt);
	oauth_client_free(f.c);
	f.c = NULL;
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.calls, 0);
	fixture_done(&f);
}

static void unreachable_token_endpoint_is_transient(void **state)
{
	struct fixture f;
	struct tok t = {0};
	struct agent_plain *rt;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.cfg.name = "test";
	f.cfg.client_id = "cid";
	f.cfg.token_endpoint = "http://127.0.0.1:1/token";
	assert_int_equal(uv_loop_init(&f.loop), 0);
	assert_int_equal(agent_http_new(&f.loop, &f.http), 0);
	assert_int_equal(oauth_client_new(f.http, &f.cfg, &f.c), 0);
	/* No device endpoint: refused at once, and no callback later. */
	assert_int_equal(oauth_device_start(f.c, NULL, on_device, &t),
			 XO_ERR_UNSUPPORTED_FLOW);
	assert_int_equal(agent_plain_dup("r", 1, &rt), 0);
	assert_int_equal(oauth_refresh(f.c, rt, NULL, NULL, on_token, &t), 0);
	agent_plain_free(rt);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.dev_calls, 0);
	assert_int_equal(t.cls, OAUTH_TRANSIENT);
	assert_int_equal(t.err, XO_ERR_HTTP);
	tok_cleanup(&t);
	fixture_done(&f);
}

/* ------------------------------------------------------------------ */
/* The grants' forms, read back from /echo-form.                       */

enum grant {
	G_REFRESH,
	G_CLIENT_CREDENTIALS,
	G_DEVICE_START,
	G_DEVICE_POLL,
	G_CODE,
};

struct grant_case {
	const char *name;
	enum grant grant;
	int scoped;	      /* the account names SCOPES, or none */
	const char *code;     /* refresh token, device or authorization code */
	const char *verifier; /* G_CODE */
	const char *redirect_uri; /* G_CODE */
	const char *secret;	  /* client_secret */
	int no_client, no_callback;
	const char *form; /* what the provider must receive */
};

#define SCOPE_FIELD "scope=openid%20offline_access"
#define DEVICE_GRANT                                                           \
	"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
#define REDIRECT "http://127.0.0.1:8400/cb"
#define REDIRECT_FIELD "redirect_uri=http%3A%2F%2F127.0.0.1%3A8400%2Fcb"

/* Providers have refused forms whose fields came in another order, so
   the order is part of what is checked. */
static const struct grant_case sent[] = {
    {"refresh", G_REFRESH, 1, "r/t", NULL, NULL, "s&x", 0, 0,
     "grant_type=refresh_token&client_id=cid&refresh_token=r%2Ft&" SCOPE_FIELD
     "&client_secret=s%26x"},
    {"refresh_public_client_no_scopes", G_REFRESH, 0, "RT", NULL, NULL, NULL, 0,
     0, "grant_type=refresh_token&client_id=cid&refresh_token=RT"},
    {"client_credentials", G_CLIENT_CREDENTIALS, 1, NULL, NULL, NULL, "S", 0, 0,
     "grant_type=client_credentials&client_id=cid&"
     "client_secret=S&" SCOPE_FIELD},
    {"device_start", G_DEVICE_START, 1, NULL, NULL, NULL, "S", 0, 0,
     "client_id=cid&" SCOPE_FIELD "&client_secret=S"},
    {"device_start_public_client", G_DEVICE_START, 1, NULL, NULL, NULL, NULL, 0,
     0, "client_id=cid&" SCOPE_FIELD},
    {"device_poll", G_DEVICE_POLL, 1, "DC", NULL, NULL, "S", 0, 0,
     DEVICE_GRANT "&device_code=DC&client_id=cid&client_secret=S"},
    {"device_poll_public_client", G_DEVICE_POLL, 1, "DC", NULL, NULL, NULL, 0,
     0, DEVICE_GRANT "&device_code=DC&client_id=cid"},
    {"code", G_CODE, 1, "AC", "V", REDIRECT, "S", 0, 0,
     "grant_type=authorization_code&code=AC&" REDIRECT_FIELD
     "&client_id=cid&code_verifier=V&client_secret=S"},
    {"code_public_client", G_CODE, 1, "AC", "V", REDIRECT, NULL, 0, 0,
     "grant_type=authorization_code&code=AC&" REDIRECT_FIELD
     "&client_id=cid&code_verifier=V"},
};

/* Each is refused with XO_ERR_INVALID before anything is sent. */
static const struct grant_case refused[] = {
    {"refresh_no_client", G_REFRESH, 1, "RT", NULL, NULL, NULL, 1, 0, NULL},
    {"refresh_no_callback", G_REFRESH, 1, "RT", NULL, NULL, NULL, 0, 1, NULL},
    {"refresh_no_token", G_REFRESH, 1, NULL, NULL, NULL, "S", 0, 0, NULL},
    {"refresh_empty_token", G_REFRESH, 1, "", NULL, NULL, "S", 0, 0, NULL},
    {"client_credentials_no_secret", G_CLIENT_CREDENTIALS, 1, NULL, NULL, NULL,
     NULL, 0, 0, NULL},
    {"client_credentials_empty_secret", G_CLIENT_CREDENTIALS, 1, NULL, NULL,
     NULL, "", 0, 0, NULL},
    {"device_start_no_client", G_DEVICE_START, 1, NULL, NULL, NULL, NULL, 1, 0,
     NULL},
    {"device_start_no_callback", G_DEVICE_START, 1, NULL, NULL, NULL, NULL, 0,
     1, NULL},
    {"device_poll_no_code", G_DEVICE_POLL, 1, NULL, NULL, NULL, NULL, 0, 0,
     NULL},
    {"device_poll_empty_code", G_DEVICE_POLL, 1, "", NULL, NULL, NULL, 0, 0,
     NULL},
    {"code_no_code", G_CODE, 1, NULL, "V", REDIRECT, NULL, 0, 0, NULL},
    {"code_empty_code", G_CODE, 1, "", "V", REDIRECT, NULL, 0, 0, NULL},
    {"code_no_verifier", G_CODE, 1, "AC", NULL, REDIRECT, NULL, 0, 0, NULL},
    {"code_empty_verifier", G_CODE, 1, "AC", "", REDIRECT, NULL, 0, 0, NULL},
    {"code_no_redirect_uri", G_CODE, 1, "AC", "V", NULL, NULL, 0, 0, NULL},
    {"code_empty_redirect_uri", G_CODE, 1, "AC", "V", "", NULL, 0, 0, NULL},
    {"code_no_callback", G_CODE, 1, "AC", "V", REDIRECT, NULL, 0, 1, NULL},
};

static struct agent_plain *plain_or_null(const char *s)
{
	struct agent_plain *p = NULL;

	if (s != NULL)
		assert_int_equal(agent_plain_dup(s, strlen(s), &p), 0);
	return p;
}

/* Starts the grant of g on c, reporting to t. */
static int start_case(struct oauth_client *c, const struct grant_case *g,
		      struct tok *t)
{
	struct agent_plain *code = plain_or_null(g->code);
	struct agent_plain *verifier = plain_or_null(g->verifier);
	struct agent_plain *secret = plain_or_null(g->secret);
	oauth_token_cb tcb = g->no_callback ? NULL : on_token;
	oauth_device_cb dcb = g->no_callback ? NULL : on_device;
	int r = XO_ERR_INTERNAL;

	if (g->no_client)
		c = NULL;
	switch (g->grant) {
	case G_REFRESH:
		r = oauth_refresh(c, code, secret, NULL, tcb, t);
		break;
	case G_CLIENT_CREDENTIALS:
		r = oauth_client_credentials(c, secret, NULL, tcb, t);
		break;
	case G_DEVICE_START:
		r = oauth_device_start(c, secret, dcb, t);
		break;
	case G_DEVICE_POLL:
		r = oauth_device_poll(c, code, secret, tcb, t);
		break;
	case G_CODE:
		r = oauth_code_exchange(c, code, verifier, g->redirect_uri,
					secret, tcb, t);
		break;
	}
	/* The client copied what it needs. */
	agent_plain_free(code);
	agent_plain_free(verifier);
	agent_plain_free(secret);
	return r;
}

/* How many requests the fake has served so far (in this process, other
   tests' too when they all run in one). */
static int requests_served(void)
{
	struct got g;

	fetch("/count", NULL, 0, &g);
	assert_int_equal(g.status, 200);
	return (int)strtol(g.body, NULL, 10);
}

static void each_grant_sends_its_fields_in_order(void **state)
{
	struct fixture f;
	struct tok t;
	const char *got;
	size_t i;

	(void)state;
	for (i = 0; i < N(sent); i++) {
		memset(&t, 0, sizeof(t));
		echo_fixture_init(&f, sent[i].scoped);
		assert_int_equal(start_case(f.c, &sent[i], &t), 0);
		uv_run(&f.loop, UV_RUN_DEFAULT);
		assert_int_equal(t.calls + t.dev_calls, 1);
		if (t.access != NULL)
			got = t.access->data;
		else if (t.dev.device_code != NULL)
			got = t.dev.device_code->data;
		else
			got = t.message; /* what went wrong, for the report */
		if (strcmp(got, sent[i].form) != 0) {
			print_error("case %s: sent\n  %s\nnot\n  %s\n",
				    sent[i].name, got, sent[i].form);
			fail();
		}
		tok_cleanup(&t);
		fixture_done(&f);
	}
}

/* Runs f's loop dry, then checks that one grant went out, sent[0] as
   started on t, and nothing else reached the fake since it had served
   before requests. */
static void only_the_first_case_was_sent(struct fixture *f, struct tok *t,
					 int before)
{
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(t->calls, 1);
	assert_non_null(t->access);
	assert_string_equal(t->access->data, sent[0].form);
	assert_int_equal(requests_served(), before + 1);
	tok_cleanup(t);
	fixture_done(f);
}

static void missing_or_empty_required_argument_is_refused_unsent(void **state)
{
	struct fixture f;
	struct tok t = {0};
	size_t i;
	int before = requests_served();

	(void)state;
	echo_fixture_init(&f, 1);
	for (i = 0; i < N(refused); i++) {
		if (start_case(f.c, &refused[i], &t) != XO_ERR_INVALID) {
			print_error("case %s: not refused\n", refused[i].name);
			fail();
		}
	}
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.calls + t.dev_calls, 0);
	assert_int_equal(requests_served(), before);
	/* Nothing is left half-started: the client takes the next grant. */
	assert_int_equal(start_case(f.c, &sent[0], &t), 0);
	only_the_first_case_was_sent(&f, &t, before);
}

static void every_grant_is_busy_while_one_runs(void **state)
{
	struct fixture f;
	struct tok t = {0}, t2 = {0};
	size_t i;
	int before = requests_served();

	(void)state;
	echo_fixture_init(&f, 1);
	assert_int_equal(start_case(f.c, &sent[0], &t), 0);
	for (i = 0; i < N(sent); i++) {
		if (start_case(f.c, &sent[i], &t2) != XO_ERR_BUSY) {
			print_error("case %s: not busy\n", sent[i].name);
			fail();
		}
	}
	/* The refused grants neither went out nor disturbed the running
	   one's form, and they never call back. */
	only_the_first_case_was_sent(&f, &t, before);
	assert_int_equal(t2.calls + t2.dev_calls, 0);
}

static void client_refuses_plain_http_endpoints(void **state)
{
	uv_loop_t loop;
	struct agent_http *h;
	struct agent_account_cfg cfg;
	struct oauth_client *c = (struct oauth_client *)&cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "test";
	cfg.client_id = "cid";
	cfg.token_endpoint = "http://login.example.com/token";
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(agent_http_new(&loop, &h), 0);
	assert_int_equal(oauth_client_new(h, &cfg, &c), XO_ERR_CONFIG);
	assert_null(c);
	cfg.token_endpoint = NULL;
	cfg.issuer = "http://idp.example.com";
	cfg.needs_discovery = 1;
	assert_int_equal(oauth_client_new(h, &cfg, &c), XO_ERR_CONFIG);
	agent_http_free(h);
	close_loop(&loop);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(odd_but_valid_token_replies_are_accepted),
	    cmocka_unit_test(broken_token_replies_are_rejected_with_a_reason),
	    cmocka_unit_test(error_replies_are_classified),
	    cmocka_unit_test(granted_scope_is_kept),
	    cmocka_unit_test(aadsts_codes_are_classified),
	    cmocka_unit_test(echoed_tokens_are_redacted_from_messages),
	    cmocka_unit_test(long_descriptions_are_cut),
	    cmocka_unit_test(retry_after_is_propagated),
	    cmocka_unit_test(
		any_expires_in_keeps_the_tokens_and_plans_a_sane_life),
	    cmocka_unit_test(refused_redirect_names_a_plain_host_only),
	    cmocka_unit_test(email_is_taken_from_the_id_token),
	    cmocka_unit_test(device_replies_are_parsed),
	    cmocka_unit_test(only_https_or_loopback_http_is_allowed),
	};
	const struct CMUnitTest net[] = {
	    cmocka_unit_test(http_get_returns_body_and_status),
	    cmocka_unit_test(http_post_sends_the_form_unchanged),
	    cmocka_unit_test(http_body_over_the_cap_is_refused),
	    cmocka_unit_test(http_retry_after_seconds_and_date_are_read),
	    cmocka_unit_test(http_redirects_are_not_followed),
	    cmocka_unit_test(http_transfers_beyond_the_limit_wait_their_turn),
	    cmocka_unit_test(
		http_ended_transfers_take_a_whole_budget_each_turn),
	    cmocka_unit_test(http_reply_cut_short_is_named),
	    cmocka_unit_test(http_timeout_is_reported),
	    cmocka_unit_test(http_connection_refused_is_an_http_error),
	    cmocka_unit_test(http_refuses_plain_http_to_other_hosts),
	    cmocka_unit_test(http_cancel_suppresses_the_callback),
	    cmocka_unit_test(http_free_with_a_transfer_running_closes_cleanly),
	    cmocka_unit_test(http_free_from_a_callback_is_safe),
	    cmocka_unit_test(refresh_discovers_then_gets_a_token),
	    cmocka_unit_test(discovery_falls_back_to_rfc8414),
	    cmocka_unit_test(discovery_for_another_issuer_is_refused),
	    cmocka_unit_test(missing_discovery_document_is_config),
	    cmocka_unit_test(device_flow_start_pending_then_token),
	    cmocka_unit_test(
		client_credentials_posts_the_secret_and_gets_a_token),
	    cmocka_unit_test(rejected_client_credentials_are_flagged),
	    cmocka_unit_test(second_operation_while_one_runs_is_busy),
	    cmocka_unit_test(freeing_the_client_mid_operation_fires_nothing),
	    cmocka_unit_test(unreachable_token_endpoint_is_transient),
	    cmocka_unit_test(client_refuses_plain_http_endpoints),
	    cmocka_unit_test(each_grant_sends_its_fields_in_order),
	    cmocka_unit_test(
		missing_or_empty_required_argument_is_refused_unsent),
	    cmocka_unit_test(every_grant_is_busy_while_one_runs),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("oauth_parse", pure, NULL, NULL),
	    UNIT_GROUP("oauth_http", net, start_fake, stop_fake),
	};
	int status;

	if (sodium_init() < 0)
		return 1;
	/* As the agent's main does: before any jansson use. */
	oauth_json_init();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	status = unit_run(argc, argv, groups, 2);
	curl_global_cleanup();
	return status;
}
