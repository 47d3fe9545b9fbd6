"""Parity: the native decoder (pushwire._native) and the Python reference decoder agree.

On every fixture frame and on property-generated frames (hypothesis: random values, key orders,
duplicate and unknown keys, numbers as strings and as JSON numbers, gzip and plain, str and bytes,
random garbage), both backends return equal events in both number modes, or raise the same error
class with the same exchange / channel / field.

"Equal" is strict: the same event classes, and per field the same type and the same value; floats
are compared by repr (so -0.0 is not 0.0) and Decimals by str (the exact digits of the wire).

The whole module is skipped when the native backend is not built (or PUSHWIRE_TEST_BACKENDS
leaves it out). Hypothesis runs are bounded (a few hundred examples per test, no deadline).
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import zlib
from decimal import Decimal
from typing import Any

import pushwire
import pytest
from conftest import BACKENDS, RECV_TS, frame_bytes, load_cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pushwire._generated.plan import PLAN

pytestmark = pytest.mark.skipif(
    "native" not in BACKENDS, reason="native backend not built (or left out by PUSHWIRE_TEST_BACKENDS)"
)

EXCHANGES = sorted(PLAN["exchanges"])
NUMBERS = ("float", "decimal")
CASES = load_cases()
LIMITS = {"max_frame_bytes": 16 << 20, "max_inflated_bytes": 16 << 20, "max_depth": 128}

#: Examples per property test; PUSHWIRE_PARITY_EXAMPLES=5000 for a deeper (slower) hunt.
EXAMPLES = int(os.environ.get("PUSHWIRE_PARITY_EXAMPLES", "250"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- comparing outcomes -----------------------------------------------------------------------------


def _decoders(exchange: str, numbers: str, **limits: int) -> tuple[Any, Any]:
    kw = {**LIMITS, **limits}
    return (
        pushwire.Decoder(exchange, numbers=numbers, backend="python", **kw),
        pushwire.Decoder(exchange, numbers=numbers, backend="native", **kw),
    )


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        # The reference decoder can hand out its private str subclass (_JsonFloat) where a JSON
        # number's text becomes a str (Unrecognized.topic); the text is what counts.
        return str(a) == str(b) and type(b) is str
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return a == b


def _diff_events(py: list[Any], rs: list[Any]) -> str | None:
    """None when the two event lists are strictly equal, else what differs."""
    if len(py) != len(rs):
        return f"{len(py)} events vs {len(rs)}: {py!r} / {rs!r}"
    if py != rs:
        return f"events differ (==): {py!r} / {rs!r}"
    for i, (a, b) in enumerate(zip(py, rs)):
        if type(a) is not type(b):
            return f"event {i}: {type(a).__name__} vs {type(b).__name__}"
        for name in a.__struct_fields__:
            x, y = getattr(a, name), getattr(b, name)
            if not _same_value(x, y):
                return f"event {i} ({type(a).__name__}).{name}: {x!r} ({type(x).__name__}) vs {y!r} ({type(y).__name__})"
    return None


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as exc:  # noqa: BLE001 - any exception is compared
        return "err", exc


def _describe(exc: BaseException) -> tuple[Any, ...]:
    return (
        type(exc),
        getattr(exc, "exchange", None),
        getattr(exc, "channel", None),
        getattr(exc, "field", None),
    )


def assert_parity(
    exchange: str, frame: Any, numbers: str, many: bool = False, lazy: bool = False, **limits: int
) -> None:
    """``many``: ``frame`` is a list of frames for decode_many (``lazy``: passed as an iterator)."""
    py, rs = _decoders(exchange, numbers, **limits)
    if many:
        a = _outcome(lambda: py.decode_many(iter(frame) if lazy else frame, recv_ts=RECV_TS))
        b = _outcome(lambda: rs.decode_many(iter(frame) if lazy else frame, recv_ts=RECV_TS))
    else:
        a = _outcome(lambda: py.decode(frame, recv_ts=RECV_TS))
        b = _outcome(lambda: rs.decode(frame, recv_ts=RECV_TS))
    shown = repr(frame)[:300]
    if a[0] == "ok" and b[0] == "ok":
        diff = _diff_events(a[1], b[1])
        assert diff is None, f"{exchange}/{numbers}: {diff[:2000]}\nframe: {shown}"
        return
    assert a[0] == b[0], (
        f"{exchange}/{numbers}: python {a[0]} ({a[1]!r:.300}) but native {b[0]} ({b[1]!r:.300})\nframe: {shown}"
    )
    assert _describe(a[1]) == _describe(b[1]), (
        f"{exchange}/{numbers}: python raised {_describe(a[1])} {a[1]}\n"
        f"native raised {_describe(b[1])} {b[1]}\nframe: {shown}"
    )


# -- fixtures ----------------------------------------------------------------------------------------


def _id(case: tuple[str, str, int, dict[str, Any]]) -> str:
    exchange, channel, lineno, _ = case
    return f"{exchange}/{channel}:{lineno}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
@pytest.mark.parametrize("numbers", NUMBERS)
def test_fixture_parity(case: tuple[str, str, int, dict[str, Any]], numbers: str) -> None:
    exchange, _, _, c = case
    frame = frame_bytes(c)
    assert_parity(exchange, frame, numbers)
    if not c.get("gzip"):
        assert_parity(exchange, frame.decode("utf-8"), numbers)  # the same frame as str
        assert_parity(exchange, bytearray(frame), numbers)
        assert_parity(exchange, memoryview(frame), numbers)
        assert_parity(exchange, gzip.compress(frame, mtime=0), numbers)


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("numbers", NUMBERS)
def test_fixture_parity_decode_many(exchange: str, numbers: str) -> None:
    frames = [frame_bytes(c) for ex, _, _, c in CASES if ex == exchange and "expected" in c]
    assert frames
    assert_parity(exchange, frames, numbers, many=True)
    assert_parity(exchange, frames * 3, numbers, many=True, lazy=True)  # any iterable
    bad = [frame_bytes(c) for ex, _, _, c in CASES if ex == exchange and "error" in c]
    for b in bad[:5]:  # the first failing frame raises, wherever it is
        assert_parity(exchange, frames[:3] + [b] + frames[3:], numbers, many=True)


# -- generated frames -------------------------------------------------------------------------------


class Num(str):
    """A JSON number literal, written as is."""

    __slots__ = ()


class Obj:
    """A JSON object as a list of (key, value) pairs: keeps order and duplicate keys."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = list(pairs)

    def __repr__(self) -> str:
        return f"Obj({self.pairs!r})"


