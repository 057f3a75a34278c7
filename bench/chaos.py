"""`onestop chaos`: the live system under faults must settle exactly what it settles without them.

1. A generated year of claims (``year_of_claims``) with its people's grants, 10% duplicated
   discharge events (exact repeats: half right after the original, half much later) and 5%
   malformed events of every kind the schemas and intake refuse, each remembered with its kind.
   People get synthetic identity numbers (18 characters, deliberately with a wrong check
   character, so that no real number is ever generated) and names (``psn_name``, a field the
   schemas ignore), so that a leak into a log can be searched for; claims get opaque claim_ids
   (the generator's embed the person number) and grants opaque event_ids.
2. A reference run: fresh embedded parts and workers, no faults.
3. A fault run: fresh parts and workers, the same input published in slices while workers are
   SIGKILLed at random moments (and restarted after a short pause, as `onestop up` would), and
   PostgreSQL is stopped and started again once on the same data directory.
4. The checks, one line each with PASS/FAIL: both runs finished, the faults happened and no
   worker died of anything else, exactly once, balanced to the fen, every malformed event
   rejected with its reason, the fault run's ledger identical to the reference's, no identity
   number or name in clear in any worker log (nor in the broker's and PostgreSQL's).

A run ends when every good claim is settled and every worker's consumer group has committed the
end of its source topic, or after 90 s without progress (then the check says where the unsettled
claims wait and which groups lag), so a lost or stuck message fails a check instead of hanging.
"""
from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import asyncpg
import click
import orjson

from bench.generator import Person, year_of_claims
from policies.loader import NoPolicy, policy_for
from schemas.codes import ISSUING_AUTHORITY
from schemas.events import DischargeClaim, EligibilityChange, Rejection, Settlement
from schemas.personal import mask
from streams.codecs import BadInput, decode, encode
from streams.topics import DISCHARGED, ELIGIBILITY, ELIGIBILITY_REJECTED, REJECTED, SETTLEMENTS
from workers.drivers import DRIVERS, driver_name
from runtime.embedded import EmbeddedBroker, EmbeddedPostgres
from streams.reader import read_all
from runtime.parts import Parts, initialise_sync
from runtime.supervisor import WorkerProcesses
from streams.publisher import publish
from workers.registry import WORKERS
from runtime.endpoints import Endpoints
from store.postgres import PostgresStore

# --- the input ------------------------------------------------------------------------------

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "秀英桂兰建国志强玉梅海燕春华凤淑珍文明丽娟永红金德胜秋菊宝山雪长青霞卫东晓振家福禄寿喜佳慧敏"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def synthetic_id(division: str, birth: date, sequence: int) -> str:
    """An 18-character resident identity number whose check character is deliberately wrong."""
    body = f"{division}{birth:%Y%m%d}{sequence:03d}"
    right = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS)) % 11]
    return body + "0123456789X"[("0123456789X".index(right) + 1) % 11]


@dataclass(frozen=True)
class Malformed:
    """A bad event: its kind, its bytes, and a word the rejection's reason must contain."""

    kind: str
    raw: bytes
    expect: str


@dataclass
class ChaosInput:
    people: list[Person]
    names: dict[str, str]  # psn_no -> name
    grants: list[bytes]  # good eligibility events
    bad_grants: list[Malformed]  # for eligibility.rejected
    events: list[bytes]  # every discharge event in publish order: good, repeated, malformed
    good: dict[str, DischargeClaim]  # claim_id -> claim
    malformed: list[Malformed]  # for claims.rejected
    repeated_adjacent: int = 0
    repeated_later: int = 0

    @property
    def secrets(self) -> set[str]:
        """What must never be in clear in a log: every identity number and name used."""
        return set(self.names) | set(self.names.values())


def _claim_dict(claim: DischargeClaim, name: str) -> dict:
    return {**orjson.loads(encode(claim)), "psn_name": name}


def _money(text: str, delta: str) -> str:
    return f"{Decimal(text) + Decimal(delta):.2f}"


_REQUIRED = ["claim_id", "psn_no", "insutype", "insuplc_admdvs", "mdtrtarea_admvs", "med_type", "hosp_lv", "referral",
             "begndate", "enddate", "dise_codg", "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay",
             "preselfpay_amt", "inscp_scp_amt"]


def _negative(c: dict, n: int) -> tuple[dict, str]:
    field_ = ["fulamt_ownpay_amt", "preselfpay_amt", "inscp_scp_amt", "medfee_sumamt"][n % 4]
    c[field_] = f"-{Decimal(c[field_]) + Decimal('0.01'):.2f}"
    return c, "negative"


def _three_decimals(c: dict, n: int) -> tuple[dict, str]:
    c["inscp_scp_amt"] = f"{Decimal(c['inscp_scp_amt']):.2f}5"
    return c, "more than two decimals"


def _float_amount(c: dict, n: int) -> tuple[dict, str]:
    c["inscp_scp_amt"] = float(c["inscp_scp_amt"]) + 0.25  # a JSON number with a fraction
    c["medfee_sumamt"] = _money(c["medfee_sumamt"], "0.25")
    return c, "JSON strings"


def _parts_off(c: dict, n: int) -> tuple[dict, str]:
    c["medfee_sumamt"] = _money(c["medfee_sumamt"], "0.01")
    return c, "do not add up"


def _end_before_begin(c: dict, n: int) -> tuple[dict, str]:
    c["enddate"] = (date.fromisoformat(c["begndate"]) - timedelta(days=1 + n % 3)).isoformat()
    return c, "before begndate"


def _field(name: str, value) -> Callable[[dict, int], tuple[dict, str]]:
    def change(c: dict, n: int) -> tuple[dict, str]:
        c[name] = value(n) if callable(value) else value
        return c, name
    return change


