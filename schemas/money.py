"""Exact money: yuan as ``Decimal`` with two places (fen), never float.

The one rounding rule of the project lives here: a computed payment is rounded to the fen,
half up (四舍五入), once, when it becomes a payment.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, getcontext
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
#: the default context's precision and traps, rounding half up (its quantize takes no keywords:
#: a third cheaper than ``value.quantize(FEN, rounding=…)``, and amounts are rounded very often)
_HALF_UP = Context(prec=getcontext().prec, rounding=ROUND_HALF_UP)


def round_to_fen(value: Decimal) -> Decimal:
    """Round a computed amount to the fen, half up: the project's only rounding rule."""
    return _HALF_UP.quantize(value, FEN)


def format_yuan(value: Decimal) -> str:
    """Two decimals, as amounts travel on the wire ("1234.50"); rounded half-even like ``quantize``."""
    shown = str(value)
    if (
        len(shown) > 3 and shown[-3] == "."
    ):  # already to the fen, as nearly every amount is: what .2f prints, at a third of the cost
        return shown
    return f"{value:.2f}"


def format_exact(value: Decimal) -> str:
    """An intermediate amount as computed: two decimals, or more when it has them (123.455)."""
    shown = str(value)
    point = shown.find(".")
    if point < 0 or "E" in shown:  # (a whole number, or scientific notation: rare)
        return format_yuan(value) if value == value.quantize(FEN) else f"{value.normalize():f}"
    # its places less the trailing zeros beyond the fen (925.927500 → 925.9275, 750.0000 → 750.00):
    # read from the digits, compiled a fifth of the cost of quantize, normalize and format
    end = len(shown)
    while end - point > 3 and shown[end - 1] == "0":
        end -= 1
    return shown[:end] if end - point > 2 else shown[:end] + "0"


_PLAIN_AMOUNT = re.compile(r"-?\d{1,12}(\.\d{1,2})?")


def _parse_amount(value: Any, *, allow_negative: bool) -> Decimal:
    if type(value) is str and _PLAIN_AMOUNT.fullmatch(value):  # the wire's usual "1234.50": only its sign to check
        return _checked(Decimal(value), allow_negative)
    if type(value) is Decimal:  # computed, or read back from the database
        return _checked(value, allow_negative)
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(
            'amounts must be JSON strings with at most two decimals, e.g. "1234.50" '
            f"(got the number {value!r}; a binary float cannot hold fen exactly)"
        )
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f'{value!r} is not an amount; write it like "1234.50"') from None
    if not isinstance(value, Decimal):
        raise ValueError(f'an amount must be a string like "1234.50", not {type(value).__name__}')
    return _checked(value, allow_negative)


def _checked(value: Decimal, allow_negative: bool) -> Decimal:
    """The amount to the fen, or why it is not one."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    if value.adjusted() >= 12:  # before quantizing: a 400-digit number must be refused, not overflow the context
        raise ValueError(f"an amount of {value.adjusted() + 1} digits before the point is too large; at most 12")
    amount = value.quantize(FEN)
    if amount != value:
        raise ValueError(f"{value} has more than two decimals; amounts are exact to the fen")
    if value < 0 and not allow_negative:
        raise ValueError(f"{value} is negative; amounts on a bill are never below zero")
    return amount


def _amount(value: Any) -> Decimal:
    return _parse_amount(value, allow_negative=False)


def _signed_amount(value: Any) -> Decimal:
    return _parse_amount(value, allow_negative=True)


#: an amount as the wire writes it: digits, then at most two decimals (no sign, exponent or space)
_WIRE_AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")  # ([0-9], not \d: that is any script's digits)


def _wire_amount(value: Any) -> Decimal:
    """An amount from outside: a plain decimal string ("1234.50", "1234.5", "1234"), or a Decimal of
    our own (computed, or read back from the database, as the claim travels); anything else refused
    with what to write instead. A JSON number never: a hospital's float may already have lost a fen,
    and "1e5" or " 12" is not how a bill is written."""
    if type(value) is str and _WIRE_AMOUNT.fullmatch(value):
        return _HALF_UP.quantize(Decimal(value), FEN)  # (exact: at most two places)
    if type(value) is Decimal:
        return _checked(value, False)
    raise ValueError(_not_a_wire_amount(value))


def _not_a_wire_amount(value: Any) -> str:
    """Why ``value`` is not an amount as the wire writes it."""
    write = 'write a plain decimal string like "1234.50"'
    if not isinstance(value, str):
        if isinstance(value, (bool, int, float)):
            return (
                f"amounts must be JSON strings with at most two decimals, {write} "
                f"(got the number {value!r}: a JSON number may already have lost a fen)"
            )
        return f'an amount must be a string like "1234.50", not {type(value).__name__}'
    if value != value.strip() or any(c.isspace() for c in value):
        return f"{value!r} holds spaces; {write}"
    if value.startswith("-"):
        return f"{value} is negative; amounts on a bill are never below zero"
    if value.startswith("+"):
        return f"{value!r} has a sign; {write}"
    try:
        number = Decimal(value)
    except InvalidOperation:
        return f"{value!r} is not an amount; {write}"
    if not number.is_finite():
        return f"{value!r} is not a finite amount; {write}"
    if "e" in value.lower():
        return f"{value!r} is written with an exponent; {write}"
    if number.adjusted() >= 12:
        return f"an amount of {number.adjusted() + 1} digits before the point is too large; at most 12"
    if "." in value and len(value) - value.index(".") > 3:
        return f"{value} has more than two decimals; amounts are exact to the fen, {write}"
    return f"{value!r} is not an amount; {write}"


_AS_STRING = PlainSerializer(format_yuan, return_type=str, when_used="json")
_SCHEMA = WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d{1,2})?$"})

#: A non-negative amount in yuan, exact to the fen; a JSON string on the wire.
Money = Annotated[Decimal, BeforeValidator(_amount), _AS_STRING, _SCHEMA]
#: A non-negative amount that comes in (a bill's amounts): a plain decimal string on the wire, never
#: a JSON number, sign or exponent; a Decimal of our own is accepted as it is (to the fen). Policy
#: files and computed values use Money, which is lenient about how a number is written.
WireMoney = Annotated[
    Decimal,
    BeforeValidator(_wire_amount),
    _AS_STRING,
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$"}),
]
#: An amount that may be negative: the differences of adjustments and reversals.
SignedMoney = Annotated[Decimal, BeforeValidator(_signed_amount), _AS_STRING, _SCHEMA]


def _rate(value: Any) -> Decimal:
    if isinstance(value, float) or isinstance(value, bool):
        raise ValueError(f'write rates as strings or percentages like "75%", not the number {value!r}')
    text = str(value).strip()
    try:
        rate = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise ValueError(f'{value!r} is not a rate; write "75%" or "0.75"') from None
    if not Decimal(0) <= rate <= Decimal(1):
        raise ValueError(f"{value!r} is not a rate between 0% and 100%")
    return rate


def format_rate(rate: Decimal) -> str:
    percent = (rate * 100).normalize()
    return f"{percent:f}%"


#: A payment rate between 0 and 1, written in policy files as "75%" or "0.75".
Rate = Annotated[Decimal, BeforeValidator(_rate), PlainSerializer(format_rate, return_type=str, when_used="json")]
