"""Load and validate the YAML protocol spec (``spec/``): the single source of truth.

``load_spec(spec_dir)`` reads ``unified.yaml`` and one ``<exchange>.yaml`` per exchange, converts
them to the Structs of :mod:`pushwire.spec.model` (unknown keys are errors), then checks what a
schema cannot: that every mapped field exists on its event kind, that enum maps produce allowed
values, that each value rule has exactly one selector, that paths and regexes parse.
Every problem raises :class:`SpecError` naming the file and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import yaml

from pushwire.spec import model
from pushwire.spec.model import (
    FIELD_TYPES,
    Cond,
    EmitSpec,
    ExchangeSpec,
    SourceSpec,
    UnifiedSpec,
)

__all__ = ["Path_", "Spec", "SpecError", "load_spec", "parse_path"]

#: Fields every event has; the decoders fill them, a channel may only give ``ts``.
COMMON_FIELDS = ("exchange", "ts")


class SpecError(ValueError):
    """The spec is invalid. The message names the file and the key."""


# -- YAML: YAML 1.2 booleans only (so a wire value ON/NO/Y stays text), duplicate keys refused ----


class _StrictLoader(yaml.SafeLoader):
    pass


_StrictLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise SpecError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.load(f, Loader=_StrictLoader)
    except SpecError as exc:
        raise SpecError(f"{path.name}: {exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: not valid YAML: {exc}") from None


# -- paths -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Path_:
    """A parsed value path. ``base`` is rec | root | parent | key."""

    base: str
    keys: tuple[str, ...]

    def to_plan(self) -> dict[str, Any]:
        return {"base": self.base, "keys": list(self.keys)}


def parse_path(text: str) -> Path_:
    """``a.b`` (record), ``$.a`` (frame root), ``^.a`` (parent record), ``@key``, ``.`` (record)."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"a path must be a non-empty string, got {text!r}")
    if text == "@key":
        return Path_("key", ())
    if text == ".":
        return Path_("rec", ())
    base = "rec"
    if text.startswith("$"):
        base, text = "root", text[1:]
    elif text.startswith("^"):
        base, text = "parent", text[1:]
    if base != "rec":
        if text == "":
            return Path_(base, ())
        if not text.startswith("."):
            raise ValueError(f"expected '.' after {'$' if base == 'root' else '^'}")
        text = text[1:]
    keys = tuple(text.split("."))
    if any(k == "" for k in keys):
        raise ValueError(f"empty key in path {text!r}")
    if any(k.endswith(("[]", "{}")) for k in keys):
        raise ValueError("[] and {} belong in `records`, not in value paths")
    return Path_(base, keys)


def parse_records(text: str) -> list[dict[str, Any]]:
    """``data.positions[]`` -> steps [{key, iter}], iter in (None, "array", "map")."""
    if text == ".":
        return []
    steps: list[dict[str, Any]] = []
    for part in text.split("."):
        it = None
        if part.endswith("[]"):
            part, it = part[:-2], "array"
        elif part.endswith("{}"):
            part, it = part[:-2], "map"
        if not part:
            raise ValueError(f"empty key in records path {text!r}")
        steps.append({"key": part, "iter": it})
    return steps


# -- the loaded spec -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """The whole spec: the unified model and each exchange, with the file each came from."""

    unified: UnifiedSpec
    exchanges: dict[str, ExchangeSpec]
    files: dict[str, str]  # exchange name (or "unified") -> file name


def load_spec(spec_dir: Path | str) -> Spec:
    spec_dir = Path(spec_dir)
    unified_path = spec_dir / "unified.yaml"
    if not unified_path.exists():
        raise SpecError(f"{spec_dir}: no unified.yaml")
    unified = _convert(unified_path, read_yaml(unified_path), UnifiedSpec)
    _check_unified(unified_path.name, unified)
    exchanges: dict[str, ExchangeSpec] = {}
    files = {"unified": unified_path.name}
    for path in sorted(spec_dir.glob("*.yaml")):
        if path.name == "unified.yaml":
            continue
        ex = _convert(path, read_yaml(path), ExchangeSpec)
        if ex.exchange != path.stem:
            raise SpecError(f"{path.name}: exchange {ex.exchange!r} must match the file name")
        _Checker(path.name, unified, ex).check()
        exchanges[ex.exchange] = ex
        files[ex.exchange] = path.name
    if not exchanges:
        raise SpecError(f"{spec_dir}: no exchange files")
    return Spec(unified=unified, exchanges=exchanges, files=files)


