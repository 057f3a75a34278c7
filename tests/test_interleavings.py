"""The workers' handlers on the memory store, under random interleavings (hypothesis): claims,
repeats, corrected bills, cancellations before and after their claim, grants and revocations
reaching back, year-end closes, enrollment changes and premium rolls — published in any order
while every worker takes its turn at random, and some batches delivered twice. After all of it,
the ledger holds exactly the records the pure rules make from the archived inputs in their
recorded order (policies.audit), each claim nets to the year as known now, nothing is paid twice,
and a person has at most one premium record a year. The lives' events are unsigned,
so the workers accept them here (ONESTOP_ACCEPT_UNSIGNED=1; without it every one is refused and
the comparison holds trivially)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import deque
from datetime import date, datetime, timezone
from unittest import mock

import orjson
from hypothesis import HealthCheck, given, settings, strategies as st

from policies.audit import by_person, differences, replay_archive
from policies.ledger import nets_of, truth
from policies.received import first_seqs, key_of
from schemas.events import ClaimCancellation, EnrollmentChange, PremiumRoll, YearEndClose
from streams.codecs import encode
from streams.topics import CANCELLED, DISCHARGED, ELIGIBILITY, ENROLLMENT, PREMIUM_ROLLS, YEAR_END
from workers.batches import handle_and_send
from workers.harness import Context, Incoming
from workers.registry import WORKERS

from .test_ledger_life import REGIONS, grant, revoke, stay

NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)


class Broker:
    """Topics as queues of messages with offsets: one partition each (per-person order is what matters)."""

    def __init__(self) -> None:
        self.topics: dict[str, list[Incoming]] = {}
        self.read: dict[tuple[str, str], int] = {}  # (worker, topic) -> next offset

    async def send(self, topic: str, key: bytes | None, value: bytes):
        messages = self.topics.setdefault(topic, [])
        messages.append(Incoming(key, value, topic, 0, len(messages)))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def waiting(self, worker: str, topic: str) -> list[Incoming]:
        return self.topics.get(topic, [])[self.read.get((worker, topic), 0) :]


async def step(broker: Broker, context: Context, name: str, size: int, again: bool) -> bool:
    """One batch of a worker; ``again``: it is delivered a second time (a crash before the commit)."""
    worker = WORKERS[name]
    batch = broker.waiting(name, worker.source)[:size]
    if not batch:
        return False
    await handle_and_send(worker, context, batch, broker.send)
    if again:
        await handle_and_send(worker, context, batch, broker.send)
    broker.read[(name, worker.source)] = batch[-1].offset + 1
    return True


@st.composite
def lives(draw):
    """Several persons' inputs (as the topics carry them) and a schedule of worker turns."""
    events: list[tuple[str, bytes]] = []
    for person in range(draw(st.integers(1, 3))):
        region = draw(st.sampled_from(sorted(REGIONS)))
        insured, years, categories = REGIONS[region]
        psn = f"P{person}"
        claims = []
        for n in range(draw(st.integers(1, 4))):
            day = date(draw(st.sampled_from(years)), draw(st.integers(1, 12)), draw(st.integers(1, 28)))
            inscp = draw(st.sampled_from(["800.00", "4200.00", "30000.00", "150000.00"]))
            claims.append(stay(f"{psn}-C{n}", psn, insured, day.isoformat(), inscp, level=draw(st.sampled_from("123"))))
        for claim in claims:
            events.append((DISCHARGED, encode(claim)))
            if draw(st.integers(0, 3)) == 0:
                events.append((DISCHARGED, encode(claim)))  # the same bill again
            if draw(st.integers(0, 3)) == 0:
                events.append(
                    (
                        DISCHARGED,
                        encode(
                            claim.model_copy(
                                update={
                                    "revision": 1,
                                    "inscp_scp_amt": claim.inscp_scp_amt + 500,
                                    "medfee_sumamt": claim.medfee_sumamt + 500,
                                }
                            )
                        ),
                    )
                )
            if draw(st.integers(0, 3)) == 0:
                events.append(
                    (
                        CANCELLED,
                        encode(
                            ClaimCancellation(
                                event_id=f"X-{claim.claim_id}", claim_id=claim.claim_id, psn_no=psn, cancelled_at=NOW
                            )
                        ),
                    )
                )
        for index in range(draw(st.integers(0, 3))):
            start = date(draw(st.sampled_from(years)), draw(st.integers(1, 12)), 1).isoformat()
            code = draw(st.sampled_from(categories))
            change = (
                grant(0, psn, code, start, event_id=f"G-{psn}-{index}")
                if draw(st.booleans())
                else revoke(0, psn, code, start, f"R-{psn}-{index}")
            )
            events.append((ELIGIBILITY, encode(change.change)))
        if draw(st.integers(0, 3)) == 0:
            close = YearEndClose(event_id=f"Y-{region}-{years[0]}", region=region, year=years[0], closed_at=NOW)
            events.append((YEAR_END, encode(close)))
        for index in range(1 + draw(st.integers(0, 1))):  # insured (from a day of the year), mostly as a resident
            start = date(years[0], draw(st.integers(1, 12)), 1) if index else date(years[0], 1, 1)
            insutype = draw(st.sampled_from(["390", "390", "310"]))
            enrolled = EnrollmentChange(
                event_id=f"E-{psn}-{index}",
                psn_no=psn,
                insutype=insutype,
                insuplc_admdvs=insured,
                valid_from=start,
                recorded_at=NOW,
            )
            events.append((ENROLLMENT, encode(enrolled)))
        if draw(st.booleans()):  # the region's year rolled (by several persons' lives: once, then repeats)
            roll = PremiumRoll(event_id=f"M-{region}-{years[0]}", region=region, year=years[0], recorded_at=NOW)
            events.append((PREMIUM_ROLLS, encode(roll)))
            if draw(st.booleans()):  # and the person granted a category from a month of that year
                start = date(years[0], draw(st.integers(1, 12)), 1).isoformat()
                events.append(
                    (
                        ELIGIBILITY,
                        encode(grant(0, psn, draw(st.sampled_from(categories)), start, event_id=f"G-{psn}-M").change),
                    )
                )
    order = draw(st.permutations(events))
    names = sorted(WORKERS)
    turns = draw(
        st.lists(st.tuples(st.sampled_from(names), st.integers(1, 4), st.integers(0, 9)), min_size=10, max_size=120)
    )
    return order, turns


