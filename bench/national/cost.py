"""What a configuration costs a month (every price an assumption, not a quote), and every province
as a cell of its own, each sized by the same search."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from .model import STAGES, Config
from .plan import Plan, plan
from .report import milliseconds
from .results import Result


@dataclass(frozen=True)
class Prices:
    """Cost assumptions — none of them a quote: replace them with the tender's prices."""

    claims_per_day: float = 18e6  # the national platform's quoted daily average (1,800 万人次/日)
    db_kb_per_claim: float = 6.0  # PostgreSQL bytes per claim with indexes (estimated, docs/national-load.md)
    kafka_kb_per_claim: float = 10.0  # bytes produced per claim on every topic (measured sizes, see the doc)
    input_kb_per_claim: float = 0.5  # a discharge event as published (464 bytes measured)
    record_kb_per_claim: float = 2.7  # its record on settlements.completed (2,741 bytes measured)
    hot_years: int = 2  # years kept in the Citus cluster; older ones in the warehouse
    kept_years: int = 10  # years the ledger is kept in all (warehouse, columnar)
    warehouse_compression: float = 5.0  # columnar storage of the older years
    tb_per_db_node: float = 8.0  # most data one Citus node should hold (restore, vacuum times)
    db_node_memory_gb: int = 128  # at least, per Citus node: the year's totals and hot indexes
    db_gb_per_core: int = 8  # memory-optimised nodes
    standbys: int = 1  # synchronous standby per node, another zone
    coordinator_cores: int = 16  # the Citus coordinator (and its standby)
    vm_cores: int = 16  # per worker VM (4 GB per core)
    worker_mb: int = 256  # per instance (55–82 MB measured after a run)
    broker_cores: int = 16  # at most, per broker
    broker_mb_per_s: float = 60.0  # replicated writes one broker takes comfortably
    broker_mb_per_s_per_core: float = 5.0  # replicated writes per broker core (TLS, compression)
    controller_cores: int = 4  # three KRaft controllers
    replication: int = 3
    hop_retention_days: int = 7
    input_retention_years: int = 10  # inputs and settlements.completed (streams/topics.py): tiered storage
    cny_core_month: float = 70.0  # a vCPU of a cloud VM, without its memory
    cny_gb_month: float = 10.0  # a GB of a VM's memory
    cny_ssd_tb_month: float = 1000.0  # cloud SSD (≈ 1 CNY per GB-month)
    cny_object_tb_month: float = 120.0  # object storage (≈ 0.12 CNY per GB-month)

    def db_tb_year(self, share: float = 1.0) -> float:
        return self.claims_per_day * 365 * share * self.db_kb_per_claim / 1e9

    def storage_nodes(self, share: float = 1.0) -> int:
        return max(1, math.ceil(self.db_tb_year(share) * self.hot_years / self.tb_per_db_node))

    def vm(self, cores: int, gb: float) -> float:
        return cores * self.cny_core_month + gb * self.cny_gb_month


@dataclass
class Cost:
    rows: list[tuple[str, str, float]]  # item, sizing, CNY per month
    cores: int
    memory_gb: float
    machines: int
    total_cny_month: float
    notes: list[str]


