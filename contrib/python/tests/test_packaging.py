"""The package installs the two ways README.md gives, with nothing from a
package index: `cmake --install` into Debian's dist-packages, and pip from
the tree with Debian's setuptools (pip install --no-build-isolation).

Both use Debian's python3 (/usr/bin/python3, the one scripts/setup
installs pip, setuptools and wheel for, and the one whose path the
install rule aims at), whichever python3 runs the tests.  The build tree
comes from XO_BUILD_DIR (set by ctest).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
sys.path.insert(0, PKG)

import xoauth  # noqa: E402

DEBIAN_PYTHON = "/usr/bin/python3"
BUILD_DIR = os.environ.get("XO_BUILD_DIR")
# What a user of the installed package imports, and the files of it.
MODULES = ["xoauth", "xoauth.protocol", "xoauth.client", "xoauth.errors", "xoauth.smtp",
           "xoauth.imap"]
PROBE = ("import importlib, importlib.metadata, sys\n"
         "for m in sys.argv[1:]: importlib.import_module(m)\n"
         "import xoauth\n"
         "print(xoauth.__file__)\n"
         "print(importlib.metadata.version('xoauth'))\n")


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (argv, p.returncode, p.stdout,
                                                           p.stderr))
    return p.stdout


def probe(site):
    """Imports every module from site alone; returns (file, version)."""
    env = dict(os.environ, PYTHONPATH=site, PYTHONNOUSERSITE="1")
    out = run([DEBIAN_PYTHON, "-s", "-c", PROBE] + MODULES, env=env,
              cwd="/")
    where, version = out.split()
    return where, version


def debian_python_has(*modules):
    # Looked for, not imported: pip imported before setuptools trips
    # setuptools' distutils hack.
    return os.access(DEBIAN_PYTHON, os.X_OK) and subprocess.run(
        [DEBIAN_PYTHON, "-c", "import importlib.util, sys; "
         "sys.exit(any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))"]
        + list(modules), capture_output=True).returncode == 0


class Packaging(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="xo-py-install-")
        self.addCleanup(shutil.rmtree, self.tmp)

    @unittest.skipUnless(BUILD_DIR and shutil.which("cmake"), "needs XO_BUILD_DIR and cmake")
    @unittest.skipUnless(os.access(DEBIAN_PYTHON, os.X_OK), "needs Debian's python3")
    def test_cmake_install_puts_it_where_debians_python3_reads(self):
        dest = os.path.join(self.tmp, "root")
        run(["cmake", "--install", BUILD_DIR, "--component", "python", "--prefix", "/usr"],
            env=dict(os.environ, DESTDIR=dest))
        site = "/usr/lib/python3/dist-packages"
        path = run([DEBIAN_PYTHON, "-c", "import sys; print('\\n'.join(sys.path))"])
        self.assertIn(site, path.split("\n"), "Debian's python3 no longer reads " + site)
        where, version = probe(dest + site)
        self.assertEqual(where, os.path.join(dest + site, "xoauth", "__init__.py"))
        self.assertEqual(version, xoauth.__version__)
        self.assertTrue(os.path.exists(os.path.join(dest + site, "xoauth", "py.typed")))
        # Only the package: no tests, no byte code of the build machine.
        for dirpath, dirnames, filenames in os.walk(dest):
            self.assertNotIn("__pycache__", dirnames)
            self.assertFalse(any(f.startswith("test_") for f in filenames), filenames)

    @unittest.skipUnless(debian_python_has("pip", "setuptools", "wheel") or os.environ.get("CI"),
                         "needs python3-pip, python3-setuptools, python3-wheel (scripts/setup)")
    def test_pip_installs_it_from_the_tree_without_an_index(self):
        # A copy: pip builds in the tree it is given and leaves build/ there.
        src = os.path.join(self.tmp, "src")
        shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("__pycache__", "build",
                                                                "*.egg-info"))
        site = os.path.join(self.tmp, "site")
        run([DEBIAN_PYTHON, "-m", "pip", "install", "--no-build-isolation", "--no-index",
             "--no-deps", "--disable-pip-version-check", "--target", site, src],
            env=dict(os.environ, PIP_NO_INPUT="1"))
        where, version = probe(site)
        self.assertEqual(where, os.path.join(site, "xoauth", "__init__.py"))
        self.assertEqual(version, xoauth.__version__)
        self.assertTrue(os.path.exists(os.path.join(site, "xoauth", "py.typed")))
        self.assertFalse(os.path.exists(os.path.join(site, "tests")))


if __name__ == "__main__":
    unittest.main()
