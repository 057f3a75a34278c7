"""Models built from values the rules computed themselves, each already of its field's type."""
from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def built(model: type[M], values: dict[str, Any]) -> M:
    """What ``model.model_construct(**values)`` builds (no validation: the tests validate what the
    rules build), without its search of every field's aliases and defaults — most of the cost of
    a small model. Only when ``values`` gives every field in the schema's order, as model_construct
    would store them, and the model has nothing more to set up; anything else is model_construct's."""
    if tuple(values) != _plain_fields(model):
        return model.model_construct(**values)
    instance = model.__new__(model)
    _set(instance, "__dict__", values)
    _set(instance, "__pydantic_fields_set__", set(values))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


@cache
def _plain_fields(model: type[BaseModel]) -> tuple[str, ...] | None:
    """The model's fields in order, or None when model_construct does more than store them."""
    fields = model.__pydantic_fields__
    if (model.__pydantic_post_init__ or model.__pydantic_root_model__ or model.model_config.get("extra") == "allow"
            or any(f.alias is not None or f.validation_alias is not None for f in fields.values())):
        return None
    return tuple(fields)
