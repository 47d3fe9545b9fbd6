"""The bad-input suite: every malformed frame is refused with a clear, typed error.

Contract (CONTRACT.md "Decoding" and "Errors"): malformed input raises ``pushwire.DecodeError``
(a ``ValueError``) whose attributes and message name the exchange and, when the frame got that far,
the channel and the field. Decoding never crashes, never hangs, never returns a silently wrong value;
a gzip bomb is stopped by the inflated-size limit; a well-formed frame of an unknown topic yields
exactly one ``Unrecognized`` event.

Every bad frame here is built from a realistic valid frame (written below from
/work/shared/protocols.md) and then broken. ``test_valid_frames_decode`` proves each base frame
decodes and routes to the channel it stands for, so a refusal below is caused by the breakage.
"""

from __future__ import annotations

import copy
import decimal
import gzip
import json
import math
import os
import pickle
import random
import re
import struct
import subprocess
import sys
import textwrap
import zlib
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pushwire
import pytest
from pushwire import DecodeError, Decoder, PushwireError
from pushwire._pydecode import PyDecoder

#: Receive time passed to every decode, so frames without a time of their own are deterministic.
RECV = 1_700_000_000_000
#: Upper bound on str(DecodeError): quoted wire values must be capped, whatever the frame holds.
MSG_CAP = 200
#: A listen key as XT hands it out (protocols.md 1.3); it must never leak into an error.
LISTEN_KEY = "3BC1D71D6CF96DA3458FC35B05B633351684511731128"
DEFAULT_LIMIT = 16 * 1024 * 1024
DELETE = object()

# ------------------------------------------------------------------------------------------------
# Realistic valid frames (protocols.md), keyed by exchange and spec channel
# ------------------------------------------------------------------------------------------------

XT_FRAMES: dict[str, dict[str, Any]] = {
    # v2 envelope, ccxt/S6 position sample (1.7.2)
    "position": {
        "topic": "position",
        "event": "position",
        "data": {
            "accountId": 123456, "accountType": 0, "symbol": "btc_usdt", "contractType": "PERPETUAL",
            "positionType": "ISOLATED", "positionSide": "LONG", "positionSize": "123",
            "closeOrderSize": "100", "availableCloseSize": "23", "openOrderSize": "0",
            "realizedProfit": "-0.51", "entryPrice": "64000.5", "markPrice": "64010.1",
            "isolatedMargin": "213", "openOrderMarginFrozen": "123", "underlyingType": "U_BASED",
            "leverage": 20, "welfareAccount": False, "profitFixedLatest": {}, "closeProfit": "0",
            "totalFee": "-0.2", "totalFundFee": "0", "updatedTime": 1762184243057,
        },
    },
    # v2 order (1.7.4), with a non-ASCII client id so cuts can land inside a UTF-8 sequence
    "order": {
        "topic": "order",
        "event": "order@123456",
        "data": {
            "symbol": "btc_usdt", "orderId": "376172779053188416", "clientOrderId": "订单-1",
            "origQty": "2", "avgPrice": "3400.7", "price": "3400.7", "executedQty": "2",
            "marginFrozen": "0.75", "sourceType": "default", "state": "FILLED", "orderSide": "BUY",
            "timeInForce": "GTC", "positionSide": "LONG", "positionType": "ISOLATED", "type": "ORDER",
            "orderType": "LIMIT", "leverage": 20, "createdTime": 1719388579000,
            "updatedTime": 1719388579622,
        },
    },
    # ccxt wire fill (1.7.3)
    "trade": {
        "topic": "trade",
        "event": "trade@123456",
        "data": {
            "fee": "0.04080840", "isMaker": False, "marginUnfrozen": "0.75711984",
            "orderId": "376172779053188416", "orderSide": "BUY", "positionSide": "LONG",
            "price": "3400.70", "quantity": "2", "symbol": "eth_usdt", "timestamp": 1719388579622,
        },
    },
    # S6 newest balance example (1.7.1)
    "balance": {
        "topic": "balance",
        "event": "balance@123456",
        "data": {
            "coin": "usdt", "underlyingType": 2, "walletBalance": "9652.09217635",
            "openOrderMarginFrozen": "0.00000000", "isolatedMargin": "0", "crossedMargin": "38.58021896",
            "availableBalance": "9613.51195739", "coupon": "0", "bonus": "0",
        },
    },
    # v2 notify (1.7.5)
    "notify": {
        "topic": "notify",
        "event": "notify",
        "data": {
            "symbol": "btc_usdt", "positionType": "ISOLATED", "positionSide": "LONG",
            "positionSize": "123", "notifyType": "WARN",
        },
    },
}

WOO_FRAMES: dict[str, dict[str, Any]] = {
    # the V3 seed (2.6.1), commas restored
    "position_v3": {
        "topic": "position",
        "ts": 1677814655101,
        "data": {
            "positions": [
                {
                    "s": "PERP_BTC_USDT", "h": "1", "plq": "0.0002", "psq": "0.0", "aop": "49500.5",
                    "pnl": "-1.55902", "roi": "-0.0054", "fee": "0.218", "sp": "49000", "mp": "50000",
                    "ot": 1677814653001, "aq": 1, "lv": 10, "m": "ISOLATED", "ps": "BOTH", "it": "USDT",
                    "ia": "1000", "il": "10", "is": "10", "ver": 93454, "ts": 1677814653001,
                }
            ]
        },
    },
    # V3 executionreport with a fill (2.6.2)
    "executionreport_v3": {
        "topic": "executionreport",
        "ts": 1677814655101,
        "data": {
            "mt": 0, "s": "PERP_BTC_USDT", "cid": "my-order-1", "oid": "4103213", "t": "LIMIT",
            "sd": "BUY", "ps": "BOTH", "sx": "0.01", "px": "50000", "tid": "2101", "esx": "0.01",
            "epx": "50000", "f": "0.25", "fa": "USDT", "tesx": "0.01", "aepx": "50000",
            "ss": "FILLED", "rs": "", "tg": "default", "tf": "0.25", "tfc": "USDT",
            "ts": 1677814655100, "ro": False, "mk": True, "lv": 10, "m": "CROSS",
        },
    },
    "balance_v3": {
        "topic": "balance",
        "ts": 1677814655101,
        "data": {
            "balances": [
                {"t": "USDT", "h": "1000.5", "f": "10.25", "i": "0", "psq": "0", "plq": "0", "s": "0",
                 "u": "0", "v": "0", "ver": 12, "ts": 1677814655100}
            ]
        },
    },
    # V2 (S9) position, JSON numbers, keyed by symbol
    "position_v2": {
        "topic": "position",
        "ts": 1677814655101,
        "data": {
            "positions": {
                "PERP_BTC_USDT": {
                    "holding": 0.5, "pendingLongQty": 0.0002, "pendingShortQty": 0.0,
                    "averageOpenPrice": 22000.5, "pnl24H": -1.55902, "fee24H": 0.21800043,
                    "settlePrice": 0.0, "markPrice": 22325.47533333, "version": 93454,
                    "openingTime": 0, "pnl24HPercentage": -0.00542227, "adlQuantile": 2,
                    "positionSide": "BOTH",
                }
            }
        },
    },
    # V2 executionreport (2.6.2): integer ids, JSON numbers, a fill
    "executionreport_v2": {
        "topic": "executionreport",
        "ts": 1618742408450,
        "data": {
            "symbol": "PERP_BTC_USDT", "clientOrderId": 0, "orderId": 54774393, "type": "LIMIT",
            "side": "BUY", "quantity": 0.01, "price": 50000.0, "tradeId": 56201985,
            "executedPrice": 50000.0, "executedQuantity": 0.01, "fee": 2.5e-07, "feeAsset": "USDT",
            "totalExecutedQuantity": 0.01, "avgPrice": 50000.0, "status": "FILLED", "reason": "",
            "orderTag": "default", "totalFee": 2.5e-07, "visible": 0.01, "timestamp": 1618742408449,
            "reduceOnly": False, "maker": False,
        },
    },
    "balance_v2": {
        "topic": "balance",
        "ts": 1618757714353,
        "data": {
            "balances": {
                "USDT": {"holding": 1000.5, "frozen": 10.25, "interest": 0, "pendingShortQty": 0,
                         "pendingLongQty": 0, "version": 3, "staked": 0, "unbonding": 0, "vault": 0,
                         "averageOpenPrice": 0, "pnl24H": 0, "fee24H": 0, "markPrice": 0}
            }
        },
    },
}

