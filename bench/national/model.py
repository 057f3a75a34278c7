"""What the national-load model is made of: the stages a claim passes, what each costs (measured on
this machine), the routes of claims, the brokers' hop delays, the measured benchmark the model is
calibrated against, and a run's configuration (the load, the deployment, the costs, a failure)."""

from __future__ import annotations

from dataclasses import dataclass, replace

#: the stages in a claim's path: intake, the payers in the chain's order (schemas.codes.Payer), the ledger
STAGES = (
    "intake",
    "basic",
    "critical",
    "tilt",
    "supplementary",
    "emergency_relief",
    "assistance",
    "secondary",
    "re_assistance",
    "poverty_relief",
    "ledger",
)
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
    **{
        name: StageCost(claim_cpu=0.29, batch_cpu=2.5, db_claim=0.07, round_trips=4)
        for name in ("tilt", "supplementary", "emergency_relief", "secondary", "re_assistance", "poverty_relief")
    },
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
    (
        "100/s × 10s",
        100.0,
        1000,
        203.9,
        316.3,
        400.7,
        97.8,
        {
            "intake": 2.10,
            "basic": 0.94,
            "critical": 0.76,
            "assistance": 0.64,
            "ledger": 1.04,
            "postgres": 2.29,
            "broker": 2.50,
        },
        10.24,
    ),
    (
        "500/s × 10s",
        500.0,
        5000,
        804.4,
        1337.1,
        1541.5,
        465.7,
        {
            "intake": 2.24,
            "basic": 1.57,
            "critical": 1.62,
            "assistance": 1.37,
            "ledger": 2.29,
            "postgres": 4.22,
            "broker": 3.31,
        },
        10.76,
    ),
    (
        "saturation 6000",
        None,
        6000,
        8042.5,
        11446.0,
        11464.1,
        517.3,
        {
            "intake": 2.20,
            "basic": 1.74,
            "critical": 1.85,
            "assistance": 1.21,
            "ledger": 2.90,
            "postgres": 3.52,
            "broker": 2.97,
        },
        11.63,
    ),
)


@dataclass(frozen=True)
class Config:
    # the load
    outpatient_per_s: float = 4000.0
    inpatient_per_s: float = 150.0
    seconds: float = 30.0  # simulated peak window; arrivals stop after it, then the pipeline drains
    profile: str = "burst"  # flat | burst | diurnal (a day's shape compressed into the window)
    burst_factor: float = 1.3  # burst: the rate × this, for burst_seconds from a third of the window
    burst_seconds: float = 3.0
    category_share: float = 0.10  # share of claims from people with a hardship category (assumed)
    heavy_share: float = 0.02  # share of claims from heavy users, Zipf-ranked (assumed)
    heavy_persons: int = 2000
    zipf: float = 1.0
    hot_rate: float = 0.0  # one person publishing this many claims/s (a backlog re-published)
    # the deployment
    partitions: int = 64
    instances: tuple[tuple[str, int], ...] = ()  # per stage; missing stages: 2
    db_nodes: int = 2
    db_cores: int = 8
    align: str = "downstream"  # none | downstream | all: which topics are partitioned by Citus shard
    # Off: the ledger takes no table or advisory lock since each person's inputs are ordered by their own
    # sequence under a row lock on their persons row (tests/store/test_schema.py checks store/ for one).
    # On: LOCK TABLE settlements per ledger batch, one holder cluster-wide, as the code did until then;
    # kept so that the earlier figures (and the measured benchmark, --calibrate) stay reproducible.
    ledger_lock: bool = False
    broker: str = "embedded"
    batch_max: int = 500
    cells: int = 1  # simulate 1/cells of partitions, instances, nodes and load
    # costs of the work
    costs: tuple[tuple[str, StageCost], ...] = ()  # overrides of STAGE_COSTS
    cpu_scale: float = 1.0  # production core time / this machine's core time
    db_penalty: float = 3.0  # PostgreSQL per-claim CPU × this: billions of rows, not 20,000 (assumed)
    citus_overhead: float = 1.2  # × PostgreSQL CPU for Citus's planning and routing (assumed)
    tx_cpu: float = TX_CPU_MS
    rtt_ms: float = 0.3  # worker ↔ database round trip (assumed; in one zone)
    commit_ms: float = 2.0  # WAL flush and synchronous standby (assumed)
    lock_claim_ms: float = 0.03  # with ledger_lock: the insert per record while it holds the lock (assumed)
    shared_cores: int = 0  # >0: every process shares this many cores (the measured machine)
    background_cores: float = 0.0  # with shared_cores: cores taken by processes at rest
    # failure
    kill: str = ""  # "STAGE@SECONDS": an instance of STAGE dies then
    rebalance_s: float = 10.0  # until its partitions are reassigned (the session timeout)
    commit_interval_s: float = 1.0  # offsets committed every second: that much work is redelivered
    drain_s: float = 30.0  # how long after the window the run may take to settle the rest
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


#: A day's shape of outpatient settlements, peak hour = 1 (assumed: clinics open 8–12 and 14–17,
#: the morning peak at 9–10; inpatient discharges follow the same hours). Its mean, 0.32, is what
#: the peak hour's rate must be multiplied by for a day's average.
DIURNAL = (
    0.02,
    0.01,
    0.01,
    0.01,
    0.01,
    0.02,
    0.05,
    0.25,
    0.80,
    1.00,
    0.95,
    0.75,
    0.35,
    0.30,
    0.70,
    0.75,
    0.65,
    0.40,
    0.20,
    0.15,
    0.12,
    0.08,
    0.05,
    0.03,
)


def rate_factor(cfg: Config, t_ms: float) -> float:
    """The offered rate at ``t_ms`` as a share of the peak rate (the load's profile)."""
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
