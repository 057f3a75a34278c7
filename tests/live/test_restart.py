"""A restart loses nothing a user can see (as a new user would try it): `onestop up`, the demo,
stop, `onestop up` again — the ledger is all there, `onestop settlements` shows every record,
the audit replay and verify pass, and the same claims published again settle nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cli.demo import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = sum(len(json.loads(p.read_text())["claims"]) for p in EXAMPLES.glob("*.json"))


def _onestop(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=env["ONESTOP_HOME"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _up(env: dict, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "up"],
        env=env,
        cwd=env["ONESTOP_HOME"],
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )
    runtime = Path(env["ONESTOP_HOME"]) / ".onestop" / "runtime.json"
    deadline = time.monotonic() + 180
    while not runtime.exists() or "onestop is up" not in log.read_text():
        assert process.poll() is None, f"onestop up stopped: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"onestop up did not come up: {log.read_text()[-3000:]}"
        time.sleep(0.5)
    return process


def _down(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)


def test_a_restart_of_onestop_up_loses_nothing_a_user_can_see(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ONESTOP_KAFKA", "ONESTOP_DATABASE_URL")}
    env.update(ONESTOP_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    log = tmp_path / "up.log"
    up = _up(env, log)
    try:
        demo = _onestop(env, "demo")
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert demo.stdout.count("agrees to the fen") == len(list(EXAMPLES.glob("*.json")))
    finally:
        _down(up)
    up = _up(env, log)
    try:
        assert "the database holds the ledger" in log.read_text()  # it says what survived, and what did not
        shown = _onestop(env, "settlements", "--format", "json")
        assert shown.returncode == 0, shown.stderr
        records = [json.loads(line) for line in shown.stdout.splitlines() if line.startswith("{")]
        assert sum(r["kind"] == "settlement" for r in records) == CLAIMS
        assert "records from the ledger (database)" in shown.stderr
        replay = _onestop(env, "audit", "replay")
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert "no difference" in replay.stdout
        verify = _onestop(env, "audit", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        # the same claims sent again (the demo publishes them again) are recognised: nothing is paid twice
        again = _onestop(env, "demo")
        assert again.returncode == 0, again.stdout + again.stderr
        shown = _onestop(env, "settlements", "--format", "json")
        assert len([line for line in shown.stdout.splitlines() if line.startswith("{")]) == len(records)
    finally:
        _down(up)
