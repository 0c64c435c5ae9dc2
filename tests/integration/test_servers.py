"""The test servers themselves work, without the C agent: the OpenID provider
(device flow, offline_access, rotation, introspection, short tokens), the
SMTP server (XOAUTH2 and OAUTHBEARER checked by introspection, real msmtp
and curl; STARTTLS and SMTPS when asked), and every fault of our fault
injector.

Run from the top of the tree, after `cd tests/servers && npm ci`:
    python3 -m unittest tests/integration/test_servers.py -v
"""

import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ALICE = "alice@example.com"


# One provider, SMTP server and fault injector for the whole module: node
# takes a second or two to start each.
_servers = {}


def setUpModule():
    if not h.node_modules_present():
        raise RuntimeError("the test servers' npm packages are missing: "
                           "run `cd tests/servers && npm ci`")
    for tool in ("node", "msmtp", "curl"):
        if not shutil.which(tool):
            raise RuntimeError("%s is not installed" % tool)
    _servers["tmp"] = tempfile.mkdtemp(prefix="xo-test-servers-")
    _servers["oidc"] = h.start_oidc(at_ttl=30)
    _servers["smtp"] = h.start_smtp(_servers["oidc"])
    _servers["faults"] = h.start_faults(_servers["oidc"])


def tearDownModule():
    for name in ("faults", "smtp", "oidc"):
        if name in _servers:
            _servers.pop(name).stop()
    shutil.rmtree(_servers.pop("tmp", "/nonexistent"), ignore_errors=True)


class ServersTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.oidc = _servers["oidc"]
        cls.smtp = _servers["smtp"]
        cls.faults = _servers["faults"]
        cls.tmp = _servers["tmp"]

    def tokens(self, email=ALICE, **kw):
        return h.get_tokens_by_device(self.oidc, email, **kw)

    def token_command(self, token):
        """A passwordeval command printing `token`, as `xoauth token` would."""
        fd, path = tempfile.mkstemp(dir=self.tmp)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return '"cat %s"' % path

    def delivered_since(self, n):
        return self.smtp.wait_messages(n + 1)[n:]


