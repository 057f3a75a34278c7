"""What every worker process tells Prometheus, and whether it is alive: `/metrics` and `/healthz`.

Counted where it happens, in the harness every worker shares (workers/batches.py, harness.py,
parking.py) and in the drivers (consumer lag, liveness), so a worker's own code counts nothing.
Labels are worker names, topics, partitions and kinds of input — never a person, a claim or a
reason's text (issue 12: no personal data in labels).

Each process serves both on ONESTOP_METRICS_ADDRESS:ONESTOP_METRICS_PORT (0: a free port) and
writes where, with its pid, to <home>/metrics/<process>.json, which `onestop metrics` and the
benchmarks read. Prometheus's own process collector adds CPU seconds and resident memory.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from schemas.settings import settings

#: seconds: from a millisecond (one hop on an idle machine) to half a minute (a backlog)
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    2.5,
    3.0,
    4.0,
    5.0,
    7.5,
    10.0,
    15.0,
    30.0,
)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

EVENTS_IN = Counter("onestop_events_in", "events a worker received", ["worker", "topic"])
RECORDS_OUT = Counter("onestop_records_out", "records a worker sent and the broker acknowledged", ["worker", "topic"])
REJECTIONS = Counter("onestop_rejections", "events refused to a rejection topic, with their reason", ["worker", "kind"])
PARKED = Counter("onestop_parked", "messages a worker could not handle, parked (`onestop parked`)", ["worker", "why"])
RESENT = Counter(
    "onestop_resent", "claims intake sent again because they had not reached the ledger in time", ["worker"]
)
ALARMS = Counter(
    "onestop_alarms",
    "messages refused because they claimed what no one entitled sent: a claim in flight "
    "the ledger found not to be what intake recorded or the rules give (forged or broken on its way)",
    ["worker", "kind"],
)
WOKEN = Counter(
    "onestop_woken", "persons the ledger applied because their queue had waited too long for a wake-up", ["worker"]
)
READ_AGAIN = Counter(
    "onestop_read_again",
    "times the broker handed a later record of a partition before an earlier one and the worker read the "
    "partition again from the first it was not handed (streams/continuity.py)",
    ["worker"],
)
GAPS_PASSED = Counter(
    "onestop_gaps_passed", "gaps in a partition's offsets still there after their patience, passed", ["worker"]
)
DATABASE_RETRIES = Counter("onestop_database_retries", "batches retried because the database was away", ["worker"])
BATCH_SIZE = Histogram("onestop_batch_size", "events per batch", ["worker"], buckets=BATCH_SIZE_BUCKETS)
BATCH_SECONDS = Histogram(
    "onestop_batch_seconds",
    "seconds from a batch's arrival to the broker acknowledging its output (handling, database, sending)",
    ["worker"],
    buckets=LATENCY_BUCKETS,
)
SEND_SECONDS = Histogram(
    "onestop_send_seconds",
    "seconds of a batch spent sending its output until the broker "
    "acknowledged every record (part of onestop_batch_seconds)",
    ["worker"],
    buckets=LATENCY_BUCKETS,
)
WAIT_SECONDS = Histogram(
    "onestop_wait_seconds",
    "seconds from the producer timestamp of a record a worker reads to "
    "its batch being handed to the worker (the hop and the queue before it)",
    ["worker"],
    buckets=LATENCY_BUCKETS,
)
SETTLEMENT_SECONDS = Histogram(
    "onestop_settlement_seconds",
    "seconds from a hospital publishing a discharge event to the ledger recording its claim",
    buckets=LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "onestop_consumer_lag", "records on a partition the worker has not handled yet", ["worker", "topic", "partition"]
)
LAST_POLL = Gauge(
    "onestop_last_poll_timestamp_seconds", "when the worker's loop last asked the broker for records", ["worker"]
)

Position = tuple[str, int]  # (topic, partition)


def batch_arrived(worker: str, topic_of: Iterable[str], timestamps_ms: Iterable[int | None]) -> float:
    """Count a batch in; observe each record's wait. Returns the moment, for batch_done."""
    now = time.time()
    counts: dict[str, int] = {}
    for topic in topic_of:
        counts[topic] = counts.get(topic, 0) + 1
    for topic, count in counts.items():
        EVENTS_IN.labels(worker, topic).inc(count)
    BATCH_SIZE.labels(worker).observe(sum(counts.values()))
    waits = WAIT_SECONDS.labels(worker)
    for stamp in timestamps_ms:
        if stamp is not None and stamp > 0:
            waits.observe(max(0.0, now - stamp / 1000))
    return time.perf_counter()


