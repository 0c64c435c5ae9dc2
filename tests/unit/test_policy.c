/* Refresh-policy arithmetic (DESIGN.md, "Refresh policy"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include "account/pure/policy.h"

#define S 1000
#define MIN (60 * S)

static void margin_is_ten_minutes_for_an_hour_token(void **state)
{
	(void)state;
	/* 25 % of 60 min is 15 min, above the 10 min floor. */
	assert_int_equal(policy_margin(60 * MIN), 15 * MIN);
	/* 25 % of 30 min is 7.5 min: the floor wins. */
	assert_int_equal(policy_margin(30 * MIN), 10 * MIN);
}

static void margin_never_exceeds_half_the_lifetime(void **state)
{
	(void)state;
	assert_int_equal(policy_margin(30 * S), 15 * S);
	assert_int_equal(policy_margin(10 * MIN), 5 * MIN);
	assert_int_equal(policy_margin(20 * MIN), 10 * MIN);
}

static void margin_is_a_quarter_for_long_tokens(void **state)
{
	(void)state;
	assert_int_equal(policy_margin(24 * 60 * MIN), 6 * 60 * MIN);
}

static void jitter_moves_refresh_earlier_by_at_most_ten_percent(void **state)
{
	int64_t plain = policy_refresh_at(1000, 60 * MIN, 0);
	int64_t late = policy_refresh_at(1000, 60 * MIN, 0.999);

	(void)state;
	assert_int_equal(plain, 1000 + 45 * MIN);
	assert_true(late < plain);
	assert_true(plain - late <= 15 * MIN / 10);
	/* Out-of-range jitter is ignored rather than trusted. */
	assert_int_equal(policy_refresh_at(1000, 60 * MIN, 7), plain);
}

static void backoff_doubles_up_to_five_minutes(void **state)
{
	(void)state;
	/* jitter 0.5 means no spread. */
	assert_int_equal(policy_backoff(1, -1, 0.5), 2 * S);
	assert_int_equal(policy_backoff(2, -1, 0.5), 4 * S);
	assert_int_equal(policy_backoff(3, -1, 0.5), 8 * S);
	assert_int_equal(policy_backoff(30, -1, 0.5), 300 * S);
	assert_int_equal(policy_backoff(1000, -1, 0.5), 300 * S);
}

static void backoff_spread_stays_within_twenty_percent(void **state)
{
	(void)state;
	assert_int_equal(policy_backoff(3, -1, 0), 8 * S * 8 / 10);
	assert_true(policy_backoff(3, -1, 0.999) <= 8 * S * 12 / 10);
}

static void retry_after_wins_when_longer_and_is_capped(void **state)
{
	(void)state;
	assert_int_equal(policy_backoff(1, 30 * S, 0.5), 30 * S);
	assert_int_equal(policy_backoff(10, 1 * S, 0.5), 300 * S);
	assert_int_equal(policy_backoff(1, 48 * 3600 * S, 0.5), 3600 * S);
}

static void default_min_valid_fits_short_tokens(void **state)
{
	(void)state;
	assert_int_equal(policy_min_valid(60 * MIN), 60 * S);
	assert_int_equal(policy_min_valid(20 * S), 5 * S);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(margin_is_ten_minutes_for_an_hour_token),
	    cmocka_unit_test(margin_never_exceeds_half_the_lifetime),
	    cmocka_unit_test(margin_is_a_quarter_for_long_tokens),
	    cmocka_unit_test(
		jitter_moves_refresh_earlier_by_at_most_ten_percent),
	    cmocka_unit_test(backoff_doubles_up_to_five_minutes),
	    cmocka_unit_test(backoff_spread_stays_within_twenty_percent),
	    cmocka_unit_test(retry_after_wins_when_longer_and_is_capped),
	    cmocka_unit_test(default_min_valid_fits_short_tokens),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("policy", tests, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
