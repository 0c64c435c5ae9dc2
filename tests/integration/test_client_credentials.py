"""App-only accounts (flow = client_credentials, Microsoft 365's
SMTP.SendAsApp): the agent gets tokens from the real provider with the
client's secret, which it takes from client_secret_cmd, keeps them fresh
ahead of expiry, and msmtp delivers with them. A secret command that
fails, hangs or prints nothing, and a secret the provider refuses, put
only that account in config-error, with a message that names what went
wrong and never what the command printed."""

import os
import signal
import time
import unittest

import harness
import xoagent

APP_ID, APP_SECRET = harness.APP_CLIENT
MAILBOX = "relay@example.com"
LEAK = "LEAKED-OUTPUT-5f3a"  # printed by failing commands; must go nowhere


def app_section(name, oidc, secret_cmd, email=MAILBOX, token_endpoint=None):
    """A client_credentials [account NAME] for the test provider's app
    client."""
    return "\n".join([
        "[account %s]" % name,
        "provider = generic",
        "client_id = %s" % APP_ID,
        "token_endpoint = %s" % (token_endpoint or oidc.token_endpoint),
        "scopes = %s" % harness.MAIL_SCOPE,
        "flow = client_credentials",
        "email = %s" % email,
        "client_secret_cmd = %s" % secret_cmd,
    ]) + "\n"


