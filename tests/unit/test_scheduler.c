/*
 * The refresh scheduler's decisions (account/refresh.c) on a clock the
 * test sets: when the timer wakes, which accounts a tick starts, and when
 * a lifetime is over.
 *
 * agent_now_boot() is the agent's only clock; the link wraps it
 * (scheduler.cmake), so every deadline the store computes is on
 * fake_now.  The timer is a boot timer (core/clock.h), looked at through
 * the deadline it is armed for, on the same fake clock: the loop never
 * runs until the teardown, and no test waits for the kernel's timerfd.
 *
 * The accounts' token endpoint is a port nothing listens on: a refresh
 * that starts goes nowhere, and the tests only look at what started
 * (ACCOUNT_OP_REFRESH).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "account/account_internal.h"
#include "config/config.h"
#include "core/log.h"
#include "oauth/http.h"
#include "secret/secret.h"

/* ---- the clock ---- */

/* A boot time far from 0, which means "none" for every deadline. */
#define T0 ((int64_t)1000000000)

static int64_t fake_now = T0;

int64_t __wrap_agent_now_boot(void);
int64_t __wrap_agent_now_boot(void)
{
	return fake_now;
}

/* ---- an agent with four accounts ---- */

#define SECTION(name, extra)                                                   \
	"[account " name "]\n"                                                 \
	"provider = generic\n"                                                 \
	"client_id = cid-" name "\n"                                           \
	"token_endpoint = http://127.0.0.1:9/token\n"                          \
	"device_authorization_endpoint = http://127.0.0.1:9/device\n"          \
	"scopes = mail\n"                                                      \
	"flow = device\n" extra

static const char config_text[] = SECTION("a", "") SECTION("b", "")
    SECTION("c", "") SECTION("short", "lifetime = 10\n");

struct fixture {
	uv_loop_t loop;
	struct agent a;
	struct agent_config *cfg;
	int locked; /* what the store's locked hook says */
};

static int store_locked(void *arg)
{
	return ((struct fixture *)arg)->locked;
}

static struct account *acct_named(struct fixture *f, const char *name)
{
	struct account *acct = account_find_named(f->a.store, name);

	assert_non_null(acct);
	return acct;
}

/* A refresh token and an access token, as after a login. */
static struct account *logged_in(struct fixture *f, const char *name)
{
	struct account *acct = acct_named(f, name);

	assert_int_equal(
	    agent_secret_seal(f->a.shield, "refresh", 7, &acct->refresh_token),
	    0);
	assert_int_equal(
	    agent_secret_seal(f->a.shield, "access", 6, &acct->access_token),
	    0);
	acct->state = PROTO_STATE_ACTIVE;
	acct->expires_boot = fake_now + 3600 * 1000;
	return acct;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct account_hooks hooks = {.arg = f, .locked = store_locked};
	char err[256];

