"""What a round trip between two processes costs on this machine: the two free to run on any core,
and both held to one core. On a virtual machine, waking a process on a core that sleeps can cost
far more than the message itself, and a small batch's round trips (to the broker, to PostgreSQL)
are most of its cost (README, Benchmarks: "Measured and left").

    .venv/bin/python -m bench.wakeups [--round-trips 20000] [--transactions 500]

Printed for each case: wall time per round trip, and the CPU each side spent on it (user and
system): a socket pair between this process and a child it forks, echoing 50 bytes; then a
PostgreSQL write transaction of three round trips (BEGIN with a lock, an insert, COMMIT), as a
payer's is, on the embedded PostgreSQL, with the client and its backend free, then both on one
core.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import tempfile
import time
from pathlib import Path

MESSAGE = b"x" * 50


def _cpu_of(who: int) -> tuple[float, float]:
    usage = resource.getrusage(who)
    return usage.ru_utime, usage.ru_stime


def ping_pong(round_trips: int, one_core: bool) -> dict[str, float]:
    """Microseconds per round trip: wall, and this side's and the echoing child's user and system CPU."""
    here, there = socket.socketpair()
    allowed = os.sched_getaffinity(0)
    if one_core:
        os.sched_setaffinity(0, {min(allowed)})
    try:
        child = os.fork()
        if child == 0:  # the echo: until this side closes its end
            here.close()
            while data := there.recv(100):
                there.send(data)
            os._exit(0)
        there.close()
        began, (user, system) = time.perf_counter(), _cpu_of(resource.RUSAGE_SELF)
        for _ in range(round_trips):
            here.send(MESSAGE)
            here.recv(100)
        wall = time.perf_counter() - began
        user_after, system_after = _cpu_of(resource.RUSAGE_SELF)
        here.close()
        child_user, child_system = _cpu_of(resource.RUSAGE_CHILDREN)
        os.waitpid(child, 0)
        child_user, child_system = (
            a - b for a, b in zip(_cpu_of(resource.RUSAGE_CHILDREN), (child_user, child_system))
        )
    finally:
        os.sched_setaffinity(0, allowed)
    per = 1e6 / round_trips
    return {"wall_us": wall * per, "user_us": (user_after - user) * per, "system_us": (system_after - system) * per,
            "echo_user_us": child_user * per, "echo_system_us": child_system * per}


async def transactions(dsn: str, data_dir: Path, count: int, one_core: bool) -> dict[str, float]:
    """Milliseconds per write transaction: wall, the client's CPU and PostgreSQL's (all its processes)."""
    import asyncpg

    from bench.pipeline.cpu import postgres_cpu_seconds

    allowed = os.sched_getaffinity(0)
    conn = await asyncpg.connect(dsn)
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        if one_core:
            os.sched_setaffinity(0, {min(allowed)})
            os.sched_setaffinity(backend, {min(allowed)})
        await conn.execute("CREATE TABLE IF NOT EXISTS wakeups (id bigserial PRIMARY KEY, a text, b numeric)")
        database, (user, system) = postgres_cpu_seconds(data_dir), _cpu_of(resource.RUSAGE_SELF)
        began = time.perf_counter()
        for _ in range(count):
            await conn.execute(
                "BEGIN; SELECT pg_advisory_xact_lock(1, k) FROM unnest('{1,2,3}'::integer[]) AS k ORDER BY k"
            )
            await conn.execute(
                "INSERT INTO wakeups (a, b) SELECT a, b FROM unnest($1::text[], $2::numeric[]) AS x(a, b)",
                ["x"] * 4,
                [1, 2, 3, 4],
            )
            await conn.execute("COMMIT")
        wall = time.perf_counter() - began
        user_after, system_after = _cpu_of(resource.RUSAGE_SELF)
        database = postgres_cpu_seconds(data_dir) - database
    finally:
        os.sched_setaffinity(0, allowed)
        await conn.close()
    per = 1e3 / count
    return {"wall_ms": wall * per, "client_ms": (user_after - user + system_after - system) * per,
            "client_system_ms": (system_after - system) * per, "postgres_ms": database * per}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round-trips", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=500)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; a socket pair, {args.round_trips} round trips of 50 bytes, µs each:")
    for one_core in (False, True):
        r = ping_pong(args.round_trips, one_core)
        print(
            f"  {'one core' if one_core else 'any core':9s} wall {r['wall_us']:7.1f}   "
            f"this side user {r['user_us']:5.1f} "
            f"system {r['system_us']:5.1f}   the echo user {r['echo_user_us']:5.1f} system {r['echo_system_us']:5.1f}"
        )
    from runtime.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="onestop-wakeups-") as scratch:
        data_dir = Path(scratch) / "pgdata"
        postgres = EmbeddedPostgres(data_dir).start()
        try:
            print(f"a PostgreSQL write transaction (3 round trips), {args.transactions} of them, ms each:")
            for one_core in (False, True, False, True):
                r = asyncio.run(transactions(postgres.dsn, data_dir, args.transactions, one_core))
                print(
                    f"  {'one core' if one_core else 'any core':9s} wall {r['wall_ms']:.3f}   "
                    f"client {r['client_ms']:.3f} "
                    f"(system {r['client_system_ms']:.3f})   PostgreSQL {r['postgres_ms']:.3f}"
                )
        finally:
            postgres.stop()


if __name__ == "__main__":
    main()
