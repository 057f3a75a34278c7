"""One benchmark run: fresh embedded parts in a temporary directory; the baseline chain measured
first, alone on the machine, then the pipeline's workers, then the busiest ones profiled."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench import baseline
from bench.parts import start_embedded
from runtime.endpoints import Endpoints
from runtime.parts import Parts, initialise
from runtime.scrape import scrape_all
from runtime.supervisor import WorkerProcesses
from schemas.events import EligibilityChange
from schemas.settings import settings
from store.interface import Store
from store.postgres import PostgresStore
from streams.publisher import publish
from streams.topics import DISCHARGED, ELIGIBILITY, SETTLEMENTS

from .cpu import ProcessCpu, wait_until_quiet
from .hops import hop_breakdown
from .measuring import Phase, idle_cpu, measure, phase_ids, warm_up
from .profiling import profile_at_saturation, py_spy
from .provenance import machine, source_state, versions
from .stuck import waiting_work
from .workload import Workload, claims_as_messages, grants_for, padded_as_messages, plan, workload

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


@dataclass
class _Bench:
    """What every step of a run works with; ``result`` is filled step by step."""

    args: argparse.Namespace
    work: Workload
    found: Endpoints
    temporary: Path
    postgres_dir: Path | None
    broker: dict[str, list[int]]  # the broker's process, for ProcessCpu
    result: dict
    stamp: str

    @property
    def logs(self) -> Path:
        return self.temporary / "logs"


async def run(args: argparse.Namespace) -> dict:
    stamp = datetime.now().strftime("%Y-%m-%d")
    RESULTS.mkdir(parents=True, exist_ok=True)
    rates = [int(r) for r in args.rates.split(",") if r.strip()]
    work = _generate(args, rates)
    result = _header(args, rates, work)
    result["engine_per_s"], result["engine_compiled"] = engine_rate(args.engine_claims)
    temporary = Path(tempfile.mkdtemp(prefix="onestop-bench-"))
    parts: Parts | None = None
    workers: WorkerProcesses | None = None
    try:
        parts, found = start_embedded(temporary / "parts")
        print(f"broker {found.kafka}, PostgreSQL in {temporary / 'parts' / 'pgdata'}", flush=True)
        await initialise(found)
        bench = _Bench(args, work, found, temporary, parts.postgres.data_dir, _broker_process(parts), result, stamp)
        await _measure_baseline(bench)
        if args.baseline_only:
            return result
        layout = {} if args.processes is None else {"ONESTOP_PROCESSES": args.processes}
        workers = WorkerProcesses(
            found,
            bench.logs,
            extra_env={
                "ONESTOP_HOME": str(temporary / "home"),
                "ONESTOP_DRIVER": args.driver,
                "ONESTOP_ACCEPT_UNSIGNED": "1",
                **layout,
            },
        )
        workers.start()
        await _measure_pipeline(bench, workers)
        return result
    finally:
        if workers is not None:
            workers.stop()
        if parts is not None:
            parts.stop()
        _clean_up(temporary, args.keep)


def _generate(args: argparse.Namespace, rates: list[int]) -> Workload:
    print("generating claims …", flush=True)
    # The profiling pool is generated even when no profile is taken: the generator deals its people
    # out by how many claims are wanted, so without it a run would measure other people and claims.
    work = workload(rates, args.seconds, args.claims, args.profile_pool, args.seed, args.hops)
    print(
        f"  {len(work.population)} people, routes of {work.hops_mean:.2f} processes on average → baseline of "
        f"{work.hops} hops; mean ClaimInFlight {work.message_size} bytes",
        flush=True,
    )
    return work


def _header(args: argparse.Namespace, rates: list[int], work: Workload) -> dict:
    """The result's first part: when, on what, with which settings."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "source": source_state(ROOT),
        "settings": {
            "claims": args.claims,
            "rates": rates,
            "seconds": args.seconds,
            "partitions": settings.partitions,
            "people": len(work.population),
            "hops_mean": round(work.hops_mean, 3),
            "hops": work.hops,
            "message_bytes": work.message_size,
            "drain_timeout": args.drain_timeout,
            "driver": args.driver,
            "processes": args.processes if args.processes is not None else str(settings.processes),
        },
    }


