"""Workers told to stop (SIGTERM) after the broker died stop, cleanly and soon (issue 28 item 4).

Before, they did not: aiokafka retries a commit for ever while the broker is away
(GroupCoordinator.commit_offsets loops on retriable errors), and the driver's loop, committing
once a second, never saw that it was told to stop; a batch waiting for its sends ended only at
the producer's request timeout (40 s); under Faust, whose stop waits in the same commit, the ledger
and basic still ran a minute after the signal. Here intake, basic and the ledger have handled
claims (so each has offsets to commit) when their broker is stopped."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bench.generator import year_of_claims
from runtime.embedded import EmbeddedBroker
from runtime.endpoints import Endpoints, worker_url
from runtime.parts import initialise
from runtime.supervisor import WorkerProcesses
from schemas.events import DischargeClaim
from store.postgres import PostgresStore
from streams.codecs import encode
from streams.publisher import publish
from streams.topics import DISCHARGED

from ..parts import created_database, drop_database, start_or_fail

#: the aiokafka driver waits at most 5 s for the batch, the last commit and each client's stop; under
#: Faust, whose stop is its own, a timer ends the process 20 s after the signal (faust_driver)
STOPPED_WITHIN = 30.0


async def _until_claims_received(url: str, at_least: int, timeout: float) -> None:
    store = await PostgresStore.open(url, migrate=False)
    try:
        deadline = time.monotonic() + timeout
        while (await store.counts())["claims_received"] < at_least:
            assert time.monotonic() < deadline, "intake received no claims: the workers never ran"
            await asyncio.sleep(0.3)
    finally:
        await store.close()


@pytest.mark.parametrize("driver", ["aiokafka", "faust"])
async def test_workers_told_to_stop_after_the_broker_died_stop(database: str, tmp_path: Path, driver: str):
    broker = EmbeddedBroker(tmp_path / "broker")
    start_or_fail(broker, "a broker of its own, to stop")
    url = await created_database(database)
    found = Endpoints(broker.bootstrap, url, worker_url(url))
    names = ["intake", "basic", "ledger"]
    workers = WorkerProcesses(
        found,
        tmp_path / "logs",
        extra_env={
            "ONESTOP_ACCEPT_UNSIGNED": "1",
            "ONESTOP_HOME": str(tmp_path / "home"),
            "ONESTOP_DRIVER": driver,
            "ONESTOP_PROCESSES": " ".join(names),
        },
    )
    try:
        await initialise(found)
        workers.start(names)
        _, claims = year_of_claims(300, seed=3)
        await publish(found.kafka, DISCHARGED, [encode(c) for c in claims], DischargeClaim)
        await _until_claims_received(url, 50, 120)
        await asyncio.sleep(1.0)  # batches on their way through basic and to the ledger, offsets to commit
        broker.stop()
        await asyncio.sleep(2.0)
        told = time.monotonic()
        for process in workers.processes.values():
            process.send_signal(signal.SIGTERM)
        codes = {
            name: await asyncio.to_thread(_exit_code, process, told + STOPPED_WITHIN)
            for name, process in workers.processes.items()
        }
        assert codes == {name: 0 for name in names}, (
            f"exit codes (None: still running {STOPPED_WITHIN:.0f}s after SIGTERM): {codes}"
        )
    finally:
        workers.stop(5)
        await drop_database(database, url)
        broker.stop()


def _exit_code(process, until: float) -> int | None:
    try:
        return process.wait(max(0.1, until - time.monotonic()))
    except subprocess.TimeoutExpired:  # still running: the test reports it
        return None
