"""CPU: what the processes of a run spend (per named group, between two snapshots), and the load of
processes outside the run, which disturbs it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

MACHINE = "machine (all processes)"


class ProcessCpu:
    """CPU seconds (user + system) of named groups of processes, between two snapshots."""

    def __init__(self, groups: dict[str, list[int]], postgres_dir: Path | None) -> None:
        self.groups, self.postgres_dir = dict(groups), postgres_dir
        self.groups["bench"] = [os.getpid()]

    def _pids(self) -> dict[str, list[int]]:
        groups = dict(self.groups)
        if self.postgres_dir is not None:
            groups["postgres"] = postgres_pids(self.postgres_dir)
        return groups

    def snapshot(self) -> dict[str, dict[int, float]]:
        system = psutil.cpu_times()
        out: dict[str, dict[int, float]] = {
            MACHINE: {
                0: system.user
                + system.system
                + getattr(system, "nice", 0.0)
                + getattr(system, "irq", 0.0)
                + getattr(system, "softirq", 0.0)
            }
        }
        for name, pids in self._pids().items():
            out[name] = {}
            for pid in pids:
                try:
                    times = psutil.Process(pid).cpu_times()
                except psutil.Error:
                    continue
                out[name][pid] = times.user + times.system
        return out

    def resident_mb(self, proportional: bool = False) -> dict[str, float]:
        """Resident memory of each group of processes, MB: RSS, or with ``proportional`` PSS (a page
        several processes share — PostgreSQL's shared buffers — counted once, split between them)."""
        out: dict[str, float] = {}
        for name, pids in self._pids().items():
            if name == "bench":
                continue
            total = 0
            for pid in pids:
                try:
                    process = psutil.Process(pid)
                    total += process.memory_full_info().pss if proportional else process.memory_info().rss
                except psutil.Error:
                    continue
            out[name] = round(total / 2**20, 1)
        return out

    @staticmethod
    def delta(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
        out = {
            name: round(sum(t - before.get(name, {}).get(pid, 0.0) for pid, t in times.items()), 2)
            for name, times in after.items()
        }
        machine = out.pop(MACHINE)
        out["other processes"] = round(max(0.0, machine - sum(out.values())), 2)
        return out


def postgres_pids(data_dir: Path) -> list[int]:
    """The postmaster of ``data_dir`` and its children (the backends)."""
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if any(str(data_dir) in part for part in cmdline) and any("postgres" in part for part in cmdline[:1]):
            try:
                return [process.pid, *(child.pid for child in process.children(recursive=True))]
            except psutil.Error:
                return [process.pid]
    return []


def postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU seconds so far (user + system) of the PostgreSQL of ``data_dir``, all its processes."""
    total = 0.0
    for pid in postgres_pids(data_dir):
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _cpu_times() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU seconds so far."""
    out = {}
    for process in psutil.process_iter(["name"]):
        try:
            cpu = process.cpu_times()
            out[process.pid] = (process.info["name"], cpu.user + cpu.system)
        except psutil.Error:
            pass
    return out


def _ours(ours: set[int], postgres_dir: Path | None) -> set[int]:
    """``ours``, the PostgreSQL of ``postgres_dir`` and every child of this process."""
    mine = set(ours) | set(postgres_pids(postgres_dir) if postgres_dir else [])
    try:
        mine |= {c.pid for c in psutil.Process().children(recursive=True)}
    except psutil.Error:
        pass
    return mine


def foreign_load(ours: set[int], seconds: float = 1.0, postgres_dir: Path | None = None) -> list[str]:
    """Processes not started by this run that used CPU over ``seconds``: a total, then the busiest."""
    mine = _ours(ours, postgres_dir)
    before = _cpu_times()
    time.sleep(seconds)
    after = _cpu_times()
    shares = sorted(
        ((t - before[pid][1]) / seconds, name, pid)
        for pid, (name, t) in after.items()
        if pid not in mine and pid in before
    )
    shares = [x for x in reversed(shares) if x[0] > 0.005]
    total = sum(share for share, _, _ in shares)
    return [f"total {100 * total:.0f}%", *(f"{name}[{pid}] {100 * share:.0f}%" for share, name, pid in shares[:12])]


def _foreign_cores(busy: list[str]) -> float:
    return float(busy[0].split()[1].rstrip("%")) / 100 if busy else 0.0


def wait_until_quiet(limit: float, max_wait: float, postgres_dir: Path | None = None) -> list[str]:
    """Wait (up to ``max_wait`` s) until other processes use less than ``limit`` cores; what they used last."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = foreign_load({os.getpid()}, 2.0, postgres_dir)
        if _foreign_cores(busy) < limit or time.monotonic() >= deadline:
            return busy
        print(
            f"  the machine is busy with other processes ({_foreign_cores(busy):.2f} cores: "
            f"{', '.join(busy[1:7])}); waiting …",
            flush=True,
        )
