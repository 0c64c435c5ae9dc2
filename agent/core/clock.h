/*
 * clock.h: the clock every deadline is kept on, and a timer on it
 * (DESIGN.md, "Refresh policy": deadlines count suspend).
 */
#ifndef XO_CORE_CLOCK_H
#define XO_CORE_CLOCK_H

#include <stdint.h>

#include <uv.h>

/* Milliseconds on CLOCK_BOOTTIME, which counts time spent suspended. */
int64_t agent_now_boot(void);

struct agent_boot_timer;
typedef void (*agent_boot_timer_cb)(struct agent_boot_timer *t);

/*
 * A timer that wakes the loop once, at an absolute deadline of
 * agent_now_boot(), also when the machine slept through it: a timerfd on
 * CLOCK_BOOTTIME with TFD_TIMER_ABSTIME, watched by a uv_poll_t.  The
 * kernel fires such a timer as soon as the machine resumes when its
 * deadline passed during the suspend; libuv's own timers run on
 * CLOCK_MONOTONIC, which stops in suspend, so a uv_timer_t set for an hour
 * fires an hour of waking time later.  Disarmed, it costs nothing: no
 * wake-up until it is armed again.  Embedded in its owner; data is the
 * owner's.
 */
struct agent_boot_timer {
	uv_poll_t poll;
	int fd;		  /* the timerfd */
	int64_t at;	  /* the deadline it is armed for (agent_now_boot()
			     ms), 0: disarmed */
	int64_t armed_ns; /* what the timerfd holds, in CLOCK_BOOTTIME ns;
			     0: disarmed */
	agent_boot_timer_cb cb;
	void *data;
};

/* Makes t, disarmed; cb runs on the loop each time it fires.  0, or
   XO_ERR_INTERNAL (no timerfd: the reason is logged). */
int agent_boot_timer_init(uv_loop_t *loop, struct agent_boot_timer *t,
			  agent_boot_timer_cb cb);
/*
 * Arms t for the deadline at (ms on agent_now_boot()'s clock); a deadline
 * that has passed fires at once, and 0 disarms.  A timer already armed for
 * the same deadline is left as it is (no system call).  0, or
 * XO_ERR_INTERNAL when the kernel refused (logged).
 */
int agent_boot_timer_arm(struct agent_boot_timer *t, int64_t at);
/* Arms t again for the deadline it has: after agent_now_boot() moved in
   a way the kernel did not see (a test's simulated suspend). */
void agent_boot_timer_rearm(struct agent_boot_timer *t);
/* Stops t and closes its timerfd and handle; cb (may be NULL) runs once
   the handle is closed, when the owner may free it. */
void agent_boot_timer_close(struct agent_boot_timer *t, uv_close_cb cb);

#endif
