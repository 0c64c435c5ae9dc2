/*
 * The pure parts of the browser and paste flows: PKCE (RFC 7636), state
 * values, the authorization URL, the loopback redirect plan, and reading
 * what a redirect or a paste brought back, including hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "login/pure/authz.h"
#include "login/pure/request.h"
#include "secret/pkce.h"

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	return 0;
}

static void pkce_challenge_matches_rfc7636_appendix_b(void **state)
{
	static const char verifier[] =
	    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	char challenge[PKCE_CHALLENGE_LEN + 1];

	(void)state;
	assert_int_equal(
	    pkce_challenge_s256(verifier, strlen(verifier), challenge), 0);
	assert_string_equal(challenge,
			    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

static void pkce_refuses_verifiers_outside_rfc7636(void **state)
{
	char challenge[PKCE_CHALLENGE_LEN + 1], v[200];

	(void)state;
	memset(v, 'a', sizeof(v));
	/* 42 characters: one short. */
	assert_int_equal(pkce_challenge_s256(v, 42, challenge), XO_ERR_INVALID);
	/* 129: one long. */
	assert_int_equal(pkce_challenge_s256(v, 129, challenge),
			 XO_ERR_INVALID);
	assert_int_equal(pkce_challenge_s256(v, 128, challenge), 0);
	/* A character outside the unreserved set. */
	v[10] = '+';
	assert_int_equal(pkce_challenge_s256(v, 50, challenge), XO_ERR_INVALID);
}

static void fresh_verifiers_and_states_differ_and_are_well_formed(void **state)
{
	char v1[PKCE_VERIFIER_LEN + 1], v2[PKCE_VERIFIER_LEN + 1];
	char s1[LOGIN_STATE_LEN + 1], s2[LOGIN_STATE_LEN + 1];
	char ch[PKCE_CHALLENGE_LEN + 1];

	(void)state;
	pkce_verifier_new(v1);
	pkce_verifier_new(v2);
	assert_int_equal(strlen(v1), 43);
	assert_string_not_equal(v1, v2);
	assert_int_equal(pkce_challenge_s256(v1, strlen(v1), ch), 0);
	login_state_new(s1);
	login_state_new(s2);
	assert_int_equal(strlen(s1), 22);
	assert_string_not_equal(s1, s2);
	assert_int_equal(strspn(s1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmno"
				    "pqrstuvwxyz0123456789-_"),
			 22);
}

static void state_check_needs_the_exact_value(void **state)
{
	(void)state;
	assert_true(login_state_equal("abcdef", "abcdef", 6));
	assert_false(login_state_equal("abcdef", "abcdeg", 6));
	assert_false(login_state_equal("abcdef", "abcde", 5));
	assert_false(login_state_equal("abcdef", "abcdefg", 7));
	assert_false(login_state_equal("abcdef", "", 0));
	assert_false(login_state_equal("", "", 0));
	assert_false(login_state_equal("abcdef", NULL, 0));
}

static void authorization_url_carries_every_parameter_encoded(void **state)
{
	struct authz_request q = {
	    .endpoint = "https://login.example.com/authorize?tenant=x",
	    .client_id = "my app&id",
	    .redirect_uri = "http://127.0.0.1:8765/",
	    .scope = "https://mail.example.com/ offline_access",
	    .state = "STATE",
	    .challenge = "CHALLENGE",
	    .login_hint = "a+b@example.com",
	    .extra = "access_type=offline&prompt=consent",
	};
	char *url = NULL, why[200] = "";

	(void)state;
	assert_int_equal(authz_url_build(&q, &url, why, sizeof(why)), 0);
	assert_string_equal(
	    url, "https://login.example.com/authorize?tenant=x"
		 "&response_type=code&client_id=my+app%26id"
		 "&redirect_uri=http%3a%2f%2f127.0.0.1%3a8765%2f"
		 "&scope=https%3a%2f%2fmail.example.com%2f+offline_access"
		 "&state=STATE&code_challenge=CHALLENGE"
		 "&code_challenge_method=S256"
		 "&login_hint=a%2bb%40example.com"
		 "&access_type=offline&prompt=consent");
	free(url);
	q.endpoint = "not a url";
	assert_int_equal(authz_url_build(&q, &url, why, sizeof(why)),
			 XO_ERR_INVALID);
	assert_null(url);
	assert_non_null(strstr(why, "not a URL"));
}

static void consent_is_asked_only_for_offline_access(void **state)
{
	(void)state;
	assert_true(authz_scope_wants_consent("openid offline_access"));
	assert_true(authz_scope_wants_consent("offline_access"));
	assert_false(authz_scope_wants_consent("openid no_offline_access"));
	assert_false(authz_scope_wants_consent("offline_access_x mail"));
	assert_false(authz_scope_wants_consent(NULL));
}

