/*
 * clock.h: the clock every deadline is kept on (DESIGN.md, "Refresh
 * policy": deadlines count suspend).
 */
#ifndef XO_CORE_CLOCK_H
#define XO_CORE_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_BOOTTIME, which counts time spent suspended. */
int64_t agent_now_boot(void);

#endif
