"""The token endpoint over HTTPS, served by our fault injector with
certificates the test makes (harness.TestCA): the account's ca_file names the
test CA, so only the fault makes a certificate wrong. A certificate for
another host name, or one that has expired, fails every refresh: the agent
serves the still-valid token until it expires and never after, backs off,
and says it is the certificate (faultenv.py)."""

import shutil
import tempfile
import unittest

import faultenv
import harness


class CertificateFaults(faultenv.AgentBehindFaults):
    @classmethod
    def setUpClass(cls):
        cls.ca_dir = tempfile.mkdtemp(prefix="xo-ca-")
        cls.ca = harness.TestCA(cls.ca_dir)
        cls.good = cls.ca.issue("good")
        cls.other_host = cls.ca.issue("other-host", names=["DNS:wrong.example"])
        cls.expired = cls.ca.issue("expired", expired=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.ca_dir, ignore_errors=True)

    def tls_certificate(self):
        return self.good.cert, self.good.key, self.ca.cert

    def check_certificate(self, bad, cause):
        # A refresh that meets the bad certificate ends in the handshake,
        # before any request: the tries are the connections faults.js saw.
        self.check_persistent_fault(
            cause, lambda: self.faults.use_certificate(bad.cert, bad.key),
            lambda: self.faults.use_certificate(self.good.cert, self.good.key),
            lambda since: [c for c in self.faults.connections() if c["time"] >= since])

    def test_certificate_for_another_host_is_refused_and_named(self):
        self.check_certificate(self.other_host, r"certificate.*(host ?name|match)")

    def test_expired_certificate_is_refused_and_named(self):
        self.check_certificate(self.expired, r"certificate.*expired")


if __name__ == "__main__":
    unittest.main()
