"""The discrete-event simulation of one configuration: claims arrive, each stage's instances take
what they fetched as a batch (CPU, the database, the send), the next stage sees it after a fetch
delay, and the ledger's output is read off settlements.completed. One method per event; the
figures of a finished run are results.py's.

Exact as long as every event is handled in time order (a heap of events, ties in the order
pushed). The random draws happen in a fixed order, so a seed gives the same run every time."""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .model import BROKER_MS_PER_MESSAGE, BROKERS, INDEX, INTAKE, LEDGER, STAGES, Config
from .results import Result, result_of
from .workload import Claim, workload


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


class Instance:
    """One process of a stage: the messages it has fetched, the batch it is in, and what it did."""

    __slots__ = (
        "stage",
        "index",
        "queue",
        "busy",
        "alive",
        "batch",
        "started",
        "busy_ms",
        "cpu_ms",
        "batches",
        "messages",
        "done_recent",
        "core",
        "waking",
        "work_ms",
        "in_window",
    )

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


def range_assignment(partitions: int, members: list[int]) -> list[int]:
    """Kafka's range assignor over one topic: contiguous blocks, the first ones one larger."""
    owner = [0] * partitions
    per, extra = divmod(partitions, len(members))
    at = 0
    for k, member in enumerate(members):
        size = per + (1 if k < extra else 0)
        for p in range(at, at + size):
            owner[p] = member
        at += size
    return owner


def check(cfg: Config) -> None:
    """Refuse a configuration the simulation cannot run, saying why."""
    if cfg.cells < 1:
        raise ValueError("cells must be at least 1")
    if cfg.cells > 1 and (
        cfg.partitions % cfg.cells
        or cfg.db_nodes % cfg.cells
        or any(cfg.instances_of(n) % cfg.cells for n in STAGES if cfg.instances_of(n))
    ):
        raise ValueError("with --cells K, partitions, database nodes and every stage's instances must divide by K")
    if cfg.partitions // cfg.cells < 1:
        raise ValueError("fewer partitions than cells")
    for name in STAGES:
        if not cfg.instances_of(name) // cfg.cells:
            raise ValueError(f"stage {name} has no instance")