class ProviderTest(ServersTestCase):

    def test_device_login_gives_access_and_refresh_token_with_offline_access(self):
        dev = h.device_authorize(self.oidc)
        self.assertNotIn("interval", dev, "oidc-provider sends no interval (RFC 8628 default 5 s)")
        self.assertTrue(dev["verification_uri"].startswith(self.oidc.issuer))
        status, body = h.poll_device_token(self.oidc, dev["device_code"], timeout=0.1)
        self.assertEqual((status, body.get("error")), (400, "authorization_pending"))
        h.approve_device(dev["verification_uri"], dev["user_code"], ALICE)
        status, tok = h.poll_device_token(self.oidc, dev["device_code"])
        self.assertEqual(status, 200, tok)
        self.assertIn("offline_access", tok["scope"].split())
        self.assertIn(h.MAIL_SCOPE, tok["scope"].split())
        self.assertTrue(tok.get("refresh_token"))
        self.assertEqual(tok["expires_in"], 30)
        info = h.introspect(self.oidc, tok["access_token"])
        self.assertTrue(info["active"])
        self.assertEqual((info["sub"], info["email"], info["token_type"]), (ALICE, ALICE, "Bearer"))
        # A device code is good for one token only.
        status, body = h.poll_device_token(self.oidc, dev["device_code"])
        self.assertEqual((status, body.get("error")), (400, "invalid_grant"))

    def test_device_interval_can_be_added(self):
        with h.start_oidc(device_interval=1) as o:
            self.assertEqual(h.device_authorize(o)["interval"], 1)

    def test_denied_device_login_gets_access_denied(self):
        for at in ("confirm", "consent"):
            dev = h.device_authorize(self.oidc)
            h.deny_device(dev["verification_uri"], dev["user_code"], ALICE, at=at)
            status, body = h.poll_device_token(self.oidc, dev["device_code"])
            self.assertEqual((status, body.get("error")), (400, "access_denied"), at)

    def test_wrong_user_code_is_refused(self):
        dev = h.device_authorize(self.oidc)
        with self.assertRaises(h.DeviceLoginError):
            h.approve_device(dev["verification_uri"], "BBBB-CCCC", ALICE)

    def test_client_without_refresh_grant_gets_no_refresh_token(self):
        tok = self.tokens(client_id=h.CLIENT_NOREFRESH, scope="openid email " + h.MAIL_SCOPE)
        self.assertNotIn("refresh_token", tok)

    def test_refresh_token_rotates_and_the_old_one_is_refused(self):
        tok = self.tokens()
        old = tok["refresh_token"]
        status, new = h.refresh_token_grant(self.oidc, old)
        self.assertEqual(status, 200, new)
        self.assertNotEqual(new["refresh_token"], old)
        self.assertNotEqual(new["access_token"], tok["access_token"])
        self.assertIn("offline_access", new["scope"].split())
        # Checked without side effects...
        self.assertFalse(h.is_refresh_token_active(self.oidc, old))
        self.assertTrue(h.is_refresh_token_active(self.oidc, new["refresh_token"]))
        # ...and for real: reuse is invalid_grant and revokes the whole grant.
        status, body = h.refresh_token_grant(self.oidc, old)
        self.assertEqual((status, body.get("error")), (400, "invalid_grant"))
        self.assertFalse(h.is_refresh_token_active(self.oidc, new["refresh_token"]))
        status, body = h.refresh_token_grant(self.oidc, new["refresh_token"])
        self.assertEqual((status, body.get("error")), (400, "invalid_grant"))

    def test_access_tokens_expire_after_the_configured_lifetime(self):
        ttl = 2

        def assert_active_while_young(born, token):
            # A loaded machine may take longer than the lifetime to ask;
            # only a token still young must be active (born is taken
            # just after the reply, so a young token is never misjudged
            # by more than the reply's own latency).
            active = h.is_access_token_active(o, token)
            self.assertTrue(active or time.monotonic() - born >= ttl,
                            "a fresh access token is not active")

        with h.start_oidc(at_ttl=ttl) as o:
            tok = h.get_tokens_by_device(o, ALICE)
            born = time.monotonic()
            self.assertEqual(tok["expires_in"], ttl)
            assert_active_while_young(born, tok["access_token"])
            h.wait_for(lambda: not h.is_access_token_active(o, tok["access_token"]),
                       ttl + 4, "the access token to expire")
            status, new = h.refresh_token_grant(o, tok["refresh_token"])
            born = time.monotonic()
            self.assertEqual(status, 200, new)
            assert_active_while_young(born, new["access_token"])

    def test_client_credentials_gives_an_app_token(self):
        status, body = h.client_credentials_grant(self.oidc)
        self.assertEqual(status, 200, body)
        info = h.introspect(self.oidc, body["access_token"])
        self.assertTrue(info["active"])
        self.assertNotIn("sub", info)
        self.assertEqual(info["client_id"], h.APP_CLIENT[0])


