"""What each worker's own work costs per claim: the handlers chained in this one process on a real
PostgreSQL, with no broker, so that the figures hold still whatever else the machine does.

    .venv/bin/python -m bench.handlers [--claims 6000] [--batch 200] [--profile WORKER [--sort tottime]]

A generated year (the same generator as bench.pipeline) is granted its categories through the
eligibility worker's handler, then its claims go through intake, each payer of their route and
the ledger, batch by batch, every handler's output handed to the worker that reads its topic —
exactly what the drivers do, minus Kafka. Printed per worker: CPU milliseconds per event it
handled (this process's CPU around its handler and after_sent, which includes asyncpg and the
event loop's share) and per claim; and PostgreSQL's CPU per claim (its processes, measured
around each worker's calls); and the round trips to PostgreSQL per batch (statements sent, BEGIN
and COMMIT among them: each is a wait for the other process to be scheduled, which at small batches
is most of a stage's time in the database; README, Benchmarks). The pipeline's own figures
(bench.pipeline) add the broker, the drivers' consume and produce, and the polling of idle consumers.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import tempfile
import time
import zlib
from collections import defaultdict, deque
from pathlib import Path

os.environ.setdefault("ONESTOP_ACCEPT_UNSIGNED", "1")  # the generated events are not signed

from bench.generator import year_of_claims  # noqa: E402
from bench.pipeline.cpu import postgres_cpu_seconds  # noqa: E402
from bench.pipeline.workload import grants_for  # noqa: E402
from runtime.embedded import EmbeddedPostgres  # noqa: E402
from store import open_store  # noqa: E402
from streams.codecs import encode  # noqa: E402
from streams.topics import DISCHARGED, ELIGIBILITY  # noqa: E402
from workers.harness import Context, Incoming, Outgoing, Worker  # noqa: E402
from workers.parking import handle_or_park  # noqa: E402
from workers.registry import WORKERS  # noqa: E402

PARTITIONS = 4


class RoundTrips:
    """Counts the statements asyncpg sends, each one round trip, for whichever worker is running:
    ``execute`` without arguments (the simple protocol: BEGIN, COMMIT, the locks) and every
    prepared-statement execution (fetch, execute with arguments, fetchval, fetchrow)."""

    def __init__(self) -> None:
        import asyncpg

        self.worker = ""
        self.counts: dict[str, int] = defaultdict(int)
        connection = asyncpg.connection.Connection
        simple, prepared = connection.execute, connection._do_execute
        counts = self

        async def execute(conn, query, *args, **kwargs):
            if not args:
                counts.counts[counts.worker] += 1
            return await simple(conn, query, *args, **kwargs)

        async def do_execute(conn, *args, **kwargs):
            counts.counts[counts.worker] += 1
            return await prepared(conn, *args, **kwargs)

        connection.execute, connection._do_execute = execute, do_execute


class Chain:
    """Topics as in-process queues; each worker's handler run on batches of what its topic holds."""

    def __init__(self, dsn: str, data_dir: Path, batch: int, profile: str | None) -> None:
        self.dsn, self.data_dir, self.batch = dsn, data_dir, batch
        self.by_topic: dict[str, Worker] = {w.source: w for w in WORKERS.values()}
        self.contexts = {name: Context(dsn, name) for name in WORKERS}
        for context in self.contexts.values():
            context.keeps_parked_keys = True  # as the default (aiokafka) driver runs them
        self.queues: dict[str, deque[Incoming]] = defaultdict(deque)
        self.offsets: dict[tuple[str, int], int] = defaultdict(int)
        self.cpu: dict[str, float] = defaultdict(float)
        self.pg: dict[str, float] = defaultdict(float)
        self.events: dict[str, int] = defaultdict(int)
        self.batches: dict[str, int] = defaultdict(int)
        self.round_trips = RoundTrips()
        self.profiler = cProfile.Profile() if profile else None
        self.profiled = profile

    def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        partition = zlib.crc32(key or b"") % PARTITIONS
        offset = self.offsets[(topic, partition)]
        self.offsets[(topic, partition)] += 1
        self.queues[topic].append(Incoming(key, value, topic, partition, offset, (), int(time.time() * 1000)))

    async def drain(self) -> None:
        """Run every worker on its topic until nothing is left anywhere."""
        while True:
            busy = [t for t, q in self.queues.items() if q and t in self.by_topic]
            if not busy:
                return
            for topic in busy:
                queue = self.queues[topic]
                batch = [queue.popleft() for _ in range(min(self.batch, len(queue)))]
                await self._run(self.by_topic[topic], batch)

    async def _run(self, worker: Worker, batch: list[Incoming]) -> None:
        context = self.contexts[worker.name]
        await context.store()  # opened before the clock starts
        profiling = self.profiler is not None and worker.name == self.profiled
        pg_before, started = postgres_cpu_seconds(self.data_dir), time.process_time()
        self.round_trips.worker = worker.name
        if profiling:
            self.profiler.enable()
        out: list[Outgoing] = await handle_or_park(worker, context, batch)
        if worker.after_sent is not None and out:
            await worker.after_sent(context, out)
        if profiling:
            self.profiler.disable()
        self.cpu[worker.name] += time.process_time() - started
        self.pg[worker.name] += postgres_cpu_seconds(self.data_dir) - pg_before
        self.round_trips.worker = ""
        self.events[worker.name] += len(batch)
        self.batches[worker.name] += 1
        for o in out:
            self.publish(o.topic, o.key, o.value)

    async def close(self) -> None:
        for context in self.contexts.values():
            await context.close()