def dump(node: Any, ascii_only: bool = True) -> str:
    if isinstance(node, Num):
        return str(node)
    if isinstance(node, Obj):
        return (
            "{"
            + ",".join(
                f"{json.dumps(k, ensure_ascii=ascii_only)}:{dump(v, ascii_only)}" for k, v in node.pairs
            )
            + "}"
        )
    if isinstance(node, list):
        return "[" + ",".join(dump(x, ascii_only) for x in node) + "]"
    return json.dumps(node, ensure_ascii=ascii_only)


def to_node(value: Any) -> Any:
    """A decoded JSON value (json.loads) as a node tree (numbers keep their JSON text)."""
    if isinstance(value, dict):
        return Obj([(k, to_node(v)) for k, v in value.items()])
    if isinstance(value, list):
        return [to_node(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return Num(json.dumps(value))


def _plan_texts() -> tuple[list[str], list[str]]:
    """Every key a plan path names, and every text the plan compares with or maps."""
    keys: set[str] = set()
    texts: set[str] = set()

    def walk(o: Any, parent: str | None = None) -> None:
        if isinstance(o, dict):
            if "keys" in o and isinstance(o["keys"], list) and "base" in o:
                keys.update(k for k in o["keys"] if isinstance(k, str))
            if o.get("key") and isinstance(o["key"], str):
                keys.add(o["key"])
            for k, v in o.items():
                if k == "map" and isinstance(v, dict):
                    texts.update(v)
                    texts.update(x for x in v.values() if isinstance(x, str))
                walk(v, k)
        elif isinstance(o, list):
            for x in o:
                if isinstance(x, str) and parent in ("values", "negative", "positive", "absent_if"):
                    texts.add(x)
                walk(x, parent)

    walk(PLAN["exchanges"])
    for ex in PLAN["exchanges"].values():
        texts.update(ex["text_frames"])
    return sorted(keys), sorted(texts)


PLAN_KEYS, PLAN_TEXTS = _plan_texts()


def _seed(frame: Any) -> Any:
    """A fixture frame as a node tree; a text frame keeps its exact literals and duplicate keys."""
    if not isinstance(frame, str):
        return to_node(frame)
    try:
        return json.loads(frame, object_pairs_hook=Obj, parse_int=Num, parse_float=Num)
    except ValueError:
        return None  # a text frame ("ping")


#: Frames the fixtures say decode, as node trees: the seeds the mutations start from.
SEEDS = [
    (ex, node) for ex, _, _, c in CASES if "expected" in c for node in [_seed(c["frame"])] if node is not None
]

_digits = st.text("0123456789", min_size=1, max_size=24)
number_literals = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.builds(
        lambda s, i, f, e: f"{s}{i.lstrip('0') or '0'}{f}{e}",
        st.sampled_from(["", "-"]),
        _digits,
        st.one_of(st.just(""), _digits.map(lambda d: "." + d)),
        st.one_of(
            st.just(""),
            st.builds(
                lambda c, s, d: f"{c}{s}{d}",
                st.sampled_from("eE"),
                st.sampled_from(["", "+", "-"]),
                st.text("0123456789", min_size=1, max_size=4),
            ),
        ),
    ),
    st.sampled_from(
        [
            "-0",
            "-0.0",
            "0e0",
            "1E+400",
            "-1e400",
            "1e-400",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "1700000000000",
            "99999999999",
            "100000000000",
            "1" * 30,
            "0.1",
            "1.5",
            "1e5",
        ]
    ),
).map(Num)
decimal_texts = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.builds(
        lambda s, i, f, e: f"{s}{i}{f}{e}",
        st.sampled_from(["", "+", "-"]),
        _digits,
        st.sampled_from(["", ".", ".5", ".000", ".25"]),
        st.sampled_from(["", "e3", "E-2", "e+400", "e-400"]),
    ),
    st.sampled_from(
        [
            "",
            "0",
            "-0",
            "1.",
            ".5",
            "+1",
            "1e400",
            "-1e400",
            "NaN",
            "inf",
            "1_000",
            " 1",
            "1 ",
            "٣.٥",
            "0x10",
            "1,5",
            "--1",
            "+-1",
            "1.0",
            "12.000",
            "-12.0",
            "007",
            "1" * 25,
            "0" * 30 + "1",
            "1e999999999999999999",
            "1e9999999999999999999",
        ]
    ),
)
texts = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(PLAN_TEXTS),
    st.sampled_from(PLAN_TEXTS).map(str.upper),
    st.sampled_from(
        [
            "true",
            "TRUE",
            "false",
            "1",
            "0",
            "",
            "BTC-USDT",
            "btc_usdt",
            "PERP_BTC_USDT",
            "SPOT_ETH_USDT",
            "BTC-USDT-210625",
            "btc_usd",
            "x" * 60,
        ]
    ),
)
keys = st.one_of(st.sampled_from(PLAN_KEYS), st.text(st.characters(blacklist_categories=("Cs",)), max_size=6))
leaves = st.one_of(st.none(), st.booleans(), number_literals, decimal_texts, texts)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(st.tuples(keys, inner), max_size=4).map(Obj),
    ),
    max_leaves=8,
)