class SmtpTest(ServersTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = h.get_tokens_by_device(cls.oidc, ALICE)

    def send_msmtp(self, port, auth, token, user=ALICE):
        return h.run_msmtp(port, user, self.token_command(token), auth=auth,
                           subject="via msmtp %s" % auth)

    def test_msmtp_xoauth2_delivers_on_the_xoauth2_only_port(self):
        n = len(self.smtp.messages())
        r = self.send_msmtp(self.smtp.port_xoauth2_only, "xoauth2", self.tok["access_token"])
        self.assertEqual(r.returncode, 0, r)
        (m,) = self.delivered_since(n)
        self.assertEqual((m["user"], m["mechanism"], m["listener"]), (ALICE, "XOAUTH2", "xoauth2_only"))
        self.assertEqual(m["rcpt_to"], ["bob@example.com"])
        self.assertIn("Subject: via msmtp xoauth2", m["data"])

    def test_msmtp_oauthbearer_delivers(self):
        n = len(self.smtp.messages())
        r = self.send_msmtp(self.smtp.port, "oauthbearer", self.tok["access_token"])
        self.assertEqual(r.returncode, 0, r)
        (m,) = self.delivered_since(n)
        self.assertEqual((m["user"], m["mechanism"], m["listener"]), (ALICE, "OAUTHBEARER", "both"))

    def test_curl_oauth2_bearer_delivers(self):
        for port, mech in ((self.smtp.port, "OAUTHBEARER"), (self.smtp.port_xoauth2_only, "XOAUTH2")):
            n = len(self.smtp.messages())
            r = h.run_curl_smtp(port, ALICE, self.tok["access_token"])
            self.assertEqual(r.returncode, 0, r)
            (m,) = self.delivered_since(n)
            self.assertEqual((m["user"], m["mechanism"]), (ALICE, mech))

    def test_bad_token_gets_535_5_7_3(self):
        for port, auth in ((self.smtp.port_xoauth2_only, "xoauth2"), (self.smtp.port, "oauthbearer")):
            r = self.send_msmtp(port, auth, "not-a-token")
            self.assertNotEqual(r.returncode, 0, r)
            self.assertIn("535 5.7.3 Authentication unsuccessful", r.stderr, auth)
        r = h.run_curl_smtp(self.smtp.port, ALICE, "not-a-token")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("535 5.7.3 Authentication unsuccessful", r.log)
        last = self.smtp.auth_attempts()[-1]
        self.assertEqual((last["ok"], last["reason"]), (False, "token not active"))

    def test_oauthbearer_follows_rfc_7628_without_initial_response(self):
        # AUTH OAUTHBEARER alone gets an empty 334; a refused token gets the
        # error challenge (334 + base64 JSON), the client's ^A, then the 535.
        def attempt(token):
            seen = []

            def respond(challenge=None):
                seen.append(challenge)
                if len(seen) == 1:
                    return "n,a=%s,\x01host=127.0.0.1\x01port=%d\x01auth=Bearer %s\x01\x01" % (
                        ALICE, self.smtp.port, token)
                return "\x01"
            with smtplib.SMTP("127.0.0.1", self.smtp.port, timeout=10) as c:
                c.ehlo()
                self.assertEqual(c.esmtp_features["auth"].split(), ["XOAUTH2", "OAUTHBEARER"])
                try:
                    return c.auth("OAUTHBEARER", respond, initial_response_ok=False), seen
                except smtplib.SMTPAuthenticationError as e:
                    return (e.smtp_code, e.smtp_error), seen
        self.assertEqual(attempt(self.tok["access_token"]), ((235, b"Authentication successful"), [b""]))
        reply, seen = attempt("not-a-token")
        self.assertEqual(reply, (535, b"5.7.3 Authentication unsuccessful"))
        self.assertEqual(json.loads(seen[1])["status"], "invalid_token")
        with smtplib.SMTP("127.0.0.1", self.smtp.port_xoauth2_only, timeout=10) as c:
            c.ehlo()
            self.assertEqual(c.esmtp_features["auth"].split(), ["XOAUTH2"])
            self.assertEqual(c.docmd("AUTH OAUTHBEARER")[0], 504)

    def test_token_of_another_user_and_refresh_token_are_refused(self):
        r = self.send_msmtp(self.smtp.port_xoauth2_only, "xoauth2", self.tok["access_token"],
                            user="mallory@example.com")
        self.assertIn("535 5.7.3", r.stderr)
        r = self.send_msmtp(self.smtp.port_xoauth2_only, "xoauth2", self.tok["refresh_token"])
        self.assertIn("535 5.7.3", r.stderr)
        reasons = [a["reason"] for a in self.smtp.auth_attempts()[-2:]]
        self.assertIn("not mallory@example.com", reasons[0])
        self.assertIn("not an access token", reasons[1])

    def test_app_token_sends_as_any_user(self):
        status, body = h.client_credentials_grant(self.oidc)
        self.assertEqual(status, 200, body)
        r = self.send_msmtp(self.smtp.port_xoauth2_only, "xoauth2", body["access_token"],
                            user="shared@example.com")
        self.assertEqual(r.returncode, 0, r)

    def test_forced_auth_reply(self):
        reply = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
                 "is disabled for the Tenant")
        with h.start_smtp(self.oidc, auth_reply=reply) as s:
            r = self.send_msmtp(s.port_xoauth2_only, "xoauth2", self.tok["access_token"])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(reply, r.stderr)
            self.assertEqual(s.messages(), [])