async def run(args: argparse.Namespace) -> None:
    population, claims = year_of_claims(args.claims, seed=args.seed)
    claims.sort(key=lambda c: (c.enddate.month, c.enddate.day, c.enddate.year))
    temporary = Path(tempfile.mkdtemp(prefix="onestop-handlers-"))
    postgres = EmbeddedPostgres(temporary / "pgdata").start()
    try:
        await (await open_store(postgres.dsn, migrate=True)).close()
        chain = Chain(postgres.dsn, temporary / "pgdata", args.batch, args.profile)
        for grant in grants_for(population):
            chain.publish(ELIGIBILITY, None, grant)
        await chain.drain()
        warm, measured = claims[:200], claims[200:]
        for claim in warm:
            chain.publish(DISCHARGED, claim.psn_no.encode(), encode(claim))
        await chain.drain()
        (
            chain.cpu.clear(),
            chain.pg.clear(),
            chain.events.clear(),
            chain.batches.clear(),
            chain.round_trips.counts.clear(),
        )
        wall = time.perf_counter()
        for claim in measured:
            chain.publish(DISCHARGED, claim.psn_no.encode(), encode(claim))
        await chain.drain()
        wall = time.perf_counter() - wall
        _report(chain, len(measured), wall, args.batch)
        if chain.profiler is not None:
            pstats.Stats(chain.profiler).sort_stats(args.sort).print_stats(45)
        await chain.close()
    finally:
        postgres.stop()
        shutil.rmtree(temporary, ignore_errors=True)


def _report(chain: Chain, claims: int, wall: float, batch: int) -> None:
    print(f"{claims} claims in batches of up to {batch}, {wall:.1f} s wall")
    print(
        f"{'worker':18} {'events':>7} {'ms/event':>9} {'ms/claim':>9} "
        f"{'PostgreSQL ms/claim':>20} {'round trips/batch':>18}"
    )
    trips = chain.round_trips.counts
    for name in sorted(chain.events, key=lambda n: -chain.cpu[n]):
        events = chain.events[name]
        print(
            f"{name:18} {events:7} {1000 * chain.cpu[name] / events:9.3f} {1000 * chain.cpu[name] / claims:9.3f} "
            f"{1000 * chain.pg[name] / claims:20.3f} {trips[name] / chain.batches[name]:18.2f}"
        )
    workers, pg = sum(chain.cpu.values()), sum(chain.pg.values())
    print(f"{'all workers':18} {'':7} {'':9} {1000 * workers / claims:9.3f} {1000 * pg / claims:20.3f}")
    print(f"round trips to PostgreSQL: {sum(trips.values()) / claims:.2f} per claim")
    print(f"workers + PostgreSQL: {1000 * (workers + pg) / claims:.3f} ms per claim")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.handlers", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--claims", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=200, help="events per handler call (as one poll returns)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", help="a worker to profile with cProfile (its top 45)")
    parser.add_argument(
        "--sort", default="cumulative", help="the profile's order: cumulative or tottime (time in the function itself)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
