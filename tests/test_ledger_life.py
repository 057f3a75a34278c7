"""The ledger's whole life, pure (policies/ledger.py): each kind of input worked by hand on the real
policies, then properties over random orders of claims, repeats, corrections, cancellations
(before and after their claim), grants and revocations reaching back, and year-end closes."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings, strategies as st

from policies.ledger import nets_of, replay, truth
from policies.received import CancellationReceived, ChangeReceived, ClaimReceived, CloseReceived, first_seqs, key_of
from schemas.events import CategoryHeld, ClaimCancellation, DischargeClaim, EligibilityChange, YearEndClose

from .shared_cases import CASES_DIR, load_case

D = Decimal
NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)


def grant(
    seq: int, psn_no: str, code: str, start: str, end: str | None = None, event_id: str | None = None
) -> ChangeReceived:
    held = CategoryHeld(
        code=code, valid_from=date.fromisoformat(start), valid_to=date.fromisoformat(end) if end else None
    )
    return ChangeReceived(
        seq,
        EligibilityChange.grant_of(
            psn_no, held, event_id or f"grant-{seq}", datetime(2017, 1, 1, tzinfo=timezone.utc) if seq < 10 else NOW
        ),
    )


def revoke(seq: int, psn_no: str, code: str, start: str, event_id: str) -> ChangeReceived:
    return ChangeReceived(
        seq,
        EligibilityChange(
            event_id=event_id,
            psn_no=psn_no,
            category=code,
            action="revoke",
            valid_from=start,
            authority="civil_affairs",
            recorded_at=NOW,
        ),
    )


def cancel(seq: int, claim: DischargeClaim, event_id: str, reason: str = "billed in error") -> CancellationReceived:
    return CancellationReceived(
        seq,
        ClaimCancellation(
            event_id=event_id, claim_id=claim.claim_id, psn_no=claim.psn_no, reason=reason, cancelled_at=NOW
        ),
    )


def close(seq: int, region: str, year: int, event_id: str = "close") -> CloseReceived:
    return CloseReceived(seq, YearEndClose(event_id=event_id, region=region, year=year, closed_at=NOW))


def stay(claim_id: str, psn_no: str, insured: str, day: str, inscp: str, level: str = "1", **fields) -> DischargeClaim:
    values = dict(
        claim_id=claim_id,
        psn_no=psn_no,
        insutype="390",
        insuplc_admdvs=insured,
        mdtrtarea_admvs=insured,
        med_type="21",
        hosp_lv=level,
        referral=False,
        begndate=day,
        enddate=day,
        dise_codg="K35.8",
        medfee_sumamt=inscp,
        fulamt_ownpay_amt="0",
        overlmt_selfpay="0",
        preselfpay_amt="0",
        inscp_scp_amt=inscp,
    )
    return DischargeClaim(**{**values, **fields})


def paid(record) -> dict[str, Decimal]:
    return {line.payer.value: line.amount for line in record.payments if line.amount}


def by_id(records) -> dict[str, object]:
    return {r.settlement_id: r for r in records}


def case_inputs(name: str):
    case = load_case(CASES_DIR / f"{name}.json")
    grants = [
        ChangeReceived(
            i + 1,
            EligibilityChange.grant_of(
                case.person.psn_no, CategoryHeld(code=c.code, valid_from=c.valid_from, valid_to=c.valid_to), f"g{i}"
            ),
        )
        for i, c in enumerate(case.person.categories)
    ]
    return grants, [ClaimReceived(10 + i, claim) for i, claim in enumerate(case.claims)]


# --- year-end close (Zhengzhou, seed 000 (六)) ----------------------------------------------------------


def test_the_close_pays_the_deferred_assistance_once_and_a_later_stay_adjusts_it():
    grants, (a, b, c) = case_inputs("zhengzhou-dibao-deferred-then-paid")
    later = ClaimReceived(30, c.claim)  # received after the close
    records = replay(
        [*grants, a, b, close(20, "zhengzhou", 2018, "close-2018"), close(21, "zhengzhou", 2018, "again"), later], NOW
    )
    got = by_id(records)
    # ZZ-1a, ZZ-1b: basic only, assistance deferred (the year's OOP after basic 1,680 < 3,000)
    assert paid(got["ZZ-1a/settlement"]) == {"basic": D("2160.00")}
    assert paid(got["ZZ-1b/settlement"]) == {"basic": D("2960.00")}
    # the close: F(1,680) = 70% × (1,680 − 500) = 826.00 − 0 paid, to the person
    close_record = got["year-end/zhengzhou/2018/P009/year_end"]
    assert (close_record.kind, paid(close_record), close_record.psn_part_amt) == (
        "year_end",
        {"assistance": D("826.00")},
        D("-826.00"),
    )
    assert close_record.reason == "year-end close close-2018 of zhengzhou 2018"
    # closing again changes nothing: no record names "again"
    assert not [r for r in records if "again" in r.settlement_id]
    # ZZ-1c, in the closed year, is settled as usual (the shared case's figures) ...
    assert paid(got["ZZ-1c/settlement"]) == {
        "basic": D("51350.00"),
        "critical": D("7665.00"),
        "supplementary": D("12765.00"),
        "assistance": D("6580.00"),
    }
    # ... and pays the deferred stays' share (F(9,900) − 0 = 6,580), so the close is adjusted by −826.00
    adjusted = got["year-end/zhengzhou/2018/P009/adjustment/claim/ZZ-1c"]
    assert (adjusted.kind, paid(adjusted)) == ("adjustment", {"assistance": D("-826.00")})


def test_cancelling_every_claim_of_a_closed_year_recovers_the_close():
    grants, (a, b, _) = case_inputs("zhengzhou-dibao-deferred-then-paid")
    records = replay(
        [*grants, a, b, close(20, "zhengzhou", 2018), cancel(30, a.claim, "xa"), cancel(31, b.claim, "xb")], NOW
    )
    got = by_id(records)
    # the close paid 826.00 on ZZ-1a and ZZ-1b; without ZZ-1a it is 70% × (1,240 − 500) = 518.00 (−308.00);
    # without either, nothing (−518.00): the year-end entry stays, recovered
    assert paid(got["year-end/zhengzhou/2018/P009/adjustment/cancellation/xa"]) == {"assistance": D("-308.00")}
    assert paid(got["year-end/zhengzhou/2018/P009/adjustment/cancellation/xb"]) == {"assistance": D("-518.00")}


def test_a_close_before_any_deferral_records_nothing():
    grants, (a, b, c) = case_inputs("zhengzhou-dibao-deferred-then-paid")
    records = replay([*grants, a, b, c, close(30, "zhengzhou", 2018)], NOW)
    # ZZ-1c ended the deferral: F(9,900) − 6,580 paid = 0: no year_end record
    assert [r.kind for r in records] == ["settlement"] * 3


def test_the_close_takes_the_tier_of_the_categories_that_counted_for_the_covered_stays():
    """PARAMETERS.md, Year-end close (clarified, issue 29 item 6): registered poor all year, 特困 from
    May; both stays (which assistance covers) are before May, and a general outpatient visit in June
    (which assistance does not cover) is the only claim 特困 counted for. The close pays at the
    registered-poor rates, not at 特困's 100%."""
    psn, place = "P-YE6", "410102"
    a = stay("YE6-a", psn, place, "2018-02-01", "7972.50", level="2")
    b = stay("YE6-b", psn, place, "2018-03-01", "10799.85", level="2")
    visit = stay("YE6-c", psn, place, "2018-06-01", "100.00", level="1", med_type="11")
    records = replay(
        [
            grant(1, psn, "poverty_registered", "2018-01-01"),
            grant(2, psn, "tekun", "2018-05-01"),
            ClaimReceived(10, a),
            ClaimReceived(11, b),
            ClaimReceived(12, visit),
            close(20, "zhengzhou", 2018),
        ],
        NOW,
    )
    got = by_id(records)
    # YE6-a, level 2: basic 80% × (7,972.50 − 500) = 5,978.00; after basic 1,994.50 < 3,000: assistance waits
    assert paid(got["YE6-a/settlement"]) == {"basic": D("5978.00")}
    # YE6-b: basic 80% × (10,799.85 − 500) = 8,239.88, after basic 2,559.97; the year's 4,554.47 is over 3,000:
    # supplementary 30% × 1,554.47 = 466.34; assistance's year base 1,994.50 + 2,093.63 = 4,088.13,
    # F = 70% × 3,588.13 = 2,511.69, but never more than the stay's remaining 2,093.63
    assert paid(got["YE6-b/settlement"]) == {
        "basic": D("8239.88"),
        "supplementary": D("466.34"),
        "assistance": D("2093.63"),
    }
    assert paid(got["YE6-c/settlement"]) == {"basic": D("50.00")}  # general outpatient: basic only
    # the close at the registered-poor rates: 70% × (4,088.13 − 500) − 2,093.63 = 418.06 (特困's 100% would be
    # 4,088.13 − 2,093.63 = 1,994.50: 特困 counted for no stay assistance covers)
    year_end = got[f"year-end/zhengzhou/2018/{psn}/year_end"]
    assert paid(year_end) == {"assistance": D("418.06")}
    assert year_end.payments[0].applied == "poverty_registered"


