/*
 * log.h: the agent's log.  Messages go to stderr in the foreground (-D, -d)
 * and to syslog (LOG_AUTHPRIV's neighbour LOG_DAEMON) when detached.
 * Never pass a secret: log account names and agent_fingerprint() values.
 *
 * The log target and level are set once at start-up, before the loop runs;
 * they are the only process-wide state, as in OpenSSH's log.c.
 */
#ifndef XO_CORE_LOG_H
#define XO_CORE_LOG_H

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_DEBUG = 2,
};

void agent_log_init(const char *ident, enum log_level level, int to_stderr);
void agent_log(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) agent_log(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_info(...) agent_log(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) agent_log(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
