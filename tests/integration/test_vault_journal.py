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
import signal
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


class VaultOfMany(unittest.TestCase):
    """An agent env with a vault of N runtime accounts (storm_env) and its
    token endpoint; the agent is not started."""
    N = 2000

    def setUp(self):
        self.ep = scale.TokenEndpoint(TOKEN_LEN, 3600)
        self.env = storm_env(self.N, self.ep)

    def tearDown(self):
        self.env.cleanup()
        self.ep.stop()


class JournalSize(VaultOfMany):

    def test_a_refresh_appends_kilobytes_not_the_vault(self):
        base = os.path.getsize(self.env.vault_path)
        self.env.start()
        wait_quiet(self.env, self.ep)
        before = os.path.getsize(self.env.vault_path)
        stat = os.stat(self.env.vault_path)
        r = self.env.xoauth("refresh", "u7")
        self.assertEqual(r.returncode, 0, r.stderr)
        after = os.path.getsize(self.env.vault_path)
        # Two records (the mark, the rotated token) of one account, of
        # some hundreds of bytes together, where the vault holds 2,000
        # accounts; the file is the same file, appended to.
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

    def test_a_storm_s_changes_share_records(self):
        # No new base folds the journal in: every record of the storm
        # stays in the file to be counted.
        self.env.env["XOAUTH_AGENT_TEST_JOURNAL_MAX"] = str(1 << 40)
        t0 = time.monotonic()
        self.env.start()
        refreshed = wait_quiet(self.env, self.ep)
        storm_s = time.monotonic() - t0
        _, records = vaulttest.journal(vaulttest.read(self.env.vault_path))
        self.assertEqual(refreshed, self.N)
        # Each refresh changes its account twice (its "presented" mark,
        # then its rotated token), 500 refreshes start a second: a record
        # per change would be some 1,000 appends a second, each sealed,
        # written and fsync()ed in the pool. Appends start at most every
        # 10 ms instead, each holding every change since the one before.
        self.assertLess(len(records), storm_s * 100 + 10,
                        "%d records in %.1f s" % (len(records), storm_s))
        self.assertLess(len(records), self.N)
        self.assertEqual(self.ep.stats()["replayed"], 0)
        # And all of it loads again.
        self.env.stop()
        self.env.start()
        self.assertTrue(self.env.token("u7"))
        self.assertTrue(self.env.token("u1999"))

    def test_a_refresh_s_mark_is_a_record_of_its_name(self):
        self.env.start()
        wait_quiet(self.env, self.ep)
        _, before = vaulttest.journal(vaulttest.read(self.env.vault_path))
        r = self.env.xoauth("refresh", "u7")
        self.assertEqual(r.returncode, 0, r.stderr)
        _, after = vaulttest.journal(vaulttest.read(self.env.vault_path))
        mark, token = [n for _, n in after[len(before):]]
        # The "presented" mark names the account; only the rotated
        # token's record carries a token.  In a storm, the marks were
        # half of what the journal and the new bases folding it in wrote.
        self.assertLess(mark, 200)
        self.assertGreater(token, TOKEN_LEN)
        # The mark is read back: an agent killed now would not send u7's
        # token again (test_vault_crash.py kills it there); once the
        # rotated token is written, u7 serves as before.
        self.env.stop()
        self.env.start()
        self.assertTrue(self.env.token("u7"))


class LoadLog(VaultOfMany):
    """A vault of many accounts loads with a line for the vault, not two
    for each account: 100,000 of them made 200,000 lines at every start,
    which syslog's rate limits drop or bury (issue 11)."""
    N = 300

    def test_a_load_is_summed_up_and_each_account_is_a_debug_line(self):
        self.env.start(debug=False)
        self.assertTrue(self.env.token("u7"))
        log = self.env.log()
        self.assertIn("opened: %d accounts from it" % self.N, log)
        self.assertIn("with %d accounts" % self.N, log)  # listening ...
        self.assertEqual(log.count("back from the vault"), 0)
        self.assertEqual(log.count("from the vault\n"), 0)
        self.env.stop()
        # The lines are still there for the one who asks for them.
        self.env.start()
        self.assertTrue(self.env.token("u7"))
        log = self.env.log()
        self.assertIn("u7: account added at run time, back from the vault", log)
        self.assertRegex(log, r"u7: refresh token [0-9a-f]+ from the vault")


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


