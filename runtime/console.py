"""The web console as a process of its own beside the workers (`onestop up`): started, its address
read from what it writes (.onestop/console.json), restarted when it dies, stopped with the rest."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from schemas.settings import settings

from .endpoints import Endpoints
from .supervisor import stop_processes


def console_address_file() -> Path:
    return settings.home / "console.json"


@dataclass
class ConsoleProcess:
    """`python -m cli console`, logging to log_dir/console.log."""

    found: Endpoints
    log_dir: Path
    process: subprocess.Popen | None = field(default=None)
    started_at: float = 0.0

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        console_address_file().unlink(missing_ok=True)
        self.started_at = time.monotonic()
        env = {**os.environ, "ONESTOP_KAFKA": self.found.kafka, "ONESTOP_DATABASE_URL": self.found.database}
        with open(self.log_dir / "console.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "console"], env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def address(self, timeout: float = 30.0) -> str | None:
        """The console's URL once it listens; None if it stopped or did not say within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process is not None and self.process.poll() is None:
            if console_address_file().is_file():
                try:
                    return orjson.loads(console_address_file().read_bytes())["url"]
                except (orjson.JSONDecodeError, KeyError):
                    pass
            time.sleep(0.2)
        return None

    def crashed(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def may_restart(self, after: float = 30.0) -> bool:
        """Whether to start it again: not sooner than ``after`` seconds after the last start, so
        that one that cannot start (its port taken) is not started again every second."""
        return time.monotonic() - self.started_at >= after

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            stop_processes([self.process], timeout)
            self.process = None