class AppTokens(unittest.TestCase):
    AT_TTL = 30

    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=self.AT_TTL)
        self.smtp = harness.start_smtp(self.oidc)
        self.env = xoagent.AgentEnv()
        self.secret_file = os.path.join(self.env.home, "app-secret")
        self.runs_file = os.path.join(self.env.home, "secret-runs")
        self.write_secret(APP_SECRET)
        # Counts its runs, then prints the secret and a second line that
        # must not become part of it.
        self.secret_cmd = "echo run >> %s; cat %s; echo second-line" % (
            self.runs_file, self.secret_file)

    def tearDown(self):
        self.env.cleanup()
        self.smtp.stop()
        self.oidc.stop()

    def write_secret(self, secret):
        with open(self.secret_file, "w") as f:
            f.write(secret + "\n")

    def secret_runs(self):
        try:
            with open(self.runs_file) as f:
                return len(f.read().split())
        except FileNotFoundError:
            return 0

    def start(self, config):
        self.env.write_config(config)
        self.env.start()

    def list_line(self, name):
        out = self.env.xoauth("list").stdout
        for line in out.splitlines():
            if line.startswith(name + " "):
                return line
        self.fail("%s not in xoauth list:\n%s" % (name, out))

    def test_app_token_from_secret_cmd_delivers_mail(self):
        self.start(app_section("relay", self.oidc, self.secret_cmd))
        token = self.env.token("relay")
        info = harness.introspect(self.oidc, token)
        self.assertTrue(info.get("active"), info)
        self.assertEqual(info.get("client_id"), APP_ID)
        self.assertNotIn("sub", info)  # no user: an app token
        # msmtp asks the agent, as users configure it.
        r = harness.run_msmtp(self.smtp.port_xoauth2_only, MAILBOX,
                              '"%s token relay"' % xoagent.CLI,
                              env=self.env.env)
        self.assertEqual(r.returncode, 0, r.stderr + r.log + self.env.log())
        msgs = self.smtp.wait_messages(1)
        self.assertEqual(msgs[0]["user"], MAILBOX)
        self.assertEqual(msgs[0]["mechanism"], "XOAUTH2")
        self.assertEqual(msgs[0]["client_id"], APP_ID)
        # The SMTP server really checks: a bad token is refused.
        r = harness.run_msmtp(self.smtp.port_xoauth2_only, MAILBOX,
                              "echo not-a-token")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("535 5.7.3", r.log + r.stderr)
        # list shows the account with its mailbox, active.
        line = self.list_line("relay")
        self.assertIn(MAILBOX, line)
        self.assertIn("active", line)
        # The secret was fetched once and kept; only its first line counts.
        self.assertEqual(self.secret_runs(), 1)
        self.assertNotIn(APP_SECRET, self.env.log())

    def test_login_gets_a_token_at_once_without_a_code(self):
        self.start(app_section("relay", self.oidc, self.secret_cmd))
        harness.wait_for(lambda: "active" in self.list_line("relay"), 10,
                         "first app token")
        before = self.env.token("relay")
        r = self.env.xoauth("login", "relay", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertIn("logged in", r.stderr)
        self.assertNotIn("code", r.stderr)
        after = self.env.token("relay")
        self.assertNotEqual(before, after)
        self.assertTrue(harness.is_access_token_active(self.oidc, after))

    def test_import_into_an_app_account_is_refused(self):
        self.start(app_section("relay", self.oidc, self.secret_cmd))
        harness.wait_for(lambda: "active" in self.list_line("relay"), 10,
                         "first app token")
        before = self.env.token("relay")
        r = self.env.xoauth("import", "relay", stdin=b"1//some-refresh\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("client_credentials", r.stderr)
        # The account goes on with its own token.
        self.assertEqual(self.env.token("relay"), before)
        self.assertIn("active", self.list_line("relay"))

    def test_provider_refusing_the_client_reruns_the_command(self):
        faults = harness.start_faults(self.oidc)
        try:
            self.start(app_section("relay", self.oidc, self.secret_cmd,
                                   token_endpoint=faults.token_endpoint))
            self.env.token("relay")
            self.assertEqual(self.secret_runs(), 1)
            # The provider refuses the secret held (rotated, say): the
            # agent asks the command again before giving up.
            faults.queue("custom", status=401, body={
                "error": "invalid_client",
                "error_description": "client authentication failed"})
            r = self.env.xoauth("refresh", "relay")
            self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
            self.assertEqual(self.secret_runs(), 2)
            grants = [q for q in faults.requests()
                      if q["grant_type"] == "client_credentials"]
            self.assertEqual([q["status"] for q in grants], [200, 401, 200])
        finally:
            faults.stop()

    def test_transient_failures_back_off_and_keep_serving(self):
        faults = harness.start_faults(self.oidc)
        try:
            self.start(app_section("relay", self.oidc, self.secret_cmd,
                                   token_endpoint=faults.token_endpoint))
            token = self.env.token("relay")
            faults.queue("503", count=1)
            r = self.env.xoauth("refresh", "relay")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertNotIn("config", r.stderr)
            # The still-valid token is served meanwhile, and the agent
            # tries again after its back-off and recovers.
            self.assertEqual(self.env.token("relay"), token)
            self.assertIn("retrying", self.list_line("relay"))
            harness.wait_for(lambda: "active" in self.list_line("relay"),
                             30, "recovered after back-off")
            self.assertNotEqual(self.env.token("relay"), token)
            # A provider outage is not the secret's fault: no new run.
            self.assertEqual(self.secret_runs(), 1)
        finally:
            faults.stop()

    def test_account_removed_while_its_command_runs(self):
        marker = "sleep 62.75"
        # Its own deadline is far: only the removal can end it in time.
        config = "[agent]\nsecret_cmd_timeout = 120\n\n"
        config += app_section("good", self.oidc, self.secret_cmd)
        self.start(config + app_section("slow", self.oidc, marker,
                                        email="slow@example.com"))
        harness.wait_for(lambda: harness.processes_running(marker), 10,
                         "the slow command running")
        self.env.write_config(config)
        self.env.proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: "slow" not in self.env.xoauth("list").stdout,
                         10, "the account removed")
        harness.wait_for(lambda: not harness.processes_running(marker), 5,
                         "its command ended")
        self.assertTrue(harness.is_access_token_active(
            self.oidc, self.env.token("good")))
        self.assertEqual(self.env.proc.poll(), None)

    def test_wrong_secret_is_a_config_error_until_fixed(self):
        self.write_secret("not-the-secret")
        self.start(app_section("relay", self.oidc, self.secret_cmd))
        r = self.env.xoauth("token", "relay")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("does not accept the client", r.stderr)
        self.assertIn("client_secret_cmd", r.stderr)
        self.assertNotIn("not-the-secret", r.stderr + self.env.log())
        self.assertIn("config-error", self.list_line("relay"))
        # A freshly fetched secret that is refused is not fetched again
        # for every request.
        runs = self.secret_runs()
        self.env.xoauth("token", "relay")
        self.assertEqual(self.secret_runs(), runs)
        # Fixed and reloaded: the command runs again and tokens flow.
        self.write_secret(APP_SECRET)
        self.env.proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: "active" in self.list_line("relay"), 15,
                         "account recovered after reload")
        self.assertTrue(harness.is_access_token_active(
            self.oidc, self.env.token("relay")))

    def test_failing_hanging_or_empty_commands_spare_other_accounts(self):
        hang_marker = "sleep 61.25"
        config = "[agent]\nsecret_cmd_timeout = 2\n\n"
        config += app_section("good", self.oidc, self.secret_cmd)
        config += app_section(
            "fails", self.oidc, "echo %s; echo %s >&2; exit 3" % (LEAK, LEAK),
            email="fails@example.com")
        config += app_section("hangs", self.oidc,
                              "echo %s; %s" % (LEAK, hang_marker),
                              email="hangs@example.com")
        config += app_section("empty", self.oidc, "printf '\\n%s\\n'" % LEAK,
                              email="empty@example.com")
        config += app_section("killed", self.oidc, "kill -9 $$",
                              email="killed@example.com")
        self.start(config)
        cases = {
            "fails": "client_secret_cmd exited with status 3",
            "hangs": "client_secret_cmd did not finish within 2 s and was "
                     "killed",
            "empty": "client_secret_cmd printed no secret",
            "killed": "client_secret_cmd was killed by signal 9",
        }
        started = time.monotonic()
        for name, says in cases.items():
            r = self.env.xoauth("token", name, timeout=30)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(says, r.stderr)
            self.assertIn("config-error", self.list_line(name))
            # The account's other requests fail the same way, at once.
            r = self.env.xoauth("token", name, timeout=30)
            self.assertIn(says, r.stderr)
        self.assertLess(time.monotonic() - started, 20)
        # The hanging command's whole process group is gone.
        harness.wait_for(lambda: not harness.processes_running(hang_marker), 10,
                         "the hanging secret command killed")
        # What the commands printed reached neither the user nor the log.
        log = self.env.log()
        self.assertNotIn(LEAK, log)
        # The good account was served all along.
        token = self.env.token("good")
        self.assertTrue(harness.is_access_token_active(self.oidc, token))
        r = harness.run_msmtp(self.smtp.port_xoauth2_only, MAILBOX,
                              '"%s token good"' % xoagent.CLI,
                              env=self.env.env)
        self.assertEqual(r.returncode, 0, r.stderr + r.log)

    def test_hanging_command_does_not_block_other_requests(self):
        config = "[agent]\nsecret_cmd_timeout = 5\n\n"
        config += app_section("good", self.oidc, self.secret_cmd)
        config += app_section("hangs", self.oidc, "sleep 61.5",
                              email="hangs@example.com")
        self.start(config)
        self.env.token("good")
        # While "hangs" waits on its command, "good" answers at once.
        import subprocess
        slow = subprocess.Popen([xoagent.CLI, "token", "hangs"],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env.env)
        try:
            time.sleep(0.5)
            t0 = time.monotonic()
            self.env.token("good")
            self.assertLess(time.monotonic() - t0, 2.0)
            _, err = slow.communicate(timeout=30)
        finally:
            if slow.poll() is None:
                slow.kill()
                slow.wait()
        self.assertEqual(slow.returncode, 1)
        self.assertIn(b"did not finish within 5 s", err)


