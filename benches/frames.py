"""The bench frames: deterministic, valid wire JSON per /work/shared/protocols.md (1.7, 2.6, 3.6).

Every frame is built from Python data with exact number literals (``Decimal`` is written as a JSON
number with its exact digits, so HTX's ``-0.000010355204214985`` stays as the exchange writes it,
not ``-1.0355204214985e-05``). HTX frames are gzip members with ``mtime=0``, so the bytes are the
same on every run (and on every machine with the same zlib; the inflated JSON is the same everywhere).
Nothing here reads a clock or a random generator.

``FRAMES`` maps a frame name to a :class:`BenchFrame`. ``GOAL_FRAMES`` lists the six frames the
performance goal is measured over (their geometric mean).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

import msgspec

__all__ = ["FRAMES", "FRAME_NAMES", "GOAL_FRAMES", "RECV_TS", "BenchFrame", "build_frames"]

#: Receive time passed to decoders in correctness checks (XT order pushes carry no time of their own).
RECV_TS = 1_700_000_000_000

_ENCODER = msgspec.json.Encoder(decimal_format="number")


@dataclass(frozen=True)
class BenchFrame:
    name: str
    exchange: str
    channel: str  # the spec channel the frame routes to (checked against the reference decoder)
    data: bytes  # the frame exactly as received (gzip members for HTX)
    events: dict[str, int]  # expected number of events of each kind
    doc: str

    @property
    def gzipped(self) -> bool:
        return self.data[:2] == b"\x1f\x8b"

    @property
    def text(self) -> bytes:
        """The JSON text (inflated for gzip frames)."""
        return gzip.decompress(self.data) if self.gzipped else self.data


def _json(obj: Any) -> bytes:
    return _ENCODER.encode(obj)


def _gzip(text: bytes) -> bytes:
    return gzip.compress(text, compresslevel=9, mtime=0)


# 50 base coins; WOO's 100-position frame is these 50 perps in hedge mode (a LONG and a SHORT row).
BASES = ["BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "TRX", "TON", "LTC", "BCH", "NEAR", "UNI", "ATOM", "XLM", "ETC", "FIL", "APT", "ARB", "OP", "INJ", "SUI", "SEI", "TIA", "IMX", "STX", "HBAR", "VET", "ALGO", "AAVE", "MKR", "SNX", "GRT", "SAND", "MANA", "AXS", "EGLD", "THETA", "EOS", "XTZ", "FLOW", "KAVA", "CRV", "LDO", "PEPE", "WIF", "ORDI", "JUP"]
assert len(BASES) == len(set(BASES)) == 50


def _s(d: D) -> str:
    """Fixed-point text of a decimal, trailing zeros dropped (never scientific notation)."""
    return format(d.normalize(), "f")


def _n(d: D) -> D:
    """A decimal whose JSON number text is fixed-point."""
    return D(_s(d))


def _price(i: int) -> D:
    """A deterministic price with a varying number of digits."""
    return _n((D(67234) / (i + 1)).quantize(D("0.0001")))


# -- XT (v2 envelope, the live wire; protocols.md 1.7.2 / 1.7.4) --------------------------------


def xt_position() -> bytes:
    # ccxt's recorded wire keys (S7) plus updatedTime (S6); decimals are strings, leverage an int.
    return _json(
        {
            "topic": "position",
            "event": "position",
            "data": {
                "accountId": 3264719,
                "accountType": 0,
                "symbol": "btc_usdt",
                "contractType": "PERPETUAL",
                "positionType": "CROSSED",
                "positionSide": "SHORT",
                "positionSize": "1250",
                "closeOrderSize": "0",
                "availableCloseSize": "1250",
                "realizedProfit": "-0.49836011",
                "entryPrice": "67234.5",
                "openOrderSize": "0",
                "isolatedMargin": "8.40431250",
                "openOrderMarginFrozen": "0",
                "underlyingType": "U_BASED",
                "leverage": 10,
                "welfareAccount": False,
                "profitFixedLatest": {},
                "closeProfit": "0",
                "totalFee": "-0.50421375",
                "totalFundFee": "0.00585364",
                "markPrice": "67251.3",
                "updatedTime": 1762184243057,
            },
        }
    )


def xt_order() -> bytes:
    # The v2 doc's data keys (with "orderType" spelled as the mock emits it) plus clientOrderId
    # (ccxt) and lastTradeId (S6). No updatedTime: ts is the receive time.
    return _json(
        {
            "topic": "order",
            "event": "order@482913",
            "data": {
                "symbol": "btc_usdt",
                "orderId": "376172779053188416",
                "clientOrderId": "pw-1719388579622-7",
                "origQty": "1250",
                "avgPrice": "67234.5",
                "price": "67240",
                "executedQty": "1250",
                "marginFrozen": "8.40500000",
                "sourceType": "DEFAULT",
                "positionType": "CROSSED",
                "orderSide": "BUY",
                "timeInForce": "GTC",
                "positionSide": "LONG",
                "type": "ORDER",
                "orderType": "LIMIT",
                "leverage": 10,
                "state": "FILLED",
                "createdTime": 1719388579622,
                "lastTradeId": "556931318219666113",
            },
        }
    )


# -- WOO X V3 (abbreviated keys, decimal strings; protocols.md 2.6.1 / 2.6.2) ----------------------


def _woo_row(i: int, symbol: str, side: str, holding: D, mode: str) -> dict[str, Any]:
    px = _price(i)
    return {
        "s": symbol,
        "h": _s(holding),
        "plq": _s(D("0.0002") * (i % 3)),
        "psq": "0.0",
        "aop": _s(px),
        "pnl": _s(D("-1.55902") + D(i) / 100),
        "roi": _s(D("-0.0054") + D(i) / 10000),
        "fee": _s(D("0.218") + D(i) / 1000),
        "sp": _s(px - 1),
        "mp": _s(px + D("0.25")),
        "ot": 1677814653001 - i * 1000,
        "aq": 1 + i % 5,
        "lv": 10 + i % 3 * 5,
        "m": mode,
        "ps": side,
        "it": "USDT",
        "ia": _s(D(1000) + i) if mode == "ISOLATED" else "0",
        "il": "10",
        "is": "10",
        "ver": 93454 + i,
        "ts": 1677814653001 + i,
    }


def woo_positions(n: int) -> bytes:
    if n == 1:
        # The seed (S2) row, commas restored.
        rows = [
            {
                "s": "PERP_BTC_USDT",
                "h": "1",
                "plq": "0.0002",
                "psq": "0.0",
                "aop": "0.0",
                "pnl": "-1.55902",
                "roi": "-0.0054",
                "fee": "0.218",
                "sp": "49000",
                "mp": "50000",
                "ot": 1677814653001,
                "aq": 1,
                "lv": 10,
                "m": "ISOLATED",
                "ps": "BOTH",
                "it": "USDT",
                "ia": "1000",
                "il": "10",
                "is": "10",
                "ver": 93454,
                "ts": 1677814653001,
            }
        ]
    else:
        # Hedge mode: a LONG and a SHORT row per perp (positive holdings); every third perp isolated.
        rows = []
        for i in range(n):
            base = BASES[(i // 2) % len(BASES)]
            side = "LONG" if i % 2 == 0 else "SHORT"
            mode = "ISOLATED" if (i // 2) % 3 == 0 else "CROSS"
            holding = D("0.01") * (i + 1)
            rows.append(_woo_row(i, f"PERP_{base}_USDT", side, holding, mode))
    return _json({"topic": "position", "ts": 1677814655101, "data": {"positions": rows}})


def woo_executionreport_fill() -> bytes:
    # A partial fill of a limit buy: order state + this fill (tid != 0). Decimals are strings, ids
    # and times JSON integers, flags booleans (the V3 value types are UNCONFIRMED, see 2.6.2).
    return _json(
        {
            "topic": "executionreport",
            "ts": 1719388579700,
            "data": {
                "mt": 0,
                "s": "PERP_BTC_USDT",
                "cid": "pw-1719388579001",
                "oid": 1873120485,
                "t": "LIMIT",
                "sd": "BUY",
                "ps": "BOTH",
                "sx": "0.25",
                "px": "67240",
                "tid": 987654321,
                "esx": "0.1",
                "epx": "67238.5",
                "f": "2.0171550",
                "fa": "USDT",
                "tesx": "0.1",
                "aepx": "67238.5",
                "ss": "PARTIAL_FILLED",
                "rs": "",
                "tg": "default",
                "tf": "2.0171550",
                "tfc": "USDT",
                "tr": "0",
                "trc": "USDT",
                "vsx": "0.25",
                "ts": 1719388579622,
                "ro": False,
                "mk": False,
                "lv": 10,
                "rpi": False,
                "m": "CROSS",
            },
        }
    )


# -- HTX linear-swap-notification (gzip, JSON numbers; protocols.md 3.6.1 / 3.6.2) ---------------


def _htx_seed_row() -> dict[str, Any]:
    return {
        "contract_type": "swap",
        "pair": "BTC-USDT",
        "business_type": "swap",
        "symbol": "BTC",
        "contract_code": "BTC-USDT",
        "volume": 1,
        "available": 1,
        "frozen": 0,
        "cost_open": D("48284.9"),
        "cost_hold": D("48284.9"),
        "profit_unreal": D("-0.0001"),
        "profit_rate": D("-0.000010355204214985"),
        "profit": D("-0.0001"),
        "margin_asset": "USDT",
        "position_margin": D("9.65696"),
        "lever_rate": 5,
        "direction": "buy",
        "last_price": D("48284.8"),
        "margin_mode": "cross",
        "margin_account": "USDT",
        "position_mode": "dual_side",
        "adl_risk_percent": "3",
    }


def _htx_row(i: int) -> dict[str, Any]:
    # The snapshot row shape ccxt recorded: the seed keys plus liquidation_price and trade_partition.
    base = BASES[i // 2]
    code = f"{base}-USDT"
    direction = "buy" if i % 2 == 0 else "sell"
    px = _price(i)
    volume = 1 + i * 7
    return {
        "contract_type": "swap",
        "pair": code,
        "business_type": "swap",
        "symbol": base,
        "contract_code": code,
        "volume": volume,
        "available": volume,
        "frozen": 0,
        "cost_open": px,
        "cost_hold": px,
        "profit_unreal": _n(D("-0.0001") * (i + 1)),
        "profit_rate": _n(D("-0.000010355204214985") * (i + 1)),
        "profit": _n(D("-0.0001") * (i + 1)),
        "margin_asset": "USDT",
        "position_margin": _n((px * volume / 1000 / 5).quantize(D("0.00000001"))),
        "lever_rate": 5,
        "direction": direction,
        "last_price": _n(px - D("0.1")),
        "margin_mode": "cross",
        "margin_account": "USDT",
        "position_mode": "dual_side",
        "adl_risk_percent": str(1 + i % 5),
        "liquidation_price": None if i % 4 == 3 else _n(px * (D("0.8") if direction == "buy" else D("1.2"))),
        "trade_partition": "USDT",
    }


def htx_positions(n: int) -> bytes:
    if n == 1:
        # The seed (S3): a position change after a match.
        msg = {
            "op": "notify",
            "topic": "positions_cross.btc-usdt",
            "ts": 1639107468139,
            "event": "order.match",
            "data": [_htx_seed_row()],
            "uid": "123456789",
        }
    else:
        # The 5-second snapshot: bare topic, no uid (ccxt's recorded snapshot); 10 contracts, dual side.
        msg = {
            "op": "notify",
            "topic": "positions_cross",
            "ts": 1639107473139,
            "event": "snapshot",
            "data": [_htx_row(i) for i in range(n)],
        }
    return _gzip(_json(msg))


def htx_order_2_trades() -> bytes:
    # The cross push shape ccxt recorded (order_id and order_id_str both strings), filled by two trades.
    oid = "917361766334193664"

    def trade(n: int, trade_id: int, volume: int, price: D, fee: D, role: str, at: int) -> dict[str, Any]:
        return {
            "trade_fee": fee,
            "fee_asset": "USDT",
            "real_profit": 0,
            "profit": 0,
            "trade_id": trade_id,
            "id": f"{trade_id}-{oid}-{n}",
            "trade_volume": volume,
            "trade_price": price,
            "trade_turnover": _n(price * volume / 1000),
            "created_at": at,
            "role": role,
        }

    trades = [
        trade(1, 117345, 3, D("48284.9"), D("-0.057941880"), "taker", 1639107468100),
        trade(2, 117346, 2, D("48285.3"), D("-0.038628240"), "taker", 1639107468102),
    ]
    return _gzip(
        _json(
            {
                "contract_type": "swap",
                "pair": "BTC-USDT",
                "business_type": "swap",
                "op": "notify",
                "topic": "orders_cross.btc-usdt",
                "ts": 1639107468139,
                "symbol": "BTC",
                "contract_code": "BTC-USDT",
                "volume": 5,
                "price": D(48290),
                "order_price_type": "limit",
                "direction": "buy",
                "offset": "open",
                "status": 6,
                "lever_rate": 5,
                "order_id": oid,
                "order_id_str": oid,
                "client_order_id": None,
                "order_source": "api",
                "order_type": 1,
                "created_at": 1639107468000,
                "trade_volume": 5,
                "trade_turnover": D("241.4253"),
                "fee": D("-0.09657012"),
                "trade_avg_price": D("48285.06"),
                "margin_frozen": 0,
                "profit": 0,
                "trade": trades,
                "canceled_at": 0,
                "fee_asset": "USDT",
                "margin_asset": "USDT",
                "uid": "123456789",
                "liquidation_type": "0",
                "margin_mode": "cross",
                "margin_account": "USDT",
                "is_tpsl": 0,
                "real_profit": 0,
                "trade_partition": "USDT",
                "reduce_only": 0,
            }
        )
    )


def build_frames() -> dict[str, BenchFrame]:
    frames = [
        BenchFrame("xt_position", "xt", "position", xt_position(), {"position": 1},
                   "XT v2 position push (one symbol+side)"),
        BenchFrame("xt_order", "xt", "order", xt_order(), {"order": 1},
                   "XT v2 order push (filled limit order)"),
        BenchFrame("woo_position_1", "woo", "position_v3", woo_positions(1), {"position": 1},
                   "WOO V3 position push, 1 position (the seed)"),
        BenchFrame("woo_position_100", "woo", "position_v3", woo_positions(100), {"position": 100},
                   "WOO V3 position push, 100 positions (50 perps, hedge mode)"),
        BenchFrame("htx_position_1_gz", "htx", "positions", htx_positions(1), {"position": 1},
                   "HTX positions_cross push, 1 position (the seed), gzip"),
        BenchFrame("htx_position_20_gz", "htx", "positions", htx_positions(20), {"position": 20},
                   "HTX positions_cross snapshot, 20 positions, gzip"),
        BenchFrame("htx_order_2_trades_gz", "htx", "orders", htx_order_2_trades(), {"order": 1, "fill": 2},
                   "HTX orders_cross push with 2 trades, gzip"),
        BenchFrame("woo_execreport_fill", "woo", "executionreport_v3", woo_executionreport_fill(),
                   {"order": 1, "fill": 1}, "WOO V3 executionreport with a fill"),
    ]
    return {f.name: f for f in frames}


FRAMES: dict[str, BenchFrame] = build_frames()
FRAME_NAMES: tuple[str, ...] = tuple(FRAMES)

#: The six frames of the goal (native <= msgspec typed decode; orjson+normalizer >= 3x native).
GOAL_FRAMES: tuple[str, ...] = (
    "xt_position",
    "xt_order",
    "woo_position_1",
    "woo_position_100",
    "htx_position_1_gz",
    "htx_position_20_gz",
)
