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
records published in a second transaction after the send. It takes no table lock: each person's
inputs are ordered by their own sequence under a row lock on their `persons` row, which only that
person's batches wait for. `--ledger-lock on` models the ledger as it was before, holding
`LOCK TABLE settlements IN EXCLUSIVE MODE` while it wrote (one lock for every ledger instance), so
that the earlier figures can be reproduced; `--calibrate` runs with it, as the measured code did.

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

The modules: model.py (stages, costs, routes, brokers, a run's Config), workload.py (the claims of
a window), simulation.py (the events, one method each), results.py (a run's figures), report.py
(what a run prints, and --calibrate), plan.py (the sizing search), cost.py (prices, and every
province its own cell), command.py (the command line).
"""

from __future__ import annotations

from .command import main
from .cost import Cost, Prices, cost, cost_lines, regional
from .model import BROKERS, INDEX, STAGE_COSTS, STAGES, Config, StageCost, visit_shares
from .plan import Plan, count_of, first_guess, next_count, plan, with_count
from .report import calibrate, calibration_config, describe, report
from .results import Result, StageResult
from .simulation import Simulation, simulate

__all__ = [
    "BROKERS",
    "INDEX",
    "STAGES",
    "STAGE_COSTS",
    "Config",
    "Cost",
    "Plan",
    "Prices",
    "Result",
    "Simulation",
    "StageCost",
    "StageResult",
    "calibrate",
    "calibration_config",
    "cost",
    "cost_lines",
    "count_of",
    "describe",
    "first_guess",
    "main",
    "next_count",
    "plan",
    "regional",
    "report",
    "simulate",
    "visit_shares",
    "with_count",
]
