"""Every fixture frame decodes to the events written by hand from the exchanges' docs.

Fixtures live in tests/fixtures/<exchange>/<channel>.jsonl, one case a line:

    {"name": "...", "source": "where the frame comes from",
     "frame": "<exact text>" | {json object}, "gzip": false,
     "expected": [{"kind": "position", "symbol": "BTC/USDT:USDT", "size": "-1.5", ...}]}

or, for a frame that must be refused, "error": {"channel": "...", "field": "..."} instead of
"expected". Decimal fields are written as strings; fields a case leaves out must hold their
default (None). Frames without a time of their own get ts == RECV_TS.
"""

from __future__ import annotations

from typing import Any

import pushwire
import pytest
from conftest import RECV_TS, assert_event, frame_bytes, load_cases
from pushwire._generated.plan import PLAN
from pushwire._pydecode import PyDecoder

CASES = load_cases()


def _id(case: tuple[str, str, int, dict[str, Any]]) -> str:
    exchange, channel, lineno, c = case
    return f"{exchange}/{channel}:{lineno}:{c.get('name', '')}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_fixture(case: tuple[str, str, int, dict[str, Any]], backend: str, numbers: str) -> None:
    exchange, channel, _, c = case
    assert ("expected" in c) != ("error" in c), "a case has either expected or error"
    dec = pushwire.Decoder(exchange, numbers=numbers, backend=backend)
    frame = frame_bytes(c)
    if "error" in c:
        with pytest.raises(pushwire.DecodeError) as info:
            dec.decode(frame, recv_ts=RECV_TS)
        err = info.value
        assert err.exchange == exchange
        for attr, want in c["error"].items():
            assert getattr(err, attr) == want, f"{attr}: {getattr(err, attr)!r} != {want!r} ({err})"
            assert str(want) in str(err), f"the message does not name {attr} {want!r}: {err}"
        return
    events = dec.decode(frame, recv_ts=RECV_TS)
    assert len(events) == len(c["expected"]), f"got {events!r}"
    for event, want in zip(events, c["expected"]):
        assert_event(event, want, exchange, numbers)


def _is_channel_file(case: tuple[str, str, int, dict[str, Any]]) -> bool:
    exchange, channel, _, c = case
    routed = "expected" in c or c["error"].get("channel") is not None  # not refused before routing
    return routed and channel in {r["channel"] for r in PLAN["exchanges"][exchange]["routes"]}


CHANNEL_CASES = [c for c in CASES if _is_channel_file(c)]


@pytest.mark.parametrize("case", CHANNEL_CASES, ids=[_id(c) for c in CHANNEL_CASES])
def test_fixture_is_in_its_channel_file(case: tuple[str, str, int, dict[str, Any]]) -> None:
    """A case in <channel>.jsonl routes to that channel (other files, e.g. text_frames.jsonl or
    unrecognized.jsonl, hold frames no channel matches)."""
    exchange, channel, _, c = case
    assert PyDecoder(exchange).channel_of(frame_bytes(c)) == channel


def test_every_channel_has_a_fixture() -> None:
    covered: dict[str, set[str]] = {}
    for exchange, channel, _, c in CASES:
        if "expected" in c:
            covered.setdefault(exchange, set()).add(channel)
    missing = [
        f"{ex}/{r['channel']}"
        for ex, plan in PLAN["exchanges"].items()
        for r in plan["routes"]
        if r["channel"] not in covered.get(ex, set())
    ]
    assert not missing, f"spec channels without a fixture: {missing}"
