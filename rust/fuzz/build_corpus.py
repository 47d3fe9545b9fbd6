#!/usr/bin/env python3
"""Build the seed corpora and the libFuzzer dictionary of pushwire's fuzz targets.

Run from anywhere: ``python3 rust/fuzz/build_corpus.py``. It writes (all ignored by git):

* ``rust/fuzz/corpus/decode_frame/``: every fixture frame as received (gzip members where the
  fixture says ``"gzip": true``) and every bench frame (``benches/frames.py``);
* ``rust/fuzz/corpus/json/``: the JSON text of each of those frames (inflated);
* ``rust/fuzz/corpus/gunzip/``: ``[mode, cap lo, cap hi] + payload`` inputs: each text gzipped
  (mode 0) under a small and a large cap, and each text as a round-trip payload (odd mode);
* ``rust/fuzz/corpus/mutate_frame/``: ``[flags] + text`` for the structure-aware target: the
  frame's exchange, its gzip flag, and two (numbers, limits) settings;
* ``rust/fuzz/corpus/plan.dict``: every string of the decode plan (keys, enum values, topics), as
  JSON string tokens and bare, for ``-dict=``.

Files are named by the SHA-1 of their content, as libFuzzer names its own, so rebuilding is
idempotent and duplicates collapse. Nothing here needs the native extension; the bench frames
need msgspec (skipped with a note when it is missing).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CORPUS = HERE / "corpus"
EXCHANGES = ["xt", "woo", "htx"]  # the order of pushwire_fuzz::EXCHANGES (flags bits 0-1)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def fixture_frames() -> list[tuple[str, bytes, bool]]:
    """(exchange, JSON text, gzip?) of every fixture case, as tests/conftest.py frames them."""
    out = []
    for path in sorted((ROOT / "tests" / "fixtures").glob("*/*.jsonl")):
        exchange = path.parent.name
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            case = json.loads(line)
            frame = case["frame"]
            text = (
                frame
                if isinstance(frame, str)
                else json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
            )
            out.append((exchange, text.encode("utf-8"), bool(case.get("gzip"))))
    return out


def bench_frames() -> list[tuple[str, bytes, bool]]:
    sys.path.insert(0, str(ROOT))
    try:
        from benches.frames import FRAMES
    except ImportError as exc:  # msgspec missing
        print(f"note: bench frames skipped ({exc})", file=sys.stderr)
        return []
    return [(f.exchange, f.text, f.gzipped) for f in FRAMES.values()]


def plan_strings() -> list[str]:
    src = (ROOT / "python" / "pushwire" / "_generated" / "plan.py").read_text(encoding="utf-8")
    start = src.index('PLAN_JSON = r"""') + len('PLAN_JSON = r"""')
    plan = json.loads(src[start : src.index('"""', start)])
    found: set[str] = set()

    def walk(v: object) -> None:
        if isinstance(v, str):
            found.add(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                found.add(k)
                walk(x)

    walk(plan)
    return sorted(s for s in found if 0 < len(s.encode()) <= 64)


def dict_entry(token: bytes) -> str:
    body = "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02x}" for b in token)
    return f'"{body}"'


def write(target: str, data: bytes, counts: dict[str, int]) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    path = d / hashlib.sha1(data).hexdigest()
    if not path.exists():
        path.write_bytes(data)
        counts[target] = counts.get(target, 0) + 1


def main() -> None:
    frames = fixture_frames()
    n_fixture = len(frames)
    frames += bench_frames()
    counts: dict[str, int] = {}
    for exchange, text, gzipped in frames:
        ex = EXCHANGES.index(exchange)
        wire = gz(text) if gzipped else text
        write("decode_frame", wire, counts)
        write("json", text, counts)
        member = gz(text)
        for cap in (64, 0xFFFF):
            write("gunzip", bytes([0]) + cap.to_bytes(2, "little") + member, counts)
        write("gunzip", bytes([1 | (6 << 1)]) + (1024).to_bytes(2, "little") + text[:4096], counts)
        for decimal, small in ((False, False), (True, True)):
            flags = ex | (4 if gzipped else 0) | (8 if decimal else 0) | (16 if small else 0)
            write("mutate_frame", bytes([flags]) + text, counts)
    tokens = []
    for s in plan_strings():
        raw = s.encode("utf-8")
        tokens.append(dict_entry(raw))
        tokens.append(dict_entry(json.dumps(s, ensure_ascii=False).encode("utf-8")))
    for extra in (
        b"\x1f\x8b\x08\x00",
        b'":',
        b'":{',
        b'":[',
        b"null",
        b"true",
        b"false",
        b"-0",
        b"1e400",
        b"\\u0000",
    ):
        tokens.append(dict_entry(extra))
    CORPUS.mkdir(parents=True, exist_ok=True)
    (CORPUS / "plan.dict").write_text("\n".join(sorted(set(tokens))) + "\n", encoding="utf-8")
    print(
        f"{n_fixture} fixture frames + {len(frames) - n_fixture} bench frames; new seeds: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f"; {len(set(tokens))} dictionary tokens in {CORPUS / 'plan.dict'}"
    )


if __name__ == "__main__":
    main()
