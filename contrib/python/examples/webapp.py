#!/usr/bin/env python3
"""An example web application on xoauth-agent, standard library only.

An administrator adds a mail account (provider, client id, e-mail
address), sees the device code and the address to enter it at in the
application's own page, approves the login at the provider, and sends a
test mail through the account, all without a config file or a terminal:
the agent holds the tokens, this program holds none.

    eval $(xoauth-agent)
    python3 webapp.py --smtp smtp.office365.com:587      # then open http://127.0.0.1:8025/

Pages:
    GET  /                 the accounts and their state; forms to add an
                           account and to send a test mail
    POST /add              adds the account (ADD) and starts its device
                           login (LOGIN_START), then shows /login
    GET  /login?account=N  the code and the address to enter it at; asks
                           the agent (LOGIN_WAIT, briefly) whether the
                           login has finished, and reloads itself until it
                           has
    POST /send             sends a test mail with smtplib, logged in by
                           xoauth.smtp.login() (XOAUTH2, one retry on 535)
    POST /delete           forgets an account added here (DELETE)

It listens on 127.0.0.1 only: whoever reaches it may add accounts and send
mail.  A real application puts these pages behind its own authentication;
the forms here carry a per-process token against cross-site requests.
"""

import argparse
import html
import http.server
import os
import secrets
import smtplib
import ssl
import sys
import threading
import urllib.parse
from email.message import EmailMessage

try:
    import xoauth
    import xoauth.smtp
except ImportError:  # run from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import xoauth
    import xoauth.smtp

