"""No token is left in the idle agent's memory in plaintext.

The agent imports a refresh token, hands out an access token and refreshes
(the provider rotates the refresh token); then, while it is idle, the test
reads every readable region of /proc/PID/mem and looks for each token the
agent ever held: the imported refresh token, the refresh tokens and access
tokens it received, as plain bytes. Shielded secrets are encrypted, so
they never match; a match is a copy left in a buffer that was not wiped
(libcurl's receive buffer, OpenSSL's record buffers, a block freed
unwiped, a connection buffer).

The token endpoint is reached over TLS through a small forwarder of this
test's own (a self-signed certificate, given to the agent as ca_file), so
that OpenSSL's buffers are exercised too, and so that the test learns the
tokens the provider sent: the forwarder passes each request to the real
provider unchanged and records the tokens in its replies.

The agent sets PR_SET_DUMPABLE 0, so only root may read its memory.
"""

import os
import re
import signal
import subprocess
import time
import unittest

import harness
import xoagent
from tokenspy import (RecordingTLSForwarder, find_in_memory,
                      readable_regions, sanitized)

EMAIL = "mallory-free@example.com"


@unittest.skipUnless(os.geteuid() == 0,
                     "reading the agent's memory needs root: it sets PR_SET_DUMPABLE 0, "
                     "so /proc/PID/mem is closed to its own user")
class IdleAgentMemory(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=300)
        self.fwd = RecordingTLSForwarder(self.oidc.token_endpoint)
        self.env = xoagent.AgentEnv(xoagent.account_section(
            "work", self.oidc, token_endpoint=self.fwd.url, email=EMAIL,
            extra=["ca_file = %s" % self.fwd.cert]))
        self.env.start()

    def tearDown(self):
        self.env.cleanup()
        self.fwd.stop()
        self.oidc.stop()

    def test_no_token_in_plaintext_while_idle(self):
        imported = harness.get_tokens_by_device(self.oidc, EMAIL)["refresh_token"]
        r = self.env.xoauth("import", "work", stdin=(imported + "\n").encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        first = self.env.token("work")
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        second = self.env.token("work")
        self.assertNotEqual(first, second)

        # The agent really rotated: it received new refresh tokens and the
        # one it was given is dead.
        received = self.fwd.tokens
        refresh = [t for k, t in received if k == "refresh_token"]
        access = [t for k, t in received if k == "access_token"]
        self.assertGreaterEqual(len(refresh), 2, self.env.log())
        # (assertTrue, not assertIn: a failure must not print a token.)
        self.assertTrue(first in access and second in access,
                        "the agent handed out a token it did not receive")
        self.assertFalse(harness.is_refresh_token_active(self.oidc, imported))
        self.assertTrue(harness.is_refresh_token_active(self.oidc, refresh[-1]))

        # Idle: no request in flight, no refresh due for minutes.
        time.sleep(1.0)
        secrets = {t.encode(): "imported refresh token" for t in [imported]}
        for i, t in enumerate(refresh):
            secrets[t.encode()] = "refresh token #%d received" % (i + 1)
        for i, t in enumerate(access):
            secrets[t.encode()] = "access token #%d received" % (i + 1)

        # The scan must be able to see what the agent holds in plain
        # memory, or finding nothing proves nothing: the token endpoint URL
        # from its config is such a string.
        control = self.fwd.url.encode()
        regions, skipped = readable_regions(self.env.pid)
        if not sanitized(self.env.pid):
            self.assertEqual(skipped, [], "regions too large to read")
        found = find_in_memory(self.env.pid, regions, list(secrets) + [control])
        self.assertIn(control, found, "the memory scan found not even the config")
        leaks = ["%s, %d bytes, in %s" % (secrets[n], len(n), "; ".join(regions))
                 for n, regions in found.items() if n != control]
        self.assertEqual(leaks, [], "tokens in the idle agent's memory")


class EagerBinding(unittest.TestCase):
    """The agent's symbols are all bound when it starts: a symbol bound
    lazily, at its first call, has the dynamic linker save every vector
    register on the stack, where pieces of a secret that OpenSSL or memcpy
    left in them then outlive every wipe (an app's client secret was found
    so, once a libuv function was first called after a grant)."""

    def test_agent_is_linked_to_bind_every_symbol_at_start(self):
        out = subprocess.run(["readelf", "-d", xoagent.AGENT], capture_output=True,
                             text=True, check=True).stdout
        flags = [l for l in out.splitlines() if "(FLAGS" in l or "(BIND_NOW)" in l]
        self.assertTrue(any("BIND_NOW" in l or re.search(r"\bNOW\b", l) for l in flags),
                        out)


@unittest.skipUnless(os.geteuid() == 0,
                     "reading the agent's memory needs root: it sets PR_SET_DUMPABLE 0")
class ConfigSecretMemory(unittest.TestCase):
    """A client_secret written in the config file is sealed in the account
    once the agent has read it: no plain copy stays in the config the agent
    keeps, neither after the start nor after a reload, while the secret
    still works at the provider."""

    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=300)
        self.fwd = RecordingTLSForwarder(self.oidc.token_endpoint)
        app_id, self.secret = harness.APP_CLIENT
        self.env = xoagent.AgentEnv("\n".join([
            "[account app]",
            "provider = generic",
            "client_id = %s" % app_id,
            "client_secret = %s" % self.secret,
            "token_endpoint = %s" % self.fwd.url,
            "ca_file = %s" % self.fwd.cert,
            "scopes = %s" % harness.MAIL_SCOPE,
            "flow = client_credentials",
            "email = relay@example.com"]) + "\n")
        self.env.start()

    def tearDown(self):
        self.env.cleanup()
        self.fwd.stop()
        self.oidc.stop()

    def assert_secret_not_in_memory(self):
        control = self.fwd.url.encode()
        regions, _ = readable_regions(self.env.pid)
        found = find_in_memory(self.env.pid, regions,
                               [self.secret.encode(), control])
        self.assertIn(control, found, "the memory scan found not even the config")
        self.assertNotIn(self.secret.encode(), found,
                         "the client secret in plain memory")

    def test_config_client_secret_is_only_held_sealed(self):
        # The secret works: the app's token comes from it.
        token = self.env.token("app")
        self.assertTrue(harness.is_access_token_active(self.oidc, token))
        time.sleep(1.0)
        self.assert_secret_not_in_memory()
        # A reload reads the file, and the secret, again.
        os.kill(self.env.pid, signal.SIGHUP)
        harness.wait_for(lambda: "configuration reloaded" in self.env.log(),
                         10, "the reload")
        r = self.env.xoauth("refresh", "app")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        time.sleep(1.0)
        self.assert_secret_not_in_memory()


if __name__ == "__main__":
    unittest.main()
