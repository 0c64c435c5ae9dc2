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

  during_append#1 (half of the journal record with the "sent" mark is on
  disk: a torn record): the vault holds the token unmarked, and nothing
  was sent: no login needed; the torn record is left out and cut off by
  the next write;

  after_reply, during_append#2 (the provider has rotated, the record with
  the new token is torn): the agent never replays the old one, so the
  grant survives (the refresh token the provider last issued is still
  active), and the account says to log in again;

  after_write#2 (the new token is in the vault, nothing served yet): no
  login needed; the token works with msmtp;

  and while the journal is folded into a new base (the limit made small
  by XOAUTH_AGENT_TEST_JOURNAL_MAX, so that the mark's record starts
  one): during_compaction (the new base is in vault.tmp, the journal
  since not carried over) and during_write (vault.tmp whole, not renamed
  yet): the vault file is the old one, base and journal, and the token
  the provider issued last works.

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
        it before the crash (a request the agent died in the middle of
        included: the provider answers it all the same)."""
        self.assertTrue(self.rec.wait_idle(), "the provider never answered")
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

    def test_killed_while_appending_the_mark(self):
        before = self.held()
        image = vaulttest.read(self.env.vault_path)
        self.crash_at("during_append#1")
        # Half a record after the journal: torn, and left out.
        torn = vaulttest.read(self.env.vault_path)
        self.assertEqual(torn[:len(image)], image)
        self.assertGreater(len(torn), len(image))
        self.assertEqual(self.held(), before)
        self.env.start()
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)
        self.assertIn("last record was cut short", self.env.log())
        self.assertNotEqual(self.held(), before)
        # The next write cut the torn record off: the file loads again,
        # and holds the token the provider issued last.
        self.env.stop()
        now = vaulttest.read(self.env.vault_path)
        self.assertNotEqual(now[:len(torn)], torn)
        self.env.start()
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)
        self.assertEqual(self.env.log().count("cut short"), 1)

    def test_killed_while_appending_the_rotated_token(self):
        image = vaulttest.read(self.env.vault_path)
        self.crash_at("during_append#2")
        # The mark's record is whole, the rotated token's torn.
        now = vaulttest.read(self.env.vault_path)
        self.assertEqual(now[:len(image)], image)
        self.assertFalse(os.path.exists(self.env.vault_path + ".tmp"))
        self.assert_grant_survives_without_replay()

    def crash_while_compacting(self, step):
        """The journal is folded into a new base after every record; the
        agent dies at step of the new base of the "sent" mark's record,
        while the refresh goes on."""
        self.env.env["XOAUTH_AGENT_TEST_JOURNAL_MAX"] = "0"
        image = vaulttest.read(self.env.vault_path)
        self.crash_at(step)
        del self.env.env["XOAUTH_AGENT_TEST_JOURNAL_MAX"]
        now = vaulttest.read(self.env.vault_path)
        # The file is the old base with its journal, whole; the new base
        # is only in the temporary file.
        self.assertEqual(now[:len(image)], image)
        self.assertTrue(os.path.exists(self.env.vault_path + ".tmp"))
        return now

    def assert_works_with_what_it_holds(self):
        """No replay: the token the provider issued last is the one the
        agent holds, or it holds the one before, marked as sent."""
        self.env.start()
        r = self.env.xoauth("token", "work")
        if r.returncode != 0:
            self.assertIn("stopped during a refresh", r.stderr)
        else:
            vaulttest.send_mail(self, self.env, self.smtp, EMAIL)
        # A replay would have revoked the grant.
        self.assertTrue(harness.is_refresh_token_active(self.oidc,
                                                        self.held()),
                        "%d grants seen by the provider\n%s"
                        % (len(self.rec.grants), self.env.log()))

    def test_killed_while_the_new_base_is_written(self):
        self.crash_while_compacting("during_compaction#1")
        self.assert_works_with_what_it_holds()

    def test_killed_before_the_new_base_takes_the_files_place(self):
        self.crash_while_compacting("during_write#1")
        self.assert_works_with_what_it_holds()

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
