"""The faults of the chaos run: workers SIGKILLed at random moments and started again after a short
pause, PostgreSQL stopped and started once on the same data directory, and any worker that dies
otherwise restarted (as `onestop up` would) and noted."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runtime.parts import Parts
from runtime.supervisor import WorkerProcesses
from workers.registry import WORKERS


@dataclass(frozen=True)
class Faults:
    """What the fault run does: how many SIGKILLs, how far apart, how long a worker stays down;
    PostgreSQL is stopped once when ``pg_restart_at`` of the good claims are settled."""

    kills: int = 8
    kill_every: tuple[float, float] = (2.0, 10.0)
    down_for: tuple[float, float] = (0.3, 3.0)
    pg_restart_at: float = 0.4
    pg_down_for: tuple[float, float] = (2.0, 5.0)
    slices: int = 4
    slice_pause: tuple[float, float] = (0.5, 3.0)


@dataclass
class FaultLog:
    kills: list[tuple[float, str, float]] = field(default_factory=list)  # (at, worker, down for)
    pg_restarts: list[tuple[float, float, bool]] = field(default_factory=list)  # (at, down for, same dsn)
    unexpected_exits: list[tuple[float, str, int]] = field(default_factory=list)  # (at, worker, return code)


async def kill_workers(
    workers: WorkerProcesses,
    faults: Faults,
    rng: random.Random,
    log: FaultLog,
    held: set[str],
    stop: asyncio.Event,
    started: float,
) -> None:
    """SIGKILL random workers, ``faults.kills`` times (until ``stop``); each one's process is ``held`` while down."""
    names = list(WORKERS)
    while len(log.kills) < faults.kills and not stop.is_set():
        await asyncio.sleep(rng.uniform(*faults.kill_every))
        if stop.is_set():
            return
        name = rng.choice(names)
        down = rng.uniform(*faults.down_for)
        process = workers.process_of(name)  # killing a worker kills the process it shares with others
        held.add(process)
        try:
            workers.kill(name)
            await asyncio.sleep(down)
            workers.start_one(name)
        finally:
            held.discard(process)
        log.kills.append((time.monotonic() - started, name, down))


async def supervise(
    workers: WorkerProcesses, log: FaultLog, held: set[str], done: asyncio.Event, started: float
) -> None:
    """Restarts a worker that died without being killed, as `onestop up` does, and notes it (until ``done``)."""
    while not done.is_set():
        _restart_crashed(workers, log, held, started)
        try:
            await asyncio.wait_for(done.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


def _restart_crashed(workers: WorkerProcesses, log: FaultLog, held: set[str], started: float) -> None:
    for name in workers.crashed():
        if name not in held:
            log.unexpected_exits.append((time.monotonic() - started, name, workers.processes[name].returncode))
            workers.start_one(name)


async def restart_postgres(
    parts: Parts,
    faults: Faults,
    rng: random.Random,
    log: FaultLog,
    stop: asyncio.Event,
    started: float,
    progress: Callable[[], float],
) -> None:
    """Stop PostgreSQL once ``progress()`` reaches ``faults.pg_restart_at`` (or at ``stop``), start it again."""
    while progress() < faults.pg_restart_at and not stop.is_set():
        await asyncio.sleep(0.2)
    assert parts.postgres is not None
    dsn = parts.postgres.dsn
    at, down = time.monotonic() - started, rng.uniform(*faults.pg_down_for)
    await asyncio.to_thread(parts.postgres.stop)  # in a thread: kills and probes go on meanwhile
    await asyncio.sleep(down)
    await asyncio.to_thread(parts.postgres.start)
    log.pg_restarts.append((at, down, parts.postgres.dsn == dsn))
