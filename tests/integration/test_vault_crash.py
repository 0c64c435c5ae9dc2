"""Kill -9 at every step of a refresh with rotation, then restart.

The provider (oidc.js) rotates the refresh token at every refresh and
revokes the whole grant when it sees a used one again.  The agent marks a
refresh token "sent" in the vault before it goes out, writes the rotated
one before it serves the new access token, and after a restart never sends
by itself a token whose refresh was interrupted (refresh.c).  For each
step the test checks the one thing that matters at that step:

  request held (before the provider's reply; the fault injector holds the
  request and, the agent dead, never forwards it): the token the agent
  holds is still active at the provider; the agent does not send it by
  itself, says why, and `xoauth refresh` (the user's decision) works;

  before_send (test hook: the mark is written, nothing sent): the same;

  during_write#1 (the "sent" mark is being written): the vault holds the
  token unmarked, and nothing was sent: no login needed;

  after_reply, during_write#2 (the provider has rotated, the vault still
  has the old token): the agent never replays it, so the grant survives
  (the refresh token the provider last issued is still active), and the
  account says to log in again;

  after_write#2 (the new token is in the vault, nothing served yet): no
  login needed; the token works with msmtp.

The hook steps need an agent built with -DXO_TEST_HOOKS=ON (scripts/test
builds one); without it they are skipped, visibly.
"""

import os
import subprocess
import time
import unittest

import harness
import vaulttest
import xoagent
from tokenspy import RecordingTLSForwarder

EMAIL = "crash@example.com"


class CrashDuringRefresh(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=300)
        self.smtp = harness.start_smtp(self.oidc)
        # agent -> faults.js -> recorder -> provider: the fault injector
        # is what the agent talks to, so that a request it holds dies with
        # the agent; the recorder sees what the provider really sends.
        self.rec = RecordingTLSForwarder(self.oidc.token_endpoint, tls=False)
        self.faults = harness.start_faults(self.rec.url)
        self.env = vaulttest.key_file_env(
            self.oidc, EMAIL, token_endpoint=self.faults.token_endpoint)
        self.env.start()
        self.first = vaulttest.import_token(self.env, self.oidc, EMAIL)
        self.env.token("work")
        self.env.stop()

    def tearDown(self):
        self.env.cleanup()
        self.faults.stop()
        self.rec.stop()
        self.smtp.stop()
        self.oidc.stop()

    def held(self):
        """The refresh token the agent holds, as the provider last issued
        it before the crash."""
        return self.rec.refresh_tokens()[-1]

    def crash_at(self, step):
        if not vaulttest.hooks_built():
            self.skipTest("the agent was built without -DXO_TEST_HOOKS=ON")
        self.env.env["XOAUTH_AGENT_TEST_CRASH_AT"] = step
        self.env.start()
        del self.env.env["XOAUTH_AGENT_TEST_CRASH_AT"]
        r = self.env.xoauth("refresh", "work", timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(vaulttest.wait_dead(self.env), -9, self.env.log())
        self.assertIn("test hook: killed at %s\n" % step, self.env.log())

    def assert_not_sent_by_itself(self):
        """After the restart the agent answers without asking the
        provider, and says what happened."""
        sent = len(self.rec.grants)
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("stopped during a refresh", r.stderr)
        self.assertIn("xoauth refresh work", r.stderr)
        time.sleep(1)
        self.assertEqual(len(self.rec.grants), sent,
                         "the agent sent the interrupted token by itself")

    def assert_explicit_refresh_works(self):
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)

    def test_killed_while_the_request_is_held(self):
        before = self.held()
        self.faults.queue("slow", seconds=3, grant_type="refresh_token")
        self.env.start()
        p = subprocess.Popen([xoagent.CLI, "refresh", "work"],
                                     env=self.env.env,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.assertTrue(vaulttest.wait_for(
            lambda: any(e["fault"] == "slow" and e["done"] is None
                        for e in self.faults.requests())),
            "the fault injector never held the refresh")
        vaulttest.kill9(self.env)
        p.wait(10)
        time.sleep(4)  # past the hold: the request is dropped, not sent
        self.assertEqual(self.held(), before)
        self.assertTrue(harness.is_refresh_token_active(self.oidc, before))
        self.env.start()
        self.assert_not_sent_by_itself()
        self.assertTrue(harness.is_refresh_token_active(self.oidc, before))
        self.assert_explicit_refresh_works()

    def test_killed_before_send(self):
        before = self.held()
        self.crash_at("before_send")
        self.assertEqual(self.held(), before)
        self.env.start()
        self.assert_not_sent_by_itself()
        self.assertTrue(harness.is_refresh_token_active(self.oidc, before))
        self.assert_explicit_refresh_works()

    def assert_grant_survives_without_replay(self):
        rotated = self.held()
        self.env.start()
        self.assert_not_sent_by_itself()
        # A replay of the used token would have revoked the grant, and
        # with it the token the provider issued last.
        self.assertTrue(harness.is_refresh_token_active(self.oidc, rotated))

    def test_killed_after_the_reply(self):
        before = self.held()
        self.crash_at("after_reply")
        self.assertNotEqual(self.held(), before, "no rotation happened")
        self.assert_grant_survives_without_replay()

    def test_killed_while_writing_the_mark(self):
        before = self.held()
        image = vaulttest.read(self.env.vault_path)
        self.crash_at("during_write#1")
        self.assertEqual(vaulttest.read(self.env.vault_path), image)
        self.assertEqual(self.held(), before)
        self.env.start()
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)
        self.assertNotEqual(self.held(), before)

    def test_killed_during_the_vault_write(self):
        image = vaulttest.read(self.env.vault_path)
        self.crash_at("during_write#2")
        # The rename never happened: the vault is the image with the mark,
        # whole, next to the half-done temporary file.
        now = vaulttest.read(self.env.vault_path)
        self.assertNotEqual(now, image)
        self.assertEqual(now[:8], b"XOAUTHVT")
        self.assertNotEqual(now, vaulttest.read(self.env.vault_path + ".tmp"))
        self.assert_grant_survives_without_replay()

    def test_killed_after_the_vault_write(self):
        before = self.held()
        self.crash_at("after_write#2")
        rotated = self.held()
        self.assertNotEqual(rotated, before)
        self.env.start()
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)
        newest = self.held()
        self.assertNotEqual(newest, rotated, "the agent did not refresh")
        self.assertTrue(harness.is_refresh_token_active(self.oidc, newest))


if __name__ == "__main__":
    unittest.main()
