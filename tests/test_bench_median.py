"""bench.pipeline.median: the README's table of the last runs, each target's median and verdict."""

from __future__ import annotations

from pathlib import Path

from bench.pipeline.median import newest_default_runs, table


def _phase(rate, p99, per_s, cpu=None, claims=1000, settled=1000):
    return {
        "offered_per_s": rate,
        "p99_ms": p99,
        "throughput_per_s": per_s,
        "claims": claims,
        "settled": settled,
        "cpu_seconds": cpu or {},
    }


def _run(date, saturation, chain, p99_500, engine, cpu_ours):
    cpu = {"wall": 10.0, "broker": cpu_ours * 6, "intake": cpu_ours * 6, "bench": 100.0, "other processes": 50.0}
    return {
        "date": date,
        "pipeline": [
            _phase(100, 300, 98),
            _phase(500, p99_500, 480 if p99_500 < 1000 else 400),
            _phase(None, 9000, saturation, cpu, 6000, 6000),
        ],
        "baseline": [
            _phase(100, 250, 99),
            _phase(500, 260, 495),
            _phase(None, 2000, chain, {"wall": 3.0, "broker": 3.0}, 6000, 6000),
        ],
        "memory_mb": {"at rest": {"broker": 20.0, "postgres": 100.0, "intake": 40.0}},
        "engine_per_s": engine,
    }


def _row(text: str, starts: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {starts}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_each_target_is_the_median_of_the_runs_with_its_verdict():
    runs = [
        _run("2026-12-03T08:46:50", 400, 1600, 4000, 8000, 1.0),
        _run("2026-12-03T08:52:00", 900, 1500, 500, 21000, 0.5),
        _run("2026-12-03T08:58:00", 1000, 1800, 510, 22000, 0.4),
    ]
    text = table(runs)
    saturation = _row(text, "saturation")
    assert saturation[1] == "400/s vs 1,600/s = 0.25 ×"
    assert saturation[-2:] == ["0.56 ×", "**met**"]  # the middle run, 1,000 / 1,800: the median, not the mean
    p99_500 = _row(text, "p99 at 500/s")
    assert p99_500[-2:] == ["1.96 ×", "**met**"]  # 510 / 260
    assert _row(text, "p99 at 100/s")[-2:] == ["1.20 ×", "**met**"]
    assert _row(text, "p99 at 100/s")[1] == "300 vs 250 ms = 1.2 ×"
    cpu = _row(text, "CPU per settled claim")
    assert cpu[1] == "2.00 ms (the chain 0.50)"  # the bench's own CPU and other processes' are not counted
    assert cpu[-1] == "**met**"  # median 1.00 ms
    assert _row(text, "whole system at rest")[-2:] == ["160 MB", "**met**"]
    assert _row(text, "pure engine")[-2:] == ["21,000/s", "**met**"]


def test_a_missed_target_reads_missed():
    runs = [_run("2026-12-03T08:46:50", 400, 1600, 4000, 8000, 1.5)] * 3
    text = table(runs)
    assert _row(text, "saturation")[-1] == "missed"
    assert _row(text, "p99 at 500/s")[-1] == "missed"
    assert _row(text, "p99 at 500/s")[1] == "4,000 vs 260 ms = 15.4 × (falls behind: 400/s settled)"
    assert _row(text, "CPU per settled claim")[-2:] == ["3.00 ms", "missed"]
    assert _row(text, "pure engine")[-1] == "missed"


def test_a_run_without_a_figure_shows_a_dash_and_the_median_is_of_the_others():
    with_engine, without = (
        _run("2026-12-03T08:46:50", 400, 1600, 4000, 8000, 1.0),
        _run("2026-12-03T09:00:00", 400, 1600, 4000, None, 1.0),
    )
    assert _row(table([with_engine, without]), "pure engine")[1:] == ["8,000/s", "—", "8,000/s", "missed"]


def test_the_default_runs_are_the_newest_unlabelled_ones(tmp_path: Path):
    names = [
        "pipeline-aiokafka-2026-11-22.json",
        "pipeline-aiokafka-2026-12-03T0849.json",
        "pipeline-aiokafka-2026-12-03T0856.json",
        "pipeline-aiokafka-2026-12-03T0903.json",
        "pipeline-aiokafka-grouped-ledger2-2026-12-03T0910.json",
        "pipeline-aiokafka-8partitions-2026-12-03T0917.json",
        "pipeline-faust-2026-12-03T0920.json",
    ]
    for name in names:
        (tmp_path / name).write_text("{}")
    assert [p.name for p in newest_default_runs(3, tmp_path)] == names[1:4]
