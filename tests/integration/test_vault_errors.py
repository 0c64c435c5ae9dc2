"""Bad vaults, bad keys, bad passphrases: each gets its clear message and
no byte of the vault (or of its .bak) changes."""

import os
import struct
import time
import unittest

import harness
import vaulttest
import xoagent

EMAIL = "careful@example.com"


class RefusedFile:
    """A vault file written over while the agent is stopped, and the
    agent's refusal to start on it: its message has the words, and the
    file (and its .bak, when the test keeps one in self.bak) is left as it
    is."""

    words = ()  # in every refusal
    bak = None

    def write(self, data):
        with open(self.env.vault_path, "wb") as f:
            f.write(data)
        return data

    def assert_refused(self, data, *words):
        rc, err = vaulttest.start_failing(self.env)
        self.assertEqual(rc, 1, err)
        for w in self.words + words:
            self.assertIn(w, err)
        self.assertEqual(vaulttest.read(self.env.vault_path), data)
        if self.bak is not None:
            self.assertEqual(vaulttest.read(self.env.vault_path + ".bak"),
                             self.bak)
        return err


class BrokenVaultFiles(RefusedFile, harness.ProviderPerClass, unittest.TestCase):
    """A vault made with a key file, then damaged while the agent is
    stopped: the agent refuses to start and leaves the file alone.  Every
    record makes a new base here (XOAUTH_AGENT_TEST_JOURNAL_MAX), so that
    the vault has a .bak, the file before the last new base."""

    def setUp(self):
        if not vaulttest.hooks_built():
            self.skipTest("the agent was built without -DXO_TEST_HOOKS=ON")
        self.env = vaulttest.key_file_env(self.oidc, EMAIL)
        self.env.env["XOAUTH_AGENT_TEST_JOURNAL_MAX"] = "0"
        self.env.start()
        vaulttest.import_token(self.env, self.oidc, EMAIL)
        self.env.token("work")
        self.env.stop()
        del self.env.env["XOAUTH_AGENT_TEST_JOURNAL_MAX"]
        self.bak = vaulttest.read(self.env.vault_path + ".bak")

    def tearDown(self):
        self.env.cleanup()

    def test_flipped_byte_is_damage_and_names_the_backup(self):
        img = bytearray(vaulttest.read(self.env.vault_path))
        img[-5] ^= 0x40
        data = self.write(bytes(img))
        err = self.assert_refused(data, "damaged", "left as it is")
        self.assertIn(self.env.vault_path + ".bak", err)

    def test_truncated_vault(self):
        data = self.write(vaulttest.read(self.env.vault_path)[:70])
        self.assert_refused(data, "damaged")

    def test_vault_of_a_newer_version(self):
        img = bytearray(vaulttest.read(self.env.vault_path))
        img[8:12] = struct.pack(">I", 99)
        data = self.write(bytes(img))
        self.assert_refused(data, "newer xoauth-agent")

    def test_foreign_file(self):
        data = self.write(b"-----BEGIN PGP MESSAGE-----\nxyz\n")
        self.assert_refused(data, "not an xoauth-agent vault")

    def test_wrong_key_file(self):
        data = vaulttest.read(self.env.vault_path)
        vaulttest.write_key_file(self.env.key_file)
        self.assert_refused(data, "does not open the vault")

    def test_the_backup_restores_service(self):
        # What the message advises: the .bak is a whole, older vault.
        img = bytearray(vaulttest.read(self.env.vault_path))
        img[-5] ^= 0x40
        self.write(bytes(img))
        os.replace(self.env.vault_path + ".bak", self.env.vault_path)
        self.env.start()
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())


