"""The Cyrus SASL plugin (contrib/sasl) step by step: the real libsasl2
loads the plugin from the build tree ($SASL_PATH) into sasl_client, which
drives one exchange through the client API as a mail program does, with
the server's messages given by the test; the plugin gets its tokens from
the real agent, logged in at the real provider. What a real server and
real mail programs make of it is in test_mbsync_sasl.py and
test_postfix_sasl.py."""

import json
import os
import unittest

import harness
import saslplug
import xoagent

EMAIL = "alice@example.com"
# Error challenges as servers send them: Gmail's for XOAUTH2, RFC 7628's
# example for OAUTHBEARER.
GMAIL_CHALLENGE = json.dumps({"status": "401", "schemes": "bearer",
                              "scope": "https://mail.google.com/"}).encode()
RFC7628_CHALLENGE = json.dumps({"status": "invalid_token", "scope": "example_scope",
                                "openid-configuration":
                                "https://example.com/.well-known/openid-configuration"}).encode()


def xoauth2(token, user=EMAIL):
    return b"user=%s\x01auth=Bearer %s\x01\x01" % (user.encode(), token.encode())


class PluginCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reason = saslplug.plugin_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.oidc = harness.start_oidc(at_ttl=120)
        cls.env = xoagent.AgentEnv(
            xoagent.account_section("work", cls.oidc, email=EMAIL)
            + xoagent.account_section("idle", cls.oidc, email="idle@example.com"))
        # A restricted socket too, as one forwarded over ssh -R would be.
        cls.forward = os.path.join(cls.env.home, "forward.sock")
        cls.env.start("-r", cls.forward)
        saslplug.log_in(cls.env, "work", EMAIL)

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()
        cls.oidc.stop()

    def run_exchange(self, mechs, user="work", **kw):
        return saslplug.exchange(self.env.env, mechs, user, **kw)

    def assert_token_not_logged(self, x, token):
        self.assertNotIn(token, x.log)
        self.assertNotIn(token, x.error or "")


class InitialResponse(PluginCase):
    def test_xoauth2_sends_the_agents_token_for_the_account_named_by_the_user(self):
        x = self.run_exchange("XOAUTH2")
        self.assertEqual(x.returncode, 0, x)
        start = x.calls[0]
        self.assertEqual((start["rc"], start["mech"]), (saslplug.SASL_CONTINUE, "XOAUTH2"))
        token = self.env.token("work")
        self.assertEqual(start["out"], xoauth2(token))
        self.assertTrue(harness.is_access_token_active(self.oidc, token))
        self.assert_token_not_logged(x, token)

    def test_the_account_may_be_named_by_its_address(self):
        x = self.run_exchange("XOAUTH2", user=EMAIL)
        self.assertEqual(x.returncode, 0, x)
        self.assertEqual(x.calls[0]["out"], xoauth2(self.env.token("work")))

    def test_oauthbearer_names_the_user_and_the_servers_host_and_port(self):
        x = self.run_exchange("OAUTHBEARER", host="imap.example.com",
                              remote="127.0.0.1;993")
        self.assertEqual(x.returncode, 0, x)
        self.assertEqual(x.calls[0]["mech"], "OAUTHBEARER")
        self.assertEqual(x.calls[0]["out"],
                         b"n,a=alice@example.com,\x01host=imap.example.com\x01port=993"
                         b"\x01auth=Bearer %s\x01\x01" % self.env.token("work").encode())

    def test_oauthbearer_leaves_the_port_out_when_the_program_gives_no_address(self):
        # mbsync and Postfix give libsasl2 the host name only.
        x = self.run_exchange("OAUTHBEARER", host="imap.example.com")
        self.assertEqual(x.returncode, 0, x)
        self.assertEqual(x.calls[0]["out"],
                         b"n,a=alice@example.com,\x01host=imap.example.com"
                         b"\x01auth=Bearer %s\x01\x01" % self.env.token("work").encode())

    def test_oauthbearer_is_picked_over_xoauth2_when_the_server_offers_both(self):
        # Of two equally strong mechanisms libsasl2 prefers the one a
        # plugin lists first: the plugin lists OAUTHBEARER, the standard.
        for offered in ("XOAUTH2 OAUTHBEARER", "OAUTHBEARER XOAUTH2"):
            x = self.run_exchange(offered)
            self.assertEqual(x.returncode, 0, x)
            self.assertEqual(x.calls[0]["mech"], "OAUTHBEARER")

    @unittest.skipUnless(os.path.exists(os.path.join(saslplug.SYSTEM_PLUGIN_DIR, "libplain.so"))
                         or os.environ.get("CI"),
                         "needs Debian's libsasl2-modules (PLAIN, LOGIN; scripts/setup)")
    def test_oauth_is_picked_over_password_mechanisms_when_the_server_offers_both(self):
        # Gmail and Outlook offer PLAIN and LOGIN too. With Debian's
        # plugins loaded as well (libsasl2-modules, and KDE's XOAUTH2 where
        # libsasl2-modules-kdexoauth2 is installed), and a password at hand
        # as mail programs have, libsasl2 still takes the agent's.
        both = saslplug.SYSTEM_PLUGIN_DIR + ":" + saslplug.PLUGIN_DIR
        for mechs, picked in (("PLAIN LOGIN XOAUTH2 OAUTHBEARER", "OAUTHBEARER"),
                              ("LOGIN PLAIN XOAUTH2", "XOAUTH2")):
            x = self.run_exchange(mechs, password="app-password", plugin_dir=both)
            self.assertEqual(x.returncode, 0, x)
            self.assertEqual(x.calls[0]["mech"], picked)
            self.assertTrue(x.calls[0]["out"].endswith(
                b"auth=Bearer %s\x01\x01" % self.env.token("work").encode()))
        # The password mechanisms are there to be picked otherwise.
        x = self.run_exchange("LOGIN PLAIN", password="app-password", plugin_dir=both)
        self.assertIn(x.calls[0]["mech"], ("PLAIN", "LOGIN"))

    def test_the_user_name_may_come_through_an_interaction_prompt(self):
        # mbsync gives the user name when libsasl2 asks (SASL_INTERACT).
        x = self.run_exchange("XOAUTH2", interact=True)
        self.assertEqual(x.returncode, 0, x)
        self.assertEqual(x.calls[0]["out"], xoauth2(self.env.token("work")))

    def test_a_server_that_takes_no_initial_response_gets_it_after_its_empty_challenge(self):
        x = self.run_exchange("XOAUTH2", no_initial=True, steps=[b""])
        self.assertEqual(x.returncode, 0, x)
        self.assertEqual((x.calls[0]["rc"], x.calls[0]["out"]), (saslplug.SASL_CONTINUE, None))
        self.assertEqual(x.calls[1]["out"], xoauth2(self.env.token("work")))

    def test_the_servers_success_ends_the_exchange(self):
        x = self.run_exchange("XOAUTH2", steps=["ok"])
        self.assertEqual(x.returncode, 0, x)
        self.assertEqual(x.calls[1]["rc"], saslplug.SASL_OK)
        self.assertFalse(x.calls[1]["out"])


