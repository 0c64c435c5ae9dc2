/*
 * An [account NAME] section given as key/value pairs (the ADD request of
 * PROTOCOL.md 4.8): checked by the same code as the config file, with
 * messages of the form "KEY: problem" instead of "FILE:LINE: ...".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xoauth/xo_errors.h>

#include "config/config.h"
#include "core/log.h"

#define MS_APP "00000000-1111-2222-3333-444444444444"
#define N(a) (sizeof(a) / sizeof((a)[0]))

static int quiet(void **state)
{
	(void)state;
	agent_log_init("test_config_pairs", LOG_LEVEL_ERROR, 1);
	return 0;
}

static void pairs_give_the_same_account_as_the_file(void **state)
{
	static const char text[] = "[account work]\n"
				   "provider = microsoft\n"
				   "tenant = organizations\n"
				   "client_id = " MS_APP "\n"
				   "email = alice@contoso.com\n"
				   "scopes = a  b\n";
	static const struct agent_setting s[] = {
	    {"provider", "microsoft"}, {"tenant", "organizations"},
	    {"client_id", MS_APP},     {"email", "alice@contoso.com"},
	    {"scopes", "a  b"},
	};
	struct agent_account_cfg a;
	struct agent_config *c = NULL;
	char err[512] = "";
	int r;

	(void)state;
	assert_int_equal(
	    agent_config_parse("f", text, strlen(text), &c, err, sizeof(err)),
	    0);
	r = agent_config_account("work", s, N(s), &a, err, sizeof(err));
	if (r != 0)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	/* Presets, defaults and normalised values all match. */
	assert_true(agent_account_cfg_equal(&a, &c->accounts[0]));
	assert_string_equal(a.flow, "device");
	assert_string_equal(a.scopes, "a b");
	assert_non_null(strstr(a.token_endpoint, "/organizations/"));
	agent_account_cfg_cleanup(&a);
	agent_config_free(c);
}

static void issuer_and_client_id_are_enough(void **state)
{
	static const struct agent_setting s[] = {
	    {"provider", "generic"},
	    {"issuer", "http://127.0.0.1:3000"},
	    {"client_id", "demo"},
	};
	struct agent_account_cfg a;
	char err[512] = "";

	(void)state;
	assert_int_equal(
	    agent_config_account("local", s, N(s), &a, err, sizeof(err)), 0);
	assert_string_equal(a.name, "local");
	assert_int_equal(a.needs_discovery, 1);
	assert_null(a.email);
	assert_string_equal(a.flow, "device");
	agent_account_cfg_cleanup(&a);
}

static void client_secret_is_kept_for_the_agent_to_seal(void **state)
{
	static const struct agent_setting s[] = {
	    {"client_id", "x"},
	    {"token_endpoint", "https://id.example/t"},
	    {"client_secret", "s3cr3t"},
	};
	struct agent_account_cfg a;
	char err[512] = "";

	(void)state;
	assert_int_equal(
	    agent_config_account("a", s, N(s), &a, err, sizeof(err)), 0);
	assert_string_equal(a.client_secret, "s3cr3t");
	agent_account_cfg_cleanup(&a);
	assert_null(a.client_secret);
}

struct pair_case {
	const char *behaviour;
	const char *name;
	struct agent_setting s[4];
	size_t n;
	const char *says; /* the whole message starts with this */
};

#define MSID                                                                   \
	{"provider", "microsoft"},                                             \
	{                                                                      \
		"client_id", MS_APP                                            \
	}