class BrokenJournal(RefusedFile, harness.ProviderPerClass, unittest.TestCase):
    """A vault whose base is followed by records of changes (the login's
    rotated token, then a refresh's mark and rotated token), damaged while
    the agent is stopped.  A record cut short at the end is what a crash
    in the middle of an append leaves: left out.  Anything else is damage:
    refused, the file left as it is."""

    words = ("damaged", "left as it is")

    def setUp(self):
        self.env = vaulttest.key_file_env(self.oidc, EMAIL)
        self.env.start()
        vaulttest.import_token(self.env, self.oidc, EMAIL)
        self.env.token("work")
        self.env.stop()
        self.env.start()  # its load refreshes: two records more
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.env.stop()
        self.image = vaulttest.read(self.env.vault_path)
        self.base, self.records = vaulttest.journal(self.image)
        self.assertGreaterEqual(len(self.records), 3)

    def tearDown(self):
        self.env.cleanup()

    def flip_in_record(self, i):
        off, n = self.records[i]
        img = bytearray(self.image)
        img[off + n - 20] ^= 0x01
        return self.write(bytes(img))

    def test_flipped_bit_in_an_earlier_record_is_damage(self):
        self.assert_refused(self.flip_in_record(0), "record 1 of its journal")

    def test_flipped_bit_in_the_last_record_is_damage(self):
        n = len(self.records)
        self.assert_refused(self.flip_in_record(n - 1),
                            "record %d of its journal" % n)

    def test_flipped_bit_in_a_records_length_is_damage(self):
        off, _ = self.records[1]
        img = bytearray(self.image)
        img[off + 1] ^= 0x01
        self.assert_refused(self.write(bytes(img)), "record 2 of its journal")

    def test_record_played_twice_is_damage(self):
        off, n = self.records[-1]
        self.assert_refused(self.write(self.image + self.image[off:off + n]))

    def test_records_out_of_order_are_damage(self):
        (o1, n1), (o2, n2) = self.records[-2], self.records[-1]
        self.assert_refused(self.write(self.image[:o1] +
                                       self.image[o2:o2 + n2] +
                                       self.image[o1:o1 + n1]))

    def test_record_from_another_vault_with_the_same_key_is_damage(self):
        other = vaulttest.key_file_env(self.oidc, "other@example.com")
        try:
            with open(self.env.key_file, "rb") as f:
                key = f.read()
            with open(other.key_file, "wb") as f:
                f.write(key)
            other.start()
            vaulttest.import_token(other, self.oidc, "other@example.com")
            other.stop()
            theirs = vaulttest.read(other.vault_path)
            _, recs = vaulttest.journal(theirs)
            off, n = recs[0]
            self.assert_refused(self.write(self.image + theirs[off:off + n]))
        finally:
            other.cleanup()

    def test_record_cut_short_at_the_end_is_left_out(self):
        # What a crash in the middle of appending a record leaves: part
        # of its header (here the start of a copy of the last record).
        off, _ = self.records[-1]
        self.write(self.image + self.image[off:off + 30])
        self.env.start()
        self.assertTrue(self.env.token("work"))
        self.assertIn("last record was cut short", self.env.log())
        self.env.stop()
        # The next write cut it off: what is on disk is whole again.
        now = vaulttest.read(self.env.vault_path)
        _, recs = vaulttest.journal(now)
        self.assertEqual(sum(n for _, n in recs) + self.base, len(now))

    def test_zeros_after_the_records_are_left_out(self):
        # Blocks a file system allocated but never wrote, after a power
        # cut in the middle of an append.
        self.write(self.image + bytes(4096))
        self.env.start()
        self.assertTrue(self.env.token("work"))
        self.assertIn("last record was cut short", self.env.log())

    def test_body_cut_short_after_a_whole_header_is_left_out(self):
        off, n = self.records[-1]
        data = self.write(self.image[:off + n // 2])
        self.env.start()
        # The last record held the refresh's new token: without it the
        # vault holds the token before, marked as sent, and the agent
        # does not send it again by itself.
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("stopped during a refresh", r.stderr)
        self.assertEqual(vaulttest.read(self.env.vault_path), data)


class KeyFiles(harness.ProviderPerClass, unittest.TestCase):
    def tearDown(self):
        self.env.cleanup()

    def test_key_file_others_can_read_is_refused(self):
        self.env = vaulttest.key_file_env(self.oidc, EMAIL)
        os.chmod(self.env.key_file, 0o644)
        rc, err = vaulttest.start_failing(self.env)
        self.assertEqual(rc, 1)
        self.assertIn(self.env.key_file, err)
        self.assertIn("chmod 600", err)

    def test_key_file_of_the_wrong_size_is_refused(self):
        self.env = vaulttest.key_file_env(self.oidc, EMAIL)
        with open(self.env.key_file, "wb") as f:
            f.write(b"short\n")
        rc, err = vaulttest.start_failing(self.env)
        self.assertEqual(rc, 1)
        self.assertIn("exactly 32 bytes", err)

    def test_key_file_agent_starts_unlocked_and_refuses_lock(self):
        self.env = vaulttest.key_file_env(self.oidc, EMAIL)
        self.env.start()
        vaulttest.import_token(self.env, self.oidc, EMAIL)
        self.assertTrue(self.env.token("work"))
        r = self.env.xoauth("lock")
        self.assertEqual(r.returncode, 1)
        self.assertIn("key file", r.stderr)
        self.assertTrue(self.env.token("work"))

    def test_systemd_credential_is_the_key(self):
        self.env = xoagent.AgentEnv(
            xoagent.account_section("work", self.oidc, email=EMAIL))
        creds = os.path.join(self.env.home, "creds")
        os.mkdir(creds, 0o700)
        vaulttest.write_key_file(os.path.join(creds, "vault-key"), 0o400)
        self.env.env["CREDENTIALS_DIRECTORY"] = creds
        self.env.start()
        vaulttest.import_token(self.env, self.oidc, EMAIL)
        self.assertIn("key file %s/vault-key" % creds, self.env.log())
        self.env.stop()
        # Without the credential the vault cannot be opened: it was made
        # with that key.
        del self.env.env["CREDENTIALS_DIRECTORY"]
        rc, err = vaulttest.start_failing(self.env)
        self.assertEqual(rc, 1)
        self.assertIn("vault_key_file", err)
        self.env.env["CREDENTIALS_DIRECTORY"] = creds
        self.env.start()
        self.assertTrue(self.env.token("work"))


class TwoAgents(unittest.TestCase):
    def setUp(self):
        self.env = xoagent.AgentEnv()
        self.env.start()

    def tearDown(self):
        self.env.cleanup()

    def test_second_agent_on_one_vault_does_not_start(self):
        other = os.path.join(self.env.home, "other.sock")
        rc, err = vaulttest.start_failing(self.env, "-a", other)
        self.assertEqual(rc, 1)
        self.assertIn("another agent (pid %d)" % self.env.pid, err)
        self.assertIn(self.env.vault_path, err)
        self.assertFalse(os.path.exists(other))
        # The first one is unharmed.
        self.assertEqual(self.env.xoauth("list").returncode, 0)


class WrongPassphrase(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=60)
        self.env = xoagent.AgentEnv(
            xoagent.account_section("work", self.oidc, email=EMAIL))
        self.env.start()
        vaulttest.import_token(self.env, self.oidc, EMAIL)
        r = vaulttest.unlock(self.env)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        r = self.env.xoauth("lock")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.image = vaulttest.read(self.env.vault_path)

    def tearDown(self):
        self.env.cleanup()
        self.oidc.stop()

    def timed_unlock(self, passphrase):
        t = time.monotonic()
        r = vaulttest.unlock(self.env, passphrase)
        return r, time.monotonic() - t

    def test_wrong_passphrase_is_refused_later_each_time(self):
        r1, t1 = self.timed_unlock("wrong one")
        self.assertEqual(r1.returncode, 1)
        self.assertIn("wrong passphrase", r1.stderr)
        r2, t2 = self.timed_unlock("wrong two")
        self.assertEqual(r2.returncode, 1)
        self.assertGreaterEqual(t1, 0.9)
        self.assertGreaterEqual(t2, 1.9)
        self.assertGreater(t2, t1)
        self.assertEqual(vaulttest.read(self.env.vault_path), self.image)
        r = self.env.xoauth("token", "work")
        self.assertIn("locked", r.stderr)
        # The right one opens it (and the delay starts again).
        r, _ = self.timed_unlock(vaulttest.PASSPHRASE)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertTrue(self.env.token("work"))

    def test_other_clients_are_served_during_the_delay(self):
        import subprocess
        p = subprocess.Popen([xoagent.CLI, "unlock"], env=self.env.env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(b"wrong\n")
        p.stdin.close()
        t = time.monotonic()
        # Argon2id and the delay run off the loop: LIST answers at once.
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(time.monotonic() - t, 0.8)
        self.assertEqual(p.wait(30), 1)

    def test_damaged_passphrase_vault_is_refused_at_unlock(self):
        img = bytearray(self.image)
        img[-3] ^= 1
        with open(self.env.vault_path, "wb") as f:
            f.write(bytes(img))
        r = vaulttest.unlock(self.env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("damaged", r.stderr)
        self.assertEqual(vaulttest.read(self.env.vault_path), bytes(img))
        r = self.env.xoauth("token", "work")
        self.assertIn("locked", r.stderr)


if __name__ == "__main__":
    unittest.main()