def pow2_at_least(n: float, least: int, most: int) -> int:
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
    vm_cores = pow2_at_least(worker_cores / worker_vms, 4, pr.vm_cores)
    nodes, db_cores = cfg.db_nodes, cfg.db_cores
    citus = nodes > 1  # one node: a plain PostgreSQL primary, no coordinator
    db_gb = max(pr.db_node_memory_gb if citus else 32, db_cores * pr.db_gb_per_core)
    db_tb_year = pr.db_tb_year(share)
    node_tb = db_tb_year * pr.hot_years / nodes * 1.3  # room for WAL, bloat, a year's growth
    peak_mb_s = cfg.offered_per_s * pr.kafka_kb_per_claim / 1000.0
    topics = 24  # every topic onestop creates (streams/topics.py)
    brokers = max(
        3,
        math.ceil(peak_mb_s * pr.replication / pr.broker_mb_per_s),
        math.ceil(topics * cfg.partitions * pr.replication / 4000),
    )
    broker_cores = pow2_at_least(peak_mb_s * pr.replication / brokers / pr.broker_mb_per_s_per_core, 4, pr.broker_cores)
    avg_mb_s = claims_year / 365 / 86400 * pr.kafka_kb_per_claim / 1000.0
    local_tb = avg_mb_s * 86400 * pr.hop_retention_days * pr.replication / 1e6 * 1.5
    input_tb = claims_year * (pr.input_kb_per_claim + pr.record_kb_per_claim) / 1e9 * pr.input_retention_years
    warehouse_tb = db_tb_year * max(0, pr.kept_years - pr.hot_years) / pr.warehouse_compression
    backup_tb = db_tb_year * pr.hot_years * 1.2  # a base backup of the hot years and a week of WAL
    servers = nodes * (1 + pr.standbys)
    coordinators = 2 if citus else 0
    rows = [
        (
            "workers",
            f"{instances} instances ({worker_cores} cores reserved, {pr.worker_mb} MB each) on "
            f"{worker_vms} VMs × {vm_cores} cores / {vm_cores * 4} GB",
            worker_vms * pr.vm(vm_cores, vm_cores * 4),
        ),
        (
            "Citus workers" if citus else "PostgreSQL",
            f"{nodes} × {db_cores} cores / {db_gb} GB, + {pr.standbys} standby each",
            servers * pr.vm(db_cores, db_gb),
        ),
    ]
    if citus:
        rows.append(
            (
                "Citus coordinator",
                f"{pr.coordinator_cores} cores / {pr.coordinator_cores * pr.db_gb_per_core} GB + standby",
                coordinators * pr.vm(pr.coordinator_cores, pr.coordinator_cores * pr.db_gb_per_core),
            )
        )
    rows += [
        (
            "database SSD",
            f"{node_tb:,.1f} TB per node × {servers} ({pr.hot_years} years hot, ×1.3)",
            node_tb * servers * pr.cny_ssd_tb_month,
        ),
        ("database backups", f"{backup_tb:,.1f} TB object storage", backup_tb * pr.cny_object_tb_month),
        (
            "warehouse",
            f"{warehouse_tb:,.1f} TB columnar (years {pr.hot_years + 1}–{pr.kept_years}, "
            f"÷{pr.warehouse_compression:g}), priced as object storage",
            warehouse_tb * pr.cny_object_tb_month,
        ),
        (
            "Kafka brokers",
            f"{brokers} × {broker_cores} cores / {broker_cores * 4} GB (peak {peak_mb_s:,.1f} MB/s in, "
            f"RF {pr.replication}), 3 controllers × {pr.controller_cores}",
            brokers * pr.vm(broker_cores, broker_cores * 4) + 3 * pr.vm(pr.controller_cores, pr.controller_cores * 4),
        ),
        (
            "Kafka local disk",
            f"{local_tb:,.1f} TB ({pr.hop_retention_days} days × RF {pr.replication}, ×1.5)",
            local_tb * pr.cny_ssd_tb_month,
        ),
        (
            "Kafka tiered storage",
            f"{input_tb:,.1f} TB (inputs and records, {pr.input_retention_years} years, one copy)",
            input_tb * pr.cny_object_tb_month,
        ),
    ]
    cores = (
        worker_vms * vm_cores
        + servers * db_cores
        + coordinators * pr.coordinator_cores
        + brokers * broker_cores
        + 3 * pr.controller_cores
    )
    memory = (
        worker_vms * vm_cores * 4
        + servers * db_gb
        + coordinators * pr.coordinator_cores * pr.db_gb_per_core
        + (brokers * broker_cores + 3 * pr.controller_cores) * 4
    )
    machines = worker_vms + servers + coordinators + brokers + 3
    notes = [
        f"claims a year: {claims_year / 1e9:,.2f} billion ({pr.claims_per_day * share / 1e6:,.1f} million a day); "
        f"PostgreSQL grows {db_tb_year:,.1f} TB a year ({pr.db_kb_per_claim:g} KB per claim)",
        f"machines {machines}, cores {cores:,}, memory {memory:,.0f} GB",
    ]
    return Cost(rows, cores, memory, machines, sum(x for _, _, x in rows), notes)


