/*
 * The SASL initial responses (secret/sasl.c): XOAUTH2 as Google and
 * Microsoft define it, OAUTHBEARER as RFC 7628 4.1 does, and no control
 * byte from the request or the address smuggled into them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include <string.h>

#include <sodium.h>

#include "proto.h"
#include "secret/sasl.h"

/* Builds form for email, host, port and token; returns the decoded bytes
   in out (NUL-terminated) or the error. */
static int build(uint8_t form, const char *email, const char *host,
		 uint32_t port, char *out, size_t outlen)
{
	struct agent_plain *token = NULL, *b64 = NULL;
	size_t got = 0;
	int r;

	assert_int_equal(agent_plain_dup("TOKEN", 5, &token), 0);
	r = agent_sasl_build(NULL, form, email, host, port, token, &b64);
	agent_plain_free(token);
	if (r != 0) {
		assert_null(b64);
		return r;
	}
	assert_int_equal(sodium_base642bin((unsigned char *)out, outlen - 1,
					   b64->data, b64->len, NULL, &got,
					   NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
	out[got] = '\0';
	agent_plain_free(b64);
	return 0;
}

static void xoauth2_is_user_and_bearer_token(void **state)
{
	char s[256];

	(void)state;
	assert_int_equal(
	    build(PROTO_FORM_XOAUTH2, "a@example.com", "", 0, s, sizeof(s)), 0);
	assert_string_equal(s,
			    "user=a@example.com\001auth=Bearer TOKEN\001\001");
}

static void
oauthbearer_escapes_the_authzid_and_names_host_and_port(void **state)
{
	char s[256];

	(void)state;
	assert_int_equal(build(PROTO_FORM_OAUTHBEARER, "a=b,c@example.com",
			       "smtp.example.com", 587, s, sizeof(s)),
			 0);
	assert_string_equal(s, "n,a=a=3Db=2Cc@example.com,\001host=smtp."
			       "example.com\001port=587\001auth=Bearer "
			       "TOKEN\001\001");
	/* Host and port left out when unknown. */
	assert_int_equal(
	    build(PROTO_FORM_OAUTHBEARER, "a@example.com", "", 0, s, sizeof(s)),
	    0);
	assert_string_equal(s,
			    "n,a=a@example.com,\001auth=Bearer TOKEN\001\001");
}

static void control_bytes_in_host_or_address_are_refused(void **state)
{
	char s[256];

	(void)state;
	/* A host from the client's request must not add a field. */
	assert_int_equal(build(PROTO_FORM_OAUTHBEARER, "a@example.com",
			       "h\001auth=Bearer EVIL", 25, s, sizeof(s)),
			 XO_ERR_MSG_BAD);
	assert_int_equal(build(PROTO_FORM_XOAUTH2, "a@example.com\001x", "", 0,
			       s, sizeof(s)),
			 XO_ERR_MSG_BAD);
	assert_int_equal(build(PROTO_FORM_OAUTHBEARER, "a@example.com",
			       "h\r\nx", 25, s, sizeof(s)),
			 XO_ERR_MSG_BAD);
	assert_int_equal(
	    build(PROTO_FORM_ACCESS, "a@example.com", "", 0, s, sizeof(s)),
	    XO_ERR_INVALID);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(xoauth2_is_user_and_bearer_token),
	    cmocka_unit_test(
		oauthbearer_escapes_the_authzid_and_names_host_and_port),
	    cmocka_unit_test(control_bytes_in_host_or_address_are_refused),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("sasl", tests, NULL, NULL),
	};

	if (sodium_init() < 0)
		return 1;
	return unit_run(argc, argv, groups, 1);
}
