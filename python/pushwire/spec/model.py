"""The YAML spec format, as msgspec Structs.

Every Struct forbids unknown fields, so a misspelled key is an error that names the key and
where it is. ``pushwire.spec.load`` turns the parsed YAML into these Structs; the code generator
reads nothing else.

A channel's value rules (``Source``) and conditions (``Cond``) are a small vocabulary, documented in
``spec/README.md``. Both decoders (``pushwire._pydecode`` and the Rust ``pushwire._native``)
interpret the plan compiled from them, so the vocabulary is the only exchange-independent code.
"""

from __future__ import annotations

from typing import Any, Union

import msgspec
from msgspec import UNSET, Struct, UnsetType, field

# -- the unified model ---------------------------------------------------------------------------

FIELD_TYPES = ("str", "decimal", "int", "bool", "time", "symbol", "enum", "text")


class UnifiedField(Struct, forbid_unknown_fields=True, frozen=True):
    type: str
    doc: str = ""
    values: list[str] | None = None  # enum only
    default: Any = None
    case: str | None = None  # text only: "lower" | "upper"


class EventKind(Struct, forbid_unknown_fields=True, frozen=True):
    doc: str
    fields: dict[str, UnifiedField]


class UnifiedSpec(Struct, forbid_unknown_fields=True, frozen=True):
    events: dict[str, EventKind]


# -- conditions ----------------------------------------------------------------------------------


class Cond(Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """A test on a frame or a record. Exactly one of path-test / any / all / not_ is used.

    With ``path``: exactly one of ``eq``, ``ne``, ``prefix``, ``exists``, ``is_``. ``ci`` compares
    case-insensitively; ``before`` compares only the text before the first occurrence of that
    separator (HTX topics: ``positions_cross.btc-usdt`` -> ``positions_cross``).
    """

    path: str | None = None
    eq: Any = UNSET
    ne: Any = UNSET
    prefix: str | list[str] | None = None
    exists: bool | None = None
    is_: str | None = field(default=None, name="is")
    ci: bool = False
    before: str | None = None
    any: list[Cond] | None = None
    all: list[Cond] | None = None
    not_: Cond | None = field(default=None, name="not")


# -- value sources -------------------------------------------------------------------------------


class SignBy(Struct, forbid_unknown_fields=True, frozen=True):
    """Give a number the sign that another wire value implies (e.g. positionSide SHORT -> negative)."""

    path: str
    negative: list[Any] = []
    positive: list[Any] = []
    ci: bool = False


class SourceSpec(Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """Where one unified field's value comes from. Exactly one selector is set:

    path           a wire value (``a.b``; ``$.x`` from the frame root, ``^.x`` from the parent
                   record, ``@key`` the key of a record exploded from an object)
    const          a constant
    test           a condition, giving true or false
    sub            [a, b]: a - b, both decimals
    sign_of        the sign of an already-computed unified field, through ``map`` with the keys
                   positive / negative / zero
    symbol_part    base, quote or settle of the event's unified ``symbol`` (XT's fee coin is the
                   settle coin)
    any            alternatives; the first that yields a value wins
    json_template  text with ``${path}`` holes, each filled with that value encoded as JSON

    Modifiers: ``when`` (use this source only if the condition holds), ``absent_if`` (these wire
    values mean "not given"), ``map`` (wire value -> unified value, or the name of a map in the file's
    ``maps``; an unmapped value counts as not given), ``ci`` (map case-insensitively), ``join`` (join an array of scalars with this separator),
    ``sign_by`` / ``negate`` (numbers). On a field's top-level source only: ``required``, ``default``.
    """

    path: str | None = None
    const: Any = UNSET
    test: Cond | None = None
    sub: list[str | SourceSpec] | None = None
    sign_of: str | None = None
    symbol_part: str | None = None  # base | quote | settle
    any: list[str | SourceSpec] | None = None
    json_template: str | None = None
    when: Cond | None = None
    absent_if: list[Any] | None = None
    map: dict[str, Any] | str | None = None  # a mapping, or the name of one in the file's `maps`
    ci: bool = False
    join: str | None = None
    sign_by: SignBy | None = None
    negate: bool = False
    required: bool = False
    default: Any | UnsetType = UNSET


FieldRule = Union[str, list[str | SourceSpec], SourceSpec, None]


class EmitSpec(Struct, forbid_unknown_fields=True, frozen=True):
    """One kind of event produced from the records found at ``records``.

    ``records`` is a path from the frame root; ``[]`` after a key iterates an array of objects,
    ``{}`` iterates the values of an object (each value's key is ``@key``), ``.`` is the root itself.
    """

    kind: str
    fields: dict[str, FieldRule]
    records: str = "."
    when: Cond | None = None


class ChannelSpec(Struct, forbid_unknown_fields=True, frozen=True):
    when: Cond
    emit: list[EmitSpec]
    doc: str = ""
    variant: str | None = None


class TextFrame(Struct, forbid_unknown_fields=True, frozen=True):
    kind: str
    reply: str | None = None


class SymbolRule(Struct, forbid_unknown_fields=True, frozen=True):
    match: str
    unified: str


# -- session facts (read by the transport) -------------------------------------------------------


class ListenKeySpec(Struct, forbid_unknown_fields=True, frozen=True):
    method: str
    path: str
    signing: str
    result_path: str
    lifetime_s: int
    body: str | None = None


class AuthSpec(Struct, forbid_unknown_fields=True, frozen=True):
    kind: str  # listen_key | in_band
    placement: str | None = None  # topic_suffix | subscribe_frame | url_query
    listen_key: ListenKeySpec | None = None
    frame: str | None = None  # in-band auth frame template
    signing: str | None = None
    presign_path: str | None = None


class SubscribeSpec(Struct, forbid_unknown_fields=True, frozen=True):
    frame: str
    channels: dict[str, list[str]]
    unsubscribe_frame: str | None = None
    topic_format: str | None = None
    max_topics_per_frame: int | None = None


class HeartbeatSpec(Struct, forbid_unknown_fields=True, frozen=True):
    initiator: str  # client | server
    ping: str
    pong: str
    interval_s: float
    idle_timeout_s: float | None = None


class SessionSpec(Struct, forbid_unknown_fields=True, frozen=True):
    url: str
    compression: str  # none | gzip
    auth: AuthSpec
    subscribe: SubscribeSpec
    heartbeat: HeartbeatSpec
    rest_url: str | None = None
    aws_url: str | None = None


class VariantSpec(Struct, forbid_unknown_fields=True, frozen=True):
    doc: str
    session: SessionSpec


class ExchangeSpec(Struct, forbid_unknown_fields=True, frozen=True):
    exchange: str
    title: str
    doc: str
    variants: dict[str, VariantSpec]
    symbols: list[SymbolRule]
    channels: dict[str, ChannelSpec]
    topic_keys: list[str] = []
    envelope_ts: list[str] = []
    text_frames: dict[str, TextFrame] = {}
    maps: dict[str, dict[str, Any]] = {}  # named value maps a source can refer to by name


def convert(obj: Any, type_: Any) -> Any:
    """Convert parsed YAML to a spec Struct, strictly (no type coercion beyond msgspec's)."""
    return msgspec.convert(obj, type_, strict=True)
