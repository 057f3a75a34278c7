"""Every worker process's /metrics and /healthz on the live system, on both drivers: what flowed
through is counted, the ledger observes publish→settlement, lag and liveness are reported, and
no person's data is in a label."""

from __future__ import annotations

import asyncio
import urllib.request

import orjson

from runtime.scrape import by_label, healthz, quantile, scrape_all, stages, total
from schemas.events import DischargeClaim
from store.waiting import settled_claims
from streams.publisher import publish
from streams.topics import DISCHARGED, LEDGER, REJECTED, SETTLEMENTS
from workers.metrics import addresses
from workers.registry import WORKERS

from .test_pipeline import TIMEOUT, _claim


async def _urls(system, timeout: float = 60.0) -> dict[str, str]:
    """Each process's /metrics address, once every process has written one."""
    for _ in range(int(timeout * 10)):
        urls = system.workers.metrics_urls()
        if set(urls) == set(system.workers.processes):
            return urls
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"processes without a metrics address: {set(system.workers.processes) - set(system.workers.metrics_urls())}"
    )


def _everything(urls: dict[str, str]) -> dict:
    return scrape_all(list(urls.values()))


async def test_each_process_counts_what_flowed_through_it(each_driver):
    system, store = each_driver
    urls = await _urls(system)
    before = _everything(urls)
    claims = [orjson.dumps(_claim(f"MET-{i}", f"PMET{i}")) for i in range(5)]
    bad = [b"{not json", orjson.dumps(_claim("MET-BAD", "PMETBAD", medfee_sumamt="1.00"))]
    await publish(system.kafka, DISCHARGED, [*claims, *bad], DischargeClaim)
    await settled_claims(store, {orjson.loads(c)["claim_id"] for c in claims}, TIMEOUT)
    await asyncio.sleep(1.5)  # the ledger's outbox sends, then counts, after the broker acknowledged

    after = _everything(urls)
    grew = {key: after[key] - before.get(key, 0.0) for key in after}
    assert total(grew, "onestop_events_in_total", worker="intake", topic=DISCHARGED) >= 7
    assert total(grew, "onestop_rejections_total", worker="intake", kind="claim") >= 2
    assert total(grew, "onestop_records_out_total", worker="intake", topic=REJECTED) >= 2
    assert total(grew, "onestop_events_in_total", worker="ledger", topic=LEDGER) >= 5
    assert total(grew, "onestop_records_out_total", worker="ledger", topic=SETTLEMENTS) >= 5
    assert total(grew, "onestop_settlement_seconds_count") >= 5
    slowest = quantile(grew, "onestop_settlement_seconds", 1.0)
    assert slowest is not None and 0 < slowest < TIMEOUT
    figures = stages(grew)
    assert {"intake", "basic", "ledger"} <= set(figures)
    assert figures["intake"].batches >= 1 and figures["intake"].handling_ms_per_event > 0
    assert figures["basic"].wait_p99_ms is not None
    lag = by_label(after, "onestop_consumer_lag", "worker")
    assert "intake" in lag and lag["intake"] >= 0
    assert total(after, "process_resident_memory_bytes") > 0  # Prometheus's process collector, per process


async def test_every_process_is_healthy_and_says_so(each_driver):
    system, _ = each_driver
    urls = await _urls(system)
    served = set()
    for process, url in urls.items():
        healthy, report = healthz(url)
        assert healthy, (process, report)
        assert set(report) == set(process.split("+"))
        served |= set(report)
    assert served == set(WORKERS)
    with urllib.request.urlopen(next(iter(urls.values())) + "/metrics") as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")


async def test_no_person_and_no_reason_is_in_a_label(each_driver):
    system, store = each_driver
    urls = await _urls(system)
    # a claim refused with a reason, then the person's next claim, settled only after intake handled the first
    await publish(
        system.kafka,
        DISCHARGED,
        [
            orjson.dumps(_claim("MET-PII-1", "PSECRET77", medfee_sumamt="2.00")),
            orjson.dumps(_claim("MET-PII-2", "PSECRET77")),
        ],
        DischargeClaim,
    )
    await settled_claims(store, {"MET-PII-2"}, TIMEOUT)
    for url in urls.values():
        with urllib.request.urlopen(url + "/metrics") as answer:
            text = answer.read().decode()
        assert "PSECRET77" not in text and "MET-PII-1" not in text and "add up" not in text


async def test_a_worker_killed_and_restarted_writes_its_address_again_and_is_healthy(live_system):
    await _urls(live_system)
    process = live_system.workers.process_of("tilt")
    old = addresses(live_system.workers.home)[process]
    live_system.workers.kill("tilt")
    live_system.workers.start_one("tilt")
    for _ in range(600):
        new = addresses(live_system.workers.home).get(process, old)
        if new["pid"] != old["pid"] and healthz(new["url"])[0]:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the restarted tilt worker did not serve a healthy /healthz within 60 s")
    assert new["pid"] == live_system.workers.processes[process].pid
    if new["url"] != old["url"]:
        assert not healthz(old["url"])[0]  # the killed process's address answers no more
