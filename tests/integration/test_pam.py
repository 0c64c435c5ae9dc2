"""pam_xoauth.so under the real libpam, driven by pamtester as a login
would: a real user (useradd, with a password set by chpasswd), a PAM
service file in /etc/pam.d with pam_unix deciding the password and
pam_xoauth keeping it for the session, and the user's real agent, run as
that user.  Needs root; skipped with the reason otherwise.

What goes to syslog is read by binding /dev/log when no syslog daemon has
it; the checks on the log are skipped, with the reason, where one does.
"""

import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
import unittest

import harness
import sysuser
import xoagent

PAMTESTER = shutil.which("pamtester")
EMAIL = "pam-user@example.com"


def setup_reason():
    reason = sysuser.root_reason()
    if reason:
        return reason
    if PAMTESTER is None:
        return "pamtester is not installed (Debian package pamtester)"
    if not os.path.exists(sysuser.PAM_MODULE):
        return ("%s was not built (the PAM headers, Debian package "
                "libpam0g-dev, were missing at configure time)"
                % sysuser.PAM_MODULE)
    return None


class PamCase(unittest.TestCase):
    """One user, one box of binaries and one syslog catcher for the class;
    each test starts from no agent, no vault and an empty log."""

    @classmethod
    def setUpClass(cls):
        reason = setup_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.box = sysuser.Box("xo-pam-")
        # Spaces and shell characters: the password must arrive intact.
        cls.password = "correct horse %s $!'" % secrets.token_hex(4)
        cls.user = sysuser.TempUser("xopam", cls.box.dir, cls.password)
        cls.log = sysuser.SyslogCatcher()
        cls.services = []
        cls.made_run_user = False
        if not os.path.isdir("/run/user"):
            os.makedirs("/run/user", 0o755)
            cls.made_run_user = True
        # logind's runtime directory for the user, as pam_systemd would
        # have it: the module's default socket is in there.
        cls.runtime = "/run/user/%d" % cls.user.uid
        cls.user.makedirs(cls.runtime)
        cls.sock = os.path.join(cls.runtime, "xoauth-agent", "socket")
        cls.oidc = None

    @classmethod
    def tearDownClass(cls):
        for name in cls.services:
            try:
                os.unlink(os.path.join("/etc/pam.d", name))
            except OSError:
                pass
        cls.user.remove()
        shutil.rmtree(cls.runtime, ignore_errors=True)
        if cls.made_run_user:
            try:
                os.rmdir("/run/user")
            except OSError:
                pass
        if cls.oidc is not None:
            cls.oidc.stop()
        cls.log.close()
        cls.box.cleanup()

    def setUp(self):
        self.user.end_processes()
        shutil.rmtree(os.path.join(self.runtime, "xoauth-agent"),
                      ignore_errors=True)
        shutil.rmtree(os.path.join(self.user.home, ".local"),
                      ignore_errors=True)
        self.write_config("")
        self.agent = None
        self.agent_log = self.box.path("agent-%s.log" % self._testMethodName)
        self.log.clear()

    def tearDown(self):
        if self.agent is not None and self.agent.poll() is None:
            self.agent.terminate()
            self.agent.wait(10)
        self.user.end_processes()

    # -- helpers ------------------------------------------------------------

    def need_log(self):
        if not self.log.available:
            self.skipTest("a syslog daemon owns /dev/log: the module's "
                          "log cannot be read here")

    def write_config(self, text):
        cfg = os.path.join(self.user.home, ".config", "xoauth")
        self.user.makedirs(cfg)
        path = os.path.join(cfg, "config")
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, self.user.uid, self.user.gid)

    def service(self, auth_args="debug", session_args="debug", extra=""):
        """Writes a PAM service file; returns its name."""
        name = "xoauth-test-%d-%d" % (os.getpid(), len(self.services))
        module = self.box.pam_module
        text = ("auth     required pam_unix.so\n"
                "auth     optional %s %s\n"
                "account  required pam_permit.so\n"
                "session  optional %s %s\n%s"
                % (module, auth_args, module, session_args, extra))
        with open(os.path.join("/etc/pam.d", name), "w") as f:
            f.write(text)
        self.services.append(name)
        return name

    def pamtester(self, service, *ops, password=None, env_extra=None):
        """Runs pamtester as a login would, typing password (the user's by
        default).  Returns (returncode, output, seconds)."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        env.update(sysuser.sanitizer_preload_env())
        env.update(env_extra or {})
        pw = self.password if password is None else password
        t0 = time.monotonic()
        p = subprocess.run([PAMTESTER, "-v", service, self.user.name]
                           + list(ops), input=pw + "\n", capture_output=True,
                           text=True, env=env, timeout=120)
        return p.returncode, p.stdout + p.stderr, time.monotonic() - t0

    def cli_env(self):
        return self.user.env(XOAUTH_AUTH_SOCK=self.sock)

    def cli(self, *args, stdin=None):
        return self.user.run([self.box.cli] + list(args),
                             env=self.cli_env(), input=stdin)

    def start_agent(self):
        """Starts the user's agent, as the user, on the default socket."""
        self.user.makedirs(os.path.dirname(self.sock))
        log = open(self.agent_log, "ab")
        self.agent = self.user.popen(
            [self.box.agent, "-d", "-a", self.sock],
            env=self.user.env(XDG_RUNTIME_DIR=self.runtime),
            stdout=subprocess.PIPE, stderr=log)
        log.close()
        line = self.agent.stdout.readline().decode()
        self.assertTrue(line.startswith("XOAUTH_AUTH_SOCK="),
                        "agent did not start: %r\n%s" % (line,
                                                         self.agent_log_text()))

    def stop_agent(self):
        self.agent.terminate()
        self.agent.wait(10)
        self.agent.stdout.close()
        self.agent = None

    def agent_log_text(self):
        try:
            with open(self.agent_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def agent_pids(self):
        pids = []
        for pid in self.user.pids():
            try:
                with open("/proc/%d/comm" % pid) as f:
                    if f.read().strip() == "xoauth-agent":
                        pids.append(pid)
            except OSError:
                pass
        return pids

    # -- an account with a real refresh token, for the vault tests ----------

    def need_provider(self):
        if not harness.node_modules_present():
            self.skipTest("the test servers' npm packages are missing "
                          "(run scripts/setup)")
        cls = type(self)
        if cls.oidc is None:
            cls.oidc = harness.start_oidc(at_ttl=600)
        return cls.oidc

    def locked_vault_with_account(self, passphrase):
        """The user's running agent with account "mail" (a real refresh
        token) in a vault sealed with passphrase, locked."""
        oidc = self.need_provider()
        self.write_config(harness.account_config("mail", EMAIL, oidc))
        self.start_agent()
        rt = harness.get_tokens_by_device(oidc, EMAIL)["refresh_token"]
        r = self.cli("import", "mail", stdin=rt + "\n")
        self.assertEqual(r.returncode, 0, r.stderr + self.agent_log_text())
        r = self.cli("unlock", stdin=passphrase + "\n")
        self.assertEqual(r.returncode, 0, r.stderr + self.agent_log_text())
        r = self.cli("lock")
        self.assertEqual(r.returncode, 0, r.stderr + self.agent_log_text())
        self.assertFalse(self.unlocked())

    def unlocked(self):
        """True when the agent hands out a token, False when it says it is
        locked; anything else fails the test."""
        r = self.cli("token", "mail")
        if r.returncode == 0:
            self.assertGreater(len(r.stdout.strip()), 10)
            return True
        self.assertIn("locked", r.stderr, self.agent_log_text())
        return False


class WithoutVault(PamCase):
    """What holds whatever the agent can do: the login never suffers."""

    def test_no_agent_and_no_auto_start_the_login_succeeds(self):
        svc = self.service()
        rc, out, secs = self.pamtester(svc, "authenticate", "open_session",
                                       "close_session")
        self.assertEqual(rc, 0, out)
        self.assertIn("successfully opened a session", out)
        self.assertLess(secs, 10)
        self.assertEqual(self.agent_pids(), [])
        if self.log.available:
            self.assertTrue(self.log.wait_for("no xoauth-agent for %s"
                                              % self.user.name), self.log.text())

    def test_wrong_password_fails_in_pam_unix_as_usual(self):
        svc = self.service()
        rc, out, _ = self.pamtester(svc, "authenticate", "open_session",
                                    password="not the password")
        self.assertNotEqual(rc, 0)
        self.assertIn("Authentication failure", out)
        self.assertNotIn("opened a session", out)

    def test_the_module_never_lets_anyone_in(self):
        # Listed as sufficient before a module that refuses everyone, it
        # must not decide the authentication.
        name = "xoauth-test-%d-%d" % (os.getpid(), len(self.services))
        with open(os.path.join("/etc/pam.d", name), "w") as f:
            f.write("auth sufficient %s debug\n"
                    "auth required pam_deny.so\n" % self.box.pam_module)
        self.services.append(name)
        rc, out, _ = self.pamtester(name, "authenticate")
        self.assertNotEqual(rc, 0, out)

    def test_a_session_without_the_auth_phase_has_nothing_to_unlock_with(self):
        self.need_log()
        svc = self.service()
        rc, out, _ = self.pamtester(svc, "open_session")
        self.assertEqual(rc, 0, out)
        self.assertTrue(self.log.wait_for("no password kept"), self.log.text())

    def test_a_hung_agent_does_not_hold_up_the_login(self):
        # Something on the socket that accepts and never answers.
        path = self.box.path("hung", "socket")
        self.user.makedirs(os.path.dirname(path))
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        os.chown(path, self.user.uid, self.user.gid)
        srv.listen(4)
        accepted = []
        threading.Thread(target=lambda: accepted.append(srv.accept()),
                         daemon=True).start()
        try:
            svc = self.service(session_args="debug timeout=2 socket=%s"
                               % path)
            rc, out, secs = self.pamtester(svc, "authenticate",
                                           "open_session")
            self.assertEqual(rc, 0, out)
            self.assertLess(secs, 8, "the login waited %.1f s" % secs)
            self.assertTrue(sysuser.wait_for(lambda: accepted, 5))
            if self.log.available:
                self.assertTrue(self.log.wait_for("no answer within 2 s"),
                                self.log.text())
                # Once the agent hangs up, the worker left behind reports
                # in the log by itself, and ends.
                self.log.clear()
                accepted[0][0].close()
                self.assertTrue(self.log.wait_for("after the login went on"),
                                self.log.text())
        finally:
            for conn, _ in accepted:
                conn.close()
            srv.close()

    def test_the_module_talks_to_the_agent_as_the_user(self):
        # A socket anyone may connect to, in a directory only root may
        # enter: root would reach it, the user cannot.
        d = self.box.path("rootonly")
        os.mkdir(d, 0o700)
        path = os.path.join(d, "socket")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        os.chmod(path, 0o666)
        srv.listen(4)
        srv.settimeout(3)
        try:
            svc = self.service(session_args="debug socket=%s" % path)
            rc, out, _ = self.pamtester(svc, "authenticate", "open_session")
            self.assertEqual(rc, 0, out)
            with self.assertRaises(socket.timeout,
                                   msg="the module connected as root"):
                srv.accept()
            if self.log.available:
                self.assertTrue(self.log.wait_for("Permission denied"),
                                self.log.text())
        finally:
            srv.close()

    def test_auto_start_runs_the_agent_as_the_user_with_a_clean_environment(self):
        svc = self.service(session_args="debug auto_start agent=%s"
                           % self.box.agent)
        marker = "XO_PAM_MARKER_%s" % secrets.token_hex(4)
        rc, out, secs = self.pamtester(svc, "authenticate", "open_session",
                                       env_extra={marker: "1"})
        self.assertEqual(rc, 0, out)
        self.assertLess(secs, 10)
        pids = sysuser.wait_for(self.agent_pids, 10)
        self.assertEqual(len(pids), 1, pids)
        pid = pids[0]
        with open("/proc/%d/status" % pid) as f:
            status = dict(l.split(":", 1) for l in f if ":" in l)
        ids = "%d\t%d\t%d\t%d" % ((self.user.uid,) * 4)
        self.assertEqual(status["Uid"].strip(), ids)
        gids = "%d\t%d\t%d\t%d" % ((self.user.gid,) * 4)
        self.assertEqual(status["Gid"].strip(), gids)
        self.assertIn(status["Groups"].strip(), ("", str(self.user.gid)))
        argv0, args = xoagent.agent_argv(pid)
        if argv0 is not None:  # None under memcheck: valgrind's
            self.assertEqual(argv0, b"xoauth-agent")
        self.assertEqual(args, [b"-a", self.sock.encode()])
        env = xoagent.agent_environ(pid)
        self.assertEqual(sorted(env), sorted([
            b"HOME", b"USER", b"LOGNAME", b"SHELL", b"PATH",
            b"XDG_RUNTIME_DIR"]))
        self.assertEqual(env[b"HOME"], self.user.home.encode())
        self.assertEqual(env[b"XDG_RUNTIME_DIR"], self.runtime.encode())
        st = os.stat(self.sock)
        self.assertEqual((st.st_uid, st.st_mode & 0o777),
                         (self.user.uid, 0o600))
        st = os.stat(os.path.dirname(self.sock))
        self.assertEqual((st.st_uid, st.st_mode & 0o777),
                         (self.user.uid, 0o700))
        # The agent answers the user's CLI.
        r = self.cli("status")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_auto_start_says_why_the_agent_did_not_start(self):
        self.need_log()
        self.write_config("[account broken]\nprovider = nosuchprovider\n")
        svc = self.service(session_args="debug auto_start agent=%s"
                           % self.box.agent)
        rc, out, _ = self.pamtester(svc, "authenticate", "open_session")
        self.assertEqual(rc, 0, out)
        self.assertTrue(self.log.wait_for("did not start"), self.log.text())
        self.assertIn("nosuchprovider", self.log.text())
        self.assertEqual(self.agent_pids(), [])


class WithVault(PamCase):
    """The vault's passphrase is the login password: the login unlocks."""

    def test_the_login_password_unlocks_the_agent(self):
        self.locked_vault_with_account(self.password)
        svc = self.service()
        rc, out, _ = self.pamtester(svc, "authenticate", "open_session")
        self.assertEqual(rc, 0, out)
        self.assertTrue(self.unlocked(), self.agent_log_text())
        if self.log.available:
            self.assertTrue(self.log.wait_for("unlocked the xoauth-agent of %s"
                                              % self.user.name),
                            self.log.text())

    def test_a_wrong_password_leaves_the_agent_locked(self):
        self.locked_vault_with_account(self.password)
        svc = self.service()
        rc, out, _ = self.pamtester(svc, "authenticate", "open_session",
                                    password=self.password + "x")
        self.assertNotEqual(rc, 0)
        self.assertIn("Authentication failure", out)
        self.assertFalse(self.unlocked())

    def test_a_vault_with_another_passphrase_stays_locked(self):
        # The user changed the login password but not the vault's: the
        # login goes on, the agent stays locked, the log says why.
        self.locked_vault_with_account("an older passphrase")
        svc = self.service()
        rc, out, _ = self.pamtester(svc, "authenticate", "open_session")
        self.assertEqual(rc, 0, out)
        self.assertFalse(self.unlocked())
        if self.log.available:
            self.assertTrue(self.log.wait_for("does not open"), self.log.text())

    def test_auto_start_starts_the_agent_and_unlocks_it(self):
        self.locked_vault_with_account(self.password)
        self.stop_agent()
        svc = self.service(session_args="debug auto_start agent=%s"
                           % self.box.agent)
        rc, out, _ = self.pamtester(svc, "authenticate", "open_session")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(self.agent_pids()), 1)
        self.assertTrue(self.unlocked())
        if self.log.available:
            self.assertTrue(self.log.wait_for("(started it)"), self.log.text())

    def test_create_makes_the_vault_at_the_first_login(self):
        vault = os.path.join(self.user.home, ".local", "share", "xoauth",
                             "vault")
        self.start_agent()
        # Without create, a first login makes no vault.
        rc, out, _ = self.pamtester(self.service(), "authenticate",
                                    "open_session")
        self.assertEqual(rc, 0, out)
        self.assertFalse(os.path.exists(vault))
        rc, out, _ = self.pamtester(self.service(session_args="debug create"),
                                    "authenticate", "open_session")
        self.assertEqual(rc, 0, out)
        self.assertTrue(sysuser.wait_for(lambda: os.path.exists(vault)))
        # Sealed with the login password.
        self.assertEqual(self.cli("lock").returncode, 0)
        r = self.cli("unlock", stdin="not it\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("wrong passphrase", r.stderr)
        r = self.cli("unlock", stdin=self.password + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_lock_on_close_locks_the_agent(self):
        self.locked_vault_with_account(self.password)
        svc = self.service(session_args="debug lock_on_close")
        rc, out, _ = self.pamtester(svc, "authenticate", "open_session")
        self.assertEqual(rc, 0, out)
        self.assertTrue(self.unlocked())
        rc, out, _ = self.pamtester(svc, "authenticate", "open_session",
                                    "close_session")
        self.assertEqual(rc, 0, out)
        self.assertFalse(self.unlocked())

    def test_the_password_reaches_no_log_argv_or_environment(self):
        self.need_log()
        self.locked_vault_with_account(self.password)
        self.stop_agent()
        svc = self.service(auth_args="debug",
                           session_args="debug auto_start agent=%s"
                           % self.box.agent)
        rc, out, _ = self.pamtester(svc, "authenticate", "open_session",
                                    "close_session")
        self.assertEqual(rc, 0, out)
        self.assertTrue(self.unlocked())
        self.assertTrue(self.log.wait_for("unlocked"), self.log.text())
        self.assertNotIn(self.password, self.log.text())
        secret = self.password.encode()
        for pid in self.agent_pids():
            for what in ("cmdline", "environ"):
                with open("/proc/%d/%s" % (pid, what), "rb") as f:
                    self.assertNotIn(secret, f.read())


if __name__ == "__main__":
    unittest.main()