static void loopback_plan_follows_redirect_uri_and_port(void **state)
{
	struct authz_loopback lb;
	char *uri = NULL;

	(void)state;
	/* Nothing set: 127.0.0.1, any port, "/". */
	assert_int_equal(authz_loopback_plan(NULL, 0, &lb), 0);
	assert_int_equal(lb.port, 0);
	assert_false(lb.ipv6);
	assert_int_equal(authz_loopback_uri(&lb, 4321, &uri), 0);
	assert_string_equal(uri, "http://127.0.0.1:4321/");
	free(uri);
	authz_loopback_cleanup(&lb);
	/* A paste-flow URI elsewhere is no loopback: ignored. */
	assert_int_equal(
	    authz_loopback_plan("https://login.microsoftonline.com/common/"
				"oauth2/nativeclient",
				8765, &lb),
	    0);
	assert_int_equal(lb.port, 8765);
	assert_string_equal(lb.path, "/");
	authz_loopback_cleanup(&lb);
	/* Google's preset: loopback without a port or path. */
	assert_int_equal(authz_loopback_plan("http://127.0.0.1", 0, &lb), 0);
	assert_int_equal(lb.port, 0);
	assert_string_equal(lb.path, "/");
	authz_loopback_cleanup(&lb);
	/* A registered loopback URI with port and path wins. */
	assert_int_equal(
	    authz_loopback_plan("http://localhost:9000/cb", 8765, &lb), 0);
	assert_int_equal(lb.port, 9000);
	assert_int_equal(authz_loopback_uri(&lb, 9000, &uri), 0);
	assert_string_equal(uri, "http://localhost:9000/cb");
	free(uri);
	authz_loopback_cleanup(&lb);
	assert_int_equal(authz_loopback_plan("http://[::1]/x", 0, &lb), 0);
	assert_true(lb.ipv6);
	assert_string_equal(lb.path, "/x");
	authz_loopback_cleanup(&lb);
}

static int parse_q(const char *q, struct authz_response *r)
{
	char why[300];

	return authz_parse_query(q, strlen(q), r, why, sizeof(why));
}

static void redirect_query_gives_code_state_and_error(void **state)
{
	struct authz_response r;

	(void)state;
	assert_int_equal(parse_q("code=abc&state=xyz&iss=http%3A%2F%2Fi", &r),
			 0);
	assert_string_equal(r.code, "abc");
	assert_string_equal(r.state, "xyz");
	assert_null(r.error);
	authz_response_cleanup(&r);
	/* Odd but valid: order, empty pairs, unknown and value-less
	   parameters, encoded characters, Google's slash in the code. */
	assert_int_equal(
	    parse_q("&&state=s%2Fx&foo&code=4%2F0Ab-_.~&scope=a+b&", &r), 0);
	assert_string_equal(r.code, "4/0Ab-_.~");
	assert_string_equal(r.state, "s/x");
	authz_response_cleanup(&r);
	assert_int_equal(
	    parse_q("error=access_denied&error_description=End-User+aborted"
		    "+interaction&state=s",
		    &r),
	    0);
	assert_null(r.code);
	assert_string_equal(r.error, "access_denied");
	assert_string_equal(r.error_description,
			    "End-User aborted interaction");
	authz_response_cleanup(&r);
}

static void hostile_redirect_queries_are_refused(void **state)
{
	static const char *const bad[] = {
	    "",					/* nothing */
	    "state=xyz",			/* neither code nor error */
	    "code=&state=x",			/* empty code */
	    "code=a&code=b&state=x",		/* code twice */
	    "code=a&state=x&state=y",		/* state twice */
	    "code=a%00b&state=x",		/* a smuggled NUL */
	    "code=a%0d%0aSet-Cookie:x&state=x", /* a line break */
	    "error=access_denied%1b[31m",	/* a terminal escape */
	};
	struct authz_response r;
	char q[AUTHZ_MAX_INPUT + 100];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_q(bad[i], &r) != XO_ERR_INVALID)
			print_error("accepted: %s\n", bad[i]);
		assert_int_equal(parse_q(bad[i], &r), XO_ERR_INVALID);
		assert_null(r.code);
	}
	/* A code longer than any provider's. */
	memcpy(q, "code=", 5);
	memset(q + 5, 'a', AUTHZ_MAX_CODE + 1);
	q[5 + AUTHZ_MAX_CODE + 1] = '\0';
	assert_int_equal(parse_q(q, &r), XO_ERR_INVALID);
	/* Too long altogether. */
	memset(q, 'a', sizeof(q) - 1);
	q[sizeof(q) - 1] = '\0';
	assert_int_equal(parse_q(q, &r), XO_ERR_INVALID);
	/* Too many parameters. */
	q[0] = '\0';
	for (i = 0; i < 70; i++)
		strcat(q, "a=1&");
	strcat(q, "code=x");
	assert_int_equal(parse_q(q, &r), XO_ERR_INVALID);
}

