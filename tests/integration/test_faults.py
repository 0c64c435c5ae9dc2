"""Provider faults from our fault-injecting proxy (faults.js) in front of
the real provider's token endpoint: the agent keeps serving the still-valid
token through transient faults and backs off; invalid_grant means the grant
is gone, and with it every token it issued: "login needed". A connection
reset in the middle of a reply and a redirect are transient faults that
last: the token is served until it expires and never after, and the cause
is named (faultenv.py). TLS faults: test_faults_tls.py; a stall:
test_faults_stall.py; odd expires_in: test_expires_in.py."""

import subprocess
import time
import unittest

import faultenv
import harness
import xoagent

EMAIL = "dave@example.com"
AT_TTL = 30  # refresh due at 15 s left


class ProviderFaults(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=AT_TTL)
        self.faults = harness.start_faults(self.oidc)
        self.env = xoagent.AgentEnv(xoagent.account_section(
            "work", self.oidc, token_endpoint=self.faults.token_endpoint,
            email=EMAIL))
        self.env.start()
        tokens = harness.get_tokens_by_device(self.oidc, EMAIL)
        r = self.env.xoauth("import", "work",
                            stdin=tokens["refresh_token"].encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.token = self.env.token("work")

    def tearDown(self):
        self.env.cleanup()
        self.faults.stop()
        self.oidc.stop()

    def refresh_attempts(self):
        return [q for q in self.faults.requests()
                if q.get("grant_type") == "refresh_token"]

    def assert_still_serving(self):
        token = self.env.token("work")
        self.assertTrue(harness.is_access_token_active(self.oidc, token))
        return token

    def check_transient(self, kind, **params):
        self.faults.queue(kind, count=1, **params)
        n = len(self.refresh_attempts())
        r = self.env.xoauth("--wait", "40", "refresh", "work", timeout=90)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotIn("login needed", r.stderr)
        self.assertNotIn("xoauth login", r.stderr)
        # The still-valid token is served meanwhile...
        self.assert_still_serving()
        r = self.env.xoauth("list")
        self.assertIn("retrying", r.stdout)
        # ...and after the back-off the agent tries again and recovers.
        harness.wait_for(lambda: len(self.refresh_attempts()) >= n + 2, 60,
                         "retry after back-off")
        harness.wait_for(lambda: "active" in self.env.xoauth("list").stdout,
                         20, "recovered")
        return self.refresh_attempts()[n:]

    def test_500_is_retried(self):
        self.check_transient("500")

    def test_503_is_retried(self):
        self.check_transient("503")

    def test_malformed_json_is_retried(self):
        self.check_transient("malformed")

    def test_huge_reply_is_refused_and_retried(self):
        self.check_transient("huge")

    def test_429_retry_after_is_honoured(self):
        tries = self.check_transient("429", retry_after=4)
        self.assertGreaterEqual(tries[1]["time"] - tries[0]["time"], 3.9,
                                tries)

    def test_invalid_grant_means_login_needed_and_no_token_served(self):
        self.faults.queue("invalid_grant", count=1)
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 1)
        self.assertIn("xoauth login work", r.stderr)
        # A provider that revokes a grant revokes its access tokens too:
        # the agent hands out none, and says what to do instead.
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertIn("work", r.stderr)
        self.assertIn("login needed", r.stderr)
        self.assertIn("xoauth login work", r.stderr)
        self.assertIn("reauth", self.env.xoauth("list").stdout)


class ConnectionFaults(faultenv.AgentBehindFaults):
    def test_reset_in_the_middle_of_a_reply_is_retried_and_named(self):
        # faults.js sends the head of a token reply and half its body,
        # then a TCP reset: curl reads ECONNRESET.
        self.check_queued_fault("reset", r"connection .*reset")

    def test_tokens_removed_while_a_refresh_is_in_flight_stay_removed(self):
        # faults.js holds the refresh's request 3 s before it lets it
        # through to the provider; the tokens are removed meanwhile. The
        # reply, had it come, would have brought new ones back.
        since = time.time()
        self.faults.queue("slow", count=1, seconds=3, grant_type="refresh_token")
        refresh = subprocess.Popen([xoagent.CLI, "refresh", "work"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=self.env.env)
        self.addCleanup(lambda: refresh.poll() is None and refresh.kill())
        harness.wait_for(lambda: self.refresh_attempts(since), 10, "the held refresh")
        r = self.env.xoauth("remove", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        _, err = refresh.communicate(timeout=30)
        self.assertNotEqual(refresh.returncode, 0, self.env.log())
        self.assertIn(b"removed", err)
        time.sleep(4)  # past the hold, had the transfer gone on
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1, r.stdout + self.env.log())
        self.assertIn("login", r.stderr)
        self.assertIsNone(self.env.proc.poll(), self.env.log())
        self.assertNotIn("token refreshed", self.env.log().split("tokens removed", 1)[1])

    def check_redirect(self, status):
        # The redirect points at another host (localhost, not 127.0.0.1)
        # where a second proxy counts what reaches it: nothing may, since
        # the request carries the refresh token.
        elsewhere = harness.start_faults(self.oidc)
        self.addCleanup(elsewhere.stop)
        target = "http://localhost:%d/token" % elsewhere.port
        doctor = self.check_queued_fault(
            "redirect", r"redirect(s|ed)? .*(refused|not followed)",
            status=status, location=target)
        self.assertIn("localhost", doctor)
        self.assertRegex(doctor, r"token_endpoint")
        self.assertEqual(elsewhere.requests(), [])

    def test_302_to_another_host_is_not_followed(self):
        self.check_redirect(302)

    def test_307_to_another_host_is_not_followed(self):
        self.check_redirect(307)


if __name__ == "__main__":
    unittest.main()
