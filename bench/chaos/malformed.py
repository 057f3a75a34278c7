"""The malformed events of the chaos run: every kind the schemas and intake refuse, each made from a
good event and named with a word its rejection's reason must contain."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import orjson


@dataclass(frozen=True)
class Malformed:
    """A bad event: its kind, its bytes, and a word the rejection's reason must contain."""

    kind: str
    raw: bytes
    expect: str


def money(text: str, delta: str) -> str:
    return f"{Decimal(text) + Decimal(delta):.2f}"


_REQUIRED = [
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
]


def _negative(c: dict, n: int) -> tuple[dict, str]:
    field_ = ["fulamt_ownpay_amt", "preselfpay_amt", "inscp_scp_amt", "medfee_sumamt"][n % 4]
    c[field_] = f"-{Decimal(c[field_]) + Decimal('0.01'):.2f}"
    return c, "negative"


def _three_decimals(c: dict, n: int) -> tuple[dict, str]:
    c["inscp_scp_amt"] = f"{Decimal(c['inscp_scp_amt']):.2f}5"
    return c, "more than two decimals"


def _float_amount(c: dict, n: int) -> tuple[dict, str]:
    c["inscp_scp_amt"] = float(c["inscp_scp_amt"]) + 0.25  # a JSON number with a fraction
    c["medfee_sumamt"] = money(c["medfee_sumamt"], "0.25")
    return c, "JSON strings"


def _parts_off(c: dict, n: int) -> tuple[dict, str]:
    c["medfee_sumamt"] = money(c["medfee_sumamt"], "0.01")
    return c, "do not add up"


def _end_before_begin(c: dict, n: int) -> tuple[dict, str]:
    c["enddate"] = (date.fromisoformat(c["begndate"]) - timedelta(days=1 + n % 3)).isoformat()
    return c, "before begndate"


def _field(name: str, value) -> Callable[[dict, int], tuple[dict, str]]:
    def change(c: dict, n: int) -> tuple[dict, str]:
        c[name] = value(n) if callable(value) else value
        return c, name

    return change


def _missing(c: dict, n: int) -> tuple[dict, str]:
    name = _REQUIRED[n % len(_REQUIRED)]
    del c[name]
    return c, "Field required"


def _no_policy_place(c: dict, n: int) -> tuple[dict, str]:
    c["insuplc_admdvs"] = ["990101", "110105", "440305"][n % 3]
    return c, "no policy for insured place"


def _no_policy_in_force(c: dict, n: int) -> tuple[dict, str]:
    c["begndate"], c["enddate"] = "2009-03-01", "2009-03-04"
    return c, "in force"


def _blank_id(c: dict, n: int) -> tuple[dict, str]:
    c["claim_id"] = "   "
    return c, "holds a space"


def _id_with_a_slash(c: dict, n: int) -> tuple[dict, str]:
    # (the ids the system makes hold "/": year-end/<region>/<year>/<psn_no> must never be a claim's)
    c["claim_id"] = f"year-end/zhangye/2022/{c['psn_no']}" if n % 2 == 0 else f"{c['claim_id']}/adjustment/x"
    return c, "holds '/'"


def _amount_as_written(c: dict, n: int) -> tuple[dict, str]:
    """An amount not written as a plain decimal string: a JSON integer, an exponent, a sign, a space."""
    amount = Decimal(c["overlmt_selfpay"])
    written, word = [
        (int(amount), "JSON strings"),
        (f"{amount:.2E}", "exponent"),
        (f"+{amount:.2f}", "sign"),
        (f" {amount:.2f}", "spaces"),
    ][n % 4]
    c["overlmt_selfpay"] = written
    return c, word


def _date_out_of_range(c: dict, n: int) -> tuple[dict, str]:
    # (a stay from 1021 to 9999: every category held in a thousand years would count)
    c["begndate" if n % 2 == 0 else "enddate"] = "1021-03-01" if n % 2 == 0 else "9999-12-31"
    return c, "dates before 1900-01-01 or after 2100-12-31"


def _schema_not_a_name(c: dict, n: int) -> tuple[dict, str]:
    c["schema"] = ["claims.discharged/2\u0000", "claims discharged", "x" * 80][n % 3]
    return c, "schema"


def _too_long_a_stay(c: dict, n: int) -> tuple[dict, str]:
    c["begndate"] = (date.fromisoformat(c["enddate"]) - timedelta(days=367 + n % 400)).isoformat()
    return c, "ONESTOP_MAX_STAY_DAYS"


def _discharged_in_the_future(c: dict, n: int) -> tuple[dict, str]:
    c["begndate"], c["enddate"] = "2099-12-01", "2099-12-10"
    return c, "is in the future"


def _above_the_ceiling(c: dict, n: int) -> tuple[dict, str]:
    c["medfee_sumamt"] = money(c["medfee_sumamt"], "999990000000.00")
    c["fulamt_ownpay_amt"] = money(c["fulamt_ownpay_amt"], "999990000000.00")
    return c, "ONESTOP_MAX_AMOUNT"


