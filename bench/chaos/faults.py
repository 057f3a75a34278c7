"""The faults of the chaos run: workers SIGKILLed at random moments and started again after a short
pause, PostgreSQL stopped and started once on the same data directory, optionally the whole system
stopped and started again (the broker's topics lost, the database kept), and any worker that dies
otherwise restarted (as `onestop up` would) and noted.

Every fault holds ``system`` (an asyncio.Lock) while it acts, so that no kill or supervisor's
restart meets a system that is being stopped; the whole system's restart also holds the senders'
lock, so that nothing is sent into a broker being stopped."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from runtime.parts import Parts, initialise_sync
from runtime.supervisor import WorkerProcesses
from schemas.codes import CLAIM_PAYERS
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
    instances: int = 1  # processes of each group of the default layout (the same consumer groups)
    restart_at: float | None = None  # the share of good claims settled when the whole system is restarted

    def victims(self, workers: WorkerProcesses, number: int) -> list[str]:
        """What kill ``number`` may hit: with one instance each, any worker (its process); with several,
        a process of intake, of the ledger or of a payer in turn (the stages every claim passes, whose
        instances share their partitions), so that each is killed once in three kills."""
        if self.instances == 1:
            return list(WORKERS)
        stage = KILLED_IN_TURN[number % len(KILLED_IN_TURN)]
        return sorted(name for name in workers.processes if set(name.split("#")[0].split("+")) & stage)


#: the stages the scaled-out run kills an instance of, in turn
KILLED_IN_TURN = ({"intake"}, {"ledger"}, {payer.value for payer in CLAIM_PAYERS})


@dataclass
class FaultLog:
    kills: list[tuple[float, str, float]] = field(default_factory=list)  # (at, worker, down for)
    pg_restarts: list[tuple[float, float, bool]] = field(default_factory=list)  # (at, down for, same dsn)
    unexpected_exits: list[tuple[float, str, int]] = field(default_factory=list)  # (at, worker, return code)
    restarts: list[tuple[float, float]] = field(default_factory=list)  # (at, seconds from stop to workers started)


async def kill_workers(
    workers: WorkerProcesses,
    faults: Faults,
    rng: random.Random,
    log: FaultLog,
    held: set[str],
    stop: asyncio.Event,
    started: float,
    system: asyncio.Lock,
) -> None:
    """SIGKILL random workers, ``faults.kills`` times (until ``stop``); each one's process is ``held`` while down."""
    while len(log.kills) < faults.kills and not stop.is_set():
        await asyncio.sleep(rng.uniform(*faults.kill_every))
        if stop.is_set():
            return
        async with system:
            name = rng.choice(faults.victims(workers, len(log.kills)))
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
    workers: WorkerProcesses, log: FaultLog, held: set[str], done: asyncio.Event, started: float, system: asyncio.Lock
) -> None:
    """Restarts a worker that died without being killed, as `onestop up` does, and notes it (until ``done``)."""
    while not done.is_set():
        if not system.locked():
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
    system: asyncio.Lock,
) -> None:
    """Stop PostgreSQL once ``progress()`` reaches ``faults.pg_restart_at`` (or at ``stop``), start it again."""
    while progress() < faults.pg_restart_at and not stop.is_set():
        await asyncio.sleep(0.2)
    async with system:
        assert parts.postgres is not None
        dsn = parts.postgres.dsn
        at, down = time.monotonic() - started, rng.uniform(*faults.pg_down_for)
        await asyncio.to_thread(parts.postgres.stop)  # in a thread: probes go on meanwhile
        await asyncio.sleep(down)
        await asyncio.to_thread(parts.postgres.start)
    log.pg_restarts.append((at, down, parts.postgres.dsn == dsn))


async def restart_system(
    parts: Parts,
    workers: WorkerProcesses,
    faults: Faults,
    log: FaultLog,
    stop: asyncio.Event,
    started: float,
    progress: Callable[[], float],
    locks: tuple[asyncio.Lock, ...],
    resend: Callable[[], Awaitable[None]],
) -> None:
    """Once ``progress()`` reaches ``faults.restart_at``: stop every worker (SIGTERM), the broker (its
    topics, held in memory, are lost) and PostgreSQL (its data kept), start them again as `onestop up`
    does (topics created afresh: a new life), and ``resend`` what the senders had sent, as a sender
    that lost its connection does: what was on the lost topics and not yet taken is sent again."""
    if faults.restart_at is None:
        return
    while progress() < faults.restart_at and not stop.is_set():
        await asyncio.sleep(0.2)
    async with contextlib.AsyncExitStack() as holding:
        for lock in locks:  # no kill, no PostgreSQL restart, no send meanwhile
            await holding.enter_async_context(lock)
        at = time.monotonic() - started
        await asyncio.to_thread(workers.stop)
        await asyncio.to_thread(parts.stop)
        await asyncio.to_thread(_start_parts, parts, workers)
        await asyncio.to_thread(workers.start)
        log.restarts.append((at, time.monotonic() - started - at))
        await resend()


def _start_parts(parts: Parts, workers: WorkerProcesses) -> None:
    """The same broker (same port, no topics) and PostgreSQL (same data), initialised as `onestop up` does."""
    assert parts.broker is not None and parts.postgres is not None
    parts.broker.start()
    parts.postgres.start()
    if (parts.broker.bootstrap, parts.postgres.dsn) != (workers.found.kafka, workers.found.database):
        raise RuntimeError("the restarted parts moved: the workers' endpoints no longer name them")
    initialise_sync(workers.found)
