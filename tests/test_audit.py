"""An auditor's replay (policies/audit.py), pure: the archive's inputs make the records, and every
kind of tampering with a ledger is found and named."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from policies.audit import differences, replay_archive, totals_per_fund
from schemas.codes import Category
from schemas.events import CategoryHeld, ClaimCancellation, EligibilityChange
from streams.codecs import encode

from .shared_cases import CASES_DIR, load_case
from .test_ledger_life import NOW


@dataclass(frozen=True)
class Archived:
    seq: int
    kind: str
    outcome: str
    raw: bytes


def archive_of_zhengzhou() -> list[Archived]:
    case = load_case(CASES_DIR / "zhengzhou-dibao-deferred-then-paid.json")
    grants = [
        EligibilityChange.grant_of(case.person.psn_no, CategoryHeld(code=c.code, valid_from=c.valid_from), f"g{i}")
        for i, c in enumerate(case.person.categories)
    ]
    out = [Archived(1, "eligibility", "accepted", encode(g)) for g in grants]
    out += [Archived(10 + i, "claim", "accepted", encode(c)) for i, c in enumerate(case.claims)]
    out.append(Archived(20, "claim", "rejected", b'{"not": "a claim"}'))  # refused inputs take no effect
    b = case.claims[1]
    out.append(
        Archived(
            30,
            "cancellation",
            "accepted",
            encode(
                ClaimCancellation(
                    event_id="X", claim_id=b.claim_id, psn_no=b.psn_no, reason="duplicate", cancelled_at=NOW
                )
            ),
        )
    )
    return out


def test_the_archive_replays_into_the_records_it_makes():
    replayed = replay_archive(archive_of_zhengzhou())
    assert [r.settlement_id for r in replayed.records] == [
        "ZZ-1a/settlement",
        "ZZ-1b/settlement",
        "ZZ-1c/settlement",
        "ZZ-1b/reversal/cancellation/X",
        "ZZ-1c/adjustment/cancellation/X",
    ]
    assert replayed.inputs[("claim", "rejected")] == 1
    # basic: 2,160 + 2,960 + 51,350 − 2,960 = 53,510.00 (fund 390100 of resident insurance)
    assert totals_per_fund(replayed.records)["basic 390100"] == Decimal("53510.00")


def test_a_ledger_equal_to_the_replay_has_no_difference():
    records = replay_archive(archive_of_zhengzhou()).records
    assert differences(records, [r.model_copy(update={"settled_at": NOW}) for r in records], "ledger") == []


def test_one_fen_in_one_line_is_found_and_named():
    records = replay_archive(archive_of_zhengzhou()).records
    tampered = list(records)
    record = tampered[2]
    lines = [
        line.model_copy(update={"amount": line.amount + Decimal("0.01")}) if line.payer.value == "critical" else line
        for line in record.payments
    ]
    tampered[2] = record.model_copy(
        update={
            "payments": lines,
            "fund_pay_sumamt": record.fund_pay_sumamt + Decimal("0.01"),
            "psn_part_amt": record.psn_part_amt - Decimal("0.01"),
        }
    )
    found = differences(records, tampered, "ledger")
    assert len(found) == 1
    assert found[0].startswith("ledger: record ZZ-1c/settlement (settlement, ")
    assert "critical should pay 7665.00, pays 7665.01 (0.01)" in found[0]
    assert "fund_pay_sumamt should be 78360.00, is 78360.01" in found[0]
    assert "P009" not in found[0]  # persons are masked


def test_a_missing_record_and_an_extra_one_are_found_and_named():
    records = replay_archive(archive_of_zhengzhou()).records
    extra = records[0].model_copy(
        update={"settlement_id": "ZZ-1a/adjustment/forged", "kind": "adjustment", "reason": "?"}
    )
    found = differences(records, [*records[:3], records[4], extra], "settlements.completed")
    assert found == [
        "settlements.completed: missing record ZZ-1b/reversal/cancellation/X (reversal, ***, 2018)",
        "settlements.completed: extra record ZZ-1a/adjustment/forged (adjustment, ***, 2018) "
        "(the inputs do not make it)",
    ]


def test_a_changed_identity_snapshot_is_found_and_named():
    records = replay_archive(archive_of_zhengzhou()).records
    changed = [
        records[0].model_copy(
            update={"identity": [h.model_copy(update={"code": Category.tekun}) for h in records[0].identity]}
        ),
        *records[1:],
    ]
    assert differences(records, changed, "ledger") == [
        "ledger: record ZZ-1a/settlement (settlement, ***, 2018) differs: "
        "identity snapshot should be ['dibao'], is ['tekun']"
    ]