async def run(order, turns, store_url: str | None = None) -> tuple:
    broker = Broker()
    context = Context(store_url or f"memory://{uuid.uuid4()}")
    pending = deque(order)
    for name, size, coin in turns:  # inputs arrive while the workers work
        if pending and coin < 4:
            topic, value = pending.popleft()
            await broker.send(topic, _key(value), value)
        await step(broker, context, name, size, again=coin == 9)
    while pending:
        topic, value = pending.popleft()
        await broker.send(topic, _key(value), value)
    while any([await step(broker, context, name, 50, False) for name in sorted(WORKERS)]):
        pass  # drain
    store = await context.store()
    records = [r for _, r in await store.settlements(limit=1_000_000)]
    return records, await store.inputs(limit=1_000_000), await store.check_ledger(), await store.queued()


def _key(value: bytes) -> bytes:
    data = orjson.loads(value)
    return (data.get("psn_no") or data.get("region")).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lives())
def test_any_interleaving_records_what_the_inputs_make(life):
    order, turns = life
    with mock.patch.dict(os.environ, {"ONESTOP_ACCEPT_UNSIGNED": "1"}):
        records, archived, breaches, queued = asyncio.run(run(order, turns))
    assert records or not any(topic == DISCHARGED for topic, _ in order)  # the claims were taken, not refused
    replayed = replay_archive(archived)
    assert differences(replayed.records, records, "ledger") == []
    assert breaches == [] and queued == []
    premiums = [(r.psn_no, r.year) for r in records if r.kind == "premium"]
    assert len(premiums) == len(set(premiums))  # one premium record per person and year, however it interleaved
    # each claim nets to the year as known now
    persons, _ = by_person(archived)
    nets = nets_of(records)
    for inputs in persons.values():
        first = first_seqs(inputs)
        final = truth(inputs, max(key_of(i, first) for i in inputs)).entries
        for key, entry in final.items():
            want = {line.payer: line.amount for line in entry.lines if line.amount}
            net = nets.get(key)
            got = {p: a for p, a in (net.by_payer.items() if net else ()) if a}
            assert got == want, key
