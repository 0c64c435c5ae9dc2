"""A token reply whose expires_in is 0, negative, missing or absurd (ten
years), made by faults.js from the real provider's reply (the tokens are
genuine; only expires_in is changed), on every refresh.

What the agent does (xoauth-agent(1), REFRESH): a reply without a usable
expires_in still carries a good token, and with a rotating refresh token
its refresh token is the only one left, so it is taken; the token is
planned with the lifetime the provider gave before (an hour when it never
gave one). A lifetime over a day is planned as a day. Either way it
refreshes at a sane pace, serves no token past the life it planned, and
says what was wrong with the reply."""

import re
import time

import faultenv
import harness

TEN_YEARS = 10 * 365 * 24 * 3600
DAY = 24 * 3600


class ExpiresIn(faultenv.AgentBehindFaults):
    def check_unknown_lifetime(self, **rewrite):
        since = time.time()
        self.faults.queue("rewrite", count=-1, grant_type="refresh_token", **rewrite)
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.says(r"expires_in")
        # The provider's tokens live AT_TTL s, the agent plans with the
        # life they had before: for two lifetimes every token it serves is
        # good at the provider, and it refreshes about twice a lifetime.
        served = set()
        while time.time() < since + 2 * self.AT_TTL + 2:
            token = self.env.token("work")
            self.assertTrue(harness.is_access_token_active(self.oidc, token),
                            self.faults.requests())
            served.add(token)
            time.sleep(1)
        self.assertGreaterEqual(len(served), 3)
        tries = self.assert_backs_off(self.refresh_attempts(since), 8)
        self.assertGreaterEqual(len(tries), 3, tries)
        # The rotated refresh tokens were kept: the grant is alive.
        self.faults.reset()
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertIn("active", self.env.xoauth("list").stdout)

    def test_expires_in_0_plans_with_the_last_lifetime(self):
        self.check_unknown_lifetime(set={"expires_in": 0})

    def test_negative_expires_in_plans_with_the_last_lifetime(self):
        self.check_unknown_lifetime(set={"expires_in": -3600})

    def test_missing_expires_in_plans_with_the_last_lifetime(self):
        self.check_unknown_lifetime(unset=["expires_in"])

    def test_ten_years_is_planned_as_a_day(self):
        self.faults.queue("rewrite", count=1, grant_type="refresh_token",
                          set={"expires_in": TEN_YEARS})
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        doctor = self.says(r"expires_in")
        m = re.findall(r"token refreshed, valid (\d+) s, next refresh in (\d+) s", self.env.log())
        self.assertTrue(m, self.env.log())
        valid, nxt = int(m[-1][0]), int(m[-1][1])
        self.assertEqual(valid, DAY)
        self.assertLessEqual(nxt, DAY * 3 // 4)
        self.assertRegex(doctor, r"valid access token \(for another (\d+) min\)")
        minutes = int(re.search(r"for another (\d+) min", doctor).group(1))
        self.assertLessEqual(minutes, DAY // 60)


if __name__ == "__main__":
    import unittest
    unittest.main()
