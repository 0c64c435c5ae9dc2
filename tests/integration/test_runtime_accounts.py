"""Accounts added at run time (ADD, DELETE; PROTOCOL.md 4.5 and 4.8):
through libxoauth (the add_login program) and through `xoauth add` /
`xoauth delete`, against the real provider, with msmtp delivering through
the SMTP server that checks every bearer token."""

import os
import signal
import subprocess
import time
import unittest

import harness
import xoagent

ADD_LOGIN = os.path.join(xoagent.BUILD_DIR, "tests", "add_login")
CONF_EMAIL = "conf@example.com"
LIB_EMAIL = "lib@example.com"


def local_settings(oidc):
    """The settings of an account at the local provider, as KEY=VALUE."""
    return ["provider=generic", "client_id=%s" % harness.CLIENT_ID,
            "token_endpoint=%s" % oidc.token_endpoint,
            "device_authorization_endpoint=%s"
            % oidc.device_authorization_endpoint,
            "scopes=%s" % harness.SCOPE, "flow=device"]


def cli_settings(oidc):
    """The same, as `xoauth add` options."""
    return ["--provider", "generic", "--client-id", harness.CLIENT_ID,
            "--set", "token_endpoint=%s" % oidc.token_endpoint,
            "--set", "device_authorization_endpoint=%s"
            % oidc.device_authorization_endpoint,
            "--scopes", harness.SCOPE, "--flow", "device"]


def read_prompt(stream, timeout=20):
    """Reads the CLI's login prompt; returns (uri, code, lines read)."""
    uri = code = None
    lines = []
    deadline = time.time() + timeout
    while time.time() < deadline and not (uri and code):
        line = stream.readline().decode()
        if not line:
            break
        lines.append(line)
        uri, code = xoagent.parse_login_prompt(line, uri, code)
    return uri, code, "".join(lines)


