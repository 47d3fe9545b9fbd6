"""The native decoder's two ways of building event Structs agree with each other and with msgspec.

The native decoder fills the slots of each event instance directly ("direct", what msgspec's own
decoder does) for every class it can verify at Decoder construction, and calls the class with
keyword arguments ("call") otherwise; ``PUSHWIRE_STRUCT_BUILD=call`` forces the call for all.
Both must give events equal to the reference decoder's, field by field (types and identity of
shared objects included), with the same GC tracking, and must not leak.
"""

from __future__ import annotations

import copy
import gc
import pickle
import sys
import tracemalloc
from typing import Any

import msgspec
import pushwire
import pytest
from conftest import BACKENDS, RECV_TS, frame_bytes, load_cases
from pushwire._generated import events

pytestmark = pytest.mark.skipif("native" not in BACKENDS, reason="native backend not built")

CASES = [c for c in load_cases() if "error" not in c[3]]
EXCHANGES = ("xt", "woo", "htx")


@pytest.fixture(autouse=True)
def _direct_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """This module picks its path per decoder, whatever PUSHWIRE_STRUCT_BUILD the run has."""
    monkeypatch.delenv("PUSHWIRE_STRUCT_BUILD", raising=False)


def _native(exchange: str, numbers: str = "float") -> Any:
    return pushwire._native.Decoder(exchange, numbers)


def _forced_call(monkeypatch: pytest.MonkeyPatch, exchange: str, numbers: str = "float") -> Any:
    with monkeypatch.context() as m:
        m.setenv("PUSHWIRE_STRUCT_BUILD", "call")
        return _native(exchange, numbers)


def _same(got: list[Any], want: list[Any]) -> None:
    assert got == want
    for g, w in zip(got, want):
        assert type(g) is type(w)
        for name in type(w).__struct_fields__:
            a, b = getattr(g, name), getattr(w, name)
            assert type(a) is type(b), name
            assert repr(a) == repr(b), name
        assert gc.is_tracked(g) == gc.is_tracked(w)


def _outcome(dec: Any, frame: bytes) -> Any:
    try:
        return dec.decode(frame, recv_ts=RECV_TS)
    except Exception as exc:  # noqa: BLE001 - compared by class below
        return type(exc)


def test_paths() -> None:
    for ex in EXCHANGES:
        assert set(_native(ex)._build_paths().values()) == {"direct"}


def test_forced_call_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for ex in EXCHANGES:
        assert set(_forced_call(monkeypatch, ex)._build_paths().values()) == {"call"}


@pytest.mark.parametrize("numbers", ("float", "decimal"))
def test_fixtures_direct_call_reference(monkeypatch: pytest.MonkeyPatch, numbers: str) -> None:
    decs = {ex: (_native(ex, numbers), _forced_call(monkeypatch, ex, numbers),
                 pushwire.Decoder(ex, numbers, backend="python")) for ex in EXCHANGES}
    for exchange, channel, lineno, case in CASES:
        direct, call, ref = decs[exchange]
        frame = frame_bytes(case)
        want = _outcome(ref, frame)
        for dec in (direct, call):
            got = _outcome(dec, frame)
            if isinstance(want, list):
                _same(got, want)
                _same(dec.decode_many([frame, frame], recv_ts=RECV_TS), want * 2)
            else:
                assert got is want, (exchange, channel, lineno)


def _events() -> list[Any]:
    out = []
    for exchange, _channel, _lineno, case in CASES:
        try:
            out += _native(exchange).decode(frame_bytes(case), recv_ts=RECV_TS)
        except Exception:  # noqa: BLE001, S112 - refused frames have no events
            continue
    assert len({type(e) for e in out}) >= 5
    return out


def test_struct_behaviour() -> None:
    for ev in _events():
        cls = type(ev)
        fields = cls.__struct_fields__
        values = [getattr(ev, f) for f in fields]
        rebuilt = cls(**dict(zip(fields, values)))
        assert ev == rebuilt
        assert hash(ev) == hash(rebuilt)
        assert repr(ev) == repr(rebuilt)
        assert pickle.loads(pickle.dumps(ev)) == ev
        assert copy.copy(ev) == ev and copy.deepcopy(ev) == ev
        assert msgspec.json.encode(ev) == msgspec.json.encode(rebuilt)
        assert msgspec.structs.asdict(ev) == msgspec.structs.asdict(rebuilt)
        assert msgspec.structs.replace(ev) == ev
        assert gc.is_tracked(ev) == gc.is_tracked(rebuilt)
        # The referents are the field values (and nothing half-built).
        refs = gc.get_referents(ev)
        assert {id(r) for r in refs} >= {id(v) for v in values if gc.is_tracked(v)}
        assert all(r is not None or None in values for r in refs)
        with pytest.raises(AttributeError):
            ev.ts = 1  # type: ignore[misc] - frozen


