/* pam_xoauth's module arguments and the socket path they lead to
 * (contrib/pam/options.c, pam_xoauth(8)). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "options.h"

#define AGENT "/usr/bin/xoauth-agent"

static int parse(struct pxo_options *o, const char **argv, int argc, char *err,
		 size_t n)
{
	return pxo_options_parse(o, argc, argv, AGENT, err, n);
}

static void no_arguments_mean_unlock_only(void **state)
{
	struct pxo_options o;
	char err[128];

	(void)state;
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(o.auto_start, 0);
	assert_int_equal(o.create, 0);
	assert_int_equal(o.lock_on_close, 0);
	assert_int_equal(o.debug, 0);
	assert_int_equal(o.timeout_ms, PXO_DEFAULT_TIMEOUT_MS);
	assert_null(o.socket);
	assert_string_equal(o.agent, AGENT);
}

static void every_argument_is_understood(void **state)
{
	const char *argv[] = {"debug",
			      "auto_start",
			      "create",
			      "lock_on_close",
			      "timeout=3",
			      "socket=/run/xo/%u/socket",
			      "agent=/opt/xo/bin/xoauth-agent"};
	struct pxo_options o;
	char err[128];

	(void)state;
	assert_int_equal(parse(&o, argv, 7, err, sizeof(err)), 0);
	assert_int_equal(o.debug, 1);
	assert_int_equal(o.auto_start, 1);
	assert_int_equal(o.create, 1);
	assert_int_equal(o.lock_on_close, 1);
	assert_int_equal(o.timeout_ms, 3000);
	assert_string_equal(o.socket, "/run/xo/%u/socket");
	assert_string_equal(o.agent, "/opt/xo/bin/xoauth-agent");
}

static void bad_arguments_are_skipped_and_named(void **state)
{
	const char *argv[] = {"create",
			      "timeout=0",
			      "timeout=abc",
			      "timeout=121",
			      "socket=relative/socket",
			      "agent=xoauth-agent",
			      "autostart"};
	struct pxo_options o;
	char err[128];

	(void)state;
	assert_int_equal(parse(&o, argv, 7, err, sizeof(err)), 6);
	/* The good one still counts; the bad ones change nothing. */
	assert_int_equal(o.create, 1);
	assert_int_equal(o.auto_start, 0);
	assert_int_equal(o.timeout_ms, PXO_DEFAULT_TIMEOUT_MS);
	assert_null(o.socket);
	assert_string_equal(o.agent, AGENT);
	assert_non_null(strstr(err, "autostart"));
}

static void default_socket_is_in_the_runtime_dir(void **state)
{
	char out[PXO_PATH_MAX];

	(void)state;
	assert_int_equal(pxo_socket_path(NULL, "/run/user/1000", "alice", 1000,
					 out, sizeof(out)),
			 0);
	assert_string_equal(out, "/run/user/1000/xoauth-agent/socket");
}

static void without_runtime_dir_socket_is_under_run_user(void **state)
{
	char out[PXO_PATH_MAX];

	(void)state;
	assert_int_equal(
	    pxo_socket_path(NULL, NULL, "alice", 1001, out, sizeof(out)), 0);
	assert_string_equal(out, "/run/user/1001/xoauth-agent/socket");
	/* A relative XDG_RUNTIME_DIR is no runtime directory. */
	assert_int_equal(
	    pxo_socket_path(NULL, "run", "alice", 1001, out, sizeof(out)), 0);
	assert_string_equal(out, "/run/user/1001/xoauth-agent/socket");
}

static void template_expands_user_uid_and_percent(void **state)
{
	char out[PXO_PATH_MAX];

	(void)state;
	assert_int_equal(pxo_socket_path("/srv/%u/%U/100%%.sock", NULL, "web",
					 998, out, sizeof(out)),
			 0);
	assert_string_equal(out, "/srv/web/998/100%.sock");
}

static void template_refuses_what_is_no_safe_path(void **state)
{
	char out[PXO_PATH_MAX];

	(void)state;
	/* A stray %, a user name that climbs out, a result too long. */
	assert_int_equal(
	    pxo_socket_path("/srv/%x", NULL, "web", 1, out, sizeof(out)), -1);
	assert_int_equal(
	    pxo_socket_path("/srv/%u/s", NULL, "..", 1, out, sizeof(out)), -1);
	assert_int_equal(
	    pxo_socket_path("/srv/%u/s", NULL, "a/b", 1, out, sizeof(out)), -1);
	assert_int_equal(pxo_socket_path("/srv/%u/s", NULL,
					 "a-user-name-long-enough-to-overflow-"
					 "the-one-hundred-and-eight-bytes-of-"
					 "sun-path-xxxxxxxxxxxxxxxxxxxxxxxxxxx",
					 1, out, sizeof(out)),
			 -1);
	assert_string_equal(out, "");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(no_arguments_mean_unlock_only),
	    cmocka_unit_test(every_argument_is_understood),
	    cmocka_unit_test(bad_arguments_are_skipped_and_named),
	    cmocka_unit_test(default_socket_is_in_the_runtime_dir),
	    cmocka_unit_test(without_runtime_dir_socket_is_under_run_user),
	    cmocka_unit_test(template_expands_user_uid_and_percent),
	    cmocka_unit_test(template_refuses_what_is_no_safe_path),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("pam_options", tests, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
