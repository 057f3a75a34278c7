"""National load: a discrete-event simulation of the settlement pipeline, and a sizing search.

    .venv/bin/python -m bench.national                 # 30 s of the national peak, simulated in about a second
    .venv/bin/python -m bench.national --plan          # the smallest configuration for p99 ≤ 800 ms, its cost (~15 s)
    .venv/bin/python -m bench.national --regional      # every province its own cell, each sized the same way
    .venv/bin/python -m bench.national --calibrate     # the model against the benchmark measured on this machine

The plan, its assumptions and the figures of these commands: docs/national-load.md.

What it models (README "Topics", "How the live system keeps every fen"; bench/pipeline): a claim is
published on `claims.discharged`, read by intake, then by each payer of its route in the chain's
order (basic, critical, then tilt / supplementary / emergency relief / assistance / secondary /
re-assistance / poverty relief as its person's categories have them), then by the ledger, which
publishes the record on `settlements.completed`. Every stage is a consumer group of N instances;
every topic has P partitions keyed by the person (`psn_no`); a partition is read by one instance
at a time, in order; an instance is one Python process (one core at most) that takes what it has
fetched of its partitions — up to `ONESTOP_BATCH_MAX` (500) messages — as one batch: its CPU work,
then one PostgreSQL transaction per database node the batch's persons live on, then sending the
output and waiting for the broker's acknowledgement; only then does it take the next batch. The
next stage sees the output after a fetch delay (per partition in order; on the embedded broker in
fetch cycles, so what arrived during one cycle is one batch, as measured). The ledger marks its
records published in a second transaction after the send, and (as the code stands) holds
`LOCK TABLE settlements IN EXCLUSIVE MODE` while it writes them: one lock for every ledger
instance (`--ledger-lock off` models its removal).

PostgreSQL is a Citus cluster distributed by `psn_no`: D worker nodes with C cores each; every
transaction is served by one core of the node holding its persons (first come, first served).
With `--align downstream` (the default) the workers' own producers partition `claims.pay.*` and
`claims.ledger` by the person's Citus shard, so partition p's persons live on node p·D/P;
`claims.discharged`, written by hospitals with Kafka's default partitioner, is not aligned, so an
intake batch touches every node. A person's share of the load: most claims come from people with
a claim now and then (their partition is uniform); `--heavy-share` of them come from a Zipf-ranked
set of heavy users (dialysis, chemotherapy), each on one fixed partition; `--hot-rate` adds one
person sending a burst (a hospital re-publishing a backlog): their claims serialise on one
partition, which no number of instances can speed up.

Where the numbers come from. Measured on this machine (2 cores, AMD EPYC; README "Benchmarks";
bench/results/pipeline-aiokafka-2026-11-22.json, commit edca437): CPU seconds per process over the
saturation phase (6,000 claims) and the 100/s phase give each stage's CPU per claim and per batch
(STAGE_COSTS; fitted so that `--calibrate` reproduces the measured CPU seconds of both phases);
PostgreSQL's CPU (3.52 s at saturation, 2.29 s at 100/s) gives its cost per claim and per
transaction; the plain aiokafka chain's per-hop latency (≈ 30 ms on the embedded broker) gives the
hop delay. `--calibrate` runs the benchmark's own set-up through the model: it comes within 1–20 %
of the measured latencies, throughput and CPU seconds, slightly optimistic near saturation (563/s
against 517/s; p99 at 500/s 1,096 against 1,337 ms). Assumed, and named as such: the split of
PostgreSQL's CPU between the stages, the penalty for a database of billions of rows instead of
20,000 (`--db-penalty`, default 3 ×), Citus's routing overhead, round-trip and commit times of a
real network and a synchronous standby, a real Kafka's hop delay (`--broker kafka`), the share of
claims from people with a hardship category (10 %), and every price. The route mix of people with
a category is the generator's (bench/generator.py, the same mix the pipeline benchmark ran).

Why simulating one cell and multiplying is valid (`--cells K`): persons are independent (every
rule reads only the person's own year), partitions are keyed by person, and with aligned topics
every partition's persons live on one node; so P partitions, N instances per stage and D nodes
split into K identical cells of P/K partitions, N/K instances and D/K nodes carrying 1/K of the
load, with no message between cells. What is shared across cells — the Kafka brokers and the
Citus coordinator — is sized apart (`cost`). One thing differs: intake's batches, not aligned,
touch every node of the nation but only the cell's nodes in the simulation (same load per node,
fewer and larger sub-transactions). Without `--cells` the whole national load is simulated (about
a second per run), which is what every figure of the doc is.

Deterministic: one seeded random generator per run. Times are floats in milliseconds (no money here).
"""
from __future__ import annotations

import argparse
import bisect
import heapq
import math
import random
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace

#: the stages in a claim's path: intake, the payers in the chain's order (schemas.codes.Payer), the ledger
STAGES = ("intake", "basic", "critical", "tilt", "supplementary", "emergency_relief", "assistance", "secondary",
          "re_assistance", "poverty_relief", "ledger")
INTAKE, LEDGER = 0, len(STAGES) - 1
INDEX = {name: i for i, name in enumerate(STAGES)}


@dataclass(frozen=True)
class StageCost:
    """What one batch of a stage costs: worker CPU per batch and per claim (ms, this machine's
    cores), PostgreSQL CPU per claim (ms, before `db_penalty`), statements per batch (network round
    trips) and transactions per batch (the ledger's second marks its records published)."""
    claim_cpu: float
    batch_cpu: float
    db_claim: float
    round_trips: int
    transactions: int = 1


#: Measured CPU seconds (bench/results/pipeline-aiokafka-2026-11-22.json): saturation (6,000 claims, 11.6 s)
#: intake 2.20, basic 1.74, critical 1.85, assistance 1.21 (3,183 claims), ledger 2.90, PostgreSQL 3.52;
#: 100/s (1,000 claims, 10.2 s) intake 2.10, basic 0.94, critical 0.76, ledger 1.04, PostgreSQL 2.29; every
#: worker 0.008 cores at rest. Per claim: the saturation figure less its few batches; per batch: what the
#: small batches of the 100/s phase add (fitted with --calibrate, which prints both phases side by side).
#: The small payers' batches were too few to separate, so they take basic's figures. PostgreSQL's CPU per
#: claim (0.54 ms in all) is split between the stages by their statements (assumed).
STAGE_COSTS: dict[str, StageCost] = {
    "intake": StageCost(claim_cpu=0.326, batch_cpu=5.1, db_claim=0.18, round_trips=8),
    "basic": StageCost(claim_cpu=0.264, batch_cpu=1.8, db_claim=0.07, round_trips=4),
    "critical": StageCost(claim_cpu=0.285, batch_cpu=1.2, db_claim=0.07, round_trips=4),
    **{name: StageCost(claim_cpu=0.29, batch_cpu=2.5, db_claim=0.07, round_trips=4)
       for name in ("tilt", "supplementary", "emergency_relief", "secondary", "re_assistance", "poverty_relief")},
    "assistance": StageCost(claim_cpu=0.352, batch_cpu=1.5, db_claim=0.07, round_trips=4),
    "ledger": StageCost(claim_cpu=0.445, batch_cpu=1.4, db_claim=0.18, round_trips=8, transactions=2),
}
#: PostgreSQL CPU per transaction (ms): begin, locks, commit, its share of background work (fitted, see above)
TX_CPU_MS = 0.8
#: the broker's CPU per message produced and fetched (ms): 2.97 s for 6,000 claims of ~5.2 messages (measured)
BROKER_MS_PER_MESSAGE = 0.095

#: Routes of the generator's claims of people with a category (5,107 of 6,000, bench/generator.py, seed 7):
#: how many took each route. People without a category take basic → critical.
ROUTES_WITH_CATEGORY = (
    (1620, ("basic", "critical")),
    (866, ("basic", "critical", "assistance", "secondary")),
    (740, ("basic", "critical", "assistance")),
    (595, ("basic", "critical", "supplementary", "assistance")),
    (581, ("basic", "critical", "assistance", "re_assistance")),
    (458, ("basic", "critical", "tilt", "assistance")),
    (169, ("basic", "critical", "re_assistance")),
    (78, ("basic", "critical", "tilt", "emergency_relief", "assistance", "poverty_relief")),
)
#: the benchmark's own mix: 5,107 of its 6,000 claims were of people with a category
BENCH_CATEGORY_SHARE = 5107 / 6000

#: Hop delays (ms): the producer's linger and acknowledgement (the instance waits for it), then the
#: fetch delay before the next consumer sees the record: at least lo, at most hi. "embedded": the Tansu
#: broker, measured — the plain chain's ≈ 30 ms per hop at 100/s, p99 within ≈ 10 ms of it; it answers
#: fetches in cycles (it sleeps half the 100 ms fetch wait after one), so a consumer sees what arrived
#: during a cycle at once, at its own cycle's next turn (cycled=True). "kafka": a real cluster in one
#: zone with acks=all: a waiting fetch returns as soon as a record is there (assumed).
BROKERS = {"embedded": (5.0, 10.0, 40.0, True), "kafka": (7.0, 0.5, 3.0, False)}

