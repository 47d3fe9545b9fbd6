"""The pure-Python reference decoder: it interprets the generated decode plan.

This module is the written form of the plan's semantics, and the oracle the Rust decoder is tested
against. It holds no exchange knowledge: everything it knows about XT, WOO X or HTX comes from
``pushwire._generated.plan``.

Pipeline for one frame::

    bytes/str -> size check -> gzip inflate (by magic bytes, capped) -> text-frame table
              -> JSON (msgspec; float literals kept as text) -> depth check -> first matching route
              -> for each emit: records -> fields (sources, modifiers, type conversion) -> Structs

Value rules (shared with the Rust decoder):

* JSON null and a missing key are both *absent*; ``""`` is absent for decimal/int/time/bool.
* A source yields the first present value of its alternatives; ``when`` gates a source,
  ``absent_if`` turns listed values into absent, ``map`` translates (an unmapped value is absent,
  but remembered, so a required field can say which value it did not know).
* decimal: a JSON number or a string matching ``[+-]?(digits[.digits]|.digits)[e[+-]digits]``;
  float mode must be finite; decimal mode keeps the exact digits.
* int: a JSON integer, or ``[+-]?digits(.0*)?`` as a string or JSON number; must fit in int64.
* JSON: an integer literal longer than 4300 characters (sign included) is not valid JSON (msgspec's,
  and CPython's, limit); duplicate keys: the last one wins; nesting deeper than max_depth is refused.
* sub: exact decimal subtraction (at most MAX_SUB_DIGITS digits), converted once to the number mode.
* time: an int; values in [0, 1e11) are seconds and become milliseconds.
* bool: true/false, 0/1, "0"/"1", "true"/"false" (any case).
* str/text/symbol: a string, or a JSON number's exact text (never a float round trip).
* enum: the (mapped) value if it is one of the kind's values (matched case-insensitively),
  else the field's default.
"""

from __future__ import annotations

import math
import re
import time
import zlib
from collections.abc import Callable, Iterable
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    Clamped,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Subnormal,
    Underflow,
)
from typing import Any

import msgspec

from pushwire._generated.events import EVENT_CLASSES
from pushwire._generated.plan import PLAN
from pushwire.errors import DecodeError

__all__ = ["DEFAULT_MAX_DEPTH", "DEFAULT_MAX_FRAME_BYTES", "DEFAULT_MAX_INFLATED_BYTES", "PyDecoder"]

DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_INFLATED_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_DEPTH = 128

_GZIP_MAGIC = b"\x1f\x8b"
# ASCII digits only ([0-9], not \d: "٣.٥" is not a number on an exchange's wire).
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_RE = re.compile(r"([+-]?)([0-9]+)(?:\.0*)?")
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_SECONDS_BELOW = 100_000_000_000  # 1e11: a smaller timestamp is in seconds


class _JsonFloat(str):
    """The exact text of a JSON float literal (msgspec's float_hook), so no digit is lost."""

    __slots__ = ()


class _Typed:
    """A value already converted to its field type (the result of ``sub``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _Symbol:
    """A converted symbol field: the unified symbol and the wire's own spelling."""

    __slots__ = ("unified", "raw")

    def __init__(self, unified: str, raw: str) -> None:
        self.unified = unified
        self.raw = raw


class _Absent:
    __slots__ = ("unmapped",)

    def __init__(self, unmapped: str | None = None) -> None:
        self.unmapped = unmapped


_MISSING = object()
_ABSENT = _Absent()


class _FieldError(Exception):
    """Raised inside field evaluation; the decoder adds exchange/channel/field and re-raises."""


def canonical(v: Any) -> str | None:
    """Canonical text of a wire value (see pushwire.codegen.plan); None for null/object/array."""
    if isinstance(v, str):
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    return None


