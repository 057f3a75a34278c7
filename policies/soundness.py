"""What the ledger checks before it records money: internal messages carry no authority.

A claim in flight reaches the ledger with its payers' lines and the year's totals they were
computed on (its ``basis``). Anyone who can write an internal topic can write such a message, so
the ledger believes none of it: it takes the claim, its identity snapshot, policy and route from
what intake recorded of a signed input, and settles it by the rules on its own totals. The lines
in flight are only compared with what the rules give for the recorded claim on the flight's own
basis (:func:`disagreement`): a flight that differs was forged or broken on its way, and is
refused with an alarm — it moves nothing.

Every record the ledger makes is then checked where it is made (:func:`unsound`): a claim's
first settlement pays no negative line and no payer off its recorded route, and after every
record each claim's net per payer is never negative and its funds stay within its bill. A premium
subsidy is held to the same: no line below zero, never more than the contribution it pays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from schemas.codes import Category, Payer
from schemas.events import DischargeClaim, Settlement
from schemas.money import ZERO, format_yuan
from schemas.policy import Policy
from schemas.totals import YearTotals

from .ledger import Net, entry_key
from .loader import policy_by_ref
from .settle import Settled, route, settle


def held_of(snapshot: Mapping[str, Any]) -> frozenset[Category]:
    """The categories a recorded snapshot says count for its claim (intake wrote it: their codes)."""
    return frozenset(Category(held["code"]) for held in snapshot["identity"])


def policy_of_snapshot(snapshot: Mapping[str, Any]) -> Policy:
    """The policy a recorded snapshot names."""
    named = snapshot["policy"]
    return policy_by_ref(named["region"], named["period"], named["version"])


def settled_on(claim: DischargeClaim, snapshot: Mapping[str, Any], totals: YearTotals) -> Settled:
    """The claim through its recorded route, by the rules, on the year's ``totals``."""
    return settle(claim, held_of(snapshot), totals, policy_of_snapshot(snapshot))


def disagreement(
    claim: DischargeClaim, snapshot: Mapping[str, Any], lines: Sequence[object], basis: YearTotals
) -> str | None:
    """Why the ``lines`` a claim arrived with are not what the rules give for the recorded claim
    on the flight's own ``basis``; None when they are, payer by payer, to the fen and word."""
    return checked(claim, snapshot, lines, basis)[0]


def checked(
    claim: DischargeClaim, snapshot: Mapping[str, Any], lines: Sequence[object], basis: YearTotals
) -> tuple[str | None, Settled]:
    """:func:`disagreement`, and the claim as the rules settle it on ``basis`` (the ledger settles on
    its own totals: when they are the basis, this is the settlement)."""
    settled = settled_on(claim, snapshot, basis)
    return _disagreement(settled, snapshot, lines), settled


def _disagreement(settled: Settled, snapshot: Mapping[str, Any], lines: Sequence[object]) -> str | None:
    expected = [line.model_dump(mode="json") for line in settled.lines]
    if _same(lines, expected):
        return None
    want = {line["payer"]: line for line in expected}
    got = {line.get("payer"): line for line in lines if isinstance(line, Mapping)}
    problems = [f"{payer} line missing" for payer in want if payer not in got]
    problems += [
        f"a line of {payer}, which is not on the claim's recorded route {list(snapshot['route'])}"
        for payer in got
        if payer not in want
    ]
    for payer in (p for p in want if p in got):
        if got[payer].get("amount") != want[payer]["amount"]:
            problems.append(f"{payer} pays {got[payer].get('amount')}, the rules give {want[payer]['amount']}")
        elif got[payer] != want[payer]:
            fields = sorted(k for k in set(want[payer]) | set(got[payer]) if want[payer].get(k) != got[payer].get(k))
            problems.append(f"{payer} line differs in {', '.join(map(str, fields))}")
    if not problems:
        problems.append("the lines are out of the route's order or repeated")
    return "; ".join(problems)


def _same(lines: Sequence[object], expected: list[dict[str, Any]]) -> bool:
    """The lines as they travelled are the expected ones, field by field: compared as JSON text (the
    payers wrote them as these are dumped, fields in one order), else as values."""
    try:
        if orjson.dumps(lines) == orjson.dumps(expected):
            return True
    except TypeError:  # not JSON values: never what the rules made
        return False
    return list(lines) == expected


class Unsound(AssertionError):
    """A record the ledger was about to make breaks an invariant of money: nothing is recorded."""


def unsound(
    records: Iterable[Settlement], nets: Mapping[tuple[str, int], Net], routes: Mapping[str, Sequence[Payer]]
) -> list[str]:
    """What is wrong with ``records`` made after ``nets`` (what each entry's records added up to
    before), in words; empty when every invariant holds. ``routes``: each claim's recorded route."""
    problems: list[str] = []
    after: dict[tuple[str, int], Net] = {}
    for record in records:
        problems += _first_settlement_problems(record, routes)
        key = entry_key(record)
        if key not in after:
            after[key] = _copy(nets.get(key))
        after[key].add(record)
    for (entry, year), net in after.items():
        problems += _net_problems(entry, year, net)
    return problems


def _first_settlement_problems(record: Settlement, routes: Mapping[str, Sequence[Payer]]) -> list[str]:
    """A claim's first settlement, or a premium subsidy (its only record): no line below zero, the
    funds within the bill (a subsidy never more than the contribution), only the recorded route's payers."""
    if record.kind not in ("settlement", "premium"):
        return []
    out = [
        f"{record.settlement_id}: {line.payer.value} pays {format_yuan(line.amount)}, below zero"
        for line in record.payments
        if line.amount < 0
    ]
    if not ZERO <= record.fund_pay_sumamt <= record.medfee_sumamt:
        out.append(
            f"{record.settlement_id}: the funds pay {format_yuan(record.fund_pay_sumamt)} "
            f"of a bill of {format_yuan(record.medfee_sumamt)}"
        )
    allowed = routes.get(record.key)
    if allowed is not None:
        out += [
            f"{record.settlement_id}: a line of {line.payer.value}, not on the claim's recorded route"
            for line in record.payments
            if line.payer not in allowed
        ]
    return out


def _net_problems(entry: str, year: int, net: Net) -> list[str]:
    out = [
        f"{entry} ({year}): {payer.value} has paid {format_yuan(amount)} in all, below zero"
        for payer, amount in net.by_payer.items()
        if amount < 0
    ]
    funds = sum(net.by_payer.values(), start=ZERO)
    if "year_end" not in net.kinds and not ZERO <= funds <= net.medfee_sumamt:
        out.append(
            f"{entry} ({year}): the funds have paid {format_yuan(funds)} of a bill of {format_yuan(net.medfee_sumamt)}"
        )
    return out


def _copy(net: Net | None) -> Net:
    if net is None:
        return Net()
    return Net(net.medfee_sumamt, dict(net.by_payer), dict(net.last_line), set(net.kinds), dict(net.parts))


def recorded_route(snapshot: Mapping[str, Any]) -> tuple[Payer, ...]:
    """The payers intake recorded for a claim, checked against the rules for its snapshot."""
    recorded = tuple(Payer(p) for p in snapshot["route"])
    computed = tuple(p.payer for p in route(policy_of_snapshot(snapshot), held_of(snapshot)))
    if recorded != computed:
        raise Unsound(
            f"the recorded route {[p.value for p in recorded]} is not the rules' {[p.value for p in computed]}"
        )
    return recorded
