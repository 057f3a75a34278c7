"""What a run prints: its configuration and figures (``report``), and the model beside the measured
benchmark it was calibrated on (``calibrate``)."""

from __future__ import annotations

import math

from .model import BENCH_CATEGORY_SHARE, BROKERS, MEASURED, STAGES, Config
from .results import Result
from .simulation import simulate


def calibration_config(offered_per_s: float, seconds: float) -> Config:
    """The measured benchmark's set-up: one instance per worker, 4 partitions, one PostgreSQL and the
    broker on the same 2 cores (with what the 17 processes use at rest), the benchmark's route mix."""
    return Config(
        outpatient_per_s=offered_per_s,
        inpatient_per_s=0.0,
        seconds=seconds,
        profile="flat",
        category_share=BENCH_CATEGORY_SHARE,
        heavy_share=0.0,
        partitions=4,
        instances=tuple((name, 1) for name in STAGES),
        db_nodes=1,
        db_cores=2,
        align="none",
        ledger_lock=True,  # the measured code (edca437) still took LOCK TABLE settlements per ledger batch
        broker="embedded",
        db_penalty=1.0,
        citus_overhead=1.0,
        rtt_ms=0.05,
        commit_ms=0.5,
        shared_cores=2,
        background_cores=0.3,
        drain_s=120.0,
        seed=7,
    )


def calibrate() -> list[str]:
    lines = [
        "the model against the measured pipeline (bench/results/pipeline-aiokafka-2026-11-22.json): "
        "4 partitions, one instance per worker, every process on the same 2 cores",
        f"{'phase':<17}{'':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'claims/s':>10}"
        "   CPU seconds intake / basic / "
        "critical / assistance / ledger / postgres / broker",
    ]
    for name, rate, claims, p50, p99, top, thr, cpu, _wall in MEASURED:
        seconds = 10.0 if rate else 0.343
        r = simulate(calibration_config(rate or claims / seconds, seconds))
        through = r.throughput_per_s if rate else r.settled / r.last_settled_s
        keys = ("intake", "basic", "critical", "assistance", "ledger", "postgres", "broker")
        lines.append(
            f"{name:<17}{'measured':>9}{p50:>9,.0f}{p99:>9,.0f}{top:>9,.0f}{thr:>10,.0f}   "
            + " / ".join(f"{cpu[k]:.2f}" for k in keys)
        )
        lines.append(
            f"{'':<17}{'model':>9}{r.p50_ms:>9,.0f}{r.p99_ms:>9,.0f}{r.max_ms:>9,.0f}{through:>10,.0f}   "
            + " / ".join(f"{r.cpu_seconds[k]:.2f}" for k in keys)
        )
    lines.append(
        "(CPU seconds: measured per process over the phase; the model's are only the work it models — "
        "the measured ones also hold what each process spends at rest, ≈ 0.08 s per worker and 1.2 s for "
        "the broker per 10 s)"
    )
    return lines


def milliseconds(value: float) -> str:
    return "∞ (not all settled)" if math.isinf(value) else f"{value:,.0f} ms"


def describe(cfg: Config) -> list[str]:
    ack, lo, hi, cycled = BROKERS[cfg.broker]
    prof = {
        "flat": "flat",
        "diurnal": "a day's shape (DIURNAL) compressed into the window",
        "burst": f"×{cfg.burst_factor:g} for {cfg.burst_seconds:g} s from {cfg.seconds / 3:.1f} s",
    }[cfg.profile]
    inst = ", ".join(f"{name} {cfg.instances_of(name)}" for name in STAGES)
    out = [
        f"load: {cfg.outpatient_per_s:,.0f} outpatient + {cfg.inpatient_per_s:,.0f} inpatient settlements/s, "
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
        + (" (in fetch cycles)" if cycled else "")
        + "; worker CPU per claim "
        f"(ms, this machine × {cfg.cpu_scale:g}): "
        + ", ".join(
            f"{n} {cfg.cost_of(n).claim_cpu:g}" for n in ("intake", "basic", "critical", "assistance", "ledger")
        ),
    ]
    if cfg.kill:
        out.append(
            f"failure: an instance of {cfg.kill.replace('@', ' dies at ')} s; its partitions move after "
            f"{cfg.rebalance_s:g} s; {cfg.commit_interval_s:g} s of its work is delivered again"
        )
    return out


def report(r: Result) -> list[str]:
    cfg = r.config
    out = describe(cfg)
    verdict = "yes" if r.keeps_up else "NO"
    out += [
        "",
        f"keeps up: {verdict} — {r.settled:,} of {r.offered:,} claims settled, "
        f"{r.throughput_per_s:,.0f}/s within the "
        f"window (offered {r.offered / r.window_s:,.0f}/s); backlog peak {r.backlog_peak:,}, trend "
        f"{r.backlog_slope_per_s:+,.0f}/s over the window's second half; "
        f"last settled {r.drained_after_s:.1f} s after it",
        f"publish → settlements.completed: p50 {milliseconds(r.p50_ms)}, p99 {milliseconds(r.p99_ms)}, "
        f"max {milliseconds(r.max_ms)}; "
        f"inpatient p99 {milliseconds(r.inpatient_p99_ms)}",
        "",
        f"{'stage':<17}{'inst':>5}{'part/inst':>10}{'claims/s':>10}{'load':>6}{'max':>6}{'busy':>6}{'CPU':>6}"
        f"{'batch':>7}{'peak lag':>10}{'/partition':>11}",
    ]
    for s in r.stages:
        out.append(
            f"{s.name:<17}{s.instances:>5}{s.partitions_per_instance:>10}{s.claims_per_s:>10,.0f}{s.load:>6.0%}"
            f"{s.load_max:>6.0%}{s.busy:>6.0%}{s.cpu:>6.0%}{s.mean_batch:>7.0f}{s.peak_lag:>10,}"
            f"{s.peak_partition_lag:>11,}"
        )
    out.append(
        "(load: per-claim CPU and database time over the window — 100% is saturation; busy: time in a batch "
        "of any size, which small batches fill at low load; CPU: a core's share)"
    )
    out.append(
        f"PostgreSQL: {cfg.db_nodes} node(s) × {cfg.db_cores} cores busy {r.db_util_mean:.0%} on average, "
        f"{r.db_util_max:.0%} the busiest; {r.db_tx_per_s:,.0f} transactions/s "
        f"of {r.db_claims_per_tx:.1f} claims"
        + (
            f"; ledger's table lock held {r.lock_util:.0%} of the time ({r.lock_load:.0%} per record)"
            if cfg.ledger_lock
            else ""
        )
    )
    out.append(f"Kafka: {r.broker_messages_per_s:,.0f} messages/s produced (every topic)")
    if r.hot_claims:
        out.append(
            f"the hot person: {r.hot_claims:,} claims, {r.hot_settled_in_window:,} settled within the window "
            f"({r.hot_throughput_per_s:,.0f}/s); their partition's peak lag {r.hot_partition_peak_lag:,}"
        )
    out.append(f"(simulated in {r.wall_s:.1f} s)")
    return out
