"""Logging an smtplib connection in with a token from the agent.

::

    import smtplib, ssl, xoauth.smtp

    with smtplib.SMTP("smtp.office365.com", 587) as s:
        s.starttls(context=ssl.create_default_context())
        xoauth.smtp.login(s, "work")
        s.send_message(msg)

:func:`login` sends ``AUTH XOAUTH2`` (or ``OAUTHBEARER``) with the
agent's ready initial response, answers the server's error challenge as
the mechanism wants, and when the server answers 535 asks the agent for a
freshly refreshed token and tries once more.
"""

from __future__ import annotations

import smtplib
from typing import Optional, Tuple

from . import _sasl
from .client import DEFAULT_TIMEOUT, Client, PathLike

__all__ = ["login"]


def _refused(e: Exception) -> bool:
    # 535: "authentication credentials invalid" (RFC 4954); Microsoft and
    # Google answer a token they no longer take with it.
    return isinstance(e, smtplib.SMTPAuthenticationError) and e.smtp_code == 535


def login(smtp: smtplib.SMTP, account: str, *, mechanism: Optional[str] = None,
          client: Optional[Client] = None, path: Optional[PathLike] = None,
          timeout: float = DEFAULT_TIMEOUT, retry: bool = True) -> Tuple[int, bytes]:
    """Authenticates smtp (connected, after STARTTLS where the server needs
    it) as the account's user with a token from the agent.

    account: the agent's account name or e-mail address.  mechanism:
    "XOAUTH2" or "OAUTHBEARER"; by default XOAUTH2 when the server offers
    it, else OAUTHBEARER.  client: a :class:`~xoauth.Client` to use
    (else one is opened at path or ``$XOAUTH_AUTH_SOCK`` and closed).
    retry: on 535, refresh the token and try once more.

    Returns the server's (code, text), as smtplib.SMTP.login() does.
    Raises smtplib.SMTPNotSupportedError when the server offers neither
    mechanism, smtplib.SMTPAuthenticationError when it refuses, or an
    :class:`xoauth.Error` when the agent cannot give a token (chained to
    the server's refusal when that refusal led to the refresh that
    failed).
    """
    smtp.ehlo_or_helo_if_needed()
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("the server offers no AUTH")
    mech = _sasl.choose(smtp.esmtp_features["auth"].split(), mechanism)
    if mech is None:
        raise smtplib.SMTPNotSupportedError(
            "the server offers neither XOAUTH2 nor OAUTHBEARER (it offers %s)"
            % smtp.esmtp_features["auth"])
    host = getattr(smtp, "_host", "") or ""
    try:
        port = smtp.sock.getpeername()[1] if smtp.sock is not None else 0
    except (OSError, IndexError, TypeError):
        port = 0

    def attempt(c: Client) -> Tuple[int, bytes]:
        tok = _sasl.credential(c, account, mech, host, port)
        code, resp = smtp.docmd("AUTH", "%s %s" % (mech, tok.token))
        if code == 334:
            # The error challenge (RFC 7628 3.2.2; Google's XOAUTH2 does
            # the same): answered, the server sends its final reply.
            answer = _sasl.ERROR_CHALLENGE_ANSWER[mech]
            code, resp = smtp.docmd(_sasl.encoded(answer))
        if code in (235, 503):  # 503: already authenticated
            return code, resp
        raise smtplib.SMTPAuthenticationError(code, resp)

    return _sasl.with_one_retry(account, attempt, _refused, client, path, timeout, retry)
