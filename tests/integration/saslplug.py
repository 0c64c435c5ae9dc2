"""Helpers for the tests of the Cyrus SASL plugin (contrib/sasl): where the
built plugin is, the environment in which a program's libsasl2 loads it
from the build tree rather than from /usr ($SASL_PATH, which libsasl2
honours for a program that is not set-uid), the exchange driver
sasl_client, and mbsync run with the documented snippet
(docs/CLIENTS.md).

Used by test_sasl_plugin.py, test_mbsync_sasl.py and test_postfix_sasl.py.
"""

import base64
import os
import shutil
import subprocess
import tempfile

import clients
import harness
import sysuser
import xoagent

PLUGIN_DIR = os.path.join(xoagent.BUILD_DIR, "contrib", "sasl")
PLUGIN = os.path.join(PLUGIN_DIR, "libxoauthagent.so")
SASL_CLIENT = os.path.join(xoagent.BUILD_DIR, "tests", "sasl_client")
MBSYNC = shutil.which("mbsync")

# Cyrus SASL's return codes (sasl/sasl.h).
SASL_OK = 0
SASL_CONTINUE = 1
SASL_FAIL = -1
SASL_BADPROT = -5
SASL_NOUSER = -20
SASL_UNAVAIL = -24


def plugin_reason():
    """Why the plugin's tests cannot run here, or None."""
    if not os.path.exists(PLUGIN):
        return ("%s was not built (the Cyrus SASL headers, Debian package "
                "libsasl2-dev, were missing at configure time)" % PLUGIN)
    return None


# Where Debian's libsasl2 looks for plugins (libsasl2-modules: PLAIN,
# LOGIN, SCRAM...), as its libsasl2.so.2 was built.
SYSTEM_PLUGIN_DIR = "/usr/lib/x86_64-linux-gnu/sasl2"


def log_in(env, account, email):
    """Logs account in as the user would (xoagent.login_as_user) or raises
    with the CLI's output and the agent's log. env: an xoagent.AgentEnv,
    or anything with its env dict and log()."""
    r = xoagent.login_as_user(env, account, email)
    if r.returncode != 0:
        raise harness.HarnessError("login of %s failed: %r\n%s" % (account, r, env.log()))


def sasl_env(env, plugin_dir=PLUGIN_DIR):
    """env (a dict) with libsasl2 finding plugins only in plugin_dir (a
    colon-separated list, as SASL_PATH takes), and what a program built
    without the sanitizers needs to load the plugin of a sanitizer build."""
    out = dict(env)
    out["SASL_PATH"] = plugin_dir
    out.update(sysuser.sanitizer_preload_env())
    return out


class Exchange:
    """What sasl_client printed: calls, a list of dicts (what: "start" or
    "step", rc, mech, out: the bytes sent, or None), error (the last
    sasl_errdetail() or None), log (what the plugin logged) and
    returncode."""

    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stdout = proc.stdout.decode("utf-8", "replace")
        self.log = proc.stderr.decode("utf-8", "replace")
        self.calls = []
        self.error = None
        for line in self.stdout.splitlines():
            if line.startswith("error "):
                self.error = line[len("error "):]
                continue
            words = line.split()
            call = {"what": words[0], "mech": None, "out": None}
            for w in words[1:]:
                k, _, v = w.partition("=")
                if k == "rc":
                    call["rc"] = int(v)
                elif k == "mech":
                    call["mech"] = v
                elif k == "out" and v != "none":
                    call["out"] = base64.b64decode(v)
            self.calls.append(call)

    def __repr__(self):
        # The initial response holds a token of the tests' provider; only
        # the return codes and messages are shown.
        return "Exchange(rc=%r, calls=%r, error=%r, log=%r)" % (
            self.returncode, [(c["what"], c.get("rc")) for c in self.calls],
            self.error, self.log[-800:])


def exchange(env, mechs, user, steps=(), service="imap", host="127.0.0.1",
             remote=None, interact=False, no_initial=False, password=None,
             plugin_dir=PLUGIN_DIR, timeout=60):
    """Runs sasl_client with the plugin of the build tree (plugin_dir: where
    libsasl2 looks); returns an Exchange. steps: server messages as bytes
    (sent base64), or "ok" for the server's success. password: offered as
    well, as mail programs do."""
    argv = [SASL_CLIENT]
    if password is not None:
        argv += ["-p", password]
    if interact:
        argv.append("-i")
    if no_initial:
        argv.append("-n")
    if remote:
        argv += ["-r", remote]
    argv += [service, host, mechs, user]
    for s in steps:
        argv.append(s if s == "ok" else base64.b64encode(s).decode())
    p = subprocess.run(argv, capture_output=True, env=sasl_env(env, plugin_dir),
                       timeout=timeout)
    return Exchange(p)


def mbsync_present():
    return MBSYNC is not None


class Mbsync:
    """The ~/.mbsyncrc of docs/CLIENTS.md (snippet mbsyncrc-sasl),
    changed only where the test servers differ: host 127.0.0.1 and port,
    no TLS (the test Dovecot has none), the local mailbox in a temporary
    directory, and, when given, User and AuthMechs. run() syncs it."""

    def __init__(self, port, user=None, mechs=None):
        self.dir = tempfile.mkdtemp(prefix="xo-mbsync-")
        self.maildir = os.path.join(self.dir, "Mail", "work")
        os.makedirs(self.maildir)
        pairs = [("Host outlook.office365.com", "Host 127.0.0.1\nPort %d" % port),
                 ("SSLType IMAPS", "SSLType None"),
                 ("~/Mail/work", self.maildir)]
        if user is not None:
            pairs.append(("User work", "User %s" % user))
        if mechs is not None:
            pairs.append(("AuthMechs XOAUTH2", "AuthMechs %s" % mechs))
        self.config = os.path.join(self.dir, "mbsyncrc")
        with open(self.config, "w") as f:
            f.write(clients.snippet("mbsyncrc-sasl", *pairs))

    def run(self, env, timeout=60):
        """Runs `mbsync -c CONFIG -V work` with env; returns a
        harness.Result."""
        try:
            p = subprocess.run([MBSYNC, "-c", self.config, "-V", "work"],
                               capture_output=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            return harness.Result(None, "", "timeout: %r" % e)
        return harness.Result(p.returncode, p.stdout.decode("utf-8", "replace"),
                              p.stderr.decode("utf-8", "replace"))

    def messages(self):
        """The texts of the messages in the near INBOX."""
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, "INBOX", sub)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
                    out.append(f.read())
        return out

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
