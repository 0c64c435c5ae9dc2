"""Helpers for the tests that need root: a throwaway system user (useradd,
removed afterwards with everything it ran), private copies of the binaries
that user can run, and a catcher for what goes to syslog.

Used by test_pam.py (pam_xoauth under pamtester) and test_service.py (the
agent as a system service's user).
"""

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import xoagent

BUILD_DIR = xoagent.BUILD_DIR
PAM_MODULE = os.path.join(BUILD_DIR, "contrib", "pam", "pam_xoauth.so")


def root_reason():
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (creates a user and PAM service files)"
    for tool in ("useradd", "userdel", "chpasswd"):
        if shutil.which(tool) is None:
            return "%s is not installed (Debian package passwd)" % tool
    return None


def sanitized_build():
    """True when the build under test was made with XO_SANITIZE=ON."""
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
            # CMake's true values, as -DXO_SANITIZE=1 (scripts/build) or
            # =ON leave them in the cache.
            return any(l.strip().split("=", 1)[-1].upper() in
                       ("ON", "1", "TRUE", "YES", "Y")
                       for l in f if l.startswith("XO_SANITIZE:"))
    except OSError:
        return False


def sanitizer_preload_env():
    """The environment a program not built with the sanitizers needs to
    load a module that was (pamtester loading pam_xoauth.so)."""
    if not sanitized_build():
        return {}
    libs = []
    for lib in ("libasan.so", "libubsan.so"):
        p = subprocess.run(["gcc", "-print-file-name=" + lib],
                           capture_output=True, text=True).stdout.strip()
        if os.path.isabs(p):
            libs.append(p)
    # ASan intercepts crypt_r; with libcrypt loaded only later, by
    # pam_unix, the interceptor finds no real crypt_r and calls NULL.
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
              "/usr/lib64", "/lib", "/usr/lib"):
        crypt = os.path.join(d, "libcrypt.so.1")
        if os.path.exists(crypt):
            libs.append(crypt)
            break
    # pamtester and libpam leak by design; that is not ours to report.
    return {"LD_PRELOAD": " ".join(libs),
            "ASAN_OPTIONS": "detect_leaks=0"}


class Box:
    """A temporary directory every user may enter (0755), with copies of
    the agent, the CLI and the PAM module the test user can run: the build
    directory may sit where only root can read."""

    def __init__(self, prefix):
        self.dir = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        os.chmod(self.dir, 0o755)
        bindir = os.path.join(self.dir, "bin")
        os.mkdir(bindir, 0o755)
        self.agent = self._copy(xoagent.AGENT, bindir)
        self.cli = self._copy(xoagent.CLI, bindir)
        self.pam_module = (self._copy(PAM_MODULE, bindir)
                           if os.path.exists(PAM_MODULE) else None)

    @staticmethod
    def _copy(src, bindir):
        dst = os.path.join(bindir, os.path.basename(src))
        shutil.copy(src, dst)
        os.chmod(dst, 0o755)
        return dst

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class TempUser:
    """A system user made for one test class: name, uid, gid, home,
    password (None: no password set).  remove() ends every process the
    user still runs (each by its pid) and deletes the user."""

    def __init__(self, prefix, home_parent, password=None):
        self.name = "%s%s" % (prefix, secrets.token_hex(3))
        self.home = os.path.join(home_parent, self.name)
        self.password = password
        subprocess.run(["useradd", "--no-create-home", "--user-group",
                        "--home-dir", self.home, "--shell", "/bin/sh",
                        self.name], check=True, capture_output=True)
        try:
            pw = pwd.getpwnam(self.name)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            os.mkdir(self.home, 0o700)
            os.chown(self.home, self.uid, self.gid)
            if password is not None:
                # chpasswd reads the password on stdin: never in argv.
                subprocess.run(["chpasswd"], input="%s:%s\n" % (
                    self.name, password), text=True, check=True,
                    capture_output=True)
        except BaseException:
            self.remove()
            raise

    def env(self, **extra):
        e = {"HOME": self.home, "USER": self.name, "LOGNAME": self.name,
             "PATH": "/usr/local/bin:/usr/bin:/bin", "SHELL": "/bin/sh"}
        e.update({k: v for k, v in extra.items() if v is not None})
        return e

    def _as_user(self, kw):
        kw.setdefault("user", self.uid)
        kw.setdefault("group", self.gid)
        kw.setdefault("extra_groups", [])
        kw.setdefault("cwd", self.home)
        return kw

    def run(self, argv, env=None, **kw):
        """Runs argv as the user (no supplementary groups, own HOME)."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(argv, env=env or self.env(),
                              **self._as_user(kw))

    def popen(self, argv, env=None, **kw):
        return subprocess.Popen(argv, env=env or self.env(),
                                **self._as_user(kw))

    def makedirs(self, path, mode=0o700):
        """Makes path (and missing parents) owned by the user."""
        todo = []
        p = path
        while not os.path.exists(p):
            todo.append(p)
            p = os.path.dirname(p)
        for d in reversed(todo):
            os.mkdir(d, mode)
            os.chown(d, self.uid, self.gid)

    def pids(self):
        """The processes the user runs now."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                if os.stat("/proc/" + d).st_uid == self.uid:
                    out.append(int(d))
            except OSError:
                pass
        return out

    def end_processes(self, timeout=5):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + timeout
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.05)
            if not self.pids():
                return

    def remove(self):
        self.end_processes()
        subprocess.run(["userdel", self.name], capture_output=True)
        # userdel keeps a group that is still some user's primary one.
        subprocess.run(["groupdel", self.name], capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


def wait_for(pred, timeout=10, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


class SyslogCatcher:
    """Receives what programs send to syslog, by binding /dev/log while
    no syslog daemon has it (a container usually runs none).  available is
    False when one does: the tests then cannot read the log and say so."""

    PATH = "/dev/log"

    def __init__(self):
        self.available = False
        self.lines = []
        self._lock = threading.Lock()
        self.sock = None
        if os.path.exists(self.PATH):
            return
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.sock.bind(self.PATH)
        except OSError:
            self.sock.close()
            self.sock = None
            return
        os.chmod(self.PATH, 0o666)
        self.sock.settimeout(0.2)
        self._stop = False
        self.available = True
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.lines.append(data.decode("utf-8", "replace"))

    def text(self):
        with self._lock:
            return "\n".join(self.lines)

    def wait_for(self, needle, timeout=10):
        return wait_for(lambda: needle in self.text(), timeout)

    def clear(self):
        with self._lock:
            self.lines = []

    def close(self):
        if self.sock is not None:
            try:
                os.unlink(self.PATH)
            except OSError:
                pass
            self._stop = True
            self._thread.join(2)
            self.sock.close()
            self.sock = None
