"""One run of the chaos input on fresh embedded parts and workers, with or without faults: grants
first, then every discharge event (in slices under faults), until every good claim is settled and
every worker has caught up, or the run stalls; then what the ledger and the topics hold."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from bench.parts import start_embedded
from cli.keys import register_key
from policies.audit import differences, replay_archive
from runtime.parts import Parts, initialise_sync
from runtime.supervisor import WorkerProcesses
from schemas.events import ClaimCancellation, DischargeClaim, EligibilityChange, Rejection, Settlement
from schemas.keys import KeyFile
from store.interface import Store
from store.postgres import PostgresStore
from store.reading import every
from streams.publisher import publish
from streams.reader import read_all
from streams.topics import CANCELLED, DISCHARGED, ELIGIBILITY, ELIGIBILITY_REJECTED, REJECTED, SETTLEMENTS

from .attack import Attack, Keys, signer_of_event
from .attempts import RoleAttempt, copied_flights, forged_flight, presettle_answers, publish_attacks, role_attempts
from .faults import FaultLog, Faults, kill_workers, restart_postgres, restart_system, supervise
from .inputs import ChaosInput
from .watch import Archived, Probe, archived, diagnosis, queued_and_parked, settled_count, wait_drained


@dataclass
class Ledger:
    """What a run leaves in the ledger, in comparable form: what is owed on each claim now (the net
    of its records: its settlement less every adjustment and reversal) and the year totals. The
    records themselves depend on the order the inputs met (an adjustment exists only if a change
    came after its claim); what they add up to does not. Claims by their key (a claim is its
    hospital's and its id, schemas/ids.py)."""

    payments: dict[tuple[str, str], Decimal]  # (claim key, payer) -> net amount
    settlements: dict[str, tuple[Decimal, Decimal, Decimal]]  # claim key -> net (medfee, fund, personal)
    totals: dict[tuple[str, int, str], tuple]  # (psn_no, year, account) -> (base, paid, by day, visits)


@dataclass
class RunResult:
    name: str
    ledger: Ledger
    store_settlements: list[Settlement]
    settlements_per_claim: Counter
    topic_settlements: list[Settlement]
    rejected: list[Rejection]
    eligibility_rejected: list[Rejection]
    ledger_problems: list[str]
    audit: list[str]  # how the records differ from what a replay of the run's archived inputs makes
    counts: dict[str, int]
    log_dir: Path
    seconds: float
    settle_seconds: float
    faults: FaultLog | None = None
    lag: dict[str, int] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)  # what did not finish in the time allowed, and why
    roles: list[RoleAttempt] = field(default_factory=list)  # an attacked run: what each worker's role tried
    answers: int = 0  # records on the pre-settlement reply topics (an attacked run sends no rightful request)
    archived: Archived | None = None  # the archive, the queues and what is parked, at the end
    sent: set[bytes] = field(default_factory=set)  # every event the senders sent (attacks aside)

    @property
    def topics_lost(self) -> bool:
        """Whether the whole system was restarted, and the topics' records before it lost with the broker."""
        return self.faults is not None and bool(self.faults.restarts)


def settled_in(run: RunResult) -> str:
    if run.unfinished:
        return "not every good claim settled"
    return (
        f"{len(run.settlements_per_claim)} claims settled, every good one {run.settle_seconds:.1f}s "
        "after the first was published"
    )


def run_pipeline(
    made: ChaosInput,
    work: Path,
    faults: Faults | None = None,
    *,
    seed: int = 7,
    timeout: float = 600.0,
    say: Callable[[str], None] = lambda _: None,
    env: dict[str, str] | None = None,
    stall: float = 90.0,
    keys: Keys | None = None,
    attacks: list[Attack] | None = None,
) -> RunResult:
    """One run on fresh embedded parts and workers in ``work``: publish people, then every event
    (in slices, under ``faults`` if given), wait until every good claim is settled and the workers
    have consumed everything, then dump the ledger and the topics, and stop everything.

    With ``keys`` the workers verify signatures (as in production) and every good event is signed
    by the key entitled to it; ``attacks`` are published among them. Without, they accept unsigned
    events (the development switch)."""
    began = time.monotonic()
    parts, found = start_embedded(work / "parts")
    trust = {} if keys is not None else {"ONESTOP_ACCEPT_UNSIGNED": "1"}
    workers = WorkerProcesses(
        found, work / "logs", extra_env={"ONESTOP_HOME": str(work / "home"), **trust, **(env or {})}
    )
    try:
        initialise_sync(found)
        if keys is not None:
            asyncio.run(_register(found.database, keys))
        workers.start()
        say(f"  parts and {len(workers.processes)} workers started in {time.monotonic() - began:.1f}s")
        live = _Live(made, parts, workers, faults, random.Random(seed * 31 + 5), say, began, stall, keys, attacks or [])
        return asyncio.run(_run(live, timeout))
    finally:
        workers.stop()
        parts.stop()