HTX_FRAMES: dict[str, dict[str, Any]] = {
    # the seed positions_cross push (3.6.1)
    "positions": {
        "op": "notify",
        "topic": "positions_cross.btc-usdt",
        "ts": 1639107468139,
        "event": "order.match",
        "data": [
            {
                "contract_type": "swap", "pair": "BTC-USDT", "business_type": "swap", "symbol": "BTC",
                "contract_code": "BTC-USDT", "volume": 1, "available": 1, "frozen": 0,
                "cost_open": 48284.9, "cost_hold": 48284.9, "profit_unreal": -0.0001,
                "profit_rate": -0.000010355204214985, "profit": -0.0001, "margin_asset": "USDT",
                "position_margin": 9.65696, "lever_rate": 5, "direction": "buy", "last_price": 48284.8,
                "margin_mode": "cross", "margin_account": "USDT", "position_mode": "dual_side",
                "adl_risk_percent": "3",
            }
        ],
        "uid": "123456789",
    },
    # legacy orders_cross push, flat, with one fill in trade[] (3.6.2)
    "orders": {
        "op": "notify",
        "topic": "orders_cross.btc-usdt",
        "ts": 1639107468139,
        "uid": "123456789",
        "symbol": "BTC", "contract_code": "BTC-USDT", "volume": 1, "price": 48284.9,
        "order_price_type": "limit", "direction": "buy", "offset": "open", "status": 6,
        "lever_rate": 5, "order_id": 758684042347171800, "order_id_str": "758684042347171840",
        "client_order_id": None, "order_source": "api", "order_type": 1,
        "created_at": 1639107468000, "trade_volume": 1, "trade_turnover": 48.2849,
        "fee": -0.02414245, "trade_avg_price": 48284.9, "margin_frozen": 0, "profit": 0,
        "real_profit": 0, "liquidation_type": "0", "canceled_at": 0, "fee_asset": "USDT",
        "margin_asset": "USDT", "margin_mode": "cross", "margin_account": "USDT", "is_tpsl": 0,
        "reduce_only": 0, "contract_type": "swap", "pair": "BTC-USDT", "business_type": "swap",
        "trade_partition": "USDT",
        "trade": [
            {"id": "2131234825-758684042347171840-1", "trade_id": 2131234825, "trade_volume": 1,
             "trade_price": 48284.9, "trade_fee": -0.02414245, "fee_asset": "USDT",
             "trade_turnover": 48.2849, "created_at": 1639107468100, "role": "taker",
             "real_profit": 0, "profit": 0}
        ],
    },
    "accounts": {
        "op": "notify",
        "topic": "accounts_cross",
        "ts": 1639107468139,
        "event": "snapshot",
        "data": [
            {"margin_mode": "cross", "margin_account": "USDT", "margin_asset": "USDT",
             "margin_balance": 1000.5, "margin_static": 990.25, "margin_position": 9.65,
             "margin_frozen": 0, "profit_real": 0, "profit_unreal": 10.25,
             "withdraw_available": 980.6, "risk_rate": 103.2, "position_mode": "dual_side",
             "contract_detail": [], "futures_contract_detail": []}
        ],
        "uid": "123456789",
    },
    # V5 stream (3.9): decimal strings, plain text frames
    "orders_v5": {
        "op": "notify",
        "topic": "orders",
        "ts": 1700000000200,
        "data": {
            "contract_code": "BTC-USDT", "order_id": "1199329381205168128", "client_order_id": "abc-1",
            "side": "buy", "type": "limit", "state": "filled", "price": "64000.1", "volume": "1",
            "trade_volume": "1", "trade_avg_price": "64000.1", "reduce_only": False,
            "margin_mode": "cross", "order_source": "api", "created_time": 1700000000000,
            "updated_time": 1700000000100,
        },
    },
    "trade_v5": {
        "op": "notify",
        "topic": "trade",
        "ts": 1700000000200,
        "data": [
            {"contract_code": "BTC-USDT", "order_id": "1199329381205168128",
             "id": "5321-1199329381205168128-1", "trade_id": "5321", "side": "buy",
             "trade_price": "64000.1", "trade_volume": "1", "trade_fee": "-0.0256",
             "fee_currency": "USDT", "role": "maker", "created_time": 1700000000150}
        ],
    },
    "account_v5": {
        "op": "notify",
        "topic": "account",
        "ts": 1700000000200,
        "event": "snapshot",
        "data": {
            "state": "1", "version": 7,
            "details": [{"currency": "USDT", "equity": "1000.5", "profit_unreal": "10.25",
                         "available": "900", "updated_time": 1700000000000}],
        },
    },
}

FRAMES = {"xt": XT_FRAMES, "woo": WOO_FRAMES, "htx": HTX_FRAMES}
#: The HTX legacy stream gzips every server frame; V5 and the other exchanges send text.
GZIPPED = {("htx", "positions"), ("htx", "orders"), ("htx", "accounts")}
#: The event kinds each base frame yields, in order.
KINDS = {
    ("xt", "position"): ["position"], ("xt", "order"): ["order"], ("xt", "trade"): ["fill"],
    ("xt", "balance"): ["balance"], ("xt", "notify"): ["risk"],
    ("woo", "position_v3"): ["position"], ("woo", "executionreport_v3"): ["order", "fill"],
    ("woo", "balance_v3"): ["balance"], ("woo", "position_v2"): ["position"],
    ("woo", "executionreport_v2"): ["order", "fill"], ("woo", "balance_v2"): ["balance"],
    ("htx", "positions"): ["position"], ("htx", "orders"): ["order", "fill"],
    ("htx", "accounts"): ["balance"], ("htx", "orders_v5"): ["order"], ("htx", "trade_v5"): ["fill"],
    ("htx", "account_v5"): ["balance"],
}
BASES = [(ex, ch) for ex, frames in FRAMES.items() for ch in frames]
EXCHANGES = ["xt", "woo", "htx"]
#: One representative frame per exchange, where a test needs just one.
MAIN = {"xt": "position", "woo": "position_v3", "htx": "positions"}
#: Where the mapped fields of each base frame's (first) record live.
RECORD = {
    ("xt", "position"): ("data",), ("xt", "order"): ("data",), ("xt", "trade"): ("data",),
    ("xt", "balance"): ("data",), ("xt", "notify"): ("data",),
    ("woo", "position_v3"): ("data", "positions", 0), ("woo", "executionreport_v3"): ("data",),
    ("woo", "balance_v3"): ("data", "balances", 0),
    ("woo", "position_v2"): ("data", "positions", "PERP_BTC_USDT"), ("woo", "executionreport_v2"): ("data",),
    ("woo", "balance_v2"): ("data", "balances", "USDT"),
    ("htx", "positions"): ("data", 0), ("htx", "orders"): (), ("htx", "accounts"): ("data", 0),
    ("htx", "orders_v5"): ("data",), ("htx", "trade_v5"): ("data", 0), ("htx", "account_v5"): ("data",),
}


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def base(exchange: str, channel: str) -> dict[str, Any]:
    return copy.deepcopy(FRAMES[exchange][channel])


def on_wire(exchange: str, channel: str, text: str | bytes) -> bytes:
    """The frame as the exchange would send it (gzip for the HTX legacy stream)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return gz(data) if (exchange, channel) in GZIPPED else data


def wire(exchange: str, channel: str, frame: dict[str, Any] | None = None) -> bytes:
    return on_wire(exchange, channel, dumps(base(exchange, channel) if frame is None else frame))


def mutate(frame: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``frame`` with the value at ``path`` replaced (or removed with DELETE)."""
    out = copy.deepcopy(frame)
    cur: Any = out
    for key in path[:-1]:
        cur = cur[key]
    if value is DELETE:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return out


_RAW = "@@RAW-JSON@@"


def with_raw(frame: dict[str, Any], path: tuple[Any, ...], raw: str) -> str:
    """The frame's JSON text with the value at ``path`` replaced by the literal text ``raw``."""
    text = dumps(mutate(frame, path, _RAW))
    assert text.count(f'"{_RAW}"') == 1
    return text.replace(f'"{_RAW}"', raw)


