"""The live pipeline against a plain Kafka chain: publish-to-settlement latency and throughput.

    .venv/bin/python -m bench.pipeline [--claims 8000] [--rates 100,500,1000] [--seconds 10]

Starts fresh embedded parts (Tansu broker, PostgreSQL) in a temporary directory and, on that
broker, measures in one run:

- the baseline (`bench.baseline`): a plain aiokafka consume→produce chain, one process per hop,
  as many hops as a typical claim's route takes in the pipeline (intake + its payers + ledger,
  rounded mean over the generated claims), same keys (psn_no), message sizes (the mean
  ClaimInFlight) and partitions, doing no work;
- the pipeline: every worker its own process, the generated people's eligibility granted first.

Each at fixed offered loads (paced, ``--seconds`` each) and at saturation (``--claims`` published
as fast as possible). Latency: from the moment the bench sends a claim to the moment the bench's
own consumer (fetch wait 100 ms) reads its record on the last topic (`settlements.completed`
for the pipeline), matched by claim_id. Saturation throughput: settled / (last arrival − first
publish). The figure that counts is the ratio pipeline / baseline.

Then the busiest workers (intake, basic, ledger) are profiled with py-spy while the pipeline
runs at saturation, and the time is split into faust, aiokafka, pydantic, asyncpg, orjson,
the rules and the rest. Prints a table and writes bench/results/pipeline-<driver>-<date>.json (and the
raw profiles next to it). Leaves no process behind.

The modules: ``workload`` (the claims of each phase), ``measuring`` (offering, arrivals, phases),
``cpu``, ``hops`` (latency per stage), ``profiling`` (py-spy), ``provenance`` (machine, versions,
source), ``run`` (the run, step by step), ``report``, ``command`` (the arguments; ``main``).
"""

from __future__ import annotations

from .command import main

__all__ = ["main"]
