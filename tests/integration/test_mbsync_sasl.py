"""mbsync (isync) with the SASL plugin: no PassCmd, `AuthMechs XOAUTH2` or
`OAUTHBEARER`, syncing a mailbox from the private Dovecot of
harness.start_imap(), whose oauth2 passdb asks the real provider about
every token. libsasl2 loads the plugin from the build tree ($SASL_PATH);
the plugin gets the token from the real agent.

Dovecot answers a refused token with an error challenge for both
mechanisms; what a user then sees is tested here too: a token the server
refuses (the provider handed out a bad one) makes one run fail and the
next succeed with the token the plugin had the agent refresh; a grant
revoked at the provider makes the next run say "login needed" before any
token goes out."""

import os
import unittest

import harness
import saslplug
import xoagent

EMAIL = "alice@example.com"
SUBJECT = "synced by mbsync with the agent's token"
# A token reply the provider would not give: an access token no server
# accepts (our fault injector hands it to the agent once).
BAD_TOKEN = "not-a-token-the-provider-issued"


def setup_reason():
    reason = saslplug.plugin_reason()
    if reason:
        return reason
    if not saslplug.mbsync_present():
        return "mbsync is not installed (Debian package isync)"
    if not harness.dovecot_present():
        return "needs dovecot-core and dovecot-imapd (scripts/setup)"
    return None


class MbsyncCase(unittest.TestCase):
    """A provider, a Dovecot with one message in alice's INBOX, an agent
    whose account work (alice) has logged in; token_endpoint: faults.js in
    front of the provider's, when the class sets with_faults."""

    with_faults = False

    @classmethod
    def setUpClass(cls):
        reason = setup_reason()
        # Never skipped in CI, where a missing part must fail the run.
        if reason and not os.environ.get("CI"):
            raise unittest.SkipTest(reason)
        cls.oidc = harness.start_oidc(at_ttl=300)
        cls.faults = harness.start_faults(cls.oidc) if cls.with_faults else None
        cls.imap = harness.start_imap(cls.oidc)
        cls.imap.deliver(EMAIL, harness.make_message("bob@example.com", EMAIL,
                                                     subject=SUBJECT))
        cls.env = xoagent.AgentEnv(xoagent.account_section(
            "work", cls.oidc, email=EMAIL,
            token_endpoint=cls.faults.token_endpoint if cls.faults else None))
        cls.env.start()
        cls.login()

    @classmethod
    def login(cls):
        saslplug.log_in(cls.env, "work", EMAIL)

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()
        cls.imap.stop()
        if cls.faults:
            cls.faults.stop()
        cls.oidc.stop()

    def sync(self, mechs, user="work", port=None):
        """A fresh local mailbox synced once; returns (Mbsync, Result)."""
        m = saslplug.Mbsync(port or self.imap.port, user, mechs)
        self.addCleanup(m.cleanup)
        return m, m.run(saslplug.sasl_env(self.env.env))

    def assert_synced(self, m, r):
        self.assertEqual(r.returncode, 0, "%r\n%s" % (r, self.imap.log()[-3000:]))
        msgs = m.messages()
        self.assertEqual(len(msgs), 1, r)
        self.assertIn("Subject: " + SUBJECT, msgs[0])

    def last_login(self, before, listener="both"):
        logins = self.imap.wait_logins(before + 1, listener)
        self.assertEqual(len(logins), before + 1, logins)
        return logins[-1]