def json_depth(obj: Any) -> int:
    """Nesting depth of a JSON value, the root container counting 1 (iterative)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return deepest


def nested_arrays(n: int) -> str:
    return "[" * n + "]" * n


def nested_objects(n: int) -> str:
    return '{"a":' * n + "{}" + "}" * n  # n objects holding one empty object: n + 1 levels


def make_decoder(exchange: str, backend: str, numbers: str, **limits: int) -> Decoder:
    return Decoder(exchange, numbers=numbers, backend=backend, **limits)


def decode(exchange: str, frame: Any, backend: str, numbers: str, **limits: int) -> list[Any]:
    return make_decoder(exchange, backend, numbers, **limits).decode(frame, recv_ts=RECV)


def expect_error(
    exchange: str,
    frame: Any,
    backend: str,
    numbers: str,
    *,
    channel: str | None = None,
    field: str | None = None,
    says: str | None = None,
    routed: bool | None = None,
    **limits: int,
) -> DecodeError:
    """Decode ``frame`` and check it is refused with a DecodeError that says where and why.

    ``channel``/``field``: the attributes must equal them and the message must name them.
    ``routed=False``: refused before routing, so ``channel`` and ``field`` must be None.
    ``says``: a regex the message must match (case-insensitively).
    """
    dec = make_decoder(exchange, backend, numbers, **limits)
    try:
        events = dec.decode(frame, recv_ts=RECV)
    except DecodeError as exc:
        err = exc
    except Exception as exc:  # noqa: BLE001 - any other exception is the failure being tested for
        pytest.fail(f"expected pushwire.DecodeError, got {type(exc).__module__}.{type(exc).__name__}: "
                    f"{str(exc)[:300]}")
    else:
        pytest.fail(f"expected pushwire.DecodeError, got events {str(events)[:500]}")
    msg = str(err)
    assert isinstance(err, ValueError) and isinstance(err, PushwireError)
    assert err.exchange == exchange
    assert re.search(rf"\b{exchange}\b", msg), f"the message does not name the exchange: {msg!r}"
    if routed is False:
        assert err.channel is None and err.field is None, (err.channel, err.field, msg)
    if channel is not None:
        assert err.channel == channel, f"channel {err.channel!r} != {channel!r}: {msg!r}"
        assert channel in msg, f"the message does not name channel {channel!r}: {msg!r}"
    if field is not None:
        assert err.field == field, f"field {err.field!r} != {field!r}: {msg!r}"
        assert field in msg, f"the message does not name field {field!r}: {msg!r}"
    if says is not None:
        assert re.search(says, msg, re.IGNORECASE), f"the message does not say /{says}/: {msg!r}"
    assert len(msg) < MSG_CAP, f"message of {len(msg)} chars: {msg[:300]!r}..."
    assert len(repr(err)) < MSG_CAP + 60, f"repr of {len(repr(err))} chars"
    return err


def first_with(events: list[Any], attr: str) -> Any:
    for ev in events:
        if attr in type(ev).__struct_fields__:
            return ev
    raise AssertionError(f"no event with field {attr!r} in {events!r}")


def by_kind(events: list[Any], kind: str) -> list[Any]:
    return [e for e in events if e.__struct_config__.tag == kind]


# ------------------------------------------------------------------------------------------------
# The base frames are valid (so every refusal below is caused by the breakage)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exchange,channel", BASES, ids=[f"{e}-{c}" for e, c in BASES])
def test_valid_frames_decode(exchange: str, channel: str, backend: str, numbers: str) -> None:
    frame = wire(exchange, channel)
    assert PyDecoder(exchange).channel_of(frame) == channel
    events = decode(exchange, frame, backend, numbers)
    assert [e.__struct_config__.tag for e in events] == KINDS[(exchange, channel)]
    assert all(e.exchange == exchange for e in events)
    # also as str, and (for gzip frames) uncompressed: the same events
    text = dumps(base(exchange, channel))
    assert decode(exchange, text, backend, numbers) == events


# ------------------------------------------------------------------------------------------------
# Not JSON, truncated JSON, a root that is not an object
# ------------------------------------------------------------------------------------------------

_rng = random.Random(20240601)
GARBAGE: dict[str, bytes | str] = {
    "text": "this is not json at all",
    "lone-open-brace": "{",
    "lone-close-brace": "}",
    "empty": b"",
    "whitespace": b" \r\n\t ",
    "binary": b"\x00\x01\x02\x03\xff\xfe\xfd\x80\x81",
    "random-bytes": bytes([0x42]) + bytes(_rng.randrange(256) for _ in range(512)),
    "single-quotes": "{'topic': 'position', 'data': {}}",
    "trailing-comma": '{"topic":"position","data":{"symbol":"btc_usdt",},}',
    "doc-comment": '{"topic":"position", // comment\n"data":{}}',
    "two-documents": '{"topic":"nope"}{"topic":"nope"}',
    "ping-with-junk": "ping!",
    "unquoted-key": '{topic:"position"}',
}


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("name", list(GARBAGE))
def test_not_json(exchange: str, name: str, backend: str, numbers: str) -> None:
    junk = GARBAGE[name]
    expect_error(exchange, junk, backend, numbers, says=r"json|utf-?8", routed=False)
    # the same junk gzip-compressed (a valid gzip member that does not hold JSON)
    data = junk.encode() if isinstance(junk, str) else junk
    expect_error(exchange, gz(data), backend, numbers, says=r"json|utf-?8", routed=False)


@pytest.mark.parametrize("exchange,channel", BASES, ids=[f"{e}-{c}" for e, c in BASES])
def test_truncated_json(exchange: str, channel: str, backend: str, numbers: str) -> None:
    full = dumps(base(exchange, channel)).encode("utf-8")
    n = len(full)
    cuts = sorted({0, 1, 2, 7, n // 5, n // 3, n // 2, 2 * n // 3, 4 * n // 5, n - 3, n - 2, n - 1})
    for cut in cuts:
        piece = full[:cut]
        err = expect_error(exchange, piece, backend, numbers, says=r"json|utf-?8", routed=False)
        assert err.channel is None
        # the same cut text, sent as the exchange sends it (gzip for HTX legacy)
        expect_error(exchange, on_wire(exchange, channel, piece), backend, numbers,
                     says=r"json|utf-?8", routed=False)


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_truncated_json_every_prefix(exchange: str, backend: str, numbers: str) -> None:
    """Every proper prefix of a real frame is refused, none silently decoded."""
    full = dumps(base(exchange, MAIN[exchange])).encode("utf-8")
    dec = make_decoder(exchange, backend, numbers)
    for cut in range(len(full)):
        with pytest.raises(DecodeError) as info:
            dec.decode(full[:cut], recv_ts=RECV)
        assert info.value.exchange == exchange and info.value.channel is None, (cut, str(info.value))


ROOTS = {
    "array": ("[{}]", r"array"),
    "array-of-a-real-frame": (None, r"array"),
    "empty-array": ("[]", r"array"),
    "string": ('"position"', r"string"),
    "number": ("42", r"number"),
    "float": ("1.5", r"number"),
    "null": ("null", r"null"),
    "true": ("true", r"bool"),
}


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("root", list(ROOTS))
def test_root_not_an_object(exchange: str, root: str, backend: str, numbers: str) -> None:
    text, kind = ROOTS[root]
    if text is None:
        text = "[" + dumps(base(exchange, MAIN[exchange])) + "]"
    # the message says an object was expected and what arrived, in JSON terms
    expect_error(exchange, text, backend, numbers, says=rf"object.*{kind}", routed=False)
    expect_error(exchange, gz(text.encode()), backend, numbers, says=rf"object.*{kind}", routed=False)


# ------------------------------------------------------------------------------------------------
# Bad gzip
# ------------------------------------------------------------------------------------------------


def _gzip_cases(member: bytes) -> dict[str, bytes]:
    crc_bad = bytearray(member)
    crc_bad[-8] ^= 0x01  # first byte of the CRC32 trailer
    size_bad = bytearray(member)
    size_bad[-1] ^= 0x10  # ISIZE
    body_bad = bytearray(member)
    body_bad[len(member) // 2] ^= 0xFF  # corrupt the deflate stream
    return {
        "magic-only": b"\x1f\x8b",
        "magic-then-junk": b"\x1f\x8b" + b"this is not deflate data at all",
        "magic-then-text": b"\x1f\x8b" + dumps({"topic": "position"}).encode(),
        "bad-method": member[:2] + b"\x07" + member[3:],
        "header-only": member[:10],
        "truncated-early": member[:14],
        "truncated-half": member[: len(member) // 2],
        "truncated-no-trailer": member[:-8],
        "truncated-last-byte": member[:-1],
        "trailing-zero": member + b"\x00",
        "trailing-junk": member + b"garbage after the member",
        "trailing-newline": member + b"\n",
        "corrupt-crc": bytes(crc_bad),
        "corrupt-isize": bytes(size_bad),
        "corrupt-body": bytes(body_bad),
    }


GZIP_CASES = list(_gzip_cases(gz(b"{}")))


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("case", GZIP_CASES)
def test_bad_gzip(exchange: str, case: str, backend: str, numbers: str) -> None:
    """Gzip is detected by its magic bytes whatever the exchange, and a broken member is refused."""
    member = gz(dumps(base(exchange, MAIN[exchange])).encode())
    frame = _gzip_cases(member)[case]
    expect_error(exchange, frame, backend, numbers, says=r"gzip|deflat|compress", routed=False)


def test_gzip_cases_are_really_broken() -> None:
    """Self-check: every case above is rejected by the standard library's own strict reader."""
    member = gz(dumps(base("htx", "positions")).encode())
    for name, frame in _gzip_cases(member).items():
        d = zlib.decompressobj(wbits=31)
        try:
            d.decompress(frame)
        except zlib.error:
            continue
        assert not d.eof or d.unused_data, name


def test_gzip_of_gzip_is_refused(backend: str, numbers: str) -> None:
    """A doubly compressed frame is inflated once, then refused as not JSON (never inflated twice)."""
    frame = gz(gz(dumps(base("htx", "positions")).encode()))
    expect_error("htx", frame, backend, numbers, says=r"json|utf-?8", routed=False)


