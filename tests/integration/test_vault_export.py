"""`xoauth export` from one agent, `xoauth restore` into a fresh one with
its own vault: the accounts move, with their refresh tokens and, for
accounts added at run time, their settings."""

import os
import unittest

import harness
import vaulttest
import xoagent

EMAIL = "mover@example.com"
RT_EMAIL = "runtime-mover@example.com"
EXPORT_PASS = "export passphrase 42"


class ExportRestore(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=60)
        self.smtp = harness.start_smtp(self.oidc)
        self.old = vaulttest.key_file_env(self.oidc, EMAIL)
        self.old.start()
        vaulttest.import_token(self.old, self.oidc, EMAIL)
        r = self.old.xoauth(
            "add", "extra", "--provider", "generic", "--client-id",
            harness.CLIENT_ID, "--email", RT_EMAIL,
            "--set", "token_endpoint=%s" % self.oidc.token_endpoint,
            "--set", "device_authorization_endpoint=%s"
            % self.oidc.device_authorization_endpoint,
            "--scopes", harness.SCOPE, "--flow", "device")
        self.assertEqual(r.returncode, 0, r.stderr)
        vaulttest.import_token(self.old, self.oidc, RT_EMAIL, "extra")
        self.file = os.path.join(self.old.home, "export.txt")
        r = self.old.xoauth("export", self.file,
                            stdin=(EXPORT_PASS + "\n").encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.old.log())
        # The old agent goes: two agents must not share rotating tokens.
        self.old.stop()
        self.new = vaulttest.key_file_env(self.oidc, EMAIL)
        self.new.start()

    def tearDown(self):
        self.new.cleanup()
        self.old.cleanup()
        self.smtp.stop()
        self.oidc.stop()

    def test_export_is_sealed_text(self):
        with open(self.file) as f:
            text = f.read()
        self.assertEqual(os.stat(self.file).st_mode & 0o777, 0o600)
        self.assertNotIn("refresh_token", text)
        self.assertNotIn(RT_EMAIL, text)

    def test_restore_brings_accounts_and_tokens(self):
        r = self.new.xoauth("token", "work")
        self.assertEqual(r.returncode, 1)
        r = self.new.xoauth("restore", self.file,
                            stdin=(EXPORT_PASS + "\n").encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.new.log())
        vaulttest.send_mail(self, self.new, self.smtp, EMAIL)
        vaulttest.send_mail(self, self.new, self.smtp, RT_EMAIL,
                            account="extra")
        # Into the new agent's own vault: it survives a restart.
        vaulttest.kill9(self.new)
        self.new.start()
        vaulttest.send_mail(self, self.new, self.smtp, RT_EMAIL,
                            account="extra")

    def test_wrong_export_passphrase(self):
        before = vaulttest.read(self.new.vault_path) \
            if os.path.exists(self.new.vault_path) else None
        r = self.new.xoauth("restore", self.file, stdin=b"not it\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("wrong passphrase", r.stderr)
        self.assertNotIn("extra", self.new.xoauth("list").stdout)
        if before is not None:
            self.assertEqual(vaulttest.read(self.new.vault_path), before)

    def test_not_an_export(self):
        bad = os.path.join(self.new.home, "bad.txt")
        with open(bad, "w") as f:
            f.write("aGVsbG8gd29ybGQ=\n")
        r = self.new.xoauth("restore", bad,
                            stdin=(EXPORT_PASS + "\n").encode())
        self.assertEqual(r.returncode, 1)
        self.assertIn("not an xoauth export", r.stderr)


if __name__ == "__main__":
    unittest.main()