# --- a year that changes after the fact ----------------------------------------------------------------


def test_taizhou_reaching_the_line_settles_the_earlier_stay_again():
    person = [grant(1, "PTZ", "low_income_serious_illness", "2018-01-01")]
    a = ClaimReceived(10, stay("TZ-A", "PTZ", "321202", "2018-03-01", "3000.00"))
    b = ClaimReceived(11, stay("TZ-B", "PTZ", "321202", "2018-06-01", "100000.00", level="3"))
    got = by_id(replay([*person, a, b], NOW))
    # A: basic 90% × 2,800 = 2,520; left 480; below the qualifying 10,000: assistance 0
    assert paid(got["TZ-A/settlement"]) == {"basic": D("2520.00")}
    # B: basic 65% × 99,000 = 64,350; critical tilt 60% × (36,130 − 10,000) = 15,678; assistance: the year
    #    reaches 10,000 (480 → 20,452): 70% × 19,972 = 13,980.40 on its own base
    assert paid(got["TZ-B/settlement"]) == {
        "basic": D("64350.00"),
        "critical": D("15678.00"),
        "assistance": D("13980.40"),
    }
    # ... and A is owed 70% × 480 = 336.00, recorded as an adjustment caused by B
    again = got["TZ-A/adjustment/claim/TZ-B"]
    assert (paid(again), again.psn_part_amt) == ({"assistance": D("336.00")}, D("-336.00"))
    assert again.reason.startswith("claim TZ-B")


