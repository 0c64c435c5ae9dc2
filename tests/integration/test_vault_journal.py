"""The vault's journal: a change costs a record of the accounts it
concerns, not a copy of the vault; the journal is folded into a new base
while records go on being appended; a kill -9 anywhere in that loses
nothing the durability rules promise; a vault of format 1 loads, and its
first write makes it a base and a journal.

The storms run against token_endpoint.js (tests/bench/), a fast local
token endpoint of our own that rotates every refresh token and refuses,
and counts, one presented a second time: what a rotating provider revokes
a grant for.  The vaults of many runtime accounts are written by
bench_vault, with the vault's own sealing code.
"""

import json
import os
import random
import subprocess
import sys
import time
import unittest

import harness
import vaulttest
import xoagent

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "bench"))
import scale  # noqa: E402  (TokenEndpoint, the bench's vault writer)

SEAL_VAULT = os.path.join(xoagent.BUILD_DIR, "tests", "seal_vault")
TOKEN_LEN = 512


def storm_env(n, ep, extra=None):
    """An agent env with a key-file vault of n runtime accounts u0..u{n-1}
    at the endpoint ep."""
    env = xoagent.AgentEnv("")
    key = vaulttest.write_key_file(os.path.join(env.home, "vault-key"))
    env.write_config("[agent]\nvault_key_file = %s\n" % key)
    os.makedirs(os.path.dirname(env.vault_path), exist_ok=True)
    subprocess.run([scale.BENCH_VAULT, env.vault_path, key, str(n), ep.url,
                    str(TOKEN_LEN)], check=True, capture_output=True)
    env.env.update(extra or {})
    return env


def wait_quiet(env, ep, quiet=2.0, timeout=120):
    """Until the endpoint has seen no refresh for `quiet` seconds and the
    vault has no write under way."""
    end = time.time() + timeout * harness.TIME_SCALE
    last, since = ep.stats()["requests"], time.time()
    while time.time() < end:
        time.sleep(0.2)
        now = ep.stats()["requests"]
        _, busy = scale.vault_state(env)
        if now != last or busy:
            last, since = now, time.time()
        elif time.time() - since >= quiet:
            return now
    raise AssertionError("the storm did not settle: %s" % ep.stats())


def account_states(env, n):
    """How many of u0..u{n-1} serve a token, and how many say they stopped
    during a refresh (their token was presented when the agent died: not
    sent again by itself)."""
    served = interrupted = 0
    for i in range(n):
        r = env.xoauth("token", "u%d" % i)
        if r.returncode == 0:
            served += 1
        elif "stopped during a refresh" in r.stderr:
            interrupted += 1
        else:
            raise AssertionError("u%d: %r\n%s" % (i, r, env.log()[-3000:]))
    return served, interrupted


class JournalSize(unittest.TestCase):
    N = 2000

    def setUp(self):
        self.ep = scale.TokenEndpoint(TOKEN_LEN, 3600)
        self.env = storm_env(self.N, self.ep)

    def tearDown(self):
        self.env.cleanup()
        self.ep.stop()

    def test_a_refresh_appends_kilobytes_not_the_vault(self):
        base = os.path.getsize(self.env.vault_path)
        self.env.start()
        wait_quiet(self.env, self.ep)
        before = os.path.getsize(self.env.vault_path)
        stat = os.stat(self.env.vault_path)
        r = self.env.xoauth("refresh", "u7")
        self.assertEqual(r.returncode, 0, r.stderr)
        after = os.path.getsize(self.env.vault_path)
        # Two records (the mark, the rotated token) of one account, each
        # some hundreds of bytes, where the vault holds 2,000 accounts;
        # the file is the same file, appended to.
        self.assertGreater(base, 1000 * 1000)
        self.assertGreater(after, before)
        self.assertLess(after - before, 8 * TOKEN_LEN + 1024)
        self.assertEqual(os.stat(self.env.vault_path).st_ino, stat.st_ino)
        # The storm's journal grew past half the base: new bases took it
        # in, and the file stays under one and a half bases.
        self.assertIn("new base put in place", self.env.log())
        self.assertLess(after, base * 1.6 + 1024 * 1024)
        self.assertEqual(self.ep.stats()["replayed"], 0)
        # All of it loads again.
        self.env.stop()
        self.env.start()
        self.assertTrue(self.env.token("u7"))
        self.assertTrue(self.env.token("u1999"))