# ------------------------------------------------------------------------------------------------
# Gzip bombs and size limits
# ------------------------------------------------------------------------------------------------


def gzip_bomb(prefix: bytes, suffix: bytes, mib: int) -> bytes:
    """A valid gzip member of ``prefix + b"A" * mib MiB + suffix``, built without deflating it all.

    Each MiB is deflated once after a full flush, so its compressed block is the same bytes each
    time and can be repeated; the trailer carries the true CRC32 and size.
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"A" * (1 << 20)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == again
    tail = c.compress(suffix) + c.flush()
    crc = zlib.crc32(prefix)
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + mib * len(chunk) + len(suffix)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + head + block * mib + tail + struct.pack("<II", crc, size & 0xFFFFFFFF)


def _bomb_parts(exchange: str) -> tuple[bytes, bytes]:
    """A real frame whose unknown "pad" key will hold the inflated megabytes."""
    text = dumps(mutate(base(exchange, MAIN[exchange]), ("pad",), _RAW))
    prefix, suffix = text.split(f'"{_RAW}"')
    return (prefix + '"').encode(), ('"' + suffix).encode()


@cache
def bomb(exchange: str, mib: int) -> bytes:
    return gzip_bomb(*_bomb_parts(exchange), mib)


def test_bomb_builder_is_sound(backend: str) -> None:
    """Self-check: a small bomb inflates to the intended frame, which decodes under a high limit."""
    frame = bomb("htx", 3)
    text = gzip.decompress(frame)
    assert len(text) > 3 * (1 << 20) and json.loads(text)["pad"] == "A" * (3 << 20)
    events = decode("htx", frame, backend, "float", max_inflated_bytes=8 << 20)
    assert [e.__struct_config__.tag for e in events] == ["position"]


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_gzip_bomb_default_limit(exchange: str, backend: str, numbers: str) -> None:
    """A 1 MB frame that inflates to 1 GiB is refused by the default 16 MiB inflated-size limit."""
    frame = bomb(exchange, 1024)
    assert len(frame) < 2 << 20  # small on the wire, far under max_frame_bytes
    err = expect_error(exchange, frame, backend, numbers, says=r"limit|exceed|too (large|big)", routed=False)
    assert re.search(rf"{DEFAULT_LIMIT}|16 ?MiB", str(err)), str(err)


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_gzip_bomb_just_over_default_limit(exchange: str, backend: str, numbers: str) -> None:
    frame = bomb(exchange, 17)  # 17 MiB of padding
    expect_error(exchange, frame, backend, numbers, says=r"limit|exceed|too (large|big)", routed=False)


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_gzip_inflate_limit_small(exchange: str, backend: str, numbers: str) -> None:
    """Decoder(max_inflated_bytes=1024): a frame inflating to 2 KB is refused, one of 1024 bytes is not."""
    frame = base(exchange, MAIN[exchange])

    def padded_to(size: int) -> bytes:
        text = dumps(mutate(frame, ("pad",), ""))
        text = dumps(mutate(frame, ("pad",), "x" * (size - len(text.encode()))))
        assert len(text.encode()) == size
        return text.encode()

    err = expect_error(exchange, gz(padded_to(2048)), backend, numbers, says=r"limit|exceed",
                       routed=False, max_inflated_bytes=1024)
    assert "1024" in str(err)
    expect_error(exchange, gz(padded_to(1025)), backend, numbers, says=r"limit|exceed",
                 routed=False, max_inflated_bytes=1024)
    events = decode(exchange, gz(padded_to(1024)), backend, numbers, max_inflated_bytes=1024)
    assert [e.__struct_config__.tag for e in events] == KINDS[(exchange, MAIN[exchange])]
    # the 1 GiB bomb under the small limit too
    expect_error(exchange, bomb(exchange, 1024), backend, numbers, says=r"limit|exceed",
                 routed=False, max_inflated_bytes=1024)


_BOMB_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import pushwire
    path, backend, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    frame = open(path, "rb").read()
    dec = pushwire.Decoder("htx", backend=backend, max_inflated_bytes=limit)
    dec.decode(b'{"op":"ping","ts":1}')  # warm up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        dec.decode(frame)
        outcome = "decoded"
    except pushwire.DecodeError as exc:
        outcome = "DecodeError: " + str(exc)
    except BaseException as exc:
        outcome = type(exc).__name__ + ": " + str(exc)[:200]
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"outcome": outcome, "grew_kib": after - before}))
    """
)


@pytest.mark.parametrize("limit", [DEFAULT_LIMIT, 1024])
def test_gzip_bomb_memory_bounded(limit: int, backend: str, tmp_path: Path) -> None:
    """Refusing a 1 GiB bomb never holds more than a few times the limit (measured in a fresh process)."""
    path = tmp_path / "bomb.gz"
    path.write_bytes(bomb("htx", 1024))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(pushwire.__file__).resolve().parent.parent), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", _BOMB_CHILD, str(path), backend, str(limit)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["outcome"].startswith("DecodeError: htx"), report
    grew_mib = report["grew_kib"] / 1024
    # 1 GiB would be inflated by a decoder without the limit; allow 4x the limit plus slack
    assert grew_mib < 4 * limit / (1 << 20) + 64, f"peak RSS grew by {grew_mib:.0f} MiB"


@pytest.mark.parametrize("exchange,channel", BASES, ids=[f"{e}-{c}" for e, c in BASES])
def test_frame_over_max_frame_bytes(exchange: str, channel: str, backend: str, numbers: str) -> None:
    """The raw frame (as received, compressed or not) is capped by max_frame_bytes."""
    frame = wire(exchange, channel)
    n = len(frame)
    events = decode(exchange, frame, backend, numbers, max_frame_bytes=n)  # exactly at the limit
    assert [e.__struct_config__.tag for e in events] == KINDS[(exchange, channel)]
    err = expect_error(exchange, frame, backend, numbers, says=r"limit|exceed|too (large|big)",
                       routed=False, max_frame_bytes=n - 1)
    assert str(n - 1) in str(err), str(err)
    # far over: a 1 MB unknown key with a 64 KiB limit
    big = wire(exchange, channel, mutate(base(exchange, channel), ("pad",), "p" * (1 << 20)))
    if (exchange, channel) in GZIPPED:  # make sure the compressed frame itself is large
        big = wire(exchange, channel, mutate(base(exchange, channel), ("pad",),
                                             random.Random(1).randbytes(1 << 20).hex()))
    assert len(big) > 1 << 16
    expect_error(exchange, big, backend, numbers, says=r"limit|exceed|too (large|big)", routed=False,
                 max_frame_bytes=1 << 16)


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_frame_limit_counts_utf8_bytes_of_str(exchange: str, backend: str, numbers: str) -> None:
    """A str frame is measured in UTF-8 bytes, not characters."""
    text = dumps(mutate(base(exchange, MAIN[exchange]), ("pad",), "é" * 300))
    limit = len(text) + 100  # more characters than the text has, fewer bytes
    assert len(text.encode()) > limit
    expect_error(exchange, text, backend, numbers, says=r"limit|exceed", routed=False, max_frame_bytes=limit)


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_frame_over_default_max_frame_bytes(exchange: str, backend: str, numbers: str) -> None:
    text = dumps(mutate(base(exchange, MAIN[exchange]), ("pad",), "p" * DEFAULT_LIMIT))
    assert len(text) > DEFAULT_LIMIT
    err = expect_error(exchange, text.encode(), backend, numbers, says=r"limit|exceed", routed=False)
    assert str(DEFAULT_LIMIT) in str(err) or "16 MiB" in str(err)


# ------------------------------------------------------------------------------------------------
# Deep nesting
# ------------------------------------------------------------------------------------------------

DEEP = 100_000


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("shape", ["arrays", "objects"])
@pytest.mark.parametrize("where", ["unknown-key", "mapped-field"])
def test_deep_nesting_refused(exchange: str, shape: str, where: str, backend: str, numbers: str) -> None:
    """100,000 levels inside a valid frame: refused with a depth error, not a RecursionError."""
    channel = MAIN[exchange]
    nest = nested_arrays(DEEP) if shape == "arrays" else nested_objects(DEEP)
    rec = RECORD[(exchange, channel)]
    key = "unknownDeepKey" if where == "unknown-key" else {
        "xt": "entryPrice", "woo": "aop", "htx": "cost_open"}[exchange]
    text = with_raw(base(exchange, channel), rec + (key,), nest)
    for frame in (text, text.encode(), on_wire(exchange, channel, text)):
        expect_error(exchange, frame, backend, numbers, says=r"nest|deep|depth")


