"""Reading the worker processes' /metrics and /healthz: for `onestop metrics` and the benchmarks.

A scrape is a flat map of samples, ``(name, labels) -> value``; two scrapes subtract, so a
benchmark phase's figures are the difference of the scrapes around it. Quantiles come from the
histograms' buckets as Prometheus's histogram_quantile computes them (linear within a bucket),
so they are as fine as the buckets (workers/metrics.py LATENCY_BUCKETS), no finer.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]


def scrape(url: str, timeout: float = 5.0) -> Samples:
    """Every sample a process's /metrics shows."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=timeout) as answer:
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape_all(urls: list[str]) -> Samples:
    """The samples of several processes, summed: a worker's series come from its one process, and
    what every process shows alike (the ledger's histogram, empty elsewhere; process memory) adds up."""
    summed: Samples = defaultdict(float)
    for url in urls:
        for key, value in scrape(url).items():
            summed[key] += value
    return dict(summed)


def healthz(url: str, timeout: float = 5.0) -> tuple[bool, dict]:
    """(healthy, each worker's report) from a process's /healthz; unreachable is not healthy."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as answer:
            return True, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return False, json.loads(error.read() or b"{}")
    except (urllib.error.URLError, OSError) as error:
        return False, {"_": {"healthy": False, "why": f"unreachable: {error}"}}


def difference(after: Samples, before: Samples) -> Samples:
    """What happened between two scrapes of the same processes (counters and histograms only grow)."""
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over every sample whose labels include ``labels``."""
    return sum(
        v for (n, ls), v in samples.items() if n == name and all(dict(ls).get(k) == x for k, x in labels.items())
    )


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    """``name`` summed per value of ``label``."""
    out: dict[str, float] = defaultdict(float)
    for (n, ls), v in samples.items():
        if n == name and label in dict(ls):
            out[dict(ls)[label]] += v
    return dict(out)


def quantile(samples: Samples, histogram: str, q: float, **labels: str) -> float | None:
    """The q-quantile of a histogram (summed over matching labels), in its unit; None when empty."""
    buckets: dict[float, float] = defaultdict(float)
    for (n, ls), v in samples.items():
        named = dict(ls)
        if n == f"{histogram}_bucket" and all(named.get(k) == x for k, x in labels.items()):
            buckets[float(named["le"])] += v
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bucket: its bound is all that is known
            inside = buckets[bound] - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, buckets[bound]
    return lower


@dataclass(frozen=True)
class Stage:
    """One worker's figures over a stretch of time, from the difference of two scrapes."""

    events: int
    batches: int
    handling_ms_per_event: float | None  # batch seconds (handling, database, sending) per event
    sending_ms_per_event: float | None  # of which sending, until the broker acknowledged
    wait_p50_ms: float | None
    wait_p99_ms: float | None
    rejected: int
    parked: int
    resent: int = 0  # claims intake sent again because they had not reached the ledger in time
    alarms: int = 0  # claims in flight the ledger refused as not what intake recorded or the rules give
    read_again: int = 0  # times the broker handed a later record first and the worker read the partition again

    @property
    def mean_batch(self) -> float | None:
        return round(self.events / self.batches, 1) if self.batches else None


def stages(samples: Samples) -> dict[str, Stage]:
    """Each worker's Stage, from a difference of scrapes (or a scrape since start)."""
    events = by_label(samples, "onestop_events_in_total", "worker")
    out = {}
    for worker, count in sorted(events.items()):
        batches = total(samples, "onestop_batch_seconds_count", worker=worker)
        seconds = total(samples, "onestop_batch_seconds_sum", worker=worker)
        sending = total(samples, "onestop_send_seconds_sum", worker=worker)
        p50, p99 = (quantile(samples, "onestop_wait_seconds", q, worker=worker) for q in (0.5, 0.99))
        out[worker] = Stage(
            events=int(count),
            batches=int(batches),
            handling_ms_per_event=round(1000 * seconds / count, 3) if count else None,
            sending_ms_per_event=round(1000 * sending / count, 3) if count else None,
            wait_p50_ms=round(1000 * p50, 1) if p50 is not None else None,
            wait_p99_ms=round(1000 * p99, 1) if p99 is not None else None,
            rejected=int(total(samples, "onestop_rejections_total", worker=worker)),
            parked=int(total(samples, "onestop_parked_total", worker=worker)),
            resent=int(total(samples, "onestop_resent_total", worker=worker)),
            alarms=int(total(samples, "onestop_alarms_total", worker=worker)),
            read_again=int(total(samples, "onestop_read_again_total", worker=worker)),
        )
    return out