#: Measured phases of the pipeline benchmark (same file) for --calibrate: name, offered/s, claims,
#: p50, p99, max (ms), throughput/s, CPU seconds per process, wall seconds
MEASURED = (
    ("100/s × 10s", 100.0, 1000, 203.9, 316.3, 400.7, 97.8,
     {"intake": 2.10, "basic": 0.94, "critical": 0.76, "assistance": 0.64, "ledger": 1.04, "postgres": 2.29,
      "broker": 2.50}, 10.24),
    ("500/s × 10s", 500.0, 5000, 804.4, 1337.1, 1541.5, 465.7,
     {"intake": 2.24, "basic": 1.57, "critical": 1.62, "assistance": 1.37, "ledger": 2.29, "postgres": 4.22,
      "broker": 3.31}, 10.76),
    ("saturation 6000", None, 6000, 8042.5, 11446.0, 11464.1, 517.3,
     {"intake": 2.20, "basic": 1.74, "critical": 1.85, "assistance": 1.21, "ledger": 2.90, "postgres": 3.52,
      "broker": 2.97}, 11.63),
)


@dataclass(frozen=True)
class Config:
    # the load
    outpatient_per_s: float = 4000.0
    inpatient_per_s: float = 150.0
    seconds: float = 30.0            # simulated peak window; arrivals stop after it, then the pipeline drains
    profile: str = "burst"           # flat | burst | diurnal (a day's shape compressed into the window)
    burst_factor: float = 1.3        # burst: the rate × this, for burst_seconds from a third of the window
    burst_seconds: float = 3.0
    category_share: float = 0.10     # share of claims from people with a hardship category (assumed)
    heavy_share: float = 0.02        # share of claims from heavy users, Zipf-ranked (assumed)
    heavy_persons: int = 2000
    zipf: float = 1.0
    hot_rate: float = 0.0            # one person publishing this many claims/s (a backlog re-published)
    # the deployment
    partitions: int = 64
    instances: tuple[tuple[str, int], ...] = ()   # per stage; missing stages: 2
    db_nodes: int = 2
    db_cores: int = 8
    align: str = "downstream"        # none | downstream | all: which topics are partitioned by Citus shard
    ledger_lock: bool = True         # LOCK TABLE settlements per ledger batch, as the code stands
    broker: str = "embedded"
    batch_max: int = 500
    cells: int = 1                   # simulate 1/cells of partitions, instances, nodes and load
    # costs of the work
    costs: tuple[tuple[str, StageCost], ...] = ()  # overrides of STAGE_COSTS
    cpu_scale: float = 1.0           # production core time / this machine's core time
    db_penalty: float = 3.0          # PostgreSQL per-claim CPU × this: billions of rows, not 20,000 (assumed)
    citus_overhead: float = 1.2      # × PostgreSQL CPU for Citus's planning and routing (assumed)
    tx_cpu: float = TX_CPU_MS
    rtt_ms: float = 0.3              # worker ↔ database round trip (assumed; in one zone)
    commit_ms: float = 2.0           # WAL flush and synchronous standby (assumed)
    lock_claim_ms: float = 0.03      # the ledger's insert per record while it holds the lock (assumed)
    shared_cores: int = 0            # >0: every process shares this many cores (the measured machine)
    background_cores: float = 0.0    # with shared_cores: cores taken by processes at rest
    # failure
    kill: str = ""                   # "STAGE@SECONDS": an instance of STAGE dies then
    rebalance_s: float = 10.0        # until its partitions are reassigned (the session timeout)
    commit_interval_s: float = 1.0   # offsets committed every second: that much work is redelivered
    drain_s: float = 30.0            # how long after the window the run may take to settle the rest
    seed: int = 11

    def instances_of(self, stage: str) -> int:
        return dict(self.instances).get(stage, 2)

    def cost_of(self, stage: str) -> StageCost:
        return dict(self.costs).get(stage, STAGE_COSTS[stage])

    @property
    def offered_per_s(self) -> float:
        return self.outpatient_per_s + self.inpatient_per_s

    def with_instances(self, **changes: int) -> Config:
        now = {name: self.instances_of(name) for name in STAGES}
        now.update(changes)
        return replace(self, instances=tuple(now.items()))


def visit_shares(category_share: float) -> dict[str, float]:
    """The share of claims each stage handles."""
    total = sum(w for w, _ in ROUTES_WITH_CATEGORY)
    shares = {name: 0.0 for name in STAGES}
    shares["intake"] = shares["ledger"] = 1.0
    shares["basic"] = shares["critical"] = 1.0
    for weight, route in ROUTES_WITH_CATEGORY:
        for name in route[2:]:
            shares[name] += category_share * weight / total
    return shares


# ---------------------------------------------------------------------------------------------- model


class Pool:
    """c identical servers, first come first served: exact as long as jobs are offered in time order."""
    __slots__ = ("free", "busy")

    def __init__(self, servers: int) -> None:
        self.free = [0.0] * max(1, servers)
        self.busy = 0.0

    def serve(self, now: float, demand: float) -> float:
        start = heapq.heappop(self.free)
        end = (start if start > now else now) + demand
        heapq.heappush(self.free, end)
        self.busy += demand
        return end


class Claim:
    __slots__ = ("t0", "route", "hop", "part_in", "part_down", "node", "inpatient", "hot", "dup", "settled")

    def __init__(self, t0, route, part_in, part_down, node, inpatient, hot, dup=False):
        self.t0, self.route, self.hop = t0, route, 0
        self.part_in, self.part_down, self.node = part_in, part_down, node
        self.inpatient, self.hot, self.dup, self.settled = inpatient, hot, dup, -1.0

    def again_at(self, stage: int) -> Claim:
        """The same message delivered to ``stage`` once more (a redelivery after a crash)."""
        twin = Claim(self.t0, self.route, self.part_in, self.part_down, self.node, self.inpatient, self.hot, True)
        twin.hop = self.route.index(stage)
        return twin


class Instance:
    __slots__ = ("stage", "index", "queue", "busy", "alive", "batch", "started", "busy_ms", "cpu_ms", "batches",
                 "messages", "done_recent", "core", "waking", "work_ms", "in_window")

    def __init__(self, stage: int, index: int) -> None:
        self.stage, self.index = stage, index
        self.queue: deque[Claim] = deque()
        self.busy, self.alive = False, True
        self.batch: list[Claim] = []
        self.started = 0.0
        self.busy_ms = self.cpu_ms = 0.0
        self.work_ms = 0.0  # the per-claim part of its batches (CPU and database), within the window
        self.in_window = 0  # messages it finished within the window
        self.batches = self.messages = 0
        self.done_recent: deque[tuple[float, list[Claim]]] = deque()
        self.core = 0.0  # when its own core is free (dedicated cores)
        self.waking = False  # a start is due at this instant, after everything else seen at it


@dataclass
class StageResult:
    name: str
    instances: int
    partitions_per_instance: str
    claims_per_s: float   # handled within the window
    load: float           # per-claim work (CPU + database, a batch's nodes side by side) / window, mean: 1 = saturated
    load_max: float       #   the busiest instance's (batches grow with the load, so `busy` is not saturation)
    busy: float           # mean fraction of the window the stage's instances were in a batch (any size)
    busy_max: float
    cpu: float            # mean fraction of a core
    mean_batch: float
    peak_lag: int         # messages on the stage's topic not yet handled, peak
    peak_partition_lag: int


@dataclass
class Result:
    config: Config
    offered: int
    settled: int
    unsettled: int
    window_s: float
    throughput_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    inpatient_p99_ms: float
    keeps_up: bool
    backlog_peak: int
    backlog_slope_per_s: float
    drained_after_s: float
    stages: list[StageResult]
    db_util_mean: float
    db_util_max: float
    db_tx_per_s: float
    db_claims_per_tx: float
    lock_util: float          # the ledger's table lock: fraction of the window it was held
    lock_load: float          #   its per-record part (the rest amortises over bigger batches)
    broker_messages_per_s: float
    hot_claims: int = 0
    hot_settled_in_window: int = 0
    hot_throughput_per_s: float = 0.0
    hot_partition_peak_lag: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    last_settled_s: float = 0.0
    wall_s: float = 0.0

    def meets(self, target_ms: float, max_util: float = 1.0) -> bool:
        return (self.keeps_up and self.p99_ms <= target_ms and self.db_util_max <= max_util
                and self.lock_load <= max_util and all(s.load_max <= max_util for s in self.stages))

    def stage(self, name: str) -> StageResult:
        return next(s for s in self.stages if s.name == name)


def _rate_factor(cfg: Config, t_ms: float) -> float:
    window = cfg.seconds * 1000.0
    if cfg.profile == "flat":
        return 1.0
    if cfg.profile == "burst":
        start = window / 3.0
        return cfg.burst_factor if start <= t_ms < start + cfg.burst_seconds * 1000.0 else 1.0
    if cfg.profile == "diurnal":
        hour = int(24 * t_ms / window) % 24
        return DIURNAL[hour]
    raise ValueError(f"unknown profile {cfg.profile!r}: flat, burst or diurnal")