class SmtpTlsTest(ServersTestCase):
    """start_smtp(tls=...): STARTTLS on both ports, SMTPS on a third, under
    the CA of make_tls(); what came over TLS is recorded as such."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = h.get_tokens_by_device(cls.oidc, ALICE)
        cls.tls = h.make_tls(tempfile.mkdtemp(dir=cls.tmp))
        cls.tls_smtp = h.start_smtp(cls.oidc, tls=cls.tls)
        cls.ctx = ssl.create_default_context(cafile=cls.tls.ca)

    @classmethod
    def tearDownClass(cls):
        cls.tls_smtp.stop()

    def send(self, c, subject):
        c.ehlo()
        xoauth2 = "user=%s\x01auth=Bearer %s\x01\x01" % (ALICE, self.tok["access_token"])
        self.assertEqual(c.auth("XOAUTH2", lambda challenge=None: xoauth2)[0], 235)
        c.sendmail(ALICE, ["bob@example.com"], "Subject: %s\r\n\r\nHello.\r\n" % subject)

    def test_starttls_and_smtps_deliver_and_say_so(self):
        n, a = len(self.tls_smtp.messages()), len(self.tls_smtp.auth_attempts())
        with smtplib.SMTP("localhost", self.tls_smtp.port, timeout=10) as c:
            c.ehlo()
            self.assertTrue(c.has_extn("starttls"))
            c.starttls(context=self.ctx)
            self.send(c, "after STARTTLS")
        for host in ("localhost", "127.0.0.1"):     # the certificate names both
            with smtplib.SMTP_SSL(host, self.tls_smtp.port_smtps, context=self.ctx,
                                  timeout=10) as c:
                self.send(c, "over SMTPS to %s" % host)
        got = [(m["listener"], m["tls"], m["mechanism"]) for m in self.tls_smtp.messages()[n:]]
        self.assertEqual(got, [("both", True, "XOAUTH2"), ("smtps", True, "XOAUTH2"),
                               ("smtps", True, "XOAUTH2")])
        self.assertEqual([x["tls"] for x in self.tls_smtp.auth_attempts()[a:]], [True] * 3)

    def test_clear_text_auth_is_still_taken_and_recorded_as_such(self):
        n = len(self.tls_smtp.messages())
        with smtplib.SMTP("127.0.0.1", self.tls_smtp.port_xoauth2_only, timeout=10) as c:
            self.send(c, "in clear text")
        (m,) = self.tls_smtp.messages()[n:]
        self.assertEqual((m["listener"], m["tls"]), ("xoauth2_only", False))

    def test_without_tls_there_is_no_starttls_and_no_smtps(self):
        self.assertIsNone(self.smtp.port_smtps)
        with smtplib.SMTP("127.0.0.1", self.smtp.port, timeout=10) as c:
            c.ehlo()
            self.assertFalse(c.has_extn("starttls"))


class FaultsTest(ServersTestCase):

    def setUp(self):
        self.faults.reset()

    def app_token(self, timeout=10):
        return h.post_form(self.faults.token_endpoint, {
            "grant_type": "client_credentials", "client_id": h.APP_CLIENT[0],
            "client_secret": h.APP_CLIENT[1], "scope": h.MAIL_SCOPE}, timeout=timeout)

    def test_without_a_fault_the_real_reply_passes(self):
        tok = self.tokens()
        status, new = h.refresh_token_grant(self.faults, tok["refresh_token"])
        self.assertEqual(status, 200, new)
        self.assertTrue(h.is_access_token_active(self.oidc, new["access_token"]))
        self.assertFalse(h.is_refresh_token_active(self.oidc, tok["refresh_token"]))
        (req,) = self.faults.requests()
        self.assertEqual((req["grant_type"], req["fault"], req["status"]), ("refresh_token", None, 200))
        self.assertNotIn(tok["refresh_token"], repr(self.faults.requests()))

    def test_http_errors(self):
        self.faults.queue("500")
        self.faults.queue("503", retry_after=7)
        self.faults.queue("429", retry_after=3)
        self.faults.queue("invalid_grant")
        s, hd, _ = h.http_request(self.faults.token_endpoint, "POST", b"grant_type=refresh_token")
        self.assertEqual(s, 500)
        s, hd, _ = h.http_request(self.faults.token_endpoint, "POST", b"grant_type=refresh_token")
        self.assertEqual((s, hd["Retry-After"]), (503, "7"))
        s, hd, _ = h.http_request(self.faults.token_endpoint, "POST", b"grant_type=refresh_token")
        self.assertEqual((s, hd["Retry-After"]), (429, "3"))
        s, body = self.app_token()
        self.assertEqual((s, body["error"]), (400, "invalid_grant"))
        s, body = self.app_token()
        self.assertEqual(s, 200, body)
        self.assertEqual([r["fault"] for r in self.faults.requests()],
                         ["500", "503", "429", "invalid_grant", None])

    def test_count_and_grant_type_filter(self):
        self.faults.queue("500", count=2, grant_type="refresh_token")
        self.assertEqual(self.app_token()[0], 200)
        for _ in range(2):
            s, _ = h.post_form(self.faults.token_endpoint, {"grant_type": "refresh_token",
                                                            "refresh_token": "x", "client_id": h.CLIENT_ID})
            self.assertEqual(s, 500)
        s, body = h.post_form(self.faults.token_endpoint, {"grant_type": "refresh_token",
                                                           "refresh_token": "x", "client_id": h.CLIENT_ID})
        self.assertEqual((s, body["error"]), (400, "invalid_grant"))  # the real provider's answer
        self.assertEqual(self.faults.queued(), [])
        self.faults.queue("503", count=-1)
        for _ in range(3):
            self.assertEqual(self.app_token()[0], 503)
        self.faults.reset()
        self.assertEqual(self.app_token()[0], 200)

    def test_malformed_and_huge(self):
        self.faults.queue("malformed")
        s, body = self.app_token()
        self.assertEqual(s, 200)
        self.assertIsInstance(body, str)  # not parseable JSON
        self.faults.queue("huge", bytes=6 * 1024 * 1024)
        s, hd, body = h.http_request(self.faults.token_endpoint, "POST", b"grant_type=refresh_token")
        self.assertEqual(s, 200)
        self.assertEqual(int(hd["Content-Length"]), 6 * 1024 * 1024)
        self.assertGreater(len(body["padding"]), 6 * 1024 * 1024 - 100)

    def test_timeout_holds_the_request(self):
        self.faults.queue("timeout", seconds=30)
        t0 = time.monotonic()
        with self.assertRaises((TimeoutError, socket.timeout, urllib.error.URLError)):
            self.app_token(timeout=1)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        (req,) = self.faults.requests()
        self.assertEqual((req["fault"], req["status"], req["done"]), ("timeout", None, None))

    def test_slow_answers_late_with_the_real_reply(self):
        self.faults.queue("slow", seconds=1)
        t0 = time.monotonic()
        s, body = self.app_token()
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        self.assertEqual(s, 200, body)
        self.assertTrue(h.is_access_token_active(self.oidc, body["access_token"]))
        (req,) = self.faults.requests()
        self.assertGreaterEqual(req["done"] - req["time"], 1.0)

    def test_close_drops_the_connection(self):
        self.faults.queue("close")
        with self.assertRaises((urllib.error.URLError, ConnectionError, OSError)):
            self.app_token()

    def test_custom_reply(self):
        self.faults.queue("custom", status=401, body={"error": "invalid_client",
                                                      "error_description": "AADSTS7000218"})
        s, body = self.app_token()
        self.assertEqual((s, body["error"]), (401, "invalid_client"))

    def test_unknown_kind_is_refused(self):
        with self.assertRaises(h.HarnessError):
            self.faults.queue("meteor")

    def raw_token_request(self, timeout=5):
        """A token request on a raw socket: what came back before the
        connection ended, and how it ended (None: closed, or the
        exception)."""
        port = self.faults.port
        body = b"grant_type=client_credentials"
        req = (b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
               b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
               % (len(body), body))
        got, end = b"", None
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
            c.sendall(req)
            try:
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except (OSError, socket.timeout) as e:
                end = e
        return got, end

    def test_reset_sends_half_a_reply_then_a_tcp_reset(self):
        self.faults.queue("reset")
        got, end = self.raw_token_request()
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got)
        self.assertIn(b'{"access_token":', got)
        self.assertIsInstance(end, ConnectionResetError)
        # It never reached the provider.
        (req,) = self.faults.requests()
        self.assertEqual((req["fault"], req["status"]), ("reset", None))

    def test_stall_sends_half_a_reply_then_nothing(self):
        self.faults.queue("stall", seconds=30)
        t0 = time.monotonic()
        got, end = self.raw_token_request(timeout=1.5)
        self.assertIsInstance(end, socket.timeout)
        self.assertGreaterEqual(time.monotonic() - t0, 1.4)
        self.assertIn(b"Content-Length: 400", got.replace(b"content-length", b"Content-Length"))
        # Our hang-up is seen.
        req = h.wait_for(lambda: [r for r in self.faults.requests() if r["closed"]], 5,
                         "the closed connection")[0]
        self.assertEqual(req["fault"], "stall")
        self.assertIsNone(req["done"])

    def test_redirect_points_elsewhere(self):
        self.faults.queue("redirect", status=307, location="http://localhost:9/token")
        s, hd, _ = h.http_request(self.faults.token_endpoint, "POST", b"grant_type=refresh_token",
                                  follow=False)
        self.assertEqual((s, hd["Location"]), (307, "http://localhost:9/token"))

    def test_rewrite_changes_the_real_reply(self):
        self.faults.queue("rewrite", set={"expires_in": 0}, unset=["scope"])
        s, body = self.app_token()
        self.assertEqual(s, 200, body)
        self.assertEqual(body["expires_in"], 0)
        self.assertNotIn("scope", body)
        self.assertTrue(h.is_access_token_active(self.oidc, body["access_token"]))


class FaultsOverTls(ServersTestCase):
    """faults.js with --tls-cert: HTTPS on the token endpoint with the test
    CA's certificates (harness.TestCA), swapped at run time, and a plain control
    port."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = h.TestCA(tempfile.mkdtemp(dir=cls.tmp))
        cls.good = cls.ca.issue("good")
        cls.expired = cls.ca.issue("expired", expired=True)
        cls.other = cls.ca.issue("other", names=["DNS:wrong.example"])
        cls.tls = h.start_faults(cls.oidc, tls=(cls.good.cert, cls.good.key))

    @classmethod
    def tearDownClass(cls):
        cls.tls.stop()

    def curl(self):
        p = subprocess.run(["curl", "-sS", "--cacert", self.ca.cert, "--data",
                            "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=%s"
                            % (h.APP_CLIENT[0], h.APP_CLIENT[1], h.MAIL_SCOPE),
                            "https://localhost:%d/token" % self.tls.port],
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def test_certificates_are_swapped_and_connections_counted(self):
        self.assertTrue(self.tls.tls)
        self.assertTrue(self.tls.url.startswith("http://"))
        self.tls.reset()
        rc, out, err = self.curl()
        self.assertEqual(rc, 0, err)
        self.assertIn("access_token", out)
        try:
            self.tls.use_certificate(self.expired.cert, self.expired.key)
            rc, _, err = self.curl()
            self.assertEqual(rc, 60, err)
            self.assertIn("expired", err)
            self.tls.use_certificate(self.other.cert, self.other.key)
            rc, _, err = self.curl()
            self.assertEqual(rc, 60, err)
            self.assertRegex(err, r"(?i)certificate.*(host ?name|match)")
        finally:
            self.tls.use_certificate(self.good.cert, self.good.key)
        # Three connections; two never became requests.
        self.assertEqual(len(self.tls.connections()), 3)
        self.assertEqual(len(self.tls.requests()), 1)


if __name__ == "__main__":
    unittest.main()
