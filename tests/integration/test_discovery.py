"""Endpoints from the issuer (OpenID Connect Discovery / RFC 8414) and the
address from the id_token, end to end: an account with only `provider =
generic`, `issuer` and `client_id` signs in with the device flow and sends
mail through msmtp, against the real provider's
/.well-known/openid-configuration."""

import socket
import subprocess
import time
import unittest

import harness
import xoagent

FILE_EMAIL = "disco@example.com"


def issuer_only(name, issuer, client_id=harness.CLIENT_ID):
    return ("[account %s]\nprovider = generic\nissuer = %s\n"
            "client_id = %s\n" % (name, issuer, client_id))


def free_port():
    """A port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Discovery(xoagent.ClassWithServers):
    @classmethod
    def setUpClass(cls):
        cls.oidc = harness.start_oidc(at_ttl=60)
        cls.smtp = harness.start_smtp(cls.oidc)
        cls.env = xoagent.AgentEnv(issuer_only("disco", cls.oidc.issuer))
        cls.env.start()

    def send(self, account, user):
        before = len(self.smtp.messages())
        r = harness.run_msmtp(self.smtp.port_xoauth2_only, user,
                              '"%s token %s"' % (xoagent.CLI, account),
                              auth="xoauth2", env=self.env.env)
        self.assertEqual(r.returncode, 0, r.stderr + r.log + self.env.log())
        msgs = self.smtp.wait_messages(before + 1)
        self.assertEqual(msgs[-1]["user"], user)

    def add(self, name, issuer):
        return self.env.xoauth("add", name, "--provider", "generic",
                               "--issuer", issuer, "--client-id",
                               harness.CLIENT_ID)

    def login_fails(self, name):
        r = self.env.xoauth("login", name, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        return r.stderr

    def test_config_account_with_only_an_issuer_logs_in_and_sends(self):
        r = xoagent.login_as_user(self.env, "disco", FILE_EMAIL)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        # The address came from the id_token: the file gives none.
        line = [l for l in self.env.xoauth("list").stdout.splitlines()
                if l.startswith("disco ")][0]
        self.assertIn(FILE_EMAIL, line)
        self.send("disco", FILE_EMAIL)
        # The scopes asked for came from scopes_supported.
        self.assertIn("asking for 'openid email offline_access'",
                      self.env.log())
        # And the refresh token it got works.
        self.assertEqual(self.env.xoauth("refresh", "disco").returncode, 0)

    def test_runtime_account_with_only_an_issuer_logs_in_and_sends(self):
        p = subprocess.Popen([xoagent.CLI, "add", "rdisc", "--provider",
                              "generic", "--issuer", self.oidc.issuer + "/",
                              "--client-id", harness.CLIENT_ID, "--login"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env.env)
        uri = code = None
        text = ""
        while not (uri and code):
            line = p.stderr.readline().decode()
            self.assertTrue(line, text + self.env.log())
            text += line
            uri, code = xoagent.parse_login_prompt(line, uri, code)
        harness.approve_device(uri, code, "rdisc@example.com")
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, text + err.decode())
        self.send("rdisc", "rdisc@example.com")
        # And by its learned address.
        self.assertTrue(self.env.token("rdisc@example.com"))

    def test_issuer_whose_document_names_another_issuer_is_refused(self):
        # Same server, other name: its document says 127.0.0.1.
        wrong = self.oidc.issuer.replace("127.0.0.1", "localhost")
        self.assertEqual(self.add("wrong", wrong).returncode, 0)
        err = self.login_fails("wrong")
        self.assertIn("the discovery document is for another issuer than "
                      "the configured " + wrong, err)
        self.assertIn("check issuer", err)

    def test_unreachable_issuer_is_a_clear_error(self):
        url = "http://127.0.0.1:%d" % free_port()
        self.assertEqual(self.add("unreach", url).returncode, 0)
        err = self.login_fails("unreach")
        self.assertIn("discovery at %s/.well-known/openid-configuration "
                      "failed" % url, err)

    def test_issuer_without_a_discovery_document_is_a_clear_error(self):
        url = self.oidc.issuer + "/nothing-here"
        self.assertEqual(self.add("nodoc", url).returncode, 0)
        err = self.login_fails("nodoc")
        self.assertIn("no discovery document for issuer " + url, err)
        self.assertIn("HTTP 404", err)

    def test_slow_issuer_blocks_no_one_and_delete_cancels_it(self):
        # A server that accepts connections and never answers.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        try:
            url = "http://127.0.0.1:%d" % silent.getsockname()[1]
            self.assertEqual(self.add("slow", url).returncode, 0)
            p = subprocess.Popen([xoagent.CLI, "login", "slow"],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=self.env.env)
            harness.wait_for(lambda: "discovery: GET " + url
                             in self.env.log(), 10, "discovery to start")
            t = time.monotonic()
            r = self.env.xoauth("list")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertLess(time.monotonic() - t, 2.0)
            self.assertIn("login-pending", [l for l in r.stdout.splitlines()
                                            if l.startswith("slow ")][0])
            r = self.env.xoauth("delete", "slow")
            self.assertEqual(r.returncode, 0, r.stderr)
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 1, err)
            self.assertIn("slow", err.decode())
        finally:
            silent.close()


if __name__ == "__main__":
    unittest.main()
