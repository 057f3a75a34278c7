"""Each target of issue 11 over several runs of bench.pipeline: every run's figure beside the plain
chain's of the same run, the median of the runs, and whether the median meets the target — the
table the README's Benchmarks section shows.

    .venv/bin/python -m bench.pipeline.median [FILE ...]

Without files: the three newest default runs, ``bench/results/pipeline-aiokafka-<date>.json``
(runs with a label or another layout in their name are left out: they answer other questions).
"""

from __future__ import annotations

import argparse
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from .report import TARGET_CPU_MS, TARGET_ENGINE, TARGET_MEMORY_MB, TARGET_P99, TARGET_THROUGHPUT_RATIO, _cpu_per_claim

RESULTS = Path(__file__).resolve().parents[1] / "results"
#: settled at less than this share of the offered rate: the pipeline could not carry the load
FALLS_BEHIND = 0.9
DEFAULT_RUN = re.compile(r"pipeline-aiokafka-\d{4}-\d{2}-\d{2}(T\d{4})?\.json")


@dataclass(frozen=True)
class Target:
    name: str
    figure: Callable[[dict], tuple[float, str] | None]  # a run's value and how it reads, None: not measured
    met: Callable[[float], bool]
    unit: str = ""


def _phase(result: dict, kind: str, rate: int | None) -> dict | None:
    return next((p for p in result[kind] if p["offered_per_s"] == rate), None)


def _throughput(result: dict) -> tuple[float, str] | None:
    p, b = _phase(result, "pipeline", None), _phase(result, "baseline", None)
    if not (p and b and p["throughput_per_s"] and b["throughput_per_s"]):
        return None
    ratio = p["throughput_per_s"] / b["throughput_per_s"]
    return ratio, f"{p['throughput_per_s']:,.0f}/s vs {b['throughput_per_s']:,.0f}/s = {ratio:.2f} ×"


def _p99_at(rate: int) -> Callable[[dict], tuple[float, str] | None]:
    def figure(result: dict) -> tuple[float, str] | None:
        p, b = _phase(result, "pipeline", rate), _phase(result, "baseline", rate)
        if not (p and b and p["p99_ms"] and b["p99_ms"]):
            return None
        ratio = p["p99_ms"] / b["p99_ms"]
        shown = f"{p['p99_ms']:,.0f} vs {b['p99_ms']:,.0f} ms = {ratio:.1f} ×"
        if p["settled"] < p["claims"]:
            shown += f" ({p['claims'] - p['settled']} unsettled)"
        elif p["throughput_per_s"] < FALLS_BEHIND * rate:  # the load is above what it can carry: a queue grows
            shown += f" (falls behind: {p['throughput_per_s']:,.0f}/s settled)"
        return ratio, shown

    return figure


def _cpu(result: dict) -> tuple[float, str] | None:
    ours = _cpu_per_claim(_phase(result, "pipeline", None) or {})
    chain = _cpu_per_claim(_phase(result, "baseline", None) or {})
    if ours is None:
        return None
    return ours, f"{ours:.2f} ms" + (f" (the chain {chain:.2f})" if chain is not None else "")


def _memory(result: dict) -> tuple[float, str] | None:
    rest = (result.get("memory_mb") or {}).get("at rest")
    if not rest:
        return None
    return sum(rest.values()), f"{sum(rest.values()):,.0f} MB"


def _engine(result: dict) -> tuple[float, str] | None:
    rate = result.get("engine_per_s")
    return (rate, f"{rate:,.0f}/s") if rate else None


TARGETS = [
    Target(
        f"saturation ≥ {TARGET_THROUGHPUT_RATIO} × the plain chain",
        _throughput,
        lambda r: r >= TARGET_THROUGHPUT_RATIO,
        " ×",
    ),
    *(
        Target(f"p99 at {rate}/s ≤ {times:g} × the chain's", _p99_at(rate), lambda r, t=times: r <= t, " ×")
        for rate, times in TARGET_P99
    ),
    Target(f"CPU per settled claim ≤ {TARGET_CPU_MS} ms", _cpu, lambda ms: ms <= TARGET_CPU_MS, " ms"),
    Target(
        f"whole system at rest ≤ {TARGET_MEMORY_MB:,.0f} MB (PSS)", _memory, lambda mb: mb <= TARGET_MEMORY_MB, " MB"
    ),
    Target(f"pure engine ≥ {TARGET_ENGINE:,}/s on one core", _engine, lambda r: r >= TARGET_ENGINE, "/s"),
]


def newest_default_runs(count: int = 3, results: Path = RESULTS) -> list[Path]:
    runs = sorted(path for path in results.glob("pipeline-aiokafka-*.json") if DEFAULT_RUN.fullmatch(path.name))
    return runs[-count:]


def table(results: list[dict]) -> str:
    """A Markdown table: a row per target, a column per run, then the median and its verdict."""
    dates = [r["date"][:16].replace("T", " ") for r in results]
    lines = ["| target | " + " | ".join(dates) + " | median | met? |", "| --- |" + " --- |" * (len(results) + 2)]
    for target in TARGETS:
        figures = [target.figure(r) for r in results]
        values = [f[0] for f in figures if f is not None]
        cells = [f[1] if f is not None else "—" for f in figures]
        if values:
            median = statistics.median(values)
            verdict = "**met**" if target.met(median) else "missed"
            shown = f"{median:,.2f}{target.unit}" if median < 100 else f"{median:,.0f}{target.unit}"
        else:
            verdict, shown = "not measured", "—"
        lines.append(f"| {target.name} | " + " | ".join(cells) + f" | {shown} | {verdict} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="result files (default: the three newest default runs)")
    args = parser.parse_args()
    files = args.files or newest_default_runs()
    if not files:
        raise SystemExit(f"no results to read: run .venv/bin/python -m bench.pipeline first (looked in {RESULTS})")
    results = [orjson.loads(path.read_bytes()) for path in files]
    print("runs: " + ", ".join(path.name for path in files))
    print(table(results))


if __name__ == "__main__":
    main()
