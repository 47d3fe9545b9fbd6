"""Compile the validated spec into the decode plan: plain JSON data both decoders interpret.

The plan is the contract between the spec and the two decoders (``pushwire._pydecode`` and the Rust
``pushwire._native``); neither holds exchange knowledge. Layout (``format`` 1)::

    {"format": 1,
     "kinds": {kind: {"class": "Position", "fields": [name, ...]}},   # struct field order
     "exchanges": {name: {
        "symbols": [{"regex": str, "template": str}],                # first match wins
        "topic_keys": [path], "envelope_ts": [path],
        "text_frames": {text: {"kind": "heartbeat", "reply": str | null}},
        "routes": [{"channel": str, "when": cond, "emits": [emit]}]}}}  # first match wins

    emit  = {"kind", "records": [{"key", "iter": null|"array"|"map"}], "when": cond|null,
             "fields": [field]}                       # in evaluation order
    field = {"name", "slot", "type", "values", "case", "required", "default", "source",
             "raw_slot"}                              # raw_slot: symbol fields only
    path  = {"base": "rec"|"root"|"parent"|"key", "keys": [str]}
    cond  = {"op": "eq"|"ne"|"prefix", "path", "values": [text], "ci", "before"}
          | {"op": "exists", "path", "value": bool} | {"op": "is", "path", "type"}
          | {"op": "any"|"all", "conds": [cond]} | {"op": "not", "cond": cond}
    source = {"op": "path", "path"} | {"op": "const", "value"} | {"op": "test", "cond"}
           | {"op": "sub", "args": [source, source]} | {"op": "any", "args": [source]}
           | {"op": "sign_of", "slot": int} | {"op": "symbol_part", "slot": int, "part": str}
           | {"op": "template", "parts": [{"text"}|{"path"}]}
      each with the modifiers "when", "absent_if", "map", "ci", "join", "sign_by", "negate".

Comparisons (eq, map, absent_if, sign_by) use a value's *canonical text*: a string as is, an
integer in decimal, a float as its JSON text, a boolean as true/false; null, objects and arrays
have none. The semantics are written once, in ``pushwire._pydecode``; the Rust decoder follows it
and the parity tests hold the two together.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pushwire.spec import COMMON_FIELDS, Spec, parse_path, parse_records
from pushwire.spec.model import Cond, EmitSpec, ExchangeSpec, SourceSpec

PLAN_FORMAT = 1


def canonical(value: Any) -> str:
    """Canonical text of a spec constant, matching the decoders' canonical text of wire values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise TypeError(f"cannot compare with {value!r}")


def _values(v: Any) -> list[str]:
    return [canonical(x) for x in (v if isinstance(v, list) else [v])]


def struct_fields(spec: Spec, kind: str) -> list[str]:
    """Struct field order of an event kind: common fields, then the kind's, raw_symbol after symbol."""
    names = list(COMMON_FIELDS)
    for name, f in spec.unified.events[kind].fields.items():
        names.append(name)
        if f.type == "symbol":
            names.append("raw_" + name)
    return names


def class_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))


def compile_plan(spec: Spec) -> dict[str, Any]:
    kinds = {
        kind: {"class": class_name(kind), "fields": struct_fields(spec, kind)}
        for kind in spec.unified.events
    }
    exchanges = {name: _Compiler(spec, ex).exchange() for name, ex in sorted(spec.exchanges.items())}
    return {"format": PLAN_FORMAT, "kinds": kinds, "exchanges": exchanges}


