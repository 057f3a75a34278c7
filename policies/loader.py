"""Reading policy files: YAML validated against schemas.policy, errors pointing at file and line."""
from __future__ import annotations

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

REGIONS_DIR = Path(str(resources.files("policies").joinpath("regions")))
#: Payer definitions several regions share (e.g. the ordinary basic insurance), used as ``- use: FILE``.
SHARED_DIR = REGIONS_DIR / "shared"


class PolicyFileError(ValueError):
    """A policy file that does not validate; the message names file, line and problem."""


class NoPolicy(LookupError):
    """No policy in force for a claim's insured place and date."""


#: where in a policy file's data: keys and list indexes from the top (pydantic's ``loc``)
Where = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


def _line_map(node: yaml.Node, path: Where = ()) -> dict[Where, int]:
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines.update(_line_map(value, path + (key.value,)))
            lines[path + (key.value,)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_line_map(item, path + (index,)))
    return lines


def _line_of(lines: dict[Where, int], loc: Where) -> int:
    for end in range(len(loc), -1, -1):
        key = tuple(str(p) if not isinstance(p, int) else p for p in loc[:end])
        if key in lines:
            return lines[key]
    return 1


def _validated(model: type[M], text: str, name: str, shared_dir: Path) -> M:
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
            f"{name}:{_line_of(lines, e['loc'])}: {'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
            for e in error.errors()
        ]
        raise PolicyFileError("\n".join(problems)) from None


def _shared_payer(file: str, shared_dir: Path, used_at: str) -> dict[str, Any]:
    path = shared_dir / file
    if not path.is_file():
        raise PolicyFileError(f"{used_at}: use: {file}: no such shared payer file in {shared_dir}")
    text = path.read_text(encoding="utf-8")
    _validated(PayerPolicy, text, str(path), shared_dir)  # its own errors point into its own lines
    payer: dict[str, Any] = yaml.safe_load(text)  # (a mapping: it validated as a payer)
    return payer


def parse_policy(text: str, name: str = "<policy>", shared_dir: Path = SHARED_DIR) -> Policy:
    """Validate one policy file's text. Raises PolicyFileError with ``name:line: where: what``."""
    return _validated(Policy, text, name, shared_dir)


def load_policy_file(path: Path) -> Policy:
    return parse_policy(path.read_text(encoding="utf-8"), str(path), path.parent / "shared")


@cache
def load_policies(directory: Path = REGIONS_DIR) -> tuple[Policy, ...]:
    """Every policy file of the directory, validated; overlapping periods of one region are an error."""
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