@dataclass
class _Live:
    """A run while it runs: its input, parts, workers and faults, and how far it is."""

    made: ChaosInput
    parts: Parts
    workers: WorkerProcesses
    faults: Faults | None
    rng: random.Random
    say: Callable[[str], None]
    began: float
    stall: float
    keys: Keys | None = None
    attacks: list[Attack] = field(default_factory=list)
    deadline: float = math.inf
    started: float = math.nan  # when the first discharge event was published
    settled: int = 0  # good claims settled so far
    settle_seconds: float = math.nan
    log: FaultLog | None = None
    unfinished: list[str] = field(default_factory=list)
    #: held by whatever stops a part of the system (a kill, PostgreSQL's or the whole system's restart)
    system: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: held by the publisher while it sends and by the whole system's restart: nothing is sent into a
    #: broker being stopped (but the senders go on sending while a worker is down)
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: what the senders have sent so far, (topic, events, schema): sent again after a restart lost the topics
    sent: list[tuple[str, list[bytes], type]] = field(default_factory=list)

    @property
    def kafka(self) -> str:
        return self.workers.found.kafka

    @property
    def database(self) -> str:
        return self.workers.found.database

    @property
    def claim_keys(self) -> list[str]:
        return list(self.made.good)

    def settled_share(self) -> float:
        return self.settled / max(1, len(self.made.good))

    def signer(self) -> Callable[[bytes], KeyFile | None] | None:
        """Who signs each good event: the key entitled to it (any hospital's for bytes that name no
        signer: they are refused for what they are, not for the signature)."""
        keys = self.keys
        if keys is None:
            return None
        fallback = next(key for signer, key in keys.by_signer.items() if signer.startswith("H"))
        return lambda raw: keys.by_signer.get(signer_of_event(raw) or "", fallback)


#: the run's keys are valid from here: before its first event's own time (grants recorded from 2017 on)
KEYS_FROM = datetime(2000, 1, 1, tzinfo=timezone.utc)


async def _register(database: str, keys: Keys) -> None:
    """Every signer's public key, registered as an administrator does (challenge, proof, add) and
    valid from KEYS_FROM; the revoked one revoked an hour ago."""
    now = datetime.now(timezone.utc)
    store = await PostgresStore.open(database, migrate=False)
    try:
        for key in keys.every():
            await register_key(store, key, valid_from=KEYS_FROM)
        if keys.revoked is not None:
            await store.revoke_key(keys.revoked.key_id, now - timedelta(hours=1))
    finally:
        await store.close()


async def _run(live: _Live, timeout: float) -> RunResult:
    live.log = FaultLog() if live.faults is not None else None
    live.deadline = time.monotonic() + timeout
    probe = Probe(live.database)
    try:
        await _record_grants(live)
        lag = await _settle_everything(live, probe)
        return await _result(live, probe, lag)
    finally:
        await probe.close()


async def _record_grants(live: _Live) -> None:
    """Publish the good and malformed grants; wait until the eligibility worker recorded the good ones."""
    made = live.made
    store = await PostgresStore.open(live.database, migrate=False)
    try:
        await _send(live, ELIGIBILITY, made.grants + [b.raw for b in made.bad_grants], EligibilityChange)
        while (await store.counts())["identity_events"] < len(made.grants):
            if time.monotonic() > live.deadline:
                raise TimeoutError("the eligibility worker did not record the grants in time")
            await asyncio.sleep(0.2)
    finally:
        await store.close()  # a new one for the dump: PostgreSQL may restart in between
    live.say(f"  {len(made.grants)} grants recorded at {time.monotonic() - live.began:.1f}s")


async def _settle_everything(live: _Live, probe: Probe) -> dict[str, int]:
    """Publish every discharge event (under the faults), wait until every good claim is settled and
    every worker caught up (or the run stalls); the consumer groups' lag at the end."""
    live.started = time.monotonic()
    stop, done = asyncio.Event(), asyncio.Event()
    tasks, helpers = _start_tasks(live, stop, done)  # the run waits for the tasks, not the helpers
    try:
        await _until_settled(live, probe, tasks)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return await _drain(live, probe)
    finally:
        stop.set()
        done.set()
        await asyncio.gather(*tasks, *helpers, return_exceptions=True)


