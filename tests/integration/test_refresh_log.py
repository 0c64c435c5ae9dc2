"""A refresh leaves one line in the log, and a storm of them does not
flood it (issue 11).

The line says how long the new token lives, when the next refresh is, and
the fingerprint of the new refresh token the provider rotated to.  Past a
quota of lines per window of time (agent/account/pure/quota.h) a
refresh's line goes to the debug level, and one line at the end of the
window says how many were held back: journald, which takes a detached
agent's log, drops a service's lines past its own rate limit, errors
among them.

The quota here is made small (XOAUTH_AGENT_TEST_REFRESH_LOG_LINES, a
build with the test hooks) so that a few accounts pass it; the window is
the agent's own, 10 s.
"""

import re
import unittest

import harness
import vaulttest
import xoagent

ACCOUNTS = 24
QUOTA = 8

LINE = re.compile(r"a(\d+): token refreshed, valid (\d+) s, next refresh in "
                  r"(\d+) s, new refresh token ([0-9a-f]{8})$", re.M)
SUMMARY = re.compile(r"(\d+) more tokens refreshed in the last 10 s \(the log "
                     r"names at most %d refreshes per 10 s; -d names all\)$"
                     % QUOTA, re.M)


@unittest.skipUnless(vaulttest.hooks_built(),
                     "the agent was built without -DXO_TEST_HOOKS=ON")
class RefreshLog(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=3600)
        self.addCleanup(self.oidc.stop)
        config = "".join(xoagent.account_section("a%d" % i, self.oidc,
                                                 email="log%d@example.com" % i)
                         for i in range(ACCOUNTS))
        self.env = xoagent.AgentEnv(config)
        self.addCleanup(self.env.cleanup)
        self.env.env["XOAUTH_AGENT_TEST_REFRESH_LOG_LINES"] = str(QUOTA)

    def import_all(self):
        for i in range(ACCOUNTS):
            rt = harness.get_tokens_by_device(
                self.oidc, "log%d@example.com" % i)["refresh_token"]
            r = self.env.xoauth("import", "a%d" % i, stdin=(rt + "\n").encode())
            self.assertEqual(r.returncode, 0, r.stderr + self.env.log())

    def refreshed(self):
        """Lines of refreshes, and the sum of those held back."""
        log = self.env.log()
        return (LINE.findall(log),
                sum(int(n) for n in SUMMARY.findall(log)))

    def test_a_storm_of_refreshes_is_summed_up_past_the_quota(self):
        self.env.start(debug=False)
        self.import_all()
        # Every account's first access token, one after the other as fast
        # as the provider answers: some refreshes a second.
        for i in range(ACCOUNTS):
            self.assertTrue(self.env.token("a%d" % i))
        harness.wait_for(
            lambda: len(self.refreshed()[0]) + self.refreshed()[1] == ACCOUNTS,
            30, "a line, or a place in a sum, for every refresh\n"
            + self.env.log())
        lines, held = self.refreshed()
        self.assertGreater(held, 0, self.env.log())
        # No refresh is in two places: each line names another account.
        self.assertEqual(len({m[0] for m in lines}), len(lines))
        # The line is the one line of a refresh: the rotation has none of
        # its own.
        self.assertNotIn("new refresh token", LINE.sub("", self.env.log()))
        for _, valid, next_in, _ in lines:
            self.assertLessEqual(int(next_in), int(valid))

    def test_with_debug_every_refresh_has_its_line(self):
        self.env.start(debug=True)
        self.import_all()
        for i in range(ACCOUNTS):
            self.assertTrue(self.env.token("a%d" % i))
        harness.wait_for(lambda: SUMMARY.search(self.env.log()), 30,
                         "the sum of the held lines\n" + self.env.log())
        names = {m[0] for m in LINE.findall(self.env.log())}
        self.assertEqual(names, {str(i) for i in range(ACCOUNTS)})


if __name__ == "__main__":
    unittest.main()
