"""Models built from values the rules computed themselves, each already of its field's type."""

from __future__ import annotations

from typing import Any, Final, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
# (Final: compiled, each is read as a constant, not looked up among the module's names at every call)
_new: Final = object.__new__
#: the setters of the slots every model has, called directly: half the cost of object.__setattr__
_set_dict: Final = BaseModel.__dict__["__dict__"].__set__
_set_fields_set: Final = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra: Final = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private: Final = BaseModel.__dict__["__pydantic_private__"].__set__


def built(model: type[M], values: dict[str, Any]) -> M:
    """What ``model.model_construct(**values)`` builds (no validation: the tests validate what the
    rules build), without its search of every field's aliases and defaults — most of the cost of
    a small model. Only when ``values`` gives every field in the schema's order, as model_construct
    would store them, and the model has nothing more to set up; anything else is model_construct's."""
    plain = _PLAIN.get(model)
    if plain is None:
        fields = _plain_fields(model)
        plain = _PLAIN[model] = (fields, set(fields or ()))
    fields, fields_set = plain
    if tuple(values) != fields:
        return model.model_construct(**values)
    instance = _new(model)
    _set_dict(instance, values)
    _set_fields_set(instance, fields_set.copy())  # (a copy of the same set: cheaper than a set of the keys)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


#: per model, its fields in order (None: model_construct's) and the set of them, worked out once
_PLAIN: Final[dict[type, tuple[tuple[str, ...] | None, set[str]]]] = {}


def _plain_fields(model: type[BaseModel]) -> tuple[str, ...] | None:
    """The model's fields in order, or None when model_construct does more than store them."""
    fields = model.__pydantic_fields__
    if (
        model.__pydantic_post_init__
        or model.__pydantic_root_model__
        or model.model_config.get("extra") == "allow"
        or any(f.alias is not None or f.validation_alias is not None for f in fields.values())
        or model.__new__ is not BaseModel.__new__
        or any("__slots__" in vars(c) for c in model.__mro__[: model.__mro__.index(BaseModel)])
    ):
        return None  # (a model with slots of its own, or its own __new__, is model_construct's)
    return tuple(fields)