def _containers(node: Any, out: list[Any]) -> list[Any]:
    if isinstance(node, Obj):
        out.append(node)
        for _, v in node.pairs:
            _containers(v, out)
    elif isinstance(node, list):
        out.append(node)
        for v in node:
            _containers(v, out)
    return out


def mutate(data: st.DataObject, node: Any) -> Any:
    """Up to five random edits of a node tree, in place (values, keys, order, duplicates)."""
    for _ in range(data.draw(st.integers(0, 5), label="edits")):
        where = data.draw(st.sampled_from(_containers(node, [])), label="container")
        op = data.draw(st.sampled_from(["set", "set", "set", "delete", "dup", "insert", "shuffle", "null"]))
        if isinstance(where, Obj):
            n = len(where.pairs)
            if op == "insert" or n == 0:
                where.pairs.insert(data.draw(st.integers(0, n)), (data.draw(keys), data.draw(values)))
                continue
            i = data.draw(st.integers(0, n - 1))
            k = where.pairs[i][0]
            if op == "set":
                where.pairs[i] = (k, data.draw(values))
            elif op == "null":
                where.pairs[i] = (k, None)
            elif op == "delete":
                del where.pairs[i]
            elif op == "dup":
                where.pairs.insert(data.draw(st.integers(0, n)), (k, data.draw(values)))
            else:
                where.pairs[:] = data.draw(st.permutations(where.pairs))
        else:
            n = len(where)
            if op in ("insert", "dup") or n == 0:
                where.insert(data.draw(st.integers(0, n)), data.draw(values))
            elif op == "delete":
                del where[data.draw(st.integers(0, n - 1))]
            elif op == "shuffle":
                where[:] = data.draw(st.permutations(where))
            else:
                where[data.draw(st.integers(0, n - 1))] = data.draw(values)
    return node


