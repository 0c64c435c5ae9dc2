/*
 * refresh_log.c: the one line a refresh leaves in the log, kept to a
 * quota (pure/quota.h) so that a storm of refreshes does not flood it:
 * past the quota, a refresh's line goes to the debug level, and one line
 * at the end of the window says how many there were.
 */
#include <stdio.h>

#include "account/account_internal.h"
#include "account/pure/quota.h"
#include "core/log.h"
#include "core/test_hooks.h"
#include "secret/secret.h"

/* The line of the window's refreshes held back, if it has ended. */
static void sum_up(struct account_store *s)
{
	unsigned held = log_quota_end(&s->refresh_quota);

	uv_timer_stop(&s->refresh_summary);
	if (held > 0)
		log_info("%u more tokens refreshed in the last %d s (the log "
			 "names at most %u refreshes per %d s; -d names all)",
			 held, QUOTA_WINDOW_MS / 1000,
			 s->refresh_quota.max_lines, QUOTA_WINDOW_MS / 1000);
}

static void on_window_end(uv_timer_t *t)
{
	sum_up(t->data);
}

void account_refresh_log_init(struct account_store *s)
{
	s->refresh_quota.max_lines = agent_test_number(
	    "XOAUTH_AGENT_TEST_REFRESH_LOG_LINES", QUOTA_LINES);
	uv_timer_init(s->agent->loop, &s->refresh_summary);
	s->refresh_summary.data = s;
}

void account_refresh_log_close(struct account_store *s)
{
	sum_up(s);
	uv_close((uv_handle_t *)&s->refresh_summary, NULL);
}

void account_log_refreshed(struct account *acct, const char *scope,
			   int64_t lifetime_ms, int64_t next_in_ms,
			   bool rotated)
{
	struct account_store *s = acct->store;
	struct log_quota *q = &s->refresh_quota;
	int64_t now = (int64_t)uv_now(s->agent->loop);
	char whose[300] = "", fp[9], rotation[40] = "";
	bool logged;

	if (scope != NULL)
		snprintf(whose, sizeof(whose), " for %s", scope);
	if (rotated) {
		agent_secret_fingerprint(acct->refresh_token, fp);
		snprintf(rotation, sizeof(rotation), ", new refresh token %s",
			 fp);
	}
	if (log_quota_over(q, now))
		sum_up(s); /* before its timer ran */
	logged = log_quota_take(q, now);
	agent_log(logged ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG,
		  "%s: token%s refreshed, valid %lld s, next refresh in %lld "
		  "s%s",
		  acct->cfg.name, whose, (long long)(lifetime_ms / 1000),
		  (long long)(next_in_ms / 1000), rotation);
	if (!logged && q->held == 1)
		uv_timer_start(&s->refresh_summary, on_window_end,
			       (uint64_t)(q->window_end - now), 0);
}