def _describe(v: Any) -> str:
    """A short description of a wire value for error messages (quoted text is capped)."""
    if v is None:
        return "null"
    if isinstance(v, _JsonFloat):
        return f"number {v[:40]}" + ("..." if len(v) > 40 else "")
    if isinstance(v, str):
        return f"string {v[:40]!r}" + ("..." if len(v) > 40 else "")
    if isinstance(v, bool):
        return f"boolean {'true' if v else 'false'}"
    if isinstance(v, int):
        text = str(v)
        return f"number {text[:40]}" + ("..." if len(text) > 40 else "")
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "an array"
    return type(v).__name__


def _number_text(v: Any) -> str | None:
    """Validated decimal text of a wire value; None when absent (""); raises on a bad value."""
    if isinstance(v, _Typed):
        raise _FieldError("a computed value cannot be re-signed")
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise _FieldError(f"expected a decimal number, got {_describe(v)}")
    if isinstance(v, int):
        return str(v)
    if v == "":
        return None
    if _DECIMAL_RE.fullmatch(v) is None:
        raise _FieldError(f"expected a decimal number, got {_describe(v)}")
    return v


def _json_scalar(v: Any) -> str | None:
    """A scalar re-encoded as JSON (for reply templates); None for objects and arrays."""
    if isinstance(v, _JsonFloat):
        return str(v)
    if isinstance(v, (str, int, bool)) or v is None:
        return msgspec.json.encode(v).decode()
    return None


class _Route:
    __slots__ = ("channel", "emits", "when")

    def __init__(self, plan: dict[str, Any]) -> None:
        self.channel = plan["channel"]
        self.when = plan["when"]
        self.emits = plan["emits"]


