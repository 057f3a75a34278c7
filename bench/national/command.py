"""`python -m bench.national`: a run, the sizing search (--plan), every province (--regional), or
the model against the measured benchmark (--calibrate)."""

from __future__ import annotations

import argparse
import sys

from .cost import Prices, cost, cost_lines, regional
from .model import BROKERS, INDEX, STAGES, Config
from .plan import CORE_CHOICES, RESOURCES, count_of, next_count, plan, summary, why_not
from .report import calibrate, report
from .simulation import simulate


def arguments() -> argparse.ArgumentParser:
    # --help prints the package's account of the model (bench/national/__init__.py), imported by now
    p = argparse.ArgumentParser(
        prog="python -m bench.national",
        description=sys.modules[__package__].__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    p.add_argument(
        "--instances",
        default="intake=6,basic=3,critical=3,ledger=6",
        help="NAME=N,… per stage (others: 2); the default is the plan's with one more in each busy stage",
    )
    p.add_argument("--db-nodes", type=int, default=10)
    p.add_argument("--db-cores", type=int, default=d.db_cores)
    p.add_argument("--align", choices=["none", "downstream", "all"], default=d.align)
    p.add_argument(
        "--ledger-lock",
        choices=["on", "off"],
        default="on" if d.ledger_lock else "off",
        help="on: the ledger's former LOCK TABLE settlements per batch (the code takes none since the "
        "per-person order), to reproduce the earlier figures",
    )
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
    p.add_argument(
        "--storage-floor",
        choices=["on", "off"],
        default="on",
        help="at least as many Citus nodes as the data needs (Prices: hot_years, tb_per_db_node)",
    )
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
        outpatient_per_s=args.outpatient * args.share,
        inpatient_per_s=args.inpatient * args.share,
        seconds=args.seconds,
        profile=args.profile,
        burst_factor=args.burst_factor,
        burst_seconds=args.burst_seconds,
        category_share=args.category_share,
        heavy_share=args.heavy_share,
        heavy_persons=args.heavy_persons,
        zipf=args.zipf,
        hot_rate=args.hot_rate,
        partitions=args.partitions,
        db_nodes=args.db_nodes,
        db_cores=args.db_cores,
        align=args.align,
        ledger_lock=args.ledger_lock == "on",
        broker=args.broker,
        cells=args.cells,
        cpu_scale=args.cpu_scale,
        db_penalty=args.db_penalty,
        citus_overhead=args.citus_overhead,
        rtt_ms=args.rtt_ms,
        commit_ms=args.commit_ms,
        kill=args.kill,
        rebalance_s=args.rebalance_s,
        seed=args.seed,
    ).with_instances(**instances)


def main(argv: list[str] | None = None) -> None:
    args = arguments().parse_args(argv)
    if args.calibrate:
        print("\n".join(calibrate()))
        return
    cfg = config_of(args)
    prices = Prices(**{k[len("price_") :]: v for k, v in vars(args).items() if k.startswith("price_")})
    if args.regional:
        print(
            f"every province its own cell (claims ∝ population), each sized by the search: "
            f"p99 ≤ {args.target_ms:,.0f} ms, "
            f"≤ {args.max_util:.0%} loaded, ≥ {args.min_instances} instances per stage"
        )
        print(
            f"{'province':<15}{'share':>7}{'peak/s':>8}{'in/ba/cr/le':>13}{'nodes×cores':>12}{'p99':>8}"
            f"{'VMs':>6}{'cores':>7}{'CNY/month':>12}"
        )
        rows = regional(
            cfg, prices, args.target_ms, args.max_util, args.min_instances, args.storage_floor == "on", log=print
        )
        total = sum(c.total_cny_month for *_, c in rows)
        print(
            f"{'all provinces':<15}{'':>7}{cfg.offered_per_s:>8,.0f}{'':>25}"
            f"{sum(c.machines for *_, c in rows):>14,}{sum(c.cores for *_, c in rows):>7,}{total:>12,.0f}"
        )
        print(f"{'':<15}a year{12 * total:>71,.0f}")
        return
    if not args.plan:
        r = simulate(cfg)
        print("\n".join(report(r)))
        return
    floor = prices.storage_nodes(args.share) if args.storage_floor == "on" else 1
    print(
        f"sizing search: p99 ≤ {args.target_ms:,.0f} ms at the peak, "
        f"no stage, node{' or lock' if cfg.ledger_lock else ''} over "
        f"{args.max_util:.0%} loaded, ≥ {args.min_instances} instances per stage, ≥ {floor} Citus nodes "
        f"(to hold {prices.hot_years} years "
        f"of {prices.db_tb_year(args.share):,.1f} TB at ≤ {prices.tb_per_db_node:g} TB a node)"
    )
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
        print(
            f"  {res:<17} {count_of(found.config, res)} → {next_count(found.config, res, False)}: "
            f"{summary(r, found.target_ms, found.max_util)}"
        )
    at_floor = [res for res in RESOURCES if res not in found.one_fewer]
    print(
        f"  at their floor: {', '.join(at_floor)} (≥ {found.min_instances} instances a stage; "
        f"≥ {found.min_db_nodes} nodes for the data; ≥ {CORE_CHOICES[0]} cores a node)"
    )
    print("\ncost (every price an assumption, not a quote: see Prices and docs/national-load.md):")
    print("\n".join(cost_lines(cost(found.config, found.result, prices, args.share, args.max_util))))
