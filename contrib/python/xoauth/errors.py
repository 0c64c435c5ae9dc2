"""The exceptions of the xoauth package.

Every exception raised by this package is an :class:`Error`.  Two kinds:

- the agent answered with a ``FAILURE`` (:class:`AgentError` and its
  subclasses): ``status`` is the agent's stable status code
  (proto/PROTOCOL.md, section 5) and ``message`` its one-line explanation;
  programs decide on the class or on ``status``, people read ``message``;
- something went wrong on this side of the socket: no agent to talk to
  (:class:`NoAgentError`), the connection broke or the agent did not answer
  in time (:class:`TransportError`), the agent spoke something this client
  cannot use (:class:`ProtocolError`), or the caller passed a value the
  protocol cannot carry (:class:`InvalidArgumentError`, also a
  ``ValueError``).  Their ``status`` is ``None``.

The agent's statuses are grouped in families with a base class each:
:class:`AccountError` (4, 18, 19), :class:`LoginError` (5, 11, 12, 13, 16,
17), :class:`ProviderError` (6, 8) and :class:`VaultError` (9, 20, 21, 22).
A status this client does not know becomes a plain :class:`AgentError`, as
the protocol asks (it is treated as status 1).
"""

from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = [
    "Error", "NoAgentError", "TransportError", "ProtocolError",
    "InvalidArgumentError", "AgentError", "InternalError", "RequestError",
    "UnsupportedMessageError", "BadRequestError", "AccountError",
    "NoSuchAccountError", "AccountExistsError", "AccountConfiguredError",
    "LoginError", "LoginNeededError", "LoginPendingError", "LoginDeniedError",
    "LoginExpiredError", "UnsupportedFlowError", "LoginMismatchError",
    "ProviderError", "RefreshFailedError", "ProviderConfigError",
    "AgentTimeoutError", "BusyError", "VersionError", "ConfigError",
    "VaultError", "LockedError", "WrongPassphraseError", "VaultUnusableError",
    "NoVaultError", "RestrictedError", "SendError", "SendRefusedError",
    "RecipientRefusedError", "SendTempFailError", "SendAuthError",
    "MessageError", "STATUS_MESSAGES", "error_for_status",
]


class Error(Exception):
    """Any failure of this package.

    Attributes: ``message`` (one line, for people) and ``status`` (the
    agent's status code when the agent said so, else ``None``).
    """

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def agent_said(self) -> bool:
        """True when the error is the agent's answer (a FAILURE reply)."""
        return self.status is not None

    def __str__(self) -> str:
        return self.message


# -- this side of the socket ------------------------------------------------

class NoAgentError(Error):
    """No agent is reachable: XOAUTH_AUTH_SOCK is not set, nothing listens
    at the socket, or the process listening there belongs to another user
    (the client refuses to talk to it, as libxoauth does)."""


class TransportError(Error):
    """The connection broke, or the agent did not answer in time.  The
    connection is closed: a late reply would pair with the wrong request."""


class ProtocolError(Error):
    """The agent sent something this client cannot use: a frame over the
    256 KiB cap, an empty frame, a malformed or unexpected reply, another
    protocol version.  The connection is closed."""


class InvalidArgumentError(Error, ValueError):
    """A value the protocol cannot carry: an empty account name, a string
    over 64 KiB or holding a NUL byte, a port above 65535..."""


# -- the agent's FAILURE replies --------------------------------------------

class AgentError(Error):
    """The agent answered with a FAILURE; ``status`` says which.  Also what a
    status this client does not know becomes.

    ``STATUS``, on each subclass, is the status code it stands for.
    """

    STATUS: int = 1


class InternalError(AgentError):
    """Status 1: an internal or unclassified failure of the agent."""

    STATUS = 1


class RequestError(AgentError):
    """The agent could not take the request itself (statuses 2 and 3)."""


class UnsupportedMessageError(RequestError):
    """Status 2: the agent does not know the request type."""

    STATUS = 2


class BadRequestError(RequestError):
    """Status 3: the request was malformed, or a value out of range (e.g. a
    min_valid longer than the provider's tokens live)."""

    STATUS = 3


class AccountError(AgentError):
    """About which accounts exist (statuses 4, 18, 19)."""


class NoSuchAccountError(AccountError):
    """Status 4: no account of that name or address."""

    STATUS = 4


class AccountExistsError(AccountError):
    """Status 18: ADD named an account or address that is taken."""

    STATUS = 18


class AccountConfiguredError(AccountError):
    """Status 19: DELETE named an account of the config file."""

    STATUS = 19


class LoginError(AgentError):
    """About logging in (statuses 5, 11, 12, 13, 16, 17)."""


class LoginNeededError(LoginError):
    """Status 5: no usable refresh token (never logged in, or the provider
    revoked the grant): someone must log in again."""

    STATUS = 5


class LoginPendingError(LoginError):
    """Status 11: the user has not finished the login yet; ask again."""

    STATUS = 11


class LoginDeniedError(LoginError):
    """Status 12: the user refused the login."""

    STATUS = 12