@pytest.mark.parametrize("exchange,channel", BASES, ids=[f"{e}-{c}" for e, c in BASES])
@pytest.mark.parametrize("max_depth", [8, 16])
def test_max_depth_boundary(exchange: str, channel: str, max_depth: int, backend: str, numbers: str) -> None:
    """With a small max_depth, a frame exactly max_depth deep decodes and max_depth + 1 is refused."""
    rec = RECORD[(exchange, channel)]
    frame = base(exchange, channel)
    rec_depth = len(rec) + 1  # the root counts 1, each step down one more
    assert json_depth(frame) < max_depth

    def frame_of_depth(total: int) -> dict[str, Any]:
        levels = total - rec_depth  # nested lists under the record
        value: Any = []
        for _ in range(levels - 1):
            value = [value]
        out = mutate(frame, rec + ("probe",), value)
        assert json_depth(out) == total, (json_depth(out), total)
        return out

    ok = frame_of_depth(max_depth)
    events = decode(exchange, wire(exchange, channel, ok), backend, numbers, max_depth=max_depth)
    assert [e.__struct_config__.tag for e in events] == KINDS[(exchange, channel)]
    err = expect_error(exchange, wire(exchange, channel, frame_of_depth(max_depth + 1)), backend, numbers,
                       says=r"nest|deep|depth", max_depth=max_depth)
    assert str(max_depth) in str(err)


# ------------------------------------------------------------------------------------------------
# Wrong types in mapped fields
# ------------------------------------------------------------------------------------------------

WRONG_TYPES = [
    # exchange, base channel, path, bad value, field, message must say
    ("xt", "position", ("data", "entryPrice"), {"value": "64000.5"}, "entry_price", r"object"),
    ("xt", "position", ("data", "positionSize"), True, "size", r"bool"),
    ("xt", "position", ("data", "leverage"), [20], "leverage", r"array"),
    ("xt", "order", ("data", "orderId"), [376172779053188416], "order_id", r"array"),
    ("xt", "order", ("data", "orderId"), {"id": "1"}, "order_id", r"object"),
    ("xt", "order", ("data", "price"), {"p": "3400.7"}, "price", r"object"),
    ("xt", "order", ("data", "createdTime"), "1719388579000.5", "created_ts", r"integer"),
    ("xt", "order", ("data", "updatedTime"), "yesterday", "ts", r"integer"),
    ("xt", "order", ("data", "createdTime"), 2**63, "created_ts", r"range|64"),
    ("xt", "order", ("data", "createdTime"), -(2**63) - 1, "created_ts", r"range|64"),
    ("xt", "trade", ("data", "price"), False, "price", r"bool"),
    ("xt", "trade", ("data", "timestamp"), "1719388579622.5", "ts", r"integer"),
    ("xt", "balance", ("data", "walletBalance"), ["9652.09"], "wallet_balance", r"array"),
    ("xt", "balance", ("data", "coin"), {"c": "usdt"}, "asset", r"object"),
    ("woo", "position_v3", ("data", "positions", 0, "aop"), {"v": "1"}, "entry_price", r"object"),
    ("woo", "position_v3", ("data", "positions", 0, "h"), True, "size", r"bool"),
    ("woo", "position_v3", ("data", "positions", 0, "ver"), 2**64, "version", r"range|64"),
    ("woo", "position_v3", ("data", "positions", 0, "ts"), "1677814653001.5", "ts", r"integer"),
    ("woo", "executionreport_v3", ("data", "oid"), [4103213], "order_id", r"array"),
    ("woo", "executionreport_v3", ("data", "ro"), "maybe", "reduce_only", r"bool"),
    ("woo", "executionreport_v3", ("data", "px"), {"v": 1}, "price", r"object"),
    ("woo", "position_v2", ("data", "positions", "PERP_BTC_USDT", "holding"), False, "size", r"bool"),
    ("woo", "position_v2", ("data", "positions", "PERP_BTC_USDT", "version"), 1.5, "version", r"integer"),
    ("woo", "executionreport_v2", ("data", "orderId"), [54774393], "order_id", r"array"),
    ("woo", "executionreport_v2", ("data", "timestamp"), 2**63, "ts", r"range|64"),
    ("woo", "balance_v2", ("data", "balances", "USDT", "holding"), "lots", "wallet_balance",
     r"decimal|number"),
    ("htx", "positions", ("data", 0, "cost_open"), {"v": 1}, "entry_price", r"object"),
    ("htx", "positions", ("data", 0, "volume"), True, "size", r"bool"),
    ("htx", "positions", ("data", 0, "lever_rate"), [5], "leverage", r"array"),
    ("htx", "positions", ("ts",), 2**64, "ts", r"range|64"),
    ("htx", "orders", ("order_id_str",), ["758684042347171840"], "order_id", r"array"),
    ("htx", "orders", ("created_at",), "1639107468000.5", "created_ts", r"integer"),
    ("htx", "orders", ("trade", 0, "trade_price"), True, "price", r"bool"),
    ("htx", "orders", ("price",), {"v": 48284.9}, "price", r"object"),
    ("htx", "trade_v5", ("data", 0, "trade_volume"), ["1"], "quantity", r"array"),
    ("htx", "orders_v5", ("data", "created_time"), -(2**63) - 1, "created_ts", r"range|64"),
    ("htx", "account_v5", ("data", "details", 0, "available"), {"v": "900"}, "available", r"object"),
    ("htx", "account_v5", ("data", "version"), "seven", "version", r"integer"),
]


@pytest.mark.parametrize(
    "exchange,channel,path,value,field,says",
    WRONG_TYPES,
    ids=[f"{c[0]}-{c[1]}-{c[4]}-{type(c[3]).__name__}" for c in WRONG_TYPES],
)
def test_wrong_type_in_mapped_field(exchange, channel, path, value, field, says, backend, numbers) -> None:
    frame = wire(exchange, channel, mutate(base(exchange, channel), path, value))
    expect_error(exchange, frame, backend, numbers, channel=channel, field=field, says=says)


_CONTAINERS = [
    ("xt", "position", ("data",)),
    ("htx", "positions", ("data",)),
    ("htx", "trade_v5", ("data",)),
    ("htx", "orders", ("trade",)),
    ("woo", "position_v3", ("data", "positions")),
    ("woo", "balance_v3", ("data", "balances")),
    ("woo", "position_v2", ("data", "positions")),
    ("woo", "balance_v2", ("data", "balances")),
]
WRONG_CONTAINERS = [
    (ex, ch, path, bad)
    for ex, ch, path in _CONTAINERS
    for bad in ("string", "number", "wrong-container")
    # XT: data as a string is the spec's push_error frame (an error Ack), not a malformed push.
    # WOO: V3 lists records, V2 keys them by symbol, so either container is a legitimate shape.
    if not (ex == "xt" and bad == "string") and not (ex == "woo" and bad == "wrong-container")
]


@pytest.mark.parametrize("exchange,channel,path,bad", WRONG_CONTAINERS,
                         ids=[f"{e}-{c}-{'.'.join(p)}-{b}" for e, c, p, b in WRONG_CONTAINERS])
def test_known_topic_with_wrong_container(exchange, channel, path, bad, backend, numbers) -> None:
    """A push of a known topic whose record container has the wrong type is a DecodeError naming
    the channel, not an Unrecognized (that is for topics the spec does not know) and not a crash."""
    original = base(exchange, channel)
    cur: Any = original
    for k in path:
        cur = cur[k]
    value = {"string": "oops", "number": 5, "wrong-container": [] if isinstance(cur, dict) else {}}[bad]
    frame = wire(exchange, channel, mutate(original, path, value))
    err = expect_error(exchange, frame, backend, numbers)
    family = channel.rsplit("_v", 1)[0]  # WOO: either generation's channel may claim it
    assert err.channel is not None and err.channel.startswith(family), (err.channel, str(err))
    assert err.field is not None and path[-1] in err.field, (err.field, str(err))


# ------------------------------------------------------------------------------------------------
# Non-finite and out-of-range numbers
# ------------------------------------------------------------------------------------------------

#: A decimal field per exchange and wire style: (exchange, channel, path, unified field).
DECIMAL_TARGETS = [
    ("xt", "position", ("data", "entryPrice"), "entry_price"),
    ("woo", "position_v3", ("data", "positions", 0, "aop"), "entry_price"),
    ("woo", "position_v2", ("data", "positions", "PERP_BTC_USDT", "averageOpenPrice"), "entry_price"),
    ("htx", "positions", ("data", 0, "cost_open"), "entry_price"),
    ("htx", "trade_v5", ("data", 0, "trade_price"), "price"),
]
DT_IDS = [f"{t[0]}-{t[1]}" for t in DECIMAL_TARGETS]
NOT_FINITE_STRINGS = ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "-inf", "+Inf",
                      "1e", "--1", "0x1A", "1_000", "1,5", "12abc", "∞"]


@pytest.mark.parametrize("exchange,channel,path,field", DECIMAL_TARGETS, ids=DT_IDS)
@pytest.mark.parametrize("value", NOT_FINITE_STRINGS)
def test_non_numeric_decimal_strings(exchange, channel, path, field, value, backend, numbers) -> None:
    """"NaN"/"Infinity"/"-inf" and other non-numbers are refused in both modes (no Decimal('NaN'))."""
    frame = wire(exchange, channel, mutate(base(exchange, channel), path, value))
    expect_error(exchange, frame, backend, numbers, channel=channel, field=field, says=r"decimal|number")