class AppTokensStayFresh(unittest.TestCase):
    AT_TTL = 8  # seconds: refreshed at half-life, every ~4 s

    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=self.AT_TTL)
        self.env = xoagent.AgentEnv()
        secret = os.path.join(self.env.home, "app-secret")
        with open(secret, "w") as f:
            f.write(APP_SECRET + "\n")
        self.env.write_config(app_section("relay", self.oidc,
                                          "cat %s" % secret))
        self.env.start()

    def tearDown(self):
        self.env.cleanup()
        self.oidc.stop()

    def test_fresh_token_ahead_of_expiry_over_several_lifetimes(self):
        seen = []
        deadline = time.monotonic() + 3.5 * self.AT_TTL
        while time.monotonic() < deadline:
            token = self.env.token("relay")
            info = harness.introspect(self.oidc, token)
            self.assertTrue(info.get("active"), "a dead token was served")
            # Never one about to die: at least a second of life left.
            self.assertGreaterEqual(info["exp"] - time.time(), 1, info)
            if token not in seen:
                seen.append(token)
            time.sleep(0.5)
        self.assertGreaterEqual(len(seen), 4, self.env.log())
        # Fetched by the scheduler ahead of expiry, not on demand.
        self.assertIn("next refresh in", self.env.log())


if __name__ == "__main__":
    unittest.main()
