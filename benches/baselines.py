"""The baselines pushwire's decoders are measured against.

(a) ``msgspec``: hand-written msgspec Structs that mirror each wire format key for key, decoded by
    a prebuilt ``msgspec.json.Decoder(type)`` (gzip frames inflated with ``zlib`` first). The wire
    types are kept as they are (decimal strings stay ``str``, HTX numbers ``float``), nothing is
    renamed, unified or signed: this is the floor a typed decode costs, with no normalization.
(b) ``orjson``: ``orjson.loads`` plus a hand-written normalizer that builds pushwire's own unified
    event Structs, the way a typical SDK does it (dict lookups, small maps, a symbol cache). It is
    written for the bench frames' channels only, and must produce exactly what the reference
    decoder produces for them (``assert_same_events``, checked outside the timed part).

The spec (spec/*.yaml) is the source of truth for every mapping below.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
from pushwire import Fill, Order, Position, Risk, Unrecognized

__all__ = ["MSGSPEC_DECODERS", "NORMALIZERS", "assert_mirrors", "assert_same_events", "msgspec_decoder"]


# =================================================================================================
# (a) msgspec typed decode of the raw wire formats
# =================================================================================================

# -- XT v2 (protocols.md 1.7.2, 1.7.4) ------------------------------------------------------------


class XtPositionData(msgspec.Struct, frozen=True):
    accountId: int
    accountType: int
    symbol: str
    contractType: str
    positionType: str
    positionSide: str
    positionSize: str
    closeOrderSize: str
    availableCloseSize: str
    realizedProfit: str
    entryPrice: str
    openOrderSize: str
    isolatedMargin: str
    openOrderMarginFrozen: str
    underlyingType: str
    leverage: int
    welfareAccount: bool
    profitFixedLatest: dict[str, Any]
    closeProfit: str
    totalFee: str
    totalFundFee: str
    markPrice: str
    updatedTime: int | None = None


class XtPositionFrame(msgspec.Struct, frozen=True):
    topic: str
    event: str
    data: XtPositionData


class XtOrderData(msgspec.Struct, frozen=True):
    symbol: str
    orderId: str
    origQty: str
    avgPrice: str
    price: str
    executedQty: str
    marginFrozen: str
    sourceType: str
    positionType: str
    orderSide: str
    timeInForce: str
    positionSide: str
    type: str
    leverage: int
    state: str
    clientOrderId: str | None = None
    orderType: str | None = None
    orderType_: str | None = msgspec.field(default=None, name="orderType:")  # the v2 doc's spelling
    createdTime: int | None = None
    createTime: int | None = None
    lastTradeId: str | None = None


class XtOrderFrame(msgspec.Struct, frozen=True):
    topic: str
    event: str
    data: XtOrderData


# -- WOO X V3 (protocols.md 2.6.1, 2.6.2) ---------------------------------------------------------


class WooPositionRow(msgspec.Struct, frozen=True):
    s: str
    h: str
    plq: str
    psq: str
    aop: str
    pnl: str
    roi: str
    fee: str
    sp: str
    mp: str
    ot: int
    aq: int
    lv: int
    m: str
    ps: str
    it: str
    ia: str
    il: str
    is_: str = msgspec.field(name="is")
    ver: int
    ts: int


class WooPositionData(msgspec.Struct, frozen=True):
    positions: list[WooPositionRow]


class WooPositionFrame(msgspec.Struct, frozen=True):
    topic: str
    ts: int
    data: WooPositionData


class WooExecReportData(msgspec.Struct, frozen=True):
    mt: int
    s: str
    cid: str
    oid: int
    t: str
    sd: str
    ps: str
    sx: str
    px: str
    tid: int
    esx: str
    epx: str
    f: str
    fa: str
    tesx: str
    aepx: str
    ss: str
    rs: str
    tg: str
    tf: str
    tfc: str
    tr: str
    trc: str
    vsx: str
    ts: int
    ro: bool
    mk: bool
    lv: int
    rpi: bool
    m: str


class WooExecReportFrame(msgspec.Struct, frozen=True):
    topic: str
    ts: int
    data: WooExecReportData


# -- HTX linear-swap-notification (protocols.md 3.6.1, 3.6.2) -------------------------------------


class HtxPositionRow(msgspec.Struct, frozen=True):
    contract_type: str
    pair: str
    business_type: str
    symbol: str
    contract_code: str
    volume: float
    available: float
    frozen: float
    cost_open: float
    cost_hold: float
    profit_unreal: float
    profit_rate: float
    profit: float
    margin_asset: str
    position_margin: float
    lever_rate: int
    direction: str
    last_price: float
    margin_mode: str
    margin_account: str
    position_mode: str
    adl_risk_percent: str | None = None
    liquidation_price: float | None = None
    trade_partition: str | None = None


class HtxPositionFrame(msgspec.Struct, frozen=True):
    op: str
    topic: str
    ts: int
    event: str
    data: list[HtxPositionRow]
    uid: str | None = None


class HtxTrade(msgspec.Struct, frozen=True):
    trade_id: int
    id: str
    trade_volume: float
    trade_price: float
    trade_turnover: float
    created_at: int
    role: str
    trade_fee: float | None = None
    fee_asset: str | None = None
    real_profit: float | None = None
    profit: float | None = None


class HtxOrderFrame(msgspec.Struct, frozen=True):
    contract_type: str
    pair: str
    business_type: str
    op: str
    topic: str
    ts: int
    symbol: str
    contract_code: str
    volume: float
    price: float
    order_price_type: str
    direction: str
    offset: str
    status: int
    lever_rate: int
    order_id: str | int
    order_id_str: str
    client_order_id: int | None
    order_source: str
    order_type: int
    created_at: int
    trade_volume: float
    trade_turnover: float
    fee: float
    trade_avg_price: float | None
    margin_frozen: float
    profit: float
    trade: list[HtxTrade]
    canceled_at: int
    fee_asset: str
    margin_asset: str
    uid: str
    liquidation_type: str
    margin_mode: str
    margin_account: str
    is_tpsl: int
    real_profit: float
    trade_partition: str
    reduce_only: int


#: frame name -> (wire Struct, gzip)
MSGSPEC_DECODERS: dict[str, tuple[type, bool]] = {
    "xt_position": (XtPositionFrame, False),
    "xt_order": (XtOrderFrame, False),
    "woo_position_1": (WooPositionFrame, False),
    "woo_position_100": (WooPositionFrame, False),
    "woo_execreport_fill": (WooExecReportFrame, False),
    "htx_position_1_gz": (HtxPositionFrame, True),
    "htx_position_20_gz": (HtxPositionFrame, True),
    "htx_order_2_trades_gz": (HtxOrderFrame, True),
}


def msgspec_decoder(frame_name: str) -> Callable[[bytes], Any]:
    """A prebuilt typed decoder for one frame type (built once, called per frame)."""
    wire_type, gzipped = MSGSPEC_DECODERS[frame_name]
    decode = msgspec.json.Decoder(wire_type).decode
    if not gzipped:
        return decode
    inflate = zlib.decompress

    def decode_gzip(frame: bytes) -> Any:
        return decode(inflate(frame, 31))  # wbits 31: a gzip member

    return decode_gzip


# =================================================================================================
# (b) orjson + a hand-written normalizer into pushwire's unified events
# =================================================================================================


def _now() -> int:
    return time.time_ns() // 1_000_000


def _dec(v: Any) -> float | None:
    """A decimal field: a decimal string or a JSON number; null and "" are absent."""
    if v is None or v == "":
        return None
    return float(v)


_MARGIN_MODE = {"cross": "cross", "isolated": "isolated"}
_BUY_SELL = {"buy": "buy", "sell": "sell"}
_LONG_SHORT = {"long": "long", "short": "short"}


class _Normalizer:
    exchange = ""

    def __init__(self) -> None:
        self._symbols: dict[str, str] = {}

    def _symbol(self, raw: str) -> str:
        unified = self._symbols.get(raw)
        if unified is None:
            unified = self._symbols[raw] = self._unify(raw)
        return unified

    def _unify(self, raw: str) -> str:
        raise NotImplementedError

    def _unrecognized(self, msg: dict[str, Any], text: bytes, topic: Any, ts: int | None) -> list[Any]:
        return [Unrecognized(exchange=self.exchange, ts=ts if ts is not None else _now(), topic=topic,
                             raw=text.decode())]


# -- XT --------------------------------------------------------------------------------------------

_XT_POSITION_TYPE = {"CROSSED": "cross", "ISOLATED": "isolated"}
_XT_SIDE = {"LONG": "long", "SHORT": "short"}
_XT_ORDER_SIDE = {"BUY": "buy", "SELL": "sell"}
_XT_ORDER_STATE = {
    "NEW": "new",
    "PARTIALLY_FILLED": "partially_filled",
    "PARTIALLY_CANCELED": "canceled",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "CANCELLED": "canceled",
    "REJECTED": "rejected",
    "EXPIRED": "expired",
}


class XtNormalizer(_Normalizer):
    exchange = "xt"

    def _unify(self, raw: str) -> str:
        base, _, quote = raw.partition("_")
        base, quote = base.upper(), quote.upper()
        return f"{base}/{quote}:{base if quote == 'USD' else quote}"

    def decode(self, frame: bytes | str, recv_ts: int | None = None) -> list[Any]:
        if frame in (b"pong", "pong", b"ping", "ping"):
            return []
        msg = orjson.loads(frame)
        topic = msg.get("topic")
        if topic is None:
            channel = msg.get("channel")
            topic = channel[5:] if channel else None  # v1: "user.<topic>"
        if topic == "position":
            return [self._position(msg["data"], recv_ts)]
        if topic == "order":
            return [self._order(msg["data"], recv_ts)]
        text = frame if isinstance(frame, bytes) else frame.encode()
        return self._unrecognized(msg, text, topic, recv_ts)

    def _position(self, d: dict[str, Any], recv_ts: int | None) -> Position:
        raw = d["symbol"]
        side = d.get("positionSide")
        size = float(d["positionSize"])
        if side == "SHORT":
            size = -abs(size)
        elif side == "LONG":
            size = abs(size)
        ts = d.get("updatedTime")
        return Position(
            exchange="xt",
            ts=ts if ts is not None else (recv_ts if recv_ts is not None else _now()),
            symbol=self._symbol(raw),
            raw_symbol=raw,
            side=_XT_SIDE.get(side),
            size=size,
            size_unit="contracts",
            entry_price=_dec(d.get("entryPrice")),
            mark_price=_dec(d.get("markPrice")),
            leverage=_dec(d.get("leverage")),
            margin_mode=_XT_POSITION_TYPE.get(d.get("positionType")),
            realized_pnl=_dec(d.get("realizedProfit")),
            margin=_dec(d.get("isolatedMargin")),
        )

    def _order(self, d: dict[str, Any], recv_ts: int | None) -> Order:
        raw = d.get("symbol")
        order_type = d.get("orderType") or d.get("orderType:")
        state = d.get("state")
        created = d.get("createdTime") or d.get("createTime")
        ts = d.get("updatedTime")
        return Order(
            exchange="xt",
            ts=ts if ts is not None else (recv_ts if recv_ts is not None else _now()),
            symbol=self._symbol(raw) if raw else None,
            raw_symbol=raw,
            order_id=str(d["orderId"]),
            client_order_id=d.get("clientOrderId"),
            side=_XT_ORDER_SIDE.get(d.get("orderSide")),
            order_type=order_type.lower() if order_type else None,
            status=_XT_ORDER_STATE.get(state, "unknown"),
            raw_status=state,
            price=_dec(d.get("price")),
            quantity=_dec(d.get("origQty")),
            filled=_dec(d.get("executedQty")),
            avg_price=_dec(d.get("avgPrice")),
            margin_mode=_XT_POSITION_TYPE.get(d.get("positionType")),
            created_ts=created,
        )


# -- WOO X -----------------------------------------------------------------------------------------

_WOO_STATUS = {
    "new": "new",
    "replaced": "new",
    "incomplete": "new",
    "partial_filled": "partially_filled",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "completed": "filled",
    "cancel_sent": "pending_cancel",
    "cancel_all_sent": "pending_cancel",
    "cancelled": "canceled",
    "canceled": "canceled",
    "rejected": "rejected",
    "expired": "expired",
}
_WOO_MAKER = {True: "maker", False: "taker", "true": "maker", "false": "taker"}  # True == 1, False == 0


class WooNormalizer(_Normalizer):
    exchange = "woo"

    def _unify(self, raw: str) -> str:
        kind, base, quote = raw.split("_", 2)
        return f"{base}/{quote}:{quote}" if kind == "PERP" else f"{base}/{quote}"

    def decode(self, frame: bytes | str, recv_ts: int | None = None) -> list[Any]:
        msg = orjson.loads(frame)
        topic = msg.get("topic")
        data = msg.get("data")
        if topic == "position" and isinstance(data.get("positions"), list):
            env_ts = msg.get("ts")
            return [self._position(row, env_ts) for row in data["positions"]]
        if topic == "executionreport" and "oid" in data:
            return self._execution_report(data)
        text = frame if isinstance(frame, bytes) else frame.encode()
        return self._unrecognized(msg, text, topic, msg.get("ts", recv_ts))

    def _position(self, r: dict[str, Any], env_ts: int) -> Position:
        raw = r["s"]
        ps = r.get("ps")
        ps = ps.lower() if ps else None
        size = float(r["h"])
        if ps == "short":
            size = -abs(size)
        elif ps == "long":
            size = abs(size)
        side = _LONG_SHORT.get(ps) or ("long" if size > 0 else "short" if size < 0 else "flat")
        mode = r.get("m")
        mode = mode.lower() if mode else None
        aq, ver = r.get("aq"), r.get("ver")
        return Position(
            exchange="woo",
            ts=r.get("ts") or env_ts,
            symbol=self._symbol(raw),
            raw_symbol=raw,
            side=side,
            size=size,
            size_unit="base",
            entry_price=_dec(r.get("aop")),
            mark_price=_dec(r.get("mp")),
            leverage=_dec(r.get("lv")),
            margin_mode=_MARGIN_MODE.get(mode),
            margin=_dec(r.get("ia")) if mode == "isolated" else None,
            adl_rank=int(aq) if aq is not None else None,
            version=int(ver) if ver is not None else None,
        )

    def _execution_report(self, d: dict[str, Any]) -> list[Any]:
        raw = d.get("s")
        symbol = self._symbol(raw) if raw else None
        order_id = str(d["oid"])
        cid = d.get("cid")
        cid = None if cid is None or cid == 0 or cid == "0" else str(cid)
        sd = d.get("sd")
        side = _BUY_SELL.get(sd.lower()) if sd else None
        otype = d.get("t")
        ss = d.get("ss")
        mode = d.get("m")
        mode = _MARGIN_MODE.get(mode.lower()) if mode else None
        ts = d["ts"]
        out: list[Any] = [
            Order(
                exchange="woo",
                ts=ts,
                symbol=symbol,
                raw_symbol=raw,
                order_id=order_id,
                client_order_id=cid,
                side=side,
                order_type=otype.lower() if otype else None,
                status=_WOO_STATUS.get(ss.lower(), "unknown") if ss else "unknown",
                raw_status=ss,
                price=_dec(d.get("px")),
                quantity=_dec(d.get("sx")),
                filled=_dec(d.get("tesx")),
                avg_price=_dec(d.get("aepx")),
                reduce_only=d.get("ro"),
                margin_mode=mode,
            )
        ]
        tid = d.get("tid")
        if tid is not None and tid != 0 and tid != "0" and tid != "":
            fee_asset = d.get("fa") or d.get("tfc")
            out.append(
                Fill(
                    exchange="woo",
                    ts=ts,
                    symbol=symbol,
                    raw_symbol=raw,
                    order_id=order_id,
                    client_order_id=cid,
                    trade_id=str(tid),
                    side=side,
                    price=float(d["epx"]),
                    quantity=float(d["esx"]),
                    fee=_dec(d.get("f")),
                    fee_asset=fee_asset.upper() if fee_asset else None,
                    liquidity=_WOO_MAKER.get(d.get("mk")),
                )
            )
        if otype and otype.upper() == "LIQUIDATE":
            ps = d.get("ps")
            risk_side = _LONG_SHORT.get(ps.lower()) if ps else None
            if risk_side is None and side is not None:
                risk_side = "long" if side == "sell" else "short"
            out.append(
                Risk(
                    exchange="woo",
                    ts=ts,
                    symbol=symbol,
                    raw_symbol=raw,
                    risk_kind="liquidation",
                    side=risk_side,
                    size=_dec(d.get("sx")),
                    margin_mode=mode,
                    reason=otype,
                )
            )
        return out


# -- HTX -------------------------------------------------------------------------------------------

_HTX_STATUS = {1: "pending_new", 2: "pending_new", 3: "new", 4: "partially_filled", 5: "canceled",
               6: "filled", 7: "canceled", 11: "pending_cancel"}
_HTX_POSITION_SIDE = {"buy": "long", "sell": "short"}
_HTX_CLOSING_SIDE = {"sell": "long", "buy": "short"}
_HTX_POSITION_RISK = {"order.liquidation": "liquidation", "liquidation": "liquidation",
                      "adl trade": "adl", "adl": "adl"}
_HTX_ROLE = {"maker": "maker", "taker": "taker"}


class HtxNormalizer(_Normalizer):
    exchange = "htx"

    def _unify(self, raw: str) -> str:
        parts = raw.upper().split("-")
        base, quote = parts[0], parts[1]
        settle = base if quote == "USD" else quote
        return f"{base}/{quote}:{settle}" + (f"-{parts[2]}" if len(parts) > 2 else "")

    def decode(self, frame: bytes | str, recv_ts: int | None = None) -> list[Any]:
        if isinstance(frame, bytes) and frame[:2] == b"\x1f\x8b":
            frame = zlib.decompress(frame, 31)
        msg = orjson.loads(frame)
        op = msg.get("op")
        topic = msg.get("topic")
        if op == "notify" and topic:
            prefix = topic.split(".", 1)[0].lower()
            if prefix in ("positions_cross", "positions"):
                return self._positions(msg)
            if prefix in ("orders_cross", "orders", "matchorders_cross", "matchorders"):
                return self._order(msg)
        text = frame if isinstance(frame, bytes) else frame.encode()
        return self._unrecognized(msg, text, topic or op, msg.get("ts", recv_ts))

    def _positions(self, msg: dict[str, Any]) -> list[Any]:
        event = msg.get("event")
        event_l = event.lower() if event else None
        snapshot = event_l in ("snapshot", "init")
        risk_kind = _HTX_POSITION_RISK.get(event_l)
        env_ts = msg["ts"]
        out: list[Any] = []
        risks: list[Any] = []
        for r in msg["data"]:
            raw = r["contract_code"]
            symbol = self._symbol(raw)
            direction = r.get("direction")
            direction = direction.lower() if direction else None
            size = float(r["volume"])
            if direction == "sell":
                size = -abs(size)
            elif direction == "buy":
                size = abs(size)
            side = _HTX_POSITION_SIDE.get(direction)
            mode = r.get("margin_mode")
            mode = _MARGIN_MODE.get(mode.lower()) if mode else None
            adl = r.get("adl_risk_percent")
            ts = r.get("updated_time") or env_ts
            out.append(
                Position(
                    exchange="htx",
                    ts=ts,
                    symbol=symbol,
                    raw_symbol=raw,
                    side=side,
                    size=size,
                    size_unit="contracts",
                    entry_price=_dec(r.get("cost_open")),
                    mark_price=_dec(r.get("mark_price")),
                    leverage=_dec(r.get("lever_rate")),
                    margin_mode=mode,
                    unrealized_pnl=_dec(r.get("profit_unreal")),
                    liquidation_price=_dec(r.get("liquidation_price")),
                    margin=_dec(r.get("position_margin")),
                    adl_rank=int(adl) if adl is not None and adl != "" else None,
                    snapshot=snapshot,
                    reason=event,
                )
            )
            if risk_kind is not None:  # the spec emits every position first, then the notices
                risks.append(
                    Risk(exchange="htx", ts=ts, symbol=symbol, raw_symbol=raw, risk_kind=risk_kind, side=side,
                         size=_dec(r.get("volume")), margin_mode=mode, reason=event)
                )
        if risks:
            out.extend(risks)
        return out

    def _order(self, m: dict[str, Any]) -> list[Any]:
        raw = m.get("contract_code")
        symbol = self._symbol(raw) if raw else None
        order_id = m.get("order_id_str") or str(m["order_id"])
        cid = m.get("client_order_id")
        cid = str(cid) if cid is not None else None
        direction = m.get("direction")
        direction = direction.lower() if direction else None
        side = _BUY_SELL.get(direction)
        mode = m.get("margin_mode")
        mode = _MARGIN_MODE.get(mode.lower()) if mode else None
        status = m.get("status")
        otype = m.get("order_price_type")
        reduce_only = m.get("reduce_only")
        created = m.get("created_at")
        env_ts = m["ts"]
        out: list[Any] = [
            Order(
                exchange="htx",
                ts=env_ts,
                symbol=symbol,
                raw_symbol=raw,
                order_id=order_id,
                client_order_id=cid,
                side=side,
                order_type=otype.lower() if otype else None,
                status=_HTX_STATUS.get(status, "unknown"),
                raw_status=str(status) if status is not None else None,
                price=_dec(m.get("price")),
                quantity=_dec(m.get("volume")),
                filled=_dec(m.get("trade_volume")),
                avg_price=_dec(m.get("trade_avg_price")),
                reduce_only=bool(reduce_only) if reduce_only is not None else None,
                margin_mode=mode,
                created_ts=created or None,
            )
        ]
        order_fee_asset = m.get("fee_asset")
        for t in m.get("trade") or ():
            fee = t.get("trade_fee")
            fee_asset = t.get("fee_asset") or order_fee_asset
            role = t.get("role")
            out.append(
                Fill(
                    exchange="htx",
                    ts=t.get("created_at") or env_ts,
                    symbol=symbol,
                    raw_symbol=raw,
                    order_id=order_id,
                    client_order_id=cid,
                    trade_id=str(t.get("id") or t["trade_id"]),
                    side=side,
                    price=float(t["trade_price"]),
                    quantity=float(t["trade_volume"]),
                    fee=-float(fee) if fee is not None else None,  # HTX: negative = paid
                    fee_asset=fee_asset.upper() if fee_asset else None,
                    liquidity=_HTX_ROLE.get(role.lower()) if role else None,
                )
            )
        order_type = m.get("order_type")
        liq = m.get("liquidation_type")
        source = m.get("order_source")
        source = source.lower() if source else None
        if order_type in (3, 22) or liq in ("2", "3", 2, 3) or source in ("risk", "adl"):
            kind = ("liquidation" if order_type == 3 else "adl" if order_type == 22
                    else "adl" if source == "adl"
                    else "partial_liquidation" if liq in ("2", 2) else "liquidation")
            out.append(
                Risk(exchange="htx", ts=env_ts, symbol=symbol, raw_symbol=raw, risk_kind=kind,
                     side=_HTX_CLOSING_SIDE.get(direction), size=_dec(m.get("volume")), margin_mode=mode,
                     reason=m.get("order_source") or (str(order_type) if order_type is not None else None))
            )
        return out


NORMALIZERS: dict[str, type[_Normalizer]] = {"xt": XtNormalizer, "woo": WooNormalizer, "htx": HtxNormalizer}


# =================================================================================================
# Correctness helpers (never timed)
# =================================================================================================


def assert_same_events(got: list[Any], want: list[Any], what: str) -> None:
    """Equal events, field by field, including the Python type of every value (1 vs 1.0)."""
    assert len(got) == len(want), f"{what}: {len(got)} events, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert type(g) is type(w), f"{what}[{i}]: {type(g).__name__}, expected {type(w).__name__}"
        for name in w.__struct_fields__:
            gv, wv = getattr(g, name), getattr(w, name)
            assert type(gv) is type(wv) and gv == wv, (
                f"{what}[{i}].{name}: got {gv!r} ({type(gv).__name__}), expected {wv!r} ({type(wv).__name__})"
            )


def assert_mirrors(decoded: Any, wire: Any, what: str) -> None:
    """A msgspec wire Struct holds every key of the wire JSON with its value (extra fields are unset).

    ``wire`` is the frame parsed by the stdlib ``json``; ``decoded`` the typed decode's result.
    """
    _mirrors(msgspec.to_builtins(decoded), wire, what)


def _mirrors(got: Any, want: Any, where: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: expected an object, got {got!r}"
        missing = set(want) - set(got)
        assert not missing, f"{where}: the wire Struct has no field for {sorted(missing)}"
        extra = {k for k in set(got) - set(want) if got[k] is not None}
        assert not extra, f"{where}: fields {sorted(extra)} are set but not on the wire"
        for k, v in want.items():
            _mirrors(got[k], v, f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: expected {len(want)} items"
        for i, (g, w) in enumerate(zip(got, want)):
            _mirrors(g, w, f"{where}[{i}]")
    else:
        assert got == want and (type(got) is type(want) or isinstance(want, (int, float))), (
            f"{where}: got {got!r}, expected {want!r}"
        )
