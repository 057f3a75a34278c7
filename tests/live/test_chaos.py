"""`onestop chaos` in small: the same input settled without faults and with SIGKILLed workers and a
PostgreSQL restart, through the same functions; every check of the full run must pass.

The workers run with the environment's driver (ONESTOP_DRIVER, default aiokafka).
"""

from __future__ import annotations

from pathlib import Path

from bench.chaos import Faults, run_chaos
from schemas.settings import WORKER_KINDS

QUICK = Faults(
    kills=2,
    kill_every=(1.0, 4.0),
    down_for=(0.3, 1.5),
    pg_restart_at=0.3,
    pg_down_for=(2.0, 3.0),
    slices=3,
    slice_pause=(0.3, 1.0),
)


def test_a_small_chaos_run_passes_every_check(tmp_path: Path):
    said: list[str] = []
    checks, reference, fault = run_chaos(
        600, seed=11, faults=QUICK, work=tmp_path, say=said.append, timeout=300, stall=60
    )
    report = "\n".join([*said, *(check.line() for check in checks)])
    assert fault.faults is not None and len(fault.faults.kills) == 2 and len(fault.faults.pg_restarts) == 1, report
    assert all(check.ok for check in checks), report


def test_a_small_attack_run_refuses_every_attack_and_pays_nothing_on_one(tmp_path: Path):
    """`onestop chaos --attacks` in small: both runs verify signatures; the fault run is also attacked
    (forged, unsigned, misplaced, revoked, altered, hostile and implausible events; another hospital's
    correction, cancellations and claim id; forged claims in flight on the payers' topics and
    claims.ledger; unsigned and wrongly signed closes and pre-settlements; the workers' database roles
    writing the keys and the books) and must still settle the good claims exactly as the reference
    run does, with not one fen moved by an attack and no negative personal share."""
    said: list[str] = []
    checks, reference, fault = run_chaos(
        300, seed=5, faults=QUICK, work=tmp_path, say=said.append, timeout=300, stall=60, attacks=True
    )
    report = "\n".join([*said, *(check.line() for check in checks)])
    names = {check.name for check in checks}
    assert {
        "every attack refused with its reason",
        "not one fen moved by an attack",
        "the workers' database roles cannot touch the keys or the books",
        "no negative personal share anywhere",
        "fault run's ledger identical to the reference run's",
        "reference run's ledger is what its inputs make (audit replay)",
        "fault run's ledger is what its inputs make (audit replay)",
    } <= names, report
    assert all(check.ok for check in checks), report
    # tried, not passed vacuously: every kind of worker's role tried; another hospital's claim with a good
    # claim's claim_id was recorded as that hospital's own, and paid nothing
    assert {attempt.kind for attempt in fault.roles} == set(WORKER_KINDS), report
    theirs = {s.key for s in fault.store_settlements} - {s.key for s in reference.store_settlements}
    assert theirs and all(s.fund_pay_sumamt == 0 for s in fault.store_settlements if s.key in theirs), report
