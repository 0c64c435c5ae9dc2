"""The demo: xoauth-agent doing its real job against a local OpenID provider
and an SMTP server that checks every bearer token (the same servers the
tests use).  Run it through scripts/demo, which builds first."""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import harness  # noqa: E402
import xoagent  # noqa: E402

EMAIL = "demo@example.com"
AT_TTL = 20


def say(text):
    print("\n\033[1m== %s\033[0m" % text, flush=True)


def show(env, *args):
    print("$ xoauth " + " ".join(args), flush=True)
    r = env.xoauth(*args)
    sys.stdout.write(r.stdout)
    sys.stdout.write(r.stderr)
    return r


def main():
    say("Starting a local OpenID provider (access tokens live %d s) and an "
        "SMTP server that checks bearer tokens" % AT_TTL)
    oidc = harness.start_oidc(at_ttl=AT_TTL)
    smtp = harness.start_smtp(oidc)
    print("provider %s, SMTP 127.0.0.1:%d" % (oidc.issuer, smtp.port_xoauth2_only))
    env = xoagent.AgentEnv(xoagent.account_section("demo", oidc))
    try:
        say("eval $(xoauth-agent)   with this ~/.config/xoauth/config:")
        print(open(env.config_path).read())
        env.start()
        print("XOAUTH_AUTH_SOCK=%s\nXOAUTH_AGENT_PID=%d" % (env.sock, env.pid))

        say("xoauth login demo   (device flow; the demo approves the code "
            "in the provider's pages, as you would in a browser)")
        r = xoagent.login_as_user(env, "demo", EMAIL)
        sys.stdout.write(r.stderr)
        if r.returncode != 0:
            raise SystemExit("login failed")

        say("xoauth list")
        show(env, "list")

        say("msmtp with  auth xoauth2  and  passwordeval \"xoauth token demo\"")
        r = harness.run_msmtp(smtp.port_xoauth2_only, EMAIL,
                              '"%s token demo"' % xoagent.CLI, env=env.env)
        msgs = smtp.wait_messages(1)
        print("msmtp exit %s; the server accepted a message from %s via %s"
              % (r.returncode, msgs[-1]["user"], msgs[-1]["mechanism"]))

        say("Waiting for the agent to refresh the token before it expires")
        first = env.token("demo")
        deadline = time.time() + 2 * AT_TTL
        while env.token("demo") == first and time.time() < deadline:
            time.sleep(1)
        second = env.token("demo")
        print("access token changed: %s -> %s (fingerprints)" %
              (harness_fp(first), harness_fp(second)))
        print("the provider says the new token is active: %s" %
              harness.is_access_token_active(oidc, second))
        show(env, "list")
        print("\nfrom the agent's log:")
        for line in env.log().splitlines():
            if "refresh" in line or "logged in" in line:
                print("  " + line)

        say("Sending again with the refreshed token")
        r = harness.run_msmtp(smtp.port_xoauth2_only, EMAIL,
                              '"%s token demo"' % xoagent.CLI, env=env.env)
        smtp.wait_messages(2)
        print("msmtp exit %s; messages delivered: %d" %
              (r.returncode, len(smtp.messages())))

        say("Asking the doctor about the account and the SMTP server")
        show(env, "doctor", "demo", "--smtp",
             "127.0.0.1:%d" % smtp.port_xoauth2_only)

        say("xoauth-agent -k")
        k = subprocess.run([xoagent.AGENT, "-k"], env=env.env,
                           capture_output=True, text=True)
        sys.stdout.write(k.stdout + k.stderr)
        env.proc.wait(10)
        print("\nDemo finished.")
    finally:
        env.cleanup()
        smtp.stop()
        oidc.stop()


def harness_fp(token):
    import hashlib
    return hashlib.sha256(token.encode()).hexdigest()[:8]


if __name__ == "__main__":
    main()
