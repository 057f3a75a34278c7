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

from schemas.settings import described, process_layout, settings
from workers import metrics
from workers.registry import WORKERS

from .endpoints import Endpoints


def grouped(names: list[str], processes: int | str) -> list[list[str]]:
    """The workers of each process: one each (``processes`` 0), dealt round-robin over ``processes``
    (a number), or as a layout of groups says (``"intake ledger*2 tilt+secondary"``: a group*N runs
    in N processes, instances of the same consumer groups; a worker the layout names in no group
    runs alone; workers it names that are not among ``names`` are left out)."""
    if isinstance(processes, str):
        tokens = [_instances(token) for token in processes.split()]
        groups = [[n for n in group.split("+") if n in names] for group, count in tokens for _ in range(count)]
        unknown = sorted({n for group, _ in tokens for n in group.split("+")} - set(WORKERS))
        if unknown:
            raise ValueError(
                f"ONESTOP_PROCESSES names no such worker: {', '.join(unknown)} (workers: {', '.join(WORKERS)})"
            )
        placed = {n for group in groups for n in group}
        return [group for group in groups if group] + [[n] for n in names if n not in placed]
    if processes <= 0:
        return [[name] for name in names]
    count = min(processes, len(names))
    return [names[i::count] for i in range(count)]


def _instances(token: str) -> tuple[str, int]:
    """``"ledger*2"``: the group ledger in two processes (two instances, one consumer group)."""
    group, _, count = token.partition("*")
    if count and not (count.isdigit() and int(count) >= 1):
        raise ValueError(f"ONESTOP_PROCESSES: {token!r}: write a group, or a group*N for N instances of it")
    return group, int(count or 1)


def layout(extra_env: dict[str, str] | None = None) -> int | str:
    """How the workers share processes: ONESTOP_PROCESSES of ``extra_env``, else of this process. The
    default layout shares processes, which Faust cannot: under Faust it is one worker per process,
    unless a layout that shares was asked for (then it is refused, ValueError)."""
    extra_env = extra_env or {}
    given = extra_env.get("ONESTOP_PROCESSES") or dict((n, v) for n, v, _, _ in described())["ONESTOP_PROCESSES"]
    chosen = process_layout(given) if given else settings.processes
    if (extra_env.get("ONESTOP_DRIVER") or settings.driver) == "aiokafka" or not shares_processes(chosen):
        return chosen
    if given:
        raise ValueError(
            f"ONESTOP_PROCESSES={given} runs several workers per process, which only the aiokafka driver "
            "can: set ONESTOP_DRIVER=aiokafka, or ONESTOP_PROCESSES=0"
        )
    return 0


def shares_processes(processes: int | str) -> bool:
    """Whether a layout puts several workers in one process (which only the aiokafka driver can)."""
    return "+" in processes if isinstance(processes, str) else processes > 0


@dataclass
class WorkerProcesses:
    """Worker processes, each `python -m cli worker NAME...`, logging to log_dir/<its name>.log; a
    process running several workers is named after them joined by "+"."""

    found: Endpoints
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    per_process: int | str | None = (
        None  # a layout (ONESTOP_PROCESSES) for these: else extra_env's, else this process's
    )
    metrics_ports: dict[str, int] = field(default_factory=dict)  # each process's own, kept across restarts

    def start(self, names: list[str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for stale in metrics.addresses_dir(self.home).glob("*.json"):  # of processes before these
            stale.unlink(missing_ok=True)
        for group in grouped(names or list(WORKERS), self.layout()):
            name = "+".join(group)
            instance = 1 + sum(1 for key in self.processes if key.split("#")[0] == name)
            self.start_one(name if instance == 1 else f"{name}#{instance}")

    def layout(self) -> int | str:
        return self.per_process if self.per_process is not None else layout(self.extra_env)

    def start_one(self, name: str) -> None:
        """Start the process ``name`` (a worker, workers joined by "+", either with "#N" for its Nth
        instance), or the one worker ``name`` runs in."""
        name = self.process_of(name)
        env = {
            **os.environ,
            **self.extra_env,
            "ONESTOP_KAFKA": self.found.kafka,
            "ONESTOP_DATABASE_URL": self.found.for_workers,
            "ONESTOP_METRICS_PORT": str(self._metrics_port(name)),
        }
        group, _, instance = name.partition("#")
        log = open(self.log_dir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", *group.split("+"), *(["--instance", instance] if instance else [])],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
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
        return next((key for key in self.processes if name == key or name in key.split("#")[0].split("+")), name)

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
