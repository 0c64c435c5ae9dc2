"""The agent under systemd: socket activation (LISTEN_FDS, driven by
systemd's own systemd-socket-activate) and readiness notification
(NOTIFY_SOCKET), and the units the project ships.  A real `systemd --user`
manager is used when the machine can run one; a container usually cannot,
and then that test is skipped with the reason."""

import os
import shutil
import signal
import socket
import subprocess
import time
import unittest

import harness
import xoagent

ACTIVATE = shutil.which("systemd-socket-activate")
UNITS = os.path.join(harness.ROOT, "contrib", "systemd")


def wait_for_path(path, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


class SocketActivation(unittest.TestCase):
    def setUp(self):
        if ACTIVATE is None:
            self.skipTest("systemd-socket-activate is not installed "
                          "(Debian package systemd)")
        self.env = xoagent.AgentEnv()
        self.sock = os.path.join(self.env.runtime, "activated.sock")
        self.activator = None

    def tearDown(self):
        if self.activator is not None and self.activator.poll() is None:
            self.activator.send_signal(signal.SIGTERM)
            self.activator.wait(10)
        self.env.cleanup()

    def activate(self):
        log = open(self.env.logfile, "ab")
        self.activator = subprocess.Popen(
            [ACTIVATE, "-l", self.sock, xoagent.AGENT, "-d"],
            env=self.env.env, stdout=log, stderr=log)
        log.close()
        self.assertTrue(wait_for_path(self.sock), self.env.log())
        self.env.env["XOAUTH_AUTH_SOCK"] = self.sock

    def test_agent_serves_on_the_socket_systemd_passed(self):
        self.activate()
        # systemd-socket-activate starts the agent on the first connection.
        r = self.env.xoauth("status")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertIn("socket:   " + self.sock, r.stdout)
        self.assertIn("socket from systemd", self.env.log())
        # A second client reaches the same agent.
        self.assertEqual(self.env.xoauth("list").returncode, 0)

    def test_socket_stays_when_the_agent_stops(self):
        self.activate()
        self.assertEqual(self.env.xoauth("status").returncode, 0,
                         self.env.log())
        self.activator.send_signal(signal.SIGTERM)
        self.activator.wait(10)
        # The socket belongs to systemd (the next activation needs it);
        # the agent must not remove it.
        self.assertIn("stopping", self.env.log())
        self.assertTrue(os.path.exists(self.sock))

    def run_with_fds(self, shell_setup):
        """Runs the agent with LISTEN_* set up by a shell snippet."""
        return subprocess.run(
            ["sh", "-c", shell_setup + ' exec "$0" -D', xoagent.AGENT],
            env=self.env.env, capture_output=True, text=True, timeout=20)

    def test_two_sockets_are_refused_with_a_reason(self):
        r = self.run_with_fds("LISTEN_PID=$$ LISTEN_FDS=2; "
                              "export LISTEN_PID LISTEN_FDS;")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("takes exactly one", r.stderr)

    def test_a_passed_file_that_is_no_socket_is_refused(self):
        r = self.run_with_fds("exec 3</dev/null; LISTEN_PID=$$ "
                              "LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS;")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a listening Unix stream socket", r.stderr)

    def test_variables_of_another_process_are_ignored(self):
        # LISTEN_PID names someone else: the agent binds its own socket.
        e = dict(self.env.env, LISTEN_PID="1", LISTEN_FDS="1")
        self.env.env = e
        self.env.start()
        self.assertEqual(self.env.xoauth("status").returncode, 0)
        self.assertNotIn("socket from systemd", self.env.log())


class Notify(unittest.TestCase):
    def setUp(self):
        self.env = xoagent.AgentEnv()
        self.addr = os.path.join(self.env.runtime, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.addr)
        self.notify.settimeout(10)
        self.env.env["NOTIFY_SOCKET"] = self.addr

    def tearDown(self):
        self.notify.close()
        self.env.cleanup()

    def expect(self, state):
        msg = self.notify.recv(4096).decode()
        self.assertEqual(msg, state, self.env.log())

    def test_ready_reloading_and_stopping_are_reported(self):
        self.env.start()
        self.expect("READY=1")
        os.kill(self.env.pid, signal.SIGHUP)
        self.expect("RELOADING=1")
        self.expect("READY=1")
        os.kill(self.env.pid, signal.SIGTERM)
        self.expect("STOPPING=1")


class Units(unittest.TestCase):
    def test_units_pass_systemd_analyze(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed")
        tmp = xoagent.AgentEnv()
        try:
            service = os.path.join(tmp.home, "xoauth-agent.service")
            with open(os.path.join(UNITS, "xoauth-agent.service.in")) as f:
                text = f.read().replace("@CMAKE_INSTALL_FULL_BINDIR@",
                                        os.path.dirname(xoagent.AGENT))
            with open(service, "w") as f:
                f.write(text)
            shutil.copy(os.path.join(UNITS, "xoauth-agent.socket"),
                        tmp.home)
            r = subprocess.run(
                [analyze, "verify", "--user", "--man=no", service,
                 os.path.join(tmp.home, "xoauth-agent.socket")],
                capture_output=True, text=True, env=tmp.env, timeout=60)
            # verify complains about what it cannot reach in a container
            # (no user manager); it must find nothing wrong in the units.
            problems = [l for l in r.stderr.splitlines()
                        if "xoauth-agent." in l and "bus" not in l.lower()]
            self.assertEqual(problems, [], r.stderr)
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
