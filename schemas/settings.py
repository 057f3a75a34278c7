"""Every ONESTOP_* setting, with its default and meaning, read from the environment in one place.

Values are read when asked for, not at import, so a process (or a test) that sets a variable
before starting a worker gets it. `onestop settings` prints them; the README lists them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    meaning: str
    parse: Callable[[str], Any] = str


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"choose one of {', '.join(allowed)}")
        return value

    return parse


def process_layout(value: str) -> int | str:
    """A number of processes, or the groups themselves: workers joined by "+", groups by spaces."""
    if value.isdigit():
        return int(value)
    if not all(name for group in value.split() for name in group.split("+")):
        raise ValueError('write a number, or groups of worker names joined by "+", separated by spaces')
    return " ".join(value.split())


def _amount(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError('write an amount in yuan, e.g. "10000000.00"') from None
    # (below 10^12: what a bill's amount may be at all, schemas/money.py; quantize needs it too)
    if not amount.is_finite() or not 0 < amount < 10**12 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(
            'write a positive amount in yuan below 1000000000000 with at most two decimals, e.g. "10000000.00"'
        )
    return amount.quantize(Decimal("0.01"))


def _at_least(lowest: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < lowest:
            raise ValueError(f"at least {lowest}")
        return number

    return parse


def _flag(value: str) -> bool:
    if value.lower() not in {"0", "1", "true", "false", "yes", "no", "on", "off", ""}:
        raise ValueError("write 1 or 0 (true / false)")
    return value.lower() in {"1", "true", "yes", "on"}


#: the kinds of worker, each its own database role onestop_<kind> (store/migrations/0009_worker_roles.sql)
WORKER_KINDS = (
    "intake",
    "cancellation",
    "eligibility",
    "year_end",
    "ledger",
    "payer",
    "presettle",
    "enrollment",
    "premiums",
)

#: ONESTOP_PROCESSES's default (README, Benchmarks: as fast as a process per worker, 40 % less memory)
SMALL_MACHINE = (
    "intake ledger basic critical assistance tilt+supplementary+emergency_relief+secondary+re_assistance+"
    "poverty_relief cancellation+eligibility+year_end+presettle+enrollment+premiums"
)

DEFINED: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "ONESTOP_KAFKA",
            None,
            "bootstrap servers of a real Kafka cluster; unset: the embedded broker (or the running `onestop up`)",
        ),
        Setting(
            "ONESTOP_KAFKA_SECURITY",
            "PLAINTEXT",
            "how clients meet Kafka: PLAINTEXT (the embedded broker), SASL_PLAINTEXT or "
            "SASL_SSL (SCRAM-SHA-512 with the principal below)",
            _choice("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"),
        ),
        Setting(
            "ONESTOP_KAFKA_USER",
            None,
            "this process's Kafka principal (each worker its own; the broker's ACLs say what it may read and write)",
        ),
        Setting("ONESTOP_KAFKA_PASSWORD", None, "the principal's SCRAM password"),
        Setting(
            "ONESTOP_DATABASE_URL",
            None,
            "postgresql:// URL of a real PostgreSQL; unset: the embedded one (or the running `onestop up`)",
        ),
        Setting(
            "ONESTOP_WORKER_DATABASE_URL",
            None,
            "postgresql:// URL the workers use, as the role onestop_worker: each worker "
            "connects with it as the role of its kind instead (onestop_intake, onestop_ledger, …, the same "
            "password), unless ONESTOP_<KIND>_DATABASE_URL names its own (unset: the embedded PostgreSQL's "
            "roles, or ONESTOP_DATABASE_URL)",
        ),
        *(
            Setting(
                f"ONESTOP_{kind.upper()}_DATABASE_URL",
                None,
                f"postgresql:// URL the {kind} worker{'s' if kind == 'payer' else ''} "
                f"connect{'' if kind == 'payer' else 's'} with, as the role onestop_{kind} "
                f"(migration 0009: only what {kind} does); "
                "unset: ONESTOP_WORKER_DATABASE_URL as that role",
            )
            for kind in WORKER_KINDS
        ),
        Setting(
            "ONESTOP_ADMIN_DATABASE_URL",
            None,
            "postgresql:// URL `onestop keys challenge | add | revoke | list` use: the "
            "administrator's role onestop_admin, which may only add keys, set their revocation and issue challenges "
            "(unset: the embedded PostgreSQL's onestop_admin role, or ONESTOP_DATABASE_URL)",
        ),
        Setting(
            "ONESTOP_CONSOLE_DATABASE_URL",
            None,
            "postgresql:// URL the web console (`onestop console`) uses: the role onestop_console, which reads what "
            "its pages show and writes only its own tables (migration 0012); `onestop init` sets its password from "
            "this URL (unset: the embedded PostgreSQL's onestop_console role, or ONESTOP_DATABASE_URL)",
        ),
        Setting(
            "ONESTOP_CONSOLE_ADDRESS",
            "127.0.0.1",
            "the address the web console listens on (0.0.0.0 in a container, behind a TLS proxy)",
        ),
        Setting(
            "ONESTOP_CONSOLE_PORT",
            "8400",
            "the web console's port; 0 = any free port (its address is written to .onestop/console.json, and "
            "`onestop up` prints it)",
            _at_least(0),
        ),
        Setting(
            "ONESTOP_CONSOLE_SECRET",
            None,
            "the key the console signs its session cookies and CSRF tokens with (at least 32 characters; every "
            "instance of one console the same); unset: a random one kept in .onestop/console-secret",
        ),
        Setting(
            "ONESTOP_CONSOLE_BUREAU_KEY",
            None,
            "the key file (`onestop keys create --signer authority:medical_insurance`) the console signs the "
            "year-end closes finance confirms with; unset: the console offers no close",
        ),
        Setting("ONESTOP_HOME", ".", "the directory whose .onestop/ holds the embedded data, logs and runtime.json"),
        Setting("ONESTOP_PARTITIONS", "4", "partitions of every topic, set when topics are created", int),
        Setting(
            "ONESTOP_DRIVER",
            "aiokafka",
            "how a worker meets Kafka: aiokafka (the default: measured faster, leaner and quicker to answer, "
            "README Benchmarks) or faust (workers/drivers/)",
            _choice("faust", "aiokafka"),
        ),
        Setting(
            "ONESTOP_PROCESSES",
            SMALL_MACHINE,
            "how `onestop up` (and the benchmarks) spread the workers over processes: "
            'groups of workers joined by "+", separated by spaces, a group*N in N processes (instances of the '
            "same consumer groups), a worker named in none alone; or 0 = one process per worker, as deployed; or "
            "N = dealt over N processes. Every worker is still its own consumer group. The default, measured on 2 "
            "cores: the five every claim passes alone, the other payers together, the background workers "
            "together (several per process: the aiokafka driver; Faust runs one per process)",
            process_layout,
        ),
        Setting(
            "ONESTOP_FETCH_MAX_WAIT_MS",
            "100",
            "how long a fetch may wait for data (Faust's own is 1,500 ms); the embedded broker sleeps through "
            "part of it before it answers, so it is a floor under every hop: 50 answers sooner and costs idle CPU "
            "(README Benchmarks, the fetch wait)",
            int,
        ),
        Setting(
            "ONESTOP_BACKGROUND_FETCH_WAIT_MS",
            "1000",
            "the same for the workers nobody waits for at a window (eligibility, "
            "cancellation, year_end): an idle fetch costs the broker about as much as a full one, so they ask "
            "less often",
            int,
        ),
        Setting("ONESTOP_SESSION_TIMEOUT", "10", "consumer-group session timeout, seconds", float),
        Setting("ONESTOP_COMMIT_INTERVAL", "1.0", "seconds between offset commits", float),
        Setting(
            "ONESTOP_RESEND_AFTER",
            "60",
            "seconds after which intake sends again a claim that has not reached the ledger "
            "(its message to a payer or to the ledger lost on the way, as the embedded broker could lose one "
            "before readers read again at a gap: docs/operations.md, Faults); payers and the ledger take a claim "
            "sent twice once. 0 = never",
            float,
        ),
        Setting(
            "ONESTOP_TRACE_DIR",
            "",
            "a directory where every worker writes each offset it reads, sends and commits (a diagnosis of a lost "
            "message: python -m bench.trace DIR); unset: no trace",
        ),
        Setting(
            "ONESTOP_LINGER_MS",
            "0",
            "how long a producer waits to fill a batch, ms: none, because a worker sends a "
            "batch's whole output at once and then waits for it, so waiting would only delay it (README, Benchmarks)",
            int,
        ),
        Setting(
            "ONESTOP_PURE_RULES",
            "0",
            "1 = run the settlement rules from their Python source even when `onestop compile-rules` "
            "has built them (schemas/compiled.py; the tests compare the two)",
            _flag,
        ),
        Setting(
            "ONESTOP_BATCH_MAX", "500", "most events a worker handles in one batch (one database transaction)", int
        ),
        Setting("ONESTOP_BATCH_WITHIN", "0.01", "seconds a worker waits to fill a batch", float),
        Setting(
            "ONESTOP_METRICS_PORT",
            "0",
            "port of each worker process's /metrics and /healthz (Prometheus): 0 = any free "
            "port, written with the process's pid to .onestop/metrics/<process>.json (`onestop metrics` lists them); "
            "-1 = none; docker-compose.yml gives every worker 9400",
            int,
        ),
        Setting(
            "ONESTOP_METRICS_ADDRESS",
            "127.0.0.1",
            "the address /metrics and /healthz listen on (0.0.0.0 in a container)",
        ),
        Setting(
            "ONESTOP_ACCEPT_UNSIGNED",
            "0",
            "development only: accept events that carry no signature (signed ones are still verified); "
            "`onestop up` warns when it is on",
            _flag,
        ),
        Setting(
            "ONESTOP_REGIONS",
            None,
            'the folder of policy files (one YAML file per region and policy period, README "Adding a region"), '
            "instead of the ones shipped in policies/regions; a file's `- use: FILE` is looked for in the folder's "
            "shared/ first, then in the shipped policies/regions/shared",
        ),
        Setting(
            "ONESTOP_CASES",
            None,
            "tests: the folder of shared worked cases (unset: ../shared/cases beside the repository)",
        ),
        Setting(
            "ONESTOP_NHSA_TOPIC",
            "0",
            "1: also publish every record in the national platform's setlinfo / setldetail shape "
            "on its hospital's own settlements.nhsa.<fixmedins_code> (settlements.nhsa for records naming no "
            "hospital), "
            "for hospital systems integrated with the platform",
            _flag,
        ),
        Setting(
            "ONESTOP_MAX_AMOUNT",
            "10000000.00",
            "the largest bill accepted (medfee_sumamt, and so each of its "
            "parts), in yuan: a claim or pre-settlement above it is refused with the reason, as implausible "
            "(policies/plausible.py)",
            _amount,
        ),
        Setting(
            "ONESTOP_MAX_STAY_DAYS",
            "366",
            "the longest stay accepted, enddate − begndate in days: a longer one is refused as "
            "implausible (a back-dated begndate would make categories of years ago count)",
            _at_least(1),
        ),
        Setting(
            "ONESTOP_CLOCK_SKEW_SECONDS",
            "300",
            "how far in the future, in seconds, an input's own time (a claim's discharge, "
            "a grant's recorded_at, a cancellation's or close's time) may be of its receipt, for clocks that disagree; "
            "beyond it the input is refused as implausible",
            _at_least(0),
        ),
        Setting(
            "ONESTOP_PDF_FONT",
            None,
            "a TrueType font file (.ttf / .ttc) with Chinese glyphs, embedded in the PDF reports; "
            "unset: WenQuanYi Micro Hei or Zen Hei where installed (Debian fonts-wqy-microhei), else ReportLab's "
            "STSong-Light, which is not embedded (readers substitute a font of their own)",
        ),
    )
}


def value(name: str) -> Any:
    """The setting's value from the environment, else its default (None when it has none)."""
    setting = DEFINED[name]
    raw = os.environ.get(name, "").strip() or setting.default
    if raw is None:
        return None
    parsed = _PARSED.get((name, raw), _PARSED)
    if parsed is not _PARSED:
        return parsed
    try:
        parsed = _PARSED[(name, raw)] = setting.parse(raw)
    except ValueError as error:
        raise ValueError(f"{name}={raw!r}: {error} ({setting.meaning})") from None
    return parsed


