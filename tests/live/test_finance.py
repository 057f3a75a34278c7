"""What finance, hospitals and patients read, over a live run with every record kind: the monthly
statement equals the ledger's sums to the fen, the reconciliation with a hospital finds what
differs, the slip prints, and pre-settlement through the topics answers what settling then
records — recording nothing. The commands run as a user runs them, against the live database."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import orjson
from click.testing import CliRunner
from pypdf import PdfReader

from cli import main
from cli.files import events_of
from reports.render.pdf import yuan
from reports.statement import build_statement, is_year_end, month_of
from schemas.events import ClaimCancellation, DischargeClaim, EligibilityChange, YearEndClose
from store.reading import every
from store.waiting import identities_recorded, settled_claims
from streams.codecs import encode
from streams.publisher import publish
from streams.topics import CANCELLED, DISCHARGED, ELIGIBILITY, YEAR_END

from ..shared_cases import CASES_DIR, load_case

TIMEOUT = 180.0
NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)
ZERO = Decimal("0.00")


def renamed(name: str, suffix: str, hospital: str | None):
    """A shared case with its person, claims and hospital renamed for this test."""
    case = load_case(CASES_DIR / f"{name}.json")
    person = case.person.model_copy(update={"psn_no": case.person.psn_no + suffix})
    claims = [
        c.model_copy(
            update={
                "claim_id": c.claim_id + suffix,
                "psn_no": person.psn_no,
                "fixmedins_code": hospital,
                "fixmedins_name": f"测试医院 {hospital}" if hospital else None,
            }
        )
        for c in case.claims
    ]
    return case.model_copy(update={"person": person, "claims": claims, "name": case.name + suffix})


async def wait_for(store, settlement_ids: set[str]) -> dict:
    for _ in range(int(TIMEOUT * 4)):
        found = {
            s.settlement_id: s for _, s in await store.settlements(limit=1_000_000) if s.settlement_id in settlement_ids
        }
        if len(found) == len(settlement_ids):
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"records not made within {TIMEOUT:.0f}s: {sorted(settlement_ids - set(found))}")


async def command(live_system, *args: str):
    """`onestop …` as a user runs it against the live system (in a thread: it runs its own event loop)."""
    env = {"ONESTOP_DATABASE_URL": live_system.database, "ONESTOP_KAFKA": live_system.kafka}
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env, catch_exceptions=False)


def total(values) -> Decimal:
    return sum(values, start=ZERO)


async def archived_places(store) -> set:
    """The place of every input archived so far."""
    return {archived.place for archived in await every(store.inputs)}


async def archived_of(store, psn_no: str, before: set) -> list[tuple[dict, str]]:
    """The person's inputs archived since ``before`` was read: each event as received, and its outcome."""
    out = []
    for archived in await every(store.inputs):
        if archived.place in before:
            continue
        try:
            event = orjson.loads(archived.raw)
        except orjson.JSONDecodeError:
            continue  # another test's malformed input
        if isinstance(event, dict) and event.get("psn_no") == psn_no:
            out.append((event, archived.outcome))
    return out


