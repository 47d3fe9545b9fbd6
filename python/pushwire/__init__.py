"""pushwire: private account streams of crypto derivatives exchanges, decoded into one model."""

from __future__ import annotations

from pushwire._generated.events import (
    Ack,
    Balance,
    Event,
    Fill,
    Heartbeat,
    Order,
    Position,
    Risk,
    Status,
    Unrecognized,
)
from pushwire.decode import EXCHANGES, Decoder, decode, decoder_backend
from pushwire.errors import AuthError, DecodeError, PushwireError, TransportError

__version__ = "0.1.0"

__all__ = [
    "EXCHANGES",
    "Ack",
    "AuthError",
    "Balance",
    "DecodeError",
    "Decoder",
    "Event",
    "Fill",
    "Heartbeat",
    "Order",
    "Position",
    "PushwireError",
    "Risk",
    "Status",
    "TransportError",
    "Unrecognized",
    "decode",
    "decoder_backend",
]