static const struct pair_case cases[] = {
    {"unknown_key_suggests_near_miss",
     "a",
     {MSID, {"tennant", "x.com"}},
     3,
     "tennant: unknown key (did you mean 'tenant'?)"},
    {"unknown_key_names_our_key_for_another_tools",
     "a",
     {MSID, {"token_url", "https://x.example/t"}},
     3,
     "token_url: unknown key (did you mean 'token_endpoint'?)"},
    {"missing_client_id",
     "a",
     {{"provider", "google"}},
     1,
     "client_id: missing (expected the application (client) id"},
    {"no_settings_at_all", "a", {{NULL, NULL}}, 0, "client_id: missing"},
    {"unknown_provider_lists_valid_ones",
     "a",
     {{"provider", "hotmail"}, {"client_id", "x"}},
     2,
     "provider: unknown provider 'hotmail' (expected one of microsoft, "},
    {"empty_value",
     "a",
     {MSID, {"email", ""}},
     3,
     "email: value missing (expected an e-mail address"},
    {"key_set_twice",
     "a",
     {MSID, {"client_id", "other"}},
     3,
     "client_id: set twice; keep one"},
    {"bad_email",
     "a",
     {MSID, {"email", "alice"}},
     3,
     "email: 'alice' is not an e-mail address"},
    {"control_character",
     "a",
     {MSID, {"scopes", "a\nb"}},
     3,
     "scopes: value contains the control character 0x0a"},
    {"google_refuses_device_flow",
     "a",
     {{"provider", "google"}, {"client_id", "x"}, {"flow", "device"}},
     3,
     "flow: Google refuses the device flow"},
    {"secret_and_secret_cmd",
     "a",
     {MSID, {"client_secret", "s3cr3t"}, {"client_secret_cmd", "pass x"}},
     4,
     "client_secret_cmd: client_secret and client_secret_cmd are both set"},
    {"generic_without_endpoint",
     "a",
     {{"client_id", "x"}},
     1,
     "token_endpoint: neither token_endpoint nor issuer is set"},
    {"plain_http_to_a_remote_host",
     "a",
     {{"client_id", "x"}, {"issuer", "http://id.example.com"}},
     2,
     "issuer: 'http://id.example.com' uses plain http:// to a host that "
     "is not a loopback address"},
    {"empty_key", "a", {MSID, {"", "x"}}, 3, "a setting has an empty key"},
    {"bad_name", "a/b", {MSID}, 2, "name: bad account name 'a/b'"},
    {"empty_name", "", {MSID}, 2, "name: bad account name ''"},
};

static void bad_pairs_get_key_and_problem(void **state)
{
	struct agent_account_cfg a;
	char err[1024];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		const struct pair_case *k = &cases[i];

		memset(&a, 0x5a, sizeof(a));
		snprintf(err, sizeof(err), "unset");
		r = agent_config_account(k->name, k->s, k->n, &a, err,
					 sizeof(err));
		if (r != XO_ERR_CONFIG ||
		    strncmp(err, k->says, strlen(k->says)) != 0)
			print_error("%s: r=%d, message: %s\n", k->behaviour, r,
				    err);
		assert_int_equal(r, XO_ERR_CONFIG);
		assert_true(strncmp(err, k->says, strlen(k->says)) == 0);
		/* No file, no line, and never the secret. */
		assert_null(strstr(err, "s3cr3t"));
		/* Nothing is left to free on failure. */
		assert_null(a.name);
		assert_null(a.client_id);
	}
}

static void file_messages_keep_file_line_and_section(void **state)
{
	static const char text[] = "[account a]\nclient_id = x\n"
				   "client_id = y\n";
	struct agent_config *c = NULL;
	char err[512] = "";

	(void)state;
	/* The refactor must not change what the file's users read. */
	assert_int_equal(agent_config_parse("t.conf", text, strlen(text), &c,
					    err, sizeof(err)),
			 XO_ERR_CONFIG);
	assert_string_equal(err, "t.conf:3: [account a] key 'client_id': set "
				 "twice (first at line 2); keep one");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pairs_give_the_same_account_as_the_file),
	    cmocka_unit_test(issuer_and_client_id_are_enough),
	    cmocka_unit_test(client_secret_is_kept_for_the_agent_to_seal),
	    cmocka_unit_test(bad_pairs_get_key_and_problem),
	    cmocka_unit_test(file_messages_keep_file_line_and_section),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("config_pairs", tests, quiet, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