class LoginExpiredError(LoginError):
    """Status 13: the login code expired before it was used."""

    STATUS = 13


class UnsupportedFlowError(LoginError):
    """Status 16: the account's provider refuses that login flow."""

    STATUS = 16


class LoginMismatchError(LoginError):
    """Status 17: the response handed back does not belong to this login."""

    STATUS = 17


class ProviderError(AgentError):
    """The provider failed or refused (statuses 6 and 8)."""


class RefreshFailedError(ProviderError):
    """Status 6: the provider could not be reached or replied badly, and no
    valid token is left."""

    STATUS = 6


class ProviderConfigError(ProviderError):
    """Status 8: the provider rejected the client configuration
    (invalid_client, unauthorized_client, invalid_scope...)."""

    STATUS = 8


class AgentTimeoutError(AgentError):
    """Status 7: the agent's own wait (for a refresh, a login) ended before
    the result was ready.  A local time-out is a TransportError."""

    STATUS = 7


class BusyError(AgentError):
    """Status 10: the agent had no room for the connection (the client has
    already tried again a few times)."""

    STATUS = 10


class VersionError(AgentError):
    """Status 14, or an agent speaking another protocol version."""

    STATUS = 14


class ConfigError(AgentError):
    """Status 15: the agent's configuration, or the settings given to ADD,
    are wrong (the message names the key)."""

    STATUS = 15


class VaultError(AgentError):
    """About the agent's vault (statuses 9, 20, 21, 22)."""


class LockedError(VaultError):
    """Status 9: the agent is locked; unlock it first."""

    STATUS = 9


class WrongPassphraseError(VaultError):
    """Status 20: the passphrase or key does not open the vault."""

    STATUS = 20


class VaultUnusableError(VaultError):
    """Status 21: the vault is damaged, not a vault, from a newer version,
    or in use by another agent."""

    STATUS = 21


class NoVaultError(VaultError):
    """Status 22: the agent has no vault yet."""

    STATUS = 22


class RestrictedError(AgentError):
    """Status 23: this socket answers token requests only (a forwarded,
    restricted socket)."""

    STATUS = 23


class SendError(AgentError):
    """Sending a message (SEND, PROTOCOL.md 4.11) failed."""


class SendRefusedError(SendError):
    """Status 24: the mail service refused the message."""

    STATUS = 24


class RecipientRefusedError(SendError):
    """Status 25: the mail service refused a recipient; nothing was sent."""

    STATUS = 25


class SendTempFailError(SendError):
    """Status 26: not sent now, try later (or, as the message says, it
    may have been sent: the connection broke after it went)."""

    STATUS = 26


class SendAuthError(SendError):
    """Status 27: the mail service refused the access token, or SMTP AUTH
    is off."""

    STATUS = 27


class MessageError(SendError):
    """Status 28: the message cannot be sent as it is."""

    STATUS = 28


_BY_STATUS: Dict[int, Type[AgentError]] = {
    cls.STATUS: cls
    for cls in (InternalError, UnsupportedMessageError, BadRequestError,
                NoSuchAccountError, LoginNeededError, RefreshFailedError,
                AgentTimeoutError, ProviderConfigError, LockedError, BusyError,
                LoginPendingError, LoginDeniedError, LoginExpiredError,
                VersionError, ConfigError, UnsupportedFlowError,
                LoginMismatchError, AccountExistsError, AccountConfiguredError,
                WrongPassphraseError, VaultUnusableError, NoVaultError,
                RestrictedError, SendRefusedError, RecipientRefusedError,
                SendTempFailError, SendAuthError, MessageError)
}


# What each status means, in the words of xo_errors.h (the canonical
# error of each status), for a FAILURE that carries no message.
STATUS_MESSAGES: Dict[int, str] = {
    1: "internal error",
    2: "unknown message type",
    3: "invalid argument",
    4: "no such account",
    5: "login needed",
    6: "token refresh failed",
    7: "timed out",
    8: "the provider rejected the client configuration",
    9: "the agent is locked",
    10: "the agent is busy",
    11: "login is still in progress",
    12: "login was denied",
    13: "the login code expired",
    14: "unsupported protocol version",
    15: "configuration error",
    16: "the login flow is not supported for this account",
    17: "the response does not belong to this login",
    18: "an account of that name already exists",
    19: "the account is defined in the config file",
    20: "wrong passphrase or key",
    21: "the vault file is damaged",
    22: "there is no vault yet",
    23: "not answered on this socket: it takes token requests only",
    24: "the mail service refused the message",
    25: "the mail service refused a recipient",
    26: "the message could not be sent now; try again later",
    27: "the mail service refused the access token",
    28: "the message cannot be sent as it is",
}


def error_for_status(status: int, message: str = "") -> AgentError:
    """The exception for a FAILURE reply with this status and message (an
    empty message becomes the status's meaning).

    A status this client does not know gives an :class:`AgentError` that
    keeps the number the agent sent.
    """
    cls = _BY_STATUS.get(status, AgentError)
    return cls(message or STATUS_MESSAGES.get(status, STATUS_MESSAGES[1]), status)