static int paste(const char *s, struct authz_response *r, char *why,
		 size_t whylen)
{
	return authz_parse_pasted(s, strlen(s), r, why, whylen);
}

static void pasted_url_query_or_bare_code_are_read(void **state)
{
	struct authz_response r;
	char why[300];

	(void)state;
	assert_int_equal(
	    paste("https://login.microsoftonline.com/common/oauth2/"
		  "nativeclient?code=M.C5_BAY.2&state=S#frag\n",
		  &r, why, sizeof(why)),
	    0);
	assert_string_equal(r.code, "M.C5_BAY.2");
	assert_string_equal(r.state, "S");
	assert_false(r.bare);
	authz_response_cleanup(&r);
	/* A custom scheme, as native apps register. */
	assert_int_equal(paste("msauth.com.example://auth?code=c1&state=s1", &r,
			       why, sizeof(why)),
			 0);
	assert_string_equal(r.code, "c1");
	authz_response_cleanup(&r);
	/* The query alone. */
	assert_int_equal(paste("?code=c2&state=s2", &r, why, sizeof(why)), 0);
	assert_string_equal(r.code, "c2");
	authz_response_cleanup(&r);
	assert_int_equal(paste("code=c3&state=s3", &r, why, sizeof(why)), 0);
	assert_string_equal(r.state, "s3");
	authz_response_cleanup(&r);
	/* A bare code, blanks around it. */
	assert_int_equal(
	    paste(" \t4/0AbCd-ef_gh.ij~\r\n", &r, why, sizeof(why)), 0);
	assert_string_equal(r.code, "4/0AbCd-ef_gh.ij~");
	assert_true(r.bare);
	assert_null(r.state);
	authz_response_cleanup(&r);
}

static void bad_pastes_get_a_reason(void **state)
{
	static const struct {
		const char *text, *says;
	} bad[] = {
	    {"", "nothing was pasted"},
	    {"   \n", "nothing was pasted"},
	    {"two words", "not a redirect address nor a code"},
	    {"https://example.com/done", "not a redirect address"},
	    {"https://example.com/done?state=x", "no authorization code"},
	    {"https://exa mple.com/?code=x", "not a redirect address"},
	    {"code=a&code=b", "a parameter twice"},
	};
	struct authz_response r;
	char why[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (paste(bad[i].text, &r, why, sizeof(why)) != XO_ERR_INVALID)
			print_error("accepted: '%s'\n", bad[i].text);
		authz_response_cleanup(&r);
		assert_int_equal(paste(bad[i].text, &r, why, sizeof(why)),
				 XO_ERR_INVALID);
		if (strstr(why, bad[i].says) == NULL)
			print_error("'%s': got '%s'\n", bad[i].text, why);
		assert_non_null(strstr(why, bad[i].says));
	}
	/* A NUL in the middle is not cut off there. */
	assert_int_equal(
	    authz_parse_pasted("abc\0def", 7, &r, why, sizeof(why)),
	    XO_ERR_INVALID);
}

/* Every prefix and a few byte flips of a real redirect: no crash, and
   each answer is either a result or XO_ERR_INVALID. */
static void mutated_pastes_never_crash(void **state)
{
	static const char base[] =
	    "https://app.example/done?code=abc%2Fdef&state=xyz&"
	    "error_description=a+b%20c";
	char buf[sizeof(base)];
	struct authz_response r;
	char why[300];
	size_t i, j;
	int rc;

	(void)state;
	for (i = 0; i <= strlen(base); i++) {
		rc = authz_parse_pasted(base, i, &r, why, sizeof(why));
		assert_true(rc == 0 || rc == XO_ERR_INVALID);
		authz_response_cleanup(&r);
		for (j = 1; j < 256; j += 37) {
			memcpy(buf, base, sizeof(base));
			if (i < strlen(base))
				buf[i] = (char)(buf[i] ^ j);
			rc = authz_parse_pasted(buf, strlen(base), &r, why,
						sizeof(why));
			assert_true(rc == 0 || rc == XO_ERR_INVALID);
			authz_response_cleanup(&r);
		}
	}
}

/* What the loopback listener makes of the bytes a connection sent. */
#define LIT(s) (s), sizeof(s) - 1

static enum redirect_verdict request(const char *data, size_t len,
				     struct redirect_request *r)
{
	redirect_parse_request(data, len, "/cb", r);
	return r->verdict;
}

