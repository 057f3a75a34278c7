"""The deployment stays in step with the code: docker-compose.yml and the broker's ACL script are
what runtime/compose.py and runtime/acls.py make of the workers' declarations."""
from __future__ import annotations

from pathlib import Path

import yaml

from runtime.acls import principals, script
from runtime.compose import compose
from workers.registry import WORKERS

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_compose_file_is_the_generated_one():
    assert (ROOT / "docker-compose.yml").read_text() == compose(), "run `onestop compose > docker-compose.yml`"


def test_the_committed_acl_script_is_the_generated_one():
    assert (ROOT / "deploy" / "kafka" / "acls.sh").read_text() == script(), "run `onestop kafka-acls > deploy/kafka/acls.sh`"


def test_every_worker_is_a_service_with_its_own_principal_and_the_workers_database_role():
    services = yaml.safe_load(compose())["services"]
    workers = {name: s for name, s in services.items() if s.get("command", [None])[0] == "worker"}
    assert set(workers) == set(WORKERS)
    for name, service in workers.items():
        env = service["environment"]
        assert service["command"] == ["worker", name]
        assert "check" in " ".join(service["healthcheck"]["test"])
        assert env["ONESTOP_KAFKA_USER"] == f"onestop-{name}" and env["ONESTOP_KAFKA_SECURITY"] == "SASL_PLAINTEXT"
        assert env["ONESTOP_DATABASE_URL"].startswith("postgresql://onestop_worker:")
    assert services["init"]["command"] == ["init"]
    assert services["init"]["environment"]["ONESTOP_KAFKA_USER"] == "onestop-admin"  # the owner migrates
    assert services["kafka"]["environment"]["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"


def test_each_principal_reads_its_topic_and_writes_only_what_it_declares():
    by_name = {p.name: p for p in principals()}
    for name, worker in WORKERS.items():
        p = by_name[f"onestop-{name}"]
        assert p.reads == (worker.source,) and set(p.writes) == set(worker.sinks)
    assert by_name["hospital"].writes == ("claims.discharged", "claims.cancelled", "claims.presettle")
    assert by_name["hospital"].reads == ("claims.presettle.replies", "settlements.nhsa")  # its answers, never finance's records
    assert by_name["authority"].writes == ("eligibility.changes",)
    text = script()
    assert "allow onestop-basic Write --topic claims.pay.critical" in text
    assert "allow onestop-basic Write --topic settlements.completed" not in text  # a payer never publishes records
    assert "allow hospital Write --topic eligibility.changes" not in text