def _start_tasks(
    live: _Live, stop: asyncio.Event, done: asyncio.Event
) -> tuple[list[asyncio.Task], list[asyncio.Task]]:
    """The publisher first, then under faults the killer and PostgreSQL's restart (the run waits
    for these) and the supervisor of workers that die unexpectedly (stopped by ``done``)."""
    tasks = [asyncio.create_task(_publish_slices(live))]
    faults, log, system = live.faults, live.log, live.system
    if faults is None or log is None:
        return tasks, []
    held: set[str] = set()
    tasks += [
        asyncio.create_task(kill_workers(live.workers, faults, live.rng, log, held, stop, live.started, system)),
        asyncio.create_task(
            restart_postgres(live.parts, faults, live.rng, log, stop, live.started, live.settled_share, system)
        ),
        asyncio.create_task(
            restart_system(
                live.parts,
                live.workers,
                faults,
                log,
                stop,
                live.started,
                live.settled_share,
                (system, live.sending),
                _resender(live),
            )
        ),
    ]
    return tasks, [asyncio.create_task(supervise(live.workers, log, held, done, live.started, system))]


async def _send(live: _Live, topic: str, events: list[bytes], model: type) -> None:
    """Publish ``events`` as their senders do (signed when the run verifies signatures), not while
    a part of the system is being stopped; remembered, to be sent again after a restart."""
    if not events:
        return
    async with live.sending:
        await publish(live.kafka, topic, events, model, signed_by=live.signer())
        live.sent.append((topic, events, model))


def _resender(live: _Live) -> Callable[[], Awaitable[None]]:
    """What the senders do when the broker lost their topics: send again everything they sent (the
    system takes a repeat once). Called while the restart holds ``live.sending``."""

    async def resend() -> None:
        for topic, events, model in live.sent:
            await publish(live.kafka, topic, events, model, signed_by=live.signer())
        live.say(f"  restarted; {sum(len(e) for _, e, _ in live.sent)} events sent again")

    return resend


