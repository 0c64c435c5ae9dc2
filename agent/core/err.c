/*
 * err.c: the error record (err.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "core/err.h"
#include "proto.h"

int agent_err_set(struct agent_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int agent_err_code(struct agent_err *e, int code)
{
	if (e != NULL) {
		e->code = code;
		e->msg[0] = '\0';
	}
	return code;
}

void agent_err_clear(struct agent_err *e)
{
	e->code = 0;
	e->msg[0] = '\0';
}

const char *agent_err_text(const struct agent_err *e)
{
	if (e->msg[0] != '\0')
		return e->msg;
	return e->code != 0 ? proto_strerror(e->code) : "";
}
