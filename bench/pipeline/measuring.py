"""Measuring a chain: offering claims at a rate, the moment each comes out of its last topic, and
per phase the latency percentiles, the throughput and the CPU each process spent."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

from aiokafka import AIOKafkaProducer

from runtime.scrape import Samples, difference, quantile, stages, total
from streams.admin import partitions_of
from streams.reader import read_records

from .cpu import ProcessCpu
from .stuck import described

Message = tuple[str, bytes, bytes]  # claim_id, key, value
Plan = list[tuple[str, float | None, list[Message]]]  # (phase name, rate or None: saturation, messages)
Scrape = Callable[[], Awaitable[Samples]]  # every worker process's /metrics, summed (runtime.scrape.scrape_all)
Diagnose = Callable[[], Awaitable[list[dict]]]  # where unsettled work waits (stuck.waiting_work)
_CLAIM_ID = re.compile(rb'"claim_id":"([^"]*)"')


def claim_id_of(value: bytes | None) -> str | None:
    """The first "claim_id" of a record's JSON value, without decoding the record."""
    match = _CLAIM_ID.search(value or b"")
    return match.group(1).decode() if match is not None else None


def phase_ids(plan: Plan) -> list[tuple[str, list[str]]]:
    return [(name, [c for c, _, _ in messages]) for name, _, messages in plan]


def percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Arrivals:
    """Reads a topic from its beginning for the whole run; the first arrival time of each claim_id.

    No consumer group, nothing committed; the topic's end offsets are never trusted
    (BROKER-NOTES.md): every record is read (streams.reader) and matched by claim_id.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.at: dict[str, float] = {}
        self._task: asyncio.Task | None = None
        self._new = asyncio.Event()

    async def start(self) -> None:
        await self._wait_for_topic()
        self._task = asyncio.ensure_future(self._run())

    async def _wait_for_topic(self, tries: int = 100) -> None:
        """Until the broker knows the topic (just created, it may take a moment); LookupError after ``tries``."""
        for attempt in range(tries):
            try:
                await partitions_of(self.bootstrap, self.topic)
                return
            except LookupError:
                if attempt + 1 == tries:
                    raise
                await asyncio.sleep(0.1)

    async def _run(self) -> None:
        async for record in read_records(self.bootstrap, self.topic, follow=True):
            claim_id = claim_id_of(record.value)
            if claim_id is not None and claim_id not in self.at:
                self.at[claim_id] = time.perf_counter()
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


async def offer(
    producer: AIOKafkaProducer, topic: str, messages: list[Message], rate: float | None, sent: dict[str, float]
) -> float:
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


class Offering:
    """A producer and an Arrivals reader of the sink, started together (``async with``)."""

    def __init__(self, bootstrap: str, sink: str, **producer: object) -> None:
        self.arrivals = Arrivals(bootstrap, sink)
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **producer)

    async def __aenter__(self) -> Offering:
        await self.arrivals.start()
        try:
            await self.producer.start()
        except BaseException:
            await self.arrivals.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()
        await self.arrivals.stop()


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
    stages: dict = field(default_factory=dict)  # from the workers' own metrics over the phase (stage_figures)
    waiting: list[dict] = field(default_factory=list)  # when claims were not settled: where work waits (stuck.py)


def _phase(
    name: str,
    rate: float | None,
    messages: list[Message],
    sent: dict[str, float],
    arrivals: dict[str, float],
    publish_seconds: float,
) -> Phase:
    latencies = sorted((arrivals[c] - sent[c]) * 1000 for c, _, _ in messages if c in arrivals)
    settled = len(latencies)
    first = min(sent[c] for c, _, _ in messages)
    last = max((arrivals[c] for c, _, _ in messages if c in arrivals), default=None)
    return Phase(
        name=name,
        offered_per_s=rate,
        claims=len(messages),
        settled=settled,
        publish_seconds=round(publish_seconds, 3),
        p50_ms=round(percentile(latencies, 0.50), 1) if latencies else None,
        p99_ms=round(percentile(latencies, 0.99), 1) if latencies else None,
        max_ms=round(latencies[-1], 1) if latencies else None,
        throughput_per_s=round(settled / (last - first), 1) if last and last > first else None,
    )


async def measure(
    label: str,
    bootstrap: str,
    source: str,
    sink: str,
    plan: Plan,
    drain_timeout: float,
    cpu: ProcessCpu,
    scrape: Scrape | None = None,
    diagnose: Diagnose | None = None,
) -> list[Phase]:
    """Run the phases of ``plan`` one after the other on a running chain; one Phase each (with its
    stages' figures from the workers' metrics when ``scrape`` reads them, and where the work of
    claims not settled waits when ``diagnose`` finds it)."""
    sent: dict[str, float] = {}
    async with Offering(bootstrap, sink, max_request_size=4 << 20) as offering:
        return [
            await _measure_phase(
                label, offering, source, name, rate, messages, sent, drain_timeout, cpu, scrape, diagnose
            )
            for name, rate, messages in plan
        ]


async def _measure_phase(
    label: str,
    offering: Offering,
    source: str,
    name: str,
    rate: float | None,
    messages: list[Message],
    sent: dict[str, float],
    drain_timeout: float,
    cpu: ProcessCpu,
    scrape: Scrape | None,
    diagnose: Diagnose | None = None,
) -> Phase:
    """Offer one phase's messages, wait for them to come out, print and return the Phase."""
    metrics_before = await scrape() if scrape else None
    before = cpu.snapshot()
    began = time.perf_counter()
    took = await offer(offering.producer, source, messages, rate, sent)
    missing = await offering.arrivals.wait_for([c for c, _, _ in messages], drain_timeout)
    phase = _phase(name, rate, messages, sent, offering.arrivals.at, took)
    phase.cpu_seconds = ProcessCpu.delta(before, cpu.snapshot())
    phase.cpu_seconds["wall"] = round(time.perf_counter() - began, 2)
    if scrape:
        await asyncio.sleep(1.0)  # the ledger's outbox sends after its batch: let the last ones count
        phase.stages = stage_figures(difference(await scrape(), metrics_before))
    note = f", {missing} NOT SETTLED within {drain_timeout:.0f}s" if missing else ""
    resent = sum(w["resent"] for w in phase.stages.get("workers", {}).values())
    if resent:  # a message lost on the way (docs/operations.md, Faults)
        note += f", {resent} sent again by intake after ONESTOP_RESEND_AFTER"
    read_again = sum(w.get("read_again", 0) for w in phase.stages.get("workers", {}).values())
    if read_again:  # the broker handed a later batch before an earlier one was stored: read again, nothing lost
        note += f", {read_again} partitions read again at a gap"
    alarms = sum(w.get("alarms", 0) for w in phase.stages.get("workers", {}).values())
    if alarms:  # a claim in flight the ledger refused: never in an honest run
        note += f", {alarms} REFUSED BY THE LEDGER (alarms)"
    print(
        f"  {label:9} {name:>14}: {phase.settled}/{phase.claims} in "
        f"{time.perf_counter() - began:5.1f}s  p50 {phase.p50_ms} p99 {phase.p99_ms} max {phase.max_ms} ms"
        f"  {phase.throughput_per_s}/s{note}",
        flush=True,
    )
    if missing and diagnose:
        phase.waiting = await diagnose()
        print(
            "\n".join(
                [
                    "    where work waits (committed offset of each worker's group against the end of its source):",
                    *described(phase.waiting),
                ]
                if phase.waiting
                else ["    every group has committed all of its source: the work waits in no topic"]
            ),
            flush=True,
        )
    return phase


