"""The browser flow end to end: `xoauth login` prints the authorization
URL, a real headless chromium signs in and consents at the real provider,
the provider sends the browser to the agent's loopback listener, and the
agent exchanges the code (PKCE) and holds the tokens, which msmtp then uses.
Also: what a hostile or clumsy client of the listener gets (wrong state,
replayed code, oversized and slow requests, other paths and methods), and
that none of it stalls the agent or costs the user the login."""

import os
import socket
import stat
import subprocess
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import harness
import xoagent

EMAIL = "bianca@example.com"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser_section(name, oidc, extra=()):
    return xoagent.account_section(
        name, oidc, email=EMAIL,
        extra=["authorization_endpoint = %s" % oidc.authorization_endpoint] + list(extra)
    ).replace("flow = device", "flow = browser")


def get(url, timeout=10):
    """(status, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


class BrowserLogin:
    """`xoauth login NAME ...` running; url is the address it printed."""

    def __init__(self, env, name, *args, extra_env=None):
        e = dict(env.env, **(extra_env or {}))
        self.p = subprocess.Popen([xoagent.CLI, "login", name] + list(args),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=e)
        self.err = []
        self.url = self.wait_for("http").strip()
        self.wait_for("Waiting for the browser")
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.url).query))
        self.state = q["state"]
        self.redirect_uri = q["redirect_uri"]

    def wait_for(self, needle, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.p.stderr.readline().decode()
            if not line:
                break
            self.err.append(line)
            if needle in line:
                return line
        raise AssertionError("no %r from xoauth login: %r" % (needle, "".join(self.err)))

    def callback(self, **params):
        return self.redirect_uri + "?" + urllib.parse.urlencode(params)

    def finish(self, timeout=30):
        out, err = self.p.communicate(timeout=timeout)
        return harness.Result(self.p.returncode, out.decode(),
                              "".join(self.err) + err.decode(), "")


# Skipped on a machine set up before chromium joined scripts/setup; never in
# CI, where a missing browser must fail the run.
@unittest.skipUnless(harness.chromium_present() or os.environ.get("CI"),
                     "needs /usr/bin/chromium and playwright-core (scripts/setup)")
class BrowserFlow(xoagent.ClassWithServers):
    @classmethod
    def setUpClass(cls):
        cls.oidc = harness.start_oidc(at_ttl=60)
        cls.smtp = harness.start_smtp(cls.oidc)
        cls.fixed_port = free_port()
        cls.env = xoagent.AgentEnv(
            xoagent.account_section("web", cls.oidc, email=EMAIL,
                                    extra=["authorization_endpoint = %s"
                                           % cls.oidc.authorization_endpoint]) +
            browser_section("opener", cls.oidc) +
            browser_section("state", cls.oidc) +
            browser_section("fixed", cls.oidc,
                            ["redirect_port = %d" % cls.fixed_port]) +
            browser_section("hostile", cls.oidc) +
            browser_section("denied", cls.oidc))
        cls.env.start()

    def test_browser_login_then_msmtp_delivers(self):
        # The account's own flow is device; --flow picks the browser.
        login = BrowserLogin(self.env, "web", "--flow", "browser", "--no-browser")
        self.assertRegex(login.redirect_uri, r"^http://127\.0\.0\.1:\d+/$")
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(login.url).query))
        self.assertEqual(q["code_challenge_method"], "S256")
        self.assertEqual(q["prompt"], "consent")
        page = harness.browse(login.url, EMAIL)
        self.assertEqual(page["status"], 200, page)
        self.assertIn("Signed in", page["title"])
        self.assertIn("web", page["text"])
        self.assertNotIn("code=", page["text"])
        self.assert_logged_in("web", login.finish())
        r = harness.run_msmtp(self.smtp.port_xoauth2_only, EMAIL,
                              '"%s token web"' % xoagent.CLI, env=self.env.env)
        self.assertEqual(r.returncode, 0, r.stderr + r.log)
        msgs = self.smtp.wait_messages(1)
        self.assertEqual(msgs[-1]["user"], EMAIL)
        # The refresh token came too (offline_access kept by prompt=consent).
        r = self.env.xoauth("refresh", "web")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        # No code, verifier or state reaches the log.
        log = self.env.log()
        code = dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(page["callback_url"]).query))["code"]
        self.assertNotIn(code, log)
        self.assertNotIn(login.state, log)
        # The listener is gone after its one successful use.
        with self.assertRaises(urllib.error.URLError):
            get(page["callback_url"], timeout=5)

    def test_browser_variable_is_run_with_the_address(self):
        d = self.env.home
        seen = os.path.join(d, "browser-url")
        script = os.path.join(d, "fake-browser")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nprintf '%%s' \"$1\" > %s.tmp && mv %s.tmp %s\n"
                    % (seen, seen, seen))
        os.chmod(script, stat.S_IRWXU)
        login = BrowserLogin(self.env, "opener", extra_env={"BROWSER": script})
        def read_seen():
            if not os.path.exists(seen):
                return None
            with open(seen) as f:
                return f.read()
        url = harness.wait_for(read_seen, 10, "the BROWSER script")
        self.assertEqual(url, login.url)
        page = harness.browse(url, EMAIL)
        self.assertIn("Signed in", page["title"])
        self.assert_logged_in("opener", login.finish())

    def test_wrong_state_is_rejected_and_the_login_still_completes(self):
        login = BrowserLogin(self.env, "state", "--no-browser")
        status, body = get(login.callback(code="abc", state="W" * 22))
        self.assertEqual(status, 400)
        self.assertIn("another login", body)
        status, body = get(login.callback(code="abc"))
        self.assertEqual(status, 400)
        page = harness.browse(login.url, EMAIL)
        self.assertIn("Signed in", page["title"], page)
        self.assert_logged_in("state", login.finish())

    def test_replayed_and_refused_codes_are_rejected(self):
        login = BrowserLogin(self.env, "fixed", "--no-browser")
        self.assertEqual(login.redirect_uri, "http://127.0.0.1:%d/" % self.fixed_port)
        # A code with the right state that the provider refuses keeps the
        # login open; the same callback again is refused without asking.
        forged = login.callback(code="not-a-real-code", state=login.state)
        status, body = get(forged)
        self.assertEqual(status, 400, body)
        self.assertIn("refused the code", body)
        status, body = get(forged)
        self.assertEqual(status, 400, body)
        self.assertIn("handed in already", body)
        page = harness.browse(login.url, EMAIL)
        self.assertIn("Signed in", page["title"], page)
        self.assert_logged_in("fixed", login.finish())
        # The real callback, replayed: nobody listens any more...
        with self.assertRaises(urllib.error.URLError):
            get(page["callback_url"], timeout=5)
        # ...and on the next login's listener (same fixed port) its state
        # belongs to the old login.
        login2 = BrowserLogin(self.env, "fixed", "--no-browser")
        self.assertEqual(login2.redirect_uri, login.redirect_uri)
        status, body = get(page["callback_url"])
        self.assertEqual(status, 400, body)
        self.assertIn("another login", body)
        page2 = harness.browse(login2.url, EMAIL)
        self.assertIn("Signed in", page2["title"], page2)
        self.assert_logged_in("fixed", login2.finish())

    def test_hostile_requests_do_not_stall_the_agent(self):
        login = BrowserLogin(self.env, "hostile", "--no-browser")
        parts = urllib.parse.urlsplit(login.redirect_uri)
        addr = (parts.hostname, parts.port)
        # A slow client: half a request line, then nothing.
        slow = socket.create_connection(addr)
        slow.sendall(b"GET /?code=")
        # A request as large as the listener takes, with no end of headers
        # in it: 431, and no more is read.
        big = socket.create_connection(addr)
        prefix = b"GET / HTTP/1.1\r\nX-Filler: "
        big.sendall(prefix + b"a" * (8192 - len(prefix)))
        big.settimeout(10)
        self.assertTrue(big.recv(200).startswith(b"HTTP/1.1 431"))
        big.close()
        # Far more than that: refused or cut off, never buffered.
        huge = socket.create_connection(addr)
        try:
            huge.sendall(b"GET / HTTP/1.1\r\n" + b"a" * (1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass
        huge.close()
        # A flood of idle connections beyond the listener's cap.
        idle = [socket.create_connection(addr) for _ in range(20)]
        # Meanwhile the agent answers at once.
        t0 = time.monotonic()
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(time.monotonic() - t0, 2.0)
        # And the listener still answers a newcomer that sends its
        # request, however many idle ones are open: the oldest that has
        # not sent one makes room (dropping the newcomer would let the
        # flood shut out the browser's redirect).
        for _ in range(3):
            status, _ = get("http://%s:%d/favicon.ico" % addr)
            self.assertEqual(status, 404)
        for s in idle:
            s.close()
        # Other paths and methods.
        status, _ = get("http://%s:%d/favicon.ico" % addr)
        self.assertEqual(status, 404)
        req = urllib.request.Request(login.callback(code="x", state=login.state),
                                     data=b"x", method="POST")
        try:
            urllib.request.urlopen(req, timeout=10)
            self.fail("POST was accepted")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 405)
        # The login still works.
        page = harness.browse(login.url, EMAIL)
        self.assertIn("Signed in", page["title"], page)
        self.assert_logged_in("hostile", login.finish())
        # The slow client is cut off by the listener: it was the oldest
        # idle one when the flood came (else the read timeout of 10 s, or
        # the login's end, would cut it off).
        slow.settimeout(15)
        try:
            self.assertEqual(slow.recv(100), b"")
        except ConnectionResetError:
            pass
        slow.close()

    def test_declining_consent_ends_the_login_with_a_clear_message(self):
        login = BrowserLogin(self.env, "denied", "--no-browser")
        page = harness.browse(login.url, EMAIL, decline=True)
        self.assertEqual(page["status"], 403, page)
        self.assertIn("declined", page["title"])
        self.assertIn("access_denied", page["text"])
        r = login.finish()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("declined", r.stderr)


if __name__ == "__main__":
    unittest.main()