@pytest.mark.parametrize("exchange,channel,path,field", DECIMAL_TARGETS, ids=DT_IDS)
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "nan", "inf"])
def test_non_json_number_literals(exchange, channel, path, field, literal, backend, numbers) -> None:
    """Bare NaN/Infinity tokens are not JSON: refused before routing."""
    text = with_raw(base(exchange, channel), path, literal)
    for frame in (text, on_wire(exchange, channel, text)):
        expect_error(exchange, frame, backend, numbers, says=r"json", routed=False)


@pytest.mark.parametrize("exchange,channel,path,field", DECIMAL_TARGETS, ids=DT_IDS)
@pytest.mark.parametrize("form", ["json-number", "string"])
@pytest.mark.parametrize("value", ["1e400", "-1e400", "1E+400", "1" * 400])
def test_out_of_float_range(exchange, channel, path, field, form, value, backend, numbers) -> None:
    """Float mode refuses a value beyond the float range; decimal mode keeps its exact digits."""
    original = base(exchange, channel)
    text = with_raw(original, path, value) if form == "json-number" else dumps(mutate(original, path, value))
    frame = on_wire(exchange, channel, text)
    if numbers == "float":
        expect_error(exchange, frame, backend, numbers, channel=channel, field=field,
                     says=r"range|finite|large")
    else:
        events = decode(exchange, frame, backend, numbers)
        got = getattr(first_with(events, field), field)
        assert type(got) is Decimal and got == Decimal(value) and got.is_finite()
        assert got.as_tuple() == Decimal(value).as_tuple()  # the exact digits, not a rounding


@pytest.mark.parametrize("exchange,channel,path,field", DECIMAL_TARGETS, ids=DT_IDS)
@pytest.mark.parametrize("form", ["json-number", "string"])
def test_huge_integer_decimal(exchange, channel, path, field, form, backend, numbers) -> None:
    """A 30-digit integer is a finite float in float mode and exact in decimal mode."""
    value = "123456789012345678901234567890"
    original = base(exchange, channel)
    text = with_raw(original, path, value) if form == "json-number" else dumps(mutate(original, path, value))
    events = decode(exchange, on_wire(exchange, channel, text), backend, numbers)
    got = getattr(first_with(events, field), field)
    if numbers == "float":
        assert type(got) is float and got == float(value)
    else:
        assert type(got) is Decimal and got == Decimal(value)


#: Integer fields: (exchange, channel, path, unified field).
INT_TARGETS = [
    ("xt", "order", ("data", "createdTime"), "created_ts"),
    ("woo", "position_v3", ("data", "positions", 0, "ver"), "version"),
    ("woo", "position_v2", ("data", "positions", "PERP_BTC_USDT", "version"), "version"),
    ("htx", "orders_v5", ("data", "created_time"), "created_ts"),
]
IT_IDS = [f"{t[0]}-{t[1]}-{t[3]}" for t in INT_TARGETS]


@pytest.mark.parametrize("exchange,channel,path,field", INT_TARGETS, ids=IT_IDS)
@pytest.mark.parametrize("form", ["json-number", "string"])
def test_int64_boundary(exchange, channel, path, field, form, backend, numbers) -> None:
    original = base(exchange, channel)

    def frame(n: int) -> bytes:
        if form == "json-number":
            text = with_raw(original, path, str(n))
        else:
            text = dumps(mutate(original, path, str(n)))
        return on_wire(exchange, channel, text)

    hi, lo = 2**63 - 1, -(2**63)
    assert getattr(first_with(decode(exchange, frame(hi), backend, numbers), field), field) == hi
    assert getattr(first_with(decode(exchange, frame(lo), backend, numbers), field), field) == lo
    for n in (hi + 1, lo - 1, 10**30):
        expect_error(exchange, frame(n), backend, numbers, channel=channel, field=field, says=r"range|64")


@pytest.mark.parametrize("exchange,channel,path,field", INT_TARGETS, ids=IT_IDS)
@pytest.mark.parametrize("digits", [400, 5000, 100_000])
def test_enormous_integer_string_in_int_field(exchange, channel, path, field, digits, backend,
                                              numbers) -> None:
    """An integer string of thousands of digits is a DecodeError (out of range), not a ValueError from
    Python's int-parsing digit limit, and not a slow parse."""
    frame = wire(exchange, channel, mutate(base(exchange, channel), path, "9" * digits))
    expect_error(exchange, frame, backend, numbers, channel=channel, field=field, says=r"range|64|integer")


@pytest.mark.parametrize("exchange,channel,path,field", DECIMAL_TARGETS + INT_TARGETS, ids=DT_IDS + IT_IDS)
def test_enormous_integer_json_number(exchange, channel, path, field, backend, numbers) -> None:
    """A JSON integer literal of 5,000 digits: a DecodeError, whatever the stage that refuses it."""
    text = with_raw(base(exchange, channel), path, "9" * 5000)
    expect_error(exchange, on_wire(exchange, channel, text), backend, numbers)


def test_ids_beyond_int64_stay_exact(backend: str, numbers: str) -> None:
    """Ids are strings: a JSON integer id beyond 2**64 is kept digit for digit (never via a float)."""
    big = 2**64 + 1
    text = with_raw(base("woo", "executionreport_v2"), ("data", "orderId"), str(big))
    order, fill = decode("woo", text, backend, numbers)
    assert order.order_id == fill.order_id == str(big)
    # HTX: order_id (a JSON number that already lost precision) is overridden by order_id_str
    order, fill = decode("htx", wire("htx", "orders"), backend, numbers)
    assert order.order_id == fill.order_id == "758684042347171840"


# -- computed decimals (WOO available = holding - frozen; HTX V5 wallet = equity - profit_unreal) ---

SUB_TARGETS = [
    ("woo", "balance_v3", ("data", "balances", 0, "h"), ("data", "balances", 0, "f"), "available"),
    ("woo", "balance_v2", ("data", "balances", "USDT", "holding"), ("data", "balances", "USDT", "frozen"),
     "available"),
    ("htx", "account_v5", ("data", "details", 0, "equity"), ("data", "details", 0, "profit_unreal"),
     "wallet_balance"),
]
ST_IDS = [f"{t[0]}-{t[1]}" for t in SUB_TARGETS]


def exact_difference(x: str, y: str) -> Decimal:
    """x - y computed exactly (a wide context that traps any rounding)."""
    ctx = decimal.Context(prec=500, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                          traps=[decimal.Inexact, decimal.Overflow, decimal.InvalidOperation])
    return ctx.subtract(Decimal(x), Decimal(y))


@pytest.mark.parametrize("exchange,channel,a,b,field", SUB_TARGETS, ids=ST_IDS)
@pytest.mark.parametrize("x,y", [("123456789012345678901234567890.5", "0.25"), ("0.1", "1E-60"),
                                 ("1000.5", "10.25")])
def test_computed_difference_is_exact_in_decimal_mode(exchange, channel, a, b, field, x, y,
                                                      backend, numbers) -> None:
    """decimal mode: a computed difference keeps every digit (no 28-digit context rounding)."""
    frame = mutate(mutate(base(exchange, channel), a, x), b, y)
    got = getattr(decode(exchange, wire(exchange, channel, frame), backend, numbers)[0], field)
    if numbers == "decimal":
        assert type(got) is Decimal and got == exact_difference(x, y), f"{x} - {y} gave {got}"
    else:
        assert type(got) is float and math.isclose(got, float(x) - float(y))


@pytest.mark.parametrize("exchange,channel,a,b,field", SUB_TARGETS, ids=ST_IDS)
@pytest.mark.parametrize("x,y", [("1.7e308", "-1.7e308"), ("9e999999", "-9e999999")])
def test_computed_difference_out_of_range(exchange, channel, a, b, field, x, y, backend, numbers) -> None:
    """A difference that overflows is refused in float mode (never inf); in decimal mode it is exact
    or a DecodeError, never a decimal.Overflow escaping from the context."""
    frame = wire(exchange, channel, mutate(mutate(base(exchange, channel), a, x), b, y))
    if numbers == "float":
        expect_error(exchange, frame, backend, numbers, channel=channel, says=r"range|finite|large")
        return
    try:
        events = decode(exchange, frame, backend, numbers)
    except DecodeError as err:
        assert err.exchange == exchange and err.channel == channel, str(err)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"expected events or DecodeError, got {type(exc).__module__}.{type(exc).__name__}: {exc}")
    else:
        assert getattr(events[0], field) == exact_difference(x, y)


# ------------------------------------------------------------------------------------------------
# Missing required fields
# ------------------------------------------------------------------------------------------------