def _convert(path: Path, data: Any, type_: Any) -> Any:
    try:
        return model.convert(data, type_)
    except msgspec.ValidationError as exc:
        raise SpecError(f"{path.name}: {exc}") from None


def _check_unified(fname: str, unified: UnifiedSpec) -> None:
    for kind, ev in unified.events.items():
        for name, f in ev.fields.items():
            where = f"{fname}: events.{kind}.fields.{name}"
            if name in COMMON_FIELDS or name in ("kind", "raw_symbol"):
                raise SpecError(f"{where}: {name!r} is a reserved field name")
            if f.type not in FIELD_TYPES:
                raise SpecError(f"{where}: unknown type {f.type!r} (one of {', '.join(FIELD_TYPES)})")
            if (f.type == "enum") != (f.values is not None):
                raise SpecError(f"{where}: `values` is for enum fields, and enum fields need it")
            if f.case not in (None, "lower", "upper") or (f.case and f.type != "text"):
                raise SpecError(f"{where}: `case` is lower|upper, for text fields")
            if f.type == "enum" and f.default is not None and f.default not in (f.values or []):
                raise SpecError(f"{where}: default {f.default!r} is not one of the values")


_SELECTORS = ("path", "const", "test", "sub", "sign_of", "symbol_part", "any", "json_template")
_TEMPLATE_HOLE = re.compile(r"\$\{([^}]*)\}")


