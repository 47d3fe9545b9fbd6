"""Bench settings: a full ``--benchmark-only`` run stays well under 3 minutes on a shared 2-core box.

Each benchmark gets a fixed budget (below) instead of pytest-benchmark's defaults. An option given
on the command line (or in PYTEST_ADDOPTS) wins, e.g. ``--benchmark-max-time=2
--benchmark-min-rounds=20`` for a longer, steadier run. Garbage collection stays on (what users
get); there is no warmup beyond the untimed correctness call every bench makes before timing.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pushwire
import pytest

HERE = Path(__file__).parent

#: per-test budget: option -> (command-line flag, per-frame grid value, decode_many value).
#: min_time 50 us makes a round of a ~1 us decode ~50 calls, so the timer's own cost (~50 ns a
#: reading) does not bias the fast rows against the slow ones.
_SETTINGS = {
    "max_time": ("--benchmark-max-time", 0.75, 0.5),
    "min_rounds": ("--benchmark-min-rounds", 5, 3),
    "min_time": ("--benchmark-min-time", 0.00005, 0.00005),
}


def _given_on_command_line(config: pytest.Config, flag: str) -> bool:
    args = [*config.invocation_params.args, *shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))]
    args += config.getini("addopts")
    return any(a == flag or a.startswith(flag + "=") for a in args)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in Path(item.path).parents or "benchmark" not in getattr(item, "fixturenames", ()):
            continue
        many = item.name.startswith("test_decode_many")
        opts = {
            name: (many_value if many else grid_value)
            for name, (flag, grid_value, many_value) in _SETTINGS.items()
            if not _given_on_command_line(config, flag)
        }
        if opts:
            item.add_marker(pytest.mark.benchmark(**opts))


def pytest_report_header(config: pytest.Config) -> str:
    backend = pushwire.decoder_backend()
    note = "" if backend == "native" else " (pushwire._native has no Decoder: native rows are skipped)"
    return f"pushwire decoder backend: {backend}{note}"