class _Compiler:
    def __init__(self, spec: Spec, ex: ExchangeSpec) -> None:
        self.spec = spec
        self.ex = ex

    def exchange(self) -> dict[str, Any]:
        ex = self.ex
        return {
            "symbols": [{"regex": r.match, "template": r.unified} for r in ex.symbols],
            "topic_keys": [parse_path(p).to_plan() for p in ex.topic_keys],
            "envelope_ts": [parse_path(p).to_plan() for p in ex.envelope_ts],
            "text_frames": {t: {"kind": f.kind, "reply": f.reply} for t, f in ex.text_frames.items()},
            "routes": [
                {"channel": name, "when": self.cond(ch.when), "emits": [self.emit(e) for e in ch.emit]}
                for name, ch in ex.channels.items()
            ],
        }

    def emit(self, em: EmitSpec) -> dict[str, Any]:
        kind = self.spec.unified.events[em.kind]
        order = struct_fields(self.spec, em.kind)
        compiled: list[dict[str, Any]] = []
        deferred: list[dict[str, Any]] = []  # fields computed from other fields go last
        for name in order:
            if name == "exchange" or is_raw_symbol(kind, name):
                continue  # filled by the decoder
            if name == "ts":
                ftype, values, default, case = "time", None, None, None
            else:
                uf = kind.fields[name]
                ftype, values, default, case = uf.type, uf.values, uf.default, uf.case
            rule = em.fields.get(name)
            required = False
            source = None
            if rule is not None:
                if isinstance(rule, SourceSpec):
                    required = rule.required
                    if rule.default is not msgspec.UNSET:
                        default = rule.default
                source = self.source(rule, order)
            entry = {
                "name": name,
                "slot": order.index(name),
                "type": ftype,
                "values": values,
                "case": case,
                "required": required,
                "default": default,
                "source": source,
                "raw_slot": order.index("raw_" + name) if ftype == "symbol" else None,
            }
            (deferred if _reads_fields(source) else compiled).append(entry)
        return {
            "kind": em.kind,
            "records": parse_records(em.records),
            "when": self.cond(em.when) if em.when is not None else None,
            "fields": compiled + deferred,
        }

    def source(self, rule: Any, order: list[str]) -> dict[str, Any]:
        if isinstance(rule, str):
            return _with_mods({"op": "path", "path": parse_path(rule).to_plan()})
        if isinstance(rule, list):
            return _with_mods({"op": "any", "args": [self.source(r, order) for r in rule]})
        r: SourceSpec = rule
        if r.path is not None:
            out: dict[str, Any] = {"op": "path", "path": parse_path(r.path).to_plan()}
        elif r.const is not msgspec.UNSET:
            out = {"op": "const", "value": r.const}
        elif r.test is not None:
            out = {"op": "test", "cond": self.cond(r.test)}
        elif r.sub is not None:
            out = {"op": "sub", "args": [self.source(a, order) for a in r.sub]}
        elif r.any is not None:
            out = {"op": "any", "args": [self.source(a, order) for a in r.any]}
        elif r.sign_of is not None:
            out = {"op": "sign_of", "slot": order.index(r.sign_of)}
        elif r.symbol_part is not None:
            out = {"op": "symbol_part", "slot": order.index("symbol"), "part": r.symbol_part}
        else:
            assert r.json_template is not None
            out = {"op": "template", "parts": _template_parts(r.json_template)}
        return _with_mods(
            out,
            when=self.cond(r.when) if r.when is not None else None,
            absent_if=_values(r.absent_if) if r.absent_if is not None else None,
            map=self.value_map(r),
            ci=r.ci,
            join=r.join,
            sign_by=(
                {
                    "path": parse_path(r.sign_by.path).to_plan(),
                    "negative": [c.lower() if r.sign_by.ci else c for c in _values(r.sign_by.negative)],
                    "positive": [c.lower() if r.sign_by.ci else c for c in _values(r.sign_by.positive)],
                    "ci": r.sign_by.ci,
                }
                if r.sign_by is not None
                else None
            ),
            negate=r.negate,
        )

    def value_map(self, r: SourceSpec) -> dict[str, Any] | None:
        mapping = self.ex.maps[r.map] if isinstance(r.map, str) else r.map
        if mapping is None:
            return None
        return {(k.lower() if r.ci else k): v for k, v in mapping.items()}

    def cond(self, c: Cond) -> dict[str, Any]:
        if c.any is not None:
            return {"op": "any", "conds": [self.cond(x) for x in c.any]}
        if c.all is not None:
            return {"op": "all", "conds": [self.cond(x) for x in c.all]}
        if c.not_ is not None:
            return {"op": "not", "cond": self.cond(c.not_)}
        assert c.path is not None
        path = parse_path(c.path).to_plan()
        if c.exists is not None:
            return {"op": "exists", "path": path, "value": c.exists}
        if c.is_ is not None:
            return {"op": "is", "path": path, "type": c.is_}
        if c.prefix is not None:
            op, raw = "prefix", c.prefix
        elif c.eq is not msgspec.UNSET:
            op, raw = "eq", c.eq
        else:
            op, raw = "ne", c.ne
        values = _values(raw)
        if c.ci:
            values = [v.lower() for v in values]
        return {"op": op, "path": path, "values": values, "ci": c.ci, "before": c.before}


def is_raw_symbol(kind: Any, name: str) -> bool:
    """``raw_<f>`` for a symbol field ``f`` is filled from the wire value of ``f``."""
    base = kind.fields.get(name[4:]) if name.startswith("raw_") else None
    return base is not None and base.type == "symbol"


def _with_mods(out: dict[str, Any], **mods: Any) -> dict[str, Any]:
    base = {"when": None, "absent_if": None, "map": None, "ci": False, "join": None, "sign_by": None,
            "negate": False}
    base.update(mods)
    out.update(base)
    return out


def _template_parts(template: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    pos = 0
    while True:
        start = template.find("${", pos)
        if start < 0:
            break
        end = template.index("}", start)
        if start > pos:
            parts.append({"text": template[pos:start]})
        parts.append({"path": parse_path(template[start + 2 : end]).to_plan()})
        pos = end + 1
    if pos < len(template):
        parts.append({"text": template[pos:]})
    return parts


def _reads_fields(src: dict[str, Any] | None) -> bool:
    """Is the source computed (so it is evaluated after the fields mapped straight from the wire)?"""
    if src is None:
        return False
    if src["op"] in ("sign_of", "symbol_part", "sub"):
        return True  # (sub reads no fields, but its operands' own fields should fail first)
    return any(_reads_fields(a) for a in src.get("args", ()))
