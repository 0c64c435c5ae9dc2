/* The refresh log's quota: lines per window of time (account/pure/quota.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include "account/pure/quota.h"

#define T0 1000000

/* Lines taken at now; returns how many may be logged. */
static unsigned take(struct log_quota *q, int64_t now, unsigned n)
{
	unsigned logged = 0;

	while (n-- > 0)
		logged += log_quota_take(q, now);
	return logged;
}

static void a_few_lines_all_go_out(void **state)
{
	struct log_quota q = {.max_lines = QUOTA_LINES};

	(void)state;
	assert_int_equal(take(&q, T0, 3), 3);
	assert_false(log_quota_over(&q, T0 + QUOTA_WINDOW_MS));
	/* Windows apart, every line goes out again. */
	assert_int_equal(take(&q, T0 + QUOTA_WINDOW_MS, QUOTA_LINES),
			 QUOTA_LINES);
}

static void lines_past_the_quota_are_held_and_counted(void **state)
{
	struct log_quota q = {.max_lines = QUOTA_LINES};

	(void)state;
	assert_int_equal(take(&q, T0, QUOTA_LINES + 7), QUOTA_LINES);
	assert_false(log_quota_over(&q, T0 + QUOTA_WINDOW_MS - 1));
	assert_true(log_quota_over(&q, T0 + QUOTA_WINDOW_MS));
	assert_int_equal(log_quota_end(&q), 7);
	assert_false(log_quota_over(&q, T0 + QUOTA_WINDOW_MS));
	/* The next window starts with the next line, with its own quota. */
	assert_int_equal(take(&q, T0 + 2 * QUOTA_WINDOW_MS, QUOTA_LINES + 1),
			 QUOTA_LINES);
	assert_int_equal(log_quota_end(&q), 1);
}

static void a_window_with_lines_held_stays_open_until_counted(void **state)
{
	struct log_quota q = {.max_lines = 2};

	(void)state;
	assert_int_equal(take(&q, T0, 3), 2);
	/* Its end has passed, but nobody took the count yet: the line is
	   held too, not lost, and the sum says so. */
	assert_int_equal(take(&q, T0 + QUOTA_WINDOW_MS + 5, 1), 0);
	assert_int_equal(log_quota_end(&q), 2);
}

static void lines_spread_over_a_window_share_its_quota(void **state)
{
	struct log_quota q = {.max_lines = 2};

	(void)state;
	assert_int_equal(take(&q, T0, 1), 1);
	assert_int_equal(take(&q, T0 + QUOTA_WINDOW_MS - 1, 2), 1);
	assert_int_equal(log_quota_end(&q), 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_few_lines_all_go_out),
	    cmocka_unit_test(lines_past_the_quota_are_held_and_counted),
	    cmocka_unit_test(a_window_with_lines_held_stays_open_until_counted),
	    cmocka_unit_test(lines_spread_over_a_window_share_its_quota),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("quota", tests, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
