"""Dates and timestamps that come in (CONTRACTS.md): a date written YYYY-MM-DD, a timestamp with
its offset, both between 1900 and 2100.

A timestamp without an offset names no moment (is 10:00 Beijing's or UTC's?), and compared with one
that has one it raises TypeError deep in the rules; a date from year 1021 or 9999 is no hospital's
or authority's, and would let a stay or a grant reach across centuries. Both are refused here,
with the reason, before anything is recorded.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

EARLIEST = date(1900, 1, 1)
LATEST = date(2100, 12, 31)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _within_years(day: date, shown: object) -> None:
    if not EARLIEST <= day <= LATEST:
        raise ValueError(
            f"{shown} is {'before' if day < EARLIEST else 'after'} {EARLIEST if day < EARLIEST else LATEST}; "
            f"dates before {EARLIEST} or after {LATEST} are refused"
        )


def _day_as_written(value: Any) -> Any:
    """A date as the wire writes it (YYYY-MM-DD), or a date of our own; never a number."""
    if type(value) is date or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value  # (pydantic then refuses an impossible one, e.g. 2024-02-30)
    raise ValueError(f'write a date as YYYY-MM-DD, e.g. "2024-03-01" (got {value!r})')


def _day_in_range(value: date) -> date:
    _within_years(value, value)
    return value


def _timestamp_as_written(value: Any) -> Any:
    """A timestamp as the wire writes it (an ISO string), or one of our own; never a number."""
    if isinstance(value, (str, datetime)):
        return value
    raise ValueError(f'write a timestamp in ISO form with its offset, e.g. "2021-03-01T10:00:00+08:00" (got {value!r})')


def _aware_in_range(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{value.isoformat()} has no offset, so it names no moment; write it with one, "
            f'e.g. "{value.isoformat()}+08:00" (Beijing) or "{value.isoformat()}Z" (UTC)'
        )
    _within_years(value.date(), value.isoformat())  # (the date as written, in its own offset)
    return value


#: A date that comes in (begndate, enddate, valid_from, valid_to): YYYY-MM-DD, 1900-01-01 to 2100-12-31.
Day = Annotated[date, BeforeValidator(_day_as_written), AfterValidator(_day_in_range)]
#: A timestamp that comes in (recorded_at, cancelled_at): ISO with its offset (pydantic's AwareDatetime,
#: with a reason a person can act on), its date 1900-01-01 to 2100-12-31.
Timestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp_as_written),
    AfterValidator(_aware_in_range),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
