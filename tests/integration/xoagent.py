"""Runs the real xoauth-agent and xoauth binaries for the integration tests.

Each AgentEnv is a private HOME with its own config and runtime directory,
so tests run side by side without seeing each other's agent.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness

BUILD_DIR = os.environ.get("XO_BUILD_DIR",
                           os.path.join(harness.ROOT, "build"))
AGENT = os.path.join(BUILD_DIR, "agent", "xoauth-agent")
CLI = os.path.join(BUILD_DIR, "client", "xoauth")


def account_section(name, oidc, token_endpoint=None, email=None,
                    client_id=harness.CLIENT_ID, scope=harness.SCOPE,
                    extra=()):
    """An [account NAME] section for the local provider."""
    lines = ["[account %s]" % name,
             "provider = generic",
             "client_id = %s" % client_id,
             "token_endpoint = %s" % (token_endpoint or oidc.token_endpoint),
             "device_authorization_endpoint = %s"
             % oidc.device_authorization_endpoint,
             "scopes = %s" % scope,
             "flow = device"]
    if email:
        lines.append("email = %s" % email)
    lines += list(extra)
    return "\n".join(lines) + "\n"


class AgentEnv:
    """A HOME with a config; start() runs the agent as `eval $(xoauth-agent)`
    would, stop() runs `xoauth-agent -k`."""

    def __init__(self, config_text=""):
        self.home = tempfile.mkdtemp(prefix="xo-home-")
        self.runtime = os.path.join(self.home, "run")
        os.mkdir(self.runtime, 0o700)
        cfgdir = os.path.join(self.home, ".config", "xoauth")
        os.makedirs(cfgdir)
        self.config_path = os.path.join(cfgdir, "config")
        self.write_config(config_text)
        # The vault's place comes from XDG_DATA_HOME, and a systemd
        # credential from CREDENTIALS_DIRECTORY: neither may leak in from
        # the environment the tests run in.
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("XOAUTH_")
                    and k != "CREDENTIALS_DIRECTORY"}
        self.env.update({"HOME": self.home, "XDG_RUNTIME_DIR": self.runtime,
                         "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
                         "XDG_DATA_HOME": os.path.join(self.home, ".local",
                                                       "share"),
                         "SHELL": "/bin/sh"})
        self.vault_path = os.path.join(self.home, ".local", "share", "xoauth",
                                       "vault")
        self.pid = None
        self.proc = None
        self.logfile = os.path.join(self.home, "agent.log")

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def start(self, *args, debug=True):
        """Starts the agent in the foreground (-d, logging to a file; -D
        without the debug lines when debug is false) and sets
        XOAUTH_AUTH_SOCK / XOAUTH_AGENT_PID from its output."""
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen([AGENT, "-d" if debug else "-D"] + list(args),
                                     stdout=subprocess.PIPE, stderr=log,
                                     env=self.env)
        log.close()
        line = self.proc.stdout.readline().decode()
        if not line.startswith("XOAUTH_AUTH_SOCK="):
            self.proc.wait(5)
            raise harness.HarnessError("agent did not start: %r\n%s"
                                       % (line, self.log()))
        self.sock = line.split("=", 1)[1].split(";", 1)[0]
        self.pid = self.proc.pid
        self.env["XOAUTH_AUTH_SOCK"] = self.sock
        self.env["XOAUTH_AGENT_PID"] = str(self.pid)
        return self

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def xoauth(self, *args, stdin=None, timeout=60):
        """Runs the CLI; returns a harness.Result."""
        p = subprocess.run([CLI] + list(args), input=stdin,
                           capture_output=True, env=self.env,
                           timeout=timeout)
        return harness.Result(p.returncode, p.stdout.decode(),
                              p.stderr.decode(), "")

    def token(self, account, *args):
        r = self.xoauth(*args, "token", account)
        if r.returncode != 0:
            raise AssertionError("xoauth token %s failed: %r\n%s"
                                 % (account, r, self.log()))
        return r.stdout.strip()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.proc.stdout.close()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def login_as_user(env, account, email, timeout=60):
    """Runs `xoauth login ACCOUNT` and approves the device code as the user
    would; returns the CLI's Result."""
    p = subprocess.Popen([CLI, "login", account], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env.env)
    uri = code = None
    err_lines = []
    deadline = time.time() + 20
    while time.time() < deadline:
        line = p.stderr.readline().decode()
        if not line:
            break
        err_lines.append(line)
        uri, code = parse_login_prompt(line, uri, code)
        if uri and code:
            break
    if not (uri and code):
        p.kill()
        raise AssertionError("no URL and code from xoauth login: %r\n%s"
                             % ("".join(err_lines), env.log()))
    harness.approve_device(uri, code, email)
    out, err = p.communicate(timeout=timeout)
    return harness.Result(p.returncode, out.decode(),
                          "".join(err_lines) + err.decode(), "")


def parse_login_prompt(line, uri=None, code=None):
    """Finds the verification URI and user code in the CLI's prompt."""
    for word in line.replace(",", " ").split():
        w = word.strip(".'\"()")
        if w.startswith("http://") or w.startswith("https://"):
            uri = uri or w
    if "code" in line:
        tail = line.split("code", 1)[1].split()
        if tail:
            code = code or tail[0].strip(".'\"():")
    return uri, code


class ClassWithServers(unittest.TestCase):
    """A provider (cls.oidc), an SMTP server (cls.smtp) and one agent
    (cls.env) shared by a class's tests: the subclass starts them in
    setUpClass; they are stopped here."""

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()
        cls.smtp.stop()
        cls.oidc.stop()

    def assert_logged_in(self, name, r):
        """`xoauth login NAME` (result r) succeeded and the account's
        token is active at the provider."""
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertIn("logged in", r.stderr)
        token = self.env.token(name)
        self.assertTrue(harness.is_access_token_active(self.oidc, token))
