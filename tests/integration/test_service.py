"""The system units for a service account's agent (contrib/systemd/
xoauth-agent@.socket and xoauth-agent@.service.in, docs/SERVICE.md).

systemd-analyze checks the units.  A container runs no system manager, so
the agent is then started here the way the units start it, read from the
unit files themselves: the socket made as the socket unit makes it (owner,
mode, directory), passed as systemd passes it (LISTEN_FDS), ExecStart's
arguments, the Environment= lines, the state directory, the vault key
handed over as the credential "vault-key" in $CREDENTIALS_DIRECTORY,
readiness reported on NOTIFY_SOCKET, and the process running as the
service user; a client running as that user is then served.  Needs root.
"""

import os
import secrets
import shlex
import shutil
import socket
import subprocess
import time
import unittest

import harness
import sysuser

UNITS = os.path.join(harness.ROOT, "contrib", "systemd")
SERVICE_IN = os.path.join(UNITS, "xoauth-agent@.service.in")
SOCKET_UNIT = os.path.join(UNITS, "xoauth-agent@.socket")
ADD_LOGIN = os.path.join(sysuser.BUILD_DIR, "tests", "add_login")
LIBXOAUTH = os.path.join(sysuser.BUILD_DIR, "client", "libxoauth.so.0")
EMAIL = "webapp@example.com"


def read_unit(path, subst):
    """The unit's [section] -> [(key, value)], with subst applied."""
    with open(path) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace(k, v)
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            out.setdefault(section, [])
            continue
        k, v = line.split("=", 1)
        out[section].append((k.strip(), v.strip()))
    return out


def values(unit, section, key):
    return [v for k, v in unit[section] if k == key]