#: A day's shape of outpatient settlements, peak hour = 1 (assumed: clinics open 8–12 and 14–17,
#: the morning peak at 9–10; inpatient discharges follow the same hours). Its mean, 0.32, is what
#: the peak hour's rate must be multiplied by for a day's average.
DIURNAL = (0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.25, 0.80, 1.00, 0.95, 0.75,
           0.35, 0.30, 0.70, 0.75, 0.65, 0.40, 0.20, 0.15, 0.12, 0.08, 0.05, 0.03)


def _assignment(partitions: int, alive: list[int]) -> list[int]:
    """Kafka's range assignor over one topic: contiguous blocks, the first ones one larger."""
    owner = [0] * partitions
    n = len(alive)
    per, extra = divmod(partitions, n)
    at = 0
    for k, inst in enumerate(alive):
        size = per + (1 if k < extra else 0)
        for p in range(at, at + size):
            owner[p] = inst
        at += size
    return owner


def simulate(cfg: Config) -> Result:
    began = time.perf_counter()
    if cfg.cells < 1:
        raise ValueError("cells must be at least 1")
    P = cfg.partitions // cfg.cells
    D = max(1, cfg.db_nodes // cfg.cells)
    counts = [max(0, cfg.instances_of(name) // cfg.cells) for name in STAGES]
    if cfg.cells > 1 and (cfg.partitions % cfg.cells or cfg.db_nodes % cfg.cells
                          or any(cfg.instances_of(n) % cfg.cells for n in STAGES if cfg.instances_of(n))):
        raise ValueError("with --cells K, partitions, database nodes and every stage's instances must divide by K")
    if P < 1:
        raise ValueError("fewer partitions than cells")
    rng = random.Random(cfg.seed)
    costs = [cfg.cost_of(name) for name in STAGES]
    ack_ms, fetch_lo, fetch_hi, cycled = BROKERS[cfg.broker]
    fetch_span = fetch_hi - fetch_lo
    window = cfg.seconds * 1000.0
    scale = 1.0 / cfg.cells
    aligned_in = cfg.align == "all"
    aligned_down = cfg.align in ("downstream", "all")
    shared = Pool(cfg.shared_cores) if cfg.shared_cores else None
    db = [Pool(cfg.db_cores) for _ in range(D)] if not shared else [shared] * D
    lock = Pool(1)
    db_factor = cfg.citus_overhead if D > 1 or cfg.db_nodes > 1 else 1.0

    # --- the claims, their persons, partitions and nodes
    totals = sum(w for w, _ in ROUTES_WITH_CATEGORY)
    cat_weights = [w / totals for w, _ in ROUTES_WITH_CATEGORY]
    cat_routes = [tuple(INDEX[n] for n in ("intake", *r, "ledger")) for _, r in ROUTES_WITH_CATEGORY]
    plain_route = cat_routes[0]
    cat_cum = [sum(cat_weights[:i + 1]) for i in range(len(cat_weights))]

    def node_of_shard(shard: int) -> int:
        return shard * D // P

    heavy_cum = []
    acc = 0.0
    for k in range(1, cfg.heavy_persons + 1):
        acc += 1.0 / k ** cfg.zipf
        heavy_cum.append(acc)
    heavy_place = [(rng.randrange(P), rng.randrange(P)) for _ in range(cfg.heavy_persons)]  # (murmur, shard)

    rate = cfg.offered_per_s * scale / 1000.0  # per ms
    inpatient_share = cfg.inpatient_per_s / cfg.offered_per_s if cfg.offered_per_s else 0.0
    peak_factor = max(cfg.burst_factor, 1.0) if cfg.profile == "burst" else 1.0
    claims: list[Claim] = []
    t = 0.0
    if rate > 0:
        while True:
            t += rng.expovariate(rate * peak_factor)
            if t >= window:
                break
            if rng.random() * peak_factor > _rate_factor(cfg, t):
                continue
            u = rng.random()
            if u < cfg.heavy_share and cfg.heavy_persons:
                k = bisect.bisect_left(heavy_cum, rng.random() * heavy_cum[-1])
                part_in, shard = heavy_place[k]
            else:
                part_in, shard = rng.randrange(P), rng.randrange(P)
            route = plain_route
            if rng.random() < cfg.category_share:
                route = cat_routes[bisect.bisect_left(cat_cum, rng.random() * cat_cum[-1])]
            part_down = shard if aligned_down else part_in  # unaligned: every topic by the same key hash
            if aligned_in:
                part_in = part_down
            claims.append(Claim(t, route, part_in, part_down, node_of_shard(shard),
                                rng.random() < inpatient_share, False))
    if cfg.hot_rate > 0:
        t = 0.0
        while True:
            t += rng.expovariate(cfg.hot_rate / 1000.0)
            if t >= window:
                break
            claims.append(Claim(t, plain_route, 0, 0, 0, False, True))
        claims.sort(key=lambda c: c.t0)

    # --- the consumers
    instances = [[Instance(s, i) for i in range(counts[s])] for s in range(len(STAGES))]
    owners = [_assignment(P, list(range(counts[s]))) if counts[s] else [-1] * P for s in range(len(STAGES))]
    last_visible = [[0.0] * P for _ in STAGES]
    pending = [0] * len(STAGES)
    part_pending = [[0] * P for _ in STAGES]
    peak_pending = [0] * len(STAGES)
    peak_part = [0] * len(STAGES)

    phases = [[rng.random() * fetch_span for _ in range(max(1, counts[s]))] for s in range(len(STAGES))]
    reader_phase = rng.random() * fetch_span  # the consumer of settlements.completed

    def seen(at: float, phase: float) -> float:
        """When a record produced at ``at`` is seen by a consumer whose fetch cycle turns at ``phase``."""
        if not cycled:
            return at + fetch_lo + rng.random() * fetch_span
        at += fetch_lo
        return phase + math.ceil((at - phase) / fetch_span) * fetch_span

    # intake visibility: in publish order, each partition in order
    arrivals: list[tuple[float, Claim]] = []
    for c in claims:
        p = c.part_in
        vis = seen(c.t0 + ack_ms, phases[INTAKE][owners[INTAKE][p]])
        if vis < last_visible[INTAKE][p]:
            vis = last_visible[INTAKE][p]
        last_visible[INTAKE][p] = vis
        arrivals.append((vis, c))
    arrivals.sort(key=lambda a: a[0])

    heap: list = []
    counter = 0
    settle_ms: list[float] = []
    inpatient_ms: list[float] = []
    hot_settled = 0
    settled_count = 0
    published_count = 0
    db_tx = 0
    db_claims = 0
    db_cpu = 0.0
    lock_per_record = 0.0
    broker_messages = 0
    cpu_by_stage = [0.0] * len(STAGES)
    db_busy_window = [0.0] * D
    samples: list[tuple[float, int]] = []
    hot_part_peak = 0

    CPU_DONE, LOCKED, SENT, FREE, VISIBLE, SAMPLE, KILL, REASSIGN, BACKGROUND, WAKE = range(10)

    def push(at: float, kind: int, data) -> None:
        nonlocal counter
        counter += 1
        heapq.heappush(heap, (at, counter, kind, data))

    def start(inst: Instance, now: float) -> None:
        q = inst.queue
        n = len(q) if len(q) < cfg.batch_max else cfg.batch_max
        inst.batch = [q.popleft() for _ in range(n)]
        inst.busy = True
        inst.started = now
        cost = costs[inst.stage]
        cpu = (cost.batch_cpu + n * cost.claim_cpu) * cfg.cpu_scale
        if now < window:
            inst.work_ms += n * cost.claim_cpu * cfg.cpu_scale
        inst.cpu_ms += cpu
        cpu_by_stage[inst.stage] += cpu
        if shared is not None:
            end = shared.serve(now, cpu)
        else:
            end = (inst.core if inst.core > now else now) + cpu
            inst.core = end
        push(end, CPU_DONE, inst)

    def transactions(now: float, batch: list[Claim], per_claim: float, statements: int, commit: bool,
                     inst: Instance | None = None) -> float:
        """One transaction per node the batch's persons live on, side by side; when the last commits."""
        nonlocal db_tx, db_claims, db_cpu
        by_node: dict[int, int] = {}
        for c in batch:
            by_node[c.node] = by_node.get(c.node, 0) + 1
        if inst is not None and now < window and by_node:
            inst.work_ms += max(by_node.values()) * per_claim * cfg.db_penalty * db_factor
        end = now
        extra = statements * cfg.rtt_ms + (cfg.commit_ms if commit else 0.0)
        for node, k in by_node.items():
            demand = (cfg.tx_cpu + k * per_claim * cfg.db_penalty) * db_factor
            fin = db[node].serve(now, demand) + extra
            db_cpu += demand
            if now < window:
                db_busy_window[node] += demand
            db_tx += 1
            db_claims += k
            if fin > end:
                end = fin
        return end

    def offer(s: int, p: int, msgs: list[Claim], at: float) -> None:
        """Records produced at ``at`` to stage s's topic, partition p: visible after a fetch delay, in order."""
        nonlocal broker_messages
        vis = seen(at, phases[s][owners[s][p]])
        if vis < last_visible[s][p]:
            vis = last_visible[s][p]
        last_visible[s][p] = vis
        pending[s] += len(msgs)
        part_pending[s][p] += len(msgs)
        broker_messages += len(msgs)
        if part_pending[s][p] > peak_part[s]:
            peak_part[s] = part_pending[s][p]
        if pending[s] > peak_pending[s]:
            peak_pending[s] = pending[s]
        push(vis, VISIBLE, (s, p, msgs))

    def visible(s: int, p: int, msgs: list[Claim], now: float) -> None:
        inst = instances[s][owners[s][p]]
        inst.queue.extend(msgs)
        if not inst.busy and inst.alive and not inst.waking:
            inst.waking = True  # what one fetch returns at this instant is one batch
            push(now, WAKE, inst)

    def sent(inst: Instance, now: float) -> None:
        """The broker acknowledged the batch's output: pass each claim on, or settle it."""
        nonlocal settled_count, hot_settled
        s = inst.stage
        batch = inst.batch
        n = len(batch)
        pending[s] -= n
        pp = part_pending[s]
        for c in batch:
            pp[c.part_in if s == INTAKE else c.part_down] -= 1
        inst.batches += 1
        inst.messages += n
        if now <= window:
            inst.in_window += n
        if shared is not None:
            shared.serve(now, n * BROKER_MS_PER_MESSAGE)
        if s == LEDGER:
            seen_at = seen(now, reader_phase)
            for c in batch:
                if c.dup or c.settled >= 0:
                    continue
                c.settled = seen_at
                settled_count += 1
                latency = seen_at - c.t0
                settle_ms.append(latency)
                if c.inpatient:
                    inpatient_ms.append(latency)
                if c.hot and seen_at <= window:
                    hot_settled += 1
        else:
            groups: dict[tuple[int, int], list[Claim]] = {}
            for c in batch:
                c.hop += 1
                nxt = c.route[c.hop]
                key = (nxt, c.part_down)
                g = groups.get(key)
                if g is None:
                    groups[key] = [c]
                else:
                    g.append(c)
            for (nxt, p), msgs in groups.items():
                offer(nxt, p, msgs, now)
        if cfg.kill:
            inst.done_recent.append((now, batch))
            while inst.done_recent and inst.done_recent[0][0] < now - cfg.commit_interval_s * 1000.0:
                inst.done_recent.popleft()
        if costs[s].transactions > 1:  # the ledger marks its records published
            end = transactions(now, batch, 0.01, 1, True)
            push(end, FREE, inst)
        else:
            free(inst, now)

    def free(inst: Instance, now: float) -> None:
        if now <= window:
            inst.busy_ms += now - inst.started
        elif inst.started < window:
            inst.busy_ms += window - inst.started
        inst.busy = False
        inst.batch = []
        if inst.alive and inst.queue:
            start(inst, now)

    for s in range(len(STAGES)):
        if not counts[s]:
            raise ValueError(f"stage {STAGES[s]} has no instance")
    push(0.0, SAMPLE, None)
    if shared is not None and cfg.background_cores > 0:
        push(0.0, BACKGROUND, None)
    if cfg.kill:
        name, _, at = cfg.kill.partition("@")
        push(float(at) * 1000.0, KILL, INDEX[name])
    horizon = window + cfg.drain_s * 1000.0
    total = len(claims)
    ai = 0
    now = 0.0
    while True:
        if ai < len(arrivals) and (not heap or arrivals[ai][0] <= heap[0][0]):
            now, c = arrivals[ai]
            ai += 1
            pending[INTAKE] += 1
            pp = part_pending[INTAKE]
            pp[c.part_in] += 1
            if pp[c.part_in] > peak_part[INTAKE]:
                peak_part[INTAKE] = pp[c.part_in]
            if pending[INTAKE] > peak_pending[INTAKE]:
                peak_pending[INTAKE] = pending[INTAKE]
            published_count += 1
            visible(INTAKE, c.part_in, [c], now)
            continue
        if not heap:
            break
        now, _, kind, data = heapq.heappop(heap)
        if now > horizon:
            break
        if kind == VISIBLE:
            visible(data[0], data[1], data[2], now)
        elif kind == WAKE:
            data.waking = False
            if not data.busy and data.alive and data.queue:
                start(data, now)
        elif kind == CPU_DONE:
            inst = data
            cost = costs[inst.stage]
            hold_lock = inst.stage == LEDGER and cfg.ledger_lock
            end = transactions(now, inst.batch, cost.db_claim, cost.round_trips, not hold_lock, inst)
            if hold_lock:
                push(end, LOCKED, inst)
            else:
                push(end + ack_ms, SENT, inst)
        elif kind == LOCKED:
            inst = data
            # LOCK TABLE settlements … insert the records … commit: one holder at a time, cluster-wide
            per_record = len(inst.batch) * cfg.lock_claim_ms * cfg.db_penalty
            hold = 2 * cfg.rtt_ms + cfg.commit_ms + per_record
            if now < window:
                lock_per_record += per_record
            push(lock.serve(now, hold) + ack_ms, SENT, inst)
        elif kind == SENT:
            if data.alive:
                sent(data, now)
        elif kind == FREE:
            if data.alive:
                free(data, now)
        elif kind == SAMPLE:
            backlog = published_count - settled_count
            samples.append((now, backlog))
            for s in range(len(STAGES)):
                if pending[s] > peak_pending[s]:
                    peak_pending[s] = pending[s]
            if cfg.hot_rate > 0:
                hot_part_peak = max(hot_part_peak, max(part_pending[s][0] for s in range(len(STAGES))))
            if ai < len(arrivals) or settled_count < total:
                push(now + 100.0, SAMPLE, None)
        elif kind == BACKGROUND:
            shared.serve(now, 10.0 * cfg.background_cores)
            if ai < len(arrivals) or settled_count < total:
                push(now + 10.0, BACKGROUND, None)
        elif kind == KILL:
            s = data
            victim = instances[s][0]
            victim.alive = False
            lost = list(victim.batch) if victim.busy else []
            # what it handled since its last offset commit is delivered again (the ledger makes it harmless)
            redelivered = [c.again_at(s) for _, batch in victim.done_recent for c in batch]
            for c in redelivered:
                pending[s] += 1
                part_pending[s][c.part_in if s == INTAKE else c.part_down] += 1
            if victim.busy:
                free(victim, now)
            victim.queue = deque(redelivered + lost + list(victim.queue))
            push(now + cfg.rebalance_s * 1000.0, REASSIGN, s)
        elif kind == REASSIGN:
            s = data
            alive = [i for i, inst in enumerate(instances[s]) if inst.alive]
            if not alive:
                continue
            dead = [inst for inst in instances[s] if not inst.alive]
            old = owners[s]
            new = list(old)
            k = 0
            for p in range(P):
                if not instances[s][old[p]].alive:
                    new[p] = alive[k % len(alive)]  # cooperative: only the dead member's partitions move
                    k += 1
            owners[s] = new
            for inst in dead:
                moved, inst.queue = inst.queue, deque()
                part_of = (lambda c: c.part_in) if s == INTAKE else (lambda c: c.part_down)
                for c in moved:
                    instances[s][new[part_of(c)]].queue.append(c)
            for i in alive:
                inst = instances[s][i]
                if not inst.busy and inst.queue:
                    start(inst, now)
        if settled_count >= total and ai >= len(arrivals) and not any(pending):
            break

    # --- figures
    settle_ms.sort()
    inpatient_ms.sort()
    unsettled = total - settled_count

    def pct(values: list[float], q: float) -> float:
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(math.ceil(q * len(values))) - 1)]

    p99 = pct(settle_ms, 0.99) if not unsettled else math.inf
    settled_in_window = sum(1 for c in claims if 0 <= c.settled <= window)
    half = [(t_, b) for t_, b in samples if window / 2 <= t_ <= window]
    slope = _slope(half) * 1000.0 if len(half) > 2 else 0.0
    last_settle = max((c.settled for c in claims), default=0.0)
    offered_rate = total / cfg.seconds if cfg.seconds else 0.0
    keeps_up = unsettled == 0 and slope <= 0.02 * offered_rate
    stages = []
    elapsed = max(now, window)
    for s, name in enumerate(STAGES):
        insts = instances[s]
        busy = [inst.busy_ms / window for inst in insts]
        load = [inst.work_ms / window for inst in insts]
        cpu = [inst.cpu_ms / elapsed for inst in insts]
        handled = sum(inst.messages for inst in insts)
        done_in_window = sum(inst.in_window for inst in insts)
        batches = sum(inst.batches for inst in insts)
        held = [sum(1 for o in owners[s] if o == i) for i in range(len(insts))]
        spread = f"{min(held)}" if min(held) == max(held) else f"{min(held)}–{max(held)}"
        stages.append(StageResult(
            name, len(insts) * cfg.cells, spread, done_in_window / cfg.seconds * cfg.cells,
            sum(load) / len(load), max(load), sum(busy) / len(busy), max(busy), sum(cpu) / len(cpu),
            handled / batches if batches else 0.0,
            peak_pending[s] * cfg.cells, peak_part[s]))
    db_util = [b / (window * (cfg.db_cores if not shared else cfg.shared_cores)) for b in db_busy_window]
    cpu_seconds = {name: cpu_by_stage[s] / 1000.0 for s, name in enumerate(STAGES)}
    cpu_seconds["postgres"] = db_cpu / 1000.0
    cpu_seconds["broker"] = (broker_messages + total) * BROKER_MS_PER_MESSAGE / 1000.0
    hot_claims = sum(1 for c in claims if c.hot)
    return Result(
        config=cfg, offered=total * cfg.cells, settled=settled_count * cfg.cells, unsettled=unsettled * cfg.cells,
        window_s=cfg.seconds, throughput_per_s=settled_in_window / cfg.seconds * cfg.cells,
        p50_ms=pct(settle_ms, 0.50), p99_ms=p99, max_ms=settle_ms[-1] if settle_ms and not unsettled else math.inf,
        inpatient_p99_ms=pct(inpatient_ms, 0.99) if not unsettled else math.inf,
        keeps_up=keeps_up, backlog_peak=max((b for _, b in samples), default=0) * cfg.cells,
        backlog_slope_per_s=slope * cfg.cells, drained_after_s=max(0.0, (last_settle - window) / 1000.0),
        stages=stages, db_util_mean=sum(db_util) / len(db_util), db_util_max=max(db_util),
        db_tx_per_s=db_tx / (elapsed / 1000.0) * cfg.cells, db_claims_per_tx=db_claims / db_tx if db_tx else 0.0,
        lock_util=lock.busy / window, lock_load=lock_per_record / window,
        broker_messages_per_s=(broker_messages + total) / (elapsed / 1000.0) * cfg.cells,
        hot_claims=hot_claims, hot_settled_in_window=hot_settled,
        hot_throughput_per_s=hot_settled / cfg.seconds, hot_partition_peak_lag=hot_part_peak,
        cpu_seconds=cpu_seconds, last_settled_s=last_settle / 1000.0, wall_s=time.perf_counter() - began)


def _slope(points: list[tuple[float, int]]) -> float:
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


# ---------------------------------------------------------------------------------------- calibration


def calibration_config(offered_per_s: float, seconds: float) -> Config:
    """The measured benchmark's set-up: one instance per worker, 4 partitions, one PostgreSQL and the
    broker on the same 2 cores (with what the 17 processes use at rest), the benchmark's route mix."""
    return Config(outpatient_per_s=offered_per_s, inpatient_per_s=0.0, seconds=seconds, profile="flat",
                  category_share=BENCH_CATEGORY_SHARE, heavy_share=0.0, partitions=4,
                  instances=tuple((name, 1) for name in STAGES), db_nodes=1, db_cores=2, align="none",
                  broker="embedded", db_penalty=1.0, citus_overhead=1.0, rtt_ms=0.05, commit_ms=0.5,
                  shared_cores=2, background_cores=0.3, drain_s=120.0, seed=7)


def calibrate() -> list[str]:
    lines = ["the model against the measured pipeline (bench/results/pipeline-aiokafka-2026-11-22.json): "
             "4 partitions, one instance per worker, every process on the same 2 cores",
             f"{'phase':<17}{'':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'claims/s':>10}"
             "   CPU seconds intake / basic / "
             "critical / assistance / ledger / postgres / broker"]
    for name, rate, claims, p50, p99, top, thr, cpu, _wall in MEASURED:
        seconds = 10.0 if rate else 0.343
        r = simulate(calibration_config(rate or claims / seconds, seconds))
        through = r.throughput_per_s if rate else r.settled / r.last_settled_s
        keys = ("intake", "basic", "critical", "assistance", "ledger", "postgres", "broker")
        lines.append(f"{name:<17}{'measured':>9}{p50:>9,.0f}{p99:>9,.0f}{top:>9,.0f}{thr:>10,.0f}   "
                     + " / ".join(f"{cpu[k]:.2f}" for k in keys))
        lines.append(f"{'':<17}{'model':>9}{r.p50_ms:>9,.0f}{r.p99_ms:>9,.0f}{r.max_ms:>9,.0f}{through:>10,.0f}   "
                     + " / ".join(f"{r.cpu_seconds[k]:.2f}" for k in keys))
    lines.append("(CPU seconds: measured per process over the phase; the model's are only the work it models — "
                 "the measured ones also hold what each process spends at rest, ≈ 0.08 s per worker and 1.2 s for "
                 "the broker per 10 s)")
    return lines


# ------------------------------------------------------------------------------------------------ report


def _ms(value: float) -> str:
    return "∞ (not all settled)" if math.isinf(value) else f"{value:,.0f} ms"


def describe(cfg: Config) -> list[str]:
    ack, lo, hi, cycled = BROKERS[cfg.broker]
    prof = {"flat": "flat", "diurnal": "a day's shape (DIURNAL) compressed into the window",
            "burst": f"×{cfg.burst_factor:g} for {cfg.burst_seconds:g} s from {cfg.seconds / 3:.1f} s"}[cfg.profile]
    inst = ", ".join(f"{name} {cfg.instances_of(name)}" for name in STAGES)
    out = [f"load: {cfg.outpatient_per_s:,.0f} outpatient + {cfg.inpatient_per_s:,.0f} inpatient settlements/s, "
           f"profile {prof}; {cfg.seconds:g} s simulated" + (f" (one cell of {cfg.cells})" if cfg.cells > 1 else ""),
           f"claims of people with a hardship category: {cfg.category_share:.0%}; "
           f"heavy users: {cfg.heavy_share:.0%} of "
           f"claims from {cfg.heavy_persons:,} people (Zipf {cfg.zipf:g})"
           + (f"; one person at {cfg.hot_rate:g} claims/s" if cfg.hot_rate else ""),
           f"topics: {cfg.partitions} partitions each; instances: {inst}",
           f"PostgreSQL: {cfg.db_nodes} Citus worker node(s) × {cfg.db_cores} cores, distributed by psn_no; topics "
           f"partitioned by shard: {cfg.align}; ledger's table lock: {'on' if cfg.ledger_lock else 'off'}; "
           f"per-claim database CPU × {cfg.db_penalty:g} (size), × {cfg.citus_overhead:g} (Citus); round trip "
           f"{cfg.rtt_ms:g} ms, commit {cfg.commit_ms:g} ms",
           f"broker: {cfg.broker} — ack {ack:g} ms, then seen {lo:g}–{hi:g} ms later"
           + (" (in fetch cycles)" if cycled else "") + "; worker CPU per claim "
           f"(ms, this machine × {cfg.cpu_scale:g}): " + ", ".join(
               f"{n} {cfg.cost_of(n).claim_cpu:g}" for n in ("intake", "basic", "critical", "assistance", "ledger"))]
    if cfg.kill:
        out.append(f"failure: an instance of {cfg.kill.replace('@', ' dies at ')} s; its partitions move after "
                   f"{cfg.rebalance_s:g} s; {cfg.commit_interval_s:g} s of its work is delivered again")
    return out


def report(r: Result) -> list[str]:
    cfg = r.config
    out = describe(cfg)
    verdict = "yes" if r.keeps_up else "NO"
    out += ["",
            f"keeps up: {verdict} — {r.settled:,} of {r.offered:,} claims settled, "
            f"{r.throughput_per_s:,.0f}/s within the "
            f"window (offered {r.offered / r.window_s:,.0f}/s); backlog peak {r.backlog_peak:,}, trend "
            f"{r.backlog_slope_per_s:+,.0f}/s over the window's second half; "
            f"last settled {r.drained_after_s:.1f} s after it",
            f"publish → settlements.completed: p50 {_ms(r.p50_ms)}, p99 {_ms(r.p99_ms)}, max {_ms(r.max_ms)}; "
            f"inpatient p99 {_ms(r.inpatient_p99_ms)}",
            "",
            f"{'stage':<17}{'inst':>5}{'part/inst':>10}{'claims/s':>10}{'load':>6}{'max':>6}{'busy':>6}{'CPU':>6}"
            f"{'batch':>7}{'peak lag':>10}{'/partition':>11}"]
    for s in r.stages:
        out.append(f"{s.name:<17}{s.instances:>5}{s.partitions_per_instance:>10}{s.claims_per_s:>10,.0f}{s.load:>6.0%}"
                   f"{s.load_max:>6.0%}{s.busy:>6.0%}{s.cpu:>6.0%}{s.mean_batch:>7.0f}{s.peak_lag:>10,}"
                   f"{s.peak_partition_lag:>11,}")
    out.append("(load: per-claim CPU and database time over the window — 100% is saturation; busy: time in a batch "
               "of any size, which small batches fill at low load; CPU: a core's share)")
    out.append(f"PostgreSQL: {cfg.db_nodes} node(s) × {cfg.db_cores} cores busy {r.db_util_mean:.0%} on average, "
               f"{r.db_util_max:.0%} the busiest; {r.db_tx_per_s:,.0f} transactions/s "
               f"of {r.db_claims_per_tx:.1f} claims; "
               f"ledger's table lock held {r.lock_util:.0%} of the time ({r.lock_load:.0%} per record)")
    out.append(f"Kafka: {r.broker_messages_per_s:,.0f} messages/s produced (every topic)")
    if r.hot_claims:
        out.append(f"the hot person: {r.hot_claims:,} claims, {r.hot_settled_in_window:,} settled within the window "
                   f"({r.hot_throughput_per_s:,.0f}/s); their partition's peak lag {r.hot_partition_peak_lag:,}")
    out.append(f"(simulated in {r.wall_s:.1f} s)")
    return out


# -------------------------------------------------------------------------------------------------- plan

RESOURCES = (*STAGES, "db_nodes", "db_cores")
#: cores a Citus node may have (the search halves or doubles them): at least 8, because what the model
#: leaves out — autovacuum, checkpoints, base backups and the standby's stream of ~10 TB a node — needs some
CORE_CHOICES = (8, 16, 32, 64)


def count_of(cfg: Config, resource: str) -> int:
    if resource == "db_nodes":
        return cfg.db_nodes
    if resource == "db_cores":
        return cfg.db_cores
    return cfg.instances_of(resource)


def with_count(cfg: Config, resource: str, n: int) -> Config:
    if resource == "db_nodes":
        return replace(cfg, db_nodes=n)
    if resource == "db_cores":
        return replace(cfg, db_cores=n)
    return cfg.with_instances(**{resource: n})


def _step(cfg: Config, resource: str, up: bool) -> int | None:
    """The next count of a resource up or down, or None at its end."""
    n = count_of(cfg, resource)
    if resource == "db_cores":
        bigger = [c for c in CORE_CHOICES if c > n]
        smaller = [c for c in CORE_CHOICES if c < n]
        return (bigger[0] if bigger else None) if up else (smaller[-1] if smaller else None)
    return n + 1 if up else n - 1


def first_guess(cfg: Config, max_util: float, min_instances: int, min_db_nodes: int = 1) -> Config:
    """Instances, nodes and cores from the mean work per second alone (the search starts here)."""
    shares = visit_shares(cfg.category_share)
    peak = cfg.offered_per_s * (cfg.burst_factor if cfg.profile == "burst" else 1.0)
    per_node = cfg.citus_overhead * cfg.db_penalty
    counts = {}
    for name in STAGES:
        c = cfg.cost_of(name)
        busy_s = peak * shares[name] * (c.claim_cpu * cfg.cpu_scale + c.db_claim * per_node) / 1000.0
        counts[name] = max(min_instances, math.ceil(busy_s / max_util))
    need = peak * sum(shares[n] * cfg.cost_of(n).db_claim for n in STAGES) * per_node / 1000.0 / max_util
    nodes = max(min_db_nodes, math.ceil(need / cfg.db_cores))
    cores = next((c for c in CORE_CHOICES if nodes * c >= need), CORE_CHOICES[-1])
    return replace(cfg.with_instances(**counts), db_nodes=nodes, db_cores=cores)


@dataclass
class Plan:
    config: Config
    result: Result
    one_fewer: dict[str, Result]
    tried: list[tuple[str, Result]]
    target_ms: float
    max_util: float
    min_instances: int
    min_db_nodes: int
    reached: bool


def _utilisation(r: Result, resource: str) -> float:
    if resource in ("db_nodes", "db_cores"):
        return r.db_util_max
    return r.stage(resource).load_max


def plan(base: Config, target_ms: float = 800.0, max_util: float = 0.75, min_instances: int = 2,
         min_partitions: int = 32, growth: int = 4, min_db_nodes: int = 1, log=None) -> Plan:
    """The smallest configuration — instances per stage, Citus nodes (at least `min_db_nodes`, for
    the data), cores per node, and partitions enough for `growth` × the largest stage and 4 shards a
    node — whose simulated peak keeps up with p99 ≤ target and no stage, node or lock more than
    `max_util` loaded: from the first guess, add one of the most loaded resource until it meets;
    then take one away from each resource while it still meets, until none can go. In the last
    round every resource was tried one fewer against the configuration returned, and failed."""
    tried: list[tuple[str, Result]] = []
    seen: dict[Config, Result] = {}

    def run(cfg: Config, why: str) -> Result:
        if cfg in seen:
            return seen[cfg]
        r = seen[cfg] = simulate(cfg)
        tried.append((why, r))
        if log:
            log(f"  {why:<28} {_summary(r, target_ms, max_util)}")
        return r

    cfg = first_guess(base, max_util, min_instances, min_db_nodes)
    cfg = replace(cfg, partitions=_partitions(cfg, min_partitions, growth))
    r = run(cfg, "first guess")
    for _ in range(80):
        if r.meets(target_ms, max_util):
            break
        worst = max(RESOURCES[:-1], key=lambda res: _utilisation(r, res))
        if r.lock_load > max_util and r.lock_load >= _utilisation(r, worst):
            break  # the ledger's table lock is one for all: no instance or node added relieves it
        if worst == "db_nodes" and _step(cfg, "db_cores", True) is not None:
            worst = "db_cores"
        n = _step(cfg, worst, True)
        cfg = with_count(cfg, worst, n)
        cfg = replace(cfg, partitions=max(cfg.partitions, _partitions(cfg, min_partitions, growth)))
        r = run(cfg, f"{worst} → {n}")
    reached = r.meets(target_ms, max_util)
    one_fewer: dict[str, Result] = {}
    while reached:
        one_fewer = {}
        improved = False
        for res in sorted(RESOURCES, key=lambda x: -count_of(cfg, x) if x in STAGES else 0):
            n = _step(cfg, res, False)
            floor = {"db_nodes": min_db_nodes, "db_cores": CORE_CHOICES[0]}.get(res, min_instances)
            if n is None or n < floor:
                continue
            fewer = with_count(cfg, res, n)
            r2 = run(fewer, f"{res} → {n}")
            if r2.meets(target_ms, max_util):
                cfg, r, improved = fewer, r2, True
            else:
                one_fewer[res] = r2
        if not improved:
            break
    return Plan(cfg, r, one_fewer, tried, target_ms, max_util, min_instances, min_db_nodes, reached)


def why_not(found: Plan) -> str:
    r = found.result
    if r.lock_load > found.max_util:
        return (f"the ledger's LOCK TABLE settlements, one for every ledger instance, is held {r.lock_load:.0%} of the "
                f"time for its records alone: no instance or node relieves it (remove it: --ledger-lock off)")
    return "the search gave up (80 steps)"


def _partitions(cfg: Config, least: int, growth: int) -> int:
    """A power of two with room for `growth` × the largest consumer group (partitions cannot be
    added later without moving people between partitions, see docs/national-load.md)."""
    need = max(least, growth * max(cfg.instances_of(n) for n in STAGES), 4 * cfg.db_nodes)
    return 1 << (need - 1).bit_length()


def _summary(r: Result, target_ms: float, max_util: float) -> str:
    ok = "meets" if r.meets(target_ms, max_util) else "fails"
    busiest = max(r.stages, key=lambda s: s.load_max)
    return (f"{ok}: p99 {_ms(r.p99_ms)}, keeps up {'yes' if r.keeps_up else 'no'}, most loaded {busiest.name} "
            f"{busiest.load_max:.0%}, database {r.db_util_max:.0%}, ledger lock {r.lock_load:.0%}")


# -------------------------------------------------------------------------------------------------- cost


@dataclass(frozen=True)
class Prices:
    """Cost assumptions — none of them a quote: replace them with the tender's prices."""
    claims_per_day: float = 18e6            # the national platform's quoted daily average (1,800 万人次/日)
    db_kb_per_claim: float = 6.0            # PostgreSQL bytes per claim with indexes (estimated, docs/national-load.md)
    kafka_kb_per_claim: float = 10.0        # bytes produced per claim on every topic (measured sizes, see the doc)
    input_kb_per_claim: float = 0.5         # a discharge event as published (464 bytes measured)
    record_kb_per_claim: float = 2.7        # its record on settlements.completed (2,741 bytes measured)
    hot_years: int = 2                      # years kept in the Citus cluster; older ones in the warehouse
    kept_years: int = 10                    # years the ledger is kept in all (warehouse, columnar)
    warehouse_compression: float = 5.0      # columnar storage of the older years
    tb_per_db_node: float = 8.0             # most data one Citus node should hold (restore, vacuum times)
    db_node_memory_gb: int = 128            # at least, per Citus node: the year's totals and hot indexes
    db_gb_per_core: int = 8                 # memory-optimised nodes
    standbys: int = 1                       # synchronous standby per node, another zone
    coordinator_cores: int = 16             # the Citus coordinator (and its standby)
    vm_cores: int = 16                      # per worker VM (4 GB per core)
    worker_mb: int = 256                    # per instance (55–82 MB measured after a run)
    broker_cores: int = 16                  # at most, per broker
    broker_mb_per_s: float = 60.0           # replicated writes one broker takes comfortably
    broker_mb_per_s_per_core: float = 5.0   # replicated writes per broker core (TLS, compression)
    controller_cores: int = 4               # three KRaft controllers
    replication: int = 3
    hop_retention_days: int = 7
    input_retention_years: int = 10         # inputs and settlements.completed (streams/topics.py): tiered storage
    cny_core_month: float = 70.0            # a vCPU of a cloud VM, without its memory
    cny_gb_month: float = 10.0              # a GB of a VM's memory
    cny_ssd_tb_month: float = 1000.0        # cloud SSD (≈ 1 CNY per GB-month)
    cny_object_tb_month: float = 120.0      # object storage (≈ 0.12 CNY per GB-month)

    def db_tb_year(self, share: float = 1.0) -> float:
        return self.claims_per_day * 365 * share * self.db_kb_per_claim / 1e9

    def storage_nodes(self, share: float = 1.0) -> int:
        return max(1, math.ceil(self.db_tb_year(share) * self.hot_years / self.tb_per_db_node))

    def vm(self, cores: int, gb: float) -> float:
        return cores * self.cny_core_month + gb * self.cny_gb_month


@dataclass
class Cost:
    rows: list[tuple[str, str, float]]      # item, sizing, CNY per month
    cores: int
    memory_gb: float
    machines: int
    total_cny_month: float
    notes: list[str]


def _pow2_at_least(n: float, least: int, most: int) -> int:
    return min(most, max(least, 1 << max(0, math.ceil(n) - 1).bit_length()))


def cost(cfg: Config, r: Result, prices: Prices = Prices(), share: float = 1.0, max_util: float = 0.75) -> Cost:
    pr = prices
    claims_year = pr.claims_per_day * 365 * share
    instances = sum(cfg.instances_of(n) for n in STAGES)
    # a worker process uses at most one core: reserve its CPU share at the peak with the same headroom,
    # at least a quarter of a core each; VMs in two zones at least
    cpu_share = sum(s.cpu * s.instances for s in r.stages)
    worker_cores = max(math.ceil(cpu_share / max_util), math.ceil(instances / 4))
    worker_vms = max(2, math.ceil(worker_cores / pr.vm_cores))
    vm_cores = _pow2_at_least(worker_cores / worker_vms, 4, pr.vm_cores)
    nodes, db_cores = cfg.db_nodes, cfg.db_cores
    citus = nodes > 1  # one node: a plain PostgreSQL primary, no coordinator
    db_gb = max(pr.db_node_memory_gb if citus else 32, db_cores * pr.db_gb_per_core)
    db_tb_year = pr.db_tb_year(share)
    node_tb = db_tb_year * pr.hot_years / nodes * 1.3  # room for WAL, bloat, a year's growth
    peak_mb_s = cfg.offered_per_s * pr.kafka_kb_per_claim / 1000.0
    topics = 24  # every topic onestop creates (streams/topics.py)
    brokers = max(3, math.ceil(peak_mb_s * pr.replication / pr.broker_mb_per_s),
                  math.ceil(topics * cfg.partitions * pr.replication / 4000))
    broker_cores = _pow2_at_least(peak_mb_s * pr.replication / brokers / pr.broker_mb_per_s_per_core, 4,
                                  pr.broker_cores)
    avg_mb_s = claims_year / 365 / 86400 * pr.kafka_kb_per_claim / 1000.0
    local_tb = avg_mb_s * 86400 * pr.hop_retention_days * pr.replication / 1e6 * 1.5
    input_tb = claims_year * (pr.input_kb_per_claim + pr.record_kb_per_claim) / 1e9 * pr.input_retention_years
    warehouse_tb = db_tb_year * max(0, pr.kept_years - pr.hot_years) / pr.warehouse_compression
    backup_tb = db_tb_year * pr.hot_years * 1.2  # a base backup of the hot years and a week of WAL
    servers = nodes * (1 + pr.standbys)
    coordinators = 2 if citus else 0
    rows = [
        ("workers", f"{instances} instances ({worker_cores} cores reserved, {pr.worker_mb} MB each) on "
                    f"{worker_vms} VMs × {vm_cores} cores / {vm_cores * 4} GB",
         worker_vms * pr.vm(vm_cores, vm_cores * 4)),
        ("Citus workers" if citus else "PostgreSQL",
         f"{nodes} × {db_cores} cores / {db_gb} GB, + {pr.standbys} standby each", servers * pr.vm(db_cores, db_gb)),
    ]
    if citus:
        rows.append(("Citus coordinator", f"{pr.coordinator_cores} cores / {pr.coordinator_cores * pr.db_gb_per_core} "
                                          f"GB + standby",
                     coordinators * pr.vm(pr.coordinator_cores, pr.coordinator_cores * pr.db_gb_per_core)))
    rows += [
        ("database SSD", f"{node_tb:,.1f} TB per node × {servers} ({pr.hot_years} years hot, ×1.3)",
         node_tb * servers * pr.cny_ssd_tb_month),
        ("database backups", f"{backup_tb:,.1f} TB object storage", backup_tb * pr.cny_object_tb_month),
        ("warehouse", f"{warehouse_tb:,.1f} TB columnar (years {pr.hot_years + 1}–{pr.kept_years}, "
                      f"÷{pr.warehouse_compression:g}), priced as object storage",
         warehouse_tb * pr.cny_object_tb_month),
        ("Kafka brokers", f"{brokers} × {broker_cores} cores / {broker_cores * 4} GB (peak {peak_mb_s:,.1f} MB/s in, "
                          f"RF {pr.replication}), 3 controllers × {pr.controller_cores}",
         brokers * pr.vm(broker_cores, broker_cores * 4) + 3 * pr.vm(pr.controller_cores, pr.controller_cores * 4)),
        ("Kafka local disk", f"{local_tb:,.1f} TB ({pr.hop_retention_days} days × RF {pr.replication}, ×1.5)",
         local_tb * pr.cny_ssd_tb_month),
        ("Kafka tiered storage", f"{input_tb:,.1f} TB (inputs and records, {pr.input_retention_years} years, one copy)",
         input_tb * pr.cny_object_tb_month),
    ]
    cores = (worker_vms * vm_cores + servers * db_cores + coordinators * pr.coordinator_cores
             + brokers * broker_cores + 3 * pr.controller_cores)
    memory = (worker_vms * vm_cores * 4 + servers * db_gb + coordinators * pr.coordinator_cores * pr.db_gb_per_core
              + (brokers * broker_cores + 3 * pr.controller_cores) * 4)
    machines = worker_vms + servers + coordinators + brokers + 3
    notes = [f"claims a year: {claims_year / 1e9:,.2f} billion ({pr.claims_per_day * share / 1e6:,.1f} million a day); "
             f"PostgreSQL grows {db_tb_year:,.1f} TB a year ({pr.db_kb_per_claim:g} KB per claim)",
             f"machines {machines}, cores {cores:,}, memory {memory:,.0f} GB"]
    return Cost(rows, cores, memory, machines, sum(x for _, _, x in rows), notes)


def cost_lines(c: Cost) -> list[str]:
    out = [f"{'item':<22}{'sizing':<84}{'CNY/month':>12}"]
    out += [f"{item:<22}{sizing:<84}{cny:>12,.0f}" for item, sizing, cny in c.rows]
    out.append(f"{'total':<22}{'':<84}{c.total_cny_month:>12,.0f}")
    out.append(f"{'':<22}{'a year':<84}{12 * c.total_cny_month:>12,.0f}")
    return out + c.notes


# -------------------------------------------------------------------------------------------- regional

#: Provinces by resident population, millions (7th census, 2020) — claims assumed proportional to it
PROVINCES = (
    ("Guangdong", 126.0), ("Shandong", 101.5), ("Henan", 99.4), ("Jiangsu", 84.7), ("Sichuan", 83.7),
    ("Hebei", 74.6), ("Hunan", 66.4), ("Zhejiang", 64.6), ("Anhui", 61.0), ("Hubei", 57.8), ("Guangxi", 50.1),
    ("Yunnan", 47.2), ("Jiangxi", 45.2), ("Liaoning", 42.6), ("Fujian", 41.5), ("Shaanxi", 39.5),
    ("Guizhou", 38.6), ("Shanxi", 34.9), ("Chongqing", 32.1), ("Heilongjiang", 31.9), ("Xinjiang", 25.9),
    ("Gansu", 25.0), ("Shanghai", 24.9), ("Jilin", 24.1), ("Inner Mongolia", 24.0), ("Beijing", 21.9),
    ("Tianjin", 13.9), ("Hainan", 10.1), ("Ningxia", 7.2), ("Qinghai", 5.9), ("Tibet", 3.6),
)


def regional(cfg: Config, prices: Prices, target_ms: float, max_util: float, min_instances: int,
             storage_floor: bool = True, log=None) -> list[tuple[str, float, Plan, Cost]]:
    """Every province its own cell — its own Kafka, workers and PostgreSQL — sized by the same search."""
    population = sum(p for _, p in PROVINCES)
    out = []
    for name, people in PROVINCES:
        share = people / population
        local = replace(cfg, outpatient_per_s=cfg.outpatient_per_s * share, inpatient_per_s=cfg.inpatient_per_s * share)
        found = plan(local, target_ms, max_util, min_instances,
                     min_db_nodes=prices.storage_nodes(share) if storage_floor else 1)
        out.append((name, share, found, cost(found.config, found.result, prices, share, max_util)))
        if log:
            log(_province_line(out[-1]))
    return out


def _province_line(row: tuple[str, float, Plan, Cost]) -> str:
    name, share, found, c = row
    cfg, r = found.config, found.result
    busy = "/".join(str(cfg.instances_of(n)) for n in ("intake", "basic", "critical", "ledger"))
    ok = "" if found.reached else "  NOT REACHED"
    return (f"{name:<15}{share:>7.1%}{cfg.offered_per_s:>8,.0f}{busy:>13}{cfg.db_nodes:>4} × {cfg.db_cores:<3}"
            f"{_ms(r.p99_ms):>10}{c.machines:>6}{c.cores:>7,}{c.total_cny_month:>12,.0f}{ok}")


# -------------------------------------------------------------------------------------------- command


def _arguments() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.national", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = Config()
    p.add_argument("--outpatient", type=float, default=d.outpatient_per_s, help="outpatient settlements/s at peak")
    p.add_argument("--inpatient", type=float, default=d.inpatient_per_s, help="inpatient settlements/s at peak")
    p.add_argument("--share", type=float, default=1.0, help="fraction of the national load (a province: its share)")
    p.add_argument("--seconds", type=float, default=d.seconds, help="simulated peak window")
    p.add_argument("--profile", choices=["flat", "burst", "diurnal"], default=d.profile)
    p.add_argument("--burst-factor", type=float, default=d.burst_factor)
    p.add_argument("--burst-seconds", type=float, default=d.burst_seconds)
    p.add_argument("--category-share", type=float, default=d.category_share)
    p.add_argument("--heavy-share", type=float, default=d.heavy_share)
    p.add_argument("--heavy-persons", type=int, default=d.heavy_persons)
    p.add_argument("--zipf", type=float, default=d.zipf)
    p.add_argument("--hot-rate", type=float, default=0.0, help="one person's claims/s")
    p.add_argument("--partitions", type=int, default=d.partitions)
    p.add_argument("--instances", default="intake=5,basic=3,critical=3,ledger=7",
                   help="NAME=N,… per stage (others: 2); the default is the plan's with one more in each busy stage")
    p.add_argument("--db-nodes", type=int, default=10)
    p.add_argument("--db-cores", type=int, default=d.db_cores)
    p.add_argument("--align", choices=["none", "downstream", "all"], default=d.align)
    p.add_argument("--ledger-lock", choices=["on", "off"], default="on")
    p.add_argument("--broker", choices=sorted(BROKERS), default=d.broker)
    p.add_argument("--cells", type=int, default=1)
    p.add_argument("--cpu-scale", type=float, default=d.cpu_scale)
    p.add_argument("--db-penalty", type=float, default=d.db_penalty)
    p.add_argument("--citus-overhead", type=float, default=d.citus_overhead)
    p.add_argument("--rtt-ms", type=float, default=d.rtt_ms)
    p.add_argument("--commit-ms", type=float, default=d.commit_ms)
    p.add_argument("--kill", default="", help="STAGE@SECONDS: an instance dies then")
    p.add_argument("--rebalance-s", type=float, default=d.rebalance_s)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--plan", action="store_true", help="search the smallest configuration meeting the target")
    p.add_argument("--target-ms", type=float, default=800.0, help="p99 publish→settlement at the peak")
    p.add_argument("--max-util", type=float, default=0.75, help="most a stage or node may be busy (headroom)")
    p.add_argument("--min-instances", type=int, default=2, help="per stage, so that one may die")
    p.add_argument("--storage-floor", choices=["on", "off"], default="on",
                   help="at least as many Citus nodes as the data needs (Prices: hot_years, tb_per_db_node)")
    p.add_argument("--calibrate", action="store_true", help="compare the model with the measured benchmark")
    p.add_argument("--regional", action="store_true", help="plan every province as its own cell, and total them")
    for f in Prices.__dataclass_fields__.values():
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default, dest="price_" + f.name)
    return p


