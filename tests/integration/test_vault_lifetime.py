"""`xoauth-agent -t LIFE` and `lifetime =`, as `ssh-add -t`: an account's
tokens are forgotten LIFE after they came (login, import), in memory and
in the vault.  The clock runs from the login or import, not from the
agent's start: a restart does not give a token a new lifetime."""

import time
import unittest

import harness
import vaulttest
import xoagent

EMAIL = "brief@example.com"
# Under memcheck (harness.TIME_SCALE) a restart takes seconds: every time
# here is stretched as much.
S = harness.TIME_SCALE


class Lifetime(harness.ProviderPerClass, unittest.TestCase):
    def tearDown(self):
        self.env.cleanup()

    def assert_forgotten(self):
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1, self.env.log())
        self.assertIn("lifetime is over", r.stderr)

    def test_dash_t_forgets_the_tokens(self):
        self.env = vaulttest.key_file_env(self.oidc, EMAIL)
        self.env.start("-t", "%ds" % (3 * S))
        vaulttest.import_token(self.env, self.oidc, EMAIL)
        self.assertTrue(self.env.token("work"))
        time.sleep(3.5 * S)
        self.assert_forgotten()
        # Gone from the vault too.
        self.env.stop()
        self.env.start("-t", "%ds" % (3 * S))
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1)
        self.assertIn("login", r.stderr)

    def test_lifetime_key_and_restart_keep_the_clock(self):
        self.env = vaulttest.key_file_env(self.oidc, EMAIL,
                                          extra=["lifetime = %d" % (4 * S)])
        self.env.start()
        vaulttest.import_token(self.env, self.oidc, EMAIL)
        time.sleep(2 * S)
        self.env.stop()
        self.env.start()
        self.assertTrue(self.env.token("work"))
        time.sleep(2.5 * S)
        self.assert_forgotten()

    def test_bad_times_are_refused(self):
        self.env = xoagent.AgentEnv()
        rc, err = vaulttest.start_failing(self.env, "-t", "soon")
        self.assertEqual(rc, 1)
        self.assertIn("-t", err)
        self.env.write_config(xoagent.account_section(
            "work", self.oidc, extra=["lifetime = 5 weeks"]))
        rc, err = vaulttest.start_failing(self.env)
        self.assertEqual(rc, 1)
        self.assertIn("lifetime", err)
        self.assertIn(":8:", err)


if __name__ == "__main__":
    unittest.main()
