"""Shared test helpers: fixture loading and the list of available backends."""

from __future__ import annotations

import gzip
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pushwire
import pytest
from pushwire._generated.plan import PLAN

FIXTURES = Path(__file__).parent / "fixtures"

#: The receive time fixtures assume for frames that carry no time of their own.
RECV_TS = 1_700_000_000_000

# PUSHWIRE_TEST_BACKENDS=python limits the run to one backend (e.g. while the extension is rebuilt).
BACKENDS = os.environ.get("PUSHWIRE_TEST_BACKENDS", "python,native").split(",")
if pushwire.decoder_backend() != "native":
    BACKENDS = [b for b in BACKENDS if b != "native"]
NUMBERS = ["float", "decimal"]


def kind_fields(kind: str) -> list[str]:
    return PLAN["kinds"][kind]["fields"]


def decimal_fields(kind: str) -> set[str]:
    cls = _classes()[kind]
    return {
        name
        for name, tp in zip(cls.__struct_fields__, _annotations(cls))
        if "Decimal" in tp
    }


def _classes() -> dict[str, Any]:
    from pushwire._generated.events import EVENT_CLASSES

    return EVENT_CLASSES


def _annotations(cls: Any) -> list[str]:
    ann = {}
    for klass in reversed(cls.__mro__):
        ann.update(getattr(klass, "__annotations__", {}))
    return [str(ann[name]) for name in cls.__struct_fields__]


def frame_bytes(case: dict[str, Any]) -> bytes:
    """The frame of a fixture case as it arrives on the wire."""
    frame = case["frame"]
    text = frame if isinstance(frame, str) else json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
    data = text.encode("utf-8")
    return gzip.compress(data, mtime=0) if case.get("gzip") else data


def load_cases() -> list[tuple[str, str, int, dict[str, Any]]]:
    """(exchange, channel, line number, case) for every line of tests/fixtures/<exchange>/<channel>.jsonl."""
    cases = []
    for path in sorted(FIXTURES.glob("*/*.jsonl")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as exc:  # a broken fixture is a test failure, not a skip
                raise AssertionError(f"{path}:{lineno}: not JSON: {exc}") from None
            cases.append((path.parent.name, path.stem, lineno, case))
    return cases


def expected_value(kind: str, name: str, value: Any, numbers: str) -> Any:
    """A fixture's expected value in the number mode under test (decimals are written as strings)."""
    if value is not None and name in decimal_fields(kind):
        if not isinstance(value, str):
            raise AssertionError(f"fixture decimal {kind}.{name} must be a string, got {value!r}")
        return float(value) if numbers == "float" else Decimal(value)
    return value


def assert_event(event: Any, expected: dict[str, Any], exchange: str, numbers: str) -> None:
    """Every field of ``event`` equals ``expected``; fields the fixture leaves out must be defaults."""
    kind = expected["kind"]
    assert event.__struct_config__.tag == kind, f"expected a {kind} event, got {event!r}"
    cls = type(event)
    unknown = set(expected) - {"kind", *cls.__struct_fields__}
    assert not unknown, f"fixture names fields {kind} does not have: {sorted(unknown)}"
    defaults = dict(zip(cls.__struct_fields__[-len(cls.__struct_defaults__):], cls.__struct_defaults__)) \
        if cls.__struct_defaults__ else {}
    for name in cls.__struct_fields__:
        actual = getattr(event, name)
        if name == "exchange":
            assert actual == exchange
            continue
        if name in expected:
            want = expected_value(kind, name, expected[name], numbers)
        elif name == "ts":
            want = RECV_TS
        else:
            want = defaults.get(name)
        assert actual == want, f"{kind}.{name}: got {actual!r}, expected {want!r}"
        if want is not None and name in decimal_fields(kind):
            assert type(actual) is (float if numbers == "float" else Decimal), f"{kind}.{name}: {type(actual)}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=NUMBERS)
def numbers(request: pytest.FixtureRequest) -> str:
    return request.param
