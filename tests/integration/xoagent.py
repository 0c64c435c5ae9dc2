"""Runs the real xoauth-agent and xoauth binaries for the integration tests.

Each AgentEnv is a private HOME with its own config and runtime directory,
so tests run side by side without seeing each other's agent.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness

BUILD_DIR = os.environ.get("XO_BUILD_DIR",
                           os.path.join(harness.ROOT, "build"))
# What the tests run as the agent: the binary, or in a memcheck build
# (-DXO_MEMCHECK=ON) a script that runs it under valgrind, writing a report
# per process into MEMCHECK_LOGS (tests/valgrind/memcheck-agent.in).
AGENT = os.environ.get("XO_TEST_AGENT") or os.path.join(BUILD_DIR, "agent", "xoauth-agent")
CLI = os.path.join(BUILD_DIR, "client", "xoauth")
MEMCHECK_LOGS = os.environ.get("XO_MEMCHECK_LOGS")
if MEMCHECK_LOGS:
    # Agents of other users (test_service.py, test_pam.py) write here too.
    os.makedirs(MEMCHECK_LOGS, exist_ok=True)
    os.chmod(MEMCHECK_LOGS, 0o1777)


def agent_argv(pid):
    """The arguments agent process pid was started with, and its argv[0]:
    (argv0, [args...]) as bytes.  Under memcheck the process is valgrind's:
    its own options are dropped, and argv0 is None (the wrapper script
    passed the binary's path, not what its caller gave)."""
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().split(b"\0")[:-1]
    if MEMCHECK_LOGS and argv and os.path.basename(argv[0]).startswith(b"valgrind"):
        rest = argv[1:]
        while rest and rest[0].startswith(b"--"):
            rest = rest[1:]
        return None, rest[1:]
    return argv[0], argv[1:]


def agent_environ(pid):
    """The environment agent process pid was started with, as a dict of
    bytes; under memcheck without the variables valgrind adds."""
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if e)
    if MEMCHECK_LOGS:
        # valgrind's, Debian's valgrind script's (LD_LIBRARY_PATH for its
        # debug symbols) and the wrapper shell's (PWD).
        for name in (b"VALGRIND_LAUNCHER", b"GLIBCPP_FORCE_NEW", b"GLIBCXX_FORCE_NEW",
                     b"LD_LIBRARY_PATH", b"PWD"):
            env.pop(name, None)
        if b"valgrind" in env.get(b"LD_PRELOAD", b""):
            env.pop(b"LD_PRELOAD")
    return env


def memcheck_errors(pid):
    """Under memcheck: the report of agent process pid when it found errors
    (a definitely lost block among them), else None (no errors, no report
    yet, or no memcheck)."""
    if not MEMCHECK_LOGS:
        return None
    try:
        with open(os.path.join(MEMCHECK_LOGS, "agent.%d.log" % pid), errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r"ERROR SUMMARY: (\d+) error", text)
    if m and int(m.group(1)) > 0:
        return text
    return None


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
                           timeout=timeout * harness.TIME_SCALE)
        return harness.Result(p.returncode, p.stdout.decode(),
                              p.stderr.decode(), "")

    def token(self, account, *args):
        r = self.xoauth(*args, "token", account)
        if r.returncode != 0:
            raise AssertionError("xoauth token %s failed: %r\n%s"
                                 % (account, r, self.log()))
        return r.stdout.strip()

    def stop(self):
        """Stops the agent (SIGTERM). Under memcheck, raises AssertionError
        with valgrind's report when it found errors in the agent."""
        pid = None
        if self.proc is not None and self.proc.poll() is None:
            pid = self.proc.pid
            self.proc.send_signal(signal.SIGTERM)
            try:
                # valgrind's leak check at exit takes a few seconds.
                self.proc.wait(10 * harness.TIME_SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.proc.stdout.close()
        self.proc = None
        report = memcheck_errors(pid) if pid is not None else None
        if report is not None:
            raise AssertionError("memcheck found errors in agent %d:\n%s" % (pid, report))

    def cleanup(self):
        try:
            self.stop()
        finally:
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
