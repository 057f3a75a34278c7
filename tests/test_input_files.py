"""Reading users' files: discharge events from JSON lines or CSV, authorities' lists from CSV."""

from __future__ import annotations

from datetime import date, datetime, timezone

import orjson

from cli.files import ListEntry, changes_of, read_lines, read_list
from schemas.codes import Authority
from schemas.events import DischargeClaim

CLAIM = {
    "claim_id": "C1",
    "psn_no": "P1",
    "insutype": "390",
    "insuplc_admdvs": "620702",
    "mdtrtarea_admvs": "620702",
    "med_type": "21",
    "hosp_lv": "2",
    "referral": "true",
    "begndate": "2022-09-01",
    "enddate": "2022-09-10",
    "dise_codg": "K35.8",
    "medfee_sumamt": "68000.00",
    "fulamt_ownpay_amt": "6000.00",
    "overlmt_selfpay": "0.00",
    "preselfpay_amt": "2000.00",
    "inscp_scp_amt": "60000.00",
}


def test_a_csv_of_discharge_events_reads_as_the_contract_with_booleans_and_absent_empties(tmp_path):
    path = tmp_path / "claims.csv"
    header = list(CLAIM) + ["emergency_unable_to_pay", "age"]
    path.write_text(",".join(header) + "\n" + ",".join(list(CLAIM.values()) + ["", "7"]) + "\n", encoding="utf-8")
    [raw] = list(read_lines(path))
    claim = DischargeClaim.model_validate(orjson.loads(raw))
    assert claim.referral is True and claim.emergency_unable_to_pay is False and claim.age == 7
    assert str(claim.inscp_scp_amt) == "60000.00"


def test_json_lines_are_read_as_they_are_and_blank_lines_skipped(tmp_path):
    path = tmp_path / "claims.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{not json\n')
    assert list(read_lines(path)) == [b'{"a": 1}', b"{not json"]


def test_a_list_becomes_grants_and_the_missing_become_revocations_with_stable_ids(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("psn_no,category,valid_from,valid_to\nP1,tekun,2023-01-01,\nP2,nope,2023-01-01,\n")
    entries, digest = read_list(path)
    at = datetime(2023, 1, 2, tzinfo=timezone.utc)
    changes, problems = changes_of(entries, digest, Authority.civil_affairs, at, [("P9", "tekun")], date(2023, 7, 1))
    assert [(c.psn_no, c.action, c.valid_from) for c in changes] == [
        ("P1", "grant", date(2023, 1, 1)),
        ("P9", "revoke", date(2023, 7, 1)),
    ]
    assert len(problems) == 1 and problems[0].startswith("line 3: category:") and "tekun" in problems[0]
    again, _ = changes_of(*read_list(path), Authority.civil_affairs, at, [("P9", "tekun")], date(2023, 7, 1))
    assert [c.event_id for c in again] == [c.event_id for c in changes]


def test_a_lists_event_ids_are_ids_that_hold_no_persons_number_however_long_the_entries():
    psn_no = "4" * 64  # the longest person number an id may be
    changes, problems = changes_of(
        [ListEntry(psn_no, "low_income_serious_illness", "2023-01-01", None)],
        "0123456789ab",
        Authority.rural_revitalisation,
        datetime(2023, 1, 2, tzinfo=timezone.utc),
        [(psn_no, "low_income_serious_illness")],
        date(2023, 7, 1),
    )
    assert problems == [] and len(changes) == 2
    grant, revoke = (c.event_id for c in changes)
    assert (
        grant.startswith("rural_revitalisation.list-0123456789ab.")
        and grant.endswith(".grant")
        and revoke.endswith(".revoke")
    )
    assert all(len(i) <= 64 and "/" not in i and psn_no[:8] not in i for i in (grant, revoke))
    assert grant.split(".")[2] == revoke.split(".")[2]  # the same person and category


def test_a_list_entry_whose_person_number_is_not_an_id_is_a_problem_of_its_line():
    changes, problems = changes_of(
        [ListEntry("P 1", "tekun", "2023-01-01", None)],
        "0123456789ab",
        Authority.civil_affairs,
        datetime(2023, 1, 2, tzinfo=timezone.utc),
    )
    assert changes == [] and problems == [
        "line 2: psn_no: holds a space at position 2; an id is 1 to 64 characters of "
        'A–Z a–z 0–9 . _ : - (no spaces, no "/")'
    ]