class Simulation:
    """One run of ``cfg`` (one cell of it: 1/cells of the partitions, instances, nodes and load)."""

    def __init__(self, cfg: Config) -> None:
        check(cfg)
        self.cfg = cfg
        self.partitions = cfg.partitions // cfg.cells
        self.nodes = max(1, cfg.db_nodes // cfg.cells)
        self.counts = [cfg.instances_of(name) // cfg.cells for name in STAGES]
        self.rng = random.Random(cfg.seed)
        self.costs = [cfg.cost_of(name) for name in STAGES]
        self.ack_ms, self.fetch_lo, fetch_hi, self.cycled = BROKERS[cfg.broker]
        self.fetch_span = fetch_hi - self.fetch_lo
        self.window = cfg.seconds * 1000.0
        self.shared = Pool(cfg.shared_cores) if cfg.shared_cores else None
        self.db = [Pool(cfg.db_cores) for _ in range(self.nodes)] if not self.shared else [self.shared] * self.nodes
        self.lock = Pool(1)
        self.db_factor = cfg.citus_overhead if self.nodes > 1 or cfg.db_nodes > 1 else 1.0
        self.claims = workload(cfg, self.rng, self.partitions, self.nodes)

        stages, p = range(len(STAGES)), self.partitions
        self.instances = [[Instance(s, i) for i in range(self.counts[s])] for s in stages]
        self.owners = [range_assignment(p, list(range(self.counts[s]))) for s in stages]
        self.last_visible = [[0.0] * p for _ in stages]  # per topic and partition: records are seen in order
        self.pending = [0] * len(STAGES)  # messages on each stage's topic not yet handled
        self.part_pending = [[0] * p for _ in stages]
        self.peak_pending = [0] * len(STAGES)
        self.peak_part = [0] * len(STAGES)
        self.phases = [[self.rng.random() * self.fetch_span for _ in range(max(1, self.counts[s]))] for s in stages]
        self.reader_phase = self.rng.random() * self.fetch_span  # the consumer of settlements.completed
        self.arrivals = self._arrivals()
        self.next_arrival = 0

        self.events: list[tuple[float, int, Callable[[Any, float], None], Any]] = []
        self.pushed = 0
        self.now = 0.0
        self.settle_ms: list[float] = []
        self.inpatient_ms: list[float] = []
        self.hot_settled = self.settled_count = self.published_count = 0
        self.db_tx = self.db_claims = 0
        self.db_cpu = self.lock_per_record = 0.0
        self.broker_messages = 0
        self.cpu_by_stage = [0.0] * len(STAGES)
        self.db_busy_window = [0.0] * self.nodes
        self.samples: list[tuple[float, int]] = []  # (time, claims published and not settled)
        self.hot_part_peak = 0

    # --- how records travel

    def seen(self, at: float, phase: float) -> float:
        """When a record produced at ``at`` is seen by a consumer whose fetch cycle turns at ``phase``."""
        if not self.cycled:
            return at + self.fetch_lo + self.rng.random() * self.fetch_span
        at += self.fetch_lo
        return phase + math.ceil((at - phase) / self.fetch_span) * self.fetch_span

    def _arrivals(self) -> list[tuple[float, Claim]]:
        """When intake sees each claim: in publish order, each partition in order."""
        arrivals = []
        last, owners, phases = self.last_visible[INTAKE], self.owners[INTAKE], self.phases[INTAKE]
        for claim in self.claims:
            p = claim.part_in
            visible = self.seen(claim.t0 + self.ack_ms, phases[owners[p]])
            if visible < last[p]:
                visible = last[p]
            last[p] = visible
            arrivals.append((visible, claim))
        arrivals.sort(key=lambda a: a[0])
        return arrivals

    def push(self, at: float, handler: Callable[[Any, float], None], data: Any = None) -> None:
        self.pushed += 1
        heapq.heappush(self.events, (at, self.pushed, handler, data))

    def queued(self, s: int, p: int, count: int) -> None:
        """``count`` more messages wait on stage s's topic, partition p."""
        pending, part_pending = self.pending, self.part_pending[s]
        pending[s] += count
        part_pending[p] += count
        if part_pending[p] > self.peak_part[s]:
            self.peak_part[s] = part_pending[p]
        if pending[s] > self.peak_pending[s]:
            self.peak_pending[s] = pending[s]

    def offer(self, s: int, p: int, msgs: list[Claim], at: float) -> None:
        """Records produced at ``at`` to stage s's topic, partition p: visible after a fetch delay, in order."""
        last = self.last_visible[s]
        visible = self.seen(at, self.phases[s][self.owners[s][p]])
        if visible < last[p]:
            visible = last[p]
        last[p] = visible
        self.broker_messages += len(msgs)
        self.queued(s, p, len(msgs))
        self.push(visible, self.on_visible, (s, p, msgs))

    # --- the work of a batch

    def start(self, inst: Instance, now: float) -> None:
        """The instance takes what it has fetched (up to the batch's most) and works on it: CPU first."""
        cfg, q = self.cfg, inst.queue
        n = len(q) if len(q) < cfg.batch_max else cfg.batch_max
        inst.batch = [q.popleft() for _ in range(n)]
        inst.busy = True
        inst.started = now
        cost = self.costs[inst.stage]
        cpu = (cost.batch_cpu + n * cost.claim_cpu) * cfg.cpu_scale
        if now < self.window:
            inst.work_ms += n * cost.claim_cpu * cfg.cpu_scale
        inst.cpu_ms += cpu
        self.cpu_by_stage[inst.stage] += cpu
        if self.shared is not None:
            end = self.shared.serve(now, cpu)
        else:
            end = (inst.core if inst.core > now else now) + cpu
            inst.core = end
        self.push(end, self.on_cpu_done, inst)

    def transactions(
        self,
        now: float,
        batch: list[Claim],
        per_claim: float,
        statements: int,
        commit: bool,
        inst: Instance | None = None,
    ) -> float:
        """One transaction per node the batch's persons live on, side by side; when the last commits."""
        cfg = self.cfg
        by_node: dict[int, int] = {}
        for c in batch:
            by_node[c.node] = by_node.get(c.node, 0) + 1
        if inst is not None and now < self.window and by_node:
            inst.work_ms += max(by_node.values()) * per_claim * cfg.db_penalty * self.db_factor
        end = now
        extra = statements * cfg.rtt_ms + (cfg.commit_ms if commit else 0.0)
        for node, k in by_node.items():
            demand = (cfg.tx_cpu + k * per_claim * cfg.db_penalty) * self.db_factor
            finished = self.db[node].serve(now, demand) + extra
            if finished > end:
                end = finished
            self.db_cpu += demand
            if now < self.window:
                self.db_busy_window[node] += demand
            self.db_tx += 1
            self.db_claims += k
        return end

    def sent(self, inst: Instance, now: float) -> None:
        """The broker acknowledged the batch's output: pass each claim on, or settle it."""
        s, batch = inst.stage, inst.batch
        n = len(batch)
        self.pending[s] -= n
        part_pending = self.part_pending[s]
        for c in batch:
            part_pending[c.part_in if s == INTAKE else c.part_down] -= 1
        inst.batches += 1
        inst.messages += n
        if now <= self.window:
            inst.in_window += n
        if self.shared is not None:
            self.shared.serve(now, n * BROKER_MS_PER_MESSAGE)
        if s == LEDGER:
            self.settle(batch, now)
        else:
            self.pass_on(batch, now)
        if self.cfg.kill:
            inst.done_recent.append((now, batch))
            while inst.done_recent and inst.done_recent[0][0] < now - self.cfg.commit_interval_s * 1000.0:
                inst.done_recent.popleft()
        if self.costs[s].transactions > 1:  # the ledger marks its records published
            self.push(self.transactions(now, batch, 0.01, 1, True), self.on_free, inst)
        else:
            self.free(inst, now)

    def settle(self, batch: list[Claim], now: float) -> None:
        """The ledger's records are on settlements.completed: each claim settled when it is read there."""
        seen_at = self.seen(now, self.reader_phase)
        for c in batch:
            if c.dup or c.settled >= 0:
                continue
            c.settled = seen_at
            self.settled_count += 1
            latency = seen_at - c.t0
            self.settle_ms.append(latency)
            if c.inpatient:
                self.inpatient_ms.append(latency)
            if c.hot and seen_at <= self.window:
                self.hot_settled += 1

    def pass_on(self, batch: list[Claim], now: float) -> None:
        """Each claim to the next stage of its route, one send per (stage, partition)."""
        groups: dict[tuple[int, int], list[Claim]] = {}
        for c in batch:
            c.hop += 1
            key = (c.route[c.hop], c.part_down)
            group = groups.get(key)
            if group is None:
                groups[key] = [c]
            else:
                group.append(c)
        for (stage, p), msgs in groups.items():
            self.offer(stage, p, msgs, now)

    def free(self, inst: Instance, now: float) -> None:
        """The batch is done: count the time in it, and take the next if one has been fetched."""
        if now <= self.window:
            inst.busy_ms += now - inst.started
        elif inst.started < self.window:
            inst.busy_ms += self.window - inst.started
        inst.busy = False
        inst.batch = []
        if inst.alive and inst.queue:
            self.start(inst, now)

    # --- the events

    def on_arrival(self, claim: Claim, now: float) -> None:
        """Intake sees a claim published by a hospital."""
        self.queued(INTAKE, claim.part_in, 1)
        self.published_count += 1
        self.on_visible((INTAKE, claim.part_in, [claim]), now)

    def on_visible(self, where: tuple[int, int, list[Claim]], now: float) -> None:
        """Records reach the instance that owns their partition; it wakes if idle."""
        s, p, msgs = where
        inst = self.instances[s][self.owners[s][p]]
        inst.queue.extend(msgs)
        if not inst.busy and inst.alive and not inst.waking:
            inst.waking = True  # what one fetch returns at this instant is one batch
            self.push(now, self.on_wake, inst)

    def on_wake(self, inst: Instance, now: float) -> None:
        inst.waking = False
        if not inst.busy and inst.alive and inst.queue:
            self.start(inst, now)

    def on_cpu_done(self, inst: Instance, now: float) -> None:
        """The batch's CPU is done: its transactions, then (the ledger, with --ledger-lock on) the table lock."""
        cost = self.costs[inst.stage]
        hold_lock = inst.stage == LEDGER and self.cfg.ledger_lock
        end = self.transactions(now, inst.batch, cost.db_claim, cost.round_trips, not hold_lock, inst)
        if hold_lock:
            self.push(end, self.on_locked, inst)
        else:
            self.push(end + self.ack_ms, self.on_sent, inst)

    def on_locked(self, inst: Instance, now: float) -> None:
        """LOCK TABLE settlements … insert the records … commit: one holder at a time, cluster-wide (the
        ledger before the per-person order; only with --ledger-lock on)."""
        cfg = self.cfg
        per_record = len(inst.batch) * cfg.lock_claim_ms * cfg.db_penalty
        hold = 2 * cfg.rtt_ms + cfg.commit_ms + per_record
        if now < self.window:
            self.lock_per_record += per_record
        self.push(self.lock.serve(now, hold) + self.ack_ms, self.on_sent, inst)

    def on_sent(self, inst: Instance, now: float) -> None:
        if inst.alive:
            self.sent(inst, now)

    def on_free(self, inst: Instance, now: float) -> None:
        if inst.alive:
            self.free(inst, now)

    def running(self) -> bool:
        """Claims are still to come or to settle (the samplers keep going)."""
        return self.next_arrival < len(self.arrivals) or self.settled_count < len(self.claims)

    def on_sample(self, _: None, now: float) -> None:
        """Every 100 ms: the backlog, and each topic's peak."""
        self.samples.append((now, self.published_count - self.settled_count))
        for s in range(len(STAGES)):
            self.peak_pending[s] = max(self.peak_pending[s], self.pending[s])
        if self.cfg.hot_rate > 0:
            self.hot_part_peak = max(self.hot_part_peak, max(self.part_pending[s][0] for s in range(len(STAGES))))
        if self.running():
            self.push(now + 100.0, self.on_sample)

    def on_background(self, _: None, now: float) -> None:
        """Every 10 ms on the shared cores: what the processes at rest use."""
        assert self.shared is not None
        self.shared.serve(now, 10.0 * self.cfg.background_cores)
        if self.running():
            self.push(now + 10.0, self.on_background)

    def on_kill(self, s: int, now: float) -> None:
        """An instance of stage s dies: its batch is lost, and what it did since its last commit is
        delivered again (the ledger makes that harmless); its partitions wait for the rebalance."""
        victim = self.instances[s][0]
        victim.alive = False
        lost = list(victim.batch) if victim.busy else []
        redelivered = [c.again_at(s) for _, batch in victim.done_recent for c in batch]
        for c in redelivered:
            self.pending[s] += 1
            self.part_pending[s][c.partition_at(s)] += 1
        if victim.busy:
            self.free(victim, now)
        victim.queue = deque(redelivered + lost + list(victim.queue))
        self.push(now + self.cfg.rebalance_s * 1000.0, self.on_reassign, s)

    def on_reassign(self, s: int, now: float) -> None:
        """The group rebalances (cooperatively: only the dead member's partitions move) and the
        survivors take the dead one's messages."""
        members = self.instances[s]
        alive = [i for i, inst in enumerate(members) if inst.alive]
        if not alive:
            return
        new = list(self.owners[s])
        k = 0
        for p in range(self.partitions):
            if not members[new[p]].alive:
                new[p] = alive[k % len(alive)]
                k += 1
        self.owners[s] = new
        for dead in (inst for inst in members if not inst.alive):
            moved, dead.queue = dead.queue, deque()
            for c in moved:
                members[new[c.partition_at(s)]].queue.append(c)
        for i in alive:
            if not members[i].busy and members[i].queue:
                self.start(members[i], now)

    # --- the run

    def run(self) -> None:
        """Every event in time order, until everything is settled or the drain's time is up."""
        cfg = self.cfg
        self.push(0.0, self.on_sample)
        if self.shared is not None and cfg.background_cores > 0:
            self.push(0.0, self.on_background)
        if cfg.kill:
            name, _, at = cfg.kill.partition("@")
            self.push(float(at) * 1000.0, self.on_kill, INDEX[name])
        horizon = self.window + cfg.drain_s * 1000.0
        arrivals, events = self.arrivals, self.events
        while True:
            if self.next_arrival < len(arrivals) and (not events or arrivals[self.next_arrival][0] <= events[0][0]):
                self.now, claim = arrivals[self.next_arrival]
                self.next_arrival += 1
                self.on_arrival(claim, self.now)
                continue
            if not events:
                break
            self.now, _, handler, data = heapq.heappop(events)
            if self.now > horizon:
                break
            handler(data, self.now)
            if self.settled_count >= len(self.claims) and self.next_arrival >= len(arrivals) and not any(self.pending):
                break


def simulate(cfg: Config) -> Result:
    """The run of ``cfg`` and its figures."""
    began = time.perf_counter()
    simulation = Simulation(cfg)
    simulation.run()
    result = result_of(simulation)
    result.wall_s = time.perf_counter() - began
    return result