#: each setting's value parsed once per text it is given (some are read for every event)
_PARSED: dict[tuple[str, str], Any] = {}


def described() -> list[tuple[str, str | None, str | None, str]]:
    """(name, value set in the environment or None, default, meaning) of every setting."""
    return [(name, os.environ.get(name), s.default, s.meaning) for name, s in DEFINED.items()]


class _Settings:
    """Attribute access to the settings: ``settings.partitions`` reads ONESTOP_PARTITIONS now."""

    kafka = property(lambda self: value("ONESTOP_KAFKA"))
    database_url = property(lambda self: value("ONESTOP_DATABASE_URL"))
    kafka_security = property(lambda self: value("ONESTOP_KAFKA_SECURITY"))
    kafka_user = property(lambda self: value("ONESTOP_KAFKA_USER"))
    kafka_password = property(lambda self: value("ONESTOP_KAFKA_PASSWORD"))
    worker_database_url = property(lambda self: value("ONESTOP_WORKER_DATABASE_URL"))
    admin_database_url = property(lambda self: value("ONESTOP_ADMIN_DATABASE_URL"))
    console_database_url = property(lambda self: value("ONESTOP_CONSOLE_DATABASE_URL"))
    console_address = property(lambda self: value("ONESTOP_CONSOLE_ADDRESS"))
    console_port = property(lambda self: value("ONESTOP_CONSOLE_PORT"))
    console_secret = property(lambda self: value("ONESTOP_CONSOLE_SECRET"))
    console_bureau_key = property(lambda self: value("ONESTOP_CONSOLE_BUREAU_KEY"))

    def kind_database_url(self, kind: str) -> str | None:
        """ONESTOP_<KIND>_DATABASE_URL: the URL of one kind of worker's own role, when set."""
        url: str | None = value(f"ONESTOP_{kind.upper()}_DATABASE_URL")
        return url

    partitions = property(lambda self: value("ONESTOP_PARTITIONS"))
    driver = property(lambda self: value("ONESTOP_DRIVER"))
    processes = property(lambda self: value("ONESTOP_PROCESSES"))
    fetch_max_wait_ms = property(lambda self: value("ONESTOP_FETCH_MAX_WAIT_MS"))
    background_fetch_wait_ms = property(lambda self: value("ONESTOP_BACKGROUND_FETCH_WAIT_MS"))
    session_timeout = property(lambda self: value("ONESTOP_SESSION_TIMEOUT"))
    commit_interval = property(lambda self: value("ONESTOP_COMMIT_INTERVAL"))
    linger_ms = property(lambda self: value("ONESTOP_LINGER_MS"))
    trace_dir = property(lambda self: value("ONESTOP_TRACE_DIR"))
    resend_after = property(lambda self: value("ONESTOP_RESEND_AFTER"))
    pure_rules = property(lambda self: value("ONESTOP_PURE_RULES"))
    batch_max = property(lambda self: value("ONESTOP_BATCH_MAX"))
    batch_within = property(lambda self: value("ONESTOP_BATCH_WITHIN"))
    metrics_port = property(lambda self: value("ONESTOP_METRICS_PORT"))
    metrics_address = property(lambda self: value("ONESTOP_METRICS_ADDRESS"))
    accept_unsigned = property(lambda self: value("ONESTOP_ACCEPT_UNSIGNED"))
    nhsa_topic = property(lambda self: value("ONESTOP_NHSA_TOPIC"))
    pdf_font = property(lambda self: value("ONESTOP_PDF_FONT"))
    regions = property(lambda self: value("ONESTOP_REGIONS"))
    max_amount = property(lambda self: value("ONESTOP_MAX_AMOUNT"))
    max_stay_days = property(lambda self: value("ONESTOP_MAX_STAY_DAYS"))
    clock_skew_seconds = property(lambda self: value("ONESTOP_CLOCK_SKEW_SECONDS"))

    @property
    def home(self) -> Path:
        """The project's own directory of runtime state: <ONESTOP_HOME>/.onestop."""
        return Path(value("ONESTOP_HOME")).resolve() / ".onestop"


settings = _Settings()
