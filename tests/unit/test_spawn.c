/*
 * Running commands from the agent (spawn.h) with the real /bin/sh on a
 * private libuv loop: output capture and its cap, exit status, the
 * deadline that ends the whole process group (TERM, then KILL), cancel and
 * shutdown; and the pure helpers of the secret command and the notify
 * hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "unit.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include <xoauth/xo_errors.h>

#include "core/log.h"
#include "account/notify.h"
#include "account/secret_cmd.h"
#include "account/spawn.h"

struct run {
	int calls;
	struct agent_spawn_result res;
	char out[16384];
	size_t out_len;
	int had_out;
};

static void on_done(void *arg, struct agent_spawn_result *res)
{
	struct run *r = arg;

	r->calls++;
	r->res = *res;
	r->res.out = NULL;
	if (res->out != NULL) {
		r->had_out = 1;
		r->out_len = res->out->len;
		memcpy(r->out, res->out->data, res->out->len + 1);
	}
}

static uint64_t now_ms(uv_loop_t *loop)
{
	uv_update_time(loop);
	return uv_now(loop);
}

/* Runs cmd to its end on a fresh loop. */
static void run_cmd(const char *cmd, size_t cap, uint64_t timeout_ms,
		    const char *const *env, struct run *r, uint64_t *took_ms)
{
	uv_loop_t loop;
	struct agent_spawns set;
	struct agent_spawn_opts o;
	uint64_t t0;

	memset(r, 0, sizeof(*r));
	assert_int_equal(uv_loop_init(&loop), 0);
	agent_spawns_init(&set, &loop, 4);
	memset(&o, 0, sizeof(o));
	o.cmd = cmd;
	o.label = "test";
	o.out_cap = cap;
	o.timeout_ms = timeout_ms;
	o.env = env;
	t0 = now_ms(&loop);
	assert_int_equal(agent_spawn(&set, &o, on_done, r, NULL), 0);
	/* Never inside the call that started it. */
	assert_int_equal(r->calls, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (took_ms != NULL)
		*took_ms = now_ms(&loop) - t0;
	assert_int_equal(r->calls, 1);
	assert_int_equal(set.n, 0);
	assert_null(set.head);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static int alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

/* The pid a command wrote to path, or -1. */
static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return (pid_t)pid;
}

static void output_and_exit_status_are_reported(void **state)
{
	struct run r;

	(void)state;
	run_cmd("printf 'hello\\nworld\\n'; exit 7", 1024, 5000, NULL, &r,
		NULL);
	assert_true(r.res.started);
	assert_true(r.res.exited);
	assert_int_equal(r.res.status, 7);
	assert_false(r.res.timed_out);
	assert_false(r.res.truncated);
	assert_true(r.had_out);
	assert_string_equal(r.out, "hello\nworld\n");
}

static void output_beyond_the_cap_is_dropped_and_flagged(void **state)
{
	struct run r;

	(void)state;
	run_cmd("head -c 100000 /dev/zero | tr '\\0' x", 64, 5000, NULL, &r,
		NULL);
	assert_true(r.res.exited);
	assert_int_equal(r.res.status, 0);
	assert_true(r.res.truncated);
	assert_int_equal(r.out_len, 64);
	assert_int_equal(strlen(r.out), 64);
}

static void discarded_stdout_gives_no_buffer(void **state)
{
	struct run r;

	(void)state;
	run_cmd("echo ignored; echo also >&2", 0, 5000, NULL, &r, NULL);
	assert_true(r.res.exited);
	assert_int_equal(r.res.status, 0);
	assert_false(r.had_out);
}

static void stdin_is_dev_null_and_stderr_is_not_captured(void **state)
{
	struct run r;
	uint64_t took;

	(void)state;
	/* cat would wait forever on an inherited terminal or pipe. */
	run_cmd("cat; echo to-stderr >&2; echo done", 1024, 5000, NULL, &r,
		&took);
	assert_string_equal(r.out, "done\n");
	assert_true(took < 3000);
}

static void extra_environment_is_added_and_replaces(void **state)
{
	const char *env[] = {"XO_TEST_A=one two", "HOME=/nonexistent-home",
			     NULL};
	struct run r;

	(void)state;
	run_cmd("printf '%s|%s|%s' \"$XO_TEST_A\" \"$HOME\" \"${PATH:+path}\"",
		1024, 5000, env, &r, NULL);
	assert_string_equal(r.out, "one two|/nonexistent-home|path");
}

static void agent_descriptors_are_not_inherited(void **state)
{
	char cmd[256];
	struct run r;
	int sv[2];

	(void)state;
	/* As libcurl leaves its sockets: without close-on-exec. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	snprintf(cmd, sizeof(cmd),
		 "for fd in %d %d; do test -e /proc/$$/fd/$fd && echo leaked; "
		 "done; echo checked",
		 sv[0], sv[1]);
	run_cmd(cmd, 1024, 5000, NULL, &r, NULL);
	close(sv[0]);
	close(sv[1]);
	assert_string_equal(r.out, "checked\n");
}

static void deadline_ends_the_whole_process_group(void **state)
{
	char cmd[512], pidfile[256];
	struct run r;
	uint64_t took;
	pid_t grandchild;

	(void)state;
	snprintf(pidfile, sizeof(pidfile), "%s/xo-spawn-%d.pid",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp",
		 (int)getpid());
	unlink(pidfile);
	/* A background child that keeps stdout open, and a shell that
	   waits for it. */
	snprintf(cmd, sizeof(cmd),
		 "sleep 30 & echo $! > %s; echo partial; wait", pidfile);
	run_cmd(cmd, 1024, 300, NULL, &r, &took);
	assert_true(r.res.timed_out);
	assert_false(r.res.exited);
	assert_int_equal(r.res.term_signal, SIGTERM);
	assert_string_equal(r.out, "partial\n");
	assert_true(took >= 300 && took < 2000);
	grandchild = read_pid(pidfile);
	unlink(pidfile);
	assert_true(grandchild > 0);
	/* The group got the signal, not just the shell. */
	for (int i = 0; i < 100 && alive(grandchild); i++)
		usleep(20000);
	assert_false(alive(grandchild));
}

static void term_ignored_is_followed_by_kill(void **state)
{
	struct run r;
	uint64_t took;
	char how[160];

	(void)state;
	run_cmd("trap '' TERM; sleep 30", 0, 200, NULL, &r, &took);
	assert_true(r.res.timed_out);
	assert_int_equal(r.res.term_signal, SIGKILL);
	/* The deadline, then the grace period, then it is gone. */
	assert_true(took >= 2000 && took < 5000);
	agent_spawn_describe(&r.res, how, sizeof(how));
	assert_string_equal(how, "did not finish within 1 s and was killed");
}

static void describe_names_status_signal_or_start_failure(void **state)
{
	struct agent_spawn_result res;
	char how[160];

	(void)state;
	memset(&res, 0, sizeof(res));
	agent_spawn_describe(&res, how, sizeof(how));
	assert_string_equal(how, "could not be started");
	res.started = 1;
	res.exited = 1;
	res.status = 3;
	agent_spawn_describe(&res, how, sizeof(how));
	assert_string_equal(how, "exited with status 3");
	res.exited = 0;
	res.term_signal = SIGSEGV;
	agent_spawn_describe(&res, how, sizeof(how));
	assert_non_null(strstr(how, "was killed by signal 11"));
	res.timed_out = 1;
	res.timeout_ms = 10000;
	agent_spawn_describe(&res, how, sizeof(how));
	assert_string_equal(how, "did not finish within 10 s and was killed");
}

static void cancel_ends_the_command_without_a_callback(void **state)
{
	uv_loop_t loop;
	struct agent_spawns set;
	struct agent_spawn_opts o;
	struct agent_spawn *s = NULL;
	struct run r;
	uint64_t t0;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(uv_loop_init(&loop), 0);
	agent_spawns_init(&set, &loop, 4);
	memset(&o, 0, sizeof(o));
	o.cmd = "sleep 30";
	o.out_cap = 128;
	o.timeout_ms = 60000;
	assert_int_equal(agent_spawn(&set, &o, on_done, &r, &s), 0);
	assert_non_null(s);
	uv_run(&loop, UV_RUN_NOWAIT);
	agent_spawn_cancel(s);
	t0 = now_ms(&loop);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.calls, 0);
	assert_true(now_ms(&loop) - t0 < 3000);
	assert_int_equal(set.n, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void kill_all_lets_the_loop_end_at_once(void **state)
{
	uv_loop_t loop;
	struct agent_spawns set;
	struct agent_spawn_opts o;
	struct run r[3];
	uint64_t t0;
	int i;

	(void)state;
	memset(r, 0, sizeof(r));
	assert_int_equal(uv_loop_init(&loop), 0);
	agent_spawns_init(&set, &loop, 3);
	memset(&o, 0, sizeof(o));
	o.cmd = "trap '' TERM; sleep 30";
	o.timeout_ms = 60000;
	for (i = 0; i < 3; i++) {
		o.out_cap = i == 0 ? 0 : 64;
		assert_int_equal(agent_spawn(&set, &o, on_done, &r[i], NULL),
				 0);
	}
	/* The cap on commands at once. */
	assert_int_equal(agent_spawn(&set, &o, on_done, &r[0], NULL),
			 XO_ERR_BUSY);
	uv_run(&loop, UV_RUN_NOWAIT);
	agent_spawns_kill_all(&set);
	t0 = now_ms(&loop);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(now_ms(&loop) - t0 < 1500);
	for (i = 0; i < 3; i++)
		assert_int_equal(r[i].calls, 0);
	assert_int_equal(set.n, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void secret_is_the_first_line_without_blanks(void **state)
{
	static const struct {
		const char *out, *secret;
	} cases[] = {
	    {"s3cret\n", "s3cret"},
	    {"s3cret", "s3cret"},
	    {"s3cret\r\nsecond line\n", "s3cret"},
	    {"  s3cret \t\n", "s3cret"},
	    {"a b\n", "a b"},
	    {"\nsecond\n", ""},
	    {"   \n", ""},
	    {"", ""},
	};
	size_t i, start, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = agent_secret_cmd_first_line(cases[i].out,
						strlen(cases[i].out), &start);
		assert_int_equal(n, strlen(cases[i].secret));
		assert_memory_equal(cases[i].out + start, cases[i].secret, n);
	}
}

static void notify_environment_has_no_control_characters(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(agent_notify_env(buf, sizeof(buf), "XOAUTH_MESSAGE",
					     "line one\nline\ttwo\033[31m"),
			    "XOAUTH_MESSAGE=line one line two [31m");
	/* Cut to fit, never overflowing. */
	assert_int_equal(strlen(agent_notify_env(buf, 20, "XOAUTH_URL",
						 "https://example.com/long")),
			 19);
	assert_null(agent_notify_env(buf, 5, "XOAUTH_URL", "x"));
	assert_string_equal(agent_notify_reason_name(NOTIFY_LOGIN_PENDING),
			    "login-pending");
	assert_string_equal(agent_notify_reason_name(NOTIFY_REAUTH), "reauth");
	assert_string_equal(agent_notify_reason_name(NOTIFY_CONFIG_ERROR),
			    "config-error");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(output_and_exit_status_are_reported),
	    cmocka_unit_test(output_beyond_the_cap_is_dropped_and_flagged),
	    cmocka_unit_test(discarded_stdout_gives_no_buffer),
	    cmocka_unit_test(stdin_is_dev_null_and_stderr_is_not_captured),
	    cmocka_unit_test(extra_environment_is_added_and_replaces),
	    cmocka_unit_test(agent_descriptors_are_not_inherited),
	    cmocka_unit_test(deadline_ends_the_whole_process_group),
	    cmocka_unit_test(term_ignored_is_followed_by_kill),
	    cmocka_unit_test(describe_names_status_signal_or_start_failure),
	    cmocka_unit_test(cancel_ends_the_command_without_a_callback),
	    cmocka_unit_test(kill_all_lets_the_loop_end_at_once),
	    cmocka_unit_test(secret_is_the_first_line_without_blanks),
	    cmocka_unit_test(notify_environment_has_no_control_characters),
	};

	const struct unit_group groups[] = {
	    UNIT_GROUP("spawn", tests, NULL, NULL),
	};

	agent_log_init("test_spawn", LOG_LEVEL_ERROR, 1);
	if (sodium_init() < 0)
		return 1;
	return unit_run(argc, argv, groups, 1);
}
