"""Reading mail over IMAP with the agent's token: the real curl against a
real Dovecot (harness.start_imap()) whose oauth2 passdb asks the real
provider's introspection endpoint about every bearer token."""

import imaplib
import os
import shlex
import shutil
import ssl
import subprocess
import tempfile
import unittest

import harness
import xoagent

EMAIL = "alice@example.com"
SUBJECT = "read over IMAP with a bearer token"


def curl_imap(port, user, token=None, path="/INBOX", env=None, token_cmd=None, timeout=30):
    """Runs the real curl: --url imap://127.0.0.1:PORT/PATH --user USER:
    --oauth2-bearer TOKEN. With token_cmd (a shell command, e.g. "xoauth
    token work") the token comes from "$(token_cmd)" in a shell, as a user
    types it. Returns a harness.Result (returncode 0: logged in and read)."""
    url = "imap://127.0.0.1:%d%s" % (port, path)
    argv = ["curl", "--silent", "--show-error", "--max-time", str(timeout), "--url", url,
            "--user", user + ":"]
    if token_cmd is not None:
        argv = ["sh", "-c", " ".join(shlex.quote(a) for a in argv) +
                ' --oauth2-bearer "$(%s)"' % token_cmd]
    else:
        argv += ["--oauth2-bearer", token]
    try:
        p = subprocess.run(argv, capture_output=True, env=env, timeout=timeout + 5)
    except subprocess.TimeoutExpired as e:
        return harness.Result(None, "", "timeout: %r" % e)
    return harness.Result(p.returncode, p.stdout.decode("utf-8", "replace"),
                          p.stderr.decode("utf-8", "replace"))


# Skipped on a machine set up before Dovecot joined scripts/setup; never in
# CI, where a missing IMAP server must fail the run.
@unittest.skipUnless(harness.dovecot_present() or os.environ.get("CI"),
                     "needs dovecot-core and dovecot-imapd (scripts/setup)")
