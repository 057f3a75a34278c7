"""Worker processes: each worker its own process (its own consumer group), as it is deployed, or
on a small machine several workers per process (ONESTOP_PROCESSES, the aiokafka driver: each
still its own consumer group); started, watched, restarted and stopped together (`onestop up`,
`onestop demo`, the tests, the benchmarks)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from schemas.settings import settings
from workers import metrics
from workers.registry import WORKERS

from .endpoints import Endpoints


def grouped(names: list[str], processes: int) -> list[list[str]]:
    """The workers of each process: one each (``processes`` 0), or dealt round-robin over ``processes``."""
    if processes <= 0:
        return [[name] for name in names]
    count = min(processes, len(names))
    return [names[i::count] for i in range(count)]


@dataclass
class WorkerProcesses:
    """Worker processes, each `python -m cli worker NAME...`, logging to log_dir/<its name>.log; a
    process running several workers is named after them joined by "+"."""

    found: Endpoints
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    per_process: int | None = None  # ONESTOP_PROCESSES of extra_env, else of this process
    metrics_ports: dict[str, int] = field(default_factory=dict)  # each process's own, kept across restarts

    def start(self, names: list[str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for stale in metrics.addresses_dir(self.home).glob("*.json"):  # of processes before these
            stale.unlink(missing_ok=True)
        count = int(self.extra_env.get("ONESTOP_PROCESSES") or settings.processes) if self.per_process is None else self.per_process
        for group in grouped(names or list(WORKERS), count):
            self.start_one("+".join(group))

    def start_one(self, name: str) -> None:
        """Start the process ``name`` (a worker, or workers joined by "+"), or the one worker ``name`` runs in."""
        name = self.process_of(name)
        env = {**os.environ, **self.extra_env, "ONESTOP_KAFKA": self.found.kafka, "ONESTOP_DATABASE_URL": self.found.for_workers,
               "ONESTOP_METRICS_PORT": str(self._metrics_port(name))}
        log = open(self.log_dir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", *name.split("+")], env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

    @property
    def home(self) -> Path:
        """The workers' runtime directory (<ONESTOP_HOME>/.onestop), where they write their metrics addresses."""
        given = self.extra_env.get("ONESTOP_HOME")
        return Path(given).resolve() / ".onestop" if given else settings.home

    def metrics_urls(self) -> dict[str, str]:
        """Each running process's /metrics address, by process name (those that wrote one yet)."""
        return {name: found["url"] for name, found in metrics.addresses(self.home).items() if name in self.processes}

    def _metrics_port(self, process: str) -> int:
        """0 (any free port) and -1 (none) as set; a fixed port counts up from it, one per process."""
        base = int(self.extra_env.get("ONESTOP_METRICS_PORT") or settings.metrics_port)
        if base <= 0:
            return base
        if process not in self.metrics_ports:
            self.metrics_ports[process] = base + len(self.metrics_ports)
        return self.metrics_ports[process]

    def process_of(self, name: str) -> str:
        """The process running worker ``name`` (itself, or the group it shares a process with)."""
        return next((key for key in self.processes if name in key.split("+")), name)

    def kill(self, name: str) -> None:
        """SIGKILL the process of worker ``name``, as a crash would: no clean leave, no final commit."""
        process = self.processes[self.process_of(name)]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def crashed(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def stop(self, timeout: float = 20.0) -> None:
        stop_processes(self.processes.values(), timeout)
        self.processes.clear()


def stop_processes(processes: Iterable[subprocess.Popen], timeout: float) -> None:
    """SIGTERM each, give them ``timeout`` seconds together to stop cleanly, then SIGKILL the rest."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
