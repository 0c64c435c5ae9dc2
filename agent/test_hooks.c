/*
 * test_hooks.c: see test_hooks.h.  Compiled to nothing unless the build
 * asked for the hooks.
 */
#include "test_hooks.h"

#ifdef XO_TEST_HOOKS
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void agent_test_crash(const char *step)
{
	const char *at = getenv("XOAUTH_AGENT_TEST_CRASH_AT");

	if (at == NULL || strcmp(at, step) != 0)
		return;
	log_info("test hook: killed at %s", step);
	raise(SIGKILL);
}
#else
/* ISO C wants something in a translation unit. */
typedef int agent_test_hooks_unused;
#endif