def _broker_process(parts: Parts) -> dict[str, list[int]]:
    return {"broker": [parts.broker.pid]} if parts.broker is not None and parts.broker.pid else {}


def _clean_up(temporary: Path, keep: bool) -> None:
    if not keep:
        shutil.rmtree(temporary, ignore_errors=True)
    else:
        print(f"kept {temporary}")


# --- the baseline -----------------------------------------------------------------------------


async def _measure_baseline(bench: _Bench) -> None:
    """The plain chain first, alone on the machine: its phases and its hops."""
    args, work, kafka = bench.args, bench.work, bench.found.kafka
    chain = baseline.Chain(kafka, work.hops, bench.logs)
    await chain.create_topics(settings.partitions)
    chain.start()
    try:
        took = await warm_up(
            kafka, chain.source, chain.sink, padded_as_messages(work.warm, work.message_size), args.start_timeout
        )
        print(f"baseline: {work.hops} hops up and warm in {took:.1f}s", flush=True)
        cpu = ProcessCpu({**bench.broker, **{name: [pid] for name, pid in chain.pids.items()}}, bench.postgres_dir)
        bench.result["idle_cores"] = {"baseline": await idle_cpu(cpu, args.idle_seconds)}
        bench.result["foreign_load_before_baseline"] = wait_until_quiet(args.quiet, args.quiet_wait, bench.postgres_dir)
        phases = plan(work, args.seconds, lambda c: padded_as_messages(c, work.message_size))
        base = await measure("baseline", kafka, chain.source, chain.sink, phases, args.drain_timeout, cpu)
        if chain.crashed():
            raise RuntimeError(f"baseline hops {chain.crashed()} died; logs in {bench.logs}")
        ids = phase_ids(phases)
        base_hops = await hop_breakdown(
            kafka,
            {c: chain.topics for _, claim_ids in ids for c in claim_ids},
            {baseline.TOPIC.format(i - 1): f"hop{i}" for i in range(1, work.hops + 1)},
            ids,
        )
    finally:
        chain.stop()
    await chain.delete_topics()
    bench.result.update({"baseline": [asdict(p) for p in base], "hops": {"baseline": base_hops}})


# --- the pipeline -----------------------------------------------------------------------------


async def _measure_pipeline(bench: _Bench, workers: WorkerProcesses) -> None:
    """The workers: eligibility granted, warmed up, measured phase by phase, hop by hop, profiled."""
    args, work, kafka = bench.args, bench.work, bench.found.kafka
    store = await PostgresStore.open(bench.found.database, migrate=False)
    try:
        await grant_eligibility(bench.found, work.population, store, workers, args.start_timeout)
        took = await warm_up(kafka, DISCHARGED, SETTLEMENTS, claims_as_messages(work.warm), args.start_timeout)
        print(f"pipeline: {len(work.warm)} warm-up claims (every route) settled in {took:.1f}s", flush=True)
        cpu = ProcessCpu({**bench.broker, **{n: [p.pid] for n, p in workers.processes.items()}}, bench.postgres_dir)
        bench.result["foreign_load_before_pipeline"] = wait_until_quiet(args.quiet, args.quiet_wait, bench.postgres_dir)
        bench.result["idle_cores"]["pipeline"] = await idle_cpu(cpu, args.idle_seconds)
        bench.result["memory_mb"] = {"at rest": cpu.resident_mb(proportional=True)}
        phases = plan(work, args.seconds, claims_as_messages)
        pipe = await measure(
            "pipeline",
            kafka,
            DISCHARGED,
            SETTLEMENTS,
            phases,
            args.drain_timeout,
            cpu,
            scrape=lambda: asyncio.to_thread(scrape_all, list(workers.metrics_urls().values())),
            diagnose=lambda: waiting_work(kafka),
        )
        bench.result["memory_mb"]["after the run"] = cpu.resident_mb(proportional=True)
        profile = await _profile(bench, workers, pipe)
        ledger_problems = await store.check_ledger()
        counts = await store.counts()
        queue = _queue_summary(await store.queued()) if counts.get("queued") else {}
    finally:
        await store.close()
    bench.result.update(
        {
            "pipeline": [asdict(p) for p in pipe],
            "profile": profile,
            "checks": {**_checks(bench, workers, ledger_problems, counts), "still_queued": queue},
        }
    )


