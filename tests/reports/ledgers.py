"""Ledgers for the reports' tests, made by the pure rules (policies.ledger.replay): the worked cases'
people with their hospitals, and a year with every record kind — a settlement of every claim, a
cancellation (a reversal and an adjustment of the later claim), a corrected bill (an adjustment),
a year-end close paying the deferred assistance (year_end)."""

from __future__ import annotations

from datetime import datetime, timezone

from cli.demo import with_hospitals
from cli.files import grants_of
from policies.ledger import replay
from policies.received import CancellationReceived, ChangeReceived, ClaimReceived, CloseReceived, Input
from schemas.cases import Case
from schemas.events import ClaimCancellation, Settlement, YearEndClose

from ..shared_cases import case_files, load_case

NOW = datetime(2026, 11, 22, 3, tzinfo=timezone.utc)


def cases() -> list[Case]:
    return with_hospitals([load_case(p) for p in case_files()])


def inputs_of(case: Case, every_kind: bool = True) -> list[Input]:
    """A case's grants and claims as received; with ``every_kind`` also what makes the other kinds."""
    inputs: list[Input] = [ChangeReceived(i + 1, g) for i, g in enumerate(grants_of(case))]
    seq = 100
    claims = list(case.claims)
    if every_kind and case.name == "zhengzhou-dibao-deferred-then-paid":
        claims = claims[:2]  # the year stays under the supplementary deductible: the close pays the deferred assistance
    for claim in claims:
        seq += 1
        inputs.append(ClaimReceived(seq, claim))
    if not every_kind:
        return inputs
    if case.name == "zhengzhou-dibao-deferred-then-paid":
        seq += 1
        inputs.append(
            CloseReceived(
                seq, YearEndClose(event_id="year-end.zhengzhou.2018", region="zhengzhou", year=2018, closed_at=NOW)
            )
        )
    if case.name == "jining-tekun-caps":
        first = claims[0]
        seq += 1
        inputs.append(
            CancellationReceived(
                seq,
                ClaimCancellation(
                    event_id="cancel-1",
                    claim_id=first.claim_id,
                    psn_no=first.psn_no,
                    reason="wrong patient",
                    cancelled_at=NOW,
                    fixmedins_code=first.fixmedins_code,
                ),
            )
        )
    if case.name == "zhangye-dibao-rural-1-one-stay":
        first = claims[0]
        seq += 1
        inputs.append(
            ClaimReceived(
                seq,
                first.model_copy(
                    update={
                        "revision": 1,
                        "medfee_sumamt": first.medfee_sumamt + 1000,
                        "inscp_scp_amt": first.inscp_scp_amt + 1000,
                    }
                ),
            )
        )
    return inputs


def every_kind(now: datetime = NOW) -> tuple[dict[str, list[Input]], list[Settlement]]:
    """Each person's inputs and all records of the cases, with every record kind."""
    histories: dict[str, list[Input]] = {}
    records: list[Settlement] = []
    for case in cases():
        inputs = inputs_of(case)
        histories[case.person.psn_no] = inputs
        records += replay(inputs, now)
    return histories, records
