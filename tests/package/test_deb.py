"""The Debian packages, installed into a fresh Debian root.

scripts/package configures a tree of its own for /usr (under the build
tree: package-tree/), builds it and makes the .deb files with cpack.  A
minimal Debian root (debootstrap --variant=minbase, of the release this
machine runs, from the mirrors its apt is configured with) is made once
and cached (XO_PACKAGE_ROOT_CACHE, default ~/.cache/xoauth/ROOT-NAME); each
run lays a throw-away overlay on it, in a mount namespace of this process
alone, so that nothing it installs reaches the cache or the machine.  There
apt installs the packages, pulling in what their Depends name and nothing
else, and the tests run the installed files with chroot: the agent, the
CLI against it, a program built with pkg-config and with find_package.
lintian checks the packages.  Needs root (chroot, mount) and debootstrap;
skipped with the reason otherwise.  The downloaded .deb files are kept in
the cache too, so that runs after the first need no network unless the
mirror has moved on.
"""

import ctypes
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("XO_BUILD_DIR", os.path.join(ROOT, "build"))
PACKAGE_TREE = os.path.join(BUILD_DIR, "package-tree")

# What the tests build with, and saslpluginviewer (sasl2-bin), which lists
# the mechanisms libsasl2 finds, installed in the cached root.  cmake brings
# libraries the packages need too (libcurl4, libuv1, ...), so their being
# there proves nothing: test_depends_bring_every_library_the_files_load
# checks that each library a file loads belongs to a package its own
# Depends name.
BASE_PACKAGES = ["gcc", "libc6-dev", "make", "cmake", "pkg-config",
                 "binutils", "sasl2-bin"]

# lintian's warnings that do not matter here, and why.
LINTIAN_ACCEPTED = {
    # Our changelog closes no Debian bug: these packages are not uploaded.
    "initial-upload-closes-no-bugs":
        "not an upload to Debian",
    # CPack 3.25 writes ldconfig calls into libxoauth0's postinst and
    # postrm, beside the trigger we ship, and cannot be told not to.
    "maintscript-calls-ldconfig":
        "CPack's own maintainer scripts; the trigger is there too",
}

# A program on libxoauth that lists the agent's accounts, and its
# CMakeLists.txt with find_package(xoauth) (shared with
# tests/install/test_install.sh).
USE_DIR = os.path.join(ROOT, "tests", "install", "use_xoauth")

AGENT_CONFIG = """
[account work]
provider = microsoft
tenant = organizations
client_id = 00000000-0000-0000-0000-000000000001
email = alice@example.com
"""

CLONE_NEWNS = 0x00020000
TIMES = {}