static void redirect_request_of_the_path_gives_its_raw_query(void **state)
{
	static const char get[] =
	    "GET /cb?code=4%2F0Ab&state=xyz HTTP/1.1\r\n"
	    "Host: 127.0.0.1:8765\r\nUser-Agent: test\r\n\r\n";
	struct redirect_request r;

	(void)state;
	assert_int_equal(request(get, strlen(get), &r), REDIRECT_GET);
	assert_string_equal(r.query, "code=4%2F0Ab&state=xyz");
	assert_int_equal(r.status, 0);
	redirect_request_cleanup(&r);
	/* Bare line ends, HTTP/1.0, no query at all. */
	assert_int_equal(request("GET /cb HTTP/1.0\n\n", 18, &r), REDIRECT_GET);
	assert_null(r.query);
	redirect_request_cleanup(&r);
}

static void redirect_request_waits_for_its_blank_line(void **state)
{
	static const char part[] = "GET /cb?code=abc HTTP/1.1\r\nHost: x\r\n";
	struct redirect_request r;
	char big[REDIRECT_MAX_REQUEST + 10];

	(void)state;
	assert_int_equal(request(part, strlen(part), &r), REDIRECT_MORE);
	redirect_request_cleanup(&r);
	assert_int_equal(request("", 0, &r), REDIRECT_MORE);
	redirect_request_cleanup(&r);
	/* One byte short of the limit: read on; at the limit: refused. */
	memset(big, 'a', sizeof(big));
	assert_int_equal(request(big, REDIRECT_MAX_REQUEST - 1, &r),
			 REDIRECT_MORE);
	redirect_request_cleanup(&r);
	assert_int_equal(request(big, REDIRECT_MAX_REQUEST, &r),
			 REDIRECT_REFUSE);
	assert_int_equal(r.status, 431);
	redirect_request_cleanup(&r);
}

static void
hostile_redirect_requests_are_refused_with_their_status(void **state)
{
	static const struct {
		const char *req;
		size_t len;
		int status;
	} cases[] = {
	    {LIT("POST /cb?code=a HTTP/1.1\r\n\r\n"), 405},
	    {LIT("get /cb?code=a HTTP/1.1\r\n\r\n"), 405},
	    {LIT("GET /favicon.ico HTTP/1.1\r\n\r\n"), 404},
	    {LIT("GET /cbx?code=a HTTP/1.1\r\n\r\n"), 404},
	    {LIT("GET http://evil/cb?code=a HTTP/1.1\r\n\r\n"), 400},
	    {LIT("GET //evil/cb?code=a HTTP/1.1\r\n\r\n"), 400},
	    {LIT("GET /cb?code=a HTTP/2\r\n\r\n"), 400},
	    {LIT("GET /cb?code=a\r\n\r\n"), 400},
	    {LIT("\r\n\r\n"), 400},
	    {LIT("GET /cb?code=a\0b HTTP/1.1\r\n\r\n"), 400},
	    /* A NUL is refused before the request is even whole. */
	    {LIT("GET /cb\0"), 400},
	};
	struct redirect_request r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(request(cases[i].req, cases[i].len, &r),
				 REDIRECT_REFUSE);
		assert_int_equal(r.status, cases[i].status);
		assert_non_null(r.title);
		assert_non_null(r.text);
		assert_null(r.query);
		redirect_request_cleanup(&r);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pkce_challenge_matches_rfc7636_appendix_b),
	    cmocka_unit_test(pkce_refuses_verifiers_outside_rfc7636),
	    cmocka_unit_test(
		fresh_verifiers_and_states_differ_and_are_well_formed),
	    cmocka_unit_test(state_check_needs_the_exact_value),
	    cmocka_unit_test(authorization_url_carries_every_parameter_encoded),
	    cmocka_unit_test(consent_is_asked_only_for_offline_access),
	    cmocka_unit_test(loopback_plan_follows_redirect_uri_and_port),
	    cmocka_unit_test(redirect_query_gives_code_state_and_error),
	    cmocka_unit_test(hostile_redirect_queries_are_refused),
	    cmocka_unit_test(pasted_url_query_or_bare_code_are_read),
	    cmocka_unit_test(bad_pastes_get_a_reason),
	    cmocka_unit_test(mutated_pastes_never_crash),
	    cmocka_unit_test(redirect_request_of_the_path_gives_its_raw_query),
	    cmocka_unit_test(redirect_request_waits_for_its_blank_line),
	    cmocka_unit_test(
		hostile_redirect_requests_are_refused_with_their_status),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("authz", tests, setup, teardown),
	};

	return unit_run(argc, argv, groups, 1);
}