async def _publish_slices(live: _Live) -> None:
    """Every discharge event, in ``faults.slices`` slices a random pause apart (one slice without
    faults); after each slice the cancellations of its claims; after the first, the revocations and
    the attacks (those that must come before a rightful hospital's event go before the first slice,
    the forged claims in flight once their real ones are on the payers' topics)."""
    made, faults = live.made, live.faults
    events, claims = made.events, max(1, len(made.good))
    slices = faults.slices if faults else 1
    size = -(-len(events) // slices)
    await publish_attacks(live.kafka, [a for a in live.attacks if a.before])
    forging = asyncio.create_task(_forge_flights(live, [a for a in live.attacks if a.copies]))
    try:
        for n in range(slices):
            await _send(live, DISCHARGED, events[n * size : (n + 1) * size], DischargeClaim)
            cancellations = [raw for at, raw in made.life.cancellations if n <= at * slices / claims < n + 1]
            await _send(live, CANCELLED, cancellations, ClaimCancellation)
            if n == 0:
                await _send(live, ELIGIBILITY, made.life.revocations, EligibilityChange)
                await publish_attacks(live.kafka, [a for a in live.attacks if not (a.before or a.copies)])
            if faults and n + 1 < slices:
                await asyncio.sleep(live.rng.uniform(*faults.slice_pause))
        await forging
    finally:
        forging.cancel()


async def _forge_flights(live: _Live, attacks: list[Attack]) -> None:
    """Copy the real claims in flight the ``attacks`` aim at off the payers' topics as soon as they are
    there, change them, and write them to their topic (claims.ledger), racing the real ones."""
    if not attacks:
        return
    copied = await copied_flights(
        live.kafka, {a.copies for a in attacks}, min(live.deadline, time.monotonic() + live.stall)
    )
    await publish_attacks(live.kafka, [forged_flight(a, copied[a.copies]) for a in attacks if a.copies in copied])


async def _until_settled(live: _Live, probe: Probe, tasks: list[asyncio.Task]) -> None:
    """Count the settled good claims until all are and every task is done, or the time allowed is
    over, or nothing moved for ``stall`` seconds after the last event was published."""
    claim_keys = live.claim_keys
    progressed = time.monotonic()
    while live.settled < len(claim_keys) or not all(task.done() for task in tasks):
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()
        if why := _stalled(live, progressed, tasks[0]):
            await _note_stall(live, probe, why)
            return
        await asyncio.sleep(0.5)
        now_settled = await settled_count(probe, claim_keys)
        if now_settled != live.settled:
            live.settled, progressed = now_settled, time.monotonic()
    live.settle_seconds = time.monotonic() - live.started
    live.say(
        f"  all {len(claim_keys)} good claims settled {live.settle_seconds:.1f}s after the first claim was published"
    )


def _stalled(live: _Live, progressed: float, publisher: asyncio.Task) -> str | None:
    """Why the run must stop waiting, or None."""
    now = time.monotonic()
    if now > live.deadline:
        return "the time allowed"
    if now - progressed > live.stall and publisher.done():
        return f"no progress for {live.stall:.0f}s"
    return None


async def _note_stall(live: _Live, probe: Probe, why: str) -> None:
    claim_keys = live.claim_keys
    live.unfinished.append(
        f"{len(claim_keys) - live.settled} of {len(claim_keys)} good claims not settled "
        f"({why}): " + await diagnosis(probe, live.workers, claim_keys, live.log, live.kafka)
    )
    live.say(f"  STALLED: {live.unfinished[-1]}")


async def _drain(live: _Live, probe: Probe) -> dict[str, int]:
    """Wait until every worker has committed the end of its source topic and every person's queued
    input is applied; the lag left."""
    until = min(live.deadline, time.monotonic() + live.stall)
    while True:
        lag = await wait_drained(live.kafka, until)
        queued, parked = await queued_and_parked(probe)
        if not (any(lag.values()) or queued) or time.monotonic() > until:
            break
        await asyncio.sleep(0.5)
    if any(lag.values()) or queued:
        live.unfinished.append(f"workers still behind their source topics: {lag}; inputs still queued: {queued}")
    else:
        live.say(f"  every worker caught up and every input applied at {time.monotonic() - live.began:.1f}s")
    if parked:
        live.unfinished.append(f"{parked} messages parked (a handler failed on them): see onestop parked")
    return lag


async def _result(live: _Live, probe: Probe, lag: dict[str, int]) -> RunResult:
    """What the run left in the store and on the topics."""
    store = await PostgresStore.open(live.database, migrate=False)
    try:
        ledger, records = await _dump(store, probe)
        problems = await store.check_ledger()
        counts = await store.counts()
        audit = differences(replay_archive(await _archive(store)).records, records, "ledger")
    finally:
        await store.close()
    topic = [Settlement.model_validate_json(raw) for raw in await read_all(live.kafka, SETTLEMENTS)]
    rejected = await _rejections(live.kafka, REJECTED)
    eligibility_rejected = await _rejections(live.kafka, ELIGIBILITY_REJECTED)
    per_claim = Counter(s.key for s in records if s.kind == "settlement")
    attacked = bool(live.attacks)
    return RunResult(
        "fault" if live.faults else "reference",
        ledger,
        records,
        per_claim,
        topic,
        rejected,
        eligibility_rejected,
        problems,
        audit,
        counts,
        live.workers.log_dir,
        time.monotonic() - live.began,
        live.settle_seconds,
        live.log,
        lag,
        live.unfinished,
        roles=await role_attempts(live.workers.found.for_workers) if attacked else [],
        answers=await presettle_answers(live.kafka) if attacked else 0,
        archived=await archived(probe),
        sent={raw for _, events, _ in live.sent for raw in events},
    )


async def _rejections(kafka: str, topic: str) -> list[Rejection]:
    return [Rejection.model_validate_json(raw) for raw in await read_all(kafka, topic)]


async def _archive(store: Store) -> list:
    return await every(store.inputs)


async def _dump(store: Store, probe: Probe) -> tuple[Ledger, list[Settlement]]:
    totals = {
        (r["psn_no"], r["year"], r["account"]): (r["base"], r["paid"], r["paid_by_day"], r["assisted_visits_by_month"])
        for r in await probe.fetch(
            "SELECT psn_no, year, account, base, paid, paid_by_day::text AS paid_by_day, "
            "assisted_visits_by_month::text AS assisted_visits_by_month FROM year_totals"
        )
    }
    records = await _every_settlement(store)
    payments: dict[tuple[str, str], Decimal] = {}
    settlements: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    for s in records:
        key = s.key
        for line in s.payments:
            payments[(key, line.payer.value)] = payments.get((key, line.payer.value), Decimal("0.00")) + line.amount
        was = settlements.get(key, (Decimal("0.00"),) * 3)
        settlements[key] = (was[0] + s.medfee_sumamt, was[1] + s.fund_pay_sumamt, was[2] + s.psn_part_amt)
    # a payer's line that nets to nothing owes nothing, whether it was paid and taken back or never paid
    payments = {key: amount for key, amount in payments.items() if amount}
    return Ledger(payments, settlements, totals), records


async def _every_settlement(store: Store) -> list[Settlement]:
    records: list[Settlement] = []
    records.extend(s for _, s in await every(store.settlements, limit=5_000))
    return records
