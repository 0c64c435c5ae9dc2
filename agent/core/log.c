/*
 * log.c: stderr in the foreground, syslog when detached.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "core/log.h"

/* Set once by agent_log_init() before the loop starts (see log.h). */
static enum log_level max_level = LOG_LEVEL_INFO;
static int use_stderr = 1;

void agent_log_init(const char *ident, enum log_level level, int to_stderr)
{
	max_level = level;
	use_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void agent_log(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "info", "debug"};
	static const int priorities[] = {LOG_ERR, LOG_INFO, LOG_DEBUG};
	char msg[1024];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (use_stderr) {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld xoauth-agent %s: %s\n", stamp,
			ts.tv_nsec / 1000000, names[level], msg);
	} else {
		syslog(priorities[level], "%s", msg);
	}
}