class _Checker:
    """Semantic checks of one exchange file; errors name the file and the key path."""

    def __init__(self, fname: str, unified: UnifiedSpec, ex: ExchangeSpec) -> None:
        self.fname = fname
        self.unified = unified
        self.ex = ex

    def fail(self, where: str, msg: str) -> NoReturn:
        raise SpecError(f"{self.fname}: {where}: {msg}")

    def check(self) -> None:
        for i, rule in enumerate(self.ex.symbols):
            try:
                rx = re.compile(rule.match)
            except re.error as exc:
                self.fail(f"symbols[{i}].match", f"bad regex: {exc}")
            holes = set(re.findall(r"\{(\w+)\}", rule.unified))
            missing = holes - set(rx.groupindex)
            if missing:
                self.fail(f"symbols[{i}].unified", f"no group named {sorted(missing)} in the regex")
        for text, tf in self.ex.text_frames.items():
            if tf.kind != "heartbeat":
                self.fail(f"text_frames.{text}", "only heartbeat text frames are supported")
        for p in self.ex.envelope_ts + self.ex.topic_keys:
            self.path(p, "envelope_ts/topic_keys")
        for vname, variant in self.ex.variants.items():
            if variant.session.compression not in ("none", "gzip"):
                self.fail(f"variants.{vname}.session.compression", "must be none or gzip")
        for cname, ch in self.ex.channels.items():
            where = f"channels.{cname}"
            if ch.variant is not None and ch.variant not in self.ex.variants:
                self.fail(f"{where}.variant", f"unknown variant {ch.variant!r}")
            self.cond(ch.when, f"{where}.when")
            if not ch.emit:
                self.fail(f"{where}.emit", "a channel must emit at least one event kind")
            for i, em in enumerate(ch.emit):
                self.emit(em, f"{where}.emit[{i}]")

    def emit(self, em: EmitSpec, where: str) -> None:
        ev = self.unified.events.get(em.kind)
        if ev is None or em.kind == "status":
            self.fail(f"{where}.kind", f"unknown or non-decodable event kind {em.kind!r}")
        try:
            parse_records(em.records)
        except ValueError as exc:
            self.fail(f"{where}.records", str(exc))
        if em.when is not None:
            self.cond(em.when, f"{where}.when")
        for name, rule in em.fields.items():
            fw = f"{where}.fields.{name}"
            if name == "ts":
                ftype, values = "time", None
            elif name in ev.fields:
                ftype, values = ev.fields[name].type, ev.fields[name].values
            else:
                self.fail(fw, f"{em.kind} has no field {name!r}")
            if rule is None:
                continue
            self.source(rule, fw, ftype, values, top=True, known=set(em.fields))

    def source(self, rule: Any, where: str, ftype: str, values: Any, *, top: bool, known: set[str]) -> None:
        if isinstance(rule, str):
            self.path(rule, where)
            return
        if isinstance(rule, list):
            if not rule:
                self.fail(where, "an empty list of alternatives")
            for i, alt in enumerate(rule):
                self.source(alt, f"{where}[{i}]", ftype, values, top=False, known=known)
            return
        assert isinstance(rule, SourceSpec)
        chosen = [s for s in _SELECTORS if getattr(rule, s) not in (None, msgspec.UNSET)]
        if len(chosen) != 1:
            self.fail(where, f"exactly one of {', '.join(_SELECTORS)} is needed, got {chosen or 'none'}")
        if not top and (rule.required or rule.default is not msgspec.UNSET):
            self.fail(where, "required/default belong on the field, not on an alternative")
        if rule.path is not None:
            self.path(rule.path, where)
        if rule.test is not None:
            self.cond(rule.test, f"{where}.test")
        if rule.when is not None:
            self.cond(rule.when, f"{where}.when")
        if rule.sub is not None:
            if len(rule.sub) != 2 or ftype != "decimal":
                self.fail(f"{where}.sub", "sub takes two decimal operands, for a decimal field")
            for i, alt in enumerate(rule.sub):
                self.source(alt, f"{where}.sub[{i}]", "decimal", None, top=False, known=known)
        if rule.any is not None:
            for i, alt in enumerate(rule.any):
                self.source(alt, f"{where}.any[{i}]", ftype, values, top=False, known=known)
        if rule.sign_of is not None:
            if rule.sign_of not in known:
                self.fail(f"{where}.sign_of", f"no field {rule.sign_of!r} in this emit")
            if self.field_type(rule.sign_of) not in ("decimal", "int"):
                self.fail(f"{where}.sign_of", f"{rule.sign_of!r} is not a number field")
            if not rule.map or set(rule.map) - {"positive", "negative", "zero"}:
                self.fail(f"{where}.map", "sign_of needs a map with keys positive/negative/zero")
        if rule.symbol_part is not None:
            if rule.symbol_part not in ("base", "quote", "settle"):
                self.fail(f"{where}.symbol_part", "symbol_part is base, quote or settle")
            if "symbol" not in known:
                self.fail(f"{where}.symbol_part", "this emit has no symbol field")
        if rule.json_template is not None:
            for hole in _TEMPLATE_HOLE.findall(rule.json_template):
                self.path(hole, f"{where}.json_template")
        if (rule.sign_by is not None or rule.negate) and ftype != "decimal":
            self.fail(where, "sign_by/negate apply to decimal fields")
        if rule.sign_by is not None:
            self.path(rule.sign_by.path, f"{where}.sign_by")
        mapping = rule.map
        if isinstance(mapping, str):
            if mapping not in self.ex.maps:
                self.fail(f"{where}.map", f"no map named {mapping!r} in `maps`")
            mapping = self.ex.maps[mapping]
        if mapping is not None and ftype == "enum":
            bad = [v for v in mapping.values() if v not in values]
            if bad:
                self.fail(f"{where}.map", f"{bad} not among the values {values}")
        if ftype == "enum" and rule.const is not msgspec.UNSET and rule.const not in values:
            self.fail(f"{where}.const", f"{rule.const!r} not among the values {values}")

    def field_type(self, name: str) -> str | None:
        for ev in self.unified.events.values():
            if name in ev.fields:
                return ev.fields[name].type
        return None

    def cond(self, c: Cond, where: str) -> None:
        groups = [c.path is not None, c.any is not None, c.all is not None, c.not_ is not None]
        if sum(groups) != 1:
            self.fail(where, "a condition has exactly one of path, any, all, not")
        if c.path is not None:
            self.path(c.path, where)
            tests = [c.eq is not msgspec.UNSET, c.ne is not msgspec.UNSET, c.prefix is not None,
                     c.exists is not None, c.is_ is not None]
            if sum(tests) != 1:
                self.fail(where, "a path condition has exactly one of eq, ne, prefix, exists, is")
            if c.before == "":
                self.fail(f"{where}.before", "before needs a non-empty separator")
            if c.is_ is not None and c.is_ not in ("string", "number", "bool", "null", "object", "array"):
                self.fail(f"{where}.is", "is: string|number|bool|null|object|array")
        for i, sub in enumerate(c.any or ()):
            self.cond(sub, f"{where}.any[{i}]")
        for i, sub in enumerate(c.all or ()):
            self.cond(sub, f"{where}.all[{i}]")
        if c.not_ is not None:
            self.cond(c.not_, f"{where}.not")

    def path(self, text: str, where: str) -> None:
        try:
            parse_path(text)
        except ValueError as exc:
            self.fail(where, str(exc))
