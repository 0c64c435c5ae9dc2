/*
 * quota.h: how many lines of one kind the log takes in a window of time.
 *
 * A refresh is logged in one line.  When a hundred thousand accounts fall
 * due together (an agent started after a night off), that is hundreds of
 * lines a second: journald's default rate limit (10,000 lines in 30 s per
 * service) would then drop lines, errors among them.  So at most
 * QUOTA_LINES of them go out per QUOTA_WINDOW_MS; the rest are held back
 * (the caller logs them at debug level) and counted, and one line at the
 * window's end says how many there were.  Pure, so that it is tested on
 * its own; times in milliseconds of any one clock.
 */
#ifndef XO_ACCOUNT_PURE_QUOTA_H
#define XO_ACCOUNT_PURE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#define QUOTA_LINES 50
#define QUOTA_WINDOW_MS (10 * 1000)

struct log_quota {
	unsigned max_lines; /* per window: QUOTA_LINES (tests: fewer) */
	int64_t window_end; /* 0: no window open */
	unsigned lines;	    /* logged in this window */
	unsigned held;	    /* held back in this window */
};

/*
 * Counts a line at now: true when it may be logged, false when it is held
 * back.  The first line after a window has ended opens the next one, as
 * long as nothing was held back in it: log_quota_end() has to take the
 * count first (log_quota_over() says when).
 */
bool log_quota_take(struct log_quota *q, int64_t now);
/* True when the window has ended with lines held back, to be summed up. */
bool log_quota_over(const struct log_quota *q, int64_t now);
/* Closes the window (the next line opens a new one); returns how many
   lines it held back. */
unsigned log_quota_end(struct log_quota *q);

#endif
