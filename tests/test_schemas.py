"""Bad inputs on the wire: each kind is rejected, and the error names the field and the problem.

Also the money helpers: round_to_fen (half up, once) and format_yuan.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, Decimal as D

import pytest
from hypothesis import given, strategies as st
from pydantic import BaseModel, ValidationError

from schemas.codes import Authority, Category
from schemas.events import DischargeClaim, EligibilityChange
from schemas.money import FEN, Money, Rate, format_exact, format_rate, format_yuan, round_to_fen
from schemas.totals import AccountTotals
from schemas.trusted import _plain_fields, built

# ---------------------------------------------------------------------------------------------
# helpers

GOOD_CLAIM = {
    "claim_id": "C-1",
    "psn_no": "P-1",
    "insutype": "390",
    "insuplc_admdvs": "511602",
    "mdtrtarea_admvs": "511602",
    "med_type": "21",
    "hosp_lv": "2",
    "referral": False,
    "begndate": "2024-03-01",
    "enddate": "2024-03-10",
    "dise_codg": "C34.9",
    # 100.00 + 0.00 + 50.00 + 850.00 = 1000.00
    "medfee_sumamt": "1000.00",
    "fulamt_ownpay_amt": "100.00",
    "overlmt_selfpay": "0.00",
    "preselfpay_amt": "50.00",
    "inscp_scp_amt": "850.00",
}

GOOD_CHANGE = {
    "event_id": "E-1",
    "psn_no": "P-1",
    "category": "tekun",
    "action": "grant",
    "valid_from": "2024-01-01",
    "valid_to": "2024-12-31",
    "authority": "civil_affairs",
    "recorded_at": "2024-01-02T08:00:00+08:00",
}

MISSING = object()


def _with(base: dict, **changes) -> dict:
    data = dict(base)
    for key, value in changes.items():
        if value is MISSING:
            data.pop(key)
        else:
            data[key] = value
    return data


def claim_errors(**changes) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        DischargeClaim.model_validate(_with(GOOD_CLAIM, **changes))
    return info.value.errors(include_url=False)


def change_errors(**changes) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        EligibilityChange.model_validate(_with(GOOD_CHANGE, **changes))
    return info.value.errors(include_url=False)


def only_error(errors: list[dict]) -> dict:
    assert len(errors) == 1, errors
    return errors[0]


def assert_field_error(errors: list[dict], field: str, *words: str) -> None:
    """Exactly one error, located at ``field``, whose message contains every one of ``words``."""
    error = only_error(errors)
    assert error["loc"] == (field,), error
    for word in words:
        assert word in error["msg"], (word, error["msg"])


def assert_model_error(errors: list[dict], *words: str) -> None:
    """A cross-field error (located at the model): the message names the fields and the problem."""
    error = only_error(errors)
    assert error["loc"] == (), error
    for word in words:
        assert word in error["msg"], (word, error["msg"])


# ---------------------------------------------------------------------------------------------
# the good inputs are accepted (so that each test below fails for its one reason only)


def test_good_claim_is_accepted():
    claim = DischargeClaim.model_validate(GOOD_CLAIM)
    assert claim.inscp_scp_amt == Decimal("850.00")
    assert claim.year == 2024


def test_good_change_is_accepted():
    change = EligibilityChange.model_validate(GOOD_CHANGE)
    assert change.category is Category.tekun
    assert change.authority is Authority.civil_affairs


def test_claim_accepts_amounts_with_two_one_or_no_decimals():
    claim = DischargeClaim.model_validate(
        _with(GOOD_CLAIM, inscp_scp_amt="850", preselfpay_amt="49.5", fulamt_ownpay_amt="100.50")
    )
    assert (claim.inscp_scp_amt, claim.preselfpay_amt, claim.fulamt_ownpay_amt) == (
        D("850.00"),
        D("49.50"),
        D("100.50"),
    )
    assert str(claim.inscp_scp_amt) == "850.00"  # to the fen, as it is written back


def test_claim_ignores_unknown_fields():
    claim = DischargeClaim.model_validate(_with(GOOD_CLAIM, some_new_field="x"))
    assert not hasattr(claim, "some_new_field")


# ---------------------------------------------------------------------------------------------
# DischargeClaim: amounts


@pytest.mark.parametrize(
    "field",
    ["medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"],
)
def test_claim_negative_amount(field):
    errors = claim_errors(**{field: "-0.01"})
    # the negative amount is the only problem reported (the sum check does not run on bad fields)
    assert_field_error(errors, field, "-0.01", "negative")


def test_claim_more_than_two_decimals():
    errors = claim_errors(inscp_scp_amt="849.995", preselfpay_amt="50.005")
    assert len(errors) == 2, errors
    by_field = {e["loc"]: e["msg"] for e in errors}
    assert "849.995 has more than two decimals" in by_field[("inscp_scp_amt",)]
    assert "50.005 has more than two decimals" in by_field[("preselfpay_amt",)]


def test_claim_python_float_amount():
    errors = claim_errors(medfee_sumamt=1000.0)
    assert_field_error(errors, "medfee_sumamt", "JSON strings", "the number 1000.0")


@pytest.mark.parametrize("number", [0, 1000, True])
def test_claim_json_integer_amount_is_refused(number):
    # exact or not, a number is not how the contract writes an amount: one rule, no guessing
    errors = claim_errors(overlmt_selfpay=number)
    assert_field_error(errors, "overlmt_selfpay", "JSON strings", f"the number {number!r}", '"1234.50"')


def test_claim_json_float_amount():
    # on the wire: a JSON number with a fraction arrives as a float and is refused
    text = json.dumps(_with(GOOD_CLAIM, inscp_scp_amt=850.5, fulamt_ownpay_amt="99.50"))
    with pytest.raises(ValidationError) as info:
        DischargeClaim.model_validate_json(text)
    assert_field_error(info.value.errors(include_url=False), "inscp_scp_amt", "JSON strings", "850.5")


def test_claim_amount_not_a_number():
    errors = claim_errors(overlmt_selfpay="12,30")
    assert_field_error(errors, "overlmt_selfpay", "'12,30' is not an amount")


def test_claim_amount_not_finite():
    errors = claim_errors(overlmt_selfpay="NaN")
    assert_field_error(errors, "overlmt_selfpay", "not a finite amount")


def test_claim_boolean_amount():
    errors = claim_errors(overlmt_selfpay=True)
    assert_field_error(errors, "overlmt_selfpay", "JSON strings")


def test_claim_parts_do_not_add_up():
    # 100.00 + 0.00 + 50.00 + 840.00 = 990.00, not 1000.00
    errors = claim_errors(inscp_scp_amt="840.00")
    assert_model_error(
        errors,
        "do not add up to medfee_sumamt",
        "fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt = 990.00",
        "medfee_sumamt = 1000.00",
    )


def test_claim_parts_off_by_one_fen():
    # 100.00 + 0.00 + 50.00 + 850.01 = 1000.01
    errors = claim_errors(inscp_scp_amt="850.01")
    assert_model_error(errors, "do not add up", "= 1000.01", "medfee_sumamt = 1000.00")


# ---------------------------------------------------------------------------------------------
# DischargeClaim: dates


def test_claim_enddate_before_begndate():
    errors = claim_errors(begndate="2024-03-10", enddate="2024-03-09")
    assert_model_error(errors, "enddate 2024-03-09 is before begndate 2024-03-10")


def test_claim_same_day_visit_is_fine():
    claim = DischargeClaim.model_validate(_with(GOOD_CLAIM, begndate="2024-03-10", enddate="2024-03-10"))
    assert claim.begndate == claim.enddate == date(2024, 3, 10)


def test_claim_impossible_date():
    errors = claim_errors(enddate="2024-02-30")
    error = only_error(errors)
    assert error["loc"] == ("enddate",)
    assert "date" in error["msg"]


# ---------------------------------------------------------------------------------------------
# DischargeClaim: codes


def test_claim_unknown_med_type():
    errors = claim_errors(med_type="99")
    assert_field_error(errors, "med_type", "'21', '14' or '11'")


def test_claim_unknown_insutype():
    errors = claim_errors(insutype="320")
    assert_field_error(errors, "insutype", "'390' or '310'")


def test_claim_unknown_hospital_level():
    errors = claim_errors(hosp_lv="4")
    assert_field_error(errors, "hosp_lv", "'1', '2' or '3'")


@pytest.mark.parametrize("field", ["insuplc_admdvs", "mdtrtarea_admvs"])
@pytest.mark.parametrize("code", ["51160", "5116021", "51160a", "", " 511602"])
def test_claim_division_code_not_six_digits(field, code):
    errors = claim_errors(**{field: code})
    assert_field_error(errors, field, "pattern", r"\d{6}")


@pytest.mark.parametrize("code", ["c34.9", "C3", "34.9", "C34.", "C34.12345", "CC34"])
def test_claim_bad_icd10(code):
    errors = claim_errors(dise_codg=code)
    assert_field_error(errors, "dise_codg", "pattern")


@pytest.mark.parametrize("code", ["K35", "K35.8", "C34.901", "G63.2*", "A17.0+"])
def test_claim_good_icd10(code):
    assert DischargeClaim.model_validate(_with(GOOD_CLAIM, dise_codg=code)).dise_codg == code


def test_claim_age_out_of_range():
    errors = claim_errors(age=-1)
    assert_field_error(errors, "age", "greater than or equal to 0")
    errors = claim_errors(age=151)
    assert_field_error(errors, "age", "less than or equal to 150")


# ---------------------------------------------------------------------------------------------
# DischargeClaim: missing fields


@pytest.mark.parametrize(
    "field",
    [
        "claim_id",
        "psn_no",
        "insutype",
        "insuplc_admdvs",
        "mdtrtarea_admvs",
        "med_type",
        "hosp_lv",
        "referral",
        "begndate",
        "enddate",
        "dise_codg",
        "medfee_sumamt",
        "fulamt_ownpay_amt",
        "overlmt_selfpay",
        "preselfpay_amt",
        "inscp_scp_amt",
    ],
)
def test_claim_missing_field(field):
    errors = claim_errors(**{field: MISSING})
    assert_field_error(errors, field, "Field required")


@pytest.mark.parametrize("field", ["claim_id", "psn_no"])
def test_claim_blank_identifier(field):
    assert_field_error(claim_errors(**{field: "   "}), field, "holds a space at position 1", "A–Z a–z 0–9 . _ : -")
    assert_field_error(claim_errors(**{field: ""}), field, "is empty", "1 to 64 characters")


def test_claim_optional_fields_default():
    data = _with(GOOD_CLAIM)
    claim = DischargeClaim.model_validate(data)
    assert claim.emergency_unable_to_pay is False
    assert claim.age is None


# ---------------------------------------------------------------------------------------------
# EligibilityChange


def test_change_unknown_category():
    errors = change_errors(category="poor")
    assert_field_error(errors, "category", "Input should be", "'tekun'", "'dibao_edge'")


def test_change_group_pattern_is_not_a_category():
    # "dibao*" is a policy-file group name, never a category an authority grants
    errors = change_errors(category="dibao*")
    assert_field_error(errors, "category", "Input should be")


def test_change_unknown_authority():
    errors = change_errors(authority="police")
    assert_field_error(errors, "authority", "'civil_affairs'", "'medical_insurance'")


def test_change_unknown_action():
    errors = change_errors(action="suspend")
    assert_field_error(errors, "action", "'grant' or 'revoke'")


def test_change_valid_to_before_valid_from():
    errors = change_errors(valid_from="2024-06-01", valid_to="2024-05-31")
    assert_model_error(errors, "valid_to 2024-05-31 is before valid_from 2024-06-01")


def test_change_open_ended_is_fine():
    change = EligibilityChange.model_validate(_with(GOOD_CHANGE, valid_to=None))
    assert change.valid_to is None


@pytest.mark.parametrize(
    "field", ["event_id", "psn_no", "category", "action", "valid_from", "authority", "recorded_at"]
)
def test_change_missing_field(field):
    errors = change_errors(**{field: MISSING})
    assert_field_error(errors, field, "Field required")


def test_change_bad_timestamp():
    errors = change_errors(recorded_at="yesterday")
    error = only_error(errors)
    assert error["loc"] == ("recorded_at",)
    assert "datetime" in error["msg"]


def test_change_blank_event_id():
    errors = change_errors(event_id="")
    assert_field_error(errors, "event_id", "is empty")


def test_several_problems_all_reported():
    errors = change_errors(category="poor", authority="police", event_id=MISSING)
    assert {e["loc"] for e in errors} == {("category",), ("authority",), ("event_id",)}


# ---------------------------------------------------------------------------------------------
# Money and Rate


@pytest.mark.parametrize(
    "value, rounded",
    [
        ("0.005", "0.01"),  # half up, not half even
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # half even would give 0.02
        ("0.0049999", "0.00"),
        ("1234.565", "1234.57"),
        ("1234.5649", "1234.56"),
        ("2.675", "2.68"),  # exact decimal, unlike the float 2.675
        ("-0.005", "-0.01"),  # half away from zero for a negative adjustment
        ("7", "7.00"),
        ("99.999", "100.00"),
    ],
)
def test_round_to_fen_half_up(value, rounded):
    result = round_to_fen(Decimal(value))
    assert result == Decimal(rounded)
    assert str(result) == rounded  # exactly two places


def test_round_to_fen_of_a_computed_payment():
    # 55% × 1,234.57 = 679.0135 → 679.01;  65% × 0.07 = 0.0455 → 0.05
    assert round_to_fen(Decimal("0.55") * Decimal("1234.57")) == Decimal("679.01")
    assert round_to_fen(Decimal("0.65") * Decimal("0.07")) == Decimal("0.05")


@pytest.mark.parametrize(
    "value, text",
    [
        ("1234.5", "1234.50"),
        ("0", "0.00"),
        ("1E+3", "1000.00"),  # never scientific notation on the wire
        ("0.10", "0.10"),
        ("-12.3", "-12.30"),
        ("300000", "300000.00"),
    ],
)
def test_format_yuan(value, text):
    assert format_yuan(Decimal(value)) == text


@pytest.mark.parametrize(
    "value",
    [
        "0.00",
        "-0.00",
        "0.05",
        "-12.30",
        "1234.56",
        "999999999999.99",
        "0.005",
        "1.2E+3",
        "1.23E+5",
        "5E+2",
        "1E-7",
        "123.4567",
        "-0.001",
        "12",
        "1.5",
    ],
)
def test_format_yuan_prints_what_two_decimals_print(value):
    assert format_yuan(Decimal(value)) == f"{Decimal(value):.2f}"


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "5",
        "12.0",
        "0.00",
        "-0.00",
        "-0.5",
        "0.75",
        "750.0000",
        "925.927500",
        "123.4550",
        "123.455",
        "-12.5",
        "0.001",
        "-0.0100",
        "0.0455",
        "679.0135",
        "99999999999.999999",
        "1E+3",
        "1.5E+3",
        "1E-7",
        "0E-7",
    ],
)
def test_format_exact_prints_two_places_or_every_place_it_has(value):
    amount = Decimal(value)  # the definition it is read from the digits for
    expected = format_yuan(amount) if amount == amount.quantize(FEN) else f"{amount.normalize():f}"
    assert format_exact(amount) == expected


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_format_exact_is_its_definition_for_any_computed_amount(amount):
    expected = format_yuan(amount) if amount == amount.quantize(FEN) else f"{amount.normalize():f}"
    assert format_exact(amount) == expected


class _Amounts(BaseModel):
    amount: Money
    rate: Rate


def test_money_serialises_as_two_decimal_string():
    model = _Amounts(amount="1234.5", rate="75%")
    assert model.model_dump(mode="json") == {"amount": "1234.50", "rate": "75%"}
    assert model.amount == Decimal("1234.50")


@pytest.mark.parametrize("text, rate", [("75%", "0.75"), ("0.75", "0.75"), ("100%", "1"), ("0%", "0"), ("5%", "0.05")])
def test_rate_accepts_percent_and_fraction(text, rate):
    assert _Amounts(amount="0", rate=text).rate == Decimal(rate)


@pytest.mark.parametrize("text", ["150%", "1.5", "-5%"])
def test_rate_out_of_range(text):
    with pytest.raises(ValidationError) as info:
        _Amounts(amount="0", rate=text)
    assert_field_error(info.value.errors(include_url=False), "rate", "between 0% and 100%", text)


def test_rate_float_refused():
    with pytest.raises(ValidationError) as info:
        _Amounts(amount="0", rate=0.75)
    assert_field_error(info.value.errors(include_url=False), "rate", "not the number 0.75")


def test_rate_not_a_rate():
    with pytest.raises(ValidationError) as info:
        _Amounts(amount="0", rate="most")
    assert_field_error(info.value.errors(include_url=False), "rate", "is not a rate")


def test_format_rate():
    assert format_rate(Decimal("0.75")) == "75%"
    assert format_rate(Decimal("0.055")) == "5.5%"
    assert format_rate(Decimal("1")) == "100%"


def test_a_model_built_from_the_rules_values_is_what_model_construct_builds():
    every = {
        "base": Decimal("10.00"),
        "paid": Decimal("2.50"),
        "paid_by_day": {date(2024, 3, 1): Decimal("2.50")},
        "assisted_visits_by_month": {"2024-03": 1},
    }
    for values in (every, {"paid": Decimal("1.00")}, dict(reversed(every.items()))):  # all, some, out of order
        fast, slow = built(AccountTotals, dict(values)), AccountTotals.model_construct(**values)
        assert (fast.__dict__, list(fast.__dict__), fast.model_fields_set) == (
            slow.__dict__,
            list(slow.__dict__),
            slow.model_fields_set,
        )
        assert (fast.__pydantic_extra__, fast.__pydantic_private__) == (
            slow.__pydantic_extra__,
            slow.__pydantic_private__,
        )
        assert fast.model_dump(mode="json") == slow.model_dump(mode="json")


def test_a_model_with_slots_of_its_own_is_built_by_model_construct():
    class Slotted(AccountTotals):
        __slots__ = ("_note",)

    values = {"base": Decimal("1.00"), "paid": Decimal("0.50"), "paid_by_day": {}, "assisted_visits_by_month": {}}
    assert _plain_fields(Slotted) is None and _plain_fields(AccountTotals) == tuple(
        values
    )  # the slots' setters are BaseModel's
    model = built(Slotted, dict(values))
    assert type(model) is Slotted and model.model_dump() == Slotted.model_construct(**values).model_dump()


def test_claim_version_2_needs_the_hospital():
    assert_model_error(
        claim_errors(schema="claims.discharged/2"), "fixmedins_code", "required from claims.discharged/2"
    )
    claim = DischargeClaim.model_validate(
        _with(
            GOOD_CLAIM, schema="claims.discharged/2", fixmedins_code="H41010200001", fixmedins_name="郑州市第一人民医院"
        )
    )
    assert claim.fixmedins_code == "H41010200001"


def test_claim_version_1_may_leave_the_hospital_out():
    assert DischargeClaim.model_validate(_with(GOOD_CLAIM, schema="claims.discharged/1")).fixmedins_code is None


def test_claim_unknown_schema_version():
    assert_model_error(claim_errors(schema="claims.discharged/9"), "is not known")


def test_claim_revision_is_a_whole_number_from_zero():
    assert DischargeClaim.model_validate(_with(GOOD_CLAIM, revision=2)).revision == 2
    assert_field_error(claim_errors(revision=-1), "revision", "greater than or equal to 0")


# ---------------------------------------------------------------------------------------------
# hostile input: what an attacker can put in an event is refused with a reason, never a crash

from schemas.events import ClaimCancellation, YearEndClose  # noqa: E402
from streams.codecs import MAX_DEPTH, MAX_EVENT_BYTES, BadInput, decode, encode  # noqa: E402

GOOD_CANCELLATION = {
    "event_id": "X-1",
    "claim_id": "C-1",
    "psn_no": "P-1",
    "reason": "billed in error",
    "cancelled_at": "2024-03-11T08:00:00+00:00",
    "fixmedins_code": "H1",
}
GOOD_GRANT = {
    "event_id": "E-1",
    "psn_no": "P-1",
    "category": "dibao",
    "action": "grant",
    "valid_from": "2024-01-01",
    "authority": "civil_affairs",
    "recorded_at": "2024-01-01T09:00:00+00:00",
}
#: every free string field of every input event, with a good event holding it
STRING_FIELDS = [
    *(
        (DischargeClaim, {**GOOD_CLAIM, "fixmedins_code": "H1", "fixmedins_name": "人民医院"}, f)
        for f in ("claim_id", "psn_no", "fixmedins_code", "fixmedins_name")
    ),
    *(
        (ClaimCancellation, GOOD_CANCELLATION, f)
        for f in ("event_id", "claim_id", "psn_no", "reason", "fixmedins_code")
    ),
    *((EligibilityChange, GOOD_GRANT, f) for f in ("event_id", "psn_no")),
    *(
        (
            YearEndClose,
            {"event_id": "Y-1", "region": "zhengzhou", "year": 2018, "closed_at": "2019-01-05T00:00:00+00:00"},
            f,
        )
        for f in ("event_id", "region")
    ),
]
HOSTILE_CHARACTERS = ["\x00", "\x1b[31m", "\u202e", "\u200d", "\ufeff", "\ue000", "\U0010fffd", "\x7f", "\u0085"]


@pytest.mark.parametrize("model, good, field", STRING_FIELDS, ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("hostile", HOSTILE_CHARACTERS, ids=lambda c: f"U+{ord(c[0]):04X}")
def test_control_and_invisible_characters_are_refused_in_every_string_field(model, good, field, hostile):
    decode(model, json.dumps(good).encode())  # the event itself is good
    bad = {**good, field: f"AB{hostile}CD"}
    with pytest.raises(BadInput, match=rf"{field}: holds the character U\+{ord(hostile[0]):04X}"):
        decode(model, json.dumps(bad).encode())


def test_chinese_text_and_ordinary_punctuation_are_accepted():
    claim = decode(
        DischargeClaim, json.dumps({**GOOD_CLAIM, "fixmedins_name": "郑州大学第一附属医院（河医）· 东院"}).encode()
    )
    assert claim.fixmedins_name == "郑州大学第一附属医院（河医）· 东院"


@pytest.mark.parametrize("amount", ["1" + "0" * 40 + ".00", "1e400", "9" * 13, "-1e-400"])
def test_huge_amounts_are_refused_with_a_reason(amount):
    with pytest.raises(BadInput, match="medfee_sumamt"):
        decode(DischargeClaim, json.dumps({**GOOD_CLAIM, "medfee_sumamt": amount}).encode())


def test_a_number_beyond_a_double_is_refused_as_not_json():
    raw = json.dumps(GOOD_CLAIM)[:-1].encode() + b', "age": 1' + b"0" * 400 + b"}"
    with pytest.raises(BadInput, match="not JSON"):
        decode(DischargeClaim, raw)


def test_an_oversize_event_is_refused_before_it_is_parsed():
    raw = json.dumps({**GOOD_CLAIM, "note": "x" * MAX_EVENT_BYTES}).encode()
    with pytest.raises(BadInput, match=f"too large: {len(raw):,} bytes"):
        decode(DischargeClaim, raw)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100, 5_000])
def test_deeply_nested_json_is_refused(depth):
    raw = json.dumps(GOOD_CLAIM)[:-1].encode() + b', "note": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
    with pytest.raises(BadInput, match="nested|depth limit"):
        decode(DischargeClaim, raw)


# ---------------------------------------------------------------------------------------------
# what comes in (issue 27): ids, amounts as written, times with their offset, dates 1900–2100

from pydantic import TypeAdapter  # noqa: E402

from schemas.codes import Identifier  # noqa: E402
from schemas.keys import SigningKey  # noqa: E402
from schemas.money import WireMoney  # noqa: E402
from schemas.nhsa import PresettleRequest  # noqa: E402

GOOD_CLOSE = {"event_id": "Y-1", "region": "zhengzhou", "year": 2018, "recorded_at": "2019-01-05T09:00:00+08:00"}
GOOD_KEY = {
    "key_id": "h1.2026",
    "signer_kind": "hospital",
    "signer": "H1",
    "public_key": "AAAA",
    "valid_from": "2026-01-01T00:00:00+00:00",
}
#: every id that comes in, with a good event holding it
ID_FIELDS = [
    *((DischargeClaim, {**GOOD_CLAIM, "fixmedins_code": "H1"}, f) for f in ("claim_id", "psn_no", "fixmedins_code")),
    (PresettleRequest, {**GOOD_CLAIM, "request_id": "window-7"}, "request_id"),
    *((ClaimCancellation, GOOD_CANCELLATION, f) for f in ("event_id", "claim_id", "psn_no", "fixmedins_code")),
    *((EligibilityChange, GOOD_GRANT, f) for f in ("event_id", "psn_no")),
    *((YearEndClose, GOOD_CLOSE, f) for f in ("event_id", "region")),
    *((SigningKey, GOOD_KEY, f) for f in ("key_id", "signer")),
]
_ID = TypeAdapter(Identifier)


@pytest.mark.parametrize("model, good, field", ID_FIELDS, ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize(
    "bad, words",
    [
        (
            "year-end/zhengzhou/2018/P009",
            "holds '/' at position 9",
        ),  # the ids the system makes hold "/": never one that came in
        ("C 1", "holds a space at position 2"),
        (" C1", "holds a space at position 1"),  # nothing is stripped
        ("病人1", "holds '病' at position 1"),
        ("A" * 65, "is 65 characters long"),
        ("", "is empty"),
    ],
)
def test_every_id_that_comes_in_is_1_to_64_characters_of_the_contracts_alphabet(model, good, field, bad, words):
    model.model_validate(good)  # the event itself is good
    with pytest.raises(ValidationError) as info:
        model.model_validate({**good, field: bad})
    error = only_error(info.value.errors(include_url=False))
    assert error["loc"] == (field,) and words in error["msg"] and "A–Z a–z 0–9 . _ : -" in error["msg"], error


@given(st.text(alphabet="ABCXYZabcxyz0123456789._:-", min_size=1, max_size=64))
def test_any_id_of_the_alphabet_is_accepted_as_written(text):
    assert _ID.validate_python(text) == text


@given(st.text(max_size=32), st.text(max_size=32))
def test_no_id_with_a_slash_is_ever_accepted(before, after):
    with pytest.raises(ValidationError):
        _ID.validate_python(f"{before}/{after}")


_WIRE = TypeAdapter(WireMoney)


@pytest.mark.parametrize(
    "text, words",
    [
        ("1e5", "'1e5' is written with an exponent"),
        ("1E+2", "'1E+2' is written with an exponent"),
        ("+5.00", "'+5.00' has a sign"),
        ("-0.01", "-0.01 is negative"),
        (" 12.00", "' 12.00' holds spaces"),
        ("12.00 ", "'12.00 ' holds spaces"),
        ("1 000.00", "'1 000.00' holds spaces"),
        ("850.000", "850.000 has more than two decimals"),
        ("1,000.00", "'1,000.00' is not an amount"),
        ("1_000", "'1_000' is not an amount"),
        ("١٢٣", "'١٢٣' is not an amount"),  # Arabic-Indic digits: Decimal would read 123
        (".5", "'.5' is not an amount"),
        ("0x10", "'0x10' is not an amount"),
        ("NaN", "'NaN' is not a finite amount"),
        ("Infinity", "'Infinity' is not a finite amount"),
        ("9" * 13, "an amount of 13 digits before the point is too large"),
    ],
)
def test_an_amount_not_written_as_a_plain_decimal_string_is_refused_with_its_reason(text, words):
    errors = claim_errors(fulamt_ownpay_amt=text)
    assert_field_error(errors, "fulamt_ownpay_amt", words)
    assert 'like "1234.50"' in only_error(errors)["msg"] or "negative" in words or "too large" in words


@given(st.decimals(min_value=0, max_value=D("999999999999.99"), places=2))
def test_any_plain_decimal_string_is_read_exactly_and_written_back_the_same(amount):
    text = f"{amount:.2f}"
    assert _WIRE.validate_python(text) == amount
    assert _WIRE.validate_json(f'"{text}"') == amount
    assert _WIRE.dump_json(_WIRE.validate_python(text)) == f'"{text}"'.encode()
    assert _WIRE.validate_python(text.rstrip("0").rstrip(".") or "0") == amount  # "1234.5" and "1234" too


def test_a_decimal_of_our_own_is_accepted_where_the_wire_takes_only_strings():
    # a claim travels as a model: read back from the database, or made again from a request (policies/presettle.py)
    claim = DischargeClaim.model_validate(GOOD_CLAIM)
    assert DischargeClaim.model_validate(claim.model_dump()) == claim
    assert _WIRE.validate_python(D("12.5")) == D("12.50")
    with pytest.raises(ValidationError, match="more than two decimals"):
        _WIRE.validate_python(D("12.505"))


def test_policy_files_may_still_write_amounts_as_numbers():
    assert TypeAdapter(Money).validate_python(30000) == D("30000.00")


@pytest.mark.parametrize(
    "model, good, field",
    [
        (EligibilityChange, GOOD_GRANT, "recorded_at"),
        (ClaimCancellation, GOOD_CANCELLATION, "cancelled_at"),
        (YearEndClose, GOOD_CLOSE, "recorded_at"),
    ],
)
def test_a_timestamp_without_its_offset_is_refused_with_what_to_write(model, good, field):
    with pytest.raises(ValidationError) as info:
        model.model_validate({**good, field: "2021-03-01T10:00:00"})
    error = only_error(info.value.errors(include_url=False))
    assert error["loc"] == (field,)
    assert "2021-03-01T10:00:00 has no offset, so it names no moment" in error["msg"]
    assert '"2021-03-01T10:00:00+08:00"' in error["msg"]
    with pytest.raises(ValidationError, match="write a timestamp in ISO form with its offset"):
        model.model_validate({**good, field: 1614592800})  # (pydantic would read a number as seconds since 1970)


@pytest.mark.parametrize(
    "model, good, field, bad, words",
    [
        (DischargeClaim, GOOD_CLAIM, "begndate", "1021-03-01", "1021-03-01 is before 1900-01-01"),
        (DischargeClaim, GOOD_CLAIM, "enddate", "9999-12-31", "9999-12-31 is after 2100-12-31"),
        (EligibilityChange, GOOD_GRANT, "valid_from", "1899-12-31", "1899-12-31 is before 1900-01-01"),
        (EligibilityChange, GOOD_GRANT, "valid_to", "2101-01-01", "2101-01-01 is after 2100-12-31"),
        (
            EligibilityChange,
            GOOD_GRANT,
            "recorded_at",
            "9999-01-01T00:00:00+00:00",
            "9999-01-01T00:00:00+00:00 is after 2100-12-31",
        ),
        (ClaimCancellation, GOOD_CANCELLATION, "cancelled_at", "1899-12-31T23:00:00+00:00", "is before 1900-01-01"),
        (YearEndClose, GOOD_CLOSE, "recorded_at", "2101-01-01T00:00:00+08:00", "is after 2100-12-31"),
    ],
)
def test_a_date_or_timestamp_before_1900_or_after_2100_is_refused(model, good, field, bad, words):
    with pytest.raises(ValidationError) as info:
        model.model_validate({**good, field: bad})
    error = only_error(info.value.errors(include_url=False))
    assert (
        error["loc"] == (field,)
        and words in error["msg"]
        and "dates before 1900-01-01 or after 2100-12-31" in error["msg"]
    )


def test_the_first_and_last_days_are_accepted():
    assert DischargeClaim.model_validate(
        {**GOOD_CLAIM, "begndate": "1900-01-01", "enddate": "2100-12-31"}
    ).enddate == date(2100, 12, 31)


@pytest.mark.parametrize("bad", ["2024-3-1", "20240301", 20240301, "2024-03-01T00:00:00"])
def test_a_date_is_written_yyyy_mm_dd(bad):
    assert_field_error(claim_errors(begndate=bad), "begndate", "write a date as YYYY-MM-DD")


def test_a_close_reads_recorded_at_and_its_earlier_name_closed_at():
    close = YearEndClose.model_validate(GOOD_CLOSE)
    older = YearEndClose.model_validate(
        {**{k: v for k, v in GOOD_CLOSE.items() if k != "recorded_at"}, "closed_at": GOOD_CLOSE["recorded_at"]}
    )
    assert close == older and close.closed_at == close.recorded_at  # (the store reads close.closed_at)
    sent = json.loads(encode(close))  # as the contract names it
    assert "recorded_at" in sent and "closed_at" not in sent and decode(YearEndClose, encode(close)) == close
    YearEndClose.model_validate({**GOOD_CLOSE, "closed_at": GOOD_CLOSE["recorded_at"]})  # both, the same: fine
    with pytest.raises(ValidationError, match="recorded_at .* and closed_at .* differ"):
        YearEndClose.model_validate({**GOOD_CLOSE, "closed_at": "2019-01-06T09:00:00+08:00"})
    with pytest.raises(ValidationError, match="recorded_at"):
        YearEndClose.model_validate({k: v for k, v in GOOD_CLOSE.items() if k != "recorded_at"})


@pytest.mark.parametrize(
    "model, good",
    [
        (DischargeClaim, GOOD_CLAIM),
        (EligibilityChange, GOOD_GRANT),
        (ClaimCancellation, GOOD_CANCELLATION),
        (YearEndClose, GOOD_CLOSE),
    ],
)
@pytest.mark.parametrize(
    "schema, words",
    [
        ("claims\x00/1", "holds the character U+0000"),
        ("claims.discharged/1\n", "holds the character U+000A"),
        ("claims discharged/1", "is not a schema name"),
        ("claims.discharged", "is not a schema name"),
        ("x" * 60 + "/1", "is not a schema name"),
    ],
)
def test_the_schema_field_is_a_short_name_and_version(model, good, schema, words):
    assert_field_error(_errors_of(model, {**good, "schema": schema}), "schema", words)


def _errors_of(model, data: dict) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return info.value.errors(include_url=False)


#: a good event of each kind that comes in
GOOD_INPUTS = [
    (DischargeClaim, {**GOOD_CLAIM, "fixmedins_code": "H1", "fixmedins_name": "人民医院"}),
    (PresettleRequest, {**GOOD_CLAIM, "request_id": "window-7"}),
    (EligibilityChange, GOOD_GRANT),
    (ClaimCancellation, GOOD_CANCELLATION),
    (YearEndClose, GOOD_CLOSE),
]


@pytest.mark.parametrize(
    "model, good, field",
    [(m, g, f.alias or name) for m, g in GOOD_INPUTS for name, f in m.model_fields.items()],
    ids=lambda v: v if isinstance(v, str) else getattr(v, "__name__", None),
)
def test_no_nul_reaches_the_database_from_any_field_of_any_input(model, good, field):
    # (every field, not only the free text: each refuses a NUL with its own reason, never stores it)
    with pytest.raises(BadInput, match=rf"^(.*; )?{field}: "):
        decode(model, json.dumps({**good, field: "AB\u0000CD"}).encode())
