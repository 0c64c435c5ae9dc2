"""`xoauth lock` takes the tokens out of memory; `xoauth unlock` brings
them back from the vault.

The agent holds a refresh token (rotated once) and access tokens, reached
over TLS through the recording forwarder of tokenspy.py, so the test knows
every token it received.  Locked, the agent's memory is read through
/proc/PID/mem (root only: the agent sets PR_SET_DUMPABLE 0) for each of
those tokens and for the vault's passphrase, as plain bytes: the vault's
own work (the JSON snapshot of every write, the plain text at unlock, the
passphrase Argon2id read) must leave no copy behind.  Sealed copies never
match a scan, so that they are gone too is shown by behaviour: a locked
agent cannot answer with a token, refresh or remove one until the
passphrase brings them back from the vault, and then msmtp sends again.
"""

import os
import time
import unittest

import harness
import vaulttest
import xoagent
from tokenspy import (RecordingTLSForwarder, find_in_memory,
                      readable_regions, sanitized)

EMAIL = "locker@example.com"


class LockUnlock(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=300)
        self.smtp = harness.start_smtp(self.oidc)
        self.fwd = RecordingTLSForwarder(self.oidc.token_endpoint)
        self.env = xoagent.AgentEnv(xoagent.account_section(
            "work", self.oidc, token_endpoint=self.fwd.url, email=EMAIL,
            extra=["ca_file = %s" % self.fwd.cert]))
        self.env.start()
        vaulttest.import_token(self.env, self.oidc, EMAIL)
        r = vaulttest.unlock(self.env)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())

    def tearDown(self):
        self.env.cleanup()
        self.fwd.stop()
        self.smtp.stop()
        self.oidc.stop()

    def test_locked_agent_refuses_and_unlock_restores_service(self):
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)
        r = self.env.xoauth("lock")
        self.assertEqual(r.returncode, 0, r.stderr)
        for args in (("token", "work"), ("refresh", "work"),
                     ("remove", "work")):
            r = self.env.xoauth(*args)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn("locked", r.stderr)
            self.assertIn("xoauth unlock", r.stderr)
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0)
        self.assertIn("locked", r.stdout)
        # Nothing is refreshed while locked.
        sent = len(self.fwd.grants)
        r = self.env.xoauth("unlock", stdin=b"not it\n")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(self.fwd.grants), sent)
        r = vaulttest.unlock(self.env)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)

    def test_lock_twice_and_unlock_when_open(self):
        self.assertEqual(self.env.xoauth("lock").returncode, 0)
        self.assertEqual(self.env.xoauth("lock").returncode, 0)
        self.assertEqual(vaulttest.unlock(self.env).returncode, 0)
        # Unlocked already: the passphrase is still checked.
        self.assertEqual(vaulttest.unlock(self.env).returncode, 0)
        r = vaulttest.unlock(self.env, "not it")
        self.assertEqual(r.returncode, 1)
        self.assertIn("wrong passphrase", r.stderr)
        self.assertTrue(self.env.token("work"))

    @unittest.skipUnless(os.geteuid() == 0,
                         "reading the agent's memory needs root")
    def test_no_token_bytes_in_memory_once_locked(self):
        first = self.env.token("work")
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr)
        second = self.env.token("work")
        self.assertNotEqual(first, second)
        self.assertGreaterEqual(len(self.fwd.refresh_tokens()), 2)
        r = self.env.xoauth("lock")
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(0.5)
        secrets = {}
        for i, t in enumerate(self.fwd.refresh_tokens()):
            secrets[t.encode()] = "refresh token #%d" % (i + 1)
        for i, (k, t) in enumerate(self.fwd.tokens):
            if k == "access_token":
                secrets[t.encode()] = "access token #%d" % (i + 1)
        secrets[vaulttest.PASSPHRASE.encode()] = "the vault passphrase"
        control = self.fwd.url.encode()
        regions, skipped = readable_regions(self.env.pid)
        if not sanitized(self.env.pid):
            self.assertEqual(skipped, [], "regions too large to read")
        found = find_in_memory(self.env.pid, regions,
                               list(secrets) + [control])
        self.assertIn(control, found, "the scan found not even the config")
        leaks = ["%s in %s" % (secrets[n], "; ".join(where))
                 for n, where in found.items() if n != control]
        self.assertEqual(leaks, [], "tokens in the locked agent's memory")
        # And they come back from the vault alone.
        r = vaulttest.unlock(self.env)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)


class LockUnlockConfigSecret(unittest.TestCase):
    """A client_secret written in the config file goes with LOCK like every
    secret (the agent keeps no plain copy of the file's), and comes back at
    UNLOCK from the file: an app account then gets its token again."""

    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=300)
        app_id, app_secret = harness.APP_CLIENT
        self.env = xoagent.AgentEnv("\n".join([
            "[account app]",
            "provider = generic",
            "client_id = %s" % app_id,
            "client_secret = %s" % app_secret,
            "token_endpoint = %s" % self.oidc.token_endpoint,
            "scopes = %s" % harness.MAIL_SCOPE,
            "flow = client_credentials",
            "email = relay@example.com"]) + "\n")
        self.env.start()
        r = vaulttest.unlock(self.env)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())

    def tearDown(self):
        self.env.cleanup()
        self.oidc.stop()

    def test_app_account_works_again_after_unlock(self):
        first = self.env.token("app")
        self.assertEqual(self.env.xoauth("lock").returncode, 0)
        r = self.env.xoauth("token", "app")
        self.assertEqual(r.returncode, 1)
        self.assertIn("locked", r.stderr)
        r = vaulttest.unlock(self.env)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        # The secret came back from the file: a new app token.
        second = harness.wait_for(
            lambda: self.env.xoauth("token", "app").stdout.strip(), 20,
            "an app token after unlock")
        self.assertNotEqual(first, second)
        self.assertTrue(harness.is_access_token_active(self.oidc, second))


if __name__ == "__main__":
    unittest.main()
