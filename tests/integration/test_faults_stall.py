"""A token endpoint that stalls in the middle of its reply (faults.js sends
the head of a token reply and half its body, then nothing): the agent's
own HTTP timeout, 30 s for every transfer (no config key sets it), ends
each try. Meanwhile and after it the still-valid token is served; once it
has expired a token request waits for the try in flight and is refused,
never served the dead token; the agent backs off and names the timeout.
The test takes about a minute: two 30 s tries."""

import re
import subprocess
import time

import faultenv
import harness
import xoagent

HTTP_TIMEOUT = 30


class Stall(faultenv.AgentBehindFaults):
    # Long enough to outlive one stalled try with time to spare.
    AT_TTL = 45

    def test_stall_is_ended_by_the_agents_timeout_and_named(self):
        token = self.token
        issued = self.last_issued()
        since = time.time()
        self.faults.queue("stall", count=-1, seconds=3 * HTTP_TIMEOUT,
                          grant_type="refresh_token")
        refresh = subprocess.Popen([xoagent.CLI, "--wait", "60", "refresh", "work"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=self.env.env)
        self.addCleanup(lambda: refresh.poll() is None and refresh.kill())
        # While the try hangs, the token is served (and good).
        harness.wait_for(lambda: self.refresh_attempts(since), 10, "the stalled try")
        self.assertEqual(self.env.token("work"), token)
        self.assertTrue(harness.is_access_token_active(self.oidc, token))
        out, err = refresh.communicate(timeout=HTTP_TIMEOUT + 30)
        self.assertEqual(refresh.returncode, 1, out + err)
        self.assertRegex(err.decode(), r"(?i)timed out")
        # The agent hung up, at its timeout; faults.js would have held on
        # three times as long.
        first = self.refresh_attempts(since)[0]
        self.assertIsNotNone(first["closed"], first)
        self.assertAlmostEqual(first["closed"] - first["time"], HTTP_TIMEOUT, delta=3)
        self.says(r"timed out")
        # Served until its last quarter (TOKEN's default minimum
        # validity), refused once expired: the request waits for the try
        # in flight, then says why.
        expiry = issued + self.AT_TTL
        while time.time() < expiry - self.AT_TTL / 4 - 1:
            self.assertEqual(self.env.token("work"), token)
            time.sleep(1)
        while time.time() < expiry + 1:
            time.sleep(0.2)
        r = self.env.xoauth("token", "work", timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertRegex(r.stderr, re.compile(r"timed out", re.I))
        self.assertFalse(harness.is_access_token_active(self.oidc, token))
        # One try per timeout plus back-off: two or three so far.
        tries = self.assert_backs_off(self.refresh_attempts(since), 3)
        self.assertGreaterEqual(tries[1]["time"] - first["closed"], 1.5, tries)


if __name__ == "__main__":
    import unittest
    unittest.main()
