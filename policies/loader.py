"""Reading policy files: YAML validated against schemas.policy, errors pointing at file and line.

Nothing is read at import: the files are read when a rule first asks for them, so that a command
that needs no policy runs whatever the files hold, and one that does says which file, line and
field is wrong, with the values the field allows (``PolicyFileError``).
"""
from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable
from datetime import date
from functools import cache, lru_cache, wraps
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from schemas.events import PolicyRef
from schemas.policy import PayerPolicy, Policy
from schemas.settings import settings

#: the policy files shipped with onestop (ONESTOP_REGIONS names another folder)
REGIONS_DIR = Path(str(resources.files("policies").joinpath("regions")))
#: Payer definitions several regions share (e.g. the ordinary basic insurance), used as ``- use: FILE``.
SHARED_DIR = REGIONS_DIR / "shared"


def regions_dir() -> Path:
    """The folder of policy files in use: ONESTOP_REGIONS, else the shipped one."""
    return Path(settings.regions) if settings.regions else REGIONS_DIR


class PolicyFileError(ValueError):
    """A policy file that does not validate; the message names file, line and problem."""


class NoPolicy(LookupError):
    """No policy in force for a claim's insured place and date."""


def _line_map(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines.update(_line_map(value, path + (key.value,)))
            lines[path + (key.value,)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_line_map(item, path + (index,)))
    return lines


def _line_of(lines: dict[tuple, int], loc: tuple) -> int:
    for end in range(len(loc), -1, -1):
        key = tuple(str(p) if not isinstance(p, int) else p for p in loc[:end])
        if key in lines:
            return lines[key]
    return 1


def _validated(model: type[BaseModel], text: str, name: str, shared_dir: Path) -> Any:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyFileError(f"{name}: not valid YAML: {error}") from None
    if node is None or not isinstance(data, dict):
        raise PolicyFileError(f"{name}:1: expected a mapping of {', '.join(model.model_fields)}")
    lines = _line_map(node)
    for index, payer in enumerate(data.get("payers") or []):
        if isinstance(payer, dict) and set(payer) == {"use"}:
            data["payers"][index] = _shared_payer(str(payer["use"]), shared_dir, f"{name}:{lines[('payers', index)]}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{name}:{_line_of(lines, e['loc'])}: {'.'.join(str(p) for p in e['loc']) or '(top)'}: {_problem(model, e)}"
            for e in error.errors()
        ]
        raise PolicyFileError("\n".join(problems)) from None


def _problem(model: type[BaseModel], error: Any) -> str:
    """The problem in words, with what the place allows when that is a list of names: the fields
    of a mapping, for a field it does not know (enumerations and literals name theirs already)."""
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        where = _model_at(model, tuple(error["loc"])[:-1])
        if where is not None:
            message += "; the fields here are " + ", ".join(f.alias or n for n, f in where.model_fields.items())
    return message


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model of the mapping at ``loc`` (field names and list positions) inside ``model``."""
    current = model
    for part in loc:
        if isinstance(part, int):
            continue  # a position in a list: the field's model is its items'
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        if part not in fields:
            continue  # a step pydantic adds inside a union (the member's name)
        inner = _model_in(fields[part].annotation)
        if inner is None:
            return None
        current = inner
    return current


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The first model class inside a field's type (``X | None``, ``list[X]``, …), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, dict, typing.Annotated):
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None


def _shared_payer(file: str, shared_dir: Path, used_at: str) -> Any:
    path = next((d / file for d in dict.fromkeys((shared_dir, SHARED_DIR)) if (d / file).is_file()), None)
    if path is None:
        raise PolicyFileError(f"{used_at}: use: {file}: no such shared payer file in {shared_dir}")
    text = path.read_text(encoding="utf-8")
    _validated(PayerPolicy, text, str(path), shared_dir)  # its own errors point into its own lines
    return yaml.safe_load(text)


def parse_policy(text: str, name: str = "<policy>", shared_dir: Path = SHARED_DIR) -> Policy:
    """Validate one policy file's text. Raises PolicyFileError with ``name:line: where: what``."""
    return _validated(Policy, text, name, shared_dir)


def load_policy_file(path: Path) -> Policy:
    return parse_policy(path.read_text(encoding="utf-8"), str(path), path.parent / "shared")


def load_policies(directory: Path | None = None) -> tuple[Policy, ...]:
    """Every policy file of the directory (default: ``regions_dir()``), validated; overlapping
    periods of one region are an error."""
    return _loaded(directory or regions_dir())


@cache
def _loaded(directory: Path) -> tuple[Policy, ...]:
    if not directory.is_dir():
        raise PolicyFileError(f"{directory}: no such folder of policy files (ONESTOP_REGIONS)")
    policies = tuple(load_policy_file(p) for p in sorted(directory.glob("*.yaml")))
    _check_no_overlap(policies)
    return policies


def _check_no_overlap(policies: Iterable[Policy]) -> None:
    by_city: dict[str, list[Policy]] = {}
    for policy in policies:
        by_city.setdefault(policy.pooled_city, []).append(policy)
    for city, group in by_city.items():
        group.sort(key=lambda p: p.in_force_from)
        for earlier, later in zip(group, group[1:]):
            if earlier.in_force_to is None or earlier.in_force_to >= later.in_force_from:
                raise PolicyFileError(f"policies {earlier.ref} and {later.ref} of pooled city {city} overlap")


def policy_for(insuplc_admdvs: str, day: date, policies: Iterable[Policy] | None = None) -> Policy:
    """The policy of the insured place's pooled city (first 4 digits) in force on ``day``."""
    city = insuplc_admdvs[:4]
    if policies is None:
        found = _in_force(city, day)
        if found is not None:
            return found
    regional = _by_pooled_city().get(city, []) if policies is None else [p for p in policies if p.pooled_city == city]
    if not regional:
        policies = load_policies() if policies is None else policies
        raise NoPolicy(f"no policy for insured place {insuplc_admdvs} (pooled city {city}); "
                       f"known pooled cities: {sorted({p.pooled_city for p in policies})}")
    for policy in regional:
        if policy.in_force_on(day):
            return policy
    periods = ", ".join(f"{p.ref} from {p.in_force_from}" for p in regional)
    raise NoPolicy(f"no policy of pooled city {city} in force on {day} (periods: {periods})")


@lru_cache(maxsize=20_000)  # (a pooled city's days of a few years: every claim asks)
def _in_force(city: str, day: date) -> Policy | None:
    return next((p for p in _by_pooled_city().get(city, ()) if p.in_force_on(day)), None)


@cache
def _by_pooled_city() -> dict[str, list[Policy]]:
    """The loaded policies of each pooled city, in the order they were read (grouped once: every
    claim asks for its policy)."""
    by_city: dict[str, list[Policy]] = {}
    for policy in load_policies():
        by_city.setdefault(policy.pooled_city, []).append(policy)
    return by_city


def policy_named(region: str, policies: Iterable[Policy] | None = None) -> list[Policy]:
    policies = load_policies() if policies is None else policies
    return [p for p in policies if p.region == region or p.pooled_city == region]


def policy_by_ref(region: str, period: str, version: int, policies: Iterable[Policy] | None = None) -> Policy:
    """The exact policy a claim was settled under (its region, period and version)."""
    policies = load_policies() if policies is None else policies
    for policy in policies:
        if (policy.region, policy.period, policy.version) == (region, period, version):
            return policy
    raise NoPolicy(f"policy {region}/{period}/v{version} is not loaded")


def policy_of(ref: PolicyRef) -> Policy:
    """The policy a record names (its ``policy``: region, period and version)."""
    return policy_by_ref(ref.region, ref.period, ref.version)


T = TypeVar("T")


def once_per_policy(reading: Callable[[Policy], T]) -> Callable[[Policy], T]:
    """``reading(policy)`` worked out once per policy, not per claim. A policy is an immutable
    value but not hashable (it holds lists), so it is known by identity, and kept alive while
    its reading is cached (so that its identity is not reused)."""
    readings: dict[int, tuple[Policy, T]] = {}

    @wraps(reading)
    def once(policy: Policy) -> T:
        found = readings.get(id(policy))
        if found is None:
            found = readings[id(policy)] = (policy, reading(policy))
        return found[1]

    return once