def wire(data: st.DataObject, text: str) -> Any:
    form = data.draw(st.sampled_from(["bytes", "str", "gzip", "bytearray"]), label="form")
    if form == "str":
        return text
    raw = text.encode("utf-8")
    if form == "gzip":
        return gzip.compress(raw, compresslevel=data.draw(st.integers(0, 9)), mtime=0)
    return bytearray(raw) if form == "bytearray" else raw


@SETTINGS
@given(data=st.data())
def test_mutated_fixture_frames(data: st.DataObject) -> None:
    exchange, seed = data.draw(st.sampled_from(SEEDS), label="seed")
    node = mutate(data, copy.deepcopy(seed))
    text = dump(node, ascii_only=data.draw(st.booleans()))
    frame_ = wire(data, text)
    for numbers in NUMBERS:
        assert_parity(exchange, frame_, numbers)


@SETTINGS
@given(data=st.data(), exchange=st.sampled_from(EXCHANGES))
def test_random_documents(data: st.DataObject, exchange: str) -> None:
    """Any JSON object, with routing keys the plan knows now and then."""
    pairs = data.draw(st.lists(st.tuples(keys, values), max_size=6))
    route_keys = data.draw(
        st.lists(st.tuples(st.sampled_from(PLAN_KEYS), st.sampled_from(PLAN_TEXTS)), max_size=3)
    )
    node = Obj(route_keys + pairs)
    if data.draw(st.booleans()):
        node = data.draw(values)  # not necessarily an object
    frame = wire(data, dump(node, ascii_only=data.draw(st.booleans())))
    for numbers in NUMBERS:
        assert_parity(exchange, frame, numbers)


@SETTINGS
@given(raw=st.binary(max_size=300), exchange=st.sampled_from(EXCHANGES), gz=st.booleans())
def test_garbage(raw: bytes, exchange: str, gz: bool) -> None:
    frame = gzip.compress(raw, mtime=0) if gz else raw
    for numbers in NUMBERS:
        assert_parity(exchange, frame, numbers)


@SETTINGS
@given(data=st.data())
def test_corrupted_frames(data: st.DataObject) -> None:
    """Valid frames cut short, with bytes flipped or appended, plain and gzip."""
    exchange, seed = data.draw(st.sampled_from(SEEDS), label="seed")
    raw = dump(seed).encode()
    if data.draw(st.booleans()):
        raw = gzip.compress(raw, mtime=0)
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(0, 3))):
        op = data.draw(st.sampled_from(["cut", "flip", "append", "insert"]))
        if op == "cut" and buf:
            del buf[data.draw(st.integers(0, len(buf) - 1)) :]
        elif op == "flip" and buf:
            i = data.draw(st.integers(0, len(buf) - 1))
            buf[i] ^= data.draw(st.integers(1, 255))
        elif op == "append":
            buf += data.draw(st.binary(min_size=1, max_size=8))
        else:
            i = data.draw(st.integers(0, len(buf)))
            buf[i:i] = data.draw(st.binary(min_size=1, max_size=4))
    for numbers in NUMBERS:
        assert_parity(exchange, bytes(buf), numbers)


