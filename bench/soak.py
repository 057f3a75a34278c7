"""Memory over a long run: does anything grow with the claims it settled?

    .venv/bin/python -m bench.soak [--claims 100000] [--rate 300] [--every 10]

Fresh embedded parts, the workers in their default layout, the people's grants recorded, a warm-up;
then the claims offered at a steady rate, below saturation, while every ``--every`` seconds the
resident memory of each part is sampled (PSS: a page shared by several processes — PostgreSQL's
shared buffers — counted once, not once per process); then at rest again. Printed per part: at rest
before, the peak, at rest after, and the growth per 10,000 claims fitted over the second half of
the run (after the caches have filled). Results in bench/results/soak-<date>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson

from bench.parts import start_embedded
from bench.pipeline.cpu import ProcessCpu
from bench.pipeline.measuring import Offering, offer, warm_up
from bench.pipeline.provenance import machine, source_state, versions
from bench.pipeline.run import grant_eligibility
from bench.pipeline.workload import claims_as_messages, workload
from runtime.parts import initialise
from runtime.supervisor import WorkerProcesses
from store.postgres import PostgresStore
from streams.topics import DISCHARGED, SETTLEMENTS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


async def run(args: argparse.Namespace) -> dict:
    work = workload([], 0, args.claims, 0, args.seed)
    messages = claims_as_messages(work.saturation)
    temporary = Path(tempfile.mkdtemp(prefix="onestop-soak-"))
    parts = workers = None
    try:
        parts, found = start_embedded(temporary / "parts")
        await initialise(found)
        workers = WorkerProcesses(
            found,
            temporary / "logs",
            extra_env={"ONESTOP_HOME": str(temporary / "home"), "ONESTOP_ACCEPT_UNSIGNED": "1"},
        )
        workers.start()
        store = await PostgresStore.open(found.database, migrate=False)
        try:
            await grant_eligibility(found, work.population, store, workers, 300)
        finally:
            await store.close()
        await warm_up(found.kafka, DISCHARGED, SETTLEMENTS, claims_as_messages(work.warm), 120)
        cpu = ProcessCpu(
            {"broker": [parts.broker.pid], **{n: [p.pid] for n, p in workers.processes.items()}},
            parts.postgres.data_dir,
        )
        await asyncio.sleep(args.rest)
        samples = [(0, cpu.resident_mb(proportional=True))]
        print(f"at rest: {_total(samples[0][1]):,.0f} MB", flush=True)
        settled = await _offer_and_sample(found.kafka, messages, args, cpu, samples)
        await asyncio.sleep(args.rest)
        after = cpu.resident_mb(proportional=True)
        if workers.crashed():
            raise RuntimeError(f"workers died during the run: {workers.crashed()}")
        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": versions(),
            "source": source_state(ROOT),
            "settings": {"claims": args.claims, "rate": args.rate, "every": args.every},
            "settled": settled,
            "samples": samples,
            "after": after,
        }
    finally:
        if workers is not None:
            workers.stop()
        if parts is not None:
            parts.stop()
        shutil.rmtree(temporary, ignore_errors=True)


async def _offer_and_sample(kafka: str, messages: list, args, cpu: ProcessCpu, samples: list) -> int:
    """Offer every claim at the rate, sampling memory as they settle; how many settled."""
    async with Offering(kafka, SETTLEMENTS) as offering:
        sending = asyncio.ensure_future(offer(offering.producer, DISCHARGED, messages, args.rate, {}))
        ids = [c for c, _, _ in messages]
        began = time.perf_counter()
        while True:
            await asyncio.sleep(args.every)
            done = sum(1 for c in ids if c in offering.arrivals.at)
            samples.append((done, cpu.resident_mb(proportional=True)))
            print(
                f"  {time.perf_counter() - began:6.0f}s {done:7,} settled, {_total(samples[-1][1]):,.0f} MB", flush=True
            )
            if done == len(ids) or (sending.done() and time.perf_counter() - began > len(ids) / args.rate + args.drain):
                break
        await sending
        return done


def _total(sample: dict[str, float]) -> float:
    return sum(sample.values())


def report(result: dict) -> str:
    samples, after = result["samples"], result["after"]
    parts = sorted(after, key=lambda name: -after[name])
    half = [(n, s) for n, s in samples if n >= result["settled"] / 2]
    lines = [
        f"onestop soak — {result['date']}: {result['settled']:,} of {result['settings']['claims']:,} claims settled at "
        f"{result['settings']['rate']}/s; resident memory (PSS) per part, MB",
        f"{'part':<70} {'at rest':>8} {'peak':>8} {'after':>8} {'per 10k claims, 2nd half':>25}",
    ]
    for name in [*parts, "whole system"]:
        series = [(n, _total(s) if name == "whole system" else s.get(name, 0.0)) for n, s in samples]
        end = _total(after) if name == "whole system" else after.get(name, 0.0)
        slope = _slope([(n, v) for n, v in series if n >= result["settled"] / 2]) if len(half) >= 3 else None
        lines.append(
            f"{name:<70} {series[0][1]:8,.0f} {max(v for _, v in series):8,.0f} {end:8,.0f} "
            f"{'—' if slope is None else f'{10_000 * slope:+,.1f}':>25}"
        )
    return "\n".join(lines)


def _slope(points: list[tuple[int, float]]) -> float:
    """MB per claim, least squares."""
    if len({n for n, _ in points}) < 2:
        return 0.0
    fit = statistics.linear_regression([n for n, _ in points], [v for _, v in points])
    return fit.slope


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=300.0, help="claims offered per second (below saturation)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between memory samples")
    parser.add_argument("--rest", type=float, default=15.0, help="seconds at rest before and after")
    parser.add_argument(
        "--drain", type=float, default=300.0, help="seconds to wait for the last claims after publishing"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    text = report(result)
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"soak-{datetime.now().strftime('%Y-%m-%d')}.json"
    out.write_bytes(orjson.dumps({**result, "report": text.splitlines()}, option=orjson.OPT_INDENT_2))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
