"""Stub of the Rust extension ``pushwire._native`` (built from rust/ with maturin).

One generic decoder that runs the generated decode plan (``pushwire._generated.plan.PLAN_JSON``,
read at runtime): gzip inflate, JSON, routing, field mapping and conversion, symbol unification,
and the msgspec event Structs of ``pushwire._generated.events``. Its semantics are those of the
reference decoder ``pushwire._pydecode.PyDecoder``; ``tests/test_parity.py`` holds the two together.
"""

from collections.abc import Iterable
from typing import Final, TypeAlias, final

from pushwire._generated.events import Event

__all__ = ["__version__", "Decoder"]

__version__: Final[str]

_Frame: TypeAlias = bytes | bytearray | memoryview | str

@final
class Decoder:
    """Decode the frames of one exchange.

    ``numbers``: ``"float"`` or ``"decimal"`` (exact ``decimal.Decimal`` digits); anything else,
    or an exchange the plan does not know, is a ``ValueError``. ``plan_json``: the decode plan as
    JSON text (default: ``pushwire._generated.plan.PLAN_JSON``); a plan is parsed once per
    process and cached by its text.

    Thread-safe: calls on one decoder from several threads are serialized where they share state.
    """

    @property
    def exchange(self) -> str: ...
    @property
    def numbers(self) -> str: ...
    @property
    def max_frame_bytes(self) -> int: ...
    @property
    def max_inflated_bytes(self) -> int: ...
    @property
    def max_depth(self) -> int: ...
    def __new__(
        cls,
        exchange: str,
        numbers: str = "float",
        *,
        max_frame_bytes: int = 16777216,
        max_inflated_bytes: int = 16777216,
        max_depth: int = 128,
        plan_json: str | None = None,
    ) -> Decoder: ...
    def decode(self, frame: _Frame, *, recv_ts: int | None = None) -> list[Event]:
        """The events of one frame (text, UTF-8 bytes, or gzip bytes detected by magic).

        ``recv_ts`` (ms) stands in for the time of frames that carry none; default: now.
        Raises ``pushwire.errors.DecodeError`` for a frame it refuses and ``TypeError`` for a
        ``frame`` that is not bytes, bytearray, memoryview or str.
        """
    def decode_many(self, frames: Iterable[_Frame], *, recv_ts: int | None = None) -> list[Event]:
        """The events of all frames, in order (flattened); the first refused frame raises.

        The byte-level work (inflate, JSON, routing, field extraction) runs with the GIL released.
        """
    def __repr__(self) -> str: ...
