"""The daemon's command line and its socket: ssh-agent's contract, limits
and the peer check.  No provider needed."""

import os
import signal
import socket
import stat
import struct
import subprocess
import time
import unittest

import harness
import xoagent


def frame(msg_type, payload=b""):
    return struct.pack(">IB", len(payload) + 1, msg_type) + payload


def read_frame(sock):
    head = b""
    while len(head) < 5:
        chunk = sock.recv(5 - len(head))
        if not chunk:
            return None, None
        head += chunk
    length, msg_type = struct.unpack(">IB", head)
    body = b""
    while len(body) < length - 1:
        chunk = sock.recv(length - 1 - len(body))
        if not chunk:
            break
        body += chunk
    return msg_type, body


class AgentCommandLine(unittest.TestCase):
    def setUp(self):
        self.env = xoagent.AgentEnv()

    def tearDown(self):
        self.env.cleanup()

    def run_agent(self, *args, env=None):
        e = dict(self.env.env)
        e.update(env or {})
        return subprocess.run([xoagent.AGENT] + list(args), env=e,
                              capture_output=True, text=True, timeout=20)

    def test_eval_output_starts_agent_and_k_stops_it(self):
        r = self.run_agent("-s")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^XOAUTH_AUTH_SOCK=/\S+/xoauth-agent/"
                         r"agent\.\d+; export XOAUTH_AUTH_SOCK;$")
        self.assertRegex(lines[1], r"^XOAUTH_AGENT_PID=\d+; "
                         r"export XOAUTH_AGENT_PID;$")
        self.assertRegex(lines[2], r"^echo Agent pid \d+;$")
        sock = lines[0].split("=", 1)[1].split(";")[0]
        pid = int(lines[1].split("=", 1)[1].split(";")[0])
        self.assertTrue(stat.S_ISSOCK(os.stat(sock).st_mode))
        self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(sock)).st_mode),
                         0o700)
        r = self.run_agent("-k", env={"XOAUTH_AGENT_PID": str(pid)})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("unset XOAUTH_AUTH_SOCK;", r.stdout)
        self.assertIn("echo Agent pid %d killed;" % pid, r.stdout)
        harness.wait_for(lambda: not os.path.exists(sock), 10,
                         "socket removed")

    def test_csh_output_with_c_or_csh_shell(self):
        for args, env in ((["-c"], {}), ([], {"SHELL": "/bin/tcsh"})):
            r = self.run_agent(*args, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout.splitlines()[0],
                             r"^setenv XOAUTH_AUTH_SOCK /\S+;$")
            pid = r.stdout.splitlines()[1].split()[2].rstrip(";")
            k = self.run_agent("-k", "-c", env={"XOAUTH_AGENT_PID": pid})
            self.assertIn("unsetenv XOAUTH_AUTH_SOCK;", k.stdout)

    def test_k_refuses_a_process_that_is_not_an_agent(self):
        sleeper = subprocess.Popen(["sleep", "30"])
        try:
            r = self.run_agent("-k", env={"XOAUTH_AGENT_PID":
                                          str(sleeper.pid)})
            self.assertEqual(r.returncode, 1)
            self.assertIn("not an xoauth-agent", r.stderr)
            self.assertIsNone(sleeper.poll())
        finally:
            sleeper.kill()
            sleeper.wait()

    def test_k_without_pid_variable_fails(self):
        r = self.run_agent("-k")
        self.assertEqual(r.returncode, 1)
        self.assertIn("XOAUTH_AGENT_PID not set", r.stderr)

    def test_command_mode_runs_command_with_variables_and_exits_with_it(self):
        r = self.run_agent("sh", "-c",
                           'test -S "$XOAUTH_AUTH_SOCK" && '
                           'echo "$XOAUTH_AUTH_SOCK" && exit 3')
        self.assertEqual(r.returncode, 3, r.stderr)
        sock = r.stdout.strip()
        # The agent notices its command has gone and removes its socket.
        harness.wait_for(lambda: not os.path.exists(sock), 10,
                         "agent exit after the command")

    def test_version(self):
        r = self.run_agent("-V")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^xoauth-agent \d+\.\d+\.\d+")

    def test_bad_config_names_file_line_and_key(self):
        self.env.write_config("[account work]\nprovider = generic\n"
                              "client_id = x\ntoken_endpoint = "
                              "https://example.com/token\ncolour = blue\n")
        r = self.run_agent("-D")
        self.assertEqual(r.returncode, 1)
        self.assertIn(self.env.config_path + ":5", r.stderr)
        self.assertIn("colour", r.stderr)

    def test_a_binds_the_given_path_and_refuses_an_existing_one(self):
        path = os.path.join(self.env.home, "my.sock")
        self.env.start("-a", path)
        self.assertEqual(self.env.sock, path)
        r = self.run_agent("-D", "-a", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path, r.stderr)