def engine_rate(claims: int) -> tuple[float | None, bool | None]:
    """The pure engine's claims per second on one core, measured in this run before any part
    starts: ``bench.engine`` in a process of its own. (Measured inside this process after the
    pipeline, it ran at 0.6 × its own figure: the parts still polling on the other core, and this
    process's collector walking the whole run's objects.)"""
    if claims <= 0:
        return None, None
    done = subprocess.run(
        [sys.executable, "-m", "bench.engine", "--claims", str(claims), "--json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    measured = json.loads(done.stdout.splitlines()[-1])
    figure, compiled = measured["settle_per_s"][0], measured["compiled"]
    print(
        f"pure engine: {figure:,.0f} claims/s on one core ({claims} claims, a process of its own, the rules "
        f"{'compiled' if compiled else 'from their source'})",
        flush=True,
    )
    return figure, compiled


async def grant_eligibility(
    found: Endpoints, population: list, store: Store, workers: WorkerProcesses, timeout: float
) -> None:
    """Publish every person's grants and wait until the eligibility worker recorded them."""
    began = time.perf_counter()
    grants = grants_for(population)
    await publish(found.kafka, ELIGIBILITY, grants, EligibilityChange)
    while (await store.counts())["identity_events"] < len(grants):
        if time.perf_counter() - began > timeout or workers.crashed():
            raise TimeoutError(f"eligibility not recorded in time (crashed: {workers.crashed()})")
        await asyncio.sleep(0.2)
    print(
        f"pipeline: {len(workers.processes)} worker processes up, {len(grants)} grants recorded in "
        f"{time.perf_counter() - began:.1f}s",
        flush=True,
    )


async def _profile(bench: _Bench, workers: WorkerProcesses, pipe: list[Phase]) -> dict:
    """The busiest workers profiled at 1.25 × the saturation throughput (nothing when not asked for)."""
    args, work = bench.args, bench.work
    if args.profile_seconds <= 0:
        return {}
    if py_spy() is None:
        profile = {"_error": "py-spy is not installed (.venv/bin/pip install py-spy): no profile"}
        print(profile["_error"], flush=True)
        return profile
    if not work.profile:
        return {}
    rate = max(50.0, (pipe[-1].throughput_per_s or 100.0) * 1.25)
    count = min(len(work.profile), int(rate * (args.profile_seconds + 3)))
    return await profile_at_saturation(
        bench.found.kafka,
        workers,
        claims_as_messages(work.profile[:count]),
        rate,
        args.profile_seconds,
        args.drain_timeout,
        RESULTS,
        bench.stamp,
        ROOT,
    )


def _queue_summary(items: list) -> dict[str, int]:
    """What the inputs still queued at the end are: a claim not ready has not reached the ledger; one
    ready waits behind an earlier input of its person that has not."""
    return dict(Counter(f"{item.kind}, {'ready' if item.ready else 'not arrived'}" for item in items))


def _checks(bench: _Bench, workers: WorkerProcesses, ledger_problems: list[str], counts: dict[str, int]) -> dict:
    """The ledger's problems, the store's counts, crashed workers and logs with a traceback (their tails printed)."""
    tracebacks = sorted(p.stem for p in bench.logs.glob("*.log") if "Traceback" in p.read_text(errors="replace"))
    for name in tracebacks:
        text = (bench.logs / f"{name}.log").read_text(errors="replace")
        print(f"--- {name}.log (tail) ---\n{text[-1500:]}", flush=True)
    return {
        "ledger_problems": ledger_problems[:20],
        "counts": counts,
        "crashed_workers": workers.crashed(),
        "logs_with_tracebacks": tracebacks,
    }