async def test_statement_reconciliation_slip_and_presettle_over_a_live_run(live_system, store, tmp_path):
    tag = uuid.uuid4().hex[:6].upper()
    zz = renamed("zhengzhou-dibao-deferred-then-paid", f"-F{tag}", f"HFZ{tag}")
    jn = renamed("jining-tekun-caps", f"-F{tag}", f"HFJ{tag}")
    tz = renamed("taizhou-outpatient-limits", f"-F{tag}", None)  # schema version 1, naming no hospital
    third = zz.claims[2]
    zz = zz.model_copy(update={"claims": zz.claims[:2]})  # the year stays under the supplementary deductible
    cases = [zz, jn, tz]
    grants, claims = events_of(cases)
    before = (await store.counts())["identity_events"]
    await publish(live_system.kafka, ELIGIBILITY, grants, EligibilityChange)
    await identities_recorded(store, before + len(grants), TIMEOUT)
    await publish(live_system.kafka, DISCHARGED, claims, DischargeClaim)
    await settled_claims(store, {c.claim_id for case in cases for c in case.claims}, TIMEOUT)

    # a reversal (and the later claim adjusted), a corrected bill, the year-end close
    first, second = jn.claims
    await publish(
        live_system.kafka,
        CANCELLED,
        [
            encode(
                ClaimCancellation(
                    event_id=f"F{tag}-cancel",
                    claim_id=first.claim_id,
                    psn_no=first.psn_no,
                    reason="wrong patient",
                    cancelled_at=NOW,
                    fixmedins_code=first.fixmedins_code,
                )
            )
        ],
        ClaimCancellation,
    )
    await wait_for(store, {f"{first.key}/reversal/cancellation/{first.fixmedins_code}/F{tag}-cancel"})
    corrected = second.model_copy(
        update={
            "revision": 1,
            "medfee_sumamt": second.medfee_sumamt + 1000,
            "inscp_scp_amt": second.inscp_scp_amt + 1000,
        }
    )
    await publish(live_system.kafka, DISCHARGED, [encode(corrected)], DischargeClaim)
    await wait_for(store, {f"{second.key}/adjustment/claim/{second.key}@1"})
    close = YearEndClose(event_id=f"F{tag}-close", region="zhengzhou", year=2018, closed_at=NOW)
    await publish(live_system.kafka, YEAR_END, [encode(close)], YearEndClose, key_field="region")
    year_end = f"year-end/zhengzhou/2018/{zz.person.psn_no}"
    await wait_for(store, {f"{year_end}/year_end"})

    # --- the statement equals the ledger's sums to the fen
    records = [r for _, r in await store.settlements(limit=1_000_000)]
    mine = [r for r in records if r.psn_no in {case.person.psn_no for case in cases}]
    assert {r.kind for r in mine} == {"settlement", "adjustment", "reversal", "year_end"}
    for month in sorted({month_of(r.settled_at) for r in mine}):
        of_month = [r for r in records if month_of(r.settled_at) == month]
        statement = build_statement(records, month)
        assert statement.net == total(r.fund_pay_sumamt for r in of_month if not is_year_end(r))
        assert statement.year_end_net == total(r.fund_pay_sumamt for r in of_month if is_year_end(r))
        for section in statement.hospitals:
            theirs = [r for r in of_month if not is_year_end(r) and (r.fixmedins_code or None) == section.code]
            assert section.net == total(r.fund_pay_sumamt for r in theirs)
            for kind in ("settlement", "adjustment", "reversal"):
                assert total(row.kinds[kind].amount for row in section.funds) == total(
                    r.fund_pay_sumamt for r in theirs if r.kind == kind
                )
        assert None in [s.code for s in statement.hospitals]  # the claims naming no hospital
    month = month_of(mine[0].settled_at)
    for hospital in (f"HFZ{tag}", f"HFJ{tag}"):
        shown = await command(
            live_system, "finance", "statement", "--month", month, "--hospital", hospital, "--format", "json"
        )
        assert shown.exit_code == 0, shown.output
        document = json.loads(shown.output)
        theirs = [r for r in mine if r.fixmedins_code == hospital and month_of(r.settled_at) == month]
        assert Decimal(document["net_payable"]) == total(r.fund_pay_sumamt for r in theirs)
    written = await command(
        live_system, "finance", "statement", "--month", month, "--out-dir", str(tmp_path / "statement")
    )
    assert written.exit_code == 0 and len(list((tmp_path / "statement").iterdir())) == 4
    assert (await command(live_system, "finance", "statement", "--month", "2001-01", "--format", "csv")).exit_code == 0
    unknown = await command(live_system, "finance", "statement", "--month", month, "--hospital", f"NONE{tag}")
    assert unknown.exit_code == 1 and "unknown hospital" in unknown.output

    # --- reconciliation with the Jining hospital: its list as the ledger has it, then with differences
    hospital = [r for r in mine if r.fixmedins_code == f"HFJ{tag}"]
    rows = [f"{r.settlement_id},{r.medfee_sumamt},{r.fund_pay_sumamt},{r.psn_part_amt}" for r in hospital]
    exact = tmp_path / "exact.csv"
    exact.write_text("setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\n" + "\n".join(rows) + "\n")
    args = ("finance", "reconcile", "--hospital", f"HFJ{tag}", "--from", "2000-01-01", "--to", "2100-12-31")
    agree = await command(live_system, *args, str(exact))
    assert agree.exit_code == 0, agree.output
    one, two = hospital[0], hospital[1]
    cent = Decimal("0.01")
    changed = [
        f"{one.settlement_id},{one.medfee_sumamt},{one.fund_pay_sumamt + cent},{one.psn_part_amt - cent}",
        f"{two.settlement_id},{two.medfee_sumamt},{two.fund_pay_sumamt - cent},{two.psn_part_amt + cent}",
        *rows[3:],
        f"EXTRA-{tag}/settlement,100.00,70.00,30.00",
    ]  # the third record is missing
    differ_file = tmp_path / "differ.csv"
    differ_file.write_text("setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\n" + "\n".join(changed) + "\n")
    differ = await command(live_system, *args, "--format", "json", str(differ_file))
    assert differ.exit_code == 1
    found = {d["setl_id"]: d for d in json.loads(differ.output)["differences"]}
    assert found[one.settlement_id]["difference"] == {"fund_pay_sumamt": "0.01", "psn_part_amt": "-0.01"}
    assert found[two.settlement_id]["difference"] == {"fund_pay_sumamt": "-0.01", "psn_part_amt": "0.01"}
    assert found[hospital[2].settlement_id]["status"] == "only_in_ledger"
    assert found[f"EXTRA-{tag}/settlement"]["status"] == "only_in_hospital"

    # --- the slip of the corrected claim: one page, the amounts in its text
    slip = await command(
        live_system, "slip", second.claim_id, "--hospital", second.fixmedins_code, "--out-dir", str(tmp_path / "slips")
    )
    assert slip.exit_code == 0, slip.output
    reader = PdfReader(io.BytesIO((tmp_path / "slips" / f"slip-{second.claim_id}.pdf").read_bytes()))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    settled = next(r for r in mine if r.settlement_id == f"{second.key}/settlement")
    for amount in (
        settled.medfee_sumamt,
        settled.fund_pay_sumamt,
        settled.psn_part_amt,
        *(line.amount for line in settled.payments),
    ):
        assert yuan(amount) in text
    assert "corrected bill" in text and "cancellation" in text

    # --- pre-settlement through the topics: what settling then records, and nothing recorded
    history = await store.person_history(zz.person.psn_no)
    ledger_before = await store.settlements(limit=1_000_000, psn_no=zz.person.psn_no)
    archived_before = await archived_places(store)
    request = tmp_path / "request.json"
    request.write_bytes(orjson.dumps({**orjson.loads(encode(third)), "request_id": f"window-{tag}"}))
    asked = await command(live_system, "presettle", str(request), "--via-topic", "--format", "json", "--timeout", "120")
    assert asked.exit_code == 0, asked.output
    assert (
        "unsigned requests" in asked.stderr
    )  # the shared system accepts them (development); a hospital signs with --key
    reply = orjson.loads(asked.stdout)
    assert reply["request_id"] == f"window-{tag}" and reply["error"] is None
    assert Decimal(reply["setlinfo"]["fund_pay_sumamt"]) == total(
        Decimal(d["fund_payamt"]) for d in reply["setldetail"]
    )
    # the worker has answered: it recorded nothing while it did (what it might have sent on, the claim
    # published below finds: it would have been received before it)
    assert await store.person_history(zz.person.psn_no) == history
    assert await store.settlements(limit=1_000_000, psn_no=zz.person.psn_no) == ledger_before
    direct = await command(live_system, "presettle", str(request), "--format", "json")
    assert orjson.loads(direct.output)["settlement"]["payments"] == reply["settlement"]["payments"]
    await publish(live_system.kafka, DISCHARGED, [encode(third)], DischargeClaim)
    made = await wait_for(store, {f"{third.key}/settlement", *(e["settlement_id"] for e in reply["effects"])})
    settled = made[f"{third.key}/settlement"]
    assert [(line["payer"], line["amount"]) for line in reply["settlement"]["payments"]] == [
        (line.payer.value, f"{line.amount:.2f}") for line in settled.payments
    ]
    for effect in reply["effects"]:
        assert Decimal(effect["fund_pay_sumamt"]) == made[effect["settlement_id"]].fund_pay_sumamt
    archived = await archived_of(store, zz.person.psn_no, archived_before)
    assert [(event["claim_id"], outcome) for event, outcome in archived] == [
        (third.claim_id, "accepted")
    ]  # the claim once
    # and nothing more: the person's next claim (another year: it changes nothing of 2018), recorded after
    # everything the claim made
    later = DischargeClaim.model_validate(
        {
            **orjson.loads(encode(third)),
            "claim_id": third.claim_id + "-2019",
            "begndate": "2019-06-01",
            "enddate": "2019-06-01",
        }
    )
    await publish(live_system.kafka, DISCHARGED, [encode(later)], DischargeClaim)
    await wait_for(store, {f"{later.key}/settlement"})
    after = {r.settlement_id for _, r in await store.settlements(limit=1_000_000, psn_no=zz.person.psn_no)}
    assert after - {r.settlement_id for _, r in ledger_before} == {
        f"{third.key}/settlement",
        f"{later.key}/settlement",
        *(e["settlement_id"] for e in reply["effects"]),
    }
    assert await store.check_ledger() == []
