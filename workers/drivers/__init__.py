"""How a worker meets Kafka: drivers found by name in a registry, as faust chooses its stores.

`aiokafka` (the default): each worker a consumer group on a plain aiokafka consumer loop; several
may share a process (``run_together``). `faust`: each worker a Faust app and consumer group, the
same guarantees with Faust's agent model. bench.pipeline measured both side by side: the aiokafka
driver settles more per second, answers sooner and holds less memory (README, Benchmarks), so it
is the default. A worker's handler does not know which one runs it. A new driver is a module with
``run(worker, kafka, database, loglevel)`` and one line here.
"""

from __future__ import annotations

from importlib import import_module

from schemas.settings import settings

from ..harness import Worker

#: driver name -> module (imported only when chosen)
DRIVERS: dict[str, str] = {
    "faust": "workers.drivers.faust_driver",
    "aiokafka": "workers.drivers.kafka_driver",
}


def driver_name() -> str:
    return settings.driver


def run(worker: Worker, kafka: str, database: str, loglevel: str = "warning") -> None:
    """Run one worker until SIGINT/SIGTERM with the driver ONESTOP_DRIVER names (aiokafka by default)."""
    import_module(DRIVERS[driver_name()]).run(worker, kafka, database, loglevel)


class OneWorkerOnly(ValueError):
    """The chosen driver runs one worker per process."""


def run_together(workers: list[Worker], kafka: str, database: str, loglevel: str = "warning") -> None:
    """Run several workers in this one process, each its own consumer group and offsets, until
    SIGINT/SIGTERM (a driver that can: ``run_together`` in its module)."""
    if len(workers) == 1:
        return run(workers[0], kafka, database, loglevel)
    module = import_module(DRIVERS[driver_name()])
    if not hasattr(module, "run_together"):
        raise OneWorkerOnly(
            f"the {driver_name()} driver runs one worker per process; ONESTOP_DRIVER=aiokafka runs several in one"
        )
    module.run_together(workers, kafka, database, loglevel)