def cost_lines(c: Cost) -> list[str]:
    out = [f"{'item':<22}{'sizing':<84}{'CNY/month':>12}"]
    out += [f"{item:<22}{sizing:<84}{cny:>12,.0f}" for item, sizing, cny in c.rows]
    out.append(f"{'total':<22}{'':<84}{c.total_cny_month:>12,.0f}")
    out.append(f"{'':<22}{'a year':<84}{12 * c.total_cny_month:>12,.0f}")
    return out + c.notes


#: Provinces by resident population, millions (7th census, 2020) — claims assumed proportional to it
PROVINCES = (
    ("Guangdong", 126.0),
    ("Shandong", 101.5),
    ("Henan", 99.4),
    ("Jiangsu", 84.7),
    ("Sichuan", 83.7),
    ("Hebei", 74.6),
    ("Hunan", 66.4),
    ("Zhejiang", 64.6),
    ("Anhui", 61.0),
    ("Hubei", 57.8),
    ("Guangxi", 50.1),
    ("Yunnan", 47.2),
    ("Jiangxi", 45.2),
    ("Liaoning", 42.6),
    ("Fujian", 41.5),
    ("Shaanxi", 39.5),
    ("Guizhou", 38.6),
    ("Shanxi", 34.9),
    ("Chongqing", 32.1),
    ("Heilongjiang", 31.9),
    ("Xinjiang", 25.9),
    ("Gansu", 25.0),
    ("Shanghai", 24.9),
    ("Jilin", 24.1),
    ("Inner Mongolia", 24.0),
    ("Beijing", 21.9),
    ("Tianjin", 13.9),
    ("Hainan", 10.1),
    ("Ningxia", 7.2),
    ("Qinghai", 5.9),
    ("Tibet", 3.6),
)


def regional(
    cfg: Config,
    prices: Prices,
    target_ms: float,
    max_util: float,
    min_instances: int,
    storage_floor: bool = True,
    log: Callable[[str], None] | None = None,
) -> list[tuple[str, float, Plan, Cost]]:
    """Every province its own cell — its own Kafka, workers and PostgreSQL — sized by the same search."""
    population = sum(p for _, p in PROVINCES)
    out = []
    for name, people in PROVINCES:
        share = people / population
        local = replace(cfg, outpatient_per_s=cfg.outpatient_per_s * share, inpatient_per_s=cfg.inpatient_per_s * share)
        found = plan(
            local, target_ms, max_util, min_instances, min_db_nodes=prices.storage_nodes(share) if storage_floor else 1
        )
        out.append((name, share, found, cost(found.config, found.result, prices, share, max_util)))
        if log:
            log(province_line(out[-1]))
    return out


def province_line(row: tuple[str, float, Plan, Cost]) -> str:
    name, share, found, c = row
    cfg, r = found.config, found.result
    busy = "/".join(str(cfg.instances_of(n)) for n in ("intake", "basic", "critical", "ledger"))
    ok = "" if found.reached else "  NOT REACHED"
    return (
        f"{name:<15}{share:>7.1%}{cfg.offered_per_s:>8,.0f}{busy:>13}{cfg.db_nodes:>4} × {cfg.db_cores:<3}"
        f"{milliseconds(r.p99_ms):>10}{c.machines:>6}{c.cores:>7,}{c.total_cny_month:>12,.0f}{ok}"
    )
