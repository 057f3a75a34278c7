"""`onestop chaos` in small: the same input settled without faults and with SIGKILLed workers and a
PostgreSQL restart (and, scaled out, two instances of every stage and the whole system restarted),
through the same functions; every check of the full run must pass.

The workers run with the environment's driver (ONESTOP_DRIVER, default aiokafka).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.chaos import Faults, run_chaos
from schemas.codes import CLAIM_PAYERS
from schemas.settings import WORKER_KINDS

PAYERS = {payer.value for payer in CLAIM_PAYERS}

QUICK = Faults(
    kills=2,
    kill_every=(1.0, 4.0),
    down_for=(0.3, 1.5),
    pg_restart_at=0.3,
    pg_down_for=(2.0, 3.0),
    slices=3,
    slice_pause=(0.3, 1.0),
)
#: two processes of every group of the default layout, an instance of intake, the ledger and a payer
#: killed, and the whole system stopped and started half-way (the topics lost, the database kept)
SCALED = replace(QUICK, kills=3, instances=2, restart_at=0.5)


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


def test_two_instances_of_every_stage_and_a_restart_lose_nothing(tmp_path: Path):
    """`onestop chaos --instances 2 --restart` in small: with an instance of intake, of the ledger and
    of a payer killed, PostgreSQL restarted and the whole system stopped and started again half-way
    (the broker's topics lost, what was sent on them sent again), every good claim is settled once,
    no input is lost or stuck, and the ledger is the reference run's to the fen."""
    said: list[str] = []
    checks, reference, fault = run_chaos(
        300, seed=13, faults=SCALED, work=tmp_path, say=said.append, timeout=300, stall=60
    )
    report = "\n".join([*said, *(check.line() for check in checks)])
    assert all(check.ok for check in checks), report
    log = fault.faults
    assert log is not None and len(log.restarts) == 1 and len(log.pg_restarts) == 1, report
    killed = [name.split("#")[0] for _, name, _ in log.kills]
    assert killed[:2] == ["intake", "ledger"] and set(killed[2].split("+")) <= PAYERS, report
    # the restart did lose what the topics held: the settlements topic now has only what came after it
    assert fault.topics_lost and len({s.key for s in fault.topic_settlements}) < len(fault.settlements_per_claim), (
        report
    )
    assert fault.archived is not None and fault.archived.outcomes["repeat"] > reference.archived.outcomes["repeat"], (
        report
    )
    assert {"reference run: no input lost or stuck", "fault run: no input lost or stuck"} <= {c.name for c in checks}
