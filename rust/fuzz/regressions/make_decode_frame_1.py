#!/usr/bin/env python3
"""Rebuild ``decode_frame-1.bin`` (finding F1: quadratic root lookups).

An htx ``positions`` push of R position records in ``data`` followed by M duplicate root members
(``"j":0``), as large as the default 16 MiB inflate cap allows, gzip-compressed (49 KB). Every
record looks up ``ts`` and ``event`` in the root, and each lookup scans the root's members.

    python3 rust/fuzz/regressions/make_decode_frame_1.py rust/fuzz/regressions/decode_frame-1.bin
"""

from __future__ import annotations

import gzip
import sys

REC = (
    '{"contract_code":"BTC-USDT","volume":1,"available":1,"frozen":0,"cost_open":48284.9,'
    '"cost_hold":48284.9,"profit_unreal":-0.0001,"profit_rate":-0.000010355204214985,'
    '"profit":-0.0001,"margin_asset":"USDT","position_margin":9.65696,"lever_rate":5,'
    '"direction":"buy","last_price":48284.8,"margin_mode":"cross","margin_account":"USDT",'
    '"position_mode":"dual_side","adl_risk_percent":"3"}'
)
HEAD = '{"op":"notify","topic":"positions_cross.btc-usdt","ts":1639107468139,"event":"order.match","data":['
LIMIT = 16 * 1024 * 1024  # the default max_inflated_bytes


def frame(records: int, members: int) -> bytes:
    return (HEAD + ",".join([REC] * records) + "]" + ',"j":0' * members + "}").encode()


def main() -> None:
    half = (LIMIT - len(HEAD) - 2) // 2
    records = half // (len(REC) + 1)
    members = (LIMIT - len(HEAD) - 2 - records * (len(REC) + 1)) // 6
    data = frame(records, members)
    assert len(data) <= LIMIT, len(data)
    out = sys.argv[1]
    with open(out, "wb") as f:
        f.write(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"records {records} members {members} inflated {len(data)} bytes -> {out}")


if __name__ == "__main__":
    main()
