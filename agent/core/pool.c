/*
 * pool.c: libuv's pool threads run niced (see pool.h).
 */
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/pool.h"

void agent_pool_thread_enter(void)
{
	static _Thread_local int lowered;
	id_t tid;
	int now;

	if (lowered)
		return;
	lowered = 1;
	/* On Linux, PRIO_PROCESS with a thread id sets that thread's nice
	   value alone. */
	tid = (id_t)gettid();
	errno = 0;
	now = getpriority(PRIO_PROCESS, tid);
	if (now == -1 && errno != 0)
		return;
	(void)setpriority(PRIO_PROCESS, tid,
			  now + AGENT_POOL_NICE > 19 ? 19 : now + AGENT_POOL_NICE);
}