PROVIDERS = ("microsoft", "google", "yahoo", "aol", "fastmail", "yandex", "generic")

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{refresh}
<title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 46em; margin: 2em auto; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .2em .8em; text-align: left; }}
.code {{ font-size: 2em; font-family: monospace; letter-spacing: .1em; }}
.error {{ color: #a00; }} .ok {{ color: #070; }}
label {{ display: block; margin: .4em 0; }}
</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""


def esc(value):
    return html.escape(str(value), quote=True)


class App:
    """What the pages share: where the agent and the SMTP server are, and
    the logins started here (the agent polls the provider by itself; the
    code is shown again until the login ends)."""

    def __init__(self, socket_path, smtp_host, smtp_port, tls, mail_from):
        self.socket_path = socket_path
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.tls = tls
        self.mail_from = mail_from
        self.csrf = secrets.token_urlsafe(24)
        self.logins = {}
        self.lock = threading.Lock()

    def client(self):
        return xoauth.Client(self.socket_path)

    def send_test_mail(self, account, to):
        """Sends one message through the account; returns the address it
        went out from."""
        with self.client() as c:
            sender = self.mail_from or next(
                (a.email for a in c.accounts() if account in (a.name, a.email)), "")
            msg = EmailMessage()
            msg["From"] = sender
            msg["To"] = to
            msg["Subject"] = "Test mail from the xoauth example application"
            msg.set_content("This message was sent by %s with a token from xoauth-agent.\n"
                            % account)
            if self.tls == "ssl":
                smtp = smtplib.SMTP_SSL(self.smtp_host, self.smtp_port, timeout=30,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=30)
            with smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                xoauth.smtp.login(smtp, account, client=c)
                smtp.send_message(msg)
            return sender


def error_text(e):
    """An exception for the page: the agent's words and its status."""
    if isinstance(e, xoauth.Error) and e.status is not None:
        return "%s (status %d, %s)" % (e.message, e.status, type(e).__name__)
    return "%s: %s" % (type(e).__name__, e)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "xoauth-example"
    app = None  # set by main()

    # -- plumbing --------------------------------------------------------------

    def send_page(self, title, body, status=200, refresh=None):
        meta = '\n<meta http-equiv="refresh" content="%d">' % refresh if refresh else ""
        data = PAGE.format(title=esc(title), body=body, refresh=meta).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, where):
        self.send_response(303)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def form(self):
        """The POSTed fields, after the cross-site check; None (and a 403
        sent) when the check fails."""
        n = int(self.headers.get("Content-Length") or 0)
        if n > 65536:
            self.send_page("Too large", "", status=413)
            return None
        fields = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode("utf-8", "replace")))
        if not secrets.compare_digest(fields.get("csrf", ""), self.app.csrf):
            self.send_page("Forbidden", "<p class=error>This form is stale; reload the page.</p>",
                           status=403)
            return None
        return fields

    def hidden(self):
        return '<input type="hidden" name="csrf" value="%s">' % esc(self.app.csrf)

    def log_message(self, fmt, *args):
        # The query strings hold nothing secret, but keep the log short.
        sys.stderr.write("webapp: %s\n" % (fmt % args))

    # -- pages -------------------------------------------------------------------

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/":
            self.page_home(query.get("notice"))
        elif url.path == "/login":
            self.page_login(query.get("account", ""))
        else:
            self.send_page("Not found", "", status=404)

    def do_POST(self):
        fields = self.form()
        if fields is None:
            return
        path = urllib.parse.urlsplit(self.path).path
        if path == "/add":
            self.action_add(fields)
        elif path == "/send":
            self.action_send(fields)
        elif path == "/delete":
            self.action_delete(fields)
        else:
            self.send_page("Not found", "", status=404)

    def page_home(self, notice=None, error=None):
        try:
            accounts = xoauth.accounts(path=self.app.socket_path)
        except xoauth.Error as e:
            self.send_page("Mail accounts", "<p class=error id=error>The agent: %s</p>"
                           % esc(error_text(e)), status=503)
            return
        rows = []
        for a in accounts:
            actions = ""
            if a.state == xoauth.State.ACTIVE or a.state == xoauth.State.IDLE:
                actions += ('<form method=post action="/send">%s'
                            '<input type=hidden name=account value="%s">'
                            '<input name=to value="%s" aria-label="to">'
                            '<button type=submit name=send>Send a test mail</button></form>'
                            % (self.hidden(), esc(a.name), esc(a.email)))
            elif a.state in (xoauth.State.NEED_LOGIN, xoauth.State.REAUTH,
                             xoauth.State.LOGIN_PENDING):
                actions += ('<form method=post action="/add">%s'
                            '<input type=hidden name=relogin value="%s">'
                            '<button type=submit>Log in</button></form>'
                            % (self.hidden(), esc(a.name)))
            actions += ('<form method=post action="/delete">%s'
                        '<input type=hidden name=account value="%s">'
                        '<button type=submit>Delete</button></form>'
                        % (self.hidden(), esc(a.name)))
            rows.append("<tr><td>%s</td><td>%s</td><td>%s</td><td class=state>%s</td>"
                        "<td>%s</td></tr>" % (esc(a.name), esc(a.email), esc(a.provider),
                                              esc(a.state_name), actions))
        body = []
        if notice:
            body.append("<p class=ok id=notice>%s</p>" % esc(notice))
        if error:
            body.append("<p class=error id=error>%s</p>" % esc(error))
        body.append("<table><tr><th>account</th><th>address</th><th>provider</th>"
                    "<th>state</th><th></th></tr>%s</table>" % "".join(rows))
        options = "".join("<option>%s</option>" % p for p in PROVIDERS)
        body.append("""<h2>Add an account</h2>
<form method=post action="/add">%s
<label>Provider <select name=provider>%s</select></label>
<label>Application (client) id <input name=client_id required></label>
<label>E-mail address <input name=email type=email required></label>
<label>Name (optional; the address by default) <input name=name></label>
<label>Tenant (Microsoft; optional) <input name=tenant placeholder="organizations"></label>
<label>Issuer (generic providers: discovery) <input name=issuer placeholder="https://..."></label>
<button type=submit id=add>Add and log in</button>
</form>""" % (self.hidden(), options))
        self.send_page("Mail accounts", "\n".join(body))

    def action_add(self, fields):
        name = fields.get("relogin", "")
        try:
            if not name:
                name = fields.get("name", "").strip() or fields.get("email", "").strip()
                settings = {k: fields[k].strip() for k in
                            ("provider", "client_id", "email", "tenant", "issuer")
                            if fields.get(k, "").strip()}
                settings["flow"] = "device"
                xoauth.add(name, settings, path=self.app.socket_path)
            login = xoauth.login_start(name, "device", path=self.app.socket_path)
        except xoauth.Error as e:
            self.page_home(error=error_text(e))
            return
        with self.app.lock:
            self.app.logins[name] = login
        self.redirect("/login?" + urllib.parse.urlencode({"account": name}))

    def page_login(self, name):
        with self.app.lock:
            login = self.app.logins.get(name)
        if login is None:
            self.redirect("/")
            return
        try:
            # A short wait: the page asks again when it reloads.
            xoauth.login_wait(name, wait=0.5, path=self.app.socket_path)
        except xoauth.LoginPendingError:
            pass
        except xoauth.Error as e:
            with self.app.lock:
                self.app.logins.pop(name, None)
            self.page_home(error="The login of %s failed: %s" % (name, error_text(e)))
            return
        else:
            with self.app.lock:
                self.app.logins.pop(name, None)
            self.redirect("/?" + urllib.parse.urlencode(
                {"notice": "%s is logged in." % name}))
            return
        uri = login.verification_uri_complete or login.verification_uri
        body = """<p>To let this application send mail as <b>%s</b>, open</p>
<p><a id=verification_uri href="%s" target="_blank" rel="noopener">%s</a></p>
<p>and enter the code</p>
<p class=code id=user_code>%s</p>
<p>within %d minutes.  This page reloads until the login is done.</p>""" % (
            esc(name), esc(login.verification_uri), esc(login.verification_uri),
            esc(login.user_code), max(1, login.expires_in // 60))
        if uri != login.verification_uri:
            body += '<p>Or open <a href="%s" target="_blank" rel="noopener">this address</a>, ' \
                    'which has the code filled in.</p>' % esc(uri)
        self.send_page("Log in %s" % name, body, refresh=3)

    def action_send(self, fields):
        account = fields.get("account", "")
        to = fields.get("to", "").strip()
        try:
            sender = self.app.send_test_mail(account, to)
        except (xoauth.Error, smtplib.SMTPException, OSError) as e:
            self.page_home(error="No mail sent: %s" % error_text(e))
            return
        self.redirect("/?" + urllib.parse.urlencode(
            {"notice": "Test mail sent from %s to %s." % (sender, to)}))

    def action_delete(self, fields):
        try:
            xoauth.delete(fields.get("account", ""), path=self.app.socket_path)
        except xoauth.Error as e:
            self.page_home(error=error_text(e))
            return
        self.redirect("/?" + urllib.parse.urlencode({"notice": "Deleted."}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", default="127.0.0.1:8025", metavar="HOST:PORT",
                   help="where to serve the pages (default 127.0.0.1:8025; port 0: any)")
    p.add_argument("--smtp", default="smtp.office365.com:587", metavar="HOST:PORT",
                   help="the SMTP server test mail goes through")
    p.add_argument("--tls", choices=("starttls", "ssl", "none"), default="starttls",
                   help="STARTTLS (default), TLS from the start (port 465), or none "
                        "(a server on this machine only)")
    p.add_argument("--from", dest="mail_from", help="the sender (default: the account's)")
    p.add_argument("--socket", help="the agent's socket (default: $XOAUTH_AUTH_SOCK)")
    args = p.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    smtp_host, _, smtp_port = args.smtp.rpartition(":")
    if args.tls == "none" and smtp_host not in ("127.0.0.1", "::1", "localhost"):
        # The token would cross the network in the clear.
        p.error("--tls none is for an SMTP server on this machine only")
    Handler.app = App(args.socket, smtp_host, int(smtp_port), args.tls, args.mail_from)
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    # The address, for whoever started us (a port of 0 picks one).
    print("listening on http://%s:%d/" % server.server_address[:2], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