class StormKilled(unittest.TestCase):
    """A refresh storm of N accounts with a tiny journal limit (a new base
    after every record or two), so that new bases are written while
    records are appended; the agent is killed in the middle, then started
    again and left to finish."""

    N = 300

    def setUp(self):
        if not vaulttest.hooks_built():
            self.skipTest("the agent was built without -DXO_TEST_HOOKS=ON")
        self.ep = scale.TokenEndpoint(TOKEN_LEN, 3600)
        self.env = storm_env(self.N, self.ep,
                             {"XOAUTH_AGENT_TEST_JOURNAL_MAX": "20000"})

    def tearDown(self):
        self.env.cleanup()
        self.ep.stop()

    def killed_at(self, step):
        self.env.env["XOAUTH_AGENT_TEST_CRASH_AT"] = step
        self.env.start()
        del self.env.env["XOAUTH_AGENT_TEST_CRASH_AT"]
        self.assertEqual(vaulttest.wait_dead(self.env, 60), -9,
                         self.env.log()[-3000:])
        self.assertIn("test hook: killed at %s\n" % step, self.env.log())

    def assert_nothing_lost(self):
        """Started again: no token is presented twice, every account holds
        a token or says its refresh was interrupted, and a clean restart
        finds the same."""
        self.env.start()
        wait_quiet(self.env, self.ep)
        self.assertEqual(self.ep.stats()["replayed"], 0)
        served, interrupted = account_states(self.env, self.N)
        self.assertEqual(served + interrupted, self.N)
        self.assertGreater(served, 0)
        self.env.stop()
        self.env.start()
        self.assertEqual(account_states(self.env, self.N),
                         (served, interrupted))
        self.assertEqual(self.ep.stats()["replayed"], 0)

    def test_killed_while_a_new_base_is_written(self):
        self.killed_at("during_compaction#2")
        self.assertTrue(os.path.exists(self.env.vault_path + ".tmp"))
        self.assert_nothing_lost()

    def test_killed_before_a_new_base_takes_the_files_place(self):
        self.killed_at("during_write#2")
        self.assert_nothing_lost()

    def test_killed_in_the_middle_of_an_append(self):
        self.killed_at("during_append#7")
        self.assert_nothing_lost()

    def test_killed_at_random_moments_of_the_storm(self):
        rnd = random.Random(os.getpid())
        for _ in range(4):
            self.env.start()
            time.sleep(rnd.uniform(0.05, 0.6))
            vaulttest.kill9(self.env)
        self.assert_nothing_lost()


class FormatOne(unittest.TestCase):
    """A vault written before the journal: one image."""

    EMAIL = "older@example.com"

    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=300)
        self.smtp = harness.start_smtp(self.oidc)
        self.env = vaulttest.key_file_env(self.oidc, self.EMAIL)

    def tearDown(self):
        self.env.cleanup()
        self.smtp.stop()
        self.oidc.stop()

    def test_vault_of_format_1_loads_and_its_first_write_upgrades_it(self):
        rt = harness.get_tokens_by_device(self.oidc, self.EMAIL)[
            "refresh_token"]
        doc = {"format": 1, "accounts": [
            {"name": "work", "email": self.EMAIL, "refresh_token": rt,
             "obtained": int(time.time()), "presented": False}]}
        os.makedirs(os.path.dirname(self.env.vault_path), exist_ok=True)
        subprocess.run([SEAL_VAULT, "1", self.env.vault_path,
                        self.env.key_file],
                       input=json.dumps(doc).encode(), check=True)
        old = vaulttest.read(self.env.vault_path)
        self.assertEqual(old[8:12], b"\0\0\0\x01")
        self.env.start()
        vaulttest.send_mail(self, self.env, self.smtp, self.EMAIL)
        log = self.env.log()
        self.assertIn("is one image (format 1)", log)
        self.assertIn("now of format 2", log)
        new = vaulttest.read(self.env.vault_path)
        self.assertEqual(new[8:12], b"\0\0\0\x02")
        _, records = vaulttest.journal(new)
        self.assertGreaterEqual(len(records), 1)
        # The format-1 file is the backup, as it was.
        self.assertEqual(vaulttest.read(self.env.vault_path + ".bak"), old)
        self.env.stop()
        self.env.start()
        vaulttest.send_mail(self, self.env, self.smtp, self.EMAIL)
        self.assertEqual(self.env.log().count("now of format 2"), 1)


if __name__ == "__main__":
    unittest.main()
