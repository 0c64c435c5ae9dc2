"""The notification hook (notify_cmd): it runs once per event when an
account needs the user (a device login waits for its code to be entered,
the provider revoked the grant, the configuration is wrong), with what
happened in its environment and no secret; a hook that hangs is killed at
notify_timeout and the agent serves on meanwhile."""

import glob
import os
import subprocess
import time
import unittest

import harness
import xoagent

EMAIL = "erin@example.com"
APP_ID, APP_SECRET = harness.APP_CLIENT


def hook_writing_to(directory):
    """A notify_cmd that writes its XOAUTH_* environment to a new file in
    directory, one file per run."""
    return ("env | grep '^XOAUTH_' | sort > %s/run.$$.tmp && "
            "mv %s/run.$$.tmp %s/run.$$" % (directory, directory, directory))


def hook_runs(directory):
    """Each run's environment as a dict, oldest first."""
    runs = []
    paths = sorted(glob.glob(os.path.join(directory, "run.*[0-9]")),
                   key=os.path.getmtime)
    for p in paths:
        env = {}
        with open(p) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                env[k] = v
        runs.append(env)
    return runs


class NotifyHook(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=30)
        self.env = xoagent.AgentEnv()
        self.hooks = os.path.join(self.env.home, "hooks")
        self.own_hooks = os.path.join(self.env.home, "own-hooks")
        os.mkdir(self.hooks)
        os.mkdir(self.own_hooks)
        self.login = None

    def tearDown(self):
        if self.login is not None:
            if self.login.poll() is None:
                self.login.kill()
            self.login.communicate()
        self.env.cleanup()
        self.oidc.stop()

    def start(self, config):
        self.env.write_config(config)
        self.env.start()

    def start_login(self, account):
        """Starts `xoauth login ACCOUNT`; returns (uri, code) it shows."""
        self.login = subprocess.Popen([xoagent.CLI, "login", account],
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE,
                                      env=self.env.env)
        uri = code = None
        deadline = time.time() + 20
        while time.time() < deadline and not (uri and code):
            line = self.login.stderr.readline().decode()
            if not line:
                break
            uri, code = xoagent.parse_login_prompt(line, uri, code)
        self.assertTrue(uri and code, self.env.log())
        return uri, code

    def test_login_pending_runs_the_hook_once_with_url_and_code(self):
        self.start("[agent]\nnotify_cmd = %s\n\n" % hook_writing_to(self.hooks)
                   + xoagent.account_section("work", self.oidc, email=EMAIL))
        uri, code = self.start_login("work")
        runs = harness.wait_for(lambda: hook_runs(self.hooks), 10,
                                "the hook's run")
        env = runs[0]
        self.assertEqual(env["XOAUTH_ACCOUNT"], "work")
        self.assertEqual(env["XOAUTH_EMAIL"], EMAIL)
        self.assertEqual(env["XOAUTH_REASON"], "login-pending")
        self.assertEqual(env["XOAUTH_URL"], uri)
        self.assertEqual(env["XOAUTH_USER_CODE"], code)
        self.assertIn(code, env["XOAUTH_MESSAGE"])
        self.assertIn(uri, env["XOAUTH_MESSAGE"])
        self.assertEqual(sorted(env), ["XOAUTH_ACCOUNT", "XOAUTH_EMAIL",
                                       "XOAUTH_MESSAGE", "XOAUTH_REASON",
                                       "XOAUTH_URL", "XOAUTH_USER_CODE"])
        # The agent polls the provider again and again meanwhile; the
        # event is one, and so is the run.
        time.sleep(6)
        self.assertEqual(len(hook_runs(self.hooks)), 1)
        harness.approve_device(uri, code, EMAIL)
        _, err = self.login.communicate(timeout=60)
        self.assertEqual(self.login.returncode, 0, err.decode())
        self.assertEqual(len(hook_runs(self.hooks)), 1)
        # No token of the login reached the hook.
        token = self.env.token("work")
        for env in hook_runs(self.hooks):
            self.assertNotIn(token, "".join(env.values()))

    def test_account_notify_cmd_overrides_the_agents(self):
        self.start("[agent]\nnotify_cmd = %s\n\n" % hook_writing_to(self.hooks)
                   + xoagent.account_section(
                       "own", self.oidc, email=EMAIL,
                       extra=["notify_cmd = %s"
                              % hook_writing_to(self.own_hooks)]))
        self.start_login("own")
        runs = harness.wait_for(lambda: hook_runs(self.own_hooks), 10,
                                "the account's own hook")
        self.assertEqual(runs[0]["XOAUTH_ACCOUNT"], "own")
        time.sleep(0.5)
        self.assertEqual(hook_runs(self.hooks), [])

    def test_revoked_grant_runs_the_hook_once_with_reauth(self):
        self.start("[agent]\nnotify_cmd = %s\n\n" % hook_writing_to(self.hooks)
                   + xoagent.account_section("work", self.oidc, email=EMAIL))
        tokens = harness.get_tokens_by_device(self.oidc, EMAIL)
        first_rt = tokens["refresh_token"]
        r = self.env.xoauth("import", "work", stdin=first_rt.encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        # The agent's refresh rotated the token. Presenting the used one
        # again makes the provider revoke the whole grant (RFC 9700), as
        # if a thief had replayed it.
        status, body = harness.refresh_token_grant(self.oidc, first_rt)
        self.assertEqual(status, 400)
        self.assertEqual(body.get("error"), "invalid_grant")
        self.assertEqual(hook_runs(self.hooks), [])
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 1)
        self.assertIn("login", r.stderr)
        runs = harness.wait_for(lambda: hook_runs(self.hooks), 10,
                                "the reauth hook")
        env = runs[0]
        self.assertEqual(env["XOAUTH_REASON"], "reauth")
        self.assertEqual(env["XOAUTH_ACCOUNT"], "work")
        self.assertEqual(env["XOAUTH_EMAIL"], EMAIL)
        self.assertIn("xoauth login work", env["XOAUTH_MESSAGE"])
        self.assertNotIn("XOAUTH_URL", env)
        self.assertNotIn("XOAUTH_USER_CODE", env)
        # Later requests get the same answer without new runs: no token
        # is served once the provider has revoked the grant.
        for _ in range(3):
            r = self.env.xoauth("refresh", "work")
            self.assertEqual(r.returncode, 1)
            self.assertIn("xoauth login work", r.stderr)
            r = self.env.xoauth("token", "work")
            self.assertEqual(r.returncode, 1)
            self.assertIn("xoauth login work", r.stderr)
        time.sleep(0.5)
        self.assertEqual(len(hook_runs(self.hooks)), 1)
        for env in hook_runs(self.hooks):
            self.assertNotIn(first_rt, "".join(env.values()))

    def test_config_error_runs_the_hook_without_the_secret(self):
        secret_cmd = "echo wrong-secret-9b1c"
        self.start("[agent]\nnotify_cmd = %s\n\n" % hook_writing_to(self.hooks)
                   + "\n".join([
                       "[account relay]", "provider = generic",
                       "client_id = %s" % APP_ID,
                       "token_endpoint = %s" % self.oidc.token_endpoint,
                       "scopes = %s" % harness.MAIL_SCOPE,
                       "flow = client_credentials",
                       "email = relay@example.com",
                       "client_secret_cmd = %s" % secret_cmd]) + "\n")
        runs = harness.wait_for(lambda: hook_runs(self.hooks), 15,
                                "the config-error hook")
        env = runs[0]
        self.assertEqual(env["XOAUTH_REASON"], "config-error")
        self.assertEqual(env["XOAUTH_ACCOUNT"], "relay")
        self.assertIn("does not accept the client", env["XOAUTH_MESSAGE"])
        self.assertNotIn("wrong-secret-9b1c", "".join(env.values()))
        for _ in range(3):
            self.assertEqual(self.env.xoauth("token", "relay").returncode, 1)
        time.sleep(0.5)
        self.assertEqual(len(hook_runs(self.hooks)), 1)

    def test_hanging_hook_is_killed_and_the_agent_serves_on(self):
        marker = "sleep 59.75"
        # It even ignores SIGTERM: SIGKILL must follow.
        self.start("[agent]\nnotify_timeout = 2\n"
                   "notify_cmd = trap '' TERM; echo started > %s/started; %s\n\n"
                   % (self.hooks, marker)
                   + xoagent.account_section("work", self.oidc, email=EMAIL)
                   + xoagent.account_section("other", self.oidc,
                                             email="other@example.com"))
        tokens = harness.get_tokens_by_device(self.oidc, "other@example.com")
        r = self.env.xoauth("import", "other",
                            stdin=tokens["refresh_token"].encode())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.start_login("work")
        harness.wait_for(lambda: os.path.exists(
            os.path.join(self.hooks, "started")), 10, "the hook started")
        self.assertTrue(harness.processes_running(marker))
        # While it hangs, the agent answers.
        t0 = time.monotonic()
        token = self.env.token("other")
        self.assertLess(time.monotonic() - t0, 2)
        self.assertTrue(harness.is_access_token_active(self.oidc, token))
        # 2 s, then SIGTERM (ignored), then SIGKILL after the grace.
        harness.wait_for(lambda: not harness.processes_running(marker), 15,
                         "the hanging hook killed")
        # The agent logs it once it has reaped the process, a moment after
        # the process is gone.
        harness.wait_for(lambda: "did not finish within 2 s and was killed"
                         in self.env.log(), 5, "the kill logged")
        self.assertEqual(self.env.xoauth("list").returncode, 0)

    def test_agent_exit_ends_a_running_hook(self):
        marker = "sleep 58.5"
        self.start("[agent]\nnotify_timeout = 300\nnotify_cmd = %s\n\n"
                   % marker
                   + xoagent.account_section("work", self.oidc, email=EMAIL))
        self.start_login("work")
        harness.wait_for(lambda: harness.processes_running(marker), 10,
                         "the hook running")
        t0 = time.monotonic()
        self.env.stop()
        self.assertLess(time.monotonic() - t0, 5)
        harness.wait_for(lambda: not harness.processes_running(marker), 5,
                         "the hook ended with the agent")


if __name__ == "__main__":
    unittest.main()
