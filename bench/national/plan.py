"""The sizing search: the smallest configuration whose simulated peak meets the target."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from .model import STAGES, Config, visit_shares
from .report import milliseconds
from .results import Result
from .simulation import simulate

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


def next_count(cfg: Config, resource: str, up: bool) -> int | None:
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


def utilisation(r: Result, resource: str) -> float:
    if resource in ("db_nodes", "db_cores"):
        return r.db_util_max
    return r.stage(resource).load_max


def plan(
    base: Config,
    target_ms: float = 800.0,
    max_util: float = 0.75,
    min_instances: int = 2,
    min_partitions: int = 32,
    growth: int = 4,
    min_db_nodes: int = 1,
    log: Callable[[str], None] | None = None,
) -> Plan:
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
            log(f"  {why:<28} {summary(r, target_ms, max_util)}")
        return r

    cfg = first_guess(base, max_util, min_instances, min_db_nodes)
    cfg = replace(cfg, partitions=partitions_for(cfg, min_partitions, growth))
    r = run(cfg, "first guess")
    for _ in range(80):
        if r.meets(target_ms, max_util):
            break
        worst = max(RESOURCES[:-1], key=lambda res: utilisation(r, res))
        if r.lock_load > max_util and r.lock_load >= utilisation(r, worst):
            break  # the ledger's table lock is one for all: no instance or node added relieves it
        if worst == "db_nodes" and next_count(cfg, "db_cores", True) is not None:
            worst = "db_cores"
        n = next_count(cfg, worst, True)
        cfg = with_count(cfg, worst, n)
        cfg = replace(cfg, partitions=max(cfg.partitions, partitions_for(cfg, min_partitions, growth)))
        r = run(cfg, f"{worst} → {n}")
    reached = r.meets(target_ms, max_util)
    one_fewer: dict[str, Result] = {}
    while reached:
        one_fewer = {}
        improved = False
        for res in sorted(RESOURCES, key=lambda x: -count_of(cfg, x) if x in STAGES else 0):
            n = next_count(cfg, res, False)
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
        return (
            f"the ledger's LOCK TABLE settlements, one for every ledger instance, is held {r.lock_load:.0%} of the "
            f"time for its records alone: no instance or node relieves it "
            f"(the code no longer takes it: --ledger-lock off)"
        )
    return "the search gave up (80 steps)"


def partitions_for(cfg: Config, least: int, growth: int) -> int:
    """A power of two with room for `growth` × the largest consumer group (partitions cannot be
    added later without moving people between partitions, see docs/national-load.md)."""
    need = max(least, growth * max(cfg.instances_of(n) for n in STAGES), 4 * cfg.db_nodes)
    return 1 << (need - 1).bit_length()


def summary(r: Result, target_ms: float, max_util: float) -> str:
    ok = "meets" if r.meets(target_ms, max_util) else "fails"
    busiest = max(r.stages, key=lambda s: s.load_max)
    return (
        f"{ok}: p99 {milliseconds(r.p99_ms)}, keeps up {'yes' if r.keeps_up else 'no'}, most loaded {busiest.name} "
        f"{busiest.load_max:.0%}, database {r.db_util_max:.0%}"
        + (f", ledger lock {r.lock_load:.0%}" if r.config.ledger_lock else "")
    )