	if (f == NULL || sodium_init() < 0)
		return -1;
	agent_log_init("test_scheduler", LOG_LEVEL_ERROR, 1);
	fake_now = T0;
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->a.loop = &f->loop;
	f->a.limits.wait_default_ms = 10000;
	assert_int_equal(agent_shield_new(&f->a.shield), 0);
	assert_int_equal(agent_http_new(&f->loop, &f->a.http), 0);
	assert_int_equal(account_store_new(&f->a, &f->a.store), 0);
	account_store_set_hooks(f->a.store, &hooks);
	assert_int_equal(agent_config_parse("test", config_text,
					    strlen(config_text), &f->cfg, err,
					    sizeof(err)),
			 0);
	f->a.config = f->cfg;
	assert_int_equal(account_store_load(f->a.store, f->a.config), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	account_store_stop(f->a.store);
	agent_http_free(f->a.http);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	account_store_free(f->a.store);
	agent_shield_free(f->a.shield);
	agent_config_free(f->cfg);
	free(f);
	return 0;
}

/* Whether the scheduler's timer is armed at all. */
static bool armed(struct fixture *f)
{
	return f->a.store->scheduler.at != 0;
}

/* When the scheduler's timer fires, in ms from now (a deadline that has
   passed fires at once: 0). */
static uint64_t due_in(struct fixture *f)
{
	int64_t at = f->a.store->scheduler.at;

	assert_true(armed(f));
	return at > fake_now ? (uint64_t)(at - fake_now) : 0;
}

static void tick(struct fixture *f)
{
	account_scheduler_tick(&f->a.store->scheduler);
}

/* The deadlines the test set by hand planned, as the code that sets them
   plans them (account_schedule()), then a tick. */
static void plan_and_tick(struct fixture *f)
{
	account_store_schedule(f->a.store);
	tick(f);
}

/* ---- when the timer wakes ---- */

static void timer_wakes_at_earliest_next_refresh(void **state)
{
	struct fixture *f = *state;

	logged_in(f, "a")->next_refresh_boot = T0 + 5000;
	logged_in(f, "b")->next_refresh_boot = T0 + 2000;
	logged_in(f, "c")->next_refresh_boot = 0; /* none planned */
	account_store_schedule(f->a.store);
	assert_int_equal(due_in(f), 2000);
	acct_named(f, "b")->next_refresh_boot = 0;
	account_store_schedule(f->a.store);
	assert_int_equal(due_in(f), 5000);
	/* Later, on the same clock. */
	fake_now = T0 + 4000;
	account_store_schedule(f->a.store);
	assert_int_equal(due_in(f), 1000);
}

static void timer_sleeps_until_the_deadline_however_far(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a");

	/* Nothing planned at all: the timer is disarmed, and an idle agent
	   is never woken by it. */
	account_store_schedule(f->a.store);
	assert_false(armed(f));
	/* A refresh in an hour: one wake-up, in an hour, not a tick every
	   so often before it.  A suspend meanwhile does not put it off: the
	   timer is on CLOCK_BOOTTIME, which runs on in a suspend. */
	a->next_refresh_boot = T0 + 3600 * 1000;
	account_store_schedule(f->a.store);
	assert_int_equal(due_in(f), 3600 * 1000);
	assert_int_equal(f->a.store->scheduler.at, T0 + 3600 * 1000);
	/* The wake-up after a suspend that slept past it: the refresh is
	   due, and starts. */
	fake_now = T0 + 3600 * 1000 + 5;
	tick(f);
	assert_true(account_refreshing(a));
	/* It is out of the plan while it runs: nothing else to wake for. */
	assert_false(armed(f));
}

static void timer_is_disarmed_once_its_account_goes(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a");

	a->next_refresh_boot = T0 + 60 * 1000;
	account_store_schedule(f->a.store);
	assert_int_equal(due_in(f), 60 * 1000);
	/* The tokens are forgotten (xoauth remove): nothing is due, and the
	   timer no longer wakes for what was planned. */
	a->next_refresh_boot = 0;
	account_schedule(a);
	assert_false(armed(f));
}

static void refreshing_account_does_not_pull_timer_earlier(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a");

	a->next_refresh_boot = T0 - 1;
	plan_and_tick(f);
	assert_true(account_refreshing(a));
	/* Its planned refresh has passed, but it is under way: the timer
	   does not wake every millisecond until it ends, nor at all. */
	assert_false(armed(f));
	a->next_refresh_boot = T0 + 10;
	account_store_schedule(f->a.store);
	assert_false(armed(f));
	/* Another account's deadline still counts. */
	logged_in(f, "b")->next_refresh_boot = T0 + 700;
	account_store_schedule(f->a.store);
	assert_int_equal(due_in(f), 700);
}

static void logging_in_account_does_not_pull_timer_earlier(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a");
	struct agent_err err;

	a->next_refresh_boot = T0 + 1000;
	assert_int_equal(account_login_begin(a, NULL, NULL, &err), 0);
	account_store_schedule(f->a.store);
	fake_now = T0 + 1000;
	tick(f);
	/* The login holds the account: no refresh, and no timer spinning
	   on the refresh it put off. */
	assert_false(account_refreshing(a));
	assert_false(armed(f));
}

/* ---- what a tick starts ---- */

static void tick_starts_due_refresh_and_not_future_one(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a"), *b = logged_in(f, "b"),
		       *c = logged_in(f, "c");

	a->next_refresh_boot = T0 - 1000; /* overdue */
	b->next_refresh_boot = T0;	  /* due this very millisecond */
	c->next_refresh_boot = T0 + 1;	  /* not yet */
	plan_and_tick(f);
	assert_true(account_refreshing(a));
	assert_true(account_refreshing(b));
	assert_false(account_refreshing(c));
	assert_int_equal(due_in(f), 1);
	fake_now = T0 + 1;
	tick(f);
	assert_true(account_refreshing(c));
}

static void tick_skips_account_that_cannot_refresh(void **state)
{
	struct fixture *f = *state;
	struct account *a = acct_named(f, "a");

	/* No refresh token: a planned refresh is dropped, not retried at
	   every tick. */
	a->next_refresh_boot = T0 - 1;
	plan_and_tick(f);
	assert_false(account_refreshing(a));
	assert_int_equal(a->next_refresh_boot, 0);
	assert_false(armed(f));
}

static void tick_forgets_tokens_once_lifetime_is_over(void **state)
{
	struct fixture *f = *state;
	struct account *s = logged_in(f, "short"), *a = logged_in(f, "a");

	/* A lifetime of 10 s from now (a start a little ahead of the wall
	   clock counts as no age at all). */
	account_set_obtained(s, time(NULL) + 5);
	assert_int_equal(s->drop_boot, T0 + 10000);
	account_set_obtained(a, time(NULL) + 5); /* no lifetime */
	assert_int_equal(a->drop_boot, 0);
	account_store_schedule(f->a.store);
	assert_int_equal(due_in(f), 10000);
	fake_now = T0 + 9999;
	tick(f);
	assert_non_null(s->refresh_token);
	assert_int_equal(s->state, PROTO_STATE_ACTIVE);
	fake_now = T0 + 10000;
	tick(f);
	assert_null(s->refresh_token);
	assert_null(s->access_token);
	assert_int_equal(s->state, PROTO_STATE_REAUTH);
	assert_int_equal(s->last.code, XO_ERR_LOGIN_NEEDED);
	assert_int_equal(s->drop_boot, 0);
	/* The other account keeps its tokens. */
	assert_non_null(a->refresh_token);
	assert_int_equal(a->state, PROTO_STATE_ACTIVE);
	assert_false(armed(f));
}

static void refreshing_account_past_lifetime_does_not_spin_timer(void **state)
{
	struct fixture *f = *state;
	struct account *s = logged_in(f, "short");

	account_set_obtained(s, time(NULL) + 5);
	s->next_refresh_boot = T0;
	plan_and_tick(f);
	assert_true(account_refreshing(s));
	/* The lifetime ends during the refresh: the tokens go when it
	   ends (refresh_ended() plans again), not at a timer that fires
	   every millisecond until then. */
	fake_now = T0 + 10000;
	tick(f);
	assert_true(account_refreshing(s));
	assert_false(armed(f));
}

static void locked_store_tick_starts_nothing(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a"), *b = logged_in(f, "b");

	a->next_refresh_boot = T0 - 1;
	b->next_refresh_boot = T0;
	f->locked = 1;
	plan_and_tick(f);
	assert_false(account_refreshing(a));
	assert_false(account_refreshing(b));
	/* Nothing can start until the unlock, which plans again
	   (account_store_unlocked()): no timer spinning meanwhile. */
	assert_false(armed(f));
	f->locked = 0;
	account_store_unlocked(f->a.store);
	tick(f);
	assert_true(account_refreshing(a));
	assert_true(account_refreshing(b));
}

/* ---- how many at once ---- */

static void due_accounts_beyond_the_limit_wait_for_a_slot(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a"), *b = logged_in(f, "b"),
		       *c = logged_in(f, "c");

	f->a.store->max_refreshing = 2;
	c->next_refresh_boot = T0 - 3000; /* due first */
	a->next_refresh_boot = T0 - 2000;
	b->next_refresh_boot = T0 - 1000;
	plan_and_tick(f);
	/* The two that came due first run; the third waits, and no timer
	   spins meanwhile: a slot comes when a refresh ends.  The timer
	   wakes once, when the last quarter of b's margin begins (3/4 of
	   the way from its planned refresh to its expiry), for b to go
	   ahead of the paced ones then. */
	assert_true(account_refreshing(c));
	assert_true(account_refreshing(a));
	assert_false(account_refreshing(b));
	assert_int_equal(due_in(f), (1000 + 3600 * 1000) * 3 / 4 - 1000);
	/* One ends (as refresh_ended() does): the next tick is at once, and
	   starts the one that waited. */
	account_set_op(c, ACCOUNT_OP_NONE);
	c->next_refresh_boot = T0 + 600000;
	account_schedule(c);
	assert_int_equal(due_in(f), 0);
	tick(f);
	assert_true(account_refreshing(b));
	assert_false(account_refreshing(c));
	assert_int_equal(f->a.store->refreshing, 2);
}

static void deleted_account_leaves_the_plan(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a"), *b = logged_in(f, "b"),
		       *c = logged_in(f, "c");

	a->next_refresh_boot = T0 + 1000;
	b->next_refresh_boot = T0 + 5000;
	account_store_schedule(f->a.store);
	assert_int_equal(due_in(f), 1000);
	account_unlink(f->a.store, a);
	account_free(a, NULL);
	/* One deleted while it refreshes gives its place back. */
	c->next_refresh_boot = T0 - 1;
	plan_and_tick(f);
	assert_true(account_refreshing(c));
	assert_int_equal(f->a.store->refreshing, 1);
	account_unlink(f->a.store, c);
	account_free(c, NULL);
	assert_int_equal(f->a.store->refreshing, 0);
	/* Out of the heap with the free: the timer follows b now. */
	account_schedule(b);
	assert_int_equal(due_in(f), 5000);
	fake_now = T0 + 5000;
	tick(f);
	assert_true(account_refreshing(b));
}

/* ---- pacing ---- */

/* At T0 + 500 first starts and then still waits; the timer wakes 500 ms
   later, when then starts, and nothing is left to wake for. */
static void starts_at_500_then_1000(struct fixture *f, struct account *first,
				    struct account *then)
{
	fake_now = T0 + 500;
	tick(f);
	assert_true(account_refreshing(first));
	assert_false(account_refreshing(then));
	assert_int_equal(due_in(f), 500);
	fake_now = T0 + 1000;
	tick(f);
	assert_true(account_refreshing(then));
	assert_false(armed(f));
}

static void ahead_of_expiry_refreshes_start_paced(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a"), *b = logged_in(f, "b"),
		       *c = logged_in(f, "c");

	/* Two a second, one at once: three accounts due together, with an
	   hour's token each, start half a second apart. */
	f->a.store->pace_per_s = 2;
	f->a.store->pace_burst = 1;
	c->next_refresh_boot = T0 - 3000;
	a->next_refresh_boot = T0 - 2000;
	b->next_refresh_boot = T0 - 1000;
	plan_and_tick(f);
	assert_true(account_refreshing(c));
	assert_false(account_refreshing(a));
	assert_false(account_refreshing(b));
	/* The timer wakes when the bucket holds the next start, not at
	   once and not never. */
	assert_int_equal(due_in(f), 500);
	fake_now = T0 + 499;
	tick(f);
	assert_false(account_refreshing(a));
	starts_at_500_then_1000(f, a, b);
}

/* One paced start a second, and one at once: a, due first, takes it; b,
   due after it with an hour's token, waits its turn. */
static void one_start_a_second(struct fixture *f, struct account *a,
			       struct account *b)
{
	f->a.store->pace_per_s = 1;
	f->a.store->pace_burst = 1;
	a->next_refresh_boot = T0 - 3000;
	b->next_refresh_boot = T0 - 2000;
}

/* Due 2 s before its expiry, 1 s of that gone: not yet in the last
   quarter of its margin, which begins at T0 + 500. */
static void urgent_at_500(struct account *c)
{
	c->next_refresh_boot = T0 - 1000;
	c->expires_boot = T0 + 1000;
}

static void refresh_in_last_quarter_of_margin_is_not_paced(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a"), *b = logged_in(f, "b"),
		       *c = logged_in(f, "c"), *d = logged_in(f, "short");

	one_start_a_second(f, a, b);
	/* Due 600 s before its expiry and 450 s of that gone: in the last
	   quarter of its margin, so it starts though the bucket is empty. */
	c->next_refresh_boot = T0 - 450 * 1000;
	c->expires_boot = T0 + 150 * 1000;
	/* So does one whose token has expired. */
	d->next_refresh_boot = T0 - 1000;
	d->expires_boot = T0 - 1;
	plan_and_tick(f);
	assert_true(account_refreshing(a));
	assert_true(account_refreshing(c));
	assert_true(account_refreshing(d));
	assert_false(account_refreshing(b));
	assert_int_equal(due_in(f), 1000);
}

static void queued_refresh_reaching_last_quarter_starts_ahead(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a"), *b = logged_in(f, "b"),
		       *c = logged_in(f, "c");

	one_start_a_second(f, a, b);
	urgent_at_500(c);
	plan_and_tick(f);
	assert_true(account_refreshing(a));
	assert_false(account_refreshing(b));
	assert_false(account_refreshing(c));
	/* The timer wakes when c becomes urgent, before the bucket holds
	   b's start, and c goes ahead of b, which came due before it. */
	assert_int_equal(due_in(f), 500);
	/* b keeps its place for the bucket. */
	starts_at_500_then_1000(f, c, b);
}

static void urgent_refresh_takes_the_next_free_slot(void **state)
{
	struct fixture *f = *state;
	struct account *a = logged_in(f, "a"), *b = logged_in(f, "b"),
		       *c = logged_in(f, "c");

	f->a.store->max_refreshing = 1; /* a takes the one slot */
	one_start_a_second(f, a, b);
	urgent_at_500(c);
	plan_and_tick(f);
	assert_true(account_refreshing(a));
	fake_now = T0 + 500;
	tick(f);
	assert_false(account_refreshing(c)); /* no slot */
	/* a ends with the bucket still empty for b: the slot goes to c,
	   which became urgent while it waited behind b. */
	fake_now = T0 + 600;
	account_set_op(a, ACCOUNT_OP_NONE);
	a->next_refresh_boot = T0 + 600000;
	account_schedule(a);
	assert_int_equal(due_in(f), 0);
	tick(f);
	assert_true(account_refreshing(c));
	assert_false(account_refreshing(b));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		timer_wakes_at_earliest_next_refresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		timer_sleeps_until_the_deadline_however_far, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		timer_is_disarmed_once_its_account_goes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		refreshing_account_does_not_pull_timer_earlier, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		logging_in_account_does_not_pull_timer_earlier, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		tick_starts_due_refresh_and_not_future_one, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		tick_skips_account_that_cannot_refresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		tick_forgets_tokens_once_lifetime_is_over, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		refreshing_account_past_lifetime_does_not_spin_timer, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(locked_store_tick_starts_nothing,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		due_accounts_beyond_the_limit_wait_for_a_slot, setup, teardown),
	    cmocka_unit_test_setup_teardown(deleted_account_leaves_the_plan,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		ahead_of_expiry_refreshes_start_paced, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		refresh_in_last_quarter_of_margin_is_not_paced, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		queued_refresh_reaching_last_quarter_starts_ahead, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		urgent_refresh_takes_the_next_free_slot, setup, teardown),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("scheduler", tests, NULL, NULL),
	};
	int status;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	status = unit_run(argc, argv, groups, 1);
	curl_global_cleanup();
	return status;
}
