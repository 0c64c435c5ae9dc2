"""A user's day: log in through the device flow, list, and send mail with
msmtp (passwordeval, XOAUTH2 and OAUTHBEARER) and curl, against the real
provider and an SMTP server that checks every bearer token."""

import base64
import unittest

import harness
import xoagent

EMAIL = "alice@example.com"


class LoginAndSend(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.oidc = harness.start_oidc(at_ttl=60)
        cls.smtp = harness.start_smtp(cls.oidc)
        cls.env = xoagent.AgentEnv(
            xoagent.account_section("work", cls.oidc) +
            xoagent.account_section("other", cls.oidc))
        cls.env.start()
        cls.login = xoagent.login_as_user(cls.env, "work", EMAIL)

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()
        cls.smtp.stop()
        cls.oidc.stop()

    def test_device_login_completes(self):
        self.assertEqual(self.login.returncode, 0,
                         self.login.stderr + self.env.log())
        self.assertIn("logged in", self.login.stderr)

    def test_list_shows_active_account_with_email_from_id_token(self):
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        line = [l for l in r.stdout.splitlines() if l.startswith("work")][0]
        self.assertIn(EMAIL, line)
        self.assertIn("active", line)
        other = [l for l in r.stdout.splitlines() if l.startswith("other")]
        self.assertIn("need-login", other[0])

    def test_token_is_active_at_the_provider(self):
        token = self.env.token("work")
        self.assertTrue(harness.is_access_token_active(self.oidc, token))

    def test_msmtp_xoauth2_with_passwordeval_delivers(self):
        before = len(self.smtp.messages())
        r = harness.run_msmtp(self.smtp.port_xoauth2_only, EMAIL,
                              '"%s token work"' % xoagent.CLI,
                              auth="xoauth2", env=self.env.env)
        self.assertEqual(r.returncode, 0, r.stderr + r.log)
        msgs = self.smtp.wait_messages(before + 1)
        self.assertEqual(msgs[-1]["mechanism"].upper(), "XOAUTH2")
        self.assertEqual(msgs[-1]["user"], EMAIL)

    def test_msmtp_oauthbearer_with_passwordeval_delivers(self):
        before = len(self.smtp.messages())
        r = harness.run_msmtp(self.smtp.port, EMAIL,
                              '"%s token work"' % xoagent.CLI,
                              auth="oauthbearer", env=self.env.env)
        self.assertEqual(r.returncode, 0, r.stderr + r.log)
        msgs = self.smtp.wait_messages(before + 1)
        self.assertEqual(msgs[-1]["mechanism"].upper(), "OAUTHBEARER")

    def test_curl_oauth2_bearer_delivers_over_both_mechanisms(self):
        for port, mech in ((self.smtp.port, "OAUTHBEARER"),
                           (self.smtp.port_xoauth2_only, "XOAUTH2")):
            before = len(self.smtp.messages())
            r = harness.run_curl_smtp(port, EMAIL, self.env.token("work"))
            self.assertEqual(r.returncode, 0, r.stderr + r.log)
            msgs = self.smtp.wait_messages(before + 1)
            self.assertEqual(msgs[-1]["mechanism"].upper(), mech)

    def test_bad_token_is_refused_by_the_server(self):
        r = harness.run_curl_smtp(self.smtp.port_xoauth2_only, EMAIL,
                                  "not-a-token")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("535 5.7.3", r.log)

    def test_xoauth2_and_oauthbearer_strings(self):
        r = self.env.xoauth("xoauth2", "work")
        self.assertEqual(r.returncode, 0, r.stderr)
        raw = base64.b64decode(r.stdout.strip())
        self.assertTrue(raw.startswith(b"user=" + EMAIL.encode() +
                                       b"\x01auth=Bearer "))
        self.assertTrue(raw.endswith(b"\x01\x01"))
        r = self.env.xoauth("oauthbearer", "work", "--host", "smtp.example.com",
                            "--port", "587")
        self.assertEqual(r.returncode, 0, r.stderr)
        raw = base64.b64decode(r.stdout.strip())
        self.assertTrue(raw.startswith(b"n,a=" + EMAIL.encode() +
                                       b",\x01host=smtp.example.com"
                                       b"\x01port=587\x01auth=Bearer "))

    def test_account_named_by_email_address(self):
        self.assertTrue(self.env.token(EMAIL.upper()))

    def test_unknown_account_exits_1_and_says_so(self):
        r = self.env.xoauth("token", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nosuch", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_account_without_login_says_how_to_log_in(self):
        r = self.env.xoauth("token", "other")
        self.assertEqual(r.returncode, 1)
        self.assertIn("xoauth login other", r.stderr)

    def test_no_agent_exits_2(self):
        env = dict(self.env.env)
        env["XOAUTH_AUTH_SOCK"] = self.env.home + "/nothing-here"
        import subprocess
        p = subprocess.run([xoagent.CLI, "token", "work"], env=env,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("nothing-here", p.stderr)


class DeviceFlowOutcomes(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=60)
        self.env = xoagent.AgentEnv(xoagent.account_section("work",
                                                            self.oidc))
        self.env.start()

    def tearDown(self):
        self.env.cleanup()
        self.oidc.stop()

    def test_denied_login_exits_1_with_reason(self):
        import subprocess
        p = subprocess.Popen([xoagent.CLI, "login", "work"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env.env)
        uri = code = None
        while not (uri and code):
            line = p.stderr.readline().decode()
            self.assertTrue(line, "no prompt from xoauth login")
            uri, code = xoagent.parse_login_prompt(line, uri, code)
        harness.deny_device(uri, code, EMAIL)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("denied", err.decode().lower())
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main()