MISSING = [
    # exchange, channel, paths to remove, channel in the error, field
    ("xt", "position", [("data", "positionSize")], "size"),
    ("xt", "position", [("data", "symbol")], "symbol"),
    ("xt", "order", [("data", "orderId")], "order_id"),
    ("xt", "trade", [("data", "price")], "price"),
    ("xt", "trade", [("data", "orderId")], "order_id"),
    ("xt", "trade", [("data", "quantity")], "quantity"),
    ("xt", "balance", [("data", "coin")], "asset"),
    ("xt", "notify", [("data", "notifyType")], "risk_kind"),
    ("woo", "position_v3", [("data", "positions", 0, "h")], "size"),
    ("woo", "position_v3", [("data", "positions", 0, "s")], "symbol"),
    ("woo", "executionreport_v3", [("data", "oid")], "order_id"),
    ("woo", "executionreport_v3", [("data", "epx")], "price"),
    ("woo", "executionreport_v3", [("data", "esx")], "quantity"),
    ("woo", "balance_v3", [("data", "balances", 0, "t")], "asset"),
    ("woo", "position_v2", [("data", "positions", "PERP_BTC_USDT", "holding")], "size"),
    ("woo", "executionreport_v2", [("data", "orderId")], "order_id"),
    ("woo", "executionreport_v2", [("data", "executedPrice")], "price"),
    ("htx", "positions", [("data", 0, "volume")], "size"),
    ("htx", "positions", [("data", 0, "contract_code")], "symbol"),
    ("htx", "orders", [("order_id",), ("order_id_str",)], "order_id"),
    ("htx", "orders", [("trade", 0, "trade_price")], "price"),
    ("htx", "orders", [("trade", 0, "id"), ("trade", 0, "trade_id")], "trade_id"),
    ("htx", "orders_v5", [("data", "order_id")], "order_id"),
    ("htx", "trade_v5", [("data", 0, "trade_price")], "price"),
    ("htx", "accounts", [("data", 0, "margin_asset")], "asset"),
    ("htx", "account_v5", [("data", "details", 0, "currency")], "asset"),
]


@pytest.mark.parametrize(
    "exchange,channel,paths,field", MISSING, ids=[f"{m[0]}-{m[1]}-{m[3]}" for m in MISSING]
)
@pytest.mark.parametrize("how", ["absent", "null"])
def test_missing_required_field(exchange, channel, paths, field, how, backend, numbers) -> None:
    frame = base(exchange, channel)
    for p in paths:
        frame = mutate(frame, p, DELETE if how == "absent" else None)
    expect_error(exchange, wire(exchange, channel, frame), backend, numbers,
                 channel=channel, field=field, says=r"missing|required")


@pytest.mark.parametrize(
    "exchange,channel,paths,field",
    [m for m in MISSING if m[3] in ("size", "price", "quantity")],
    ids=[f"{m[0]}-{m[1]}-{m[3]}" for m in MISSING if m[3] in ("size", "price", "quantity")],
)
def test_required_decimal_empty_string(exchange, channel, paths, field, backend, numbers) -> None:
    """"" is absent for a decimal, so a required decimal sent as "" is missing (not 0, not NaN)."""
    frame = base(exchange, channel)
    for p in paths:
        frame = mutate(frame, p, "")
    expect_error(exchange, wire(exchange, channel, frame), backend, numbers,
                 channel=channel, field=field, says=r"missing|required")


# ------------------------------------------------------------------------------------------------
# Invalid UTF-8 and lone surrogates
# ------------------------------------------------------------------------------------------------

BAD_UTF8 = {
    "ff": b"\xff",
    "bad-continuation": b"\xc3\x28",
    "encoded-surrogate": b"\xed\xa0\x80",
    "overlong-slash": b"\xc0\xaf",
    "truncated-3-byte": b"\xe2\x82",
    "beyond-u10ffff": b"\xf4\x90\x80\x80",
    "lone-continuation": b"\x80",
}


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("bad", list(BAD_UTF8))
@pytest.mark.parametrize("where", ["mapped-field", "unknown-key", "unknown-topic"])
def test_invalid_utf8_in_json_string(exchange, bad, where, backend, numbers) -> None:
    channel = MAIN[exchange]
    rec = RECORD[(exchange, channel)]
    if where == "unknown-topic":
        frame: dict[str, Any] = {"topic": "nope", "ts": 1677814655101, "data": {"note": _RAW}}
        path: tuple[Any, ...] = ("data", "note")
    else:
        frame = base(exchange, channel)
        path = rec + ({"xt": "symbol", "woo": "s", "htx": "contract_code"}[exchange]
                      if where == "mapped-field" else "memo",)
    text = dumps(mutate(frame, path, _RAW)).encode()
    raw = text.replace(_RAW.encode(), b"BTC" + BAD_UTF8[bad] + b"USDT")
    for f in (raw, gz(raw)):
        expect_error(exchange, f, backend, numbers, says=r"utf-?8|unicode|encoding", routed=False)


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_invalid_utf8_error_names_the_right_offset(exchange, backend, numbers) -> None:
    """When the message names a byte offset for bad UTF-8, it is where the bad byte is in the frame."""
    text = dumps(mutate(base(exchange, MAIN[exchange]), ("memo",), _RAW)).encode()
    raw = text.replace(_RAW.encode(), b"abc\xffdef")
    offset = raw.index(b"\xff")
    err = expect_error(exchange, raw, backend, numbers, says=r"utf-?8", routed=False)
    m = re.search(r"byte (\d+)", str(err))
    if m is not None:
        assert int(m.group(1)) == offset, f"bad byte at {offset}, the message says: {err}"


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "\udc80"])
@pytest.mark.parametrize("where", ["mapped-field", "unknown-topic"])
def test_lone_surrogate_in_str_frame(exchange, surrogate, where, backend, numbers) -> None:
    channel = MAIN[exchange]
    if where == "unknown-topic":
        text = dumps({"topic": "nope", "ts": 1677814655101, "data": {"note": "a" + surrogate}})
    else:
        path = RECORD[(exchange, channel)] + ({"xt": "symbol", "woo": "s", "htx": "contract_code"}[exchange],)
        text = dumps(mutate(base(exchange, channel), path, "BTC" + surrogate + "USDT"))
    assert surrogate in text
    expect_error(exchange, text, backend, numbers, says=r"utf-?8|unicode|surrogate", routed=False)


# ------------------------------------------------------------------------------------------------
# Unknown topics -> exactly one Unrecognized
# ------------------------------------------------------------------------------------------------

UNKNOWN = [
    # exchange, text, topic, ts
    ("xt", '{"topic":"nope","event":"nope","data":{}}', "nope", RECV),
    ("xt", '{"channel":"user.nope","data":{}}', "user.nope", RECV),
    ("xt", '{"topic":"position@' + LISTEN_KEY + '","event":"position","data":{}}',
     "position@" + LISTEN_KEY, RECV),
    # envelope ts 1 is below 1e11, so it is read as seconds (the spec's time rule): 1000 ms
    ("woo", '{"topic":"nope","ts":1,"data":{}}', "nope", 1000),
    ("woo", '{"topic":"account","ts":1677814655101,"data":{"m":1,"M":"CROSS","mr":"1.5"}}', "account",
     1677814655101),
    ("htx", '{"op":"notify","topic":"nope.btc-usdt","ts":1,"data":[]}', "nope.btc-usdt", 1000),
    ("htx", '{"op":"notify","topic":"public.btc-usdt.liquidation_orders","ts":1639107468139,"data":[]}',
     "public.btc-usdt.liquidation_orders", 1639107468139),
    ("htx", '{"op":"weird","ts":1639107468139}', "weird", 1639107468139),
]


@pytest.mark.parametrize("exchange,text,topic,ts", UNKNOWN, ids=[f"{u[0]}-{u[2][:30]}" for u in UNKNOWN])
@pytest.mark.parametrize("form", ["str", "bytes", "gzip"])
def test_unknown_topic_is_one_unrecognized(exchange, text, topic, ts, form, backend, numbers) -> None:
    frame: Any = {"str": text, "bytes": text.encode(), "gzip": gz(text.encode())}[form]
    events = decode(exchange, frame, backend, numbers)
    assert len(events) == 1, events
    (ev,) = events
    assert isinstance(ev, pushwire.Unrecognized) and ev.__struct_config__.tag == "unrecognized"
    assert ev.exchange == exchange
    assert ev.topic == topic
    assert ev.raw == text  # the (inflated) frame text, exactly
    assert ev.ts == ts


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_unknown_topic_does_not_stop_a_stream(exchange, backend, numbers) -> None:
    channel = MAIN[exchange]
    good = wire(exchange, channel)
    unknown = {"xt": b'{"topic":"nope","event":"nope","data":{}}',
               "woo": b'{"topic":"nope","ts":1,"data":{}}',
               "htx": gz(b'{"op":"notify","topic":"nope.btc-usdt","ts":1,"data":[]}')}[exchange]
    dec = make_decoder(exchange, backend, numbers)
    events = dec.decode_many([good, unknown, good], recv_ts=RECV)
    kinds = [e.__struct_config__.tag for e in events]
    want = KINDS[(exchange, channel)]
    assert kinds == want + ["unrecognized"] + want
    # a bad frame inside decode_many raises DecodeError (not swallowed, not another exception)
    with pytest.raises(DecodeError) as info:
        dec.decode_many([good, b"{", good], recv_ts=RECV)
    assert info.value.exchange == exchange


