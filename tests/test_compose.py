"""docker-compose.yml stays in step with the code: one service per worker, each running it."""
from __future__ import annotations

from pathlib import Path

import yaml

from workers.registry import WORKERS

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


def test_every_worker_is_a_compose_service_running_itself():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    workers = {name: s for name, s in services.items() if s.get("command", [None])[0] == "worker"}
    assert {s["command"][1] for s in workers.values()} == set(WORKERS)
    for name, service in workers.items():
        assert service["command"] == ["worker", name]
        assert service["healthcheck"]["test"][-1] == "check" or "check" in " ".join(service["healthcheck"]["test"])
        assert {"ONESTOP_KAFKA", "ONESTOP_DATABASE_URL"} <= set(service["environment"])
    assert services["init"]["command"] == ["init"]
