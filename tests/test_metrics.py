"""The metrics a worker process serves and how they are read back (no broker needed: the
endpoint is real HTTP on a free port; the batches are handled on the in-memory store)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid

import orjson
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from runtime.scrape import difference, healthz, quantile, scrape, stages, total
from streams.topics import DISCHARGED, REJECTED
from workers import intake, metrics
from workers.batches import handle_and_send
from workers.harness import Context, Incoming


def _samples(histogram_values: list[float], buckets=metrics.LATENCY_BUCKETS) -> dict:
    registry = CollectorRegistry()
    histogram = Histogram("h", "test", buckets=buckets, registry=registry)
    for value in histogram_values:
        histogram.observe(value)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_quantiles_interpolate_within_a_bucket_as_prometheus_does():
    samples = _samples([0.002] * 50 + [0.02] * 49 + [2.5])
    assert quantile(samples, "h", 0.5) == pytest.approx(0.0025)  # the 50th of 100 is the last in (0.001, 0.0025]
    assert 0.01 < quantile(samples, "h", 0.9) <= 0.025
    assert 2.0 < quantile(samples, "h", 1.0) <= 3.0
    assert quantile(_samples([]), "h", 0.99) is None


def test_a_value_beyond_the_last_bucket_is_reported_at_its_bound():
    assert quantile(_samples([100.0]), "h", 0.99) == 30.0


def test_differences_of_scrapes_give_a_stretch_of_time():
    before, after = _samples([0.01] * 10), _samples([0.01] * 10 + [1.0] * 10)
    grew = difference(after, before)
    assert total(grew, "h_count") == 10
    assert 0.75 < quantile(grew, "h", 0.5) <= 1.0


def test_health_names_a_worker_that_stopped_polling_or_ended():
    worker = f"w-{uuid.uuid4().hex[:6]}"
    assert health_of(worker) == (False, "not polling yet (starting, or waiting for the broker)")
    metrics.polled(worker)
    assert health_of(worker)[0]
    metrics._polled[worker] = time.time() - 100
    assert not metrics.health([worker], 30)[0]
    metrics.polled(worker)
    metrics.loop_ended(worker, "KafkaError")
    assert health_of(worker) == (False, "its loop ended: KafkaError")


def health_of(worker: str) -> tuple[bool, str | None]:
    healthy, report = metrics.health([worker], 30)
    return healthy, report[worker].get("why")


def test_the_endpoint_serves_metrics_and_health_on_a_free_port_and_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESTOP_HOME", str(tmp_path))
    monkeypatch.setenv("ONESTOP_METRICS_PORT", "0")
    worker = f"w-{uuid.uuid4().hex[:6]}"
    server = metrics.serve(f"{worker}+other", [worker])
    try:
        address = metrics.addresses()[f"{worker}+other"]
        assert address["url"].startswith("http://127.0.0.1:") and address["pid"] > 0
        assert healthz(address["url"]) == (
            False,
            {worker: {"healthy": False, "why": "not polling yet (starting, or waiting for the broker)"}},
        )
        metrics.polled(worker)
        healthy, report = healthz(address["url"])
        assert healthy and report[worker]["healthy"]
        assert total(scrape(address["url"]), "onestop_last_poll_timestamp_seconds", worker=worker) > 0
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(address["url"] + "/elsewhere")
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_no_endpoint_when_the_port_is_minus_one(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESTOP_HOME", str(tmp_path))
    monkeypatch.setenv("ONESTOP_METRICS_PORT", "-1")
    assert metrics.serve("quiet", ["quiet"]) is None
    assert metrics.addresses() == {}


def _claim(claim_id: str, psn_no: str, **changes) -> bytes:
    claim = {
        "claim_id": claim_id,
        "psn_no": psn_no,
        "insutype": "390",
        "insuplc_admdvs": "620702",
        "mdtrtarea_admvs": "620702",
        "med_type": "21",
        "hosp_lv": "2",
        "referral": False,
        "begndate": "2022-09-01",
        "enddate": "2022-09-10",
        "dise_codg": "K35.8",
        "medfee_sumamt": "9000.00",
        "fulamt_ownpay_amt": "750.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "250.00",
        "inscp_scp_amt": "8000.00",
    }
    claim.update(changes)
    return orjson.dumps(claim)


async def test_a_batch_is_counted_in_out_rejected_and_timed_by_the_harness(monkeypatch):
    monkeypatch.setenv("ONESTOP_ACCEPT_UNSIGNED", "1")
    context = Context(f"memory://{uuid.uuid4()}", "intake")
    values = [_claim("MC-1", "PMC1"), _claim("MC-2", "PMC2"), b"{broken", _claim("MC-3", "PMC3", medfee_sumamt="1.00")]
    sent: list[str] = []

    async def send(topic, key, value):
        sent.append(topic)
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    before = _scrape_here()
    # published five seconds ago: the wait lands in the bucket (5.0, 7.5] however slowly this
    # busy test process reaches the harness (a quarter second once landed a bucket too high)
    published = int(time.time() * 1000) - 5000
    batch = [Incoming(f"P{n}".encode(), v, DISCHARGED, 0, n, (), published) for n, v in enumerate(values)]
    await handle_and_send(intake.WORKER, context, batch, send)
    grew = difference(_scrape_here(), before)
    await context.close()
    assert total(grew, "onestop_events_in_total", worker="intake", topic=DISCHARGED) == 4
    assert total(grew, "onestop_rejections_total", worker="intake", kind="claim") == 2
    assert total(grew, "onestop_records_out_total", worker="intake", topic=REJECTED) == 2
    assert total(grew, "onestop_records_out_total", worker="intake") == len(sent)
    figures = stages(grew)["intake"]
    assert figures.events == 4 and figures.batches == 1 and figures.mean_batch == 4.0
    assert 5000 <= figures.wait_p50_ms <= 7500  # the five seconds, within their bucket (5.0, 7.5]


def test_a_claim_in_flight_carries_the_time_it_was_published():
    incoming = Incoming(b"k", b"", DISCHARGED, 0, 0, (), 1_795_000_000_123)
    assert intake._published(incoming).timestamp() == pytest.approx(1_795_000_000.123)
    assert intake._published(Incoming(b"k", b"", DISCHARGED, 0, 0, (), -1)) is None


def _scrape_here() -> dict:
    text = generate_latest().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_the_address_file_is_json_a_prometheus_file_sd_could_use(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESTOP_HOME", str(tmp_path))
    metrics._write_address("basic", "http://127.0.0.1:1234")
    written = json.loads((tmp_path / ".onestop" / "metrics" / "basic.json").read_text())
    assert written["url"] == "http://127.0.0.1:1234" and written["process"] == "basic"
