"""The one exception hierarchy. The Rust extension raises these same classes."""

from __future__ import annotations

__all__ = ["AuthError", "DecodeError", "PushwireError", "TransportError"]


class PushwireError(Exception):
    """Base of every error pushwire raises on purpose."""


class DecodeError(PushwireError, ValueError):
    """A frame could not be decoded.

    ``exchange``, ``channel`` and ``field`` name where (each may be None when the frame failed
    before it could be routed); the message names them too.
    """

    def __init__(
        self,
        message: str,
        *,
        exchange: str | None = None,
        channel: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.exchange = exchange
        self.channel = channel
        self.field = field


class AuthError(PushwireError):
    """The exchange refused the credentials or the listen key."""


class TransportError(PushwireError, ConnectionError):
    """The connection failed in a way the client could not recover from."""