@SETTINGS
@given(data=st.data())
def test_limits(data: st.DataObject) -> None:
    """Small frame, inflate and depth limits refuse (or not) the same frames."""
    exchange, node = data.draw(st.sampled_from(SEEDS), label="seed")
    for _ in range(data.draw(st.integers(0, 6))):
        node = Obj([("data", node)]) if data.draw(st.booleans()) else [node]
    raw = dump(node).encode()
    if data.draw(st.booleans()):
        raw = gzip.compress(raw, mtime=0)
    limits = {
        "max_frame_bytes": data.draw(st.integers(1, 2 * len(raw) + 2)),
        "max_inflated_bytes": data.draw(st.integers(1, 4096)),
        "max_depth": data.draw(st.integers(1, 12)),
    }
    for numbers in NUMBERS:
        assert_parity(exchange, raw, numbers, **limits)


@SETTINGS
@given(data=st.data())
def test_decode_many_matches(data: st.DataObject) -> None:
    """decode_many over mixed frames: the same events, or the first frame's error."""
    exchange = data.draw(st.sampled_from(EXCHANGES))
    seeds = [f for ex, f in SEEDS if ex == exchange]
    frames = []
    for _ in range(data.draw(st.integers(0, 6))):
        node = copy.deepcopy(data.draw(st.sampled_from(seeds)))
        if data.draw(st.integers(0, 3)) == 0:
            node = mutate(data, node)
        frames.append(wire(data, dump(node)))
    for numbers in NUMBERS:
        assert_parity(exchange, frames, numbers, many=True)


# -- edges the generators rarely reach --------------------------------------------------------------

EDGE_FRAMES = {
    "xt": [
        b"ping",
        b" pong\n",
        b"\x0bping\x0c",
        b"pingx",
        "ping",
        b"",
        b"   ",
        b"null",
        b"[]",
        b"1",
        b'"x"',
        b'{"topic":"balance","data":{"coin":"usdt","walletBalance":"1e999999999999999999999"}}',
        b'{"topic":"balance","data":{"coin":"usdt","walletBalance":' + b"1" * 4300 + b"}}",
        b'{"topic":"balance","data":{"coin":"usdt","walletBalance":' + b"1" * 4301 + b"}}",
        b'{"topic":"order","data":{"orderId":"1","createdTime":"' + b"0" * 5000 + b'1"}}',
        b'{"topic":"order","data":{"orderId":"1","createdTime":"' + b"9" * 25 + b'"}}',
        b'{"topic":"order","data":{"orderId":"1","createdTime":"\xd9\xa3"}}',
        b'{"topic":"order","data":{"orderId":"1","createdTime":1.000}}',
        b'{"topic":"order","data":{"orderId":-0,"createdTime":-5}}',
        b'{"topic":"balance","data":{"coin":"\\u00fc\\ud83d\\ude00","walletBalance":"\xd9\xa3.\xd9\xa5"}}',
        b'{"topic":"balance","topic":"position","data":{"coin":"usdt"}}',
        b'{"a":[[[[[[[[1]]]]]]]],"a":1,"topic":"nope"}',
        b'{"topic":"nope","data":"\\ud800"}',
        b'{"topic":"nope","data":"\xff"}',
        b'{"topic":1.5e3}',
        b'{"channel":true}',
        b'{"method":null,"event":-0}',
    ],
    "woo": [
        b'{"topic":"balance","ts":1,"data":{"balances":[{"t":"usdt","h":"9e999999","f":"-9e999999"}]}}',
        b'{"topic":"balance","ts":1,"data":{"balances":[{"t":"usdt","h":"1e-1","f":"1e2000"}]}}',
        b'{"topic":"balance","ts":1,"data":{"balances":[{"t":"usdt","h":"-0.00","f":"0"}]}}',
        b'{"topic":"balance","ts":1,"data":{"balances":[{"t":"usdt","h":"1.7e308","f":"-1.7e308"}]}}',
        b'{"topic":"balance","ts":1,"data":{"balances":{"USDT":{"holding":1,"frozen":2},"USDT":{"holding":3}}}}',
        b'{"topic":"position","ts":"17e2","data":{"positions":{"PERP_BTC_USDT":{"holding":"-0"}}}}',
        b'{"topic":"position","ts":1,"data":{"positions":[{"s":"PERP_BTC_USDT","h":"+1","ps":"short"}]}}',
        b'{"topic":"position","ts":1,"data":{"positions":[{"s":"PERP_BTC_USDT","h":"-0","ps":"BOTH"}]}}',
        b'{"topic":"position","ts":1,"data":{"positions":{"' + b"K" * 60 + b'":5}}}',
        b'{"id":"1","cmd":"SUBSCRIBE","success":true,"data":["a",1,true,1.50,-0]}',
        b'{"id":"1","cmd":"SUBSCRIBE","success":"TRUE","data":[{}]}',
    ],
    "htx": [
        b'{"op":"ping","ts":"x\\"y\\u0001\xc3\xa9"}',
        b'{"op":"ping","ts":-0}',
        b'{"op":"ping","ts":1.50}',
        b'{"op":"ping","ts":[1]}',
        b'{"op":"ping","ts":null}',
        b'{"op":"ping"}',
        b'{"op":"notify","topic":"POSITIONS_CROSS.btc-usdt","ts":1,"data":[{"contract_code":"BTC-USDT","volume":1,"direction":"SELL"}]}',
        b'{"op":"notify","topic":"positions","ts":1,"data":[7]}',
        b'{"op":"notify","topic":"positions","ts":1,"data":{"a":1}}',
        b'{"op":"notify","topic":"orders_cross.x","ts":1,"order_id":1,"trade":[{"id":1,"trade_price":"1","trade_volume":2,"trade_fee":"-0.5"}]}',
    ],
}


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("numbers", NUMBERS)
def test_edge_frames(exchange: str, numbers: str) -> None:
    for frame in EDGE_FRAMES[exchange]:
        assert_parity(exchange, frame, numbers)
        if isinstance(frame, bytes):
            assert_parity(exchange, gzip.compress(frame, mtime=0), numbers)


