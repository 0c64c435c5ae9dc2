"""An agent whose token endpoint is our fault injector (faults.js) in front
of the real provider, and the checks every provider fault must pass: the
still-valid access token is served while it lasts and never after, the
agent backs off instead of looping, and `xoauth list`, `xoauth status`,
the log and `xoauth doctor` name the cause.

A test case derives from AgentBehindFaults (which has no tests of its own,
so importing it runs none twice)."""

import re
import time
import unittest

import harness
import xoagent

EMAIL = "dave@example.com"


class AgentBehindFaults(unittest.TestCase):
    """setUp: a provider whose access tokens live AT_TTL s, faults.js in
    front of its token endpoint (over HTTPS when tls_certificate() gives a
    certificate), an agent with account "work" through it, and a first
    access token (self.token) got through the proxy."""

    AT_TTL = 20

    def tls_certificate(self):
        """(cert, key, ca_file) for an HTTPS fault injector, or None."""
        return None

    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=self.AT_TTL)
        self.addCleanup(self.oidc.stop)
        tls = self.tls_certificate()
        self.faults = harness.start_faults(self.oidc, tls=tls and tls[:2])
        self.addCleanup(self.faults.stop)
        endpoint = self.faults.token_endpoint
        extra = []
        if tls:
            # The host name the good certificate carries, and its CA: only
            # the fault makes the certificate wrong.
            endpoint = "https://localhost:%d/token" % self.faults.port
            extra.append("ca_file = %s" % tls[2])
        self.env = xoagent.AgentEnv(xoagent.account_section(
            "work", self.oidc, token_endpoint=endpoint, email=EMAIL, extra=extra))
        self.addCleanup(self.env.cleanup)
        self.env.start()
        tokens = harness.get_tokens_by_device(self.oidc, EMAIL)
        r = self.env.xoauth("import", "work", stdin=tokens["refresh_token"].encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.token = self.env.token("work")
        self.assertTrue(harness.is_access_token_active(self.oidc, self.token))

    # ---- what the fault server saw ----

    def refresh_attempts(self, since=0.0):
        return [q for q in self.faults.requests()
                if q.get("grant_type") == "refresh_token" and q["time"] >= since]

    def last_issued(self):
        """When the last real token reply left the proxy (Unix time)."""
        done = [q["done"] for q in self.refresh_attempts()
                if q["status"] == 200 and q["fault"] is None]
        self.assertTrue(done, self.faults.requests())
        return done[-1]

    # ---- what the agent says ----

    def says(self, pattern, *, rc=None):
        """list, status, doctor and the log each name the cause (a regular
        expression, case-insensitive); returns the doctor's output."""
        where = {}
        for cmd in (("list",), ("status",), ("doctor", "work")):
            r = self.env.xoauth(*cmd)
            where[cmd[0]] = r.stdout + r.stderr
        where["log"] = self.env.log()
        for name, text in where.items():
            self.assertRegex(text, re.compile(pattern, re.I),
                             "%s does not name the cause:\n%s" % (name, text))
        return where["doctor"]

    def assert_served_until_expiry_then_refused(self, token, issued, cause):
        """Until the token is about to expire the agent serves it, and the
        provider still takes it; once it has expired the agent serves
        nothing and says why. issued: when the provider issued it."""
        expiry = issued + self.AT_TTL
        served = 0
        # TOKEN's default minimum validity is a quarter of a 20 s life:
        # the agent stops serving the token 5 s before its end.
        while time.time() < expiry - 6:
            self.assertEqual(self.env.token("work"), token)
            self.assertTrue(harness.is_access_token_active(self.oidc, token))
            served += 1
            time.sleep(1)
        self.assertGreater(served, 0, "the fault took too long to set up")
        while time.time() < expiry + 1:
            time.sleep(0.2)
        r = self.env.xoauth("token", "work")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertFalse(harness.is_access_token_active(self.oidc, token))
        self.assertRegex(r.stderr, re.compile(cause, re.I))
        self.assertNotIn("xoauth login", r.stderr)
        return r

    def assert_backs_off(self, tries, most):
        """At most `most` tries (dicts with a "time"), each no sooner than
        1 s after the one before (a hot loop makes hundreds)."""
        self.assertLessEqual(len(tries), most, tries)
        gaps = [b["time"] - a["time"] for a, b in zip(tries, tries[1:])]
        self.assertTrue(all(g >= 1.0 for g in gaps), gaps)
        return tries

    def check_persistent_fault(self, cause, start, lift, attempts, refresh_wait=10):
        """A fault on every refresh from start() until lift(): the agent
        serves the still-valid token, then refuses to serve it expired; it
        backs off (attempts(since) lists the tries the fault met, as dicts
        with a "time"); list, status, the log and the doctor name the cause
        (a regular expression); once lifted a refresh works again. Returns
        the doctor's output."""
        token = self.token
        issued = self.last_issued()
        since = time.time()
        start()
        r = self.env.xoauth("--wait", str(refresh_wait), "refresh", "work",
                            timeout=refresh_wait + 30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, re.compile(cause, re.I))
        self.assertNotIn("xoauth login", r.stderr)
        doctor = self.says(cause)
        # Retrying (or, should a retry be in flight, refreshing).
        self.assertRegex(self.env.xoauth("list").stdout, r"\b(retrying|refreshing)\b")
        self.assertRegex(doctor, r"(?m)^warning +Refreshes of \[account work\] fail")
        self.assert_served_until_expiry_then_refused(token, issued, cause)
        # Back-off doubles from 2 s: within the token's 20 s life, the
        # explicit refresh and about four retries.
        self.assert_backs_off(attempts(since), 7)
        lift()
        r = self.env.xoauth("refresh", "work")
        if r.returncode != 0:
            # A scheduled retry may have met the fault just before lift():
            # the refresh joins that attempt and shares its failure. The
            # next one starts after the lift, and must work.
            r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        fresh = self.env.token("work")
        self.assertNotEqual(fresh, token)
        self.assertTrue(harness.is_access_token_active(self.oidc, fresh))
        self.assertIn("active", self.env.xoauth("list").stdout)
        return doctor

    def check_queued_fault(self, kind, cause, refresh_wait=10, **params):
        """check_persistent_fault() with a fault of faults.js on every
        refresh_token grant."""
        return self.check_persistent_fault(
            cause,
            lambda: self.faults.queue(kind, count=-1, grant_type="refresh_token", **params),
            self.faults.reset, self.refresh_attempts, refresh_wait)
