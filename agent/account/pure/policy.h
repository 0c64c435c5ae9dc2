/*
 * policy.h: the refresh policy's arithmetic (DESIGN.md, "Refresh policy"),
 * pure so that it is tested on its own.  All times in milliseconds.
 */
#ifndef XO_ACCOUNT_PURE_POLICY_H
#define XO_ACCOUNT_PURE_POLICY_H

#include <stdint.h>

/* Refresh margin floor: Microsoft's SMTP endpoint rejects tokens that
   expire soon. */
#define POLICY_MARGIN_FLOOR_MS (600 * 1000)
/* Longest pause between retries after transient failures. */
#define POLICY_BACKOFF_MAX_MS (300 * 1000)
#define POLICY_BACKOFF_BASE_MS (2 * 1000)
/* Longest Retry-After we honour: a provider saying "a day" must not stop
   us refreshing a token that dies in an hour. */
#define POLICY_RETRY_AFTER_MAX_MS (3600 * 1000)

/*
 * How long before expiry to refresh a token of this lifetime:
 * max(600 s, 25 %), but at most half the lifetime.
 */
int64_t policy_margin(int64_t lifetime_ms);

/*
 * When to refresh a token issued at issued_ms with this lifetime.  jitter
 * in [0, 1) moves the moment earlier by up to 10 % of the margin, so many
 * accounts do not refresh at once.
 */
int64_t policy_refresh_at(int64_t issued_ms, int64_t lifetime_ms,
			  double jitter);

/*
 * Delay before retry number `failures` (1 for the first retry): doubling
 * from 2 s up to 300 s, with jitter in [0, 1) spreading it by +-20 %.  A
 * provider's Retry-After (ms, < 0 when absent) wins when longer, capped
 * at one hour.
 */
int64_t policy_backoff(unsigned failures, int64_t retry_after_ms,
		       double jitter);

/*
 * Default minimum validity of a token handed out when the client asks for
 * none: 60 s, or a quarter of the lifetime for short-lived tokens.
 */
int64_t policy_min_valid(int64_t lifetime_ms);

#endif
