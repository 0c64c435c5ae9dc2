"""A Postfix relay with the SASL plugin: a private Postfix instance
(`postfix -c DIR`, its own config, queue and data directories under a
temporary directory, nothing of /etc/postfix or /var/spool/postfix used)
takes a message over SMTP on 127.0.0.1 and relays it to the test SMTP
server (smtp.js, which checks every bearer token at the real provider)
with `smtp_sasl_auth_enable` and `smtp_sasl_mechanism_filter`, the token
coming from the real agent through the plugin.

Postfix's smtp(8) runs as the instance's mail_owner, so the agent runs as
that user too (a throwaway system user): its socket answers only its own
uid. Postfix needs root to start (master binds and drops privileges), so
do these tests; the libsasl2 of smtp(8) finds the plugin through SASL_PATH,
and the agent through XOAUTH_AUTH_SOCK, both handed down by
import_environment."""

import grp
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import unittest

import clients
import harness
import saslplug
import sysuser
import xoagent

EMAIL = "relay@example.com"
RCPT = "bob@example.com"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
BAD_TOKEN = "not-a-token-the-provider-issued"
SETGID_GROUP = "postdrop"

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
{listen} inet n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def setup_reason():
    reason = saslplug.plugin_reason() or sysuser.root_reason()
    if reason:
        return reason
    try:
        grp.getgrnam(SETGID_GROUP)
    except KeyError:
        return "no group %s (Debian package postfix)" % SETGID_GROUP
    if not os.access(POSTFIX, os.X_OK):
        return "postfix is not installed (Debian package postfix)"
    if not harness.node_modules_present():
        return "the test servers' npm packages are missing (scripts/setup)"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postfix:
    """One private Postfix instance relaying everything it takes on
    127.0.0.1:port to [127.0.0.1]:relay_port with SASL. Its files are
    under dir; maillog() reads its log (maillog_file)."""

    def __init__(self, box, owner, setgid_group, relay_port, sasl_user, mechanism_filter,
                 environment, chroot=False):
        self.dir = tempfile.mkdtemp(prefix="postfix-", dir=box.dir)
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "maillog")
        for d in (self.conf, self.queue):
            os.mkdir(d, 0o755)
        owner.makedirs(self.data)
        self.port = free_port()
        # The instance's own places and users, then the relay settings of
        # docs/CLIENTS.md (snippet postfix-main-cf) as they stand,
        # changed only where the test servers differ: the relay at
        # 127.0.0.1 and port, no TLS (smtp.js has none), the mechanism,
        # and what import_environment hands down.
        main = {
            "compatibility_level": "3.6",
            "mail_owner": owner.name,
            "setgid_group": setgid_group,
            "queue_directory": self.queue,
            "data_directory": self.data,
            "maillog_file": self.log_path,
            "maillog_file_prefixes": self.dir,
            "myhostname": "relay.test.invalid",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            # Deferred mail is tried again when the test flushes it.
            "minimal_backoff_time": "300s",
        }
        # import_environment takes NAME=VALUE words: a value holds no
        # space (LD_PRELOAD takes colons as well).
        imported = " ".join("%s=%s" % (k, v.replace(" ", ":"))
                            for k, v in sorted(environment.items()))
        relay = clients.snippet(
            "postfix-main-cf",
            ("[smtp.office365.com]:587", "[127.0.0.1]:%d" % relay_port),
            ("smtp_tls_security_level = encrypt", "smtp_tls_security_level = none"),
            ("smtp_sasl_mechanism_filter = xoauth2",
             "smtp_sasl_mechanism_filter = %s" % mechanism_filter),
            ("relay@example.com", sasl_user),
            ("XOAUTH_AUTH_SOCK=/run/xoauth-agent/postfix/socket", imported),
        )
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("".join("%s = %s\n" % kv for kv in main.items()) + relay)
        master = MASTER_CF.format(listen="127.0.0.1:%d" % self.port)
        if chroot:
            # Debian's own master.cf runs smtp(8) in a chroot jail, the
            # queue directory.
            master = master.replace("smtp      unix  -       -       n",
                                    "smtp      unix  -       -       y")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master)

    def postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", self.conf] + list(args), capture_output=True,
                              text=True, timeout=timeout)

    def start(self):
        r = self.postfix("start")
        if r.returncode != 0:
            raise harness.HarnessError("postfix start: %s%s\n%s" % (r.stdout, r.stderr,
                                                                     self.maillog()))
        harness.wait_for(self._listening, 30, "Postfix's smtpd on port %d" % self.port)

    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                return s.makefile("rb").readline().startswith(b"220 ")
        except OSError:
            return False

    def send(self, subject):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as s:
            s.sendmail(EMAIL, [RCPT], harness.make_message(EMAIL, RCPT, subject=subject))

    def flush(self):
        """Tries the deferred mail again now (postqueue -f)."""
        r = self.postfix("flush")
        if r.returncode != 0:
            raise harness.HarnessError("postfix flush: %s%s" % (r.stdout, r.stderr))

    def maillog(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        self.postfix("stop")
        pid_file = os.path.join(self.queue, "pid", "master.pid")
        try:
            with open(pid_file) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return
        # master ends its children; wait until it is gone.
        harness.wait_for(lambda: not os.path.exists("/proc/%d" % pid), 15,
                         "Postfix's master to end")


class CliEnv:
    """What saslplug.log_in() needs: root's CLI may talk to the user's
    agent, and the agent answers root."""

    def __init__(self, sock, home, log):
        self.env = {"XOAUTH_AUTH_SOCK": sock, "PATH": os.environ.get("PATH", ""),
                    "HOME": home}
        self.log = log


class PostfixRelay(unittest.TestCase):
    """One user running the agent and owning Postfix's processes, one
    provider, one SMTP server; each test runs a Postfix instance of its
    own."""

    @classmethod
    def setUpClass(cls):
        reason = setup_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.box = sysuser.Box("xo-postfix-")
        cls.owner = cls.oidc = cls.faults = cls.smtp = None
        try:
            cls._set_up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _set_up(cls):
        # Postfix's mail_owner, a user of its own; setgid_group is
        # Debian's postdrop, which owns postqueue and postdrop.
        cls.owner = sysuser.TempUser("xopf", cls.box.dir)
        # The plugin where the owner can read it, alone in its directory.
        cls.plugin_dir = cls.box.path("sasl2")
        os.mkdir(cls.plugin_dir, 0o755)
        shutil.copy(saslplug.PLUGIN, cls.plugin_dir)
        cls.oidc = harness.start_oidc(at_ttl=300)
        cls.faults = harness.start_faults(cls.oidc)
        cls.smtp = harness.start_smtp(cls.oidc)
        cls.start_agent()

    @classmethod
    def start_agent(cls):
        home = cls.owner.home
        cls.owner.makedirs(os.path.join(home, ".config", "xoauth"))
        cls.owner.makedirs(os.path.join(home, "run"))
        conf = os.path.join(home, ".config", "xoauth", "config")
        with open(conf, "w") as f:
            f.write(xoagent.account_section("work", cls.oidc, email=EMAIL,
                                            token_endpoint=cls.faults.token_endpoint))
        os.chown(conf, cls.owner.uid, cls.owner.gid)
        cls.sock = os.path.join(home, "run", "agent.sock")
        cls.agent_log = cls.box.path("agent.log")
        env = cls.owner.env(XDG_RUNTIME_DIR=os.path.join(home, "run"),
                            XDG_CONFIG_HOME=os.path.join(home, ".config"),
                            XDG_DATA_HOME=os.path.join(home, ".local", "share"))
        with open(cls.agent_log, "ab") as log:
            cls.agent = cls.owner.popen([cls.box.agent, "-d", "-a", cls.sock], env=env,
                                        stdout=subprocess.PIPE, stderr=log)
        line = cls.agent.stdout.readline().decode()
        if not line.startswith("XOAUTH_AUTH_SOCK="):
            raise harness.HarnessError("agent did not start: %r\n%s" % (line, cls.log_text()))
        cls.cli_env = CliEnv(cls.sock, cls.box.dir, cls.log_text)
        saslplug.log_in(cls.cli_env, "work", EMAIL)

    @classmethod
    def log_text(cls):
        with open(cls.agent_log, errors="replace") as f:
            return f.read()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "agent", None) is not None:
            cls.agent.terminate()
            try:
                cls.agent.wait(10)
            except subprocess.TimeoutExpired:
                cls.agent.kill()
            cls.agent.stdout.close()
        if cls.owner is not None:
            cls.owner.remove()
        for server in (cls.smtp, cls.faults, cls.oidc):
            if server is not None:
                server.stop()
        cls.box.cleanup()

    def xoauth(self, *args):
        p = subprocess.run([xoagent.CLI] + list(args), capture_output=True, text=True,
                           env=self.cli_env.env, timeout=60)
        return harness.Result(p.returncode, p.stdout, p.stderr)

    def relay(self, mechanism_filter, chroot=False, sock=None):
        """A started Postfix instance relaying to smtp.js. chroot: its
        smtp(8) in a chroot jail (the queue directory), where the agent's
        socket is /xoauth/agent.sock. sock: another XOAUTH_AUTH_SOCK."""
        env = {"SASL_PATH": self.plugin_dir,
               "XOAUTH_AUTH_SOCK": sock or ("/xoauth/agent.sock" if chroot else self.sock)}
        env.update(sysuser.sanitizer_preload_env())
        pf = Postfix(self.box, self.owner, SETGID_GROUP, self.smtp.port, EMAIL,
                     mechanism_filter, env, chroot=chroot)
        self.addCleanup(shutil.rmtree, pf.dir, True)
        if chroot:
            # The agent's socket inside the jail: a second name of the same
            # socket stands for an agent listening there (xoauth-agent -a
            # /var/spool/postfix/xoauth/socket).
            jail_dir = os.path.join(pf.queue, "xoauth")
            self.owner.makedirs(jail_dir)
            os.link(self.sock, os.path.join(jail_dir, "agent.sock"))
        self.addCleanup(pf.stop)
        pf.start()
        return pf

    def delivered(self, subject, timeout=30):
        """The message with subject, once smtp.js has it."""
        def find():
            for m in self.smtp.messages():
                if "Subject: " + subject in m["data"]:
                    return m
            return None
        return harness.wait_for(find, timeout, "the relayed message %r" % subject)

    def assert_relayed(self, pf, subject, mechanism):
        try:
            m = self.delivered(subject)
        except harness.HarnessError:
            self.fail("not relayed; maillog:\n%s\nagent:\n%s" % (pf.maillog()[-4000:],
                                                                 self.log_text()[-2000:]))
        self.assertEqual((m["user"], m["mechanism"]), (EMAIL, mechanism))
        self.assertEqual(m["rcpt_to"], [RCPT])

    def test_relay_with_mechanism_filter_xoauth2(self):
        pf = self.relay("xoauth2")
        pf.send("relayed with XOAUTH2")
        self.assert_relayed(pf, "relayed with XOAUTH2", "XOAUTH2")
        self.assertNotIn(self.xoauth("token", "work").stdout.strip(), pf.maillog())

    def test_relay_with_mechanism_filter_oauthbearer(self):
        pf = self.relay("oauthbearer")
        pf.send("relayed with OAUTHBEARER")
        self.assert_relayed(pf, "relayed with OAUTHBEARER", "OAUTHBEARER")

    def test_chrooted_smtp_loads_the_plugin_and_reaches_the_agent_inside_the_jail(self):
        # libsasl2 loads its plugins before smtp(8) enters the jail; the
        # agent's socket must be inside it, named as seen from there.
        pf = self.relay("xoauth2", chroot=True)
        pf.send("relayed from the jail")
        self.assert_relayed(pf, "relayed from the jail", "XOAUTH2")

    def test_no_agent_defers_the_mail_and_the_log_says_why(self):
        n = len(self.smtp.auth_attempts())
        pf = self.relay("xoauth2", sock=self.box.path("no-agent-here"))
        pf.send("no agent")
        harness.wait_for(lambda: "status=deferred" in pf.maillog(), 30,
                         "Postfix to defer the message")
        self.assertIn("SASL authentication failure: xoauth: no agent reachable: no agent "
                      "socket at %s" % self.box.path("no-agent-here"), pf.maillog())
        self.assertEqual(len(self.smtp.auth_attempts()), n, "no token may have gone out")

    def test_refused_token_defers_the_mail_and_the_retry_goes_out_with_a_fresh_one(self):
        # smtp.js refuses OAUTHBEARER with RFC 7628's error challenge (its
        # XOAUTH2, like Microsoft's, says 535 at once: then the plugin
        # hears nothing of the refusal).
        self.faults.reset()
        self.faults.queue("custom", grant_type="refresh_token", status=200,
                          body={"access_token": BAD_TOKEN, "token_type": "Bearer",
                                "expires_in": 3600})
        r = self.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr)
        pf = self.relay("oauthbearer")
        pf.send("deferred once")
        harness.wait_for(lambda: "deferred" in pf.maillog() or "status=sent" in pf.maillog(),
                         30, "Postfix to try the relay")
        log = pf.maillog()
        self.assertIn("status=deferred", log)
        self.assertIn("SASL authentication failed", log)
        self.assertRegex(log, r"SASL authentication problem: xoauth: the server refused the "
                              r"token of relay@example\.com \(.*invalid_token.*\); the agent has "
                              r"refreshed it")
        fresh = self.xoauth("token", "work").stdout.strip()
        self.assertNotEqual(fresh, BAD_TOKEN)
        self.assertTrue(harness.is_access_token_active(self.oidc, fresh))

        pf.flush()
        self.assert_relayed(pf, "deferred once", "OAUTHBEARER")


if __name__ == "__main__":
    unittest.main()
