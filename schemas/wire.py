"""A model's bytes as they travel (CONTRACTS.md): orjson of its JSON form, by alias. One function,
so that a record stored by the ledger and the one published are the same bytes, made once."""

from __future__ import annotations

import orjson
from pydantic import BaseModel


def encode(model: BaseModel) -> bytes:
    data = model.model_dump(mode="json", by_alias=True)
    if data.get("schema", "") is None:
        del data["schema"]  # absent means version 1 (CONTRACTS.md)
    return orjson.dumps(data)
