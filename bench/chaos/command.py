"""`onestop chaos`: make the input, run it without and with faults, print the checks."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

from schemas.settings import SMALL_MACHINE
from workers.drivers import DRIVERS, driver_name
from workers.registry import WORKERS

from .attack import kind_group, make_keys
from .attacks import make_attacks
from .checks import Check, all_checks
from .faults import Faults
from .inputs import ChaosInput, make_input
from .malformed import ALL_KINDS
from .run import RunResult, run_pipeline, settled_in


def run_chaos(
    claims: int,
    seed: int,
    faults: Faults,
    work: Path,
    say: Callable[[str], None] = print,
    timeout: float = 600.0,
    env: dict[str, str] | None = None,
    stall: float = 90.0,
    attacks: bool = False,
) -> tuple[list[Check], RunResult, RunResult]:
    """The reference run and the fault run of one input, and the checks. With ``attacks`` both runs
    verify signatures (every good event signed by its rightful key) and the fault run is also
    attacked; its good claims' ledger must still be the reference's."""
    began = time.monotonic()
    made = make_input(claims, seed)
    say(_describe(made) + f" [{time.monotonic() - began:.1f}s]")
    keys = make_keys({c.fixmedins_code for c in made.good.values() if c.fixmedins_code}) if attacks else None
    hostile = make_attacks(made, keys, random.Random(seed)) if keys else []
    if hostile:
        say(
            f"attacks: {len(hostile)} events of {len({kind_group(a.kind) for a in hostile})} kinds, "
            f"published during the fault run ({sum(a.harmless for a in hostile)} a hospital may send, which must be "
            f"harmless), and the workers' database roles tried at its end; every good event signed"
        )
    say("reference run (no faults" + (", no attacks):" if attacks else "):"))
    reference = run_pipeline(
        made, work / "reference", None, seed=seed, timeout=timeout, say=say, env=env, stall=stall, keys=keys
    )
    say(f"  done in {reference.seconds:.1f}s")
    say(
        f"fault run ({faults.slices} slices, up to {faults.kills} SIGKILLs, 1 PostgreSQL restart"
        + (f", {faults.instances} instances of every stage" if faults.instances > 1 else "")
        + (f", the whole system restarted at {faults.restart_at:.0%} settled" if faults.restart_at is not None else "")
        + (f", {len(hostile)} attacks):" if hostile else "):")
    )
    fault = run_pipeline(
        made,
        work / "fault",
        faults,
        seed=seed,
        timeout=timeout,
        say=say,
        env={**(env or {}), **fault_env(faults, (env or {}).get("ONESTOP_DRIVER") or driver_name())},
        stall=stall,
        keys=keys,
        attacks=hostile,
    )
    say(f"  done in {fault.seconds:.1f}s")
    return all_checks(made, reference, fault, faults, hostile), reference, fault


#: how soon intake sends again a claim lost with the topics of a restart (production's default is 60 s):
#: the run's stall limit must outlast it with room to spare
RESEND_AFTER_RESTART = "20"


def fault_env(faults: Faults, driver: str) -> dict[str, str]:
    """The fault run's workers: every group of the default layout in ``faults.instances`` processes
    (under Faust, which cannot share a process, every worker alone in as many)."""
    env: dict[str, str] = {}
    if faults.instances > 1:
        groups = SMALL_MACHINE.split() if driver == "aiokafka" else list(WORKERS)
        env["ONESTOP_PROCESSES"] = " ".join(f"{group}*{faults.instances}" for group in groups)
    if faults.restart_at is not None:
        env["ONESTOP_RESEND_AFTER"] = RESEND_AFTER_RESTART
    return env


def _describe(made: ChaosInput) -> str:
    life = made.life
    return (
        f"input: {len(made.good)} claims of {len(made.people)} people, {len(made.grants)} grants; "
        f"{len(made.events)} discharge events = {len(made.good)} + {made.repeated_adjacent} repeated right after "
        f"+ {made.repeated_later} repeated much later + {len(made.malformed)} malformed "
        f"({len(ALL_KINDS)} kinds) + {len(life.corrections)} corrected bills; {len(made.bad_grants)} malformed grants; "
        f"{len(life.cancellations)} cancellations and {len(life.revocations)} revocations reaching back, published "
        f"while the claims travel"
    )


@click.command()
@click.option(
    "--claims", default=10_000, show_default=True, help="generated claims (before repeats and malformed events)"
)
@click.option("--seed", default=7, show_default=True, help="seed of the input and of the faults")
@click.option(
    "--kills", default=None, type=int, help="SIGKILLs in the fault run (default: one per 1,250 claims, at least 2)"
)
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="where the runs keep their parts and logs (default: a new temporary directory)",
)
@click.option(
    "--keep/--no-keep",
    default=False,
    help="keep the temporary work directory when every check passes (a --work-dir is always kept)",
)
@click.option(
    "--instances",
    default=1,
    show_default=True,
    type=click.IntRange(1, 4),
    help="in the fault run, every group of workers of the default layout in this many processes (the same "
    "consumer groups); kills then hit one instance of intake, the ledger or a payer",
)
@click.option(
    "--restart/--no-restart",
    default=False,
    help="in the fault run, stop the whole system half-way (workers, the broker: its topics lost; PostgreSQL: "
    "its data kept), start it again, and send again what the senders had sent",
)
@click.option("--timeout", default=600.0, show_default=True, help="seconds each run may take")
@click.option(
    "--driver",
    type=click.Choice(list(DRIVERS)),
    default=None,
    help="the workers' driver (ONESTOP_DRIVER; default: the environment's, else aiokafka)",
)
@click.option(
    "--attacks",
    is_flag=True,
    default=False,
    help="verify signatures in both runs and attack the fault run: forged, unsigned, misplaced, revoked, "
    "altered, hostile and implausible events, another hospital's corrections, cancellations and claim ids, "
    "forged claims in flight, unsigned closes and pre-settlements, the workers' roles writing the keys "
    "and the books: all refused or harmless, not one fen moved",
)
def chaos(
    claims: int,
    seed: int,
    kills: int | None,
    work_dir: Path | None,
    keep: bool,
    timeout: float,
    driver: str | None,
    attacks: bool,
    instances: int,
    restart: bool,
) -> None:
    """Settle a generated year twice, without and with faults (SIGKILLed workers, a PostgreSQL restart),
    with cancellations, corrected bills and revocations during both, and check exactly-once settlement,
    balances, the audit replay, rejections, identical ledgers and clean logs."""
    work = work_dir or Path(tempfile.mkdtemp(prefix="onestop-chaos-"))
    if attacks and restart:
        raise click.UsageError("--attacks reads its refusals off the topics, which --restart loses: use one of them")
    faults = Faults(
        kills=kills if kills is not None else max(2, claims // 1250),
        instances=instances,
        restart_at=0.5 if restart else None,
    )
    began = time.monotonic()
    env = {"ONESTOP_DRIVER": driver} if driver else {}
    click.echo(f"work directory {work}; driver {driver or driver_name()}")
    checks, reference, fault = run_chaos(claims, seed, faults, work, click.echo, timeout, env, attacks=attacks)
    failed = _report(checks, reference, fault, time.monotonic() - began)
    if failed or keep or work_dir is not None:
        click.echo(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        raise SystemExit(1)


def _report(checks: list[Check], reference: RunResult, fault: RunResult, seconds: float) -> list[Check]:
    """Print each check and the summary; the checks that failed."""
    for check in checks:
        click.echo(check.line())
    failed = [c for c in checks if not c.ok]
    click.echo(
        f"{len(checks) - len(failed)}/{len(checks)} checks passed in {seconds:.1f}s "
        f"(reference run {reference.seconds:.1f}s, {settled_in(reference)}; "
        f"fault run {fault.seconds:.1f}s, {settled_in(fault)})"
    )
    return failed