def test_zhangye_a_grant_on_application_reaches_back_twelve_months():
    _, (a, b) = case_inputs("zhangye-dibao-edge-two-stays")
    late_grant = grant(30, "P002", "dibao_edge", "2022-11-01", event_id="edge-2022-11")
    got = by_id(replay([a, b, late_grant], NOW))
    # without a category the stays get insurance only (the shared case's insurance figures) ...
    assert paid(got["ZY-2b/settlement"]) == {"basic": D("16250.00"), "critical": D("4050.00")}
    # ... then the grant covers costs of the 12 months before 2022-11-01: ZY-2b gets the shared case's 3,420.00
    assert paid(got["ZY-2b/adjustment/eligibility/civil_affairs/edge-2022-11"]) == {"assistance": D("3420.00")}
    assert (
        "ZY-2a/adjustment/eligibility/civil_affairs/edge-2022-11" not in got
    )  # its assistance is 0 either way (below the 2,000 deductible)


def test_a_revocation_reaching_back_recovers_what_was_paid_on_its_grounds():
    grants, (a, b) = case_inputs("guangan-category-change")
    records = replay([*grants, a, b, revoke(30, "P003", "dibao", "2018-05-01", "dibao-revoked")], NOW)
    got = by_id(records)
    assert paid(got["GA-2b/settlement"]) == {"basic": D("16020.00"), "assistance": D("1386.00")}
    recovered = got["GA-2b/adjustment/eligibility/civil_affairs/dibao-revoked"]
    # 追回: assistance −1,386.00, and the person's share rises by as much
    assert (paid(recovered), recovered.psn_part_amt, recovered.medfee_sumamt) == (
        {"assistance": D("-1386.00")},
        D("1386.00"),
        D("0.00"),
    )


def test_a_cancellation_reverses_the_claim_and_settles_the_later_ones_again():
    grants, (a, b, c) = case_inputs("zhengzhou-dibao-deferred-then-paid")
    x = cancel(40, b.claim, "cancel-1b", "duplicate bill")
    got = by_id(replay([*grants, a, b, c, x, cancel(41, b.claim, "cancel-1b-again")], NOW))
    reversal = got["ZZ-1b/reversal/cancellation/cancel-1b"]
    assert (reversal.kind, paid(reversal), reversal.medfee_sumamt) == (
        "reversal",
        {"basic": D("-2960.00")},
        D("-5000.00"),
    )
    assert reversal.reason == "cancellation cancel-1b of claim ZZ-1b: duplicate bill"
    # ZZ-1c's yearly base before it falls by 1,240: critical 50% × (29,090 − 15,000) = 7,045 (−620),
    # supplementary 30% × 2,000 + 40% × 5,000 + 50% × 19,090 = 12,145 (−620); assistance F(9,900) unchanged
    assert paid(got["ZZ-1c/adjustment/cancellation/cancel-1b"]) == {
        "critical": D("-620.00"),
        "supplementary": D("-620.00"),
    }
    # cancelling again changes nothing
    assert not [k for k in got if "again" in k]