def run(argv, check=True, **kw):
    """Runs argv; raises with its output when it fails, if check."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    p = subprocess.run(argv, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d\n%s%s" % (
            " ".join(argv), p.returncode, p.stdout or "", p.stderr or ""))
    return p


def read(path):
    with open(path) as f:
        return f.read()


def timed(name, f, *a, **kw):
    t = time.monotonic()
    try:
        return f(*a, **kw)
    finally:
        TIMES[name] = time.monotonic() - t


def os_release():
    values = {}
    with open("/etc/os-release") as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            values[k] = v.strip('"')
    return values


def apt_sources(codename):
    """The Debian sources this machine's apt uses for its release
    (CODENAME, CODENAME-updates, CODENAME-security), as one-line entries
    with their components."""
    out = run(["apt-get", "indextargets", "--format",
               "$(REPO_URI) $(RELEASE) $(COMPONENT)",
               "Created-By: Packages"]).stdout
    entries = {}
    for line in out.splitlines():
        uri, release, component = line.split()
        if release == codename or release.startswith(codename + "-"):
            entries.setdefault((uri, release), set()).add(component)
    if not any(r == codename for _, r in entries):
        raise unittest.SkipTest("apt has no source for %s configured"
                                % codename)
    return entries


class Root:
    """The cached minimal Debian root, and a throw-away overlay on it."""

    def __init__(self):
        self.codename = os_release().get("VERSION_CODENAME", "bookworm")
        cache = os.environ.get("XO_PACKAGE_ROOT_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME",
                           os.path.expanduser("~/.cache")),
            "xoauth", "debian-%s-root" % self.codename)
        self.cache = cache
        self.base = os.path.join(cache, "root")
        self.archives = os.path.join(cache, "archives")
        self.lock_file = None
        self.tmp = None
        self.path = None

    def lock(self):
        """Holds the cache's lock: another build's run of this test waits
        while this one makes the root or runs apt."""
        os.makedirs(self.cache, exist_ok=True)
        self.lock_file = open(os.path.join(self.cache, "lock"), "w")
        fcntl.flock(self.lock_file, fcntl.LOCK_EX)

    def unlock(self):
        if self.lock_file is not None:
            self.lock_file.close()
            self.lock_file = None

    def make_base(self):
        """debootstraps the cached root, once for each list of packages
        and sources."""
        sources = apt_sources(self.codename)
        recipe = "%r %r\n" % (BASE_PACKAGES, sorted(sources.items()))
        marker = os.path.join(self.base, ".xo-complete")
        if os.path.exists(marker) and read(marker) == recipe:
            return
        shutil.rmtree(self.base, ignore_errors=True)
        mirror = next(uri for uri, r in sources if r == self.codename)
        new = self.base + ".new"
        shutil.rmtree(new, ignore_errors=True)
        os.makedirs(self.archives, exist_ok=True)
        run(["debootstrap", "--variant=minbase", self.codename, new, mirror])
        with open(os.path.join(new, "etc", "apt", "sources.list"), "w") as f:
            for (uri, release), comps in sorted(sources.items()):
                f.write("deb %s %s %s\n" % (uri, release,
                                            " ".join(sorted(comps))))
        self.chroot_in(new, ["apt-get", "update", "-q"])
        self.chroot_in(new, ["apt-get", "install", "-y", "-q",
                             "--no-install-recommends"] + BASE_PACKAGES)
        self.chroot_in(new, ["apt-get", "clean"])
        with open(os.path.join(new, ".xo-complete"), "w") as f:
            f.write(recipe)
        os.rename(new, self.base)

    def chroot_in(self, root, argv, env=None, **kw):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8",
             "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive"}
        e.update(env or {})
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc"))
        return run(["chroot", root] + argv, env=e, **kw)

    def chroot(self, argv, env=None, **kw):
        return self.chroot_in(self.path, argv, env, **kw)

    def open_overlay(self):
        """A writable view of the cached root: an overlay in this
        process's own mount namespace, or else a copy."""
        self.tmp = tempfile.mkdtemp(prefix="xo-deb-root-")
        self.path = os.path.join(self.tmp, "root")
        upper, work = (os.path.join(self.tmp, d) for d in ("upper", "work"))
        for d in (self.path, upper, work):
            os.mkdir(d)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNS) != 0:
            raise AssertionError("unshare(CLONE_NEWNS): %s"
                                 % os.strerror(ctypes.get_errno()))
        # Nothing mounted from here on may reach the machine's namespace.
        run(["mount", "--make-rprivate", "/"])
        p = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            "lowerdir=%s,upperdir=%s,workdir=%s"
                            % (self.base, upper, work), self.path],
                           capture_output=True, text=True)
        self.overlay = p.returncode == 0
        if not self.overlay:
            os.rmdir(self.path)
            run(["cp", "-a", "--reflink=auto", self.base, self.path])
        archives = os.path.join(self.path, "var", "cache", "apt", "archives")
        run(["mount", "--bind", self.archives, archives])
        run(["mount", "-t", "proc", "proc",
             os.path.join(self.path, "proc")])

    def apt_install(self, args):
        """apt-get install in the overlay; when the cached lists are older
        than the mirror (a package gone from it), updates them and tries
        again."""
        argv = ["apt-get", "install", "-y", "-q",
                "--no-install-recommends"] + args
        try:
            return self.chroot(argv)
        except AssertionError:
            self.chroot(["apt-get", "update", "-q"])
            return self.chroot(argv)

    def close(self):
        if self.tmp is None:
            return
        if self.path is not None:
            subprocess.run(["umount", "-R", "-l", self.path],
                           capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


class TestDebianPackages(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root, for chroot and mount")
        for tool in ("debootstrap", "dpkg-deb", "cpack"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest("%s is not installed "
                                        "(scripts/setup installs it)" % tool)
        started = time.monotonic()
        env = dict(os.environ, BUILD_DIR=PACKAGE_TREE)
        out = timed("build the tree and the .deb files", run,
                    [os.path.join(ROOT, "scripts", "package")],
                    env=env).stdout
        cls.debs = sorted(l for l in out.splitlines() if l.endswith(".deb"))
        cls.packages = {}
        for deb in cls.debs:
            name = run(["dpkg-deb", "-f", deb, "Package"]).stdout.strip()
            cls.packages[name] = deb
        cls.root = Root()
        cls.agent_pids = []
        try:
            cls.root.lock()
            try:
                timed("make the cached Debian root", cls.root.make_base)
                timed("lay the overlay", cls.root.open_overlay)
                debdir = os.path.join(cls.root.path, "tmp", "debs")
                os.mkdir(debdir)
                for deb in cls.debs:
                    shutil.copy(deb, debdir)
                cls.install_log = timed(
                    "apt install the packages", cls.root.apt_install,
                    ["/tmp/debs/" + os.path.basename(d)
                     for d in cls.debs]).stdout
            finally:
                cls.root.unlock()
            timed("start the installed agent", cls.start_agent)
        except BaseException:
            cls.tearDownClass()
            raise
        TIMES["setUpClass in all"] = time.monotonic() - started

    @classmethod
    def tearDownClass(cls):
        for pid in getattr(cls, "agent_pids", []):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        cls.root.close()
        sys.stderr.write("\ntimes (s): %s\n" % ", ".join(
            "%s %.1f" % (k, v) for k, v in TIMES.items()))

    @classmethod
    def installed_files(cls, package):
        out = cls.root.chroot(["dpkg-query", "-L", package]).stdout
        return [l for l in out.splitlines() if l.startswith("/")]

    @classmethod
    def elf_files(cls, package):
        return [f for f in cls.installed_files(package)
                if os.path.isfile(cls.root.path + f)
                and not os.path.islink(cls.root.path + f)
                and is_elf(cls.root.path + f)]

    @classmethod
    def ldd(cls, path):
        """The libraries the dynamic linker finds for path, and the names
        it cannot find."""
        out = cls.root.chroot(["ldd", path], check=False).stdout
        found, missing = [], []
        for line in out.splitlines():
            m = re.match(r"\s*(\S+) => (not found|(/\S+))", line)
            if m and m.group(2) == "not found":
                missing.append(m.group(1))
            elif m:
                found.append(m.group(3))
        return found, missing

    @classmethod
    def start_agent(cls, socket="/run/user/0/agent.sock", data=None):
        """Starts the installed agent in the root as `eval $(xoauth-agent)`
        would, with one account in its config; returns its pid."""
        cfg = os.path.join(cls.root.path, "root", ".config", "xoauth")
        os.makedirs(cfg, exist_ok=True)
        with open(os.path.join(cfg, "config"), "w") as f:
            f.write(AGENT_CONFIG)
        os.makedirs(os.path.join(cls.root.path, "run", "user", "0"),
                    mode=0o700, exist_ok=True)
        env = cls.agent_env()
        if data is not None:
            env["XDG_DATA_HOME"] = data
        out = cls.root.chroot(["/usr/bin/xoauth-agent", "-s", "-a", socket],
                              env=env).stdout
        m = re.search(r"XOAUTH_AGENT_PID=(\d+)", out)
        if not m:
            raise AssertionError("no pid from xoauth-agent: %r" % out)
        cls.agent_pids.append(int(m.group(1)))
        return int(m.group(1))

    @classmethod
    def agent_env(cls):
        return {"XDG_RUNTIME_DIR": "/run/user/0",
                "XOAUTH_AUTH_SOCK": "/run/user/0/agent.sock"}

    def build_dir(self, name):
        """A copy of USE_DIR in the root: its path outside and inside."""
        host = os.path.join(self.root.path, "tmp", name)
        shutil.copytree(USE_DIR, host)
        return host, "/tmp/" + name

    # The packages themselves.

    def test_packages_are_made_for_each_part_with_the_project_version(self):
        version = re.search(r"project\(xoauth VERSION ([0-9.]+)",
                            read(os.path.join(ROOT, "CMakeLists.txt")))
        for name, deb in self.packages.items():
            v = run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()
            self.assertEqual(v.split("-")[0], version.group(1), name)
        for name in ("xoauth-agent", "libxoauth0", "libxoauth-dev"):
            self.assertIn(name, self.packages)

    def test_every_file_is_installed_under_usr(self):
        for name, deb in self.packages.items():
            for line in run(["dpkg-deb", "-c", deb]).stdout.splitlines():
                path = line.split()[5]
                self.assertTrue(path == "./" or path.startswith("./usr/"),
                                "%s: %s" % (name, path))
                self.assertFalse(path.startswith("./usr/local"), name)

    def test_files_are_where_debian_looks_for_them(self):
        agent = set(self.installed_files("xoauth-agent"))
        multiarch = self.root.chroot(
            ["gcc", "-print-multiarch"]).stdout.strip()
        for f in ("/usr/bin/xoauth-agent", "/usr/bin/xoauth",
                  "/usr/share/man/man1/xoauth-agent.1.gz",
                  "/usr/share/man/man1/xoauth.1.gz",
                  "/usr/share/man/man5/xoauth.conf.5.gz",
                  "/usr/lib/systemd/user/xoauth-agent.service",
                  "/usr/lib/systemd/user/xoauth-agent.socket",
                  "/usr/lib/systemd/system/xoauth-agent@.service",
                  "/usr/lib/systemd/system/xoauth-agent@.socket",
                  "/usr/share/bash-completion/completions/xoauth",
                  "/usr/share/bash-completion/completions/xoauth-agent",
                  "/usr/share/zsh/vendor-completions/_xoauth"):
            self.assertIn(f, agent)
        dev = set(self.installed_files("libxoauth-dev"))
        for f in ("/usr/include/xoauth/xo.h",
                  "/usr/lib/%s/libxoauth.a" % multiarch,
                  "/usr/lib/%s/libxoauth.so" % multiarch,
                  "/usr/lib/%s/pkgconfig/xoauth.pc" % multiarch,
                  "/usr/lib/%s/cmake/xoauth/xoauthConfig.cmake" % multiarch,
                  "/usr/lib/%s/cmake/xoauth/xoauthConfigVersion.cmake"
                  % multiarch):
            self.assertIn(f, dev)
        self.assertIn("/usr/lib/%s/libxoauth.so.0" % multiarch,
                      self.installed_files("libxoauth0"))
        if "libpam-xoauth" in self.packages:
            module = "/usr/lib/%s/security/pam_xoauth.so" % multiarch
            self.assertIn(module, self.installed_files("libpam-xoauth"))
            # It starts the agent the package installed.
            with open(self.root.path + module, "rb") as f:
                self.assertIn(b"/usr/bin/xoauth-agent\0", f.read())
        # The units run the agent where the package put it.
        with open(self.root.path +
                  "/usr/lib/systemd/user/xoauth-agent.service") as f:
            self.assertIn("ExecStart=/usr/bin/xoauth-agent -D", f.read())

    def test_depends_bring_every_library_the_files_load(self):
        for package in self.packages:
            closure = self.depends_closure(package)
            for f in self.elf_files(package):
                found, missing = self.ldd(f)
                self.assertEqual(missing, [], f)
                for lib in found:
                    owner = self.owner(lib)
                    self.assertIn(owner, closure,
                                  "%s loads %s, of %s, which %s does not "
                                  "depend on" % (f, lib, owner, package))

    def depends_closure(self, package):
        """The package and every package its Depends (and theirs) name,
        as installed in the root."""
        seen, todo = set(), [package]
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            out = self.root.chroot(["dpkg-query", "-W", "-f",
                                    "${Depends},${Pre-Depends}", p],
                                   check=False).stdout
            for alt in out.split(","):
                for dep in alt.split("|"):
                    name = dep.strip().split(" ")[0].split(":")[0]
                    if name:
                        todo.append(name)
        return seen

    def owner(self, path):
        """The package that installed path (following /lib to /usr/lib,
        which are one on a merged-/usr root)."""
        real = os.path.realpath(self.root.path + path)[len(self.root.path):]
        for p in (path, real, re.sub(r"^/usr/lib/", "/lib/", real),
                  re.sub(r"^/lib/", "/usr/lib/", path)):
            out = self.root.chroot(["dpkg-query", "-S", p],
                                   check=False).stdout
            if out:
                return out.split(":")[0]
        return None

    # What runs from the installed files.

    def test_installed_agent_prints_its_version(self):
        out = self.root.chroot(["/usr/bin/xoauth-agent", "-V"]).stdout
        self.assertRegex(out, r"^xoauth-agent \d+\.\d+\.\d+")

    def test_installed_xoauth_lists_the_installed_agents_accounts(self):
        p = self.root.chroot(["xoauth", "list"], env=self.agent_env())
        self.assertRegex(p.stdout, r"(?m)^work +alice@example\.com")

    def test_program_built_with_pkg_config_talks_to_the_agent(self):
        _, d = self.build_dir("pkg-config")
        self.root.chroot(["sh", "-c",
                          "cd %s && cc -Wall -Werror -o use use.c "
                          "$(pkg-config --cflags --libs xoauth)" % d])
        p = self.root.chroot([d + "/use"], env=self.agent_env())
        self.assertEqual(p.stdout, "work\n")
        needed = self.root.chroot(["readelf", "-d", d + "/use"]).stdout
        self.assertIn("libxoauth.so.0", needed)

    def test_program_built_with_find_package_talks_to_the_agent(self):
        _, d = self.build_dir("find-package")
        self.root.chroot(["cmake", "-S", d, "-B", d + "/build"])
        self.root.chroot(["cmake", "--build", d + "/build"])
        for exe, linked in (("use_shared", True), ("use_static", False)):
            p = self.root.chroot([d + "/build/" + exe],
                                 env=self.agent_env())
            self.assertEqual(p.stdout, "work\n", exe)
            needed = self.root.chroot(["readelf", "-d",
                                       d + "/build/" + exe]).stdout
            self.assertEqual("libxoauth.so.0" in needed, linked, exe)

    def test_installed_agent_stops_with_dash_k(self):
        # A second agent, with a vault of its own.
        pid = self.start_agent("/run/user/0/other.sock", "/root/other")
        env = {"XOAUTH_AGENT_PID": str(pid)}
        self.root.chroot(["xoauth-agent", "-k"], env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                os.path.exists("/proc/%d/exe" % pid):
            time.sleep(0.05)
        self.assertFalse(os.path.exists("/proc/%d/exe" % pid))

    def test_python_package_imports_in_the_root(self):
        if "python3-xoauth" not in self.packages:
            self.skipTest("no python component in this tree")
        self.root.chroot(["python3", "-c", "import xoauth"])

    def test_sasl_plugin_is_loaded_by_libsasl2(self):
        if "libsasl2-modules-xoauth" not in self.packages:
            self.skipTest("no sasl component in this tree")
        # Debian's own modules offer neither mechanism: if libsasl2 lists
        # both for a client, it found and loaded ours.
        out = self.root.chroot(["saslpluginviewer", "-c"]).stdout
        mechs = re.findall(r"SASL mechanism: ([A-Z0-9_-]+)", out)
        self.assertIn("XOAUTH2", mechs, out)
        self.assertIn("OAUTHBEARER", mechs, out)

    # Debian's own checks.

    def test_lintian_finds_no_error_and_no_warning_that_matters(self):
        if shutil.which("lintian") is None:
            self.skipTest("lintian is not installed "
                          "(scripts/setup installs it)")
        p = timed("lintian", subprocess.run, ["lintian"] + self.debs,
                  capture_output=True, text=True)
        problems = [l for l in p.stdout.splitlines()
                    if re.match(r"^[EW]: ", l)
                    and l.split()[2] not in LINTIAN_ACCEPTED]
        self.assertEqual(problems, [], p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
