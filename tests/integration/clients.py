"""The mail programs of docs/CLIENTS.md, run as that page shows them.

snippet(NAME, (OLD, NEW), ...) is the code block the page marks with
`<!-- test: NAME -->`, with each OLD text replaced by NEW (the test's host
names, ports and CA). A replacement whose OLD text is not in the block
fails the test: when the page changes, the tests run the new text or
say what they no longer find, and the two never drift apart.

ClientsWithServers starts, per test class, a provider, the servers the
class asks for (with TLS: STARTTLS, SMTPS and IMAPS, under a CA made for
the run) and one agent whose accounts are those of the page, `work`
(alice@example.com) and `gmail` (alice@gmail.com), both logged in. Each
test gets a HOME of its own (home()) where it writes the program's
configuration where the page says, and an environment (client_env()) in
which `xoauth` is on PATH and the agent's socket is set, as after
`eval $(xoauth-agent)`.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
import xoagent

DOC = os.path.join(harness.ROOT, "docs", "CLIENTS.md")
_SNIPPET = re.compile(r"^<!-- test: (\S+) -->\n```[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)

# The page's accounts: (name, e-mail address).
WORK = ("work", "alice@example.com")
GMAIL = ("gmail", "alice@gmail.com")
# The page's recipient.
RCPT = "bob@example.org"
# The page's servers: Microsoft 365's and Gmail's.
MS_SMTP = "smtp.office365.com"
MS_IMAP = "outlook.office365.com"
GMAIL_SMTP = "smtp.gmail.com"
# What the tests connect to: the test certificate is for this name (and
# for 127.0.0.1, which mbsync and offlineimap do not accept).
HOST = "localhost"


def snippets():
    """Every marked code block of docs/CLIENTS.md: {name: text}."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    out = {}
    for m in _SNIPPET.finditer(text):
        if m.group(1) in out:
            raise AssertionError("docs/CLIENTS.md: two snippets named %s" % m.group(1))
        out[m.group(1)] = m.group(2)
    return out


def snippet(name, *replacements):
    """The snippet NAME with each (old, new) replacement made (every
    occurrence of old). Raises AssertionError when there is no such
    snippet or a replacement's old text is not in it."""
    text = snippets().get(name)
    if text is None:
        raise AssertionError("docs/CLIENTS.md has no snippet marked <!-- test: %s -->" % name)
    for old, new in replacements:
        if old not in text:
            raise AssertionError("docs/CLIENTS.md, snippet %s: the test replaces %r, which "
                                 "is no longer there; the snippet:\n%s" % (name, old, text))
        text = text.replace(old, new)
    return text


def program_present(*names):
    return all(shutil.which(n) for n in names)


def skip_unless_programs(*names):
    """Skips a test (or class) when a program is missing, on a machine set
    up before scripts/setup installed it; never in CI, where a missing
    program must fail the run."""
    return unittest.skipUnless(program_present(*names) or os.environ.get("CI"),
                               "needs %s (scripts/setup)" % ", ".join(names))


