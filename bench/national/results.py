"""What a run of the national-load simulation found: per stage and for the whole, computed from a
finished simulation.Simulation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .model import BROKER_MS_PER_MESSAGE, STAGES, Config


@dataclass
class StageResult:
    name: str
    instances: int
    partitions_per_instance: str
    claims_per_s: float  # handled within the window
    load: float  # per-claim work (CPU + database, a batch's nodes side by side) / window, mean: 1 = saturated
    load_max: float  #   the busiest instance's (batches grow with the load, so `busy` is not saturation)
    busy: float  # mean fraction of the window the stage's instances were in a batch (any size)
    busy_max: float
    cpu: float  # mean fraction of a core
    mean_batch: float
    peak_lag: int  # messages on the stage's topic not yet handled, peak
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
    lock_util: float  # the ledger's table lock: fraction of the window it was held
    lock_load: float  #   its per-record part (the rest amortises over bigger batches)
    broker_messages_per_s: float
    hot_claims: int = 0
    hot_settled_in_window: int = 0
    hot_throughput_per_s: float = 0.0
    hot_partition_peak_lag: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    last_settled_s: float = 0.0
    wall_s: float = 0.0

    def meets(self, target_ms: float, max_util: float = 1.0) -> bool:
        return (
            self.keeps_up
            and self.p99_ms <= target_ms
            and self.db_util_max <= max_util
            and self.lock_load <= max_util
            and all(s.load_max <= max_util for s in self.stages)
        )

    def stage(self, name: str) -> StageResult:
        return next(s for s in self.stages if s.name == name)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of sorted ``values`` (the nearest rank)."""
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(math.ceil(q * len(values))) - 1)]


def slope(points: list[tuple[float, int]]) -> float:
    """The least-squares slope of (time, backlog) points."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


def stage_results(sim: Any, elapsed: float) -> list[StageResult]:
    cfg, window = sim.cfg, sim.window
    out = []
    for s, name in enumerate(STAGES):
        insts = sim.instances[s]
        busy = [inst.busy_ms / window for inst in insts]
        load = [inst.work_ms / window for inst in insts]
        cpu = [inst.cpu_ms / elapsed for inst in insts]
        handled = sum(inst.messages for inst in insts)
        done_in_window = sum(inst.in_window for inst in insts)
        batches = sum(inst.batches for inst in insts)
        held = [sum(1 for o in sim.owners[s] if o == i) for i in range(len(insts))]
        spread = f"{min(held)}" if min(held) == max(held) else f"{min(held)}–{max(held)}"
        out.append(
            StageResult(
                name,
                len(insts) * cfg.cells,
                spread,
                done_in_window / cfg.seconds * cfg.cells,
                sum(load) / len(load),
                max(load),
                sum(busy) / len(busy),
                max(busy),
                sum(cpu) / len(cpu),
                handled / batches if batches else 0.0,
                sim.peak_pending[s] * cfg.cells,
                sim.peak_part[s],
            )
        )
    return out


def result_of(sim: Any) -> Result:
    """The figures of a finished run (a simulation.Simulation), scaled from its cell to the whole."""
    cfg, window, claims = sim.cfg, sim.window, sim.claims
    settle_ms, inpatient_ms = sorted(sim.settle_ms), sorted(sim.inpatient_ms)
    total = len(claims)
    unsettled = total - sim.settled_count
    p99 = percentile(settle_ms, 0.99) if not unsettled else math.inf
    settled_in_window = sum(1 for c in claims if 0 <= c.settled <= window)
    half = [(t, b) for t, b in sim.samples if window / 2 <= t <= window]
    trend = slope(half) * 1000.0 if len(half) > 2 else 0.0
    last_settle = max((c.settled for c in claims), default=0.0)
    offered_rate = total / cfg.seconds if cfg.seconds else 0.0
    keeps_up = unsettled == 0 and trend <= 0.02 * offered_rate
    elapsed = max(sim.now, window)
    db_util = [b / (window * (cfg.db_cores if not sim.shared else cfg.shared_cores)) for b in sim.db_busy_window]
    cpu_seconds = {name: sim.cpu_by_stage[s] / 1000.0 for s, name in enumerate(STAGES)}
    cpu_seconds["postgres"] = sim.db_cpu / 1000.0
    cpu_seconds["broker"] = (sim.broker_messages + total) * BROKER_MS_PER_MESSAGE / 1000.0
    return Result(
        config=cfg,
        offered=total * cfg.cells,
        settled=sim.settled_count * cfg.cells,
        unsettled=unsettled * cfg.cells,
        window_s=cfg.seconds,
        throughput_per_s=settled_in_window / cfg.seconds * cfg.cells,
        p50_ms=percentile(settle_ms, 0.50),
        p99_ms=p99,
        max_ms=settle_ms[-1] if settle_ms and not unsettled else math.inf,
        inpatient_p99_ms=percentile(inpatient_ms, 0.99) if not unsettled else math.inf,
        keeps_up=keeps_up,
        backlog_peak=max((b for _, b in sim.samples), default=0) * cfg.cells,
        backlog_slope_per_s=trend * cfg.cells,
        drained_after_s=max(0.0, (last_settle - window) / 1000.0),
        stages=stage_results(sim, elapsed),
        db_util_mean=sum(db_util) / len(db_util),
        db_util_max=max(db_util),
        db_tx_per_s=sim.db_tx / (elapsed / 1000.0) * cfg.cells,
        db_claims_per_tx=sim.db_claims / sim.db_tx if sim.db_tx else 0.0,
        lock_util=sim.lock.busy / window,
        lock_load=sim.lock_per_record / window,
        broker_messages_per_s=(sim.broker_messages + total) / (elapsed / 1000.0) * cfg.cells,
        hot_claims=sum(1 for c in claims if c.hot),
        hot_settled_in_window=sim.hot_settled,
        hot_throughput_per_s=sim.hot_settled / cfg.seconds,
        hot_partition_peak_lag=sim.hot_part_peak,
        cpu_seconds=cpu_seconds,
        last_settled_s=last_settle / 1000.0,
    )