def test_a_cancellation_before_its_claim_waits_and_reverses_it_when_it_arrives():
    grants, (a, b, c) = case_inputs("zhengzhou-dibao-deferred-then-paid")
    early = cancel(5, b.claim, "early")
    inputs = [*grants, early, a, b, c]
    assert key_of(early, first_seqs(inputs)) == (11, 1)  # right after ZZ-1b
    records = replay(inputs, NOW)
    assert [r.settlement_id for r in records] == [
        "ZZ-1a/settlement",
        "ZZ-1b/settlement",
        "ZZ-1b/reversal/cancellation/early",
        "ZZ-1c/settlement",
    ]
    # ZZ-1c then settles without ZZ-1b in its year: critical 7,045.00 as in the cancellation above
    assert paid(by_id(records)["ZZ-1c/settlement"])["critical"] == D("7045.00")


def test_a_corrected_bill_adjusts_its_claim_and_the_later_ones():
    grants, (a, b, c) = case_inputs("zhengzhou-dibao-deferred-then-paid")
    corrected = ClaimReceived(
        50, a.claim.model_copy(update={"revision": 1, "medfee_sumamt": D("3500.00"), "inscp_scp_amt": D("3100.00")})
    )
    got = by_id(replay([*grants, a, b, c, corrected], NOW))
    fix = got["ZZ-1a/adjustment/claim/ZZ-1a@1"]
    # basic 90% × (3,100 − 200) = 2,610: +450.00 on a bill 500.00 higher; the person +50.00
    assert (fix.medfee_sumamt, paid(fix), fix.psn_part_amt, fix.revision) == (
        D("500.00"),
        {"basic": D("450.00")},
        D("50.00"),
        1,
    )
    assert fix.reason == "corrected bill: claim ZZ-1a revision 1"
    # ZZ-1c's yearly base before it rises by 50 (1,680 → 1,730): critical 50% × (30,380 − 15,000) = 7,690 and
    # supplementary +25.00 each; assistance F(9,900) − 0 = 6,580 unchanged (its year's base is still 9,900)
    assert paid(got["ZZ-1c/adjustment/claim/ZZ-1a@1"]) == {"critical": D("25.00"), "supplementary": D("25.00")}


def test_a_corrected_bill_that_moves_a_stay_to_another_year_leaves_the_first_year():
    grants, (a, _, _) = case_inputs("zhengzhou-dibao-deferred-then-paid")
    moved = ClaimReceived(
        50, a.claim.model_copy(update={"revision": 1, "begndate": date(2019, 1, 2), "enddate": date(2019, 1, 2)})
    )
    got = by_id(replay([*grants, a, moved], NOW))
    assert paid(got["ZZ-1a/adjustment/claim/ZZ-1a@1@2018"]) == {"basic": D("-2160.00")}
    assert got["ZZ-1a/adjustment/claim/ZZ-1a@1@2018"].year == 2018
    assert paid(got["ZZ-1a/adjustment/claim/ZZ-1a@1"]) == {"basic": D("2160.00")}
    assert got["ZZ-1a/adjustment/claim/ZZ-1a@1"].year == 2019


# --- properties over random histories ------------------------------------------------------------------

REGIONS = {  # insured place, policy years, categories the region names
    "zhengzhou": ("410102", (2018, 2019), ["dibao", "tekun", "poverty_registered"]),
    "guangan": ("511602", (2018, 2019), ["dibao", "poverty_registered", "tekun", "severe_disability"]),
    "zhangye": ("620702", (2023, 2024), ["dibao_rural_1", "dibao_edge", "illness_impoverished", "orphan"]),
    "taizhou": ("321202", (2018, 2019), ["low_income_serious_illness", "dibao", "tekun"]),
    "jining": ("370802", (2021, 2022), ["tekun", "dibao_edge", "illness_impoverished"]),
}


