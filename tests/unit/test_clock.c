/*
 * The boot timer (core/clock.c) on the real CLOCK_BOOTTIME, in a real
 * loop: it fires at its deadline and not before, at once for a deadline
 * that has passed, never while disarmed, and (in a build with the test
 * hooks) at once after a simulated suspend slept past its deadline.
 *
 * Each test runs the loop until a guard timer of libuv's stops it, and
 * counts the boot timer's callbacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/test_hooks.h"

struct fixture {
	uv_loop_t loop;
	struct agent_boot_timer timer;
	uv_timer_t guard;
	unsigned fired;
	int64_t fired_at; /* agent_now_boot() in the last callback */
	bool stop_on_fire;
};

static void on_fire(struct agent_boot_timer *t)
{
	struct fixture *f = t->data;

	f->fired++;
	f->fired_at = agent_now_boot();
	if (f->stop_on_fire)
		uv_stop(&f->loop);
}

static void on_guard(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	agent_log_init("test_clock", LOG_LEVEL_ERROR, 1);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(agent_boot_timer_init(&f->loop, &f->timer, on_fire),
			 0);
	f->timer.data = f;
	uv_timer_init(&f->loop, &f->guard);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	agent_boot_timer_close(&f->timer, NULL);
	uv_close((uv_handle_t *)&f->guard, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

/* Runs the loop for at most ms of libuv's (monotonic) time. */
static void run_for(struct fixture *f, uint64_t ms)
{
	uv_update_time(&f->loop);
	uv_timer_start(&f->guard, on_guard, ms, 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	uv_timer_stop(&f->guard);
}

static void boot_timer_fires_at_its_deadline_and_not_before(void **state)
{
	struct fixture *f = *state;
	int64_t at = agent_now_boot() + 150;

	assert_int_equal(agent_boot_timer_arm(&f->timer, at), 0);
	assert_int_equal(f->timer.at, at);
	run_for(f, 100);
	assert_int_equal(f->fired, 0);
	f->stop_on_fire = true;
	run_for(f, 5000);
	assert_int_equal(f->fired, 1);
	assert_true(f->fired_at >= at);
	/* Once fired it is disarmed: it does not fire again. */
	assert_int_equal(f->timer.at, 0);
	f->stop_on_fire = false;
	run_for(f, 100);
	assert_int_equal(f->fired, 1);
}

static void boot_timer_for_a_passed_deadline_fires_at_once(void **state)
{
	struct fixture *f = *state;

	f->stop_on_fire = true;
	assert_int_equal(agent_boot_timer_arm(&f->timer, agent_now_boot() - 1),
			 0);
	run_for(f, 5000);
	assert_int_equal(f->fired, 1);
}

static void disarmed_boot_timer_never_fires(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(agent_boot_timer_arm(&f->timer, agent_now_boot() + 50),
			 0);
	assert_int_equal(agent_boot_timer_arm(&f->timer, 0), 0);
	assert_int_equal(f->timer.at, 0);
	run_for(f, 300);
	assert_int_equal(f->fired, 0);
}

static void boot_timer_moved_later_fires_only_at_the_new_deadline(void **state)
{
	struct fixture *f = *state;
	int64_t later = agent_now_boot() + 400;

	assert_int_equal(agent_boot_timer_arm(&f->timer, agent_now_boot() + 50),
			 0);
	assert_int_equal(agent_boot_timer_arm(&f->timer, later), 0);
	run_for(f, 200);
	assert_int_equal(f->fired, 0);
	f->stop_on_fire = true;
	run_for(f, 5000);
	assert_int_equal(f->fired, 1);
	assert_true(f->fired_at >= later);
}

static void simulated_suspend_past_the_deadline_fires_at_once(void **state)
{
#ifdef XO_TEST_HOOKS
	struct fixture *f = *state;
	int64_t before = agent_now_boot(), at = before + 1800 * 1000;

	/* Half an hour away; then the machine "sleeps" an hour. */
	assert_int_equal(agent_boot_timer_arm(&f->timer, at), 0);
	run_for(f, 50);
	assert_int_equal(f->fired, 0);
	assert_int_equal(setenv("XOAUTH_AGENT_TEST_SUSPEND_S", "3600", 1), 0);
	assert_int_equal(agent_test_suspend(), 0);
	assert_true(agent_now_boot() >= before + 3600 * 1000);
	/* The kernel does this by itself on a real resume. */
	agent_boot_timer_rearm(&f->timer);
	f->stop_on_fire = true;
	run_for(f, 5000);
	assert_int_equal(f->fired, 1);
	assert_true(f->fired_at >= at);
#else
	(void)state;
	skip();
#endif
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		boot_timer_fires_at_its_deadline_and_not_before, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		boot_timer_for_a_passed_deadline_fires_at_once, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(disarmed_boot_timer_never_fires,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		boot_timer_moved_later_fires_only_at_the_new_deadline, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		simulated_suspend_past_the_deadline_fires_at_once, setup,
		teardown),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("clock", tests, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