def _decode_all(decs: dict[str, Any], frames: list[tuple[str, bytes]], many: bool) -> None:
    for exchange, frame in frames:
        try:
            if many:
                decs[exchange].decode_many([frame, frame])
            else:
                decs[exchange].decode(frame)
        except Exception:  # noqa: BLE001, S112 - refused frames count too (error paths)
            continue


@pytest.mark.parametrize("forced", (False, True))
def test_no_leak(monkeypatch: pytest.MonkeyPatch, forced: bool) -> None:
    decs = {ex: (_forced_call(monkeypatch, ex) if forced else _native(ex)) for ex in EXCHANGES}
    frames = [(ex, frame_bytes(case)) for ex, _c, _l, case in CASES]
    shared = [sys.intern("xt"), sys.intern("woo"), sys.intern("htx"), sys.intern("BTC/USDT:USDT"),
              sys.intern("buy"), sys.intern("long")]
    for many in (False, True):
        _decode_all(decs, frames, many)  # warm: symbol caches, interned strings
        gc.collect()
        counts = [sys.getrefcount(s) for s in shared]
        tracemalloc.start()
        _decode_all(decs, frames, many)
        gc.collect()
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(5):
            _decode_all(decs, frames, many)
        gc.collect()
        now, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert now - base < 20_000, (many, now - base)
        assert [sys.getrefcount(s) for s in shared] == counts


def test_error_halfway_no_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame whose second event's class is missing raises KeyError after building the first."""
    frame = next(frame_bytes(c) for ex, _ch, _l, c in CASES
                 if ex == "woo" and [type(e).__name__ for e in _native("woo").decode(
                     frame_bytes(c), recv_ts=RECV_TS)] == ["Order", "Fill"])
    monkeypatch.delitem(events.EVENT_CLASSES, "fill")
    dec = _native("woo")
    assert dec._build_paths()["fill"] == "missing"
    exchange = sys.intern("woo")
    for _ in range(50):
        with pytest.raises(KeyError):
            dec.decode(frame, recv_ts=RECV_TS)
    gc.collect()
    before = sys.getrefcount(exchange)
    for _ in range(500):
        with pytest.raises(KeyError):
            dec.decode(frame, recv_ts=RECV_TS)
        with pytest.raises(KeyError):
            dec.decode_many([frame], recv_ts=RECV_TS)
    gc.collect()
    assert sys.getrefcount(exchange) == before


def _subclass_with_post_init(cls: Any, calls: list[Any]) -> Any:
    class Checked(cls):  # type: ignore[misc, valid-type]
        def __post_init__(self) -> None:
            calls.append(self)

    return Checked


def test_fallback_for_classes_that_fail_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    plain = _native("woo")
    frames = [frame_bytes(c) for ex, _ch, _l, c in CASES if ex == "woo"]
    want = [_outcome(plain, f) for f in frames]
    # Inherited fields (member descriptors of the base) and a __post_init__: the class is called.
    monkeypatch.setitem(events.EVENT_CLASSES, "position",
                        _subclass_with_post_init(events.Position, calls))
    dec = _native("woo")
    paths = dec._build_paths()
    assert paths["position"] == "call" and paths["order"] == "direct"
    n = 0
    for frame, w in zip(frames, want):
        got = _outcome(dec, frame)
        if isinstance(w, list):
            assert [msgspec.structs.asdict(e) for e in got] == [msgspec.structs.asdict(e) for e in w]
            n += sum(type(e).__name__ == "Checked" for e in got)
        else:
            assert got is w
    assert n > 0 and len(calls) == n


def test_direct_fills_class_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """A class field the plan has no slot for gets the class's default, as a call would."""
    base = events.Position
    frame = next(frame_bytes(c) for ex, _ch, _l, c in CASES if ex == "woo" and any(
        type(e) is base for e in _native("woo").decode(frame_bytes(c), recv_ts=RECV_TS)))
    fields = [(f, Any, d) for f, d in zip(base.__struct_fields__,
                                         (msgspec.NODEFAULT,) * (len(base.__struct_fields__)
                                                                 - len(base.__struct_defaults__))
                                         + base.__struct_defaults__)]
    fields = [(f, t) if d is msgspec.NODEFAULT else (f, t, d) for f, t, d in fields]
    extended = msgspec.defstruct("Position", [*fields, ("extra", int, 7), ("note", str, "n")],
                                 kw_only=True, frozen=True, tag_field="kind", tag="position")
    monkeypatch.setitem(events.EVENT_CLASSES, "position", extended)
    dec = _native("woo")
    assert dec._build_paths()["position"] == "direct"
    got = [e for e in dec.decode(frame, recv_ts=RECV_TS) if type(e) is extended]
    assert got
    for ev in got:
        vals = {f: getattr(ev, f) for f in base.__struct_fields__}
        assert ev == extended(**vals)
        assert ev.extra == 7 and ev.note == "n"
        assert hash(ev) == hash(extended(**vals))
