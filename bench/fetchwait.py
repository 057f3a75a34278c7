"""What a consumer's fetch wait costs on the embedded broker: how long a record waits before a
consumer that asks with that wait receives it, and what idle consumers asking with it cost the
broker at rest. Tansu answers a fetch that finds nothing only after sleeping part of the wait, and
does not wake when a record arrives meanwhile, so the wait is a floor under every hop's latency
(README, Benchmarks: "The fetch wait").

    .venv/bin/python -m bench.fetchwait [--waits 100,50,20] [--records 200] [--idle 11]

Printed per wait: a record's delay from its producer's timestamp until the consumer has it (p50 /
p99 / max over records sent every 37 ms, a period that does not divide any wait, so they land at
every point of the broker's sleep); and the CPU, in cores, of the broker and of this process's
clients over 10 s with ``--idle`` consumers of their own groups reading an empty topic (11: the
default layout's consumers that answer a window; the background ones ask once a second).
Results in ``bench/results/fetchwait-<date>T<time>.json``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

from bench.pipeline.measuring import percentile
from runtime.embedded import EmbeddedBroker
from streams.admin import create_topics

GAP_SECONDS = 0.037  # between records: prime to every wait measured, so arrivals fall all over a sleep
IDLE_SECONDS = 10.0
RESULTS = Path(__file__).parent / "results"


async def record_delays(bootstrap: str, wait_ms: int, records: int) -> dict[str, float]:
    """p50 / p99 / max milliseconds from a record's producer timestamp until a consumer fetching
    with ``wait_ms`` has it."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = f"bench.fetchwait.delay.{wait_ms}.{time.monotonic_ns()}"
    await create_topics(bootstrap, [topic], 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=topic, fetch_max_wait_ms=wait_ms,
                                auto_offset_reset="earliest")
    await producer.start()
    await consumer.start()
    try:
        await producer.send_and_wait(topic, b"first")  # the group has joined and fetches
        await consumer.getone()
        delays: list[float] = []

        async def read() -> None:
            while len(delays) < records:
                record = await consumer.getone()
                delays.append(time.time() * 1000 - record.timestamp)

        reading = asyncio.create_task(read())
        for _ in range(records):
            await producer.send(topic, b"x" * 1000)
            await asyncio.sleep(GAP_SECONDS)
        await asyncio.wait_for(reading, timeout=30)
    finally:
        await consumer.stop()
        await producer.stop()
    delays.sort()
    return {"p50_ms": round(statistics.median(delays), 1), "p99_ms": round(percentile(delays, 0.99), 1),
            "max_ms": round(delays[-1], 1)}


async def idle_cost(bootstrap: str, broker_pid: int, wait_ms: int, consumers: int,
                    seconds: float = IDLE_SECONDS) -> dict[str, float]:
    """Cores used over ``seconds`` by the broker and by this process's clients, with ``consumers``
    consumers (each its own group) fetching with ``wait_ms`` from an empty 4-partition topic."""
    from aiokafka import AIOKafkaConsumer

    topic = f"bench.fetchwait.idle.{wait_ms}.{time.monotonic_ns()}"
    await create_topics(bootstrap, [topic], 4)
    group = [AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{topic}.{i}", fetch_max_wait_ms=wait_ms,
                              auto_offset_reset="earliest") for i in range(consumers)]
    await asyncio.gather(*(c.start() for c in group))
    polls = [asyncio.create_task(_poll_forever(c)) for c in group]
    try:
        await asyncio.sleep(seconds / 2)  # the groups have joined and settled into fetching
        broker = psutil.Process(broker_pid)
        broker_before, here_before, began = _cpu(broker), time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - began
        return {"broker_cores": round((_cpu(broker) - broker_before) / elapsed, 3),
                "clients_cores": round((time.process_time() - here_before) / elapsed, 3)}
    finally:
        for poll in polls:
            poll.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        await asyncio.gather(*(c.stop() for c in group))


async def _poll_forever(consumer) -> None:
    while True:
        await consumer.getmany(timeout_ms=200)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def measure(bootstrap: str, broker_pid: int, waits: list[int], records: int, idle: int) -> list[dict]:
    rows = []
    for wait_ms in waits:
        row = {"wait_ms": wait_ms, **await record_delays(bootstrap, wait_ms, records)}
        row.update(await idle_cost(bootstrap, broker_pid, wait_ms, idle))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.fetchwait", description=__doc__.split("\n\n")[0])
    parser.add_argument("--waits", default="100,50,20", help="fetch waits to measure, ms")
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--idle", type=int, default=11, help="idle consumers for the cost at rest")
    args = parser.parse_args(argv)
    waits = [int(w) for w in args.waits.split(",")]
    with tempfile.TemporaryDirectory() as scratch, EmbeddedBroker(scratch) as broker:
        rows = asyncio.run(measure(broker.bootstrap, broker.pid, waits, args.records, args.idle))
    print(
        f"fetch wait   record's delay p50 / p99 / max ms   at rest, {args.idle} idle consumers: broker / clients, cores"
    )
    for row in rows:
        print(f"{row['wait_ms']:>6} ms   {row['p50_ms']:>8.1f} / {row['p99_ms']:>6.1f} / {row['max_ms']:>6.1f}"
              f"            {row['broker_cores']:.3f} / {row['clients_cores']:.3f}")
    stamp = datetime.now(timezone.utc)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"fetchwait-{stamp:%Y-%m-%dT%H%M}.json"
    path.write_text(json.dumps({"date": stamp.isoformat(timespec="seconds"), "records": args.records,
                                "idle_consumers": args.idle, "rows": rows}, indent=1) + "\n")
    print(f"written {path.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
