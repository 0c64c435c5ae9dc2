/*
 * test_hooks.h: crash points for the tests of what survives a kill -9
 * (tests/integration/test_vault_crash.py), and a simulated suspend.
 *
 * Only a build configured with -DXO_TEST_HOOKS=ON has them: there,
 * agent_test_crash(STEP) kills the agent with SIGKILL when the environment
 * variable XOAUTH_AGENT_TEST_CRASH_AT names STEP.  In every other build the
 * call is nothing at all, and the variable means nothing.
 *
 * Steps: "before_send" (a refresh token is about to go to the provider),
 * "after_reply" (the provider's new tokens have arrived, nothing written
 * yet), "during_append" (half of a journal record is written and synced:
 * a torn record), "during_compaction" (a new base is in the temporary
 * file, the journal since its snapshot not yet carried over),
 * "during_write" (the new vault image is whole in its temporary file, not
 * renamed yet), "after_write" (an append or a new base has ended; nothing
 * served from it yet).  "STEP#N" kills at the Nth time the step is
 * reached: a refresh writes the vault twice, first the "sent" mark, then
 * the rotated token.
 *
 * agent_test_crash_due(STEP) counts a step as agent_test_crash() does and
 * says whether this is the time to die, for a step that does something
 * first (half a record); agent_test_die(STEP) then kills.
 *
 * agent_test_number(NAME, DEFAULT) is the environment variable NAME as a
 * number in a build with the hooks, else DEFAULT: a limit a test makes
 * small (XOAUTH_AGENT_TEST_JOURNAL_MAX, the journal's bytes before it is
 * folded into a new base; XOAUTH_AGENT_TEST_SNAPSHOT_PIECE, the accounts a
 * new base's snapshot takes per turn of the loop) or slow
 * (XOAUTH_AGENT_TEST_SNAPSHOT_PIECE_MS, a pause between those pieces, so
 * that a test can change accounts while a snapshot is being taken).
 *
 * agent_test_suspend() simulates the end of a suspend: it moves the
 * agent's boot clock (agent_now_boot()) on by XOAUTH_AGENT_TEST_SUSPEND_S
 * seconds, as a real suspend of that long moves CLOCK_BOOTTIME, while
 * CLOCK_MONOTONIC (libuv's timers, the connections' deadlines) does not
 * move; the boot timers (core/clock.h) keep their deadlines on the moved
 * clock.  0 when it did, -1 when the variable is unset or not a number of
 * seconds.  The daemon calls it on SIGUSR2 and then arms its timers
 * again, which the kernel does by itself on a real resume
 * (tests/integration/test_idle.py).  Every other build has no SIGUSR2
 * handler and the variable means nothing.
 */
#ifndef XO_CORE_TEST_HOOKS_H
#define XO_CORE_TEST_HOOKS_H

#ifdef XO_TEST_HOOKS
void agent_test_crash(const char *step);
int agent_test_crash_due(const char *step);
void agent_test_die(const char *step);
unsigned long long agent_test_number(const char *name, unsigned long long dflt);
int agent_test_suspend(void);
#else
#define agent_test_crash(step) ((void)0)
#define agent_test_crash_due(step) 0
#define agent_test_die(step) ((void)0)
#define agent_test_number(name, dflt) (dflt)
#endif

#endif