class ClientsWithServers(unittest.TestCase):
    """Servers and an agent shared by a class's tests; see the module's
    comment. Subclasses set with_smtp / with_imap."""

    with_smtp = True
    with_imap = False

    @classmethod
    def setUpClass(cls):
        cls.oidc = cls.smtp = cls.imap = cls.agent = None
        cls.tls_dir = tempfile.mkdtemp(prefix="xo-tls-")
        try:
            cls.tls = harness.make_tls(cls.tls_dir)
            cls.oidc = harness.start_oidc(at_ttl=600)
            if cls.with_smtp:
                cls.smtp = harness.start_smtp(cls.oidc, tls=cls.tls)
            if cls.with_imap:
                cls.imap = harness.start_imap(cls.oidc, tls=cls.tls)
            cls.agent = xoagent.AgentEnv(
                "".join(xoagent.account_section(name, cls.oidc, email=email)
                        for name, email in (WORK, GMAIL)))
            cls.agent.start()
            for name, email in (WORK, GMAIL):
                r = xoagent.login_as_user(cls.agent, name, email)
                if r.returncode != 0:
                    raise AssertionError("login of %s failed: %r\n%s"
                                         % (name, r, cls.agent.log()))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for part in (cls.agent,):
            if part is not None:
                part.cleanup()
        for server in (cls.imap, cls.smtp, cls.oidc):
            if server is not None:
                server.stop()
        shutil.rmtree(cls.tls_dir, ignore_errors=True)

    # A place and an environment for the program under test.

    def home(self):
        """A new, empty HOME for this test, removed after it."""
        home = tempfile.mkdtemp(prefix="xo-client-home-")
        self.addCleanup(shutil.rmtree, home, True)
        return home

    def client_env(self, home, **extra):
        """The environment of a user with a running agent: HOME, xoauth
        on PATH, XOAUTH_AUTH_SOCK; nothing of the test machine's XDG or
        XOAUTH variables. The test CA is trusted by what reads
        SSL_CERT_FILE (Python, Go, OpenSSL's defaults) or CURL_CA_BUNDLE
        (curl); the other programs name it in their configuration."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("XOAUTH_", "XDG_")) and k not in ("TMUX", "MAIL")}
        env.update({"HOME": home, "LANG": "C.UTF-8", "TERM": "xterm",
                    "PATH": os.path.dirname(xoagent.CLI) + os.pathsep + os.environ["PATH"],
                    "XOAUTH_AUTH_SOCK": self.agent.sock,
                    "SSL_CERT_FILE": self.tls.ca, "CURL_CA_BUNDLE": self.tls.ca})
        env.update(extra)
        return env

    @staticmethod
    def write(home, relpath, text, mode=0o600):
        """Writes text to HOME/relpath (directories made), with mode."""
        path = os.path.join(home, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    @staticmethod
    def run_program(argv, env, cwd=None, stdin=None, timeout=60):
        """Runs a program to its end; returns a harness.Result (returncode
        None when it outlived timeout and was killed)."""
        try:
            p = subprocess.run(argv, input=stdin.encode() if isinstance(stdin, str) else stdin,
                               capture_output=True, env=env, cwd=cwd, timeout=timeout,
                               stdin=None if stdin is not None else subprocess.DEVNULL)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = None, e.stdout or b"", (e.stderr or b"") + b"\n[test: timeout]"
        return harness.Result(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def run_shell(self, script, env, cwd=None, timeout=60):
        """Runs a shell snippet with sh -e, as a user pastes it."""
        return self.run_program(["sh", "-ec", script], env, cwd=cwd, timeout=timeout)

    # What the servers saw.

    @staticmethod
    def unique(what):
        """A subject line no other test uses."""
        return "%s %d" % (what, time.monotonic_ns())

    def sent(self, subject, timeout=15):
        """The one message the SMTP server accepted with this subject
        (harness.read_messages() fields, tls among them)."""
        found = harness.wait_for(
            lambda: [m for m in self.smtp.messages() if "Subject: %s" % subject in m["data"]],
            timeout, "a message with subject %r; auth attempts: %r"
            % (subject, self.smtp.auth_attempts()[-3:]))
        self.assertEqual(len(found), 1, found)
        return found[0]

    def assert_sent(self, subject, user, mechanism, listener, result=None):
        """One message with subject went through the SMTP server's
        listener ("both": STARTTLS, "smtps") over TLS, logged in as user
        with mechanism."""
        why = "%r\n%r" % (result, self.smtp.auth_attempts()[-3:])
        if result is not None:
            self.assertEqual(result.returncode, 0, why)
        msg = self.sent(subject)
        self.assertEqual((msg["user"], msg["mechanism"], msg["listener"], msg["tls"]),
                         (user, mechanism, listener, True), why)
        return msg

    def assert_imap_login(self, before, user=WORK[1], method="XOAUTH2"):
        """The one IMAP login after the `before` first ones at the Dovecot
        offering both mechanisms was user's, with method, over TLS."""
        logins = self.imap.wait_logins(before + 1, "both", tls=True)
        self.assertEqual(logins[before:],
                         [{"user": user, "method": method, "ok": True, "tls": True}])

    def deliver(self, what, user=WORK[1]):
        """Puts a message with a new subject (unique(what)) into user's
        INBOX; returns the subject."""
        subject = self.unique(what)
        self.imap.deliver(user, harness.make_message("carol@example.net", user, subject=subject))
        return subject
