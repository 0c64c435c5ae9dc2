/*
 * policy.c: refresh margin, jitter and back-off arithmetic.
 */
#include "account/pure/policy.h"

int64_t policy_margin(int64_t lifetime_ms)
{
	int64_t margin = lifetime_ms / 4;

	if (margin < POLICY_MARGIN_FLOOR_MS)
		margin = POLICY_MARGIN_FLOOR_MS;
	/* A token that lives less than 20 minutes would otherwise be
	   refreshed the moment it arrives. */
	if (margin > lifetime_ms / 2)
		margin = lifetime_ms / 2;
	return margin;
}

int64_t policy_refresh_at(int64_t issued_ms, int64_t lifetime_ms,
			  double jitter)
{
	int64_t margin = policy_margin(lifetime_ms);

	if (jitter < 0 || jitter >= 1)
		jitter = 0;
	return issued_ms + lifetime_ms - margin -
	       (int64_t)((double)margin * 0.1 * jitter);
}

int64_t policy_backoff(unsigned failures, int64_t retry_after_ms,
		       double jitter)
{
	int64_t delay = POLICY_BACKOFF_BASE_MS;
	unsigned i;

	for (i = 1; i < failures && delay < POLICY_BACKOFF_MAX_MS; i++)
		delay *= 2;
	if (delay > POLICY_BACKOFF_MAX_MS)
		delay = POLICY_BACKOFF_MAX_MS;
	if (jitter < 0 || jitter >= 1)
		jitter = 0.5;
	delay = (int64_t)((double)delay * (0.8 + 0.4 * jitter));
	if (retry_after_ms > POLICY_RETRY_AFTER_MAX_MS)
		retry_after_ms = POLICY_RETRY_AFTER_MAX_MS;
	if (retry_after_ms > delay)
		delay = retry_after_ms;
	return delay;
}

int64_t policy_min_valid(int64_t lifetime_ms)
{
	int64_t min = 60 * 1000;

	if (min > lifetime_ms / 4)
		min = lifetime_ms / 4;
	return min;
}
