/*
 * err.h: one record for an error on its way from where it happens to the
 * reply that reports it: the code (XO_ERR_*, which gives the wire status)
 * and a message for people saying what happened and what to do.
 *
 * Functions that can fail with something to say take a struct agent_err *
 * and fill it with agent_err_set(); the caller answers with
 * agent_conn_reply_err() or keeps it (an account's last error).  A message
 * never holds a secret.
 */
#ifndef XO_CORE_ERR_H
#define XO_CORE_ERR_H

/* Enough for the longest message we write (a config error quoting a
   path and a line); FAILURE frames carry at most 1024 bytes of it. */
#define AGENT_ERR_MSG_MAX 1024

struct agent_err {
	int code;		     /* 0, or XO_ERR_* */
	char msg[AGENT_ERR_MSG_MAX]; /* "" when the code's own text will do */
};

/* Sets code and the printf-style message; returns code, so that
   `return agent_err_set(e, XO_ERR_BUSY, "...");` reads well.  e may be
   NULL: then only code is returned. */
int agent_err_set(struct agent_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with no message of its own: the code's text will do. */
int agent_err_code(struct agent_err *e, int code);
/* No error. */
void agent_err_clear(struct agent_err *e);
/* The message, or the code's own text when there is none ("" for 0). */
const char *agent_err_text(const struct agent_err *e);

#endif
