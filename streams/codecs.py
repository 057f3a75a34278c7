"""orjson on the wire, validated by the schemas/ models; bad bytes become a reason a person can act on."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from schemas.wire import encode

M = TypeVar("M", bound=BaseModel)
__all__ = ["BadInput", "as_text", "decode", "describe", "encode"]


class BadInput(ValueError):
    """An event that cannot be accepted; ``str()`` is the reason sent to the rejection topic."""


#: The largest event accepted, in bytes: a discharge event is under 2 KiB; this leaves room, and
#: keeps an oversize message from costing the workers memory and time.
MAX_EVENT_BYTES = 64 * 1024
#: How deep an event may nest (an object is 1): the contracts' events are flat objects with at most
#: a list of objects inside (depth 3).
MAX_DEPTH = 4


def _depth(value) -> int:
    """How deep ``value`` nests, without recursion (a hostile event may nest thousands deep)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            todo += [(child, level + 1) for child in (item.values() if isinstance(item, dict) else item)]
    return deepest


def decode(model: type[M], raw: bytes | None) -> M:
    """Parse and validate one event, or raise BadInput naming each field and its problem."""
    if raw is None or not raw.strip():
        raise BadInput("empty message: expected a JSON object")
    if len(raw) > MAX_EVENT_BYTES:
        raise BadInput(f"too large: {len(raw):,} bytes; an event is at most {MAX_EVENT_BYTES:,}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadInput(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadInput(f"expected a JSON object, got {type(data).__name__}")
    if (depth := _depth(data)) > MAX_DEPTH:
        raise BadInput(f"nested {depth} levels deep; an event nests at most {MAX_DEPTH}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BadInput(describe(error)) from None


def describe(error: ValidationError) -> str:
    """'field: problem' for each problem of a validation error, joined by '; '."""
    parts = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "(event)"
        message = problem["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def as_text(raw: bytes | None) -> str:
    """The original bytes as text where they decode, else as their repr (for the rejection topic)."""
    if raw is None:
        return ""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return repr(raw)
