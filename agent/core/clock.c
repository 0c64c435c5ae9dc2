/*
 * clock.c: token deadlines count time spent suspended (DESIGN.md), so they
 * are kept on CLOCK_BOOTTIME, and the timer that wakes the loop for them
 * is a timerfd on the same clock (clock.h says why not a uv_timer_t).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <xoauth/xo_errors.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/test_hooks.h"

#ifdef XO_TEST_HOOKS
/* How far a test's simulated suspends have moved the boot clock on
   (agent_test_suspend()): process-wide, as the clock itself is. */
static int64_t suspended_ms;

int agent_test_suspend(void)
{
	const char *s = getenv("XOAUTH_AGENT_TEST_SUSPEND_S");
	char *end;
	long long sec;

	if (s == NULL || s[0] == '\0')
		return -1;
	errno = 0;
	sec = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || sec <= 0 || sec > 100LL * 86400)
		return -1;
	suspended_ms += sec * 1000;
	log_info("test hook: a suspend of %lld s ends (CLOCK_BOOTTIME moved "
		 "on, CLOCK_MONOTONIC did not)",
		 sec);
	return 0;
}
#endif

int64_t agent_now_boot(void)
{
	struct timespec ts;
	int64_t ms;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#ifdef XO_TEST_HOOKS
	ms += suspended_ms;
#endif
	return ms;
}

/* at, a deadline of agent_now_boot(), as the kernel's CLOCK_BOOTTIME in
   ns; at least 1, since 0 would disarm the timerfd. */
static int64_t kernel_ns(int64_t at)
{
#ifdef XO_TEST_HOOKS
	at -= suspended_ms;
#endif
	return at > 0 ? at * 1000000 : 1;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct agent_boot_timer *t = p->data;
	uint64_t expirations;

	(void)events;
	if (status < 0)
		log_error("boot timer: %s", uv_strerror(status));
	/* Read, so that the timerfd stops being readable (epoll watches it
	   level-triggered).  Nothing to read: a re-arm earlier in this turn
	   of the loop moved the deadline, and it has not come. */
	if (read(t->fd, &expirations, sizeof(expirations)) < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_error("boot timer: read: %s", strerror(errno));
		return;
	}
	t->at = 0;
	t->armed_ns = 0;
	t->cb(t);
}

int agent_boot_timer_init(uv_loop_t *loop, struct agent_boot_timer *t,
			  agent_boot_timer_cb cb)
{
	int r;

	t->at = 0;
	t->armed_ns = 0;
	t->cb = cb;
	t->fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0) {
		log_error("timerfd_create(CLOCK_BOOTTIME): %s",
			  strerror(errno));
		return XO_ERR_INTERNAL;
	}
	if ((r = uv_poll_init(loop, &t->poll, t->fd)) != 0) {
		log_error("boot timer: %s", uv_strerror(r));
		close(t->fd);
		t->fd = -1;
		return XO_ERR_INTERNAL;
	}
	t->poll.data = t;
	/* It is watched all the time: arming and disarming change only the
	   timerfd, never what epoll watches. */
	if ((r = uv_poll_start(&t->poll, UV_READABLE, on_poll)) != 0) {
		log_error("boot timer: %s", uv_strerror(r));
		agent_boot_timer_close(t, NULL);
		return XO_ERR_INTERNAL;
	}
	return 0;
}

/* Sets the timerfd to ns (0: disarmed). */
static int settime(struct agent_boot_timer *t, int64_t ns)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(ns / 1000000000);
	its.it_value.tv_nsec = (long)(ns % 1000000000);
	if (timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL) != 0) {
		log_error("timerfd_settime: %s", strerror(errno));
		return XO_ERR_INTERNAL;
	}
	t->armed_ns = ns;
	return 0;
}

int agent_boot_timer_arm(struct agent_boot_timer *t, int64_t at)
{
	int64_t ns = at > 0 ? kernel_ns(at) : 0;

	t->at = at > 0 ? at : 0;
	if (ns == t->armed_ns)
		return 0;
	return settime(t, ns);
}

void agent_boot_timer_rearm(struct agent_boot_timer *t)
{
	agent_boot_timer_arm(t, t->at);
}

void agent_boot_timer_close(struct agent_boot_timer *t, uv_close_cb cb)
{
	/* libuv: a descriptor must not be closed while a poll handle
	   watches it; stopped, it may. */
	uv_poll_stop(&t->poll);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	uv_close((uv_handle_t *)&t->poll, cb);
}