class RuntimeAccounts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.oidc = harness.start_oidc(at_ttl=60)
        cls.smtp = harness.start_smtp(cls.oidc)
        cls.config = xoagent.account_section("conf", cls.oidc,
                                             email=CONF_EMAIL)
        cls.env = xoagent.AgentEnv(cls.config)
        cls.env.start()
        cls.lib = cls.add_and_login_through_the_library("lib", LIB_EMAIL)

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()
        cls.smtp.stop()
        cls.oidc.stop()

    @classmethod
    def add_and_login_through_the_library(cls, name, email):
        """Runs add_login, approves the device login as the user, and
        returns its output lines."""
        p = subprocess.Popen([ADD_LOGIN, name] + local_settings(cls.oidc),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=cls.env.env)
        lines = []
        while True:
            line = p.stdout.readline().decode()
            if not line:
                break
            lines.append(line.strip())
            if line.startswith("LOGIN "):
                _, uri, code = line.split()
                harness.approve_device(uri, code, email)
        p.communicate(timeout=60)
        lines.append("exit %d" % p.returncode)
        return lines

    def names(self):
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        return sorted(l.split()[0] for l in r.stdout.splitlines()
                      if l and not l.startswith(" "))

    def add_login(self, name, *settings):
        p = subprocess.run([ADD_LOGIN, name] + list(settings),
                           capture_output=True, env=self.env.env, timeout=60)
        return p.returncode, p.stdout.decode()

    def sighup_and_wait(self, says):
        """Sends SIGHUP and waits for the agent to log `says`."""
        before = self.env.log().count(says)
        self.env.proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: self.env.log().count(says) > before, 10,
                         "the agent to log %r" % says)

    # -- through the library ---------------------------------------------

    def test_library_adds_and_logs_in(self):
        self.assertEqual(self.lib[0], "ADDED", self.lib)
        self.assertTrue(self.lib[1].startswith("LOGIN http://"), self.lib)
        self.assertEqual(self.lib[-2:], ["LOGGED-IN", "exit 0"],
                         "%s\n%s" % (self.lib, self.env.log()))

    def test_runtime_account_learns_its_address_and_is_listed(self):
        r = self.env.xoauth("list")
        line = [l for l in r.stdout.splitlines() if l.startswith("lib ")][0]
        self.assertIn(LIB_EMAIL, line)
        self.assertIn("active", line)

    def test_msmtp_delivers_with_the_runtime_account(self):
        before = len(self.smtp.messages())
        r = harness.run_msmtp(self.smtp.port_xoauth2_only, LIB_EMAIL,
                              '"%s token lib"' % xoagent.CLI,
                              auth="xoauth2", env=self.env.env)
        self.assertEqual(r.returncode, 0, r.stderr + r.log)
        msgs = self.smtp.wait_messages(before + 1)
        self.assertEqual(msgs[-1]["user"], LIB_EMAIL)

    def test_runtime_account_refreshes_like_a_configured_one(self):
        old = self.env.token("lib")
        r = self.env.xoauth("refresh", "lib")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        new = self.env.token("lib")
        self.assertNotEqual(old, new)
        self.assertTrue(harness.is_access_token_active(self.oidc, new))

    def test_runtime_account_survives_sighup_with_its_token(self):
        token = self.env.token("lib")
        self.sighup_and_wait("configuration reloaded")
        self.assertIn("lib", self.names())
        self.assertEqual(self.env.token("lib"), token)

    # -- bad settings change nothing ----------------------------------------

    def test_bad_settings_get_a_clear_message_and_change_nothing(self):
        cases = [
            (["provider=generic", "client_id=x", "token_endpoint=%s"
              % self.oidc.token_endpoint, "tennant=contoso.com"],
             "CONFIG tennant: unknown key (did you mean 'tenant'?)"),
            (["provider=generic", "token_endpoint=%s"
              % self.oidc.token_endpoint],
             "CONFIG client_id: missing"),
            (["provider=hotmail", "client_id=x"],
             "CONFIG provider: unknown provider 'hotmail' (expected one of"),
        ]
        names = self.names()
        for settings, says in cases:
            rc, out = self.add_login("bad", *settings)
            self.assertEqual(rc, 1, out)
            self.assertIn("FAIL add " + says, out)
        self.assertEqual(self.names(), names)
        self.assertNotIn("bad", names)

    def test_taken_name_or_address_is_refused(self):
        names = self.names()
        rc, out = self.add_login("conf", *local_settings(self.oidc))
        self.assertEqual(rc, 1, out)
        self.assertIn("FAIL add EXISTS", out)
        self.assertIn("conf", out)
        rc, out = self.add_login("other", "email=%s" % CONF_EMAIL.upper(),
                                 *local_settings(self.oidc))
        self.assertEqual(rc, 1, out)
        self.assertIn("FAIL add EXISTS", out)
        self.assertIn(CONF_EMAIL, out)
        # An address learned from the id_token counts too.
        rc, out = self.add_login(LIB_EMAIL, *local_settings(self.oidc))
        self.assertIn("FAIL add EXISTS", out)
        self.assertEqual(self.names(), names)

    def test_cli_reports_the_agents_message(self):
        r = self.env.xoauth("add", "bad", "--provider", "generic",
                            "--client-id", "x", "--set", "colour=blue")
        self.assertEqual(r.returncode, 1)
        self.assertIn("colour: unknown key", r.stderr)
        self.assertNotIn("bad", self.names())

    # -- xoauth add / delete ----------------------------------------------

    def test_cli_add_then_delete(self):
        r = self.env.xoauth("add", "cli1", "--email", "cli1@example.com",
                            *cli_settings(self.oidc))
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertIn("cli1", self.names())
        r = self.env.xoauth("token", "cli1@example.com")
        self.assertEqual(r.returncode, 1)
        self.assertIn("xoauth login cli1", r.stderr)
        r = self.env.xoauth("delete", "cli1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("cli1", self.names())
        r = self.env.xoauth("token", "cli1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cli1", r.stderr)
        # The name is free again.
        r = self.env.xoauth("add", "cli1", *cli_settings(self.oidc))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.env.xoauth("delete", "cli1").returncode, 0)

    def test_cli_add_with_login_signs_in_and_delete_forgets_the_tokens(self):
        p = subprocess.Popen([xoagent.CLI, "add", "cli2", "--login"] +
                             cli_settings(self.oidc),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env.env)
        uri, code, text = read_prompt(p.stderr)
        self.assertTrue(uri and code, text + self.env.log())
        harness.approve_device(uri, code, "cli2@example.com")
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, text + err.decode())
        self.assertIn("logged in", err.decode())
        token = self.env.token("cli2@example.com")
        self.assertTrue(harness.is_access_token_active(self.oidc, token))
        r = self.env.xoauth("delete", "cli2@example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("cli2", self.names())

    def test_delete_during_login_fails_the_waiting_login(self):
        p = subprocess.Popen([xoagent.CLI, "add", "pend", "--login"] +
                             cli_settings(self.oidc),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env.env)
        uri, code, text = read_prompt(p.stderr)
        self.assertTrue(uri and code, text + self.env.log())
        r = self.env.xoauth("delete", "pend")
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("no account 'pend'", err.decode())
        self.assertNotIn("pend", self.names())
        # The agent serves the others all along.
        self.assertTrue(self.env.token("lib"))

    def test_delete_of_a_config_account_is_refused(self):
        r = self.env.xoauth("delete", "conf")
        self.assertEqual(r.returncode, 1)
        self.assertIn("config", r.stderr)
        self.assertIn("xoauth remove", r.stderr)
        self.assertIn("conf", self.names())
        r = self.env.xoauth("delete", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nosuch", r.stderr)

    def test_client_secret_is_not_taken_from_the_command_line(self):
        r = self.env.xoauth("add", "sec", "--set", "client_secret=s3cr3t",
                            *cli_settings(self.oidc))
        self.assertEqual(r.returncode, 1)
        self.assertIn("--client-secret-stdin", r.stderr)
        self.assertNotIn("sec", self.names())

    def test_client_secret_from_stdin_never_reaches_the_log(self):
        r = self.env.xoauth("add", "sec2", "--client-secret-stdin",
                            *cli_settings(self.oidc),
                            stdin=b"s3cr3t-from-stdin\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sec2", self.names())
        self.assertEqual(self.env.xoauth("delete", "sec2").returncode, 0)
        self.assertNotIn("s3cr3t", self.env.log())

    # -- SIGHUP with a colliding file account --------------------------------

    def test_file_account_colliding_with_a_runtime_one_refuses_the_reload(self):
        token = self.env.token("lib")
        self.env.write_config(self.config + xoagent.account_section(
            "lib", self.oidc, email="lib-file@example.com"))
        try:
            self.sighup_and_wait("reload refused")
            log = self.env.log()
            self.assertIn("[account lib]", log)
            self.assertIn("added at run time", log)
            self.assertIn("xoauth delete lib", log)
            self.assertEqual(self.env.token("lib"), token)
        finally:
            self.env.write_config(self.config)
        # By address too.
        self.env.write_config(self.config + xoagent.account_section(
            "libfile", self.oidc, email=LIB_EMAIL))
        try:
            self.sighup_and_wait("reload refused")
            self.assertIn(LIB_EMAIL, self.env.log().split("reload refused")[-1])
            self.assertNotIn("libfile", self.names())
        finally:
            self.env.write_config(self.config)
        self.sighup_and_wait("configuration reloaded")
        self.assertEqual(self.env.token("lib"), token)


if __name__ == "__main__":
    unittest.main()
