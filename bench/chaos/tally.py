"""The chaos run, many times: `python -m bench.chaos.tally --runs 20 --claims 1000 --instances 2 --restart`
runs `onestop chaos` with seeds 1..runs, one after another, each in its own process with a time
limit (a run that hangs is a failure, not the end of the tally), and prints one line per run and
a summary. A failed run's work directory (logs, parts) is kept and named."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(r"^(\d+)/(\d+) checks passed in ([\d.]+)s", re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    seed: int
    passed: bool
    seconds: float
    line: str


def run_one(seed: int, options: list[str], work: Path, limit: float) -> Outcome:
    """One `onestop chaos` run of ``seed`` in ``work``; its output kept in ``work``/chaos.log."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / "chaos.log"
    began = time.monotonic()
    command = [sys.executable, "-m", "cli", "chaos", "--seed", str(seed), "--work-dir", str(work), *options]
    try:
        with log.open("wb") as out:
            code = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=limit).returncode
    except subprocess.TimeoutExpired:
        return Outcome(seed, False, time.monotonic() - began, f"did not end within {limit:.0f}s; see {log}")
    return _outcome(seed, code, log.read_text(errors="replace"), time.monotonic() - began, log)


def _outcome(seed: int, code: int, output: str, seconds: float, log: Path) -> Outcome:
    found = SUMMARY.search(output)
    failed = [
        line.split(":", 1)[0].removeprefix("FAIL").strip() for line in output.splitlines() if line.startswith("FAIL")
    ]
    if found is None:
        tail = " | ".join(output.strip().splitlines()[-3:])[-400:]
        return Outcome(seed, False, seconds, f"ended ({code}) before its checks: {tail}; see {log}")
    checks = f"{found[1]}/{found[2]} checks"
    if code == 0 and not failed:
        return Outcome(seed, True, seconds, f"PASS {checks}")
    return Outcome(seed, False, seconds, f"FAIL {checks}, failed: {'; '.join(failed)}; see {log}")


@click.command()
@click.option("--runs", default=20, show_default=True, help="seeds 1..runs")
@click.option("--first-seed", default=1, show_default=True)
@click.option("--claims", default=1000, show_default=True)
@click.option("--instances", default=2, show_default=True)
@click.option("--restart/--no-restart", default=True, show_default=True)
@click.option("--kills", default=4, show_default=True, help="SIGKILLs per fault run (intake, ledger, a payer in turn)")
@click.option("--limit", default=900.0, show_default=True, help="seconds a run may take before it counts as failed")
@click.option("--work-dir", type=click.Path(path_type=Path), default=None, help="default: a new temporary directory")
def tally(
    runs: int,
    first_seed: int,
    claims: int,
    instances: int,
    restart: bool,
    kills: int,
    limit: float,
    work_dir: Path | None,
) -> None:
    work = work_dir or Path(tempfile.mkdtemp(prefix="onestop-tally-"))
    options = ["--claims", str(claims), "--instances", str(instances), "--kills", str(kills)]
    options += ["--restart"] if restart else []
    click.echo(f"onestop chaos {' '.join(options)}, seeds {first_seed}..{first_seed + runs - 1}; work in {work}")
    outcomes = []
    for seed in range(first_seed, first_seed + runs):
        outcome = run_one(seed, options, work / f"seed-{seed}", limit)
        outcomes.append(outcome)
        click.echo(f"seed {seed:>3}: {outcome.line} ({outcome.seconds:.0f}s)")
        if outcome.passed:
            subprocess.run(["rm", "-rf", str(work / f"seed-{seed}")], check=False)
    passed = sum(o.passed for o in outcomes)
    seconds = [o.seconds for o in outcomes]
    click.echo(
        f"{passed}/{len(outcomes)} runs passed every check; {min(seconds):.0f}–{max(seconds):.0f}s a run, "
        f"{sum(seconds) / 60:.0f} min in all"
    )
    if passed < len(outcomes):
        raise SystemExit(1)


if __name__ == "__main__":
    tally()