class ServiceUnits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reason = sysuser.root_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.box = sysuser.Box("xo-svc-")
        cls.user = sysuser.TempUser("xosvc", cls.box.dir)
        cls.etc = cls.box.path("etc")
        cls.state = cls.box.path("state")  # stands for /var/lib (%S)
        cls.run_dir = cls.box.path("run")      # stands for /run
        for d in (cls.etc, os.path.join(cls.etc, "xoauth"), cls.state,
                  cls.run_dir):
            os.mkdir(d, 0o755)
        cls.oidc = None

    @classmethod
    def tearDownClass(cls):
        cls.user.remove()
        if cls.oidc is not None:
            cls.oidc.stop()
        cls.box.cleanup()

    def setUp(self):
        self.procs = []
        self.user.end_processes()
        subst = {"@CMAKE_INSTALL_FULL_BINDIR@": os.path.dirname(self.box.agent),
                 "@CMAKE_INSTALL_FULL_SYSCONFDIR@": self.etc,
                 "%i": self.user.name, "%S": self.state}
        self.service = read_unit(SERVICE_IN, subst)
        self.socket_unit = read_unit(SOCKET_UNIT, subst)
        self.conf = os.path.join(self.etc, "xoauth", "%s.conf" % self.user.name)
        self.key = os.path.join(self.etc, "xoauth",
                                "%s.vault-key" % self.user.name)
        self.log_path = self.box.path("agent-%s.log" % self._testMethodName)
        self.write_conf("")

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        self.user.end_processes()
        shutil.rmtree(os.path.join(self.run_dir, "xoauth-agent"),
                      ignore_errors=True)
        shutil.rmtree(os.path.join(self.state, "xoauth-agent"),
                      ignore_errors=True)
        shutil.rmtree(self.box.path("creds"), ignore_errors=True)
        for f in (self.key,):
            if os.path.exists(f):
                os.unlink(f)

    # -- the units ----------------------------------------------------------

    def test_units_pass_systemd_analyze(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed")
        d = self.box.path("units")
        os.makedirs(d, exist_ok=True)
        with open(SERVICE_IN) as f:
            text = f.read().replace("@CMAKE_INSTALL_FULL_BINDIR@",
                                    os.path.dirname(self.box.agent)) \
                           .replace("@CMAKE_INSTALL_FULL_SYSCONFDIR@", "/etc")
        with open(os.path.join(d, "xoauth-agent@.service"), "w") as f:
            f.write(text)
        shutil.copy(SOCKET_UNIT, d)
        inst = "xoauth-agent@%s" % self.user.name
        r = subprocess.run(
            [analyze, "verify", "--man=no",
             os.path.join(d, inst + ".service"),
             os.path.join(d, inst + ".socket")],
            capture_output=True, text=True, timeout=60)
        # verify complains about what it cannot reach in a container (no
        # system manager, no bus); it must find nothing wrong in the units.
        problems = [l for l in r.stderr.splitlines()
                    if "xoauth-agent@" in l and "bus" not in l.lower()]
        self.assertEqual(problems, [], r.stderr)

    def test_units_say_what_the_service_needs(self):
        # The layout docs/SERVICE.md describes, read from the units.
        s, k = self.service["Service"], self.socket_unit["Socket"]
        self.assertIn(("Type", "notify"), s)
        self.assertIn(("User", self.user.name), s)
        self.assertIn(("ListenStream", "/run/xoauth-agent/%s/socket"
                       % self.user.name), k)
        self.assertIn(("SocketUser", self.user.name), k)
        self.assertIn(("SocketMode", "0600"), k)
        self.assertEqual(values(self.service, "Service", "LoadCredential"),
                         ["vault-key:%s" % self.key])
        for hardening in ("ProtectSystem=strict", "ProtectHome=yes",
                          "PrivateTmp=yes", "NoNewPrivileges=yes",
                          "MemoryDenyWriteExecute=yes", "LimitCORE=0",
                          "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
            self.assertIn(tuple(hardening.split("=", 1)), s)

    # -- the agent started as the units start it ----------------------------

    def write_conf(self, text):
        # Root's file, readable by the service user's group.
        with open(self.conf, "w") as f:
            f.write(text)
        os.chown(self.conf, 0, self.user.gid)
        os.chmod(self.conf, 0o640)

    def make_socket(self):
        """The socket as the socket unit makes it; returns (sock, path)."""
        path = values(self.socket_unit, "Socket", "ListenStream")[0]
        self.assertTrue(path.startswith("/run/"))
        path = os.path.join(self.run_dir, path[len("/run/"):])
        mode = int(values(self.socket_unit, "Socket", "DirectoryMode")[0], 8)
        os.makedirs(os.path.dirname(path), mode)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        owner = values(self.socket_unit, "Socket", "SocketUser")[0]
        self.assertEqual(owner, self.user.name)
        os.chown(path, self.user.uid, self.user.gid)
        os.chmod(path,
                 int(values(self.socket_unit, "Socket", "SocketMode")[0], 8))
        s.listen(16)
        return s, path

    def credentials(self):
        """$CREDENTIALS_DIRECTORY as systemd makes it for LoadCredential=:
        a private directory with a read-only copy of each file, the
        service user's."""
        creds = self.box.path("creds")
        os.mkdir(creds, 0o500)
        for spec in values(self.service, "Service", "LoadCredential"):
            name, src = spec.split(":", 1)
            if not os.path.exists(src):
                continue
            dst = os.path.join(creds, name)
            shutil.copy(src, dst)
            os.chown(dst, self.user.uid, self.user.gid)
            os.chmod(dst, 0o400)
        os.chown(creds, self.user.uid, self.user.gid)
        return creds

    def start(self, expect_ready=True):
        """Runs ExecStart as the service would.  Returns the process."""
        unit = self.service["Service"]
        self.assertEqual(values(self.service, "Service", "User"),
                         [self.user.name])
        for d in values(self.service, "Service", "StateDirectory"):
            self.user.makedirs(os.path.join(self.state, d),
                               int(values(self.service, "Service",
                                          "StateDirectoryMode")[0], 8))
        env = self.user.env()
        for e in values(self.service, "Service", "Environment"):
            k, v = e.split("=", 1)
            env[k] = v
        env["CREDENTIALS_DIRECTORY"] = self.credentials()
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify_path = self.box.path("notify-%s" % secrets.token_hex(3))
        notify.bind(notify_path)
        os.chmod(notify_path, 0o666)
        notify.settimeout(15)
        env["NOTIFY_SOCKET"] = notify_path
        lsock, self.sock_path = self.make_socket()
        argv = shlex.split(dict(unit)["ExecStart"])
        log = open(self.log_path, "ab")
        fd = lsock.fileno()
        # fd 3 is the socket, LISTEN_PID the agent's own pid: exec keeps it.
        move = "" if fd == 3 else "exec 3<&%d %d<&-; " % (fd, fd)
        shell = (move + 'LISTEN_PID=$$ LISTEN_FDS=1; '
                 'export LISTEN_PID LISTEN_FDS; exec "$@"')
        umask = int(dict(unit).get("UMask", "0022"), 8)
        p = self.user.popen(["sh", "-c", shell, "sh"] + argv, env=env,
                            pass_fds=(fd,), stdout=log, stderr=log,
                            umask=umask)
        log.close()
        lsock.close()
        self.procs.append(p)
        try:
            if expect_ready:
                msg = notify.recv(4096).decode()
                self.assertEqual(msg, "READY=1", self.agent_log())
        except socket.timeout:
            self.fail("no READY=1 from the agent:\n" + self.agent_log())
        finally:
            notify.close()
            os.unlink(notify_path)
        return p

    def agent_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def client(self, *args, stdin=None, user=None):
        user = user or self.user
        return user.run([self.box.cli] + list(args), input=stdin,
                        env=user.env(XOAUTH_AUTH_SOCK=self.sock_path))

    def test_the_service_user_is_served_and_nobody_else(self):
        p = self.start()
        with open("/proc/%d/status" % p.pid) as f:
            uid_line = [l for l in f if l.startswith("Uid:")][0]
        self.assertEqual(uid_line.split()[1:], [str(self.user.uid)] * 4)
        r = self.client("status")
        self.assertEqual(r.returncode, 0, r.stderr + self.agent_log())
        self.assertIn("socket from systemd", self.agent_log())
        other = sysuser.TempUser("xoother", self.box.dir)
        try:
            r = self.client("status", user=other)
            self.assertEqual(r.returncode, 2, r.stdout)
            self.assertIn("Permission denied", r.stderr)
        finally:
            other.remove()

    def need_provider(self):
        if not harness.node_modules_present():
            self.skipTest("the test servers' npm packages are missing "
                          "(run scripts/setup)")
        if ServiceUnits.oidc is None:
            ServiceUnits.oidc = harness.start_oidc(at_ttl=600)
        return ServiceUnits.oidc

    def add_account_with_libxoauth(self, oidc):
        """The web application adds an account at run time through
        libxoauth (tests/add_login), and its user signs in."""
        lib = os.path.join(os.path.dirname(self.box.agent), "lib")
        os.makedirs(lib, 0o755, exist_ok=True)
        for src in (ADD_LOGIN, LIBXOAUTH):
            shutil.copy(src, lib)
            os.chmod(os.path.join(lib, os.path.basename(src)), 0o755)
        env = self.user.env(XOAUTH_AUTH_SOCK=self.sock_path,
                            LD_LIBRARY_PATH=lib)
        p = self.user.popen(
            [os.path.join(lib, "add_login"), "mail",
             "provider=generic", "client_id=%s" % harness.CLIENT_ID,
             "token_endpoint=%s" % oidc.token_endpoint,
             "device_authorization_endpoint=%s"
             % oidc.device_authorization_endpoint,
             "scopes=%s" % harness.SCOPE, "flow=device", "email=%s" % EMAIL],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for line in p.stdout:
                if line.startswith("LOGIN "):
                    _, uri, code = line.split()
                    harness.approve_device(uri, code, EMAIL)
                if line.startswith(("LOGGED-IN", "FAIL")):
                    break
            self.assertTrue(line.startswith("LOGGED-IN"),
                            line + p.stderr.read() + self.agent_log())
        finally:
            p.wait(30)
            p.stdout.close()
            p.stderr.close()

    def test_the_vault_key_credential_unlocks_the_agent_at_start(self):
        oidc = self.need_provider()
        # The key file, root's alone: only the service's copy is the user's.
        with open(self.key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(self.key, 0o600)
        self.start()
        self.add_account_with_libxoauth(oidc)
        r = self.client("token", "mail")
        self.assertEqual(r.returncode, 0, r.stderr + self.agent_log())
        # Stopped and started again, unattended: the account and its token
        # come back from the vault in the state directory.
        p = self.procs.pop()
        p.terminate()
        p.wait(10)
        vault = os.path.join(self.state, "xoauth-agent", self.user.name,
                             "xoauth", "vault")
        self.assertTrue(os.path.exists(vault), self.agent_log())
        self.assertEqual(os.stat(vault).st_uid, self.user.uid)
        shutil.rmtree(os.path.join(self.run_dir, "xoauth-agent"))
        shutil.rmtree(self.box.path("creds"))
        self.start()
        r = self.client("token", "mail")
        self.assertEqual(r.returncode, 0, r.stderr + self.agent_log())
        # Another key does not open it: the agent refuses to start.
        p = self.procs.pop()
        p.terminate()
        p.wait(10)
        with open(self.key, "wb") as f:
            f.write(os.urandom(32))
        shutil.rmtree(os.path.join(self.run_dir, "xoauth-agent"))
        shutil.rmtree(self.box.path("creds"))
        p = self.start(expect_ready=False)
        self.assertNotEqual(p.wait(30), 0, self.agent_log())


if __name__ == "__main__":
    unittest.main()