def _missing(c: dict, n: int) -> tuple[dict, str]:
    name = _REQUIRED[n % len(_REQUIRED)]
    del c[name]
    return c, "Field required"


def _no_policy_place(c: dict, n: int) -> tuple[dict, str]:
    c["insuplc_admdvs"] = ["990101", "110105", "440305"][n % 3]
    return c, "no policy for insured place"


def _no_policy_in_force(c: dict, n: int) -> tuple[dict, str]:
    c["begndate"], c["enddate"] = "2009-03-01", "2009-03-04"
    return c, "in force"


def _blank_id(c: dict, n: int) -> tuple[dict, str]:
    c["claim_id"] = "   "
    return c, "at least 1 character"


#: kind -> change of a good claim (as a dict) into a bad one, with the word its reason must hold
CLAIM_KINDS: dict[str, Callable[[dict, int], tuple[dict, str]]] = {
    "negative amount": _negative,
    "more than two decimals": _three_decimals,
    "float amount": _float_amount,
    "parts do not add up": _parts_off,
    "enddate before begndate": _end_before_begin,
    "unknown med_type": _field("med_type", lambda n: ["99", "31", ""][n % 3]),
    "unknown insutype": _field("insutype", lambda n: ["999", "320"][n % 2]),
    "unknown hosp_lv": _field("hosp_lv", "4"),
    "malformed division code": _field("mdtrtarea_admvs", lambda n: ["62070", "6207021", "62070a", ""][n % 4]),
    "missing field": _missing,
    "bad ICD-10": _field("dise_codg", lambda n: ["c34.9", "C3", "34.9", "C34.", "CC34"][n % 5]),
    "amount not a number": _field("overlmt_selfpay", lambda n: ["12,30", "NaN", "abc"][n % 3]),
    "impossible date": _field("enddate", "2022-02-30"),
    "boolean amount": _field("overlmt_selfpay", True),
    "age out of range": _field("age", lambda n: [-1, 151][n % 2]),
    "blank identifier": _blank_id,
    "no policy for the insured place": _no_policy_place,
    "no policy in force": _no_policy_in_force,
}
#: kinds that are not a changed claim
RAW_KINDS = {"not JSON": "not JSON", "not an object": "JSON object"}
#: the same claim_id sent again with other content: intake refuses it
CONFLICT = "claim_id reused with other content"

GRANT_KINDS: dict[str, tuple[Callable[[dict], None], str]] = {
    "unknown category": (lambda g: g.update(category="poor"), "category"),
    "unknown authority": (lambda g: g.update(authority="police"), "authority"),
    "unknown action": (lambda g: g.update(action="suspend"), "action"),
    "valid_to before valid_from": (lambda g: g.update(valid_to="2000-01-01"), "before valid_from"),
    "missing field": (lambda g: g.pop("recorded_at"), "Field required"),
    "bad timestamp": (lambda g: g.update(recorded_at="yesterday"), "recorded_at"),
}


def _reason_of(raw: bytes) -> str | None:
    """What intake will say about a discharge event (None: it is accepted)."""
    try:
        claim = decode(DischargeClaim, raw)
        policy_for(claim.insuplc_admdvs, claim.enddate)
    except (BadInput, NoPolicy) as problem:
        return str(problem)
    return None


