"""The native decoder's per-decoder state (symbol cache, reused buffers) under the ways it is shared.

A native Decoder keeps its engine state and the buffers of ``decode`` (inflate output, event and
slot vectors) behind one lock, taken for the byte-level work only: building the Python objects
runs without it, because building can run Python code (a GC callback, a finalizer) that calls the
same decoder again. These tests hold the results to the reference decoder when a decoder is
re-entered from the build, shared by threads, and fed frames whose buffers are too large to keep.
"""

from __future__ import annotations

import gc
import json
import threading
from typing import Any

import pushwire
import pytest
from conftest import BACKENDS, RECV_TS, frame_bytes, load_cases

pytestmark = pytest.mark.skipif("native" not in BACKENDS, reason="native backend not built")

EXCHANGES = ("xt", "woo", "htx")


def _outcome(dec: Any, frame: bytes) -> Any:
    try:
        return dec.decode(frame, recv_ts=RECV_TS)
    except Exception as exc:  # noqa: BLE001 - compared by class and message
        return (type(exc), str(exc))


def _woo_positions(n: int) -> bytes:
    rows = [
        {"s": f"PERP_C{i}_USDT", "h": f"{i}.5", "ps": "BOTH", "aop": "30000.5", "mp": "30100",
         "lv": 10, "m": "CROSS", "ia": "1", "aq": 2, "ver": i, "ts": 1_700_000_000_000 + i}
        for i in range(n)
    ]
    return json.dumps({"topic": "position", "ts": 1_700_000_000_123, "data": {"positions": rows}},
                      separators=(",", ":")).encode()


def _cases_by_exchange() -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {ex: [] for ex in EXCHANGES}
    for exchange, _channel, _lineno, case in load_cases():
        out[exchange].append(frame_bytes(case))
    return out


def test_reentered_from_the_build() -> None:
    """A GC callback that runs while events are being built decodes with the same decoder."""
    dec = pushwire.Decoder("woo", backend="native")
    ref = pushwire.Decoder("woo", backend="python")
    outer = _woo_positions(300)
    inner = _woo_positions(3)
    seen: list[Any] = []

    def callback(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start" and len(seen) < 20:
            seen.append(dec.decode(inner, recv_ts=RECV_TS))

    threshold = gc.get_threshold()
    gc.callbacks.append(callback)
    gc.set_threshold(1)  # a collection at (nearly) every tracked allocation: inside the build
    try:
        got = dec.decode(outer, recv_ts=RECV_TS)
        got_many = dec.decode_many([outer, inner], recv_ts=RECV_TS)
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*threshold)
    assert seen, "no collection ran during the build: the test did not re-enter the decoder"
    assert got == ref.decode(outer, recv_ts=RECV_TS)
    assert got_many == ref.decode_many([outer, inner], recv_ts=RECV_TS)
    want_inner = ref.decode(inner, recv_ts=RECV_TS)
    assert all(s == want_inner for s in seen)
    # The decoder still works, and still agrees, afterwards.
    assert dec.decode(outer, recv_ts=RECV_TS) == got


def test_symbols_past_the_symbol_cache_limit() -> None:
    """More distinct symbols than the symbol cache keeps (65536): the ones past the limit are
    unified per event, and the cached ones still come out right, in both builder paths."""
    dec = pushwire.Decoder("woo", backend="native")
    ref = pushwire.Decoder("woo", backend="python")
    frames = [
        json.dumps({"topic": "position", "ts": 1, "data": {"positions": [
            {"s": f"PERP_C{i}_USDT", "h": "1", "ps": "BOTH"} for i in range(first, first + 4000)
        ]}}).encode()
        for first in range(0, 65536 + 4000, 4000)
    ]
    assert dec.decode_many(frames, recv_ts=RECV_TS) == ref.decode_many(frames, recv_ts=RECV_TS)
    # Again, cached (first frame) and past the limit (last frame), one frame per call.
    for frame in (frames[0], frames[-1], frames[-1], frames[0]):
        assert _outcome(dec, frame) == _outcome(ref, frame)


def test_buffers_too_large_to_keep_then_small_frames() -> None:
    """A frame with more values than the kept slot buffer holds (32k), then small frames."""
    dec = pushwire.Decoder("woo", backend="native")
    ref = pushwire.Decoder("woo", backend="python")
    frames = [_woo_positions(2500), _woo_positions(1), _woo_positions(2500), _woo_positions(7)]
    for frame in frames + frames[::-1]:
        assert dec.decode(frame, recv_ts=RECV_TS) == ref.decode(frame, recv_ts=RECV_TS)


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_every_fixture_in_turn_through_one_decoder(exchange: str) -> None:
    """Frames of every shape, refused ones included, one after another: no state carries over."""
    frames = _cases_by_exchange()[exchange]
    dec = pushwire.Decoder(exchange, backend="native")
    ref = pushwire.Decoder(exchange, backend="python")
    want = [_outcome(ref, f) for f in frames]
    for _ in range(2):
        assert [_outcome(dec, f) for f in frames] == want
        assert [_outcome(dec, f) for f in reversed(frames)] == want[::-1]


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_threads_share_one_decoder(exchange: str) -> None:
    """decode and decode_many from several threads at once (decode_many lets go of the GIL)."""
    frames = [f for f in _cases_by_exchange()[exchange]
              if isinstance(_outcome(pushwire.Decoder(exchange, backend="python"), f), list)]
    ref = pushwire.Decoder(exchange, backend="python")
    want_one = [ref.decode(f, recv_ts=RECV_TS) for f in frames]
    want_many = ref.decode_many(frames * 20, recv_ts=RECV_TS)
    dec = pushwire.Decoder(exchange, backend="native")
    errors: list[BaseException] = []

    def single() -> None:
        try:
            for _ in range(20):
                assert [dec.decode(f, recv_ts=RECV_TS) for f in frames] == want_one
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def many() -> None:
        try:
            for _ in range(5):
                assert dec.decode_many(frames * 20, recv_ts=RECV_TS) == want_many
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=t) for t in (single, many, single, many)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors[0]
