"""A restricted socket for ssh -R (xoauth-agent -r): it answers token
requests (TOKEN, LIST, QUERY) and refuses every request that manages the
agent, with the reason; the agent's own socket is untouched.  Then the
real thing: a private sshd on 127.0.0.1, `ssh -R` forwarding the
restricted socket, and the CLI on the far side getting a token through it
and being refused a DELETE."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

import harness
import xoagent

EMAIL = "fran@example.com"


def agent_with_forward_socket():
    """A provider, and an agent holding the tokens of account "work" with
    a restricted socket; returns (oidc, env, the socket's path)."""
    oidc = harness.start_oidc(at_ttl=600)
    env = xoagent.AgentEnv(xoagent.account_section("work", oidc, email=EMAIL))
    forward = os.path.join(env.home, "forward.sock")
    env.start("-r", forward)
    tokens = harness.get_tokens_by_device(oidc, EMAIL)
    r = env.xoauth("import", "work", stdin=tokens["refresh_token"].encode())
    if r.returncode != 0:
        raise AssertionError(r.stderr + env.log())
    return oidc, env, forward


class RestrictedSocket(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.oidc, cls.env, cls.forward = agent_with_forward_socket()

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()
        cls.oidc.stop()

    def via_forward(self, *args, stdin=None):
        env = dict(self.env.env, XOAUTH_AUTH_SOCK=self.forward)
        p = subprocess.run([xoagent.CLI] + list(args), env=env, input=stdin,
                           capture_output=True, timeout=30)
        return harness.Result(p.returncode, p.stdout.decode(),
                              p.stderr.decode(), "")

    def test_socket_is_private_and_announced(self):
        self.assertEqual(os.stat(self.forward).st_mode & 0o777, 0o600)
        other = os.path.join(self.env.home, "b-forward.sock")
        # A second agent, with a vault of its own (one agent per vault).
        env = dict(self.env.env, XDG_DATA_HOME=os.path.join(self.env.home,
                                                            "b-data"))
        p = subprocess.Popen([xoagent.AGENT, "-D", "-s", "-a",
                              os.path.join(self.env.home, "b.sock"),
                              "-r", other], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
        try:
            lines = [p.stdout.readline() for _ in range(2)]
            # Serving, so its signal handlers are in place.
            harness.wait_for(lambda: subprocess.run(
                [xoagent.CLI, "list"], capture_output=True,
                env=dict(env, XOAUTH_AUTH_SOCK=os.path.join(
                    self.env.home, "b.sock"))).returncode == 0, 10,
                "the second agent")
        finally:
            p.terminate()
            p.wait(10)
            p.stdout.close()
        self.assertEqual(lines[1], "XOAUTH_FORWARD_SOCK=%s; export "
                         "XOAUTH_FORWARD_SOCK;\n" % other)
        self.assertFalse(os.path.exists(other), "left behind at exit")

    def test_token_requests_are_answered(self):
        r = self.via_forward("token", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertEqual(r.stdout.strip(), self.env.token("work"))
        r = self.via_forward("xoauth2", "work")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.via_forward("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("work", r.stdout)

    def test_management_is_refused_with_the_reason(self):
        for args, stdin in ((("refresh", "work"), None),
                            (("remove", "work"), None),
                            (("import", "work"), b"x\n"),
                            (("delete", "work"), None),
                            (("add", "shop", "--provider", "generic",
                              "--client-id", "x", "--set",
                              "token_endpoint=https://idp.example/token"),
                             None),
                            (("lock",), None),
                            (("doctor", "work"), None),
                            (("export", os.path.join(self.env.home, "x")),
                             b"pass\npass\n")):
            r = self.via_forward(*args, stdin=stdin)
            self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))
            self.assertIn("token requests only", r.stderr, args)
        # Nothing changed: the account and its token are still there,
        # and the agent's own socket still manages it.
        self.assertEqual(self.via_forward("token", "work").returncode, 0)
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr)


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def sshd_present():
    return os.path.exists("/usr/sbin/sshd") and shutil.which("ssh")


@unittest.skipUnless(os.geteuid() == 0 and sshd_present(),
                     "needs root and openssh-server (scripts/setup) for a "
                     "private sshd")
class SshForwarding(unittest.TestCase):
    """ssh -R REMOTE:RESTRICTED to a private sshd on 127.0.0.1, as a user
    would forward the laptop's agent to a server."""

    def setUp(self):
        self.oidc, self.env, self.forward = agent_with_forward_socket()
        self.dir = tempfile.mkdtemp(prefix="xo-sshd-")
        self.port = harness._free_port()
        key = os.path.join(self.dir, "client_key")
        host_key = os.path.join(self.dir, "host_key")
        for path in (key, host_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                            "-f", path], check=True)
        shutil.copy(key + ".pub", os.path.join(self.dir, "authorized_keys"))
        os.makedirs("/run/sshd", exist_ok=True)
        cfg = os.path.join(self.dir, "sshd_config")
        with open(cfg, "w") as f:
            f.write("\n".join([
                "ListenAddress 127.0.0.1", "Port %d" % self.port,
                "HostKey %s" % host_key,
                "AuthorizedKeysFile %s/authorized_keys" % self.dir,
                "PasswordAuthentication no", "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password", "UsePAM no",
                "StrictModes no", "PidFile none",
                "AllowStreamLocalForwarding yes", "StreamLocalBindUnlink yes",
                "LogLevel ERROR"]) + "\n")
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f",
                                      cfg], stderr=subprocess.PIPE)
        harness.wait_for(lambda: port_open(self.port), 10, "sshd")
        self.key = key

    def tearDown(self):
        self.sshd.terminate()
        self.sshd.wait(10)
        self.sshd.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.env.cleanup()
        self.oidc.stop()

    def ssh(self, remote_command):
        remote = os.path.join(self.dir, "remote.sock")
        argv = ["ssh", "-p", str(self.port), "-i", self.key,
                "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=ERROR",
                "-R", "%s:%s" % (remote, self.forward), "root@127.0.0.1",
                remote_command.replace("REMOTE", remote)]
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=60, env=self.env.env)

    def test_remote_server_gets_a_token_and_nothing_else(self):
        r = self.ssh("XOAUTH_AUTH_SOCK=REMOTE %s token work" % xoagent.CLI)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertEqual(r.stdout.strip(), self.env.token("work"))
        r = self.ssh("XOAUTH_AUTH_SOCK=REMOTE %s delete work" % xoagent.CLI)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("token requests only", r.stderr)
        self.assertEqual(self.env.xoauth("token", "work").returncode, 0)


if __name__ == "__main__":
    unittest.main()