@pytest.mark.parametrize("numbers", NUMBERS)
def test_gzip_edges(numbers: str) -> None:
    text = b'{"op":"ping","ts":1}'
    member = gzip.compress(text, mtime=0)
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    streamed = c.compress(text) + c.flush()
    frames = [
        member,
        member + member,
        member + b"\x00",
        member[:-1],
        member[:10],
        b"\x1f\x8b",
        b"\x1f",
        streamed,
        member[:3] + bytes([member[3] | 0x02]) + member[4:],  # FHCRC without a header CRC
        gzip.compress(member, mtime=0),  # gzip of gzip: inflates to bytes that are not JSON
    ]
    for frame in frames:
        assert_parity("htx", frame, numbers)
    assert_parity("htx", gzip.compress(b" " * 5000 + text, mtime=0), numbers, max_inflated_bytes=4096)
    assert_parity("htx", gzip.compress(b" " * 4000 + text, mtime=0), numbers, max_inflated_bytes=4096)


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_str_frames_with_surrogates(exchange: str) -> None:
    for frame in ['{"topic":"x","data":"\ud800"}', "\udfff", "ping\ud800"]:
        for numbers in NUMBERS:
            assert_parity(exchange, frame, numbers)


@pytest.mark.parametrize("value", [1, 1.5, None, ["ping"], {"op": "ping"}, object()])
def test_not_a_frame(value: Any) -> None:
    for numbers in NUMBERS:
        assert_parity("xt", value, numbers)
        assert_parity("xt", [b"ping", value], numbers, many=True)


def test_constructor_errors_match() -> None:
    for args, kwargs in [(("nope",), {}), ((1,), {}), (("xt", "int"), {}), (("xt", None), {})]:
        errors = []
        for impl in (pushwire._pydecode.PyDecoder, pushwire._native.Decoder):
            with pytest.raises(Exception) as info:
                impl(*args, **LIMITS, **kwargs)
            errors.append((type(info.value), str(info.value)))
        assert errors[0] == errors[1]


def test_recv_ts_passes_through() -> None:
    """recv_ts is used as given (the reference puts it in the event unchanged)."""
    for recv_ts in (0, -5, 2**70, None):
        py, rs = _decoders("xt", "float")
        a, b = py.decode(b"ping", recv_ts=recv_ts), rs.decode(b"ping", recv_ts=recv_ts)
        if recv_ts is None:
            assert abs(a[0].ts - b[0].ts) < 60_000
        else:
            assert a == b
