"""The vault keeps an agent's refresh tokens across restarts (DESIGN.md,
"Vault"): after a clean stop, after SIGKILL, with access tokens that died
while the agent was away, for accounts of the config file and for those
added with `xoauth add`; and a passphrase vault starts locked.

About the clock: the agent keeps every deadline on CLOCK_BOOTTIME and the
vault stores no expiry at all, only refresh tokens (and, for `lifetime`,
when a token was obtained, which can only shorten a lifetime, never
lengthen it: test_vault_lifetime.py).  So a wall clock that jumps while the
agent is away cannot make it serve a dead token: after every restart it
fetches a new access token, which the provider's own clock judges.
test_access_tokens_that_died_meanwhile covers that case for real: the
provider's access tokens live 4 s and the agent is away longer.
"""

import os
import time
import unittest

import harness
import vaulttest
import xoagent

EMAIL = "persist@example.com"


class RestartWithKeyFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.oidc = harness.start_oidc(at_ttl=4)
        cls.smtp = harness.start_smtp(cls.oidc)

    @classmethod
    def tearDownClass(cls):
        cls.smtp.stop()
        cls.oidc.stop()

    def setUp(self):
        self.env = vaulttest.key_file_env(self.oidc, EMAIL)
        self.env.start()
        vaulttest.import_token(self.env, self.oidc, EMAIL)

    def tearDown(self):
        self.env.cleanup()

    def test_vault_is_a_private_file_once_a_token_is_held(self):
        st = os.stat(self.env.vault_path)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(st.st_uid, os.geteuid())
        with open(self.env.vault_path, "rb") as f:
            self.assertEqual(f.read(8), b"XOAUTHVT")

    def test_clean_stop_then_no_login_needed(self):
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)
        self.env.stop()
        self.env.start()
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)

    def test_sigkill_then_no_login_needed(self):
        self.env.token("work")
        vaulttest.kill9(self.env)
        self.env.start()
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)
        # Twice: the token the restarted agent got by rotation is on disk
        # too.
        vaulttest.kill9(self.env)
        self.env.start()
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)

    def test_access_tokens_that_died_meanwhile(self):
        before = self.env.token("work")
        self.env.stop()
        time.sleep(5)  # the provider's access tokens live 4 s
        self.assertFalse(harness.is_access_token_active(self.oidc, before))
        self.env.start()
        after = self.env.token("work")
        self.assertNotEqual(before, after)
        self.assertTrue(harness.is_access_token_active(self.oidc, after))

    def test_list_shows_the_account_active_after_restart(self):
        self.env.stop()
        self.env.start()
        self.env.token("work")
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("active", r.stdout)

    def test_removed_tokens_stay_removed_after_restart(self):
        r = self.env.xoauth("remove", "work")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.env.stop()
        self.env.start()
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1)
        self.assertIn("login", r.stderr)


class RuntimeAccountSurvives(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=60)
        self.smtp = harness.start_smtp(self.oidc)
        self.env = xoagent.AgentEnv()
        key = vaulttest.write_key_file(os.path.join(self.env.home, "k"))
        self.env.write_config("[agent]\nvault_key_file = %s\n" % key)
        self.env.start()

    def tearDown(self):
        self.env.cleanup()
        self.smtp.stop()
        self.oidc.stop()

    def test_added_account_and_its_token_come_back(self):
        r = self.env.xoauth(
            "add", "later", "--provider", "generic", "--client-id",
            harness.CLIENT_ID, "--email", EMAIL,
            "--set", "token_endpoint=%s" % self.oidc.token_endpoint,
            "--set", "device_authorization_endpoint=%s"
            % self.oidc.device_authorization_endpoint,
            "--scopes", harness.SCOPE, "--flow", "device")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        vaulttest.import_token(self.env, self.oidc, EMAIL, account="later")
        vaulttest.kill9(self.env)
        self.env.start()
        r = self.env.xoauth("list")
        self.assertIn("later", r.stdout, self.env.log())
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL,
                            account="later")
        # Deleted, it stays deleted.
        r = self.env.xoauth("delete", "later")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.env.stop()
        self.env.start()
        self.assertNotIn("later", self.env.xoauth("list").stdout)


class PassphraseVault(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=60)
        self.smtp = harness.start_smtp(self.oidc)
        self.env = xoagent.AgentEnv(
            xoagent.account_section("work", self.oidc, email=EMAIL))
        self.env.start()

    def tearDown(self):
        self.env.cleanup()
        self.smtp.stop()
        self.oidc.stop()

    def test_without_a_vault_the_agent_works_in_memory(self):
        vaulttest.import_token(self.env, self.oidc, EMAIL)
        self.env.token("work")
        self.assertFalse(os.path.exists(self.env.vault_path))
        r = self.env.xoauth("lock")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no vault", r.stderr)

    def test_unlock_makes_the_vault_and_a_restart_starts_locked(self):
        vaulttest.import_token(self.env, self.oidc, EMAIL)
        r = self.env.xoauth("unlock", stdin=b"")
        self.assertNotEqual(r.returncode, 0)
        # No vault yet, create 0: status 22, and the CLI (reading stdin)
        # makes it with the one line it was given.
        r = vaulttest.unlock(self.env)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertTrue(os.path.exists(self.env.vault_path))
        self.env.stop()
        self.env.start()
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1)
        self.assertIn("locked", r.stderr)
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("locked", r.stdout)
        r = vaulttest.unlock(self.env)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        vaulttest.send_mail(self, self.env, self.smtp, EMAIL)


if __name__ == "__main__":
    unittest.main()
