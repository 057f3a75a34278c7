"""The national-load simulation (bench/national/): it answers what it is asked in ways that could
be wrong — latency, keeping up, the bottleneck, a hot person, the sizing search, its determinism,
and its agreement with the benchmark measured on this machine."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from bench import national as N
from bench.national import Config, StageCost
from bench.national.command import arguments, config_of
from bench.national.plan import summary

#: every stage 1 ms of CPU a claim and nothing else: latency is the stages plus the hops
FLAT_COST = tuple((name, StageCost(claim_cpu=1.0, batch_cpu=0.0, db_claim=0.0, round_trips=0)) for name in N.STAGES)
NO_DATABASE = dict(tx_cpu=0.0, rtt_ms=0.0, commit_ms=0.0, ledger_lock=False, db_penalty=1.0, citus_overhead=1.0)


def toy(**changes) -> Config:
    """A small pipeline: a few hundred claims a second, every claim basic → critical, no heavy users."""
    base = Config(
        outpatient_per_s=100.0,
        inpatient_per_s=0.0,
        seconds=5.0,
        profile="flat",
        category_share=0.0,
        heavy_share=0.0,
        partitions=8,
        instances=tuple((n, 2) for n in N.STAGES),
        db_nodes=1,
        db_cores=8,
        broker="kafka",
        costs=FLAT_COST,
        batch_max=20,
        drain_s=20.0,
        seed=3,
        **NO_DATABASE,
    )
    return replace(base, **changes)


def slow(stage: str, ms: float) -> tuple:
    """FLAT_COST with one stage taking ``ms`` a claim: its capacity is 1000/ms claims/s per instance."""
    return tuple(
        (n, StageCost(claim_cpu=ms if n == stage else 0.1, batch_cpu=0.0, db_claim=0.0, round_trips=0))
        for n in N.STAGES
    )


def test_with_room_to_spare_latency_is_the_stages_and_the_hops():
    r = N.simulate(toy(outpatient_per_s=20.0))
    ack, lo, hi, _ = N.BROKERS["kafka"]
    stages = 4  # intake, basic, critical, ledger: each 1 ms of CPU
    # five sends (the hospital's and each stage's, acknowledged) and five fetches (each stage's and the reader's)
    fastest = stages * 1.0 + (stages + 1) * (ack + lo)
    slowest = stages * 1.0 + (stages + 1) * (ack + hi)
    assert r.keeps_up and r.unsettled == 0
    assert fastest <= r.p50_ms <= slowest
    assert r.max_ms <= slowest + 5.0  # a claim arriving during a batch waits at most a little
    assert all(s.load < 0.1 for s in r.stages)


def test_more_work_than_capacity_does_not_keep_up_and_the_lag_grows():
    r = N.simulate(toy(outpatient_per_s=150.0, costs=slow("ledger", 10.0)).with_instances(ledger=1))
    assert not r.keeps_up
    assert r.throughput_per_s == pytest.approx(100.0, rel=0.08)  # one ledger instance: 100 claims/s
    assert r.backlog_slope_per_s == pytest.approx(50.0, rel=0.3)  # 150 offered − 100 settled
    assert r.stage("ledger").peak_lag > 200
    assert r.stage("ledger").load_max > 0.95
    assert r.stage("intake").peak_lag < 20  # the stages before it keep up


def test_doubling_the_bottleneck_stage_raises_throughput():
    one = N.simulate(toy(outpatient_per_s=150.0, costs=slow("ledger", 10.0)).with_instances(ledger=1))
    two = N.simulate(toy(outpatient_per_s=150.0, costs=slow("ledger", 10.0)).with_instances(ledger=2))
    more_elsewhere = N.simulate(
        toy(outpatient_per_s=150.0, costs=slow("ledger", 10.0)).with_instances(ledger=1, intake=4, basic=4, critical=4)
    )
    assert two.throughput_per_s > 1.35 * one.throughput_per_s
    assert two.keeps_up and not one.keeps_up
    assert more_elsewhere.throughput_per_s == pytest.approx(one.throughput_per_s, rel=0.05)


def test_a_hot_person_is_bounded_by_one_instance_whatever_the_instances():
    """One person's 150 claims/s all land on partition 0: one intake instance at a time reads it, at
    most 100/s, and more instances do not change that — while everyone else is settled at once."""
    runs = [
        N.simulate(toy(outpatient_per_s=40.0, hot_rate=150.0, costs=slow("intake", 10.0)).with_instances(intake=n))
        for n in (4, 8)
    ]
    for r in runs:
        assert not r.keeps_up
        assert r.hot_throughput_per_s <= 100.0 * 1.03
        assert r.hot_partition_peak_lag > 100
    assert runs[1].hot_throughput_per_s <= runs[0].hot_throughput_per_s * 1.1
    # the same load spread over many people keeps up with 4 instances
    spread = N.simulate(toy(outpatient_per_s=190.0, costs=slow("intake", 10.0)).with_instances(intake=4))
    assert spread.keeps_up


def test_the_plan_is_confirmed_by_the_simulation_and_one_fewer_of_the_bottleneck_fails():
    base = toy(
        outpatient_per_s=300.0,
        costs=tuple(
            (n, StageCost(claim_cpu=c, batch_cpu=1.0, db_claim=0.05, round_trips=2))
            for n, c in zip(N.STAGES, (4.0, 2.0, 2.0, 1, 1, 1, 1, 1, 1, 1, 6.0))
        ),
        tx_cpu=0.5,
        rtt_ms=0.3,
        commit_ms=1.0,
        db_cores=2,
        seconds=4.0,
    )
    found = N.plan(base, target_ms=300.0, max_util=0.9, min_instances=1, min_partitions=8)
    assert found.reached
    again = N.simulate(found.config)
    assert again.meets(300.0, 0.9)
    assert again.p99_ms == found.result.p99_ms  # the search's figures are the simulation's
    assert found.one_fewer, "some resource must be the bottleneck"
    for resource in found.one_fewer:
        fewer = N.with_count(found.config, resource, N.next_count(found.config, resource, False))
        assert not N.simulate(fewer).meets(300.0, 0.9), resource
    bottleneck = max(N.STAGES, key=lambda s: found.result.stage(s).load_max)
    assert bottleneck in found.one_fewer or found.config.instances_of(bottleneck) == 1
    assert found.config.instances_of("ledger") >= 2  # 300/s × 6 ms = 1.8 instances' work


def test_same_seed_same_figures_other_seed_other_figures():
    cfg = replace(Config(seconds=3.0), outpatient_per_s=1000.0, inpatient_per_s=50.0)
    a, b = N.simulate(cfg), N.simulate(cfg)
    c = N.simulate(replace(cfg, seed=cfg.seed + 1))

    def figures(r):
        return (
            r.offered,
            r.settled,
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.backlog_peak,
            [(s.load_max, s.mean_batch, s.peak_lag) for s in r.stages],
            r.db_util_max,
        )

    assert figures(a) == figures(b)
    assert figures(a) != figures(c)


def test_one_cell_of_several_stands_for_the_whole():
    cfg = replace(
        Config(seconds=6.0, profile="flat", heavy_share=0.0),
        outpatient_per_s=1200.0,
        inpatient_per_s=0.0,
        partitions=32,
        db_nodes=4,
    ).with_instances(**{n: 4 for n in N.STAGES})
    whole = N.simulate(cfg)
    cell = N.simulate(replace(cfg, cells=2))
    assert whole.keeps_up and cell.keeps_up
    assert cell.offered == pytest.approx(whole.offered, rel=0.05)
    assert cell.p99_ms == pytest.approx(whole.p99_ms, rel=0.25)
    assert cell.stage("ledger").load == pytest.approx(whole.stage("ledger").load, rel=0.1)
    with pytest.raises(ValueError):
        N.simulate(replace(cfg, cells=3))  # 32 partitions do not split in three


def test_an_instance_killed_delays_its_partitions_then_the_pipeline_catches_up():
    cfg = toy(outpatient_per_s=200.0, seconds=8.0, kill="ledger@2", rebalance_s=3.0)
    r = N.simulate(cfg)
    calm = N.simulate(replace(cfg, kill=""))
    assert r.settled == r.offered  # nothing lost, the redelivered ones settled once
    assert r.p99_ms >= 3000.0 - 100.0 > calm.p99_ms
    assert r.stage("ledger").peak_lag > calm.stage("ledger").peak_lag
    assert r.drained_after_s < 2.0


def test_the_ledger_lock_is_off_as_in_the_code_and_on_only_adds_waiting():
    """The ledger takes no table lock since each person's inputs are ordered under their own row lock:
    the model and the command leave it out unless asked; asked, it is one lock for every ledger
    instance, which only delays, and its time is reported."""
    assert not Config().ledger_lock
    assert not config_of(arguments().parse_args([])).ledger_lock
    assert N.calibration_config(100.0, 10.0).ledger_lock  # the measured code still took it
    cfg = toy(outpatient_per_s=300.0, rtt_ms=0.3, commit_ms=2.0).with_instances(ledger=4)
    off = N.simulate(cfg)
    on = N.simulate(replace(cfg, ledger_lock=True))
    assert off.settled == on.settled == off.offered
    assert off.lock_util == 0.0
    assert "table lock held" not in "\n".join(N.report(off))
    assert "ledger lock" not in summary(off, 800.0, 0.75)
    assert on.lock_util > 0.3  # 2 round trips and a commit a batch, one batch at a time cluster-wide
    assert f"ledger's table lock held {on.lock_util:.0%}" in "\n".join(N.report(on))
    assert on.p99_ms >= off.p99_ms  # the same seed: the lock can only add waiting


def test_the_model_agrees_with_the_benchmark_measured_here():
    """bench/results/pipeline-aiokafka-2026-11-22.json: 517/s at saturation, p99 1,337 ms at 500/s."""
    saturation = N.simulate(N.calibration_config(6000 / 0.343, 0.343))
    at_500 = N.simulate(N.calibration_config(500.0, 10.0))
    assert saturation.settled / saturation.last_settled_s == pytest.approx(517.3, rel=0.2)
    assert at_500.p99_ms == pytest.approx(1337.1, rel=0.35)
    assert at_500.cpu_seconds["ledger"] == pytest.approx(2.29, rel=0.2)


def test_cost_follows_its_assumptions():
    r = N.simulate(replace(Config(seconds=2.0), outpatient_per_s=400.0, inpatient_per_s=15.0))
    c = N.cost(r.config, r)
    assert c.total_cny_month == pytest.approx(sum(x for _, _, x in c.rows))
    dearer = N.cost(r.config, r, N.Prices(cny_ssd_tb_month=2000.0))
    ssd = sum(x for item, _, x in c.rows if item in ("database SSD", "Kafka local disk"))
    assert dearer.total_cny_month == pytest.approx(c.total_cny_month + ssd)
    prices = N.Prices()
    assert prices.storage_nodes() == math.ceil(18e6 * 365 * 6.0 / 1e9 * 2 / 8.0)


def test_the_command_prints_a_run(capsys):
    N.main(
        [
            "--seconds",
            "4",
            "--profile",
            "flat",
            "--outpatient",
            "300",
            "--inpatient",
            "10",
            "--instances",
            "intake=2,ledger=2",
            "--db-nodes",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert "keeps up: yes" in out and "p99" in out and "ledger" in out