class ReadMailWithTheAgentsToken(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.oidc = harness.start_oidc(at_ttl=120)
        cls.imap = harness.start_imap(cls.oidc)
        cls.env = xoagent.AgentEnv(xoagent.account_section("work", cls.oidc, email=EMAIL))
        cls.env.start()
        cls.login = xoagent.login_as_user(cls.env, "work", EMAIL)
        if cls.login.returncode != 0:
            raise AssertionError("login failed: %r\n%s" % (cls.login, cls.env.log()))
        cls.imap.deliver(EMAIL, harness.make_message("bob@example.com", EMAIL, subject=SUBJECT))
        cls.cli = shlex.quote(xoagent.CLI)

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()
        cls.imap.stop()
        cls.oidc.stop()

    def login_after(self, before, listener):
        """The login at listener after the `before` ones it had."""
        logins = self.imap.wait_logins(before + 1, listener)
        self.assertEqual(len(logins), before + 1, logins)
        return logins[-1]

    def assert_logged_in(self, r):
        self.assertEqual(r.returncode, 0, "%r\n%s" % (r, self.imap.log()))

    def test_curl_oauthbearer_reads_the_message_in_the_inbox(self):
        before = len(self.imap.logins("both"))
        r = curl_imap(self.imap.port, EMAIL, path="/INBOX;UID=1", env=self.env.env,
                      token_cmd="%s token work" % self.cli)
        self.assert_logged_in(r)
        self.assertIn("Subject: " + SUBJECT, r.stdout)
        # Debian 12's curl takes OAUTHBEARER where it is offered.
        self.assertEqual(self.login_after(before, "both"),
                         {"user": EMAIL, "method": "OAUTHBEARER", "ok": True})

    def test_curl_xoauth2_selects_the_inbox(self):
        # "?ALL" makes curl SELECT INBOX and SEARCH ALL.
        before = len(self.imap.logins("xoauth2_only"))
        r = curl_imap(self.imap.port_xoauth2_only, EMAIL, path="/INBOX?ALL", env=self.env.env,
                      token_cmd="%s token work" % self.cli)
        self.assert_logged_in(r)
        self.assertRegex(r.stdout, r"(?m)^\* SEARCH 1\s*$")
        self.assertEqual(self.login_after(before, "xoauth2_only"),
                         {"user": EMAIL, "method": "XOAUTH2", "ok": True})

    def test_both_servers_serve_the_same_mailbox(self):
        for port in (self.imap.port, self.imap.port_xoauth2_only):
            r = curl_imap(port, EMAIL, self.env.token("work"), path="/INBOX;UID=1")
            self.assert_logged_in(r)
            self.assertIn(SUBJECT, r.stdout)

    def test_bad_token_is_refused(self):
        # With OAUTHBEARER curl answers the server's error challenge and
        # gets the refusal; with XOAUTH2 Debian 12's curl hangs up on the
        # challenge, so Dovecot never learns the user name for its log.
        for listener, port, method, user in (
                ("both", self.imap.port, "OAUTHBEARER", EMAIL),
                ("xoauth2_only", self.imap.port_xoauth2_only, "XOAUTH2", "")):
            before = len(self.imap.logins(listener))
            r = curl_imap(port, EMAIL, "not-a-token-the-provider-issued", path="/INBOX;UID=1")
            self.assertEqual(r.returncode, 67, r)  # CURLE_LOGIN_DENIED
            self.assertNotIn(SUBJECT, r.stdout)
            self.assertEqual(self.login_after(before, listener),
                             {"user": user, "method": method, "ok": False})

    def test_token_of_another_user_is_refused(self):
        before = len(self.imap.logins("both"))
        r = curl_imap(self.imap.port, "bob@example.com", self.env.token("work"))
        self.assertEqual(r.returncode, 67, r)
        self.assertEqual(self.login_after(before, "both"),
                         {"user": "bob@example.com", "method": "OAUTHBEARER", "ok": False})

    def test_refresh_token_is_not_a_bearer_token(self):
        tokens = harness.get_tokens_by_device(self.oidc, EMAIL)
        before = len(self.imap.logins("xoauth2_only"))
        r = curl_imap(self.imap.port_xoauth2_only, EMAIL, tokens["refresh_token"])
        self.assertEqual(r.returncode, 67, r)
        self.assertFalse(self.login_after(before, "xoauth2_only")["ok"])
        # The access token of that same login is good.
        r = curl_imap(self.imap.port_xoauth2_only, EMAIL, tokens["access_token"])
        self.assert_logged_in(r)

    def test_failures_are_answered_at_once(self):
        # Dovecot's auth penalty is off: a run of failures from 127.0.0.1
        # is not slowed down (it would take 2 + 4 + 8 s).
        # (OAUTHBEARER: curl waits for the refusal, which counts.)
        for _ in range(4):
            r = curl_imap(self.imap.port, EMAIL, "bad", timeout=2)
            self.assertEqual(r.returncode, 67, r)


@unittest.skipUnless(harness.dovecot_present() or os.environ.get("CI"),
                     "needs dovecot-core and dovecot-imapd (scripts/setup)")
class ImapOverTls(unittest.TestCase):
    """start_imap(tls=...): STARTTLS on the port, IMAPS on another, under
    the CA of make_tls(); logins(tls=True) tells them from clear text."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="xo-imap-tls-")
        cls.tls = harness.make_tls(cls.tmp)
        cls.oidc = harness.start_oidc(at_ttl=120)
        cls.imap = harness.start_imap(cls.oidc, tls=cls.tls)
        cls.token = harness.get_tokens_by_device(cls.oidc, EMAIL)["access_token"]
        cls.ctx = ssl.create_default_context(cafile=cls.tls.ca)

    @classmethod
    def tearDownClass(cls):
        cls.imap.stop()
        cls.oidc.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def login(self, c):
        xoauth2 = "user=%s\x01auth=Bearer %s\x01\x01" % (EMAIL, self.token)
        self.assertEqual(c.authenticate("XOAUTH2", lambda _: xoauth2)[0], "OK")
        c.logout()

    def test_starttls_imaps_and_clear_text_logins_are_told_apart(self):
        before = len(self.imap.logins("both"))
        c = imaplib.IMAP4("localhost", self.imap.port)
        self.assertIn("STARTTLS", c.capabilities)
        c.starttls(ssl_context=self.ctx)
        self.login(c)
        for host in ("localhost", "127.0.0.1"):     # the certificate names both
            self.login(imaplib.IMAP4_SSL(host, self.imap.port_imaps, ssl_context=self.ctx))
        self.login(imaplib.IMAP4("127.0.0.1", self.imap.port))
        logins = self.imap.wait_logins(before + 4, "both", tls=True)[before:]
        self.assertEqual([(x["method"], x["ok"], x["tls"]) for x in logins],
                         [("XOAUTH2", True, True)] * 3 + [("XOAUTH2", True, False)])

    def test_the_xoauth2_only_server_has_imaps_too(self):
        c = imaplib.IMAP4_SSL("localhost", self.imap.xoauth2_only.port_imaps,
                              ssl_context=self.ctx)
        self.assertNotIn("AUTH=OAUTHBEARER", c.capabilities)
        self.login(c)


if __name__ == "__main__":
    unittest.main()