def stage_figures(grew: Samples) -> dict:
    """A phase's figures from the workers' own metrics: per worker, events, batches, mean batch,
    handling ms per event and the wait before it (p50 / p99, as fine as the buckets); the ledger's
    publish→settlement p50 / p99 — the same latency the bench measures from outside."""

    def ms(q: float) -> float | None:
        value = quantile(grew, "onestop_settlement_seconds", q)
        return round(1000 * value, 1) if value is not None else None

    return {
        "workers": {name: {**asdict(stage), "mean_batch": stage.mean_batch} for name, stage in stages(grew).items()},
        "settlement_p50_ms": ms(0.5),
        "settlement_p99_ms": ms(0.99),
        "settled": int(total(grew, "onestop_settlement_seconds_count")),
    }


async def idle_cpu(cpu: ProcessCpu, seconds: float) -> dict[str, float]:
    """CPU seconds per second of each process while nothing is offered (what the system costs at rest)."""
    before = cpu.snapshot()
    await asyncio.sleep(seconds)
    spent = ProcessCpu.delta(before, cpu.snapshot())
    return {name: round(t / seconds, 3) for name, t in sorted(spent.items(), key=lambda kv: -kv[1])}


async def warm_up(bootstrap: str, source: str, sink: str, messages: list[Message], timeout: float) -> float:
    """Send a few messages and wait until all came out: every process has joined and warmed up."""
    async with Offering(bootstrap, sink) as offering:
        began = time.perf_counter()
        await offer(offering.producer, source, messages, None, {})
        missing = await offering.arrivals.wait_for([c for c, _, _ in messages], timeout)
        if missing:
            raise TimeoutError(
                f"{missing} of {len(messages)} warm-up messages did not come out of {sink} in {timeout:.0f}s"
            )
    return time.perf_counter() - began