@st.composite
def histories(draw):
    region = draw(st.sampled_from(sorted(REGIONS)))
    insured, years, categories = REGIONS[region]
    psn = "PX"
    inputs, seq = [], iter(range(1, 10_000))
    claims: list[DischargeClaim] = []
    for n in range(draw(st.integers(1, 6))):
        year = draw(st.sampled_from(years))
        day = date(year, draw(st.integers(1, 12)), draw(st.integers(1, 28)))
        inscp = draw(st.sampled_from(["800.00", "2600.00", "4200.00", "9000.00", "30000.00", "80000.00", "150000.00"]))
        claims.append(
            stay(
                f"C{n}",
                psn,
                insured,
                day.isoformat(),
                inscp,
                level=draw(st.sampled_from("123")),
                referral=draw(st.booleans()),
            )
        )
    events = [("claim", c) for c in claims]
    for c in claims:
        if draw(st.integers(0, 4)) == 0:
            events.append(
                (
                    "correct",
                    c.model_copy(
                        update={
                            "revision": 1,
                            "inscp_scp_amt": c.inscp_scp_amt + 1000,
                            "medfee_sumamt": c.medfee_sumamt + 1000,
                        }
                    ),
                )
            )
        if draw(st.integers(0, 4)) == 0:
            events.append(("cancel", c))
    for _ in range(draw(st.integers(0, 3))):
        events.append(
            (
                "grant",
                (draw(st.sampled_from(categories)), date(draw(st.sampled_from(years)), draw(st.integers(1, 12)), 1)),
            )
        )
    for _ in range(draw(st.integers(0, 2))):
        events.append(
            (
                "revoke",
                (draw(st.sampled_from(categories)), date(draw(st.sampled_from(years)), draw(st.integers(1, 12)), 1)),
            )
        )
    if draw(st.booleans()):
        events.append(("close", draw(st.sampled_from(years))))
    order = draw(st.permutations(events))
    for index, (kind, what) in enumerate(order):
        n = next(seq)
        if kind == "claim":
            inputs.append(ClaimReceived(n, what))
        elif kind == "correct":
            if any(isinstance(i, ClaimReceived) and i.claim.claim_id == what.claim_id for i in inputs):
                inputs.append(ClaimReceived(n, what))  # a correction of a claim not yet received is rejected at intake
        elif kind == "cancel":
            inputs.append(cancel(n, what, f"X{index}"))
        elif kind == "grant":
            inputs.append(grant(n, psn, what[0], what[1].isoformat(), event_id=f"G{index}"))
        elif kind == "revoke":
            inputs.append(revoke(n, psn, what[0], what[1].isoformat(), f"R{index}"))
        else:
            inputs.append(close(n, region, what, f"Y{index}"))
    return inputs


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_every_claim_nets_to_the_year_as_known_now(inputs):
    records = replay(inputs, NOW)
    first = first_seqs(inputs)
    final = truth(inputs, max(key_of(i, first) for i in inputs))
    nets = nets_of(records)
    for key in set(final.entries) | set(nets):
        entry, net = final.entries.get(key), nets.get(key)
        want = {line.payer: line.amount for line in entry.lines if line.amount} if entry else {}
        got = {payer: amount for payer, amount in (net.by_payer.items() if net else ()) if amount}
        assert got == want, key
        assert (net.medfee_sumamt if net else 0) == (entry.medfee_sumamt if entry else 0), key
    # every record balances to the fen, ids are unique, one settlement per claim at most
    ids = [r.settlement_id for r in records]
    assert len(ids) == len(set(ids))
    settled = [r.claim_id for r in records if r.kind == "settlement"]
    assert len(settled) == len(set(settled))
    for record in records:
        assert record.fund_pay_sumamt + record.psn_part_amt == record.medfee_sumamt
    # the year totals equal the sum of their lines, account by account
    lines: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for record in records:
        for line in record.payments:
            if line.account:
                lines[(record.year, line.account)] += line.amount
    for year, totals in final.totals.items():
        for account, account_totals in totals.items():
            assert lines.get((year, account), Decimal(0)) == account_totals.paid, (year, account)
    # the same inputs make the same records
    assert replay(inputs, NOW) == records
    # a cancelled claim nets to zero
    for item in inputs:
        if isinstance(item, CancellationReceived) and item.cancellation.claim_id in first:
            for (entry_id, _), net in nets.items():
                if entry_id == item.cancellation.claim_id:
                    assert not any(net.by_payer.values()) and net.medfee_sumamt == 0
    # a record says why, unless it is a claim's first settlement
    assert all((r.reason is None) == (r.kind == "settlement") for r in records)
