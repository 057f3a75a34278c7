"""Reading policy files: YAML validated against schemas.policy, errors pointing at file and line.

Nothing is read at import: the files are read when a rule first asks for them, so that a command
that needs no policy runs whatever the files hold, and one that does says which file, line and
field is wrong, with the values the field allows (``PolicyFileError``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache, wraps
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from schemas.codes import DeclaredCategory, declare_categories_from
from schemas.events import PolicyRef
from schemas.policy import Contributions, PayerPolicy, Policy
from schemas.settings import settings

#: the policy files shipped with onestop (ONESTOP_REGIONS names another folder)
REGIONS_DIR = Path(str(resources.files("policies").joinpath("regions")))
#: Payer definitions several regions share (e.g. the ordinary basic insurance), used as ``- use: FILE``.
SHARED_DIR = REGIONS_DIR / "shared"
#: libyaml's parser where PyYAML has it (its wheels do): the same nodes, lines and data as the
#: pure-Python one, ten times as fast (every policy file is read twice: its lines, then its data)
YAML_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _declared_categories() -> dict[str, DeclaredCategory]:
    """The categories the loaded policy files declare (for schemas.codes: an input's category may be
    one); none while the files are being read, or when one does not validate (whoever needs a rule
    then says which)."""
    if _READING:
        return {}
    try:
        return _declarations(regions_dir())
    except PolicyFileError:
        return {}


@cache
def _declarations(directory: Path) -> dict[str, DeclaredCategory]:
    found: dict[str, DeclaredCategory] = {}
    for policy in load_policies(directory):
        for declared in policy.categories:
            other = found.setdefault(declared.code, declared.declared())
            if other != declared.declared():
                raise PolicyFileError(
                    f"policy {policy.ref} declares the category {declared.code} otherwise than another "
                    f"policy file does ({other}); a category means one thing in every file"
                )
    return found


#: set while policy files are read (their categories are checked by each file against its own declarations)
_READING: list[bool] = []
declare_categories_from(_declared_categories)


def regions_dir() -> Path:
    """The folder of policy files in use: ONESTOP_REGIONS, else the shipped one."""
    return Path(settings.regions) if settings.regions else REGIONS_DIR


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
        node = yaml.compose(text, Loader=YAML_LOADER)
        data = yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        raise PolicyFileError(f"{name}: not valid YAML: {_said_in_full(text, error)}") from None
    if node is None or not isinstance(data, dict):
        raise PolicyFileError(f"{name}:1: expected a mapping of {', '.join(model.model_fields)}")
    lines = _line_map(node)
    for index, payer in enumerate(data.get("payers") or []):
        if isinstance(payer, dict) and set(payer) == {"use"}:
            data["payers"][index] = _shared_payer(str(payer["use"]), shared_dir, f"{name}:{lines[('payers', index)]}")
    declared = [c.get("code") for c in data.get("categories") or [] if isinstance(c, dict)]
    try:
        return model.model_validate(data, context={"declared": declared})
    except ValidationError as error:
        problems = [
            f"{name}:{_line_of(lines, e['loc'])}: {'.'.join(str(p) for p in e['loc']) or '(top)'}: {_problem(model, e)}"
            for e in error.errors()
        ]
        raise PolicyFileError("\n".join(problems)) from None


def _said_in_full(text: str, error: yaml.YAMLError) -> yaml.YAMLError:
    """The pure-Python parser's account of text libyaml refused: it quotes the line, with a caret
    under the place (libyaml's gives only line and column)."""
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
        yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as full:
        return full
    return error


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
    payer: dict[str, Any] = yaml.load(text, Loader=YAML_LOADER)  # (a mapping: it validated as a payer)
    return payer


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
    _READING.append(True)
    try:
        policies = tuple(load_policy_file(p) for p in sorted(directory.glob("*.yaml")))
    finally:
        _READING.pop()
    periods_in_force(policies)  # (periods that overlap, and supersessions that name no file, are errors)
    return policies


@dataclass(frozen=True)
class InForce:
    """When a policy is in force: from its in_force_from to the day before a newer policy that
    supersedes it takes over, or its own in_force_to (``end`` None: open)."""

    policy: Policy
    start: date
    end: date | None
    superseded_by: Policy | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def periods_in_force(policies: Iterable[Policy]) -> dict[int, InForce]:
    """Each policy's period in force (by id), the supersessions applied. Two periods of one insured
    place (a division code two files list) may overlap only where the later supersedes the earlier."""
    policies = tuple(policies)
    by_ref = {p.ref: p for p in policies}
    periods = {id(p): InForce(p, p.in_force_from, p.in_force_to) for p in policies}
    for newer in policies:
        if newer.supersedes is None:
            continue
        older = by_ref.get(newer.supersedes)
        if older is None:
            raise PolicyFileError(
                f"policy {newer.ref} supersedes {newer.supersedes}, which no policy file is "
                f"(policies of {newer.region}: {sorted(p.ref for p in policies if p.region == newer.region)})"
            )
        if newer.in_force_from <= older.in_force_from:
            raise PolicyFileError(
                f"policy {newer.ref} supersedes {older.ref} from {newer.in_force_from}: it must begin after "
                f"the policy it supersedes does ({older.in_force_from})"
            )
        own = periods[id(older)]
        until = newer.in_force_from - timedelta(days=1)
        if own.end is None or until < own.end:
            periods[id(older)] = InForce(older, own.start, until, newer)
    _check_no_overlap(periods.values())
    return periods


def _check_no_overlap(periods: Iterable[InForce]) -> None:
    by_code: dict[str, list[InForce]] = {}
    for period in periods:
        for code in period.policy.codes:
            by_code.setdefault(code, []).append(period)
    for code, group in by_code.items():
        group.sort(key=lambda p: p.start)
        for earlier, later in zip(group, group[1:]):
            if earlier.end is None or earlier.end >= later.start:
                raise PolicyFileError(
                    f"policies {earlier.policy.ref} and {later.policy.ref} of {_place(code)} overlap "
                    f"(a newer notice replaces an older one with `supersedes: {earlier.policy.ref}`)"
                )


def _place(code: str) -> str:
    """A division-code prefix in words."""
    return {2: f"province {code}", 4: f"pooled city {code}", 6: f"county {code}"}.get(len(code), f"division {code}")


def policy_for(insuplc_admdvs: str, day: date, policies: Iterable[Policy] | None = None) -> Policy:
    """The policy that settles a claim of the insured place on ``day``: of the policies in force
    that day, the one listing the longest division-code prefix of the place."""
    if policies is None:
        directory = regions_dir()
        found = _in_force(insuplc_admdvs, day, directory)
        if found is not None:
            return found
        serving = _serving(insuplc_admdvs, _index(directory))
    else:
        policies = tuple(policies)
        serving = _serving(insuplc_admdvs, _indexed(periods_in_force(policies)))
    if not serving:
        known = sorted({c for p in (load_policies() if policies is None else policies) for c in p.codes})
        raise NoPolicy(
            f"no policy for insured place {insuplc_admdvs} (pooled city {insuplc_admdvs[:4]}): no policy "
            f"file lists a division code it begins with; known: {known}"
        )
    for _, periods in serving:
        for period in periods:
            if period.covers(day):
                return period.policy
    shown = ", ".join(
        f"{p.policy.ref} from {p.start}" + (f" to {p.end}" if p.end else "") for _, ps in serving for p in ps
    )
    raise NoPolicy(f"no policy of {_place(serving[0][0])} in force on {day} (periods: {shown})")


def _serving(place: str, index: dict[str, list[InForce]]) -> list[tuple[str, list[InForce]]]:
    """The periods of the policies listing a prefix of ``place``, the longest prefix first."""
    return [(place[:n], index[place[:n]]) for n in range(len(place), 1, -1) if place[:n] in index]


@lru_cache(maxsize=50_000)  # (an insured place's days of a few years: every claim asks)
def _in_force(place: str, day: date, directory: Path) -> Policy | None:
    return next((p.policy for _, periods in _serving(place, _index(directory)) for p in periods if p.covers(day)), None)


@cache
def _periods(directory: Path) -> dict[int, InForce]:
    return periods_in_force(load_policies(directory))


@cache
def _index(directory: Path) -> dict[str, list[InForce]]:
    """The loaded policies' periods by the division-code prefix they list (grouped once: every claim asks)."""
    return _indexed(_periods(directory))


def _indexed(periods: dict[int, InForce]) -> dict[str, list[InForce]]:
    index: dict[str, list[InForce]] = {}
    for period in sorted(periods.values(), key=lambda p: p.start):
        for code in period.policy.codes:
            index.setdefault(code, []).append(period)
    return index


def in_force(policy: Policy) -> InForce:
    """When a loaded policy is in force, its supersession applied."""
    return _periods(regions_dir())[id(policy)]


def policy_named(region: str, policies: Iterable[Policy] | None = None) -> list[Policy]:
    """The policies of a region, by its name or a division code one of its files lists."""
    policies = load_policies() if policies is None else policies
    return [p for p in policies if p.region == region or region in p.codes]


def policies_of_place(insuplc_admdvs: str) -> list[Policy]:
    """Every loaded policy listing a prefix of the insured place, whatever its period."""
    return [p.policy for _, periods in _serving(insuplc_admdvs, _index(regions_dir())) for p in periods]


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


CONTRIBUTIONS_FILE = Path(str(resources.files("policies").joinpath("data/contributions.yaml")))


@cache
def load_contributions(path: Path = CONTRIBUTIONS_FILE) -> Contributions:
    """The year's individual contribution to resident insurance, per year, with its source (premium
    subsidies pay all or part of it: policies/premiums.py)."""
    return _validated(Contributions, path.read_text(encoding="utf-8"), str(path), SHARED_DIR)


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
