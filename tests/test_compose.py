"""The deployment stays in step with the code: docker-compose.yml and the broker's ACL script are
what runtime/compose.py and runtime/acls.py make of the workers' declarations."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from cli import main as cli
from runtime.acls import principals, script
from runtime.compose import compose, env_file, secret_names
from runtime.dashboard import METRICS_PORT, dashboard, dashboard_json, prometheus_config
from workers import metrics
from workers.registry import WORKERS

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_compose_file_is_the_generated_one():
    assert (ROOT / "docker-compose.yml").read_text() == compose(), "run `onestop compose > docker-compose.yml`"


def test_the_committed_acl_script_is_the_generated_one():
    assert (ROOT / "deploy" / "kafka" / "acls.sh").read_text() == script(), (
        "run `onestop kafka-acls > deploy/kafka/acls.sh`"
    )


def test_every_worker_is_a_service_with_its_own_principal_and_the_workers_database_role():
    services = yaml.safe_load(compose())["services"]
    workers = {name: s for name, s in services.items() if s.get("command", [None])[0] == "worker"}
    assert set(workers) == set(WORKERS)
    for name, service in workers.items():
        env = service["environment"]
        assert service["command"] == ["worker", name]
        assert "http://127.0.0.1:9400/healthz" in " ".join(service["healthcheck"]["test"])
        assert env["ONESTOP_METRICS_PORT"] == 9400 and env["ONESTOP_METRICS_ADDRESS"] == "0.0.0.0"
        assert env["ONESTOP_KAFKA_USER"] == f"onestop-{name}" and env["ONESTOP_KAFKA_SECURITY"] == "SASL_PLAINTEXT"
        kind = "payer" if WORKERS[name].kind == "payer" else name
        assert env["ONESTOP_DATABASE_URL"].startswith(f"postgresql://onestop_{kind}:${{DB_PASSWORD_{kind.upper()}:?")
    assert services["init"]["command"] == ["init"]
    assert services["init"]["environment"]["ONESTOP_KAFKA_USER"] == "onestop-admin"  # the owner migrates
    assert services["kafka"]["environment"]["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"


def test_each_principal_reads_its_topic_and_writes_only_what_it_declares():
    by_name = {p.name: p for p in principals()}
    for name, worker in WORKERS.items():
        p = by_name[f"onestop-{name}"]
        assert p.reads == (worker.source,) and set(p.writes) == set(worker.sinks)
    assert not any(
        name.startswith("hospital") for name in by_name
    )  # each hospital its own principal: tests/test_acls.py
    assert by_name["authority"].writes == ("eligibility.changes",) and by_name["authority"].reads == ()
    assert (by_name["finance"].reads, by_name["finance"].writes) == (
        ("settlements.completed",),
        ("year_end.closes", "enrollment.changes", "premiums.rolls"),
    )
    text = script()
    assert "allow onestop-basic Write --topic claims.pay.critical" in text
    assert "allow onestop-basic Write --topic settlements.completed" not in text  # a payer never publishes records
    assert "allow onestop-basic Create --topic settlements.nhsa." not in text
    # the workers that write hospitals' own topics make them: prefixed rights on those prefixes only
    for name, prefix in (("presettle", "claims.presettle.replies."), ("ledger", "settlements.nhsa.")):
        for op in ("Write", "Describe", "Create"):
            assert f"allow onestop-{name} {op} --topic {prefix} --resource-pattern-type prefixed" in text
    assert "Read --topic claims.presettle.replies" not in text.split("add_hospital()")[0]


def test_compose_ships_no_default_password():
    text = compose()
    secrets_used = re.findall(r"\$\{(\w*(?:PASSWORD|SECRET)\w*)([^}]*)\}", text)
    assert secrets_used and {name for name, _ in secrets_used} == set(secret_names())
    for name, rest in secrets_used:
        assert rest.startswith(":?"), f"${{{name}{rest}}}: a secret is required, never given a default"
    assert "dev-" not in text and ":-onestop}@" not in text

    def literal_secrets(node, path=()):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from literal_secrets(value, (*path, str(key)))
        elif isinstance(node, str) and re.search(r"PASSWORD|SECRET", path[-1] if path else "") and "${" not in node:
            yield "/".join(path)

    assert list(literal_secrets(yaml.safe_load(text))) == []
    assert not re.search(r"password=[^$\]\"]", (ROOT / "deploy" / "kafka" / "acls.sh").read_text())


def test_the_generated_env_file_gives_every_required_secret_a_fresh_random_value():
    def values_of(text: str) -> dict[str, str]:
        return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))

    values, again = values_of(env_file()), values_of(env_file())
    assert list(values) == list(again) == secret_names()
    assert all(len(v) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", v) for v in values.values())  # safe in a database URL
    assert len(set(values.values())) == len(values) and not set(values.values()) & set(
        again.values()
    )  # made anew each time
    result = CliRunner().invoke(cli, ["compose", "--env"])
    assert (
        result.exit_code == 0
        and [row.split("=")[0] for row in result.output.splitlines() if "=" in row and row[0] != "#"] == secret_names()
    )


def test_the_committed_prometheus_configuration_and_dashboard_are_the_generated_ones():
    assert (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text() == prometheus_config(), (
        "run `onestop compose --prometheus > deploy/prometheus/prometheus.yml`"
    )
    assert (ROOT / "deploy" / "grafana" / "dashboards" / "onestop.json").read_text() == dashboard_json(), (
        "run `onestop compose --dashboard > deploy/grafana/dashboards/onestop.json`"
    )


def test_prometheus_scrapes_every_worker_service_and_both_listen_on_loopback_only():
    services = yaml.safe_load(compose())["services"]
    targets = yaml.safe_load(prometheus_config())["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == sorted(f"{name}:{METRICS_PORT}" for name in WORKERS)
    assert all(name in services for name in (t.split(":")[0] for t in targets))
    for name in ("prometheus", "grafana"):
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"])
    mounted = " ".join(services["grafana"]["volumes"])
    assert "./deploy/grafana/dashboards" in mounted and "./deploy/grafana/provisioning" in mounted
    for path in (
        "deploy/grafana/provisioning/datasources/prometheus.yml",
        "deploy/grafana/provisioning/dashboards/onestop.yml",
    ):
        assert yaml.safe_load((ROOT / path).read_text())["apiVersion"] == 1


def test_every_series_the_dashboard_draws_is_one_a_worker_serves():
    served = {m._name for m in vars(metrics).values() if hasattr(m, "_name") and hasattr(m, "_type")}
    drawn = {
        name
        for panel in dashboard()["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(onestop_[a-z_]+|process_[a-z_]+)", target["expr"])
    }
    assert drawn, "the dashboard draws nothing"
    for name in drawn:
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert base in served or name.startswith("process_"), f"the dashboard draws {name}, which no worker serves"
    assert {p["datasource"]["uid"] for p in dashboard()["panels"]} == {"prometheus"}
