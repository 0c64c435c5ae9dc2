/*
 * quota.c: lines of one kind per window of time (quota.h).
 */
#include "account/pure/quota.h"

bool log_quota_take(struct log_quota *q, int64_t now)
{
	if (q->window_end == 0 || (now >= q->window_end && q->held == 0)) {
		q->window_end = now + QUOTA_WINDOW_MS;
		q->lines = 0;
	}
	if (q->lines < q->max_lines) {
		q->lines++;
		return true;
	}
	q->held++;
	return false;
}

bool log_quota_over(const struct log_quota *q, int64_t now)
{
	return q->held > 0 && now >= q->window_end;
}

unsigned log_quota_end(struct log_quota *q)
{
	unsigned held = q->held;

	q->window_end = 0;
	q->lines = q->held = 0;
	return held;
}