class PyDecoder:
    """Decode frames of one exchange by interpreting the plan. Not thread-safe (symbol cache)."""

    def __init__(
        self,
        exchange: str,
        numbers: str = "float",
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
        plan: dict[str, Any] | None = None,
    ) -> None:
        plan = PLAN if plan is None else plan
        if exchange not in plan["exchanges"]:
            known = ", ".join(sorted(plan["exchanges"]))
            raise ValueError(f"unknown exchange {exchange!r} (known: {known})")
        if numbers not in ("float", "decimal"):
            raise ValueError(f"numbers must be 'float' or 'decimal', not {numbers!r}")
        self.exchange = exchange
        self.numbers = numbers
        self.max_frame_bytes = max_frame_bytes
        self.max_inflated_bytes = max_inflated_bytes
        self.max_depth = max_depth
        ex = plan["exchanges"][exchange]
        self._routes = [_Route(r) for r in ex["routes"]]
        self._topic_keys = ex["topic_keys"]
        self._envelope_ts = ex["envelope_ts"]
        self._text_frames = {t.encode(): f for t, f in ex["text_frames"].items()}
        self._max_text_frame = max((len(t) for t in self._text_frames), default=0)
        self._symbol_rules = [(re.compile(s["regex"]), s["template"]) for s in ex["symbols"]]
        self._symbol_cache: dict[str, str] = {}
        self._kinds = plan["kinds"]
        self._classes = EVENT_CLASSES
        self._json = msgspec.json.Decoder(float_hook=_JsonFloat)
        self._to_number: Callable[[str], Any] = float if numbers == "float" else Decimal

    # -- public -------------------------------------------------------------------------------

    def decode(self, frame: bytes | bytearray | memoryview | str, *, recv_ts: int | None = None) -> list[Any]:
        self._check_recv_ts(recv_ts)
        buf = self._bytes(frame)
        if len(buf) > self.max_frame_bytes:
            raise self._error(f"frame of {len(buf)} bytes exceeds the {self.max_frame_bytes}-byte limit")
        if buf[:2] == _GZIP_MAGIC:
            buf = self._inflate(buf)
        if len(buf) <= self._max_text_frame + 8:
            tf = self._text_frames.get(buf.strip())
            if tf is not None:
                cls = self._classes[tf["kind"]]
                return [cls(exchange=self.exchange, ts=self._now(recv_ts), reply=tf["reply"])]
        root = self._parse(buf)
        for route in self._routes:
            if self._cond(route.when, root, root, None, None):
                return self._emit_route(route, root, recv_ts)
        return [self._unrecognized(root, buf, recv_ts)]

    def channel_of(self, frame: bytes | str) -> str | None:
        """The spec channel a frame routes to (None: a text frame or unrecognized). For tests and tools."""
        buf = self._bytes(frame)
        if buf[:2] == _GZIP_MAGIC:
            buf = self._inflate(buf)
        if len(buf) <= self._max_text_frame + 8 and buf.strip() in self._text_frames:
            return None
        root = self._parse(buf)
        for route in self._routes:
            if self._cond(route.when, root, root, None, None):
                return route.channel
        return None

    def decode_many(self, frames: Iterable[Any], *, recv_ts: int | None = None) -> list[Any]:
        out: list[Any] = []
        for frame in frames:
            out.extend(self.decode(frame, recv_ts=recv_ts))
        return out

    # -- bytes -> JSON -----------------------------------------------------------------------

    def _bytes(self, frame: Any) -> bytes:
        if isinstance(frame, bytes):
            return frame
        if isinstance(frame, str):
            try:
                return frame.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise self._error(f"frame text is not valid Unicode: {exc.reason}") from None
        if isinstance(frame, (bytearray, memoryview)):
            return bytes(frame)
        raise TypeError(f"a frame is bytes or str, not {type(frame).__name__}")

    def _inflate(self, buf: bytes) -> bytes:
        limit = self.max_inflated_bytes
        d = zlib.decompressobj(wbits=31)
        try:
            out = d.decompress(buf, limit + 1)
        except zlib.error as exc:
            raise self._error(f"bad gzip data: {exc}") from None
        if len(out) > limit or d.unconsumed_tail:
            raise self._error(f"gzip frame inflates past the {limit}-byte limit")
        if not d.eof:
            raise self._error("truncated gzip data")
        if d.unused_data:
            raise self._error("trailing bytes after the gzip member")
        return out

    def _parse(self, buf: bytes) -> dict[str, Any]:
        try:
            root = self._json.decode(buf)
        except msgspec.DecodeError as exc:
            raise self._error(f"frame is not valid JSON: {exc}") from None
        except UnicodeDecodeError:
            # msgspec's offset is relative to the string it was reading; find the frame's own.
            try:
                buf.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self._error(f"frame is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
            raise self._error("frame is not valid UTF-8") from None
        except RecursionError:
            raise self._error(f"JSON nesting deeper than {self.max_depth}") from None
        # Counting brackets is cheap and over-counts (brackets in strings), so only frames that
        # could be too deep get the exact walk.
        if buf.count(b"[") + buf.count(b"{") > self.max_depth and _depth(root) > self.max_depth:
            raise self._error(f"JSON nesting deeper than {self.max_depth}")
        if not isinstance(root, dict):
            raise self._error(f"expected a JSON object, got {_describe(root)}")
        return root

    # -- routing and records -----------------------------------------------------------------

    def _emit_route(self, route: _Route, root: dict[str, Any], recv_ts: int | None) -> list[Any]:
        out: list[Any] = []
        env_ts: list[Any] = []  # computed once, on first need
        for emit in route.emits:
            cls = self._classes[emit["kind"]]
            nslots = len(self._kinds[emit["kind"]]["fields"])
            names = self._kinds[emit["kind"]]["fields"]
            for rec, parent, key, loc in self._records(route.channel, emit["records"], root):
                if emit["when"] is not None and not self._cond(emit["when"], rec, root, parent, key):
                    continue
                slots: list[Any] = [None] * nslots
                slots[0] = self.exchange
                for f in emit["fields"]:
                    self._field(route.channel, emit["kind"], f, slots, rec, root, parent, key, loc)
                if slots[1] is None:
                    if not env_ts:
                        env_ts.append(self._envelope_time(root, recv_ts))
                    slots[1] = env_ts[0]
                out.append(cls(**dict(zip(names, slots))))
        return out

    def _records(self, channel: str, steps: list[dict[str, Any]], root: dict[str, Any]):
        # Each state: (object, anchor, anchor's parent, map key, location). The anchor is the last
        # iterated item (or the root); a record's parent is the anchor enclosing it.
        states: list[tuple[dict[str, Any], dict[str, Any], Any, Any, str]] = [(root, root, None, None, "")]
        for step in steps:
            k, it = step["key"], step["iter"]
            nxt = []
            for obj, anchor, aparent, mkey, loc in states:
                where = f"{loc}.{k}" if loc else k
                v = obj.get(k)
                if it is None:
                    if not isinstance(v, dict):
                        raise self._error(
                            f"{where}: expected an object, got {_describe(v) if k in obj else 'nothing'}",
                            channel=channel, field=where,
                        )
                    nxt.append((v, anchor, aparent, mkey, where))
                elif it == "array":
                    if v is None:
                        continue
                    if not isinstance(v, list):
                        raise self._error(f"{where}: expected an array, got {_describe(v)}", channel=channel, field=where)
                    for i, item in enumerate(v):
                        if not isinstance(item, dict):
                            raise self._error(
                                f"{where}[{i}]: expected an object, got {_describe(item)}", channel=channel, field=f"{where}[{i}]"
                            )
                        nxt.append((item, item, anchor, mkey, f"{where}[{i}]"))
                else:
                    if v is None:
                        continue
                    if not isinstance(v, dict):
                        raise self._error(f"{where}: expected an object, got {_describe(v)}", channel=channel, field=where)
                    for mk, item in v.items():
                        at = f"{where}.{mk[:40]}" + ("..." if len(mk) > 40 else "")
                        if not isinstance(item, dict):
                            raise self._error(f"{at}: expected an object, got {_describe(item)}", channel=channel, field=at)
                        nxt.append((item, item, anchor, mk, at))
            states = nxt
        for obj, anchor, aparent, mkey, loc in states:
            yield obj, (aparent if obj is anchor else anchor), mkey, loc

    # -- fields ------------------------------------------------------------------------------

    def _field(self, channel, kind, f, slots, rec, root, parent, key, loc) -> None:
        src = f["source"]
        try:
            value = _ABSENT if src is None else self._source(src, rec, root, parent, key, slots)
            if not isinstance(value, _Absent):
                value = self._convert(value, f)
            if isinstance(value, _Symbol):
                slots[f["raw_slot"]] = value.raw
                value = value.unified
            if isinstance(value, _Absent):
                if f["required"]:
                    what = f"unknown value {value.unmapped[:40]!r}" if value.unmapped is not None else "missing"
                    raise _FieldError(what)
                value = f["default"]
        except _FieldError as exc:
            where = f" at {loc}" if loc else ""
            wire = f" (from {_source_paths(src)})" if src is not None else ""
            raise self._error(f"{kind}.{f['name']}{where}{wire}: {exc}", channel=channel, field=f["name"]) from None
        slots[f["slot"]] = value

    def _source(self, s, rec, root, parent, key, slots) -> Any:
        if s["when"] is not None and not self._cond(s["when"], rec, root, parent, key):
            return _ABSENT
        op = s["op"]
        if op == "path":
            v = _get(s["path"], rec, root, parent, key)
            if v is _MISSING or v is None:
                return _ABSENT
            origin = "/".join(s["path"]["keys"]) or "@key"
        elif op == "const":
            v = s["value"]
            if v is None:
                return _ABSENT
            origin = "const"
        elif op == "test":
            v = self._cond(s["cond"], rec, root, parent, key)
            origin = "test"
        elif op == "any":
            unmapped = None
            for alt in s["args"]:
                v = self._source(alt, rec, root, parent, key, slots)
                if not isinstance(v, _Absent):
                    break
                unmapped = unmapped or v.unmapped
            else:
                return _Absent(unmapped) if unmapped else _ABSENT
            origin = "any"
        elif op == "sub":
            a = self._source(s["args"][0], rec, root, parent, key, slots)
            b = self._source(s["args"][1], rec, root, parent, key, slots)
            if isinstance(a, _Absent) or isinstance(b, _Absent):
                return _ABSENT
            ta, tb = _number_text(a), _number_text(b)
            if ta is None or tb is None:
                return _ABSENT
            v = _Typed(self._from_decimal(_exact_sub(ta, tb)))
            origin = "sub"
        elif op == "sign_of":
            n = slots[s["slot"]]
            if n is None:
                return _ABSENT
            v = "positive" if n > 0 else "negative" if n < 0 else "zero"
            origin = "sign"
        elif op == "symbol_part":
            v = _symbol_part(slots[s["slot"]], s["part"])
            if v is None:
                return _ABSENT
            origin = "symbol"
        else:  # template
            out = []
            for part in s["parts"]:
                if "text" in part:
                    out.append(part["text"])
                    continue
                pv = _get(part["path"], rec, root, parent, key)
                enc = None if pv is _MISSING else _json_scalar(pv)
                if enc is None:
                    return _ABSENT
                out.append(enc)
            v = "".join(out)
            origin = "template"
        return self._modify(s, v, origin, rec, root, parent, key)

    def _modify(self, s, v, origin, rec, root, parent, key) -> Any:
        if s["join"] is not None:
            if not isinstance(v, list):
                raise _FieldError(f"{origin}: expected an array, got {_describe(v)}")
            texts = [canonical(x) for x in v]
            if any(t is None for t in texts):
                raise _FieldError(f"{origin}: expected an array of scalars")
            v = s["join"].join(texts)  # type: ignore[arg-type]
        if s["absent_if"] is not None and canonical(v) in s["absent_if"]:
            return _ABSENT
        if s["map"] is not None:
            c = canonical(v)
            if c is not None and s["ci"]:
                c = c.lower()
            mapped = s["map"].get(c, _MISSING) if c is not None else _MISSING
            if mapped is _MISSING:
                return _Absent(c if c is not None else _describe(v))
            if mapped is None:
                return _ABSENT
            v = mapped
        sign_by = s["sign_by"]
        if sign_by is not None or s["negate"]:
            text = _number_text(v)
            if text is None:
                return _ABSENT
            if sign_by is not None:
                c = canonical(_get(sign_by["path"], rec, root, parent, key))
                if c is not None and sign_by["ci"]:
                    c = c.lower()
                if c in sign_by["negative"]:
                    text = "-" + text.lstrip("+-")
                elif c in sign_by["positive"]:
                    text = text.lstrip("+-")
            if s["negate"]:
                text = text[1:] if text.startswith("-") else "-" + text.lstrip("+")
            v = _JsonFloat(text)
        return v

    def _convert(self, v: Any, f: dict[str, Any]) -> Any:
        t = f["type"]
        if isinstance(v, _Typed):
            return v.value
        if t == "decimal":
            n = self._decimal(v)
            return _ABSENT if n is None else n
        if t in ("int", "time"):
            n = _int(v)
            if n is None:
                return _ABSENT
            if t == "time" and 0 <= n < _SECONDS_BELOW:
                n *= 1000
            return n
        if t == "bool":
            return _bool(v)
        # text-like
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise _FieldError(f"expected a string, got {_describe(v)}")
        text = str(v)
        if t == "enum":
            values = f["values"]
            if text in values:
                return text
            low = text.lower()
            if low in values:
                return low
            return _Absent(text)
        if t == "symbol":
            return _Symbol(self._symbol(text), text)
        if f["case"] == "lower":
            return text.lower()
        if f["case"] == "upper":
            return text.upper()
        return text

    def _decimal(self, v: Any) -> Any:
        if isinstance(v, _Typed):
            return v.value
        text = _number_text(v)
        if text is None:
            return None
        if self.numbers == "decimal":
            return _to_decimal(text)
        return _finite_float(text)

    def _from_decimal(self, d: Decimal) -> Any:
        return d if self.numbers == "decimal" else _finite_float(str(d))

    def _symbol(self, raw: str) -> str:
        hit = self._symbol_cache.get(raw)
        if hit is not None:
            return hit
        unified = raw
        for rx, template in self._symbol_rules:
            m = rx.fullmatch(raw)
            if m is not None:
                unified = template
                for name, val in m.groupdict().items():
                    unified = unified.replace("{" + name + "}", (val or "").upper())
                break
        if len(self._symbol_cache) < 65536:
            self._symbol_cache[raw] = unified
        return unified

    # -- conditions --------------------------------------------------------------------------

    def _cond(self, c, rec, root, parent, key) -> bool:
        op = c["op"]
        if op == "any":
            return any(self._cond(x, rec, root, parent, key) for x in c["conds"])
        if op == "all":
            return all(self._cond(x, rec, root, parent, key) for x in c["conds"])
        if op == "not":
            return not self._cond(c["cond"], rec, root, parent, key)
        v = _get(c["path"], rec, root, parent, key)
        if op == "exists":
            return (v is not _MISSING and v is not None) == c["value"]
        if op == "is":
            return _is_type(v, c["type"])
        text = canonical(v) if v is not _MISSING else None
        if text is not None:
            if c["before"] is not None:
                text = text.split(c["before"], 1)[0]
            if c["ci"]:
                text = text.lower()
        if op == "eq":
            return text is not None and text in c["values"]
        if op == "ne":
            return text is None or text not in c["values"]
        return text is not None and any(text.startswith(p) for p in c["values"])  # prefix

    # -- envelope ----------------------------------------------------------------------------

    def _envelope_time(self, root: dict[str, Any], recv_ts: int | None) -> int:
        for p in self._envelope_ts:
            v = _get(p, root, root, None, None)
            if v is _MISSING or v is None:
                continue
            try:
                n = _int(v)
            except _FieldError:
                continue  # a malformed envelope time is not worth failing the frame for
            if n is not None:
                return n * 1000 if 0 <= n < _SECONDS_BELOW else n
        return self._now(recv_ts)

    def _unrecognized(self, root: dict[str, Any], buf: bytes, recv_ts: int | None) -> Any:
        topic = None
        for p in self._topic_keys:
            topic = canonical(_get(p, root, root, None, None))
            if topic is not None:
                break
        cls = self._classes["unrecognized"]
        topic = None if topic is None else str(topic)  # a plain str, even from a JSON number
        return cls(exchange=self.exchange, ts=self._envelope_time(root, recv_ts), topic=topic, raw=buf.decode("utf-8"))

    @staticmethod
    def _now(recv_ts: int | None) -> int:
        return recv_ts if recv_ts is not None else time.time_ns() // 1_000_000

    @staticmethod
    def _check_recv_ts(recv_ts: Any) -> None:
        if recv_ts is not None and type(recv_ts) is not int:
            raise TypeError(f"recv_ts is an int (ms) or None, not {type(recv_ts).__name__}")

    def _error(self, msg: str, *, channel: str | None = None, field: str | None = None) -> DecodeError:
        prefix = f"{self.exchange}/{channel}" if channel else self.exchange
        return DecodeError(f"{prefix}: {msg}", exchange=self.exchange, channel=channel, field=field)


# -- helpers -----------------------------------------------------------------------------------


def _get(path: dict[str, Any], rec: Any, root: Any, parent: Any, key: Any) -> Any:
    base = path["base"]
    if base == "rec":
        cur = rec
    elif base == "root":
        cur = root
    elif base == "parent":
        cur = parent
    else:
        return _MISSING if key is None else key
    for k in path["keys"]:
        if isinstance(cur, dict):
            cur = cur.get(k, _MISSING)
        elif isinstance(cur, list) and k.isascii() and k.isdigit():
            i = int(k)
            cur = cur[i] if i < len(cur) else _MISSING
        else:
            return _MISSING
        if cur is _MISSING:
            return _MISSING
    return cur


def _finite_float(text: str) -> float:
    try:
        x = float(text)
    except OverflowError:  # an int literal too large for a float
        raise _FieldError(f"number {text[:40]} is out of range for a float") from None
    if not math.isfinite(x):
        raise _FieldError(f"number {text[:40]} is out of range for a float")
    return x


#: The most digits an exact subtraction may need; operands further apart are refused rather than
#: rounded (or allowed to allocate without bound: "1e999999999" - "1e-999999999").
MAX_SUB_DIGITS = 1000


def _exact_sub(a: str, b: str) -> Decimal:
    """a - b exactly, from decimal text (then converted once to the number mode, so float mode
    gives float("1000.44") for "1234.56" - "234.12", not a binary-float difference)."""
    da, db = _to_decimal(a), _to_decimal(b)
    ea, eb = da.as_tuple().exponent, db.as_tuple().exponent
    assert isinstance(ea, int) and isinstance(eb, int)  # the grammar admits finite numbers only
    need = max(da.adjusted(), db.adjusted()) - min(ea, eb) + 2
    if need > MAX_SUB_DIGITS:
        raise _FieldError(f"{a[:40]} - {b[:40]} needs more than {MAX_SUB_DIGITS} digits")
    # A context of its own (not the caller's): exact, and any rounding at all is an error.
    ctx = Context(prec=max(need, 28), rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN,
                  traps=[InvalidOperation, Overflow, Underflow, Subnormal, Inexact, Rounded, Clamped])
    try:
        return ctx.subtract(da, db)
    except ArithmeticError:
        raise _FieldError(f"{a[:40]} - {b[:40]} is out of range") from None


def _to_decimal(text: str) -> Decimal:
    """Decimal(text), refusing exponents beyond what decimal represents (an InvalidOperation)."""
    try:
        return Decimal(text)
    except ArithmeticError:
        raise _FieldError(f"number {text[:40]} is out of range") from None


def _symbol_part(unified: str | None, part: str) -> str | None:
    """base / quote / settle of a unified symbol (BASE/QUOTE[:SETTLE[-EXPIRY]]); None if absent."""
    if unified is None or "/" not in unified:
        return None
    base, rest = unified.split("/", 1)
    quote, _, settle = rest.partition(":")
    if part == "base":
        return base
    if part == "quote":
        return quote
    return settle.split("-", 1)[0] or None


def _is_type(v: Any, t: str) -> bool:
    if t == "string":
        return type(v) is str
    if t == "number":
        return isinstance(v, _JsonFloat) or (isinstance(v, int) and not isinstance(v, bool))
    if t == "bool":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    if t == "object":
        return isinstance(v, dict)
    return isinstance(v, list)


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        raise _FieldError(f"expected an integer, got {_describe(v)}")
    if isinstance(v, int):
        n = v
    elif isinstance(v, str):
        if v == "" and not isinstance(v, _JsonFloat):
            return None
        m = _INT_RE.fullmatch(v)
        if m is None:
            raise _FieldError(f"expected an integer, got {_describe(v)}")
        digits = m.group(2).lstrip("0") or "0"
        if len(digits) > 19:  # checked before int(), which refuses 4300+ digits with a ValueError
            raise _FieldError(f"integer {v[:40]} is out of the 64-bit range")
        n = -int(digits) if m.group(1) == "-" else int(digits)
    else:
        raise _FieldError(f"expected an integer, got {_describe(v)}")
    if not _I64_MIN <= n <= _I64_MAX:
        raise _FieldError(f"integer {str(n)[:40]} is out of the 64-bit range")
    return n


def _bool(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if v in (0, 1):
            return bool(v)
    elif isinstance(v, str) and not isinstance(v, _JsonFloat):
        low = v.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        if v == "":
            return _ABSENT
    raise _FieldError(f"expected a boolean, got {_describe(v)}")


def _depth(obj: Any) -> int:
    """Nesting depth of a decoded JSON value, iteratively (no recursion limit)."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in o.values() if isinstance(v, (dict, list)))
        elif isinstance(o, list):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in o if isinstance(v, (dict, list)))
    return deepest


def _source_paths(src: dict[str, Any] | None) -> str:
    if src is None:
        return "no source"
    if src["op"] == "path":
        p = src["path"]
        prefix = {"rec": "", "root": "$.", "parent": "^.", "key": "@key"}[p["base"]]
        return prefix + ".".join(p["keys"])
    if src["op"] in ("any", "sub"):
        return " | ".join(_source_paths(a) for a in src["args"])
    return src["op"]