def config_of(args: argparse.Namespace) -> Config:
    instances = {}
    for part in filter(None, args.instances.split(",")):
        name, _, n = part.partition("=")
        if name not in INDEX:
            raise SystemExit(f"unknown stage {name!r}: {', '.join(STAGES)}")
        instances[name] = int(n)
    return Config(
        outpatient_per_s=args.outpatient * args.share, inpatient_per_s=args.inpatient * args.share,
        seconds=args.seconds, profile=args.profile, burst_factor=args.burst_factor, burst_seconds=args.burst_seconds,
        category_share=args.category_share, heavy_share=args.heavy_share, heavy_persons=args.heavy_persons,
        zipf=args.zipf, hot_rate=args.hot_rate, partitions=args.partitions, db_nodes=args.db_nodes,
        db_cores=args.db_cores, align=args.align, ledger_lock=args.ledger_lock == "on", broker=args.broker,
        cells=args.cells, cpu_scale=args.cpu_scale, db_penalty=args.db_penalty, citus_overhead=args.citus_overhead,
        rtt_ms=args.rtt_ms, commit_ms=args.commit_ms, kill=args.kill, rebalance_s=args.rebalance_s,
        seed=args.seed).with_instances(**instances)


def main(argv: list[str] | None = None) -> None:
    args = _arguments().parse_args(argv)
    if args.calibrate:
        print("\n".join(calibrate()))
        return
    cfg = config_of(args)
    prices = Prices(**{k[len("price_"):]: v for k, v in vars(args).items() if k.startswith("price_")})
    if args.regional:
        print(f"every province its own cell (claims ∝ population), each sized by the search: "
              f"p99 ≤ {args.target_ms:,.0f} ms, "
              f"≤ {args.max_util:.0%} loaded, ≥ {args.min_instances} instances per stage")
        print(f"{'province':<15}{'share':>7}{'peak/s':>8}{'in/ba/cr/le':>13}{'nodes×cores':>12}{'p99':>8}"
              f"{'VMs':>6}{'cores':>7}{'CNY/month':>12}")
        rows = regional(cfg, prices, args.target_ms, args.max_util, args.min_instances, args.storage_floor == "on",
                        log=print)
        total = sum(c.total_cny_month for *_, c in rows)
        print(f"{'all provinces':<15}{'':>7}{cfg.offered_per_s:>8,.0f}{'':>25}"
              f"{sum(c.machines for *_, c in rows):>14,}{sum(c.cores for *_, c in rows):>7,}{total:>12,.0f}")
        print(f"{'':<15}a year{12 * total:>71,.0f}")
        return
    if not args.plan:
        r = simulate(cfg)
        print("\n".join(report(r)))
        return
    floor = prices.storage_nodes(args.share) if args.storage_floor == "on" else 1
    print(f"sizing search: p99 ≤ {args.target_ms:,.0f} ms at the peak, no stage, node or lock over "
          f"{args.max_util:.0%} loaded, ≥ {args.min_instances} instances per stage, ≥ {floor} Citus nodes "
          f"(to hold {prices.hot_years} years "
          f"of {prices.db_tb_year(args.share):,.1f} TB at ≤ {prices.tb_per_db_node:g} TB a node)")
    found = plan(cfg, args.target_ms, args.max_util, args.min_instances, min_db_nodes=floor, log=print)
    print()
    if not found.reached:
        print(f"NOT REACHED after {len(found.tried)} simulations: {why_not(found)}; the last one:")
        print("\n".join(report(found.result)))
        return
    print(f"smallest configuration ({len(found.tried)} simulations):")
    print("\n".join(report(found.result)))
    print("\none fewer of each (why it is not enough):" if found.one_fewer else "\n(every resource is at its floor)")
    for res, r in found.one_fewer.items():
        print(f"  {res:<17} {count_of(found.config, res)} → {_step(found.config, res, False)}: "
              f"{_summary(r, found.target_ms, found.max_util)}")
    at_floor = [res for res in RESOURCES if res not in found.one_fewer]
    print(f"  at their floor: {', '.join(at_floor)} (≥ {found.min_instances} instances a stage; "
          f"≥ {found.min_db_nodes} nodes for the data; ≥ {CORE_CHOICES[0]} cores a node)")
    print("\ncost (every price an assumption, not a quote: see Prices and docs/national-load.md):")
    print("\n".join(cost_lines(cost(found.config, found.result, prices, args.share, args.max_util))))


if __name__ == "__main__":
    main(sys.argv[1:])
