"""The fetch-wait benchmark measures the embedded broker itself: a shorter wait delivers a record
sooner (the broker sleeps through part of the wait and does not wake for a record), and idle
consumers cost it CPU."""
from bench.fetchwait import idle_cost, record_delays
from runtime.embedded import EmbeddedBroker


async def test_a_shorter_fetch_wait_delivers_sooner_and_idle_consumers_are_measured(tmp_path):
    with EmbeddedBroker(tmp_path) as broker:  # its own: the idle cost is the broker's whole CPU
        long, short = await record_delays(broker.bootstrap, 100, 60), await record_delays(broker.bootstrap, 20, 60)
        idle = await idle_cost(broker.bootstrap, broker.pid, 20, consumers=2, seconds=2.0)
    for delays in (long, short):
        assert 0 <= delays["p50_ms"] <= delays["p99_ms"] <= delays["max_ms"]
    assert short["p50_ms"] < long["p50_ms"]
    assert idle["broker_cores"] > 0 and idle["clients_cores"] > 0
