"""Run the decode benches and summarize them against the goal.

    python benches/report.py                      # run `pytest benches --benchmark-only`, then summarize
    python benches/report.py --save out.json      # ... and keep pytest-benchmark's JSON
    python benches/report.py --from out.json      # summarize an earlier run, without running
    python benches/report.py -- -k woo            # extra pytest arguments after `--`

Per frame it prints the mean time of each implementation,

    native   pushwire.Decoder(backend="native")
    (a)      msgspec typed decode of the raw wire format, no normalization
    (b)      orjson + a hand-written normalizer into pushwire's events
    (c)      pushwire.Decoder(backend="python"), the reference decoder

the ratios native/(a), (b)/native and (c)/native, and their geometric means over the six goal
frames. Goal: native <= (a) (native/(a) <= 1) and (b)/native >= 3. The decode_many section gives
the time per frame of Decoder.decode_many against a loop of Decoder.decode.

The report never fails on a number (wall-clock results are reported, not asserted); its exit
status is pytest's.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from frames import FRAME_NAMES, FRAMES, GOAL_FRAMES

IMPLS = ("native", "msgspec", "orjson", "python")
LABELS = {"native": "native", "msgspec": "(a) msgspec", "orjson": "(b) orjson", "python": "(c) python"}


def run_benches(json_path: Path, pytest_args: list[str]) -> int:
    cmd = [sys.executable, "-m", "pytest", str(HERE), "--benchmark-only", f"--benchmark-json={json_path}",
           "-q", *pytest_args]
    print("$", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=HERE.parent)


def _geomean(values: list[float]) -> float | None:
    if not values or any(v is None or v <= 0 for v in values):
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _us(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    us = seconds * 1e6
    return f"{us:,.2f}" if us < 100 else f"{us:,.1f}" if us < 10_000 else f"{us:,.0f}"


def _ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}"


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def summarize(data: dict[str, Any], stat: str = "mean") -> str:
    grid: dict[str, dict[str, float]] = {}
    many: dict[str, dict[str, float]] = {}
    for b in data.get("benchmarks", []):
        params = b.get("params") or {}
        info = b.get("extra_info") or {}
        value = b["stats"][stat]
        if b["name"].startswith("test_decode_many["):
            per_frame = value / info["frames"]
            many.setdefault(params["name"], {})[f"{params['backend']}:{params['mode']}"] = per_frame
        elif b["name"].startswith("test_decode["):
            grid.setdefault(params["name"], {})[params["impl"]] = value

    lines: list[str] = []
    mi = data.get("machine_info") or {}
    cpu = (mi.get("cpu") or {}).get("brand_raw") or mi.get("processor", "?")
    py = mi.get("python_version", "?")
    lines.append(f"pushwire decode benches: {stat} time per call, us (Python {py}, {cpu})")
    if not any("native" in row for row in grid.values()):
        lines.append("native: not measured (pushwire._native has no Decoder yet); native ratios are '-'")
    lines.append("")

    head = f"{'frame':<24}" + "".join(f"{LABELS[i]:>13}" for i in IMPLS)
    head += f"{'native/(a)':>12}{'(b)/native':>12}{'(c)/native':>12}{'(b)/(a)':>9}{'(c)/(a)':>9}"
    lines.append(head)
    lines.append("-" * len(head))
    ratios: dict[str, dict[str, float | None]] = {}
    for name in FRAME_NAMES:
        row = grid.get(name)
        if not row:
            continue
        nat, a, b_, c = (row.get(i) for i in IMPLS)
        r = {
            "native/(a)": _div(nat, a),
            "(b)/native": _div(b_, nat),
            "(c)/native": _div(c, nat),
            "(b)/(a)": _div(b_, a),
            "(c)/(a)": _div(c, a),
        }
        ratios[name] = r
        mark = "*" if name in GOAL_FRAMES else " "
        line = f"{mark}{name:<23}" + "".join(f"{_us(row.get(i)):>13}" for i in IMPLS)
        line += "".join(f"{_ratio(r[k]):>12}" for k in ("native/(a)", "(b)/native", "(c)/native"))
        line += "".join(f"{_ratio(r[k]):>9}" for k in ("(b)/(a)", "(c)/(a)"))
        lines.append(line)
    lines.append("-" * len(head))

    goal_rows = [ratios[n] for n in GOAL_FRAMES if n in ratios]
    geo = {k: (_geomean([r[k] for r in goal_rows]) if len(goal_rows) == len(GOAL_FRAMES) else None)
           for k in ("native/(a)", "(b)/native", "(c)/native", "(b)/(a)", "(c)/(a)")}
    line = f"{'geomean of * frames':<24}" + " " * 13 * len(IMPLS)
    line += "".join(f"{_ratio(geo[k]):>12}" for k in ("native/(a)", "(b)/native", "(c)/native"))
    line += "".join(f"{_ratio(geo[k]):>9}" for k in ("(b)/(a)", "(c)/(a)"))
    lines.append(line)
    lines.append("")
    lines.append("* goal frames: " + ", ".join(GOAL_FRAMES))

    def verdict(key: str, ok: Any, want: str) -> str:
        g = geo[key]
        if g is None:
            return f"  {key} {want}: not measured"
        misses = [n for n in GOAL_FRAMES if ratios.get(n, {}).get(key) is not None and not ok(ratios[n][key])]
        state = "MET" if ok(g) else "NOT MET"
        extra = f"; frames missing it: {', '.join(misses)}" if misses else ""
        return f"  {key} {want}: geomean {g:.2f} -> {state}{extra}"

    lines.append("Goal (geometric mean over the goal frames):")
    lines.append(verdict("native/(a)", lambda x: x <= 1.0, "<= 1"))
    lines.append(verdict("(b)/native", lambda x: x >= 3.0, ">= 3"))
    if stat == "mean":
        # The mean carries every hiccup of a shared machine; the median is the cross-check.
        med = _goal_geomeans(data, "median")
        lines.append("  cross-check with medians: " + ", ".join(f"{k} {_ratio(v)}" for k, v in med.items()))

    if many:
        lines.append("")
        lines.append(f"decode_many: {stat} time per frame, us (N frames per call: "
                     + ", ".join(f"{k} {v}" for k, v in _many_counts(data).items()) + ")")
        cols = ("native many", "native loop", "loop/many", "python many", "python loop", "loop/many")
        head = f"{'frame':<24}" + "".join(f"{h:>14}" for h in cols)
        lines.append(head)
        lines.append("-" * len(head))
        for name in FRAME_NAMES:
            row = many.get(name)
            if not row:
                continue
            cells = []
            for backend in ("native", "python"):
                m, lp = row.get(f"{backend}:decode_many"), row.get(f"{backend}:decode_loop")
                cells += [_us(m), _us(lp), _ratio(_div(lp, m))]
            lines.append(f"{name:<24}" + "".join(f"{c:>14}" for c in cells))
    return "\n".join(lines)


def _goal_geomeans(data: dict[str, Any], stat: str) -> dict[str, float | None]:
    grid: dict[str, dict[str, float]] = {}
    for b in data.get("benchmarks", []):
        if b["name"].startswith("test_decode["):
            grid.setdefault(b["params"]["name"], {})[b["params"]["impl"]] = b["stats"][stat]
    out: dict[str, float | None] = {}
    for key, (num, den) in {"native/(a)": ("native", "msgspec"), "(b)/native": ("orjson", "native"),
                            "(b)/(a)": ("orjson", "msgspec")}.items():
        rs = [_div(grid.get(n, {}).get(num), grid.get(n, {}).get(den)) for n in GOAL_FRAMES]
        out[key] = None if any(r is None for r in rs) else _geomean(rs)  # type: ignore[arg-type]
    return out


def _many_counts(data: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for b in data.get("benchmarks", []):
        if b["name"].startswith("test_decode_many["):
            counts[b["params"]["backend"]] = b["extra_info"]["frames"]
    return counts


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    p.add_argument("--from", dest="source", type=Path, help="summarize this earlier JSON, do not run")
    p.add_argument("--save", type=Path, help="where to keep the run's pytest-benchmark JSON")
    p.add_argument("--stat", default="mean", choices=("mean", "median", "min"),
                   help="the statistic to report (default: mean; median is steadier on a busy machine)")
    args = p.parse_args(argv)

    status = 0
    if args.source is not None:
        path = args.source
    else:
        path = args.save or Path(tempfile.mkdtemp(prefix="pushwire-bench-")) / "bench.json"
        status = run_benches(path.resolve(), extra)
        if not path.exists():
            print(f"no benchmark results (pytest exit status {status})", file=sys.stderr)
            return status or 1
    data = json.loads(path.read_text())
    print()
    print(summarize(data, args.stat))
    if args.source is None and args.save is None:
        print(f"\n(raw results: {path})")
    return status


if __name__ == "__main__":
    assert set(FRAMES) == set(FRAME_NAMES)
    sys.exit(main())
