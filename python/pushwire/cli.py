"""The ``pushwire`` command line: ``pushwire decode`` (more commands arrive with the simulator)."""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import msgspec

from pushwire.decode import EXCHANGES, Decoder
from pushwire.errors import DecodeError

_encoder = msgspec.json.Encoder(decimal_format="string")


def _capture_frames(lines: Iterator[str]) -> Iterator[tuple[int, bytes]]:
    """Frames of a capture: one a line; text as is, binary frames base64 (optionally ``b64:``)."""
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if line.startswith(("b64:", "base64:")):
            yield lineno, _b64(line.split(":", 1)[1], lineno)
            continue
        if not line.lstrip().startswith(("{", "[")):
            # A bare line is base64 when it decodes to a gzip member; otherwise it is a text frame
            # such as XT's "pong".
            try:
                data = base64.b64decode(line.strip(), validate=True)
            except (binascii.Error, ValueError):
                data = b""
            if data[:2] == b"\x1f\x8b":
                yield lineno, data
                continue
        yield lineno, line.encode("utf-8")


def _b64(text: str, lineno: int) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SystemExit(f"line {lineno}: bad base64: {exc}") from None


def _guess_exchange(path: Path) -> str | None:
    stem = path.name.lower()
    for name in EXCHANGES:
        if stem.startswith(name):
            return name
    return None


def cmd_decode(args: argparse.Namespace) -> int:
    path = Path(args.file)
    exchange = args.exchange or _guess_exchange(path)
    if exchange is None:
        print(f"pushwire decode: cannot tell the exchange of {path.name}; pass --exchange", file=sys.stderr)
        return 2
    dec = Decoder(exchange, numbers=args.numbers)
    out: IO[bytes] = open(args.out, "wb") if args.out else sys.stdout.buffer  # noqa: SIM115
    failures = frames = events = 0
    try:
        with path.open(encoding="utf-8") as f:
            for lineno, frame in _capture_frames(f):
                frames += 1
                try:
                    decoded = dec.decode(frame)
                except DecodeError as exc:
                    failures += 1
                    print(f"{path.name}:{lineno}: {exc}", file=sys.stderr)
                    continue
                for event in decoded:
                    out.write(_encoder.encode(event) + b"\n")
                    events += 1
    finally:
        if args.out:
            out.close()
        else:
            out.flush()
    print(
        f"pushwire decode: {frames} frames -> {events} events ({exchange}, {dec.backend} backend)"
        + (f", {failures} frames refused" if failures else ""),
        file=sys.stderr,
    )
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pushwire", description="Private exchange account streams, unified.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("decode", help="decode a capture (one frame a line) into normalized JSON lines")
    p.add_argument("file", help="capture file: text frames as they are, binary frames base64")
    p.add_argument("--exchange", choices=EXCHANGES, help="default: from the file name (xt*, woo*, htx*)")
    p.add_argument("--out", help="output file (default: stdout)")
    p.add_argument("--numbers", choices=("float", "decimal"), default="float")
    p.set_defaults(func=cmd_decode)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. `pushwire decode ... | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
