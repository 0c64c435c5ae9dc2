/*
 * clock.c: token deadlines count time spent suspended (DESIGN.md), so they
 * are kept on CLOCK_BOOTTIME; libuv's timers run on the monotonic clock,
 * which stops during suspend, and only wake us up.
 */
#include <time.h>

#include "core/clock.h"

int64_t agent_now_boot(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
