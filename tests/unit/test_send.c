/*
 * test_send.c: the message as the send transports need it
 * (agent/send/pure/message.c): addresses, the header block, the copy that
 * goes out, and what servers answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <xoauth/xo_errors.h>

#include "send/pure/message.h"
#include "unit.h"

/* The addresses parse() finds in value, joined by spaces. */
static void addresses_are(const char *value, const char *want)
{
	struct send_addrs a = {0};
	char why[SEND_WHY_MAX] = "", got[512] = "";
	size_t i;

	if (send_parse_addresses(value, strlen(value), &a, why, sizeof(why)) !=
	    0)
		fail_msg("%s: %s", value, why);
	for (i = 0; i < a.n; i++) {
		strcat(got, i > 0 ? " " : "");
		strcat(got, a.v[i]);
	}
	assert_string_equal(got, want);
	send_addrs_free(&a);
}

static void addresses_are_read_as_rfc5322_writes_them(void **state)
{
	(void)state;
	addresses_are("bob@example.com", "bob@example.com");
	addresses_are("Bob Smith <bob@example.com>", "bob@example.com");
	addresses_are("\"Smith, Bob\" <bob@example.com>, carol@example.org",
		      "bob@example.com carol@example.org");
	addresses_are("bob@example.com (Bob, at work), <c@d.e>",
		      "bob@example.com c@d.e");
	addresses_are("team: a@b.c, \"x\" <d@e.f>;, g@h.i",
		      "a@b.c d@e.f g@h.i");
	addresses_are("undisclosed-recipients:;", "");
	addresses_are("<@route.example,@other:bob@example.com>",
		      "bob@example.com");
	/* A ':' in an angle address is no route unless one starts it. */
	addresses_are("<g@h.:i>", "g@h.:i");
	addresses_are("\"odd\\\"local\"@example.com",
		      "\"odd\\\"local\"@example.com");
	/* A set: the same address twice (any case) counts once. */
	addresses_are("a@b.c, A@B.C, a@b.c", "a@b.c");
}

static void unreadable_addresses_are_refused(void **state)
{
	static const char *const bad[] = {
	    "bob smith",	     /* a blank in a local name */
	    "Bob <bob@example.com",  /* unclosed angle */
	    "<bob@example.com> x",   /* text after the angle address */
	    "\"unterminated@x.y",    /* unclosed quote */
	    "(comment bob@x.y",	     /* unclosed comment */
	    "bob smith@example.com", /* a blank in a bare address */
	    "a@@b.c",
	};
	struct send_addrs a = {0};
	char why[SEND_WHY_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (send_parse_addresses(bad[i], strlen(bad[i]), &a, why,
					 sizeof(why)) != XO_ERR_MESSAGE_BAD)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(strstr(why, "cannot read"));
	}
	send_addrs_free(&a);
}

