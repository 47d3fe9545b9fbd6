"""Decode speed, per frame: pushwire's native decoder against three baselines.

One benchmark group per frame, four rows each:

* ``native``  pushwire.Decoder(exchange, backend="native")
* ``msgspec`` (a) msgspec typed decode of the raw wire format, no normalization
* ``orjson``  (b) orjson + a hand-written normalizer into pushwire's events
* ``python``  (c) pushwire.Decoder(exchange, backend="python"), the reference decoder

plus ``decode_many``: N copies of a frame through ``Decoder.decode_many`` against a loop of
``Decoder.decode`` (``extra_info["frames"]`` = N; benches/report.py prints the time per frame).

Every bench checks its implementation's output once, before timing (the baselines and the native
decoder must agree with the reference decoder), so ``pytest benches --benchmark-disable`` is a
quick correctness run of every bench body. Nothing here asserts on time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pushwire
import pytest

from benches.baselines import NORMALIZERS, assert_mirrors, assert_same_events, msgspec_decoder
from benches.frames import FRAME_NAMES, FRAMES, RECV_TS, BenchFrame, build_frames

IMPLS = ("native", "msgspec", "orjson", "python")

#: decode_many: frames per call. 10,000 for native; the Python reference decoder runs 100, since
#: 10,000 frames of 100 positions take ~30 s per round in Python (report.py divides by N).
MANY_FRAMES = {"native": 10_000, "python": 100}
#: ... and when benchmarks are disabled (a correctness run), 10 for both.
MANY_FRAMES_DISABLED = 10

NATIVE = pushwire.decoder_backend() == "native"
NO_NATIVE = (
    "native backend unavailable: pushwire._native has no Decoder yet (pushwire.decoder_backend() == "
    "'python'); build it in release mode with `maturin develop --release`"
)


def _skip_without_native(impl: str) -> None:
    if impl == "native" and not NATIVE:
        pytest.skip(NO_NATIVE)


def _reference(frame: BenchFrame) -> list[Any]:
    return pushwire.Decoder(frame.exchange, backend="python").decode(frame.data, recv_ts=RECV_TS)


def _implementation(frame: BenchFrame, impl: str) -> Callable[[bytes], Any]:
    """The callable to time for one frame, after checking its output once (untimed)."""
    if impl == "msgspec":
        decode = msgspec_decoder(frame.name)
        assert_mirrors(decode(frame.data), json.loads(frame.text), f"{frame.name}/msgspec")
        return decode
    if impl == "orjson":
        normalizer = NORMALIZERS[frame.exchange]()
        got = normalizer.decode(frame.data, recv_ts=RECV_TS)
        assert_same_events(got, _reference(frame), f"{frame.name}/orjson")
        return normalizer.decode
    dec = pushwire.Decoder(frame.exchange, backend=impl)
    got = dec.decode(frame.data, recv_ts=RECV_TS)
    if impl == "native":
        assert_same_events(got, _reference(frame), f"{frame.name}/native")
    return dec.decode


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", FRAME_NAMES)
def test_decode(benchmark: Any, name: str, impl: str) -> None:
    _skip_without_native(impl)
    frame = FRAMES[name]
    decode = _implementation(frame, impl)
    benchmark.group = name
    benchmark.extra_info.update(frame=name, impl=impl, exchange=frame.exchange, bytes=len(frame.data),
                                events=sum(frame.events.values()))
    benchmark(decode, frame.data)


def _loop(dec: pushwire.Decoder) -> Callable[..., list[Any]]:
    decode = dec.decode

    def decode_loop(frames: list[bytes], recv_ts: int | None = None) -> list[Any]:
        out: list[Any] = []
        extend = out.extend
        for f in frames:
            extend(decode(f, recv_ts=recv_ts))
        return out

    return decode_loop


@pytest.mark.parametrize("mode", ("decode_many", "decode_loop"))
@pytest.mark.parametrize("backend", ("native", "python"))
@pytest.mark.parametrize("name", FRAME_NAMES)
def test_decode_many(benchmark: Any, name: str, backend: str, mode: str) -> None:
    _skip_without_native(backend)
    frame = FRAMES[name]
    n = MANY_FRAMES[backend] if benchmark.enabled else MANY_FRAMES_DISABLED
    frames = [frame.data] * n
    dec = pushwire.Decoder(frame.exchange, backend=backend)
    fn = dec.decode_many if mode == "decode_many" else _loop(dec)
    # Untimed: decode_many and the loop agree, and both equal the reference, frame after frame.
    want = _reference(frame) * 3
    assert_same_events(dec.decode_many(frames[:3], recv_ts=RECV_TS), want, f"{name}/{backend}/decode_many")
    assert_same_events(_loop(dec)(frames[:3], recv_ts=RECV_TS), want, f"{name}/{backend}/decode_loop")
    benchmark.group = f"decode_many {name}"
    benchmark.extra_info.update(frame=name, impl=f"{backend}:{mode}", frames=n,
                                events=n * sum(frame.events.values()))
    benchmark(fn, frames)


@pytest.mark.parametrize("name", FRAME_NAMES)
def test_frames_are_what_they_claim(name: str) -> None:
    """Each bench frame routes to its channel and yields the events it is meant to (no timing)."""
    frame = FRAMES[name]
    py = pushwire.Decoder(frame.exchange, backend="python")
    assert py._impl.channel_of(frame.data) == frame.channel
    events = py.decode(frame.data, recv_ts=RECV_TS)
    counts: dict[str, int] = {}
    for e in events:
        counts[e.__struct_config__.tag] = counts.get(e.__struct_config__.tag, 0) + 1
    assert counts == frame.events
    assert build_frames()[name].data == frame.data  # deterministic bytes (gzip mtime=0)
