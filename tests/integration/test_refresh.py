"""Left running, the agent refreshes before expiry, follows refresh-token
rotation, and never hands out an expired token."""

import time
import unittest

import harness
import xoagent

EMAIL = "carol@example.com"
AT_TTL = 8  # seconds: the agent refreshes at half-life, every ~4 s


class ProactiveRefresh(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=AT_TTL)
        self.smtp = harness.start_smtp(self.oidc)
        self.env = xoagent.AgentEnv(
            xoagent.account_section("work", self.oidc, email=EMAIL))
        self.env.start()

    def tearDown(self):
        self.env.cleanup()
        self.smtp.stop()
        self.oidc.stop()

    def import_fresh_grant(self):
        tokens = harness.get_tokens_by_device(self.oidc, EMAIL)
        rt = tokens["refresh_token"]
        r = self.env.xoauth("import", "work", stdin=(rt + "\n").encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        return rt

    def test_tokens_stay_valid_across_lifetimes_and_rotation(self):
        first_rt = self.import_fresh_grant()
        seen = []
        deadline = time.monotonic() + 3.5 * AT_TTL
        while time.monotonic() < deadline:
            token = self.env.token("work")
            # Every token handed out is accepted by the provider...
            self.assertTrue(harness.is_access_token_active(self.oidc, token),
                            "agent handed out a dead token")
            if token not in seen:
                seen.append(token)
            time.sleep(0.5)
        # ...and several lifetimes meant several refreshes, done ahead of
        # expiry (no request above ever had to wait for one).
        self.assertGreaterEqual(len(seen), 4, self.env.log())
        # Rotation: the refresh token we imported was replaced and the
        # provider no longer accepts it; the agent went on regardless.
        self.assertFalse(harness.is_refresh_token_active(self.oidc,
                                                         first_rt))
        r = harness.run_msmtp(self.smtp.port_xoauth2_only, EMAIL,
                              '"%s token work"' % xoagent.CLI,
                              env=self.env.env)
        self.assertEqual(r.returncode, 0, r.stderr + r.log)

    def test_min_valid_beyond_the_token_lifetime_is_told_at_once(self):
        self.import_fresh_grant()
        self.env.token("work")
        t0 = time.monotonic()
        r = self.env.xoauth("--min-valid", "60", "token", "work")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertLess(time.monotonic() - t0, 5, "it waited for nothing")
        self.assertIn("live %d s" % AT_TTL, r.stderr)
        self.assertIn("--min-valid", r.stderr)

    def test_refresh_command_gets_a_new_token(self):
        self.import_fresh_grant()
        before = self.env.token("work")
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr)
        after = self.env.token("work")
        self.assertNotEqual(before, after)
        self.assertTrue(harness.is_access_token_active(self.oidc, after))

    def test_sighup_keeps_tokens_of_unchanged_accounts(self):
        self.import_fresh_grant()
        token = self.env.token("work")
        with open(self.env.config_path, "a") as f:
            f.write(xoagent.account_section("new", self.oidc))
        import signal
        self.env.proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: "new" in self.env.xoauth("list").stdout, 10,
                         "reloaded config")
        self.assertTrue(self.env.token("work"))
        self.assertTrue(harness.is_access_token_active(
            self.oidc, self.env.token("work")))
        del token

    def test_remove_forgets_the_tokens(self):
        self.import_fresh_grant()
        r = self.env.xoauth("remove", "work")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1)
        self.assertIn("login", r.stderr)


if __name__ == "__main__":
    unittest.main()