class AgentSocket(unittest.TestCase):
    """Hostile and broken clients are cut off alone."""

    def setUp(self):
        self.env = xoagent.AgentEnv()
        self.env.start()

    def tearDown(self):
        self.env.cleanup()

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.env.sock)
        return s

    def assert_agent_serves(self):
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())

    def test_unknown_message_gets_failure_and_connection_stays(self):
        s = self.connect()
        s.sendall(frame(77))
        t, body = read_frame(s)
        self.assertEqual(t, 129)
        self.assertEqual(struct.unpack(">I", body[:4])[0], 2)
        s.sendall(frame(1, struct.pack(">I", 1)))
        t, body = read_frame(s)
        self.assertEqual(t, 130)
        s.close()

    def test_garbage_closes_only_that_connection(self):
        idle = self.connect()
        bad = self.connect()
        bad.sendall(b"\x00\x00\x00\x00garbage")
        self.assertEqual(read_frame(bad), (None, None))
        self.assert_agent_serves()
        idle.sendall(frame(1, struct.pack(">I", 1)))
        self.assertEqual(read_frame(idle)[0], 130)

    def test_oversized_frame_closes_only_that_connection(self):
        bad = self.connect()
        bad.sendall(struct.pack(">IB", 256 * 1024 + 1, 2))
        self.assertEqual(read_frame(bad), (None, None))
        self.assert_agent_serves()

    def test_truncated_payload_gets_failure(self):
        s = self.connect()
        s.sendall(frame(2, b"\x00\x00\x00\x09ab"))
        t, body = read_frame(s)
        self.assertEqual(t, 129)
        self.assertEqual(struct.unpack(">I", body[:4])[0], 3)

    def test_stalled_client_does_not_block_others(self):
        stalled = self.connect()
        stalled.sendall(b"\x00\x00\x10")  # half a header, then nothing
        for _ in range(3):
            self.assert_agent_serves()
        stalled.close()

    @unittest.skipUnless(os.geteuid() == 0, "needs root to change uid")
    def test_client_with_another_uid_is_refused(self):
        os.chmod(self.env.home, 0o755)
        os.chmod(os.path.dirname(os.path.dirname(self.env.sock)), 0o755)
        os.chmod(os.path.dirname(self.env.sock), 0o755)
        os.chmod(self.env.sock, 0o666)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", xoagent.CLI, "list"],
                           env=self.env.env, capture_output=True, text=True,
                           timeout=20)
        self.assertNotEqual(r.returncode, 0)
        harness.wait_for(lambda: "peer uid 65534" in self.env.log(), 10,
                         "refusal logged")
        self.assert_agent_serves()


@unittest.skipUnless(os.geteuid() == 0 and not os.path.exists("/dev/log"),
                     "needs root and a machine without a syslog daemon, to "
                     "listen at /dev/log in its place")
class DetachedAgentLog(unittest.TestCase):
    """Once detached, the agent's stderr is /dev/null: it logs to syslog,
    as ssh-agent does, so that a refused peer is logged somewhere.  The
    test listens at /dev/log in place of a syslog daemon."""

    def setUp(self):
        self.env = xoagent.AgentEnv()
        self.syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.syslog.bind("/dev/log")
        self.syslog.settimeout(0.2)
        self.lines = []

    def tearDown(self):
        subprocess.run([xoagent.AGENT, "-k"], env=self.env.env,
                           capture_output=True, timeout=20)
        self.syslog.close()
        os.unlink("/dev/log")
        self.env.cleanup()

    def log(self):
        try:
            while True:
                self.lines.append(self.syslog.recv(4096).decode("utf-8",
                                                                "replace"))
        except socket.timeout:
            pass
        return "\n".join(self.lines)

    def test_refused_peer_is_logged_to_syslog(self):
        r = subprocess.run([xoagent.AGENT, "-s"], env=self.env.env,
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        for line in r.stdout.splitlines():
            if "=" in line and line.startswith("XOAUTH_"):
                name, value = line.split(";")[0].split("=", 1)
                self.env.env[name] = value
        sock = self.env.env["XOAUTH_AUTH_SOCK"]
        harness.wait_for(lambda: "listening on" in self.log(), 10,
                         "the agent's start in syslog")
        self.assertIn("xoauth-agent", self.log())
        for d in (self.env.home, self.env.runtime, os.path.dirname(sock)):
            os.chmod(d, 0o755)
        os.chmod(sock, 0o666)
        subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", xoagent.CLI, "list"],
                       env=self.env.env, capture_output=True, timeout=20)
        harness.wait_for(lambda: "refused: peer uid 65534" in self.log(), 10,
                         "the refusal in syslog")


if __name__ == "__main__":
    unittest.main()
