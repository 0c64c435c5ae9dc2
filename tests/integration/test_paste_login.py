"""The paste flow: the provider redirects to a fixed URI the agent cannot
see; the user pastes the address (or the code) into `xoauth login`, the
agent checks state, exchanges the code with PKCE and holds the tokens.
The user's part at the provider is played by harness.authorize(), which
stops at the redirect as a browser on another machine would."""

import subprocess
import time
import unittest
import urllib.parse

import harness
import xoagent

EMAIL = "paula@example.com"


def paste_section(name, oidc, extra=()):
    return xoagent.account_section(
        name, oidc, email=EMAIL,
        extra=["authorization_endpoint = %s" % oidc.authorization_endpoint,
               "redirect_uri = %s" % oidc.paste_redirect_uri] + list(extra)
    ).replace("flow = device", "flow = paste")


class PasteLogin:
    """`xoauth login NAME` running with a pipe on stdin."""

    def __init__(self, env, name, *args):
        self.p = subprocess.Popen([xoagent.CLI, "login", name] + list(args),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env.env)
        self.err = []
        self.url = self.wait_for("http")
        self.wait_for("paste it here")

    def wait_for(self, needle, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.p.stderr.readline().decode()
            if not line:
                break
            self.err.append(line)
            if needle in line:
                return line.strip()
        raise AssertionError("no %r from xoauth login: %r" % (needle, "".join(self.err)))

    def paste(self, text):
        self.p.stdin.write(text.encode() + b"\n")
        self.p.stdin.flush()

    def finish(self, timeout=30):
        out, err = self.p.communicate(timeout=timeout)
        return harness.Result(self.p.returncode, out.decode(),
                              "".join(self.err) + err.decode(), "")


class PasteFlow(xoagent.ClassWithServers):
    @classmethod
    def setUpClass(cls):
        cls.oidc = harness.start_oidc(at_ttl=60)
        cls.smtp = harness.start_smtp(cls.oidc)
        cls.env = xoagent.AgentEnv(
            paste_section("url", cls.oidc) + paste_section("bare", cls.oidc) +
            paste_section("mismatch", cls.oidc) + paste_section("denied", cls.oidc) +
            xoagent.account_section("device", cls.oidc))
        cls.env.start()

    def test_login_url_asks_for_pkce_state_and_the_registered_redirect(self):
        login = PasteLogin(self.env, "url")
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(login.url).query))
        self.assertEqual(q["redirect_uri"], self.oidc.paste_redirect_uri)
        self.assertEqual(q["code_challenge_method"], "S256")
        self.assertEqual(len(q["code_challenge"]), 43)
        self.assertGreaterEqual(len(q["state"]), 22)
        self.assertEqual(q["response_type"], "code")
        self.assertEqual(q["login_hint"], EMAIL)
        self.assertEqual(q["prompt"], "consent")
        login.paste(harness.authorize(login.url, EMAIL))
        self.assert_logged_in("url", login.finish())
        # The access token is good at a real SMTP server, through msmtp.
        r = harness.run_msmtp(self.smtp.port_xoauth2_only, EMAIL,
                              '"%s token url"' % xoagent.CLI, env=self.env.env)
        self.assertEqual(r.returncode, 0, r.stderr + r.log)
        # And the refresh token was issued (offline_access kept).
        r = self.env.xoauth("refresh", "url")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())

    def test_bare_code_is_accepted(self):
        login = PasteLogin(self.env, "bare")
        redirect = harness.authorize(login.url, EMAIL)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(redirect).query))["code"]
        login.paste("  " + code + "  ")
        self.assert_logged_in("bare", login.finish())

    def test_wrong_state_is_refused_and_the_right_paste_still_works(self):
        login = PasteLogin(self.env, "mismatch")
        redirect = harness.authorize(login.url, EMAIL)
        parts = urllib.parse.urlsplit(redirect)
        q = dict(urllib.parse.parse_qsl(parts.query))
        forged = dict(q, state="x" * 22)
        login.paste(urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(forged))))
        line = login.wait_for("state")
        self.assertIn("another login", line)
        login.wait_for("Try again")
        login.paste(redirect)
        self.assert_logged_in("mismatch", login.finish())
        self.assertNotIn(q["code"], self.env.log())

    def test_declined_consent_says_so(self):
        login = PasteLogin(self.env, "denied")
        login.paste(harness.authorize(login.url, EMAIL, approve=False))
        r = login.finish()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("declined", r.stderr)
        self.assertIn("access_denied", r.stderr)
        r = self.env.xoauth("token", "denied")
        self.assertEqual(r.returncode, 1)

    def test_code_without_a_paste_login_is_refused(self):
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0)
        # LOGIN_CODE for an account with no paste login pending: status 17.
        r = subprocess.run(["python3", "-c", LOGIN_CODE_SCRIPT, self.env.sock,
                            "device", "code=abc&state=def"],
                           capture_output=True, timeout=20)
        self.assertEqual(r.stdout.decode().split()[0], "17", r.stdout + r.stderr)

    def test_google_refuses_device_flow_by_name(self):
        env = xoagent.AgentEnv("[account g]\nprovider = google\nclient_id = x\n")
        try:
            env.start()
            r = env.xoauth("login", "g", "--flow", "device")
            self.assertEqual(r.returncode, 1)
            self.assertIn("Google refuses the device flow", r.stderr)
            self.assertIn("flows that work for this account: browser, paste", r.stderr)
        finally:
            env.cleanup()

    def test_google_section_with_device_flow_is_a_config_error(self):
        env = xoagent.AgentEnv("[account g]\nprovider = google\nclient_id = x\n"
                               "flow = device\n")
        try:
            p = subprocess.run([xoagent.AGENT, "-d"], env=env.env, capture_output=True,
                               timeout=20)
            self.assertNotEqual(p.returncode, 0)
            err = p.stderr.decode()
            self.assertIn("config:4", err)
            self.assertIn("key 'flow'", err)
            self.assertIn("Google refuses the device flow", err)
        finally:
            env.cleanup()


# Sends one LOGIN_CODE frame (PROTOCOL.md 4.7) and prints the FAILURE status
# (or 0 for SUCCESS).
LOGIN_CODE_SCRIPT = r'''
import socket, struct, sys
def s(b): return struct.pack(">I", len(b)) + b
sock, acct, resp = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
payload = bytes([9]) + s(acct) + s(resp) + struct.pack(">I", 0)
c = socket.socket(socket.AF_UNIX); c.connect(sock)
c.sendall(struct.pack(">I", len(payload)) + payload)
hdr = c.recv(5, socket.MSG_WAITALL)
n, t = struct.unpack(">IB", hdr)
body = c.recv(n - 1, socket.MSG_WAITALL)
print(0 if t == 128 else struct.unpack(">I", body[:4])[0], body[8:].decode())
'''


if __name__ == "__main__":
    unittest.main()
