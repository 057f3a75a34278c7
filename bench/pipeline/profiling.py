"""Profiling the busiest workers with py-spy while the pipeline runs at saturation, and splitting
their time into faust, aiokafka, pydantic, asyncpg, orjson, the rules and the rest."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from runtime.supervisor import WorkerProcesses
from streams.topics import DISCHARGED, SETTLEMENTS

from .measuring import Message, Offering, offer

PROFILED = ("intake", "basic", "ledger")

#: (category, test on a frame's file path), first match walking from the innermost frame out.
_LIBRARIES = [
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("asyncpg", ("/asyncpg/",)),
    ("aiokafka (client)", ("/aiokafka/", "/kafka/")),
    ("faust / mode", ("/faust/", "/mode/", "/venusian/", "/croniter/", "/opentracing/")),
    ("yaml", ("/yaml/",)),
    ("asyncio loop", ("/asyncio/", "/selectors.py", "uvloop")),
    ("logging", ("/logging/",)),
]
_OURS = {
    "policies": "rules (policies/)",
    "schemas": "our validators/models (schemas/)",
    "workers": "workers/ glue",
    "streams": "streams/ glue",
    "bench": "bench",
}


def _frame(text: str) -> tuple[str, str, int]:
    """'func (path:line)' -> (func, path, line)."""
    name, _, where = text.rpartition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    return name, path, int(line) if line.isdigit() else 0


_SOURCE_LINES: dict[str, list[str]] = {}


def _source_line(path: str, line: int) -> str:
    if path not in _SOURCE_LINES:
        try:
            _SOURCE_LINES[path] = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            _SOURCE_LINES[path] = []
    lines = _SOURCE_LINES[path]
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _ours(path: str, root: Path) -> Path | None:
    """The path relative to the project when the frame is the project's own code (not .venv)."""
    if "site-packages/" in path or path.startswith("<"):
        return None
    candidate = Path(path)
    try:
        relative = (candidate if candidate.is_absolute() else root / candidate).resolve().relative_to(root)
    except ValueError:
        return None
    if not relative.parts or relative.parts[0] not in _OURS or not (root / relative).is_file():
        return None
    return relative


def _category(stack: list[str], root: Path) -> str:
    """Where a sample's time goes: the library of the innermost frame that names one, or ours.

    A C extension has no frame of its own: its time shows on the Python line calling it, so a
    line of ours calling orjson / pydantic / hashlib is counted as that library.
    """
    for text in reversed(stack):
        name, path, line = _frame(text)
        slashed = "/" + path
        for category, marks in _LIBRARIES:
            if any(mark in slashed for mark in marks):
                return category
        relative = _ours(path, root)
        if relative is None:
            continue  # the standard library or another package: look further out
        return _category_of_line(_source_line(str(root / relative), line), relative)
    return "other (stdlib / interpreter)"


def _category_of_line(source: str, relative: Path) -> str:
    """The category of a line of ours: the C extension it calls, else its package."""
    if "orjson." in source:
        return "orjson"
    if any(call in source for call in ("model_validate", "model_dump", "model_copy", "model_construct")):
        return "pydantic"
    if "hashlib." in source:
        return "hashlib (sha256)"
    return _OURS[relative.parts[0]]


def _functions_of_ours(stack: list[str], root: Path) -> list[str]:
    """Each function of ours (not bench's) on the stack, once, outermost first: 'path:function'."""
    keys: dict[str, None] = {}
    for text in stack:
        name, path, _ = _frame(text)
        relative = _ours(path, root)
        if relative is not None and relative.parts[0] != "bench":
            keys.setdefault(f"{relative}:{name}")
    return list(keys)


def _innermost_of_ours(stack: list[str], root: Path) -> str | None:
    """The innermost line of ours on the stack: 'path:line function'."""
    for text in reversed(stack):
        name, path, line = _frame(text)
        relative = _ours(path, root)
        if relative is not None:
            return f"{relative}:{line} {name}"
    return None


def summarise_profile(raw: Path, root: Path) -> dict:
    """Shares of the samples per category and the hottest frames (innermost of ours), from py-spy's raw output."""
    categories: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for row in raw.read_text(errors="replace").splitlines():
        stack_text, _, count_text = row.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        stack = stack_text.split(";")
        total += count
        categories[_category(stack, root)] += count
        for key in _functions_of_ours(stack, root):
            inclusive[key] += count
        if (innermost := _innermost_of_ours(stack, root)) is not None:
            ours[innermost] += count
    share = lambda n: round(100 * n / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "categories_percent": {k: share(v) for k, v in categories.most_common()},
        "inclusive_percent": {k: share(v) for k, v in inclusive.most_common(14)},
        "innermost_of_ours_percent": {k: share(v) for k, v in ours.most_common(12)},
    }


def py_spy() -> str | None:
    """The py-spy of this Python's environment, else the one on PATH, else None."""
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def start_profilers(
    pids: dict[str, int], seconds: float, out_dir: Path, stamp: str
) -> dict[str, tuple[subprocess.Popen, Path]]:
    """py-spy record on each process in the background: raw collapsed stacks, 100 Hz, only the
    thread holding the GIL (the CPU a process spends in Python; faust's consumer thread included)."""
    spy = py_spy()
    if spy is None:
        raise FileNotFoundError("py-spy is not installed: .venv/bin/pip install py-spy")
    running = {}
    for name, pid in pids.items():
        path = out_dir / f"profile-{stamp}-{name}.txt"
        running[name] = (
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    "100",
                    "--gil",
                    "--format",
                    "raw",
                    "--output",
                    str(path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            ),
            path,
        )
    return running


def stop_profilers(running: dict[str, tuple[subprocess.Popen, Path]]) -> None:
    for process, _ in running.values():
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def profile_at_saturation(
    kafka: str,
    workers: WorkerProcesses,
    messages: list[Message],
    rate: float,
    seconds: float,
    drain_timeout: float,
    out_dir: Path,
    stamp: str,
    root: Path,
) -> dict:
    """Offer ``messages`` at ``rate`` and profile the PROFILED workers for ``seconds`` meanwhile;
    per worker its summary (or the error), and how many claims were not settled after."""
    profilers: dict[str, tuple[subprocess.Popen, Path]] = {}
    try:
        async with Offering(kafka, SETTLEMENTS) as offering:
            sending = asyncio.ensure_future(offer(offering.producer, DISCHARGED, messages, rate, {}))
            await asyncio.sleep(2.0)
            print(
                f"profiling {', '.join(PROFILED)} for {seconds:g}s while offering {rate:.0f}/s (1.25 × saturation) …",
                flush=True,
            )
            profilers = start_profilers({n: workers.processes[n].pid for n in PROFILED}, seconds, out_dir, stamp)
            await _until_finished(profilers, time.monotonic() + seconds + 15)
            await sending
            missing = await offering.arrivals.wait_for([c for c, _, _ in messages], drain_timeout)
        profile = {name: _profile_of(process, path, root) for name, (process, path) in profilers.items()}
    finally:
        stop_profilers(profilers)
    return {**profile, "_offered_per_s": round(rate, 1), "_not_settled_after": missing}


async def _until_finished(profilers: dict[str, tuple[subprocess.Popen, Path]], deadline: float) -> None:
    while any(p.poll() is None for p, _ in profilers.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.25)


def _profile_of(process: subprocess.Popen, path: Path, root: Path) -> dict:
    """A finished profiler's summary, or its error."""
    error = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
    if path.exists():
        return {"file": str(path.relative_to(root)), **summarise_profile(path, root)}
    return {"error": error[-500:] or "py-spy wrote nothing"}