#: kind -> change of a good claim (as a dict) into a bad one, with the word its reason must hold
CLAIM_KINDS: dict[str, Callable[[dict, int], tuple[dict, str]]] = {
    "negative amount": _negative,
    "more than two decimals": _three_decimals,
    "float amount": _float_amount,
    "parts do not add up": _parts_off,
    "enddate before begndate": _end_before_begin,
    "unknown med_type": _field("med_type", lambda n: ["99", "31", ""][n % 3]),
    "unknown insutype": _field("insutype", lambda n: ["999", "320"][n % 2]),
    "unknown hosp_lv": _field("hosp_lv", "4"),
    "malformed division code": _field("mdtrtarea_admvs", lambda n: ["62070", "6207021", "62070a", ""][n % 4]),
    "missing field": _missing,
    "bad ICD-10": _field("dise_codg", lambda n: ["c34.9", "C3", "34.9", "C34.", "CC34"][n % 5]),
    "amount not a number": _field("overlmt_selfpay", lambda n: ["12,30", "NaN", "abc"][n % 3]),
    "impossible date": _field("enddate", "2022-02-30"),
    "boolean amount": _field("overlmt_selfpay", True),
    "age out of range": _field("age", lambda n: [-1, 151][n % 2]),
    "blank identifier": _blank_id,
    "id with a slash": _id_with_a_slash,
    "amount not a plain decimal string": _amount_as_written,
    "date before 1900 or after 2100": _date_out_of_range,
    "schema not a name/version": _schema_not_a_name,
    "no policy for the insured place": _no_policy_place,
    "no policy in force": _no_policy_in_force,
}
#: well formed, refused at receipt as implausible (policies/plausible.py, asked by intake)
IMPLAUSIBLE_KINDS: dict[str, Callable[[dict, int], tuple[dict, str]]] = {
    "stay longer than the limit": _too_long_a_stay,
    "discharged in the future": _discharged_in_the_future,
    "bill above the ceiling": _above_the_ceiling,
}
#: kinds that are not a changed claim, with the word of their reason
RAW_KINDS = {"not JSON": "not JSON", "not an object": "JSON object"}
#: the same claim_id sent again with other content: intake refuses it
CONFLICT = "claim_id reused with other content"
#: every kind of malformed or implausible discharge event, in the order they are made
ALL_KINDS = [*CLAIM_KINDS, *IMPLAUSIBLE_KINDS, *RAW_KINDS, CONFLICT]


def malformed_claim(kind: str, base: dict, round_: int, rng: random.Random) -> tuple[bytes, str]:
    """A bad discharge event of ``kind`` (not CONFLICT) made from ``base``, and the word of its reason."""
    if kind in CLAIM_KINDS or kind in IMPLAUSIBLE_KINDS:
        changed, word = {**CLAIM_KINDS, **IMPLAUSIBLE_KINDS}[kind](base, round_)
        return orjson.dumps(changed), word
    if kind == "not JSON":
        return orjson.dumps(base)[: rng.randint(40, 120)] + b'"', RAW_KINDS[kind]
    shapes = [
        [base["claim_id"], base["psn_no"], base["psn_name"]],
        [base],
        f"claim {base['claim_id']} of {base['psn_no']}",
    ]
    return orjson.dumps(shapes[round_ % 3]), RAW_KINDS[kind]


def conflicting_claim(reference: str, original: dict) -> tuple[bytes, str]:
    """The claim_id of a good claim with other amounts, and the word of its reason."""
    other = {"hospital_ref": reference, **original}
    other["fulamt_ownpay_amt"] = money(other["fulamt_ownpay_amt"], "1.00")
    other["medfee_sumamt"] = money(other["medfee_sumamt"], "1.00")
    return orjson.dumps(other), "already received with different content"


GRANT_KINDS: dict[str, tuple[Callable[[dict], None], str]] = {
    "unknown category": (lambda g: g.update(category="poor"), "category"),
    "unknown authority": (lambda g: g.update(authority="police"), "authority"),
    "unknown action": (lambda g: g.update(action="suspend"), "action"),
    "valid_to before valid_from": (lambda g: g.update(valid_to="2000-01-01"), "before valid_from"),
    "missing field": (lambda g: g.pop("recorded_at"), "Field required"),
    "bad timestamp": (lambda g: g.update(recorded_at="yesterday"), "recorded_at"),
    "timestamp without an offset": (lambda g: g.update(recorded_at="2017-01-01T09:00:00"), "has no offset"),
    "recorded in year 9999": (lambda g: g.update(recorded_at="9999-01-01T09:00:00+00:00"), "after 2100-12-31"),
    "event_id with a slash": (lambda g: g.update(event_id=f"{g['event_id']}/revoke"), "holds '/'"),
}


def malformed_grant(n: int, kind: str, psn_no: str, name: str) -> Malformed:
    """A bad eligibility event of ``kind`` (of GRANT_KINDS) for a person."""
    change, word = GRANT_KINDS[kind]
    event = {
        "event_id": f"BADELG{n:04d}",
        "psn_no": psn_no,
        "psn_name": name,
        "category": "tekun",
        "action": "grant",
        "valid_from": "2017-01-01",
        "authority": "civil_affairs",
        "recorded_at": "2017-01-01T09:00:00+00:00",
    }
    change(event)
    return Malformed(kind, orjson.dumps(event), word)


def unparsable_grant(psn_no: str) -> Malformed:
    return Malformed("not JSON", f'{{"event_id": "BADELG9999", "psn_no": "{psn_no}"'.encode(), "not JSON")
