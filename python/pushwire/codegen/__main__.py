"""``python -m pushwire.codegen [--check] [--spec DIR] [--out DIR]``.

Without ``--check``: regenerate ``_generated/`` from the spec. With ``--check``: regenerate into
memory and exit 1 with a unified diff when anything on disk is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pushwire.codegen import check, default_dirs, generate, write
from pushwire.spec import SpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pushwire.codegen", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail with a diff when generated code is stale")
    parser.add_argument("--spec", type=Path, help="spec directory (default: spec/ of the checkout)")
    parser.add_argument("--out", type=Path, help="output package (default: python/pushwire/_generated)")
    args = parser.parse_args(argv)
    try:
        if args.spec is None or args.out is None:
            spec_dir, out_dir = default_dirs()
            args.spec = args.spec or spec_dir
            args.out = args.out or out_dir
        if args.check:
            diff = check(args.spec, args.out)
            if diff:
                sys.stdout.write(diff)
                print("generated code is stale: run `python -m pushwire.codegen`", file=sys.stderr)
                return 1
            print("generated code is up to date")
            return 0
        files = generate(args.spec, args.out)
        write(files, args.out)
        print(f"wrote {len(files)} files")
        return 0
    except SpecError as exc:
        print(f"spec error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"pushwire.codegen: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
