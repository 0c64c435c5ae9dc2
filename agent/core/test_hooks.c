/*
 * test_hooks.c: see test_hooks.h.  Compiled to nothing unless the build
 * asked for the hooks.
 */
#include "core/test_hooks.h"

#ifdef XO_TEST_HOOKS
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

int agent_test_crash_due(const char *step)
{
	/* How often the named step has been reached: a test-only count,
	   touched by one thread at a time (one vault write runs at once). */
	static unsigned seen;
	const char *at = getenv("XOAUTH_AGENT_TEST_CRASH_AT");
	size_t len = strlen(step);
	unsigned long nth = 1;

	if (at == NULL || strncmp(at, step, len) != 0 ||
	    (at[len] != '\0' && at[len] != '#'))
		return 0;
	if (at[len] == '#')
		nth = strtoul(at + len + 1, NULL, 10);
	return ++seen >= nth;
}

void agent_test_die(const char *step)
{
	(void)step;
	log_info("test hook: killed at %s",
		 getenv("XOAUTH_AGENT_TEST_CRASH_AT"));
	raise(SIGKILL);
}

void agent_test_crash(const char *step)
{
	if (agent_test_crash_due(step))
		agent_test_die(step);
}

unsigned long long agent_test_number(const char *name, unsigned long long dflt)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (v == NULL || *v == '\0')
		return dflt;
	n = strtoull(v, &end, 10);
	return *end == '\0' ? n : dflt;
}
#else
/* ISO C wants something in a translation unit. */
typedef int agent_test_hooks_unused;
#endif
