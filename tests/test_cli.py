"""`pushwire decode`: captures in, normalized JSON lines out."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pushwire.cli import main

REPO = Path(__file__).resolve().parent.parent
CAPTURES = REPO / "examples" / "captures"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict], str]:
    rc = main(["decode", *args])
    out, err = capsys.readouterr()
    return rc, [json.loads(line) for line in out.splitlines()], err


def test_decodes_the_htx_example_capture(capsys: pytest.CaptureFixture[str]) -> None:
    rc, events, err = _run(capsys, str(CAPTURES / "htx.capture"), "--exchange", "htx", "--numbers", "decimal")
    assert rc == 0, err
    # auth ack, sub ack, ping, a position push, an order push with one trade, an account snapshot
    assert [e["kind"] for e in events] == ["ack", "ack", "heartbeat", "position", "order", "fill", "balance"]
    assert events[2]["reply"] == '{"op":"pong","ts":"1639107465000"}'
    assert events[3]["symbol"] == "BTC/USDT:USDT" and events[3]["size"] == "1"  # decimals as exact strings
    assert events[5]["trade_id"] == "14469-758684042347171840-1" and events[5]["fee"] == "0.01931396"
    assert "6 frames -> 7 events" in err


@pytest.mark.parametrize("exchange", ["xt", "woo"])
def test_exchange_is_taken_from_the_file_name(capsys: pytest.CaptureFixture[str], exchange: str) -> None:
    rc, events, err = _run(capsys, str(CAPTURES / f"{exchange}.capture"))
    assert rc == 0, err
    assert events and all(e["exchange"] == exchange for e in events)
    assert {"position", "balance", "order", "fill"} <= {e["kind"] for e in events}


def test_text_base64_and_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ping = gzip.compress(b'{"op":"ping","ts":1700000000001}', mtime=0)
    capture = tmp_path / "session.txt"
    capture.write_text(
        "\n".join(
            [
                base64.b64encode(ping).decode(),  # bare base64 of a gzip member
                "b64:" + base64.b64encode(ping).decode(),
                '{"op":"notify","topic":"nope.btc-usdt","ts":5,"data":[]}',
                "{not json",
                "",
            ]
        )
    )
    out = tmp_path / "out.jsonl"
    rc, _, err = _run(capsys, str(capture), "--exchange", "htx", "--out", str(out))
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert rc == 1  # one frame was refused
    assert [e["kind"] for e in events] == ["heartbeat", "heartbeat", "unrecognized"]
    assert events[0]["reply"] == '{"op":"pong","ts":1700000000001}'
    assert "session.txt:4" in err and "not valid JSON" in err


def test_unknown_exchange_name_asks_for_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "capture.txt"
    capture.write_text("pong\n")
    rc, _, err = _run(capsys, str(capture))
    assert rc == 2 and "--exchange" in err


def test_console_script_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pushwire.cli", "decode", str(CAPTURES / "woo.capture")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) >= 5