class Refusal(PluginCase):
    def refused(self, mechs, challenge):
        before = self.env.token("work")
        x = self.run_exchange(mechs, steps=[challenge])
        self.assertEqual(x.returncode, 0, x)
        self.assertEqual(x.calls[1]["rc"], saslplug.SASL_CONTINUE, x)
        return before, x

    def assert_refreshed(self, before, x):
        after = self.env.token("work")
        self.assertNotEqual(after, before, "the agent must hold a new token")
        self.assertTrue(harness.is_access_token_active(self.oidc, after))
        self.assertRegex(x.log, r"log 3 xoauth: the server refused the token of work "
                                r"\(\{.*\}\); the agent has refreshed it")
        self.assert_token_not_logged(x, before)
        self.assert_token_not_logged(x, after)

    def test_xoauth2_answers_the_error_challenge_empty_and_refreshes(self):
        before, x = self.refused("XOAUTH2", GMAIL_CHALLENGE)
        self.assertEqual(x.calls[1]["out"], b"")
        self.assert_refreshed(before, x)

    def test_oauthbearer_answers_the_error_challenge_with_ctrl_a_and_refreshes(self):
        before, x = self.refused("OAUTHBEARER", RFC7628_CHALLENGE)
        self.assertEqual(x.calls[1]["out"], b"\x01")
        self.assert_refreshed(before, x)

    def test_through_a_restricted_socket_the_refusal_is_answered_and_no_refresh_asked(self):
        # A forwarded socket hands out tokens and refuses REFRESH: the
        # exchange still ends cleanly, and the log says why nothing changed.
        before = self.env.token("work")
        env = dict(self.env.env, XOAUTH_AUTH_SOCK=self.forward)
        x = saslplug.exchange(env, "XOAUTH2", "work", steps=[GMAIL_CHALLENGE])
        self.assertEqual(x.returncode, 0, x)
        self.assertEqual(x.calls[0]["out"], xoauth2(before))
        self.assertEqual((x.calls[1]["rc"], x.calls[1]["out"]), (saslplug.SASL_CONTINUE, b""))
        self.assertRegex(x.log, r"log 3 xoauth: the server refused the token of work \(.*\), "
                                r"and the agent could not refresh it: .*token requests only")
        self.assertEqual(self.env.token("work"), before)

    def test_a_server_that_goes_on_after_its_refusal_is_a_protocol_error(self):
        x = self.run_exchange("XOAUTH2", steps=[GMAIL_CHALLENGE, b"more"])
        self.assertEqual(x.returncode, 1, x)
        self.assertEqual(x.calls[2]["rc"], saslplug.SASL_BADPROT)
        self.assertIn("the server went on after refusing the token", x.error)


class AgentFailures(PluginCase):
    def test_no_agent_is_reported_in_the_sasl_error(self):
        env = {k: v for k, v in self.env.env.items() if k != "XOAUTH_AUTH_SOCK"}
        x = saslplug.exchange(env, "XOAUTH2", "work")
        self.assertEqual(x.returncode, 1, x)
        self.assertEqual(x.calls[0]["rc"], saslplug.SASL_UNAVAIL)
        self.assertIn("xoauth: no agent reachable: XOAUTH_AUTH_SOCK is not set", x.error)

    def test_an_account_that_needs_a_login_says_what_to_run(self):
        x = self.run_exchange("XOAUTH2", user="idle")
        self.assertEqual(x.returncode, 1, x)
        self.assertEqual(x.calls[0]["rc"], saslplug.SASL_FAIL)
        self.assertIsNone(x.calls[0]["out"])
        self.assertIn("login needed", x.error)
        self.assertIn("xoauth login idle", x.error)

    def test_an_unknown_account_is_no_such_user(self):
        x = self.run_exchange("OAUTHBEARER", user="nobody@example.com")
        self.assertEqual(x.returncode, 1, x)
        self.assertEqual(x.calls[0]["rc"], saslplug.SASL_NOUSER)
        # (sasl_errdetail() says "user not found" for SASL_NOUSER.)
        self.assertIn("xoauth: no account 'nobody@example.com'", x.error)


if __name__ == "__main__":
    unittest.main()
