"""Per-call costs of a decoder under valgrind's cachegrind: deterministic on a shared, noisy machine.

    python benches/cachegrind.py                       # native and (a) msgspec over the six goal frames
    python benches/cachegrind.py --impl native many -- xt_order woo_position_100

For each implementation and frame it runs the decoder N times and 0 times in fresh interpreters
and prints the difference per call:

    Ir     instructions
    I1mr   L1 instruction-cache misses (cachegrind's model: 32 KB, 8-way, 64-byte lines)
    D1mr   L1 data-cache read misses
    Bcm    mispredicted conditional branches
    est    Ir + 12 * (I1mr + D1mr) + 15 * Bcm, a rough cycle estimate

Why not instructions alone: on small frames the wall time follows `est` far better than `Ir`. A
decoder whose hot code no longer fits the instruction cache together with the interpreter's loop
misses on nearly every line it runs, on every call (msgspec runs ~0 I1 misses per small frame).
Implementations: native (pushwire.Decoder.decode), many (decode_many of 100 copies, reported per
frame), a (msgspec typed decode), b (orjson + normalizer), python (the reference decoder).
Needs valgrind; the native build should be a release build (`pip install .`).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOAL = ["xt_position", "xt_order", "woo_position_1", "woo_position_100", "htx_position_1_gz", "htx_position_20_gz"]
LARGE = {"woo_position_100", "htx_position_20_gz", "htx_order_2_trades_gz"}
MANY_COPIES = 100

_LOOP = """
import sys
sys.path.insert(0, {root!r})
import pushwire
from benches.frames import FRAMES
from benches.baselines import NORMALIZERS, msgspec_decoder
impl, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = FRAMES[name]
if impl == "native":
    d = pushwire.Decoder(f.exchange, backend="native").decode
elif impl == "python":
    d = pushwire.Decoder(f.exchange, backend="python").decode
elif impl == "many":
    many = pushwire.Decoder(f.exchange, backend="native").decode_many
    batch = [f.data] * {copies}
    d = lambda _frame: many(batch)
elif impl == "a":
    d = msgspec_decoder(name)
else:
    d = NORMALIZERS[f.exchange]().decode
d(f.data)
for _ in range(n):
    d(f.data)
"""

_SUMMARY = {
    "Ir": re.compile(r"I\s+refs:\s+([\d,]+)"),
    "I1mr": re.compile(r"I1\s+misses:\s+([\d,]+)"),
    "D1mr": re.compile(r"D1\s+misses:\s+([\d,]+)"),
    "Bcm": re.compile(r"Mispredicts:\s+([\d,]+)"),
}


def _run(impl: str, frame: str, n: int) -> dict[str, int]:
    script = _LOOP.format(root=str(HERE.parent), copies=MANY_COPIES)
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--branch-sim=yes", "--I1=32768,8,64",
           "--D1=32768,8,64", "--cachegrind-out-file=/dev/null", sys.executable, "-c", script, impl, frame, str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    if proc.returncode != 0:
        raise SystemExit(f"{impl} {frame}: valgrind failed:\n{proc.stderr[-2000:]}")
    out = {}
    for key, rx in _SUMMARY.items():
        m = rx.search(proc.stderr)
        if m is None:
            raise SystemExit(f"{impl} {frame}: no {key} in valgrind's summary")
        out[key] = int(m.group(1).replace(",", ""))
    return out


def per_call(impl: str, frame: str) -> dict[str, float]:
    n = 20 if frame in LARGE else 1000
    with_n, without = _run(impl, frame, n), _run(impl, frame, 0)
    calls = n * (MANY_COPIES if impl == "many" else 1)
    r = {k: (with_n[k] - without[k]) / calls for k in with_n}
    r["est"] = r["Ir"] + 12 * (r["I1mr"] + r["D1mr"]) + 15 * r["Bcm"]
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", nargs="+", default=["native", "a"],
                        choices=["native", "many", "a", "b", "python"])
    parser.add_argument("frames", nargs="*", default=GOAL)
    args = parser.parse_args(argv)
    print(f"{'frame':<24}{'impl':<8}{'Ir':>11}{'I1mr':>8}{'D1mr':>8}{'Bcm':>8}{'est':>11}", flush=True)
    for frame in args.frames:
        for impl in args.impl:
            r = per_call(impl, frame)
            print(f"{frame:<24}{impl:<8}{r['Ir']:>11,.0f}{r['I1mr']:>8,.0f}{r['D1mr']:>8,.0f}{r['Bcm']:>8,.0f}"
                  f"{r['est']:>11,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