/* cron and logwatch write "To: root", "From: root (Cron Daemon)". */
static void local_users_names_are_read_and_mapped(void **state)
{
	static const char *const names[] = {"root", "www-data", "a.b", "x+y",
					    "O'Brien"};
	static const char *const bad[] = {"",
					  ".root",
					  "root.",
					  "a..b",
					  "ro ot",
					  "r\xc3\xa9",
					  "a\"b",
					  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
					  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	struct send_addrs in = {0}, to = {0}, out = {0};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_true(send_local_ok(names[i], strlen(names[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (send_local_ok(bad[i], strlen(bad[i])))
			fail_msg("'%s' taken for a local name", bad[i]);
	addresses_are("root", "root");
	addresses_are("root (Cron Daemon)", "root");
	addresses_are("Logwatch", "Logwatch");
	addresses_are("Admin <root>, bob@example.com", "root bob@example.com");
	assert_true(send_addr_local("root"));
	assert_false(send_addr_local("root@example.com"));

	/* Each local name becomes every address of local_recipient. */
	assert_int_equal(send_addrs_add(&in, "root", 4), 0);
	assert_int_equal(send_addrs_add(&in, "bob@x.y", 7), 0);
	assert_int_equal(send_addrs_add(&in, "www-data", 8), 0);
	assert_int_equal(send_addrs_add(&to, "ops@x.y", 7), 0);
	assert_int_equal(send_addrs_add(&to, "bob@x.y", 7), 0);
	assert_int_equal(send_addrs_map_local(&in, &to, &out), 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.v[0], "ops@x.y");
	assert_string_equal(out.v[1], "bob@x.y");
	send_addrs_free(&out);
	/* Nothing to map to: they stay. */
	assert_int_equal(send_addrs_map_local(&in, NULL, &out), 0);
	assert_int_equal(out.n, 3);
	send_addrs_free(&out);
	send_addrs_free(&in);
	send_addrs_free(&to);
}

static void header_block_gives_recipients_and_what_is_missing(void **state)
{
	static const char msg[] = "From: Alice <alice@example.com>\r\n"
				  "To: bob@example.com,\r\n"
				  " Carol <carol@example.org>\r\n"
				  "cc: dave@example.net\n"
				  "BCC: eve@example.com\n"
				  "Subject: To: not@a.header\n"
				  "\n"
				  "To: body@example.com\n";
	struct send_headers h;
	char why[SEND_WHY_MAX];

	(void)state;
	assert_int_equal(
	    send_headers_parse(msg, sizeof(msg) - 1, &h, why, sizeof(why)), 0);
	assert_int_equal(h.to_cc.n, 3);
	assert_string_equal(h.to_cc.v[1], "carol@example.org");
	assert_string_equal(h.to_cc.v[2], "dave@example.net");
	assert_int_equal(h.bcc.n, 1);
	assert_string_equal(h.from, "alice@example.com");
	assert_true(h.has_from);
	assert_false(h.has_date);
	assert_false(h.has_message_id);
	send_headers_free(&h);
}

static char *copy_of(const char *msg, const struct send_copy_opts *o)
{
	char *out = NULL, *s;
	size_t len = 0;

	assert_int_equal(send_copy(msg, strlen(msg), o, &out, &len), 0);
	s = strndup(out, len);
	free(out);
	return s;
}

static void copy_has_crlf_lines_and_bcc_as_asked(void **state)
{
	static const char msg[] = "To: a@b.c\nBcc: x@y.z,\n y@y.z\r\n"
				  "Subject: s\n\nBcc: stays in the body\n"
				  "last line without end";
	struct send_addrs blind = {0};
	struct send_copy_opts o = {0};
	char *s;

	(void)state;
	o.drop_bcc = true;
	s = copy_of(msg, &o);
	assert_string_equal(s, "To: a@b.c\r\nSubject: s\r\n\r\n"
			       "Bcc: stays in the body\r\n"
			       "last line without end\r\n");
	free(s);

	/* The APIs: the blind recipients are written in, once. */
	assert_int_equal(send_addrs_add(&blind, "x@y.z", 5), 0);
	assert_int_equal(send_addrs_add(&blind, "w@v.u", 5), 0);
	memset(&o, 0, sizeof(o));
	o.bcc = &blind;
	o.add[0] = "Date: today";
	s = copy_of(msg, &o);
	assert_string_equal(s, "Date: today\r\nBcc: x@y.z,\r\n w@v.u\r\n"
			       "To: a@b.c\r\nSubject: s\r\n\r\n"
			       "Bcc: stays in the body\r\n"
			       "last line without end\r\n");
	free(s);
	send_addrs_free(&blind);

	/* 8-bit bytes and CRLF already there pass as they are. */
	memset(&o, 0, sizeof(o));
	s = copy_of("Subject: \xc3\xa9\r\n\r\n\xff\xfe body\r\n", &o);
	assert_string_equal(s, "Subject: \xc3\xa9\r\n\r\n\xff\xfe body\r\n");
	free(s);
}

/* A field naming a local user is written anew, as sendmail qualifies
   such addresses; the rest stays as it was. */
static void copy_writes_local_users_fields_anew(void **state)
{
	static const char msg[] = "From: root (Cron Daemon)\n"
				  "To: Admin <root>,\n bob@x.y\n"
				  "Cc: \"Carol\" <carol@x.y>\n"
				  "Bcc: www-data\n"
				  "Subject: Cron <root@host> run-parts\n"
				  "\n"
				  "To: root\n";
	struct send_addrs to = {0};
	struct send_copy_opts o = {0};
	char *s;

	(void)state;
	assert_int_equal(send_addrs_add(&to, "ops@x.y", 7), 0);
	o.local_to = &to;
	o.from_field = "From: \"Cron Daemon\" <alice@x.y>";
	s = copy_of(msg, &o);
	assert_string_equal(s, "From: \"Cron Daemon\" <alice@x.y>\r\n"
			       "To: ops@x.y,\r\n bob@x.y\r\n"
			       "Cc: \"Carol\" <carol@x.y>\r\n"
			       "Bcc: ops@x.y\r\n"
			       "Subject: Cron <root@host> run-parts\r\n"
			       "\r\n"
			       "To: root\r\n");
	free(s);
	/* Found by fuzz_message: an address that needs its angle brackets
	   keeps them when the field is written anew, so that it reads back
	   as itself and not as a group's name and a local user. */
	memset(&o, 0, sizeof(o));
	o.local_to = &to;
	s = copy_of("To: b, <g@h.:i>\n\nx\n", &o);
	assert_string_equal(s, "To: ops@x.y,\r\n <g@h.:i>\r\n\r\nx\r\n");
	free(s);
	/* A From with a domain, and no local_recipient: as they are. */
	memset(&o, 0, sizeof(o));
	o.from_field = "From: never@x.y";
	s = copy_of("From: Alice <alice@x.y>\nTo: root\n\nhi\n", &o);
	assert_string_equal(s, "From: Alice <alice@x.y>\r\nTo: root\r\n"
			       "\r\nhi\r\n");
	free(s);
	send_addrs_free(&to);
}

static char *seven_bit(const char *msg, int want, const char *why_has)
{
	char *out = NULL, *s, why[SEND_WHY_MAX] = "";
	size_t len = 0, i;

	assert_int_equal(
	    send_to_7bit(msg, strlen(msg), &out, &len, why, sizeof(why)), want);
	if (want != 0) {
		assert_null(out);
		if (strstr(why, why_has) == NULL)
			fail_msg("'%s' does not say '%s'", why, why_has);
		return NULL;
	}
	for (i = 0; i < len; i++)
		assert_true((unsigned char)out[i] < 0x80);
	s = strndup(out, len);
	free(out);
	return s;
}

/* RFC 6152: to a server without 8BITMIME, a single-part body goes
   quoted-printable (RFC 2045 6.7), which reads back to the same text. */
static void eight_bit_body_becomes_quoted_printable(void **state)
{
	char *s;

	(void)state;
	assert_false(send_has_8bit("plain\r\n", 7));
	assert_true(send_has_8bit("\xc3\xa9", 2));
	s = seven_bit(
	    "Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\nMIME-Version: 1.0\r\n"
	    "\r\n"
	    "Gr\xc3\xbc\xc3\x9f"
	    "e = 1\r\n"
	    "ends in a blank \r\n"
	    "\ttab\t\r\n",
	    0, NULL);
	assert_string_equal(
	    s, "Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	       "MIME-Version: 1.0\r\n"
	       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	       "Gr=C3=BC=C3=9Fe =3D 1\r\n"
	       "ends in a blank=20\r\n"
	       "\ttab=09\r\n");
	free(s);
	/* Long lines are broken softly, no line over 76. */
	s = seven_bit("\r\n"
		      "\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4"
		      "\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4\xe4"
		      "\xe4\xe4\r\n",
		      0, NULL);
	/* Not UTF-8: the charset is unknown-8bit (RFC 1428). */
	assert_string_equal(
	    s, "MIME-Version: 1.0\r\n"
	       "Content-Type: text/plain; charset=unknown-8bit\r\n"
	       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	       "=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4=E4="
	       "E4=E4=E4=E4=E4=\r\n"
	       "=E4=E4=E4\r\n");
	free(s);
	/* What cannot be converted without changing what a reader sees. */
	seven_bit("Subject: \xc3\xa9t\xc3\xa9\r\n\r\nhi\r\n",
		  XO_ERR_MESSAGE_BAD, "header");
	seven_bit("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		  "--b\r\n\r\n\xc3\xa9\r\n--b--\r\n",
		  XO_ERR_MESSAGE_BAD, "multipart/mixed");
	seven_bit("Content-Type: Message/RFC822\r\n\r\n\xc3\xa9\r\n",
		  XO_ERR_MESSAGE_BAD, "message/rfc822");
	seven_bit("Content-Transfer-Encoding:  Base64 \r\n\r\n\xc3\xa9\r\n",
		  XO_ERR_MESSAGE_BAD, "base64");
}

static void exchange_refusals_that_allow_graph_are_known(void **state)
{
	(void)state;
	assert_true(send_smtp_auth_off(
	    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
	    "is disabled for the Tenant. Visit "
	    "https://aka.ms/smtp_auth_disabled"));
	assert_true(send_smtp_auth_off(
	    "535 5.7.3 Authentication unsuccessful [BN0PR04CA0001.namprd04]"));
	assert_false(send_smtp_auth_off("535-5.7.8 Username and Password not "
					"accepted"));
	assert_false(send_smtp_auth_off("454 4.7.0 Temporary authentication "
					"failure"));
	/* A 4xx is no refusal of SMTP AUTH, whatever it quotes. */
	assert_false(send_smtp_auth_off("454 4.7.0 see 5.7.139 later"));
}

static void api_errors_of_graph_and_google_are_read(void **state)
{
	static const char graph[] =
	    "{\"error\":{\"code\":\"ErrorAccessDenied\",\"message\":\"Access "
	    "is denied.\\nCheck credentials.\"}}";
	static const char google[] =
	    "{\"error\":{\"code\":403,\"message\":\"Request had insufficient "
	    "authentication scopes.\",\"status\":\"PERMISSION_DENIED\","
	    "\"errors\":[{\"reason\":\"insufficientPermissions\"}]}}";
	char code[64], msg[128];

	(void)state;
	send_api_error(graph, sizeof(graph) - 1, code, sizeof(code), msg,
		       sizeof(msg));
	assert_string_equal(code, "ErrorAccessDenied");
	assert_string_equal(msg, "Access is denied. Check credentials.");
	send_api_error(google, sizeof(google) - 1, code, sizeof(code), msg,
		       sizeof(msg));
	assert_string_equal(code, "insufficientPermissions");
	assert_string_equal(msg,
			    "Request had insufficient authentication scopes.");
	send_api_error("not json", 8, code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "");
	assert_string_equal(msg, "");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(addresses_are_read_as_rfc5322_writes_them),
	    cmocka_unit_test(unreadable_addresses_are_refused),
	    cmocka_unit_test(local_users_names_are_read_and_mapped),
	    cmocka_unit_test(header_block_gives_recipients_and_what_is_missing),
	    cmocka_unit_test(copy_has_crlf_lines_and_bcc_as_asked),
	    cmocka_unit_test(copy_writes_local_users_fields_anew),
	    cmocka_unit_test(eight_bit_body_becomes_quoted_printable),
	    cmocka_unit_test(exchange_refusals_that_allow_graph_are_known),
	    cmocka_unit_test(api_errors_of_graph_and_google_are_read),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("send", tests, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