def make_input(claims: int = 10_000, seed: int = 7, *, repeated: float = 0.10, malformed: float = 0.05) -> ChaosInput:
    """The chaos run's input, deterministic for a seed; every event is checked against the schemas here."""
    rng = random.Random(seed * 7919 + 1)
    population, made = year_of_claims(claims, seed=seed)
    numbers: dict[str, str] = {}
    names: dict[str, str] = {}
    used_names: set[str] = set()
    for person in population:
        while True:
            number = synthetic_id(person.insuplc_admdvs, date(1940, 1, 1) + timedelta(days=rng.randint(0, 27_000)),
                                  rng.randint(0, 999))
            if number not in names:
                break
        while True:
            name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN)
            if name not in used_names:
                break
        numbers[person.psn_no], names[number] = number, name
        used_names.add(name)
    people = [replace(p, psn_no=numbers[p.psn_no]) for p in population]

    grants = []
    for person in people:
        for held in person.categories:
            change = EligibilityChange.grant_of(person.psn_no, held, f"ELG{len(grants):06d}",
                                                datetime(held.valid_from.year, 1, 1, 9, tzinfo=timezone.utc))
            grants.append(orjson.dumps({**orjson.loads(encode(change)), "psn_name": names[person.psn_no]}))

    good: dict[str, DischargeClaim] = {}
    dicts: list[dict] = []
    for number, claim in enumerate(made):
        renamed = claim.model_copy(update={"psn_no": numbers[claim.psn_no], "claim_id": f"HIS{number:07d}"})
        good[renamed.claim_id] = renamed
        dicts.append(_claim_dict(renamed, names[renamed.psn_no]))
    raws = [orjson.dumps(d) for d in dicts]

    # (position, order, bytes): sorted, they are the publish order
    placed: list[tuple[float, int, bytes]] = [(i, 0, raw) for i, raw in enumerate(raws)]
    chosen = rng.sample(range(claims), round(claims * repeated))
    half = len(chosen) // 2
    for i in chosen[:half]:
        placed.append((i, 1, raws[i]))  # right after the original
    for i in chosen[half:]:
        later = rng.uniform(min(claims - 0.5, i + max(1, claims // 4)), claims + 0.5)
        placed.append((later, 2, raws[i]))  # much later (often in another slice)

    bad: list[Malformed] = []
    kinds = [*CLAIM_KINDS, *RAW_KINDS, CONFLICT]
    count = max(len(kinds), round(claims * malformed))
    for n in range(count):
        kind = kinds[n % len(kinds)]
        source = rng.randrange(claims)
        # a unique reference first (a field the schemas ignore): every bad event differs from every other
        base = {"hospital_ref": f"BAD{n:06d}", **dicts[source], "claim_id": f"BAD{n:06d}"}
        position = rng.uniform(0, claims)
        if kind in CLAIM_KINDS:
            changed, word = CLAIM_KINDS[kind](base, n // len(kinds))
            raw = orjson.dumps(changed)
        elif kind == "not JSON":
            raw, word = orjson.dumps(base)[: rng.randint(40, 120)] + b'"', "not JSON"
        elif kind == "not an object":
            raw = orjson.dumps([[base["claim_id"], base["psn_no"], base["psn_name"]], [base],
                                f"claim {base['claim_id']} of {base['psn_no']}"][(n // len(kinds)) % 3])
            word = "JSON object"
        else:  # the claim_id of a good claim, other amounts, after the original
            other = {"hospital_ref": base["hospital_ref"], **dicts[source]}
            other["fulamt_ownpay_amt"] = _money(other["fulamt_ownpay_amt"], "1.00")
            other["medfee_sumamt"] = _money(other["medfee_sumamt"], "1.00")
            raw, word = orjson.dumps(other), "already received with different content"
            position = rng.uniform(source + 0.6, claims + 0.5)
        bad.append(Malformed(kind, raw, word))
        placed.append((position, 3, raw))
    placed.sort(key=lambda p: (p[0], p[1]))

    bad_grants = []
    for n, (kind, (change, word)) in enumerate(GRANT_KINDS.items()):
        person = people[rng.randrange(len(people))]
        event = {"event_id": f"BADELG{n:04d}", "psn_no": person.psn_no, "psn_name": names[person.psn_no],
                 "category": "tekun", "action": "grant", "valid_from": "2017-01-01",
                 "authority": "civil_affairs", "recorded_at": "2017-01-01T09:00:00+00:00"}
        change(event)
        bad_grants.append(Malformed(kind, orjson.dumps(event), word))
    person = people[0]
    bad_grants.append(Malformed("not JSON", f'{{"event_id": "BADELG9999", "psn_no": "{person.psn_no}"'.encode(), "not JSON"))

    made_input = ChaosInput(people, names, grants, bad_grants, [raw for _, _, raw in placed], good, bad,
                            repeated_adjacent=half, repeated_later=len(chosen) - half)
    _self_check(made_input)
    return made_input


def _self_check(made: ChaosInput) -> None:
    """Every good event is accepted and every malformed one refused for its own reason, before publishing."""
    raws = [bad.raw for bad in made.malformed]
    if len(set(raws)) != len(raws):
        raise AssertionError("two malformed events are the same bytes: their rejections could not be told apart")
    for claim_id, claim in made.good.items():
        raw = orjson.dumps(_claim_dict(claim, made.names[claim.psn_no]))
        if (reason := _reason_of(raw)) is not None:
            raise AssertionError(f"good claim {claim_id} would be rejected: {reason}")
    for bad in made.malformed:
        if bad.kind == CONFLICT:
            continue
        reason = _reason_of(bad.raw)
        if reason is None or bad.expect not in reason:
            raise AssertionError(f"malformed event of kind {bad.kind!r} would get reason {reason!r}")
    for grant in made.grants:
        decode(EligibilityChange, grant)
    for bad in made.bad_grants:
        try:
            decode(EligibilityChange, bad.raw)
        except BadInput as problem:
            if bad.expect not in str(problem):
                raise AssertionError(f"bad grant {bad.kind!r}: reason {problem}") from None
        else:
            raise AssertionError(f"bad grant {bad.kind!r} is accepted")


# --- faults -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Faults:
    """What the fault run does: how many SIGKILLs, how far apart, how long a worker stays down;
    PostgreSQL is stopped once when ``pg_restart_at`` of the good claims are settled."""

    kills: int = 8
    kill_every: tuple[float, float] = (2.0, 10.0)
    down_for: tuple[float, float] = (0.3, 3.0)
    pg_restart_at: float = 0.4
    pg_down_for: tuple[float, float] = (2.0, 5.0)
    slices: int = 4
    slice_pause: tuple[float, float] = (0.5, 3.0)


@dataclass
class FaultLog:
    kills: list[tuple[float, str, float]] = field(default_factory=list)  # (at, worker, down for)
    pg_restarts: list[tuple[float, float, bool]] = field(default_factory=list)  # (at, down for, same dsn)
    unexpected_exits: list[tuple[float, str, int]] = field(default_factory=list)  # (at, worker, return code)


# --- a run ------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What a run leaves in the ledger, in comparable form."""

    payments: dict[tuple[str, str], Decimal]  # (claim_id, payer) -> amount
    settlements: dict[str, tuple[Decimal, Decimal, Decimal]]  # claim_id -> (medfee, fund, personal)
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
    counts: dict[str, int]
    log_dir: Path
    seconds: float
    settle_seconds: float
    faults: FaultLog | None = None
    lag: dict[str, int] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)  # what did not finish in the time allowed, and why


#: what a client sees while PostgreSQL stops or starts: no socket, a closed connection, "shutting down" /
#: "starting up" (class 57P), or a protocol left mid-operation by a connection that died
_DATABASE_AWAY = (OSError, asyncio.TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
                  asyncpg.exceptions.OperatorInterventionError, asyncpg.exceptions.InternalClientError)


class _Probe:
    """A reconnecting asyncpg connection for the run's own queries (PostgreSQL may be away a while)."""

    def __init__(self, dsn: str, patience: float = 120.0) -> None:
        self.dsn, self.conn, self.patience = dsn, None, patience

    async def fetch(self, sql: str, *args):
        give_up = time.monotonic() + self.patience
        while True:
            try:
                if self.conn is None or self.conn.is_closed():
                    self.conn = await asyncpg.connect(self.dsn, timeout=5)
                return await self.conn.fetch(sql, *args)
            except _DATABASE_AWAY:
                if self.conn is not None:
                    self.conn.terminate()
                self.conn = None
                if time.monotonic() > give_up:
                    raise
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


async def _settled_count(probe: _Probe, claim_ids: list[str]) -> int:
    rows = await probe.fetch("SELECT count(DISTINCT claim_id) AS n FROM settlements WHERE claim_id = ANY($1::text[])",
                             claim_ids)
    return rows[0]["n"]


async def _consumer_lag(kafka: str) -> dict[str, int]:
    """Per worker: records of its source topic not yet committed by its consumer group.

    The end of each partition is found by reading it (this broker's ListOffsets can be wrong).
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    sources = {name: stage.source for name, stage in WORKERS.items()}
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False, fetch_max_wait_ms=100)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await consumer.start()
    await admin.start()
    try:
        await consumer.topics()  # metadata of every topic
        partitions = []
        for topic in set(sources.values()):
            for p in consumer.partitions_for_topic(topic) or ():
                partitions.append(TopicPartition(topic, p))
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = {tp: 0 for tp in partitions}
        idle = 0
        while idle < 3:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for tp, records in batches.items():
                ends[tp] = max(ends[tp], records[-1].offset + 1)
            positions = [await consumer.position(tp) for tp in partitions]
            done = all((consumer.highwater(tp) or 0) <= at for tp, at in zip(partitions, positions))
            idle = idle + 1 if not batches and done else 0
        lag = {}
        for name, topic in sources.items():
            mine = [tp for tp in partitions if tp.topic == topic]
            committed = await admin.list_consumer_group_offsets(f"onestop-{name}", partitions=mine)
            lag[name] = sum(max(0, end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0))
                            for tp, end in ends.items() if tp.topic == topic)
        return lag
    finally:
        await admin.close()
        await consumer.stop()


async def _rejections(kafka: str, topic: str) -> list[Rejection]:
    return [Rejection.model_validate_json(raw) for raw in await read_all(kafka, topic)]


async def _dump(store: Store, probe: _Probe) -> tuple[Ledger, list[Settlement]]:
    payments = {(r["claim_id"], r["payer"]): r["amount"]
                for r in await probe.fetch("SELECT claim_id, payer, amount FROM payments")}
    totals = {(r["psn_no"], r["year"], r["account"]): (r["base"], r["paid"], r["paid_by_day"], r["assisted_visits_by_month"])
              for r in await probe.fetch(
                  "SELECT psn_no, year, account, base, paid, paid_by_day::text AS paid_by_day, "
                  "assisted_visits_by_month::text AS assisted_visits_by_month FROM year_totals")}
    records: list[Settlement] = []
    after = 0
    while page := await store.settlements(after_seq=after, limit=5_000):
        records.extend(s for _, s in page)
        after = page[-1][0]
    settlements = {s.claim_id: (s.medfee_sumamt, s.fund_pay_sumamt, s.psn_part_amt)
                   for s in records if s.kind == "settlement"}
    return Ledger(payments, settlements, totals), records


def _start_parts(work: Path) -> tuple[Parts, Endpoints]:
    """Always the embedded parts (the fault run stops and starts this PostgreSQL)."""
    parts = Parts(work)
    work.mkdir(parents=True, exist_ok=True)
    parts.broker = EmbeddedBroker(work / "broker").start()
    try:
        parts.postgres = EmbeddedPostgres(work / "pgdata").start()
    except BaseException:
        parts.stop()
        raise
    return parts, Endpoints(parts.broker.bootstrap, parts.postgres.dsn)


def run_pipeline(made: ChaosInput, work: Path, faults: Faults | None = None, *, seed: int = 7,
                 timeout: float = 600.0, say: Callable[[str], None] = lambda _: None,
                 env: dict[str, str] | None = None, stall: float = 90.0) -> RunResult:
    """One run on fresh embedded parts and workers in ``work``: publish people, then every event
    (in slices, under ``faults`` if given), wait until every good claim is settled and the workers
    have consumed everything, then dump the ledger and the topics, and stop everything."""
    began = time.monotonic()
    parts, found = _start_parts(work / "parts")
    workers = WorkerProcesses(found, work / "logs", extra_env={"ONESTOP_HOME": str(work / "home"), **(env or {})})
    try:
        initialise_sync(found)
        workers.start()
        say(f"  parts and {len(workers.processes)} workers started in {time.monotonic() - began:.1f}s")
        return asyncio.run(_run(made, parts, workers, faults, random.Random(seed * 31 + 5), timeout, began, say, stall))
    finally:
        workers.stop()
        parts.stop()


async def _run(made: ChaosInput, parts: Parts, workers: Workers, faults: Faults | None, rng: random.Random,
               timeout: float, began: float, say: Callable[[str], None], stall: float = 90.0) -> RunResult:
    found = workers.found
    kafka = found.kafka
    probe = _Probe(found.database)
    log = FaultLog() if faults is not None else None
    deadline = time.monotonic() + timeout
    unfinished: list[str] = []
    store = await PostgresStore.open(found.database, migrate=False)
    try:
        await publish(kafka, ELIGIBILITY, made.grants + [b.raw for b in made.bad_grants], EligibilityChange)
        while (await store.counts())["identity_events"] < len(made.grants):
            if time.monotonic() > deadline:
                raise TimeoutError("the eligibility worker did not record the grants in time")
            await asyncio.sleep(0.2)
    finally:
        await store.close()  # a new one for the dump: PostgreSQL may restart in between
    say(f"  {len(made.grants)} grants recorded at {time.monotonic() - began:.1f}s")

    claim_ids = list(made.good)
    settled = 0
    stop, done = asyncio.Event(), asyncio.Event()
    slices = faults.slices if faults else 1
    size = -(-len(made.events) // slices)
    started = time.monotonic()

    async def publisher() -> None:
        for n in range(slices):
            await publish(kafka, DISCHARGED, made.events[n * size:(n + 1) * size], DischargeClaim)
            if faults and n + 1 < slices:
                await asyncio.sleep(rng.uniform(*faults.slice_pause))

    # the run waits for these: every event published, every kill done, PostgreSQL back
    tasks = [asyncio.create_task(publisher())]
    helpers = []
    if faults is not None:
        held: set[str] = set()
        tasks += [asyncio.create_task(_killer(workers, faults, rng, log, held, stop, started)),
                  asyncio.create_task(_pg_restarter(parts, faults, rng, log, stop, started,
                                                    lambda: settled / max(1, len(claim_ids))))]
        helpers.append(asyncio.create_task(_supervisor(workers, log, held, done, started)))
    settle_seconds = float("nan")
    try:
        progressed = time.monotonic()
        while settled < len(claim_ids) or not all(task.done() for task in tasks):
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()
            now = time.monotonic()
            if now > deadline or (now - progressed > stall and tasks[0].done()):
                why = "the time allowed" if now > deadline else f"no progress for {stall:.0f}s"
                unfinished.append(f"{len(claim_ids) - settled} of {len(claim_ids)} good claims not settled "
                                  f"({why}): " + await _diagnosis(probe, workers, claim_ids, log, kafka))
                say(f"  STALLED: {unfinished[-1]}")
                break
            await asyncio.sleep(0.5)
            now_settled = await _settled_count(probe, claim_ids)
            if now_settled != settled:
                settled, progressed = now_settled, time.monotonic()
        else:
            settle_seconds = time.monotonic() - started
            say(f"  all {len(claim_ids)} good claims settled {settle_seconds:.1f}s after the first claim was published")
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        lag = await _wait_drained(kafka, min(deadline, time.monotonic() + stall))
        if any(lag.values()):
            unfinished.append(f"workers still behind their source topics: {lag}")
        else:
            say(f"  every worker caught up at {time.monotonic() - began:.1f}s")
    finally:
        stop.set()
        done.set()
        await asyncio.gather(*tasks, *helpers, return_exceptions=True)

    store = await PostgresStore.open(found.database, migrate=False)
    try:
        ledger, records = await _dump(store, probe)
        problems = await store.check_ledger()
        counts = await store.counts()
    finally:
        await probe.close()
        await store.close()
    topic = [Settlement.model_validate_json(raw) for raw in await read_all(kafka, SETTLEMENTS)]
    rejected = await _rejections(kafka, REJECTED)
    eligibility_rejected = await _rejections(kafka, ELIGIBILITY_REJECTED)
    per_claim = Counter(s.claim_id for s in records if s.kind == "settlement")
    return RunResult("fault" if faults else "reference", ledger, records, per_claim, topic, rejected,
                     eligibility_rejected, problems, counts, workers.log_dir, time.monotonic() - began,
                     settle_seconds, log, lag, unfinished)


async def _diagnosis(probe: _Probe, workers: Workers, claim_ids: list[str], log: FaultLog | None, kafka: str) -> str:
    """Where the unsettled claims stopped (the last payer that recorded a line), which workers run, the faults."""
    rows = await probe.fetch(
        "SELECT c.claim_id, c.snapshot->'route' AS route, array_agg(p.payer) FILTER (WHERE p.payer IS NOT NULL) AS paid "
        "FROM claims_received AS c LEFT JOIN payments AS p USING (claim_id) "
        "WHERE c.claim_id = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM settlements AS s WHERE s.claim_id = c.claim_id) "
        "GROUP BY c.claim_id, c.snapshot", claim_ids)
    waiting: Counter = Counter()
    for row in rows:
        route, paid = orjson.loads(row["route"]), set(row["paid"] or ())
        waiting[next((payer for payer in route if payer not in paid), "ledger")] += 1
    received = await probe.fetch("SELECT count(*) AS n FROM claims_received WHERE claim_id = ANY($1::text[])", claim_ids)
    alive = {name: ("running" if p.poll() is None else f"exited {p.returncode}") for name, p in workers.processes.items()}
    lag = await _consumer_lag(kafka)
    return (f"not yet received by intake: {len(claim_ids) - received[0]['n']}; unsettled claims waiting for: "
            f"{dict(waiting)}; records not yet committed per consumer group: {lag}; workers: {alive}; faults: {log}")


async def _killer(workers: Workers, faults: Faults, rng: random.Random, log: FaultLog, held: set[str],
                  stop: asyncio.Event, started: float) -> None:
    names = list(WORKERS)
    while len(log.kills) < faults.kills and not stop.is_set():
        await asyncio.sleep(rng.uniform(*faults.kill_every))
        if stop.is_set():
            return
        name = rng.choice(names)
        down = rng.uniform(*faults.down_for)
        held.add(name)
        try:
            workers.kill(name)
            await asyncio.sleep(down)
            workers.start_one(name)
        finally:
            held.discard(name)
        log.kills.append((time.monotonic() - started, name, down))


async def _supervisor(workers: Workers, log: FaultLog, held: set[str], done: asyncio.Event, started: float) -> None:
    """Restarts a worker that died without being killed, as `onestop up` does, and notes it (until ``done``)."""
    while not done.is_set():
        _restart_crashed(workers, log, held, started)
        try:
            await asyncio.wait_for(done.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


def _restart_crashed(workers: Workers, log: FaultLog, held: set[str], started: float) -> None:
    for name in workers.crashed():
        if name not in held:
            log.unexpected_exits.append((time.monotonic() - started, name, workers.processes[name].returncode))
            workers.start_one(name)


async def _pg_restarter(parts: Parts, faults: Faults, rng: random.Random, log: FaultLog, stop: asyncio.Event,
                        started: float, progress: Callable[[], float]) -> None:
    while progress() < faults.pg_restart_at and not stop.is_set():
        await asyncio.sleep(0.2)
    assert parts.postgres is not None
    dsn = parts.postgres.dsn
    at, down = time.monotonic() - started, rng.uniform(*faults.pg_down_for)
    await asyncio.to_thread(parts.postgres.stop)  # in a thread: kills and probes go on meanwhile
    await asyncio.sleep(down)
    await asyncio.to_thread(parts.postgres.start)
    log.pg_restarts.append((at, down, parts.postgres.dsn == dsn))


async def _wait_drained(kafka: str, until: float) -> dict[str, int]:
    """Until every worker's group has committed the end of its source topic, twice in a row (or ``until``)."""
    quiet = 0
    lag: dict[str, int] = {}
    while quiet < 2 and time.monotonic() < until:
        lag = await _consumer_lag(kafka)
        quiet = quiet + 1 if not any(lag.values()) else 0
        await asyncio.sleep(1.0)
    return lag


# --- checks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def _amounts(s: Settlement) -> tuple:
    return (s.medfee_sumamt, s.fund_pay_sumamt, s.psn_part_amt, tuple((l.payer.value, l.amount) for l in s.payments))


def check_exactly_once(made: ChaosInput, run: RunResult) -> Check:
    good = set(made.good)
    store_once = sum(1 for c in good if run.settlements_per_claim.get(c) == 1)
    missing = [c for c in good if c not in run.settlements_per_claim]
    twice = [c for c, n in run.settlements_per_claim.items() if n > 1]
    stray = [c for c in run.settlements_per_claim if c not in good]
    on_topic: dict[str, list[Settlement]] = defaultdict(list)
    for s in run.topic_settlements:
        on_topic[s.claim_id].append(s)
    topic_missing = [c for c in good if c not in on_topic]
    ids_per_claim = [c for c, ss in on_topic.items() if len({s.settlement_id for s in ss}) > 1]
    topic_stray = [c for c in on_topic if c not in good]
    repeats = sum(len(ss) - 1 for ss in on_topic.values())
    differing = [c for c, ss in on_topic.items() if len({_amounts(s) for s in ss}) > 1]
    ok = (store_once == len(good) and not (missing or twice or stray or topic_missing or ids_per_claim
                                            or topic_stray or differing))
    detail = (f"{store_once}/{len(good)} good claims with exactly 1 settlement in the store "
              f"(missing {len(missing)}, more than 1: {len(twice)}, not a good claim: {len(stray)}); "
              f"settlements.completed: {len(on_topic) - len(topic_stray)}/{len(good)} claims, "
              f"{len(run.topic_settlements)} records, {repeats} repeated by settlement_id "
              f"({len(differing)} with other amounts), {len(ids_per_claim)} claims under two settlement_ids, "
              f"{len(topic_stray)} not a good claim")
    if not ok:
        detail += f"; e.g. {(missing + twice + stray + topic_missing + ids_per_claim + differing)[:5]}"
    return Check("every good claim settled exactly once", ok, detail)


def check_no_duplicate_lines(run: RunResult) -> Check:
    by_claim: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for (claim_id, payer), amount in run.ledger.payments.items():
        by_claim[claim_id][payer] = amount
    doubled, mismatched = [], []
    for s in [*run.store_settlements, *run.topic_settlements]:
        payers = [l.payer.value for l in s.payments]
        if len(payers) != len(set(payers)):
            doubled.append(s.claim_id)
        if {l.payer.value: l.amount for l in s.payments} != by_claim.get(s.claim_id, {}):
            mismatched.append(s.claim_id)
    ok = not doubled and not mismatched
    detail = (f"{len(run.ledger.payments)} payment rows, one per (claim, payer); "
              f"{len(doubled)} settlement records with a payer twice; "
              f"{len(mismatched)} settlement records whose lines differ from the recorded payments")
    if not ok:
        detail += f"; e.g. {(doubled + mismatched)[:5]}"
    return Check("no payment line duplicated", ok, detail)


def check_year_totals(run: RunResult) -> Check:
    ok = not run.ledger_problems
    detail = (f"store.check_ledger(): {len(run.ledger_problems)} problems over {len(run.ledger.totals)} "
              f"year_totals rows")
    if not ok:
        detail += f"; e.g. {run.ledger_problems[:3]}"
    return Check("every year-to-date total equals the sum of its lines", ok, detail)


def check_balanced(run: RunResult) -> Check:
    records = [*run.store_settlements, *run.topic_settlements]
    bad = [s.settlement_id for s in records
           if s.fund_pay_sumamt + s.psn_part_amt != s.medfee_sumamt
           or sum((l.amount for l in s.payments), Decimal("0.00")) != s.fund_pay_sumamt
           or any(l.amount < 0 for l in s.payments) or s.psn_part_amt < 0
           or any(v.as_tuple().exponent < -2 for v in (s.medfee_sumamt, s.fund_pay_sumamt, s.psn_part_amt))]
    detail = (f"{len(records) - len(bad)}/{len(records)} records (store and topic): payments sum to fund_pay_sumamt, "
              f"fund_pay_sumamt + psn_part_amt = medfee_sumamt, no negative part")
    if bad:
        detail += f"; e.g. {bad[:5]}"
    return Check("every settlement balanced to the fen", not bad, detail)


def _check_rejected(title: str, expected: list[Malformed], rejections: list[Rejection], good: set[bytes]) -> Check:
    reasons: dict[str, list[str]] = defaultdict(list)
    for r in rejections:
        reasons[r.original].append(r.reason)
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong = []
    for bad in expected:
        got = reasons.get(bad.raw.decode(), [])
        per_kind[bad.kind][1] += 1
        if got and all(bad.expect in reason for reason in got):
            per_kind[bad.kind][0] += 1
        else:
            wrong.append((bad.kind, got[:1]))
    repeats = sum(len(v) - 1 for v in reasons.values())
    good_rejected = sum(1 for r in rejections if r.original.encode() in good)
    ok = not wrong and not good_rejected
    kinds = ", ".join(f"{kind} {n}/{total}" for kind, (n, total) in per_kind.items())
    detail = (f"{sum(n for n, _ in per_kind.values())}/{len(expected)} with the reason expected "
              f"({len(rejections)} records, {repeats} repeated, {good_rejected} good events rejected): {kinds}")
    if wrong:
        detail += f"; wrong or missing e.g. {wrong[:3]}"
    return Check(title, ok, detail)


def check_rejections(made: ChaosInput, run: RunResult) -> list[Check]:
    good = set(made.events) - {b.raw for b in made.malformed}
    return [
        _check_rejected("every malformed event on claims.rejected with a reason", made.malformed, run.rejected, good),
        _check_rejected("every malformed eligibility event on eligibility.rejected with a reason", made.bad_grants,
                        run.eligibility_rejected, set(made.grants)),
    ]


def _differences(name: str, reference: dict, fault: dict, show: Callable[[object], str]) -> tuple[int, list[str]]:
    keys = set(reference) | set(fault)
    differ = sorted((k for k in keys if reference.get(k) != fault.get(k)), key=str)
    return len(differ), [f"{name} {show(k)}: {reference.get(k)} vs {fault.get(k)}" for k in differ[:3]]


def check_same_ledger(reference: RunResult, fault: RunResult) -> Check:
    a, b = reference.ledger, fault.ledger
    n_pay, e_pay = _differences("payment", a.payments, b.payments, str)
    n_set, e_set = _differences("settlement", a.settlements, b.settlements, str)
    n_tot, e_tot = _differences("year_totals", a.totals, b.totals, lambda k: f"{mask(k[0])}/{k[1]}/{k[2]}")
    ok = not (n_pay or n_set or n_tot) and a.payments and a.totals
    total_paid = sum(a.payments.values(), Decimal("0.00"))
    detail = (f"{len(b.payments)} payments (claim, payer) vs {len(a.payments)}: {n_pay} differ; "
              f"{len(b.settlements)} settlements vs {len(a.settlements)}: {n_set} differ; "
              f"{len(b.totals)} year_totals (person, year, account) vs {len(a.totals)}: {n_tot} differ; "
              f"funds paid {sum(b.payments.values(), Decimal('0.00'))} vs {total_paid}")
    if not ok:
        detail += f"; e.g. {(e_pay + e_set + e_tot)[:5]}"
    return Check("fault run's ledger identical to the reference run's", bool(ok), detail)


def find_secrets(logs: Path | Iterable[Path], secrets: Iterable[str]) -> list[tuple[str, int, str]]:
    """(file, line number, masked hit) for every line of the log files (or of every file under a
    directory) holding one of ``secrets`` in clear."""
    wanted = set(secrets)
    lengths = sorted({len(s) for s in wanted})
    paths = sorted(p for p in logs.rglob("*") if p.is_file()) if isinstance(logs, Path) else list(logs)
    hits = []
    for path in paths:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            found = {line[i:i + n] for n in lengths for i in range(len(line) - n + 1)} & wanted
            for secret in sorted(found):
                hits.append((path.name, number, mask(secret) if len(secret) > 6 else secret[0] + "*" * (len(secret) - 1)))
    return hits


def check_logs(made: ChaosInput, runs: list[RunResult]) -> Check:
    hits, lines = [], 0
    for run in runs:
        for path in run.log_dir.rglob("*.log"):
            lines += len(path.read_text(errors="replace").splitlines())
        hits += [(run.name, *hit) for hit in find_secrets(run.log_dir, made.secrets)]
    detail = (f"{lines} worker log lines of {len(runs)} runs searched for {len(made.names)} identity numbers "
              f"and {len(set(made.names.values()))} names: {len(hits)} in clear")
    if hits:
        detail += f"; e.g. {hits[:5]}"
    return Check("no identity number or name in clear in any worker log", not hits, detail)


def check_part_logs(made: ChaosInput, runs: list[RunResult]) -> Check:
    """The same search in the broker's and PostgreSQL's own logs (``<run>/parts``)."""
    paths = [path for run in runs for path in (run.log_dir.parent / "parts" / "broker" / "tansu.log",
                                               run.log_dir.parent / "parts" / "pgdata" / "log") if path.is_file()]
    hits = find_secrets(paths, made.secrets)
    lines = sum(len(path.read_text(errors="replace").splitlines()) for path in paths)
    detail = f"{lines} lines of {len(paths)} broker and PostgreSQL logs: {len(hits)} in clear"
    if hits:
        detail += f"; e.g. {hits[:5]}"
    return Check("no identity number or name in clear in the broker's and PostgreSQL's logs", not hits, detail)


def check_faults(run: RunResult, faults: Faults) -> Check:
    log = run.faults or FaultLog()
    same_dsn = all(same for _, _, same in log.pg_restarts)
    ok = len(log.kills) == faults.kills and len(log.pg_restarts) == 1 and same_dsn and not log.unexpected_exits
    kills = Counter(name for _, name, _ in log.kills)
    detail = (f"{len(log.kills)} SIGKILLs ({', '.join(f'{n}×{c}' for n, c in sorted(kills.items()))}); "
              f"PostgreSQL restarted {len(log.pg_restarts)}× "
              f"({', '.join(f'at {at:.1f}s, down {down:.1f}s' for at, down, _ in log.pg_restarts)}, same DSN: {same_dsn}); "
              f"{len(log.unexpected_exits)} workers exited without being killed"
              + (f": {[(f'{at:.1f}s', name, code) for at, name, code in log.unexpected_exits][:6]}"
                 if log.unexpected_exits else ""))
    return Check("faults injected, workers survived all but the SIGKILLs", ok, detail)


def check_finished(runs: list[RunResult]) -> Check:
    notes = [f"{run.name}: {note}" for run in runs for note in run.unfinished]
    detail = "; ".join(f"{run.name} run {run.seconds:.0f}s, {_settled_in(run)}" for run in runs)
    return Check("both runs finished: every good claim settled, every worker caught up", not notes,
                 detail + ("; " + " | ".join(notes) if notes else ""))


def all_checks(made: ChaosInput, reference: RunResult, fault: RunResult, faults: Faults) -> list[Check]:
    return [
        check_finished([reference, fault]),
        check_faults(fault, faults),
        check_exactly_once(made, fault),
        check_no_duplicate_lines(fault),
        check_year_totals(fault),
        check_balanced(fault),
        *check_rejections(made, fault),
        check_same_ledger(reference, fault),
        check_logs(made, [reference, fault]),
        check_part_logs(made, [reference, fault]),
    ]


# --- the command ------------------------------------------------------------------------------


def _settled_in(run: RunResult) -> str:
    if run.unfinished:
        return "not every good claim settled"
    return f"{len(run.settlements_per_claim)} good claims settled {run.settle_seconds:.1f}s after the first was published"


def run_chaos(claims: int, seed: int, faults: Faults, work: Path, say: Callable[[str], None] = print,
              timeout: float = 600.0, env: dict[str, str] | None = None,
              stall: float = 90.0) -> tuple[list[Check], RunResult, RunResult]:
    began = time.monotonic()
    made = make_input(claims, seed)
    say(f"input: {len(made.good)} claims of {len(made.people)} people, {len(made.grants)} grants; "
        f"{len(made.events)} discharge events = {len(made.good)} + {made.repeated_adjacent} repeated right after "
        f"+ {made.repeated_later} repeated much later + {len(made.malformed)} malformed "
        f"({len(CLAIM_KINDS) + len(RAW_KINDS) + 1} kinds); {len(made.bad_grants)} malformed grants "
        f"[{time.monotonic() - began:.1f}s]")
    say("reference run (no faults):")
    reference = run_pipeline(made, work / "reference", None, seed=seed, timeout=timeout, say=say, env=env, stall=stall)
    say(f"  done in {reference.seconds:.1f}s")
    say(f"fault run ({faults.slices} slices, up to {faults.kills} SIGKILLs, 1 PostgreSQL restart):")
    fault = run_pipeline(made, work / "fault", faults, seed=seed, timeout=timeout, say=say, env=env, stall=stall)
    say(f"  done in {fault.seconds:.1f}s")
    return all_checks(made, reference, fault, faults), reference, fault


@click.command()
@click.option("--claims", default=10_000, show_default=True, help="generated claims (before repeats and malformed events)")
@click.option("--seed", default=7, show_default=True, help="seed of the input and of the faults")
@click.option("--kills", default=None, type=int, help="SIGKILLs in the fault run (default: one per 1,250 claims, at least 2)")
@click.option("--work-dir", type=click.Path(path_type=Path), default=None,
              help="where the runs keep their parts and logs (default: a new temporary directory)")
@click.option("--keep/--no-keep", default=False,
              help="keep the temporary work directory when every check passes (a --work-dir is always kept)")
@click.option("--timeout", default=600.0, show_default=True, help="seconds each run may take")
@click.option("--driver", type=click.Choice(list(DRIVERS)), default=None,
              help="the workers' driver (ONESTOP_DRIVER; default: the environment's, else faust)")
def chaos(claims: int, seed: int, kills: int | None, work_dir: Path | None, keep: bool, timeout: float,
          driver: str | None) -> None:
    """Settle a generated year twice, without and with faults (SIGKILLed workers, a PostgreSQL restart),
    and check exactly-once settlement, balances, rejections, identical ledgers and clean logs."""
    work = work_dir or Path(tempfile.mkdtemp(prefix="onestop-chaos-"))
    faults = Faults(kills=kills if kills is not None else max(2, claims // 1250))
    began = time.monotonic()
    env = {"ONESTOP_DRIVER": driver} if driver else {}
    click.echo(f"work directory {work}; driver {driver or driver_name()}")
    checks, reference, fault = run_chaos(claims, seed, faults, work, click.echo, timeout, env)
    for check in checks:
        click.echo(check.line())
    failed = [c for c in checks if not c.ok]
    click.echo(f"{len(checks) - len(failed)}/{len(checks)} checks passed in {time.monotonic() - began:.1f}s "
               f"(reference run {reference.seconds:.1f}s, {_settled_in(reference)}; "
               f"fault run {fault.seconds:.1f}s, {_settled_in(fault)})")
    if failed or keep or work_dir is not None:
        click.echo(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        raise SystemExit(1)
