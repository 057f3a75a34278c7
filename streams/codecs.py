"""orjson on the wire, validated by the schemas/ models; bad bytes become a reason a person can act on."""
from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class BadInput(ValueError):
    """An event that cannot be accepted; ``str()`` is the reason sent to the rejection topic."""


def encode(model: BaseModel) -> bytes:
    data = model.model_dump(mode="json", by_alias=True)
    if data.get("schema", "") is None:
        del data["schema"]  # absent means version 1 (CONTRACTS.md)
    return orjson.dumps(data)


def decode(model: type[M], raw: bytes | None) -> M:
    """Parse and validate one event, or raise BadInput naming each field and its problem."""
    if raw is None or not raw.strip():
        raise BadInput("empty message: expected a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadInput(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadInput(f"expected a JSON object, got {type(data).__name__}")
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
