"""An idle agent sleeps: it wakes for a client, a signal or its next
deadline, and for nothing else (issue 11; DESIGN.md, "Refresh policy").

Wake-ups are counted as the kernel counts them: a thread's voluntary
context switches (/proc/PID/task/TID/status) go up by one each time it
blocks, so a loop that returns from epoll_wait() and waits again, or a
thread pool worker that wakes, shows up; a thread that sleeps the whole
time shows 0.  Nothing here attaches to the agent (strace would count
itself).

The suspend case is simulated, as far as it can be without suspending the
machine: in a build with the test hooks (scripts/test), SIGUSR2 tells the
agent that a suspend of XOAUTH_AGENT_TEST_SUSPEND_S seconds has just ended
(core/test_hooks.h).  Its boot clock moves on by that much while the
monotonic clock does not, and its timers are armed again, which the kernel
does by itself for a CLOCK_BOOTTIME timerfd on a real resume.
"""

import os
import signal
import subprocess
import time
import unittest

import harness
import vaulttest
import xoagent

ACCOUNTS = 200
QUIET_S = 30  # more than the 30 s tick the agent used to have
SUSPEND_S = 7200  # past the hour the provider's tokens live
QUOTA_WINDOW_S = 10  # the log's window for refresh lines


def wakeups(pid):
    """Voluntary context switches of each thread of pid, by thread id."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        out[tid] = int(line.split()[1])
        except OSError:
            pass  # a thread that ended meanwhile
    return out


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_quiet(pid, quiet=2.0, timeout=60):
    """Until no thread of pid has woken for `quiet` seconds: imports,
    refreshes and their aftermath are over."""
    end = time.monotonic() + timeout * harness.TIME_SCALE
    last, since = wakeups(pid), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.25)
        now = wakeups(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise AssertionError("the agent did not go quiet in %d s" % timeout)


def woken(before, after):
    """Wake-ups between two counts, by thread (new threads count all)."""
    return {tid: n - before.get(tid, 0) for tid, n in after.items()
            if n - before.get(tid, 0) > 0}


@unittest.skipIf(xoagent.MEMCHECK_LOGS,
                 "under valgrind the counts are valgrind's scheduler's")
class IdleAgent(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.oidc = harness.start_oidc(at_ttl=3600)
        config = "".join(xoagent.account_section("a%d" % i, cls.oidc,
                                                 email="idle%d@example.com" % i)
                         for i in range(ACCOUNTS))
        cls.env = xoagent.AgentEnv(config)
        try:
            cls.env.start(debug=False)
            for i in range(ACCOUNTS):
                rt = harness.get_tokens_by_device(
                    cls.oidc, "idle%d@example.com" % i)["refresh_token"]
                r = cls.env.xoauth("import", "a%d" % i, stdin=(rt + "\n").encode())
                if r.returncode != 0:
                    raise AssertionError("import: %s\n%s" % (r.stderr, cls.env.log()))
        except BaseException:
            cls.env.cleanup()
            cls.oidc.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()
        cls.oidc.stop()

    def test_agent_with_many_accounts_makes_no_wakeups_until_a_deadline(self):
        listing = self.env.xoauth("list").stdout.splitlines()[1:]
        active = [line for line in listing if line.split()[2:3] == ["active"]]
        self.assertEqual(len(active), ACCOUNTS, "\n".join(listing))
        pid = self.env.pid
        # The imports refreshed every account: past the log's quota of
        # refresh lines, one line sums up the rest at the end of a 10 s
        # window (agent/account/pure/quota.h), a wake-up of its own.
        wait_quiet(pid, quiet=QUOTA_WINDOW_S + 1)
        # Every account holds a token that lives an hour: the first
        # refresh is due in some 45 minutes, so nothing is due in the
        # window, and the agent must not wake at all (the scheduler's
        # timer is armed for the earliest refresh, not ticking).
        before, cpu0 = wakeups(pid), cpu_ticks(pid)
        time.sleep(QUIET_S)
        after, cpu1 = wakeups(pid), cpu_ticks(pid)
        self.assertEqual(woken(before, after), {},
                         "threads of the idle agent woke up in %d s" % QUIET_S)
        self.assertEqual(cpu1 - cpu0, 0)
        # It is still there for a client: it wakes for one.  (The last
        # account's: the provider keeps its most recent tokens only, some
        # hundreds of grants' worth.)
        token = self.env.token("a%d" % (ACCOUNTS - 1))
        self.assertTrue(harness.is_access_token_active(self.oidc, token))


class CommandMode(unittest.TestCase):
    def test_command_mode_agent_sleeps_and_ends_with_its_command(self):
        env = xoagent.AgentEnv("")
        release = os.path.join(env.home, "release")
        p = None
        try:
            p = subprocess.Popen(
                [xoagent.AGENT, "sh", "-c",
                 'echo "$XOAUTH_AGENT_PID"; while [ ! -e "%s" ]; do sleep 0.1; done'
                 % release],
                stdout=subprocess.PIPE, env=env.env)
            pid = int(p.stdout.readline())
            wait_quiet(pid, quiet=1.0)
            before = wakeups(pid)
            time.sleep(5)
            # The agent does not poll for its command every second: a
            # pidfd wakes it when the command ends, and only then.
            self.assertEqual(woken(before, wakeups(pid)), {})
            open(release, "w").close()
            self.assertEqual(p.wait(10 * harness.TIME_SCALE), 0)
            harness.wait_for(lambda: not os.path.exists("/proc/%d" % pid)
                             or _zombie(pid), 2, "the agent's exit after its command")
        finally:
            if p is not None:
                open(release, "w").close()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                p.stdout.close()
            env.cleanup()


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@unittest.skipUnless(vaulttest.hooks_built(),
                     "the agent was built without -DXO_TEST_HOOKS=ON")
class SimulatedSuspend(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=3600)
        self.env = xoagent.AgentEnv(
            xoagent.account_section("work", self.oidc, email="sleepy@example.com"))
        self.env.env["XOAUTH_AGENT_TEST_SUSPEND_S"] = str(SUSPEND_S)
        self.env.start()
        rt = harness.get_tokens_by_device(self.oidc, "sleepy@example.com")["refresh_token"]
        r = self.env.xoauth("import", "work", stdin=(rt + "\n").encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.before = self.env.token("work")

    def tearDown(self):
        self.env.cleanup()
        self.oidc.stop()

    def refreshes(self):
        return self.env.log().count("work: token refreshed")

    def suspend(self):
        n = self.env.log().count("a suspend of %d s ends" % SUSPEND_S)
        os.kill(self.env.pid, signal.SIGUSR2)
        harness.wait_for(lambda: self.env.log().count("a suspend of %d s ends"
                                                      % SUSPEND_S) > n,
                         5, "the agent to take the simulated suspend")

    def test_refresh_due_during_a_suspend_starts_at_the_wake(self):
        refreshed = self.refreshes()
        self.suspend()
        # Nobody asks for a token: the scheduler's timer itself fires on
        # the wake, since the refresh fell due during the sleep (a timer
        # on the monotonic clock would wait another three quarters of an
        # hour of waking time).
        harness.wait_for(lambda: self.refreshes() > refreshed, 5,
                         "the refresh on the wake\n" + self.env.log())
        after = self.env.token("work")
        self.assertNotEqual(after, self.before)
        self.assertTrue(harness.is_access_token_active(self.oidc, after))

    def test_token_asked_for_right_after_a_suspend_is_never_the_dead_one(self):
        self.suspend()
        # At once after the wake: the held token expired an hour ago by
        # the boot clock, so the answer is a new one (waited for), never
        # the old one.
        after = self.env.token("work")
        self.assertNotEqual(after, self.before)
        self.assertTrue(harness.is_access_token_active(self.oidc, after))
        self.assertIn("work: token refreshed", self.env.log())


if __name__ == "__main__":
    unittest.main()