def count(env, what):
    return env.log().count(what)


WALK_START = "vault: taking a new base's snapshot"
WALK_END = "vault: snapshot taken in "
BASE_DONE = "new base put in place"
WALK_ABANDONED = "vault: the new base's snapshot abandoned"


def wait_bases_done(env, ep, log_from, quiet=1.5, timeout=60):
    """Until every new base whose snapshot this agent (its log from
    log_from) began has been put in place or abandoned, and nothing has
    moved for `quiet` seconds."""
    end = time.time() + timeout * harness.TIME_SCALE
    last, since = None, time.time()
    while time.time() < end:
        time.sleep(0.1)
        log = env.log()[log_from:]
        now = (log.count(WALK_START),
               log.count(BASE_DONE) + log.count(WALK_ABANDONED),
               ep.stats()["requests"], scale.vault_state(env)[1])
        if now != last:
            last, since = now, time.time()
        elif now[0] == now[1] and not now[3] and \
                time.time() - since >= quiet:
            return
    raise AssertionError("the new bases did not settle: %r\n%s"
                         % (last, env.log()[-3000:]))


def walk_hooks(pause_ms):
    """Test hooks: a record makes a new base due, and a new base's
    snapshot is taken an account a piece, pause_ms apart, so that a test
    can change accounts while a walk runs."""
    return {"XOAUTH_AGENT_TEST_JOURNAL_MAX": "1",
            "XOAUTH_AGENT_TEST_SNAPSHOT_PIECE": "1",
            "XOAUTH_AGENT_TEST_SNAPSHOT_PIECE_MS": str(pause_ms)}


class WalkCase(unittest.TestCase):
    """What the tests of a snapshot taken in pieces share: the token
    endpoint, and the CLI run to success."""

    def start_endpoint(self):
        if not vaulttest.hooks_built():
            self.skipTest("the agent was built without -DXO_TEST_HOOKS=ON")
        return scale.TokenEndpoint(TOKEN_LEN, 3600)

    def tearDown(self):
        self.env.cleanup()
        self.ep.stop()

    def ok(self, *args, stdin=None):
        r = self.env.xoauth(*args, stdin=stdin)
        self.assertEqual(r.returncode, 0, "%r: %r\n%s"
                         % (args, r, self.env.log()[-3000:]))
        return r