class SyncWithThePlugin(MbsyncCase):
    def test_authmechs_xoauth2_syncs_the_inbox(self):
        before = len(self.imap.logins())
        m, r = self.sync("XOAUTH2")
        self.assert_synced(m, r)
        self.assertIn("Authenticating with SASL mechanism XOAUTH2", r.stdout)
        self.assertEqual(self.last_login(before),
                         {"user": EMAIL, "method": "XOAUTH2", "ok": True})

    def test_authmechs_oauthbearer_syncs_the_inbox(self):
        before = len(self.imap.logins())
        m, r = self.sync("OAUTHBEARER")
        self.assert_synced(m, r)
        self.assertIn("Authenticating with SASL mechanism OAUTHBEARER", r.stdout)
        self.assertEqual(self.last_login(before),
                         {"user": EMAIL, "method": "OAUTHBEARER", "ok": True})

    def test_default_authmechs_takes_oauthbearer_where_both_are_offered(self):
        before = len(self.imap.logins())
        m, r = self.sync("*")
        self.assert_synced(m, r)
        self.assertEqual(self.last_login(before)["method"], "OAUTHBEARER")

    def test_a_server_offering_only_xoauth2_gets_it_from_default_authmechs(self):
        before = len(self.imap.logins("xoauth2_only"))
        m, r = self.sync("*", port=self.imap.port_xoauth2_only)
        self.assert_synced(m, r)
        self.assertEqual(self.last_login(before, "xoauth2_only"),
                         {"user": EMAIL, "method": "XOAUTH2", "ok": True})

    def test_user_may_be_the_accounts_address(self):
        m, r = self.sync("XOAUTH2", user=EMAIL)
        self.assert_synced(m, r)

    def test_unknown_account_fails_with_the_agents_words_and_sends_nothing(self):
        before = len(self.imap.logins())
        m, r = self.sync("OAUTHBEARER", user="nobody")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("xoauth: no account 'nobody'", r.stderr)
        self.assertEqual(m.messages(), [])
        self.assertEqual(len(self.imap.logins()), before)

    def test_no_agent_says_so(self):
        env = {k: v for k, v in self.env.env.items() if k != "XOAUTH_AUTH_SOCK"}
        m = saslplug.Mbsync(self.imap.port, "work", "XOAUTH2")
        self.addCleanup(m.cleanup)
        r = m.run(saslplug.sasl_env(env))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("xoauth: no agent reachable: XOAUTH_AUTH_SOCK is not set", r.stderr)


class RefusedToken(MbsyncCase):
    """The agent holds an access token the server refuses (once, from our
    fault injector: a provider handing out a token its mail server does
    not take, or one revoked on the server's side alone, as Microsoft's
    continuous access evaluation does). The grant itself is good."""

    with_faults = True

    def hand_the_agent_a_bad_token(self):
        self.faults.reset()
        self.faults.queue("custom", grant_type="refresh_token", status=200,
                          body={"access_token": BAD_TOKEN, "token_type": "Bearer",
                                "expires_in": 3600})
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertEqual(self.env.token("work"), BAD_TOKEN)

    def refresh_grants(self):
        return [q for q in self.faults.requests() if q["grant_type"] == "refresh_token"]

    def check_first_run_fails_and_the_next_syncs(self, mechs):
        self.hand_the_agent_a_bad_token()
        before = len(self.imap.logins())
        m, r = self.sync(mechs)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertEqual(m.messages(), [])
        self.assertEqual(self.last_login(before),
                         {"user": EMAIL, "method": mechs, "ok": False})
        # The plugin answered Dovecot's error challenge (else mbsync
        # would have reported a SASL error of its own) and had the agent
        # refresh, through the real token endpoint.
        self.assertNotIn("SASL", r.stderr)
        refreshes = self.refresh_grants()
        self.assertEqual(len(refreshes), 2, refreshes)
        self.assertEqual((refreshes[1]["fault"], refreshes[1]["status"]), (None, 200))
        fresh = self.env.token("work")
        self.assertNotEqual(fresh, BAD_TOKEN)
        self.assertTrue(harness.is_access_token_active(self.oidc, fresh))

        m, r = self.sync(mechs)
        self.assert_synced(m, r)
        self.assertEqual(self.last_login(before + 1),
                         {"user": EMAIL, "method": mechs, "ok": True})
        self.assertEqual(len(self.refresh_grants()), 2, "no refresh when nothing was refused")

    def test_xoauth2_refused_once_then_synced_with_the_refreshed_token(self):
        self.check_first_run_fails_and_the_next_syncs("XOAUTH2")

    def test_oauthbearer_refused_once_then_synced_with_the_refreshed_token(self):
        self.check_first_run_fails_and_the_next_syncs("OAUTHBEARER")


class RevokedGrant(MbsyncCase):
    """The grant revoked at the provider (an administrator, or the user's
    security page): oidc-provider drops every token of it. The agent learns
    it from the refresh the plugin asks for."""

    def test_revoked_grant_fails_once_then_says_login_needed_then_a_login_mends_it(self):
        harness.revoke_token(self.oidc, self.env.token("work"), hint="access_token")
        before = len(self.imap.logins())
        m, r = self.sync("XOAUTH2")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertEqual(self.last_login(before)["ok"], False)

        # The next run sends nothing and says what to do.
        m, r = self.sync("XOAUTH2")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("login needed", r.stderr)
        self.assertIn("xoauth login work", r.stderr)
        self.assertEqual(len(self.imap.logins()), before + 1)
        self.assertIn("reauth", self.env.xoauth("list").stdout)

        self.login()
        m, r = self.sync("XOAUTH2")
        self.assert_synced(m, r)


if __name__ == "__main__":
    unittest.main()
