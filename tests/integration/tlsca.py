"""A certificate authority for the tests, made at run time with the openssl
command line (Debian's openssl package): a CA, and server certificates it
signs, good or wrong on purpose (another host name, expired).

    ca = tlsca.TestCA()                       # in a temporary directory
    good = ca.issue("good")                   # localhost and 127.0.0.1
    other = ca.issue("other", names=["DNS:wrong.example"])
    old = ca.issue("old", expired=True)       # valid only in January 2020
    ... good.cert, good.key (PEM paths), ca.cert for the agent's ca_file
    ca.cleanup()

Keys are P-256: quick to make on a loaded machine.
"""

import os
import shutil
import subprocess
import tempfile
import time

GOOD_NAMES = ("DNS:localhost", "IP:127.0.0.1")


class Issued:
    """A certificate and its key (PEM paths)."""

    def __init__(self, cert, key):
        self.cert = cert
        self.key = key


def _openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (args[0], p.stderr.decode(errors="replace")))


class TestCA:
    """A CA in a temporary directory of its own; cert is its certificate
    (what the agent's ca_file names)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="xo-ca-")
        os.mkdir(os.path.join(self.dir, "db"))
        open(os.path.join(self.dir, "db", "index.txt"), "w").close()
        with open(os.path.join(self.dir, "db", "serial"), "w") as f:
            f.write("01\n")
        # `openssl ca` rather than `openssl x509 -req`: it alone sets any
        # validity period (-startdate, -enddate), which an expired
        # certificate needs.
        with open(os.path.join(self.dir, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = test\n"
                    "[test]\ndatabase = db/index.txt\nnew_certs_dir = db\n"
                    "serial = db/serial\ndefault_md = sha256\npolicy = any\n"
                    "copy_extensions = none\nunique_subject = no\n"
                    "[any]\ncommonName = supplied\n")
        self.cert = os.path.join(self.dir, "ca.pem")
        self.key = os.path.join(self.dir, "ca.key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2",
                 "-subj", "/CN=xoauth-agent test CA", cwd=self.dir)

    def issue(self, name, names=GOOD_NAMES, expired=False):
        """A server certificate for the subjectAltName entries `names`,
        signed by this CA: valid from yesterday for two days, or, expired,
        only in January 2020. Returns an Issued."""
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        cert = os.path.join(self.dir, name + ".pem")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("[ext]\nsubjectAltName = %s\nbasicConstraints = CA:FALSE\n"
                    "extendedKeyUsage = serverAuth\n" % ",".join(names))
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", "/CN=" + name, cwd=self.dir)
        if expired:
            validity = ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"]
        else:
            validity = ["-startdate", _yesterday(), "-days", "2"]
        _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", self.cert, "-keyfile", self.key,
                 "-in", csr, "-out", cert, "-extfile", ext, "-extensions", "ext", "-notext",
                 *validity, cwd=self.dir)
        return Issued(cert, key)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _yesterday():
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() - 86400))