class SnapshotInPieces(WalkCase):
    """A new base's snapshot is taken a piece per turn of the loop: here an
    account a turn, with 60 ms between turns (test hooks), so that tokens
    rotate, accounts go and come and the config is reloaded while it is
    being taken; whatever the walk saw or missed, the vault holds exactly
    the latest state once it is in place."""

    N = 20
    GONE, ADDED = "u5", "u%d" % N

    def setUp(self):
        self.ep = self.start_endpoint()
        # Any record makes a new base due: they follow one another while
        # anything changes.
        self.env = storm_env(self.N, self.ep, walk_hooks(60))

    def change_during_a_walk(self, reload):
        """Starts the agent, lets its first refreshes settle, then makes
        changes while one new base's snapshot is being taken, and returns
        once that base is in place."""
        self.env.start()
        wait_bases_done(self.env, self.ep, 0)
        walks, taken = count(self.env, WALK_START), count(self.env, WALK_END)
        bases = count(self.env, BASE_DONE)
        self.ok("refresh", "u1")  # records: a new base is due
        self.assertTrue(vaulttest.wait_for(
            lambda: count(self.env, WALK_START) > walks, 10),
            self.env.log()[-3000:])
        # An account a turn, a turn every 60 ms: the walk has passed u3
        # and not yet reached the last account, and is near u5.
        time.sleep(0.3)
        self.ok("refresh", "u3")
        self.ok("refresh", "u%d" % (self.N - 1))
        self.ok("delete", self.GONE)
        self.ok("add", self.ADDED, "--provider", "generic", "--client-id",
                "bench", "--set", "token_endpoint=%s" % self.ep.url,
                "--set", "device_authorization_endpoint=%s" % self.ep.url,
                "--scopes", "mail", "--flow", "device")
        self.ok("import", self.ADDED, stdin=b"rt-imported-during-a-walk\n")
        if reload:
            time.sleep(0.2)
            self.env.proc.send_signal(signal.SIGHUP)
            self.assertTrue(vaulttest.wait_for(
                lambda: "configuration reloaded" in self.env.log(), 10))
            self.ok("refresh", "u2")
        # All of it happened while that walk ran.
        self.assertEqual(count(self.env, WALK_END), taken,
                         "the walk ended before the changes were made")
        # That base in place, and not the next one, which the records
        # carried over make due at once (its walk takes over a second):
        # the agent is stopped or killed now, so that the file is that
        # base and the records after it.
        self.assertTrue(vaulttest.wait_for(
            lambda: count(self.env, BASE_DONE) > bases, 20, 0.01),
            self.env.log()[-3000:])
        log = self.env.log()
        turns = [int(l.split(WALK_END)[1].split()[0])
                 for l in log.splitlines() if WALK_END in l]
        self.assertGreater(len(turns), taken)
        self.assertGreaterEqual(max(turns[taken:]), self.N)
        if reload:
            self.assertIn("the new base's snapshot starts again", log)

    def assert_latest_state(self):
        """Started again from the vault: every account presents its latest
        refresh token (the endpoint refuses, and counts, one presented a
        second time), the deleted one is gone, the added one is there."""
        log_from = len(self.env.log())
        self.env.start()
        wait_bases_done(self.env, self.ep, log_from)
        self.assertEqual(self.ep.stats()["replayed"], 0)
        names = [l.split()[0] for l in self.ok("list").stdout.splitlines()
                 if l and not l.startswith((" ", "NAME "))]
        want = ["u%d" % i for i in range(self.N + 1) if i != 5]
        self.assertEqual(sorted(names), sorted(want))
        for name in want:
            self.ok("refresh", name)
            self.assertTrue(self.env.token(name))
        r = self.env.xoauth("token", self.GONE)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.ep.stats()["replayed"], 0)

    def test_changes_during_a_walk_survive_a_restart(self):
        self.change_during_a_walk(reload=False)
        self.env.stop()
        self.assert_latest_state()

    def test_changes_and_a_reload_during_a_walk_survive_a_kill(self):
        self.change_during_a_walk(reload=True)
        vaulttest.kill9(self.env)
        self.assert_latest_state()


class SnapshotInPiecesLocked(WalkCase):
    """A LOCK while a new base's snapshot is being taken abandons it (the
    accounts are wiped): the journal stays the vault's, and after UNLOCK
    and a restart every account is there with its latest token."""

    N = 8

    def setUp(self):
        self.ep = self.start_endpoint()
        self.env = xoagent.AgentEnv("")
        self.env.env.update(walk_hooks(100))

    def unlock(self):
        r = vaulttest.unlock(self.env)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log()[-3000:])

    def test_lock_during_a_walk_abandons_it(self):
        self.env.start()
        self.unlock()  # makes the vault
        for i in range(self.N):
            self.ok("add", "u%d" % i, "--provider", "generic",
                    "--client-id", "bench", "--set",
                    "token_endpoint=%s" % self.ep.url, "--set",
                    "device_authorization_endpoint=%s" % self.ep.url,
                    "--scopes", "mail", "--flow", "device")
            self.ok("import", "u%d" % i, stdin=b"rt-first-%d\n" % i)
        wait_bases_done(self.env, self.ep, 0)
        walks = count(self.env, WALK_START)
        taken = count(self.env, WALK_END)
        self.ok("refresh", "u1")
        self.assertTrue(vaulttest.wait_for(
            lambda: count(self.env, WALK_START) > walks, 10, 0.01),
            self.env.log()[-3000:])
        time.sleep(0.25)
        self.ok("lock")
        log = self.env.log()
        self.assertIn(WALK_ABANDONED, log)
        self.assertEqual(log.count(WALK_END), taken)
        # No new base started by the LOCK's flush, to walk over the
        # accounts it wipes.
        self.assertLess(log.rindex(WALK_START), log.rindex(WALK_ABANDONED))
        self.unlock()
        for i in range(self.N):
            self.ok("refresh", "u%d" % i)
        wait_bases_done(self.env, self.ep, 0)
        self.env.stop()
        log_from = len(self.env.log())
        self.env.start()
        self.unlock()
        wait_bases_done(self.env, self.ep, log_from)
        for i in range(self.N):
            self.ok("refresh", "u%d" % i)
        self.assertEqual(self.ep.stats()["replayed"], 0)


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
