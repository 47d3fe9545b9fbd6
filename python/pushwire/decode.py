"""The decoder facade: the Rust decoder when it is built, else the Python reference decoder."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pushwire._pydecode import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_FRAME_BYTES,
    DEFAULT_MAX_INFLATED_BYTES,
    PyDecoder,
)

__all__ = ["EXCHANGES", "Decoder", "decode", "decoder_backend"]

try:  # the extension is optional at import time: a source checkout may not have built it yet
    from pushwire import _native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - exercised only without the extension
    _native = None  # type: ignore[assignment]

EXCHANGES = ("xt", "woo", "htx")


def _native_available() -> bool:
    return _native is not None and hasattr(_native, "Decoder")


def decoder_backend() -> str:
    """``"native"`` when the Rust extension's decoder is in use, else ``"python"``."""
    return "native" if _native_available() else "python"


class Decoder:
    """A reusable decoder for one exchange.

    ``numbers`` is ``"float"`` or ``"decimal"`` (exact ``decimal.Decimal`` digits).
    ``backend`` is ``"native"``, ``"python"`` or None (the best available).
    ``max_frame_bytes`` caps the frame as received, ``max_inflated_bytes`` its gzip-inflated size,
    ``max_depth`` the JSON nesting depth.
    """

    __slots__ = ("_impl", "backend", "decode", "decode_many", "exchange", "numbers")

    #: decode(frame, *, recv_ts=None) -> list[Event]: one frame (text, UTF-8 bytes or gzip bytes).
    #: ``recv_ts`` (ms) stands in for the receive time of frames that carry no time of their own;
    #: it defaults to now. Bound straight to the backend's method: no wrapper call per frame.
    decode: Callable[..., list[Any]]
    #: decode_many(frames, *, recv_ts=None) -> list[Event]: the events of all frames, in order.
    decode_many: Callable[..., list[Any]]

    def __init__(
        self,
        exchange: str,
        numbers: str = "float",
        backend: str | None = None,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        if backend is None:
            backend = decoder_backend()
        if backend not in ("native", "python"):
            raise ValueError(f"backend must be 'native', 'python' or None, not {backend!r}")
        if backend == "native" and not _native_available():
            raise ValueError("the native backend is not available (pushwire._native was not built)")
        for name, limit in (("max_frame_bytes", max_frame_bytes), ("max_inflated_bytes", max_inflated_bytes),
                            ("max_depth", max_depth)):
            if not isinstance(limit, int) or limit <= 0:
                raise ValueError(f"{name} must be a positive int, not {limit!r}")
        impl_cls: Any = _native.Decoder if backend == "native" else PyDecoder  # type: ignore[union-attr]
        self._impl = impl_cls(
            exchange,
            numbers,
            max_frame_bytes=max_frame_bytes,
            max_inflated_bytes=max_inflated_bytes,
            max_depth=max_depth,
        )
        self.exchange = exchange
        self.numbers = numbers
        self.backend = backend
        self.decode = self._impl.decode
        self.decode_many = self._impl.decode_many

    def __repr__(self) -> str:
        return f"Decoder({self.exchange!r}, numbers={self.numbers!r}, backend={self.backend!r})"


_shared = threading.local()


def decode(exchange: str, frame: bytes | str, *, numbers: str = "float") -> list[Any]:
    """Decode one frame with a cached per-thread :class:`Decoder`."""
    cache = getattr(_shared, "decoders", None)
    if cache is None:
        cache = _shared.decoders = {}
    dec = cache.get((exchange, numbers))
    if dec is None:
        dec = cache[(exchange, numbers)] = Decoder(exchange, numbers)
    return dec.decode(frame)
