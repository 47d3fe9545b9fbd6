"""native/(a) per goal frame on a noisy machine: alternate short timed blocks of the two.

    python benches/ratio.py                  # the six goal frames, 41 block pairs each
    python benches/ratio.py xt_order -k 81   # one frame, more pairs

report.py gives pytest-benchmark's means, which a shared machine's bursts inflate unevenly
between implementations measured a minute apart. Here native and (a) msgspec run in alternating
blocks of a few thousand calls (ABBA order, so a slow stretch hits both), and each frame's ratio
is the median of the per-block ratios, with its quartiles. The geometric mean of the medians is
the goal's measure (native/(a) <= 1). Wall-clock only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pushwire

from benches.baselines import msgspec_decoder
from benches.frames import FRAMES, GOAL_FRAMES


def _block(fn: Callable[[bytes], Any], data: bytes, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn(data)
    return time.perf_counter() - start


def frame_ratio(name: str, pairs: int) -> tuple[float, float, float, float, float]:
    """(median, q1, q3) of native/(a) over `pairs` block pairs, and the fastest block per call."""
    frame = FRAMES[name]
    native = pushwire.Decoder(frame.exchange, backend="native").decode
    baseline = msgspec_decoder(name)
    data = frame.data
    n = max(20, int(2000 / max(1.0, len(data) / 300)))  # blocks of ~1-3 ms
    for _ in range(3):  # warm both
        _block(native, data, n)
        _block(baseline, data, n)
    ratios, t_native, t_base = [], [], []
    for k in range(pairs):
        if k % 2:
            tn = _block(native, data, n)
            ta = _block(baseline, data, n)
        else:
            ta = _block(baseline, data, n)
            tn = _block(native, data, n)
        ratios.append(tn / ta)
        t_native.append(tn / n)
        t_base.append(ta / n)
    ratios.sort()
    quartile = lambda p: ratios[int(p * (len(ratios) - 1))]
    return statistics.median(ratios), quartile(0.25), quartile(0.75), min(t_native), min(t_base)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("frames", nargs="*", help="bench frame names (default: the six goal frames)")
    ap.add_argument("-k", "--pairs", type=int, default=41, help="block pairs per frame")
    args = ap.parse_args()
    if pushwire.decoder_backend() != "native":
        print("the native backend is not built (pip install . builds it)", file=sys.stderr)
        return 2
    names = args.frames or list(GOAL_FRAMES)
    print(f"{'frame':<22} {'native/(a)':>10} {'q1':>7} {'q3':>7} {'native us':>10} {'(a) us':>9}")
    medians = []
    for name in names:
        med, q1, q3, tn, ta = frame_ratio(name, args.pairs)
        medians.append(med)
        print(f"{name:<22} {med:10.3f} {q1:7.3f} {q3:7.3f} {tn * 1e6:10.2f} {ta * 1e6:9.2f}")
    geo = math.exp(sum(map(math.log, medians)) / len(medians))
    print(f"{'geomean of medians':<22} {geo:10.3f}   (fastest block per call in the us columns)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