# ------------------------------------------------------------------------------------------------
# Unknown enum values are not errors
# ------------------------------------------------------------------------------------------------

UNKNOWN_STATUS = [
    ("xt", "order", ("data", "state"), "PENDING_TRIGGER", "PENDING_TRIGGER"),
    ("woo", "executionreport_v3", ("data", "ss"), "WEIRD_NEW_STATE", "WEIRD_NEW_STATE"),
    ("woo", "executionreport_v2", ("data", "status"), "SUSPENDED", "SUSPENDED"),
    ("htx", "orders", ("status",), 99, "99"),
    ("htx", "orders_v5", ("data", "state"), "hibernating", "hibernating"),
]


@pytest.mark.parametrize("exchange,channel,path,value,raw", UNKNOWN_STATUS,
                         ids=[f"{u[0]}-{u[1]}" for u in UNKNOWN_STATUS])
def test_unknown_order_status_is_unknown(exchange, channel, path, value, raw, backend, numbers) -> None:
    good = decode(exchange, wire(exchange, channel), backend, numbers)
    events = decode(exchange, wire(exchange, channel, mutate(base(exchange, channel), path, value)),
                    backend, numbers)
    assert [e.__struct_config__.tag for e in events] == KINDS[(exchange, channel)]
    (order,) = by_kind(events, "order")
    (good_order,) = by_kind(good, "order")
    assert order.status == "unknown"
    assert order.raw_status == raw
    assert order.order_id == good_order.order_id and order.order_id
    # everything else is decoded as before
    for name in type(order).__struct_fields__:
        if name not in ("status", "raw_status"):
            assert getattr(order, name) == getattr(good_order, name), name


# ------------------------------------------------------------------------------------------------
# Non-frame arguments
# ------------------------------------------------------------------------------------------------

NOT_FRAMES = {"None": None, "int": 123, "float": 1.5, "bool": True, "list": ["{}"],
              "dict": {"topic": "nope"}, "object": object()}


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("name", list(NOT_FRAMES))
def test_non_frame_argument_is_type_error(exchange, name, backend, numbers) -> None:
    value = NOT_FRAMES[name]
    dec = make_decoder(exchange, backend, numbers)
    for call in (lambda: dec.decode(value, recv_ts=RECV), lambda: dec.decode_many([value], recv_ts=RECV)):
        with pytest.raises(TypeError) as info:
            call()
        assert not isinstance(info.value, DecodeError)
        assert re.search(r"bytes|str", str(info.value)), str(info.value)
    if backend == pushwire.decoder_backend():
        with pytest.raises(TypeError):
            pushwire.decode(exchange, value, numbers=numbers)


# ------------------------------------------------------------------------------------------------
# Error messages stay short and never carry secrets
# ------------------------------------------------------------------------------------------------

LONG = 10_000
LONG_CASES = {
    # name: (exchange, channel, text)
    "xt-bad-decimal-string": ("xt", "position", lambda: dumps(
        mutate(base("xt", "position"), ("data", "positionSize"), "9" * 20 + "x" * LONG))),
    "xt-bad-int-string": ("xt", "order", lambda: dumps(
        mutate(base("xt", "order"), ("data", "createdTime"), "x" * LONG))),
    "xt-unknown-required-enum": ("xt", "notify", lambda: dumps(
        mutate(base("xt", "notify"), ("data", "notifyType"), "K" * LONG))),
    "xt-long-float-literal-in-int-field": ("xt", "order", lambda: with_raw(
        base("xt", "order"), ("data", "createdTime"), "1." + "5" * LONG)),
    "xt-object-with-long-key": ("xt", "order", lambda: dumps(
        mutate(base("xt", "order"), ("data", "orderId"), {"k" * LONG: 1}))),
    "woo-long-float-literal-in-bool-field": ("woo", "executionreport_v3", lambda: with_raw(
        base("woo", "executionreport_v3"), ("data", "ro"), "2." + "5" * LONG)),
    "woo-long-symbol-key-not-an-object": ("woo", "position_v2", lambda: dumps(
        mutate(base("woo", "position_v2"), ("data", "positions"), {"PERP_" + "X" * LONG: 5}))),
    "htx-long-string-in-trade-list": ("htx", "orders", lambda: dumps(
        mutate(base("htx", "orders"), ("trade",), ["x" * LONG]))),
    "htx-long-bool-string": ("htx", "orders_v5", lambda: dumps(
        mutate(base("htx", "orders_v5"), ("data", "reduce_only"), "y" * LONG))),
    "htx-truncated-long-string": ("htx", "positions", lambda: dumps(
        mutate(base("htx", "positions"), ("data", 0, "symbol"), "B" * LONG))[: LONG // 2]),
    "garbage": ("xt", "position", lambda: "x" * 100_000),
}


@pytest.mark.parametrize("case", list(LONG_CASES))
def test_error_message_is_capped(case, backend, numbers) -> None:
    """Quoted wire values are capped: the message, repr and attributes stay short."""
    exchange, channel, make = LONG_CASES[case]
    err = expect_error(exchange, on_wire(exchange, channel, make()), backend, numbers)
    for attr in ("exchange", "channel", "field"):
        value = getattr(err, attr)
        assert value is None or len(value) < 100, f"{attr} of {len(value)} chars"


@pytest.mark.parametrize("envelope", ["event", "listenKey", "channel-v1"])
@pytest.mark.parametrize("breakage", ["bad-size", "missing-size", "bad-time", "not-json"])
def test_listen_key_never_in_error(envelope, breakage, backend, numbers) -> None:
    """An XT frame carrying the listen key (in event/topic or a key of its own) is refused without
    the key appearing in the message or repr."""
    frame = base("xt", "position")
    if envelope == "event":
        frame["event"] = "position@" + LISTEN_KEY
    elif envelope == "listenKey":
        frame["listenKey"] = LISTEN_KEY
    else:
        del frame["topic"], frame["event"]
        frame["channel"] = "user.position"
        frame["topic"] = "position@" + LISTEN_KEY
    if breakage == "bad-size":
        frame = mutate(frame, ("data", "positionSize"), "12.3.4")
    elif breakage == "missing-size":
        frame = mutate(frame, ("data", "positionSize"), DELETE)
    elif breakage == "bad-time":
        frame = mutate(frame, ("data", "updatedTime"), "soon")
    text = dumps(frame)
    if breakage == "not-json":
        text = text[:-2]
    err = expect_error("xt", text, backend, numbers)
    for shown in (str(err), repr(err), *err.args):
        assert LISTEN_KEY not in str(shown)
        assert LISTEN_KEY[:16] not in str(shown)


# ------------------------------------------------------------------------------------------------
# DecodeError is a proper, picklable exception
# ------------------------------------------------------------------------------------------------


def test_decode_error_hierarchy() -> None:
    assert issubclass(DecodeError, ValueError) and issubclass(DecodeError, PushwireError)
    assert issubclass(PushwireError, Exception)


@pytest.mark.parametrize("exchange,frame,routed", [
    ("xt", b"{", False),
    ("woo", gz(b"{}")[:-3], False),
    ("htx", None, True),
])
def test_decode_error_pickles(exchange, frame, routed, backend, numbers) -> None:
    if frame is None:
        frame = wire("htx", "positions", mutate(base("htx", "positions"), ("data", 0, "volume"), DELETE))
    with pytest.raises(DecodeError) as info:
        decode(exchange, frame, backend, numbers)
    err = info.value
    assert (err.channel is not None) == routed
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(err, protocol=protocol))
        assert type(back) is type(err) is DecodeError
        assert str(back) == str(err) and back.args == err.args
        assert (back.exchange, back.channel, back.field) == (err.exchange, err.channel, err.field)
        assert isinstance(back, ValueError) and isinstance(back, PushwireError)
    clone = copy.deepcopy(err)
    assert (str(clone), clone.exchange, clone.channel, clone.field) == \
        (str(err), err.exchange, err.channel, err.field)


def test_constructed_decode_error_pickles() -> None:
    err = DecodeError("htx/orders: order.order_id: missing", exchange="htx", channel="orders",
                      field="order_id")
    back = pickle.loads(pickle.dumps(err))
    assert (str(back), back.exchange, back.channel, back.field) == (str(err), "htx", "orders", "order_id")
    bare = pickle.loads(pickle.dumps(DecodeError("boom")))
    assert str(bare) == "boom" and bare.exchange is bare.channel is bare.field is None
