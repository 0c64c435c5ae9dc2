"""A grant revoked at the real provider (its revocation endpoint, as an
administrator or the user's security page would): once the agent hears of
it, at its next refresh, it serves no token of that grant, says "login
needed" with the command to run, runs the notify hook once, and the doctor
names the revocation; a new login makes mail flow again."""

import os
import unittest

import harness
import xoagent

EMAIL = "rita@example.com"


class RevokedGrant(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=120)
        self.smtp = harness.start_smtp(self.oidc)
        self.env = xoagent.AgentEnv()
        self.hooks = os.path.join(self.env.home, "hooks")
        os.mkdir(self.hooks)
        self.env.write_config(
            "[agent]\nnotify_cmd = touch %s/$XOAUTH_REASON.$$\n\n" % self.hooks
            + xoagent.account_section("work", self.oidc, email=EMAIL))
        self.env.start()

    def tearDown(self):
        self.env.cleanup()
        self.smtp.stop()
        self.oidc.stop()

    def send(self):
        return harness.run_msmtp(self.smtp.port, EMAIL, "%s token work"
                                 % xoagent.CLI, env=self.env.env)

    def hook_runs(self):
        return [f for f in os.listdir(self.hooks) if f.startswith("reauth.")]

    def test_revoked_grant_is_login_needed_not_a_dead_token(self):
        r = xoagent.login_as_user(self.env, "work", EMAIL)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertEqual(self.send().returncode, 0)
        token = self.env.token("work")

        harness.revoke_token(self.oidc, token, hint="access_token")
        self.assertFalse(harness.is_access_token_active(self.oidc, token))
        # The agent hears of it at its next refresh (here asked for).
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("revoked", r.stderr)
        self.assertIn("xoauth login work", r.stderr)

        # No dead token for the mail program: passwordeval fails with the
        # agent's words instead of the server's "535 5.7.3".
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("login needed", r.stderr)
        self.assertIn("xoauth login work", r.stderr)
        n_auth = len(self.smtp.auth_attempts())
        r = self.send()
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(self.smtp.auth_attempts()), n_auth,
                         "msmtp must not have sent a token")
        self.assertIn("reauth", self.env.xoauth("list").stdout)

        harness.wait_for(lambda: self.hook_runs(), 10, "the reauth hook")
        r = self.env.xoauth("doctor", "work")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertRegex(r.stdout, r"(?m)^problem +The provider no longer "
                                   r"accepts the refresh token of \[account "
                                   r"work\]: it has revoked the grant")
        self.assertEqual(len(self.hook_runs()), 1)

        # The remedy works.
        r = xoagent.login_as_user(self.env, "work", EMAIL)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertEqual(self.send().returncode, 0)


if __name__ == "__main__":
    unittest.main()