def batch_done(
    worker: str, started: float, sent_topics: Iterable[str], label: Callable[[str], str | None] = lambda topic: topic
) -> None:
    """The batch's output is acknowledged: its records out and its time. ``label`` names a topic in
    the metrics: a hospital's own topic by its prefix (one series per prefix, not per hospital)."""
    BATCH_SECONDS.labels(worker).observe(time.perf_counter() - started)
    counts: dict[str, int] = {}
    for topic in sent_topics:
        counts[topic] = counts.get(topic, 0) + 1
    for topic, count in counts.items():
        RECORDS_OUT.labels(worker, label(topic) or topic).inc(count)


def settled(published_at_s: Iterable[float]) -> None:
    """The ledger recorded these claims: seconds since each was published (epoch seconds)."""
    now = time.time()
    for published in published_at_s:
        SETTLEMENT_SECONDS.observe(max(0.0, now - published))


def lag(worker: str, handled: dict[Position, int], highwater: Callable[[Position], int | None]) -> None:
    """Consumer lag of each partition: the broker's high-water mark less the next offset to handle."""
    for (topic, partition), next_offset in handled.items():
        mark = highwater((topic, partition))
        if mark is not None:
            CONSUMER_LAG.labels(worker, topic, str(partition)).set(max(0, mark - next_offset))


def forget_partitions(worker: str, positions: Iterable[Position]) -> None:
    """Partitions another instance now owns: their lag is that instance's to report."""
    for topic, partition in positions:
        try:
            CONSUMER_LAG.remove(worker, topic, str(partition))
        except KeyError:
            pass


# --- liveness -----------------------------------------------------------------------------------

_polled: dict[str, float] = {}
_stopped: dict[str, str] = {}


def polled(worker: str) -> None:
    """The worker's loop is turning: it just asked the broker for records."""
    now = time.time()
    _polled[worker] = now
    LAST_POLL.labels(worker).set(now)


def loop_ended(worker: str, why: str) -> None:
    _stopped[worker] = why


def health(workers: Iterable[str], stale_after: float) -> tuple[bool, dict]:
    """Healthy when every worker of the process polled within ``stale_after`` seconds and none ended.

    A worker waiting for the database does not poll, so it shows here as not healthy, with how long.
    """
    now = time.time()
    report = {}
    for name in workers:
        if name in _stopped:
            report[name] = {"healthy": False, "why": f"its loop ended: {_stopped[name]}"}
        elif name not in _polled:
            report[name] = {"healthy": False, "why": "not polling yet (starting, or waiting for the broker)"}
        else:
            ago = now - _polled[name]
            report[name] = {"healthy": ago <= stale_after, "last_poll_seconds_ago": round(ago, 1)}
    return all(r["healthy"] for r in report.values()), report


# --- the endpoint -------------------------------------------------------------------------------


def stale_after() -> float:
    """How long without polling counts as stuck: three session timeouts, at least 30 s."""
    return max(30.0, 3 * settings.session_timeout)


#: which instance of its workers this process is (`onestop worker NAME --instance N`): 1, or the
#: "#N" its metrics address is written under, beside the other instances'
INSTANCE = {"number": 1}


def serve(process: str, workers: list[str]) -> ThreadingHTTPServer | None:
    """Serve /metrics and /healthz for this process in a background thread (none if the port is -1);
    write where to <home>/metrics/<process>.json (<process>#N.json for its Nth instance)."""
    if settings.metrics_port < 0:
        return None
    if INSTANCE["number"] > 1:
        process = f"{process}#{INSTANCE['number']}"
    handler = _handler(workers)
    server = ThreadingHTTPServer((settings.metrics_address, settings.metrics_port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    host, port = server.server_address[:2]
    _write_address(process, f"http://{_reachable(host)}:{port}")
    return server


def _reachable(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def _handler(workers: list[str]) -> type[BaseHTTPRequestHandler]:
    class Endpoint(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            if path == "/metrics":
                self._answer(200, CONTENT_TYPE_LATEST, generate_latest())
            elif path == "/healthz":
                healthy, report = health(workers, stale_after())
                self._answer(200 if healthy else 503, "application/json", json.dumps(report).encode())
            else:
                self._answer(404, "text/plain", b"/metrics or /healthz\n")

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # scrapes every few seconds would fill the log
            pass

    return Endpoint


def addresses_dir(home: Path | None = None) -> Path:
    return (home or settings.home) / "metrics"


def _write_address(process: str, url: str) -> None:
    folder = addresses_dir()
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{process}.json.tmp"
    temporary.write_text(json.dumps({"url": url, "pid": os.getpid(), "process": process}))
    temporary.replace(folder / f"{process}.json")


def addresses(home: Path | None = None) -> dict[str, dict]:
    """Each running worker process's metrics address ({"url", "pid", "process"}), by process name."""
    folder = addresses_dir(home)
    if not folder.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}
