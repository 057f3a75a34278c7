"""The chaos run's input: a generated year of claims with its people's grants, repeated and
malformed events, synthetic identity numbers and names (so that a leak into a log can be searched
for); deterministic for a seed, and checked against the schemas before anything is published."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone

import orjson

from bench.generator import Person, year_of_claims
from policies.loader import NoPolicy, policy_for
from policies.plausible import implausible
from schemas.events import ClaimCancellation, DischargeClaim, EligibilityChange
from streams.codecs import BadInput, decode, encode

from .life import LifeEvents, make_life
from .malformed import (
    ALL_KINDS,
    CONFLICT,
    GRANT_KINDS,
    Malformed,
    conflicting_claim,
    malformed_claim,
    malformed_grant,
    unparsable_grant,
)

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "秀英桂兰建国志强玉梅海燕春华凤淑珍文明丽娟永红金德胜秋菊宝山雪长青霞卫东晓振家福禄寿喜佳慧敏"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

#: (position, order, bytes) of a discharge event: sorted, they are the publish order
Placed = tuple[float, int, bytes]


def synthetic_id(division: str, birth: date, sequence: int) -> str:
    """An 18-character resident identity number whose check character is deliberately wrong."""
    body = f"{division}{birth:%Y%m%d}{sequence:03d}"
    right = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS)) % 11]
    return body + "0123456789X"[("0123456789X".index(right) + 1) % 11]


@dataclass
class ChaosInput:
    people: list[Person]
    names: dict[str, str]  # psn_no -> name
    grants: list[bytes]  # good eligibility events
    bad_grants: list[Malformed]  # for eligibility.rejected
    events: list[bytes]  # every discharge event in publish order: good, repeated, malformed
    good: dict[str, DischargeClaim]  # claim key (hospital/claim_id, schemas/ids.py) -> claim
    malformed: list[Malformed]  # for claims.rejected
    repeated_adjacent: int = 0
    repeated_later: int = 0
    life: LifeEvents = field(default_factory=LifeEvents)  # corrections (also in events), cancellations, revocations

    @property
    def secrets(self) -> set[str]:
        """What must never be in clear in a log: every identity number and name used."""
        return set(self.names) | set(self.names.values())


def claim_dict(claim: DischargeClaim, name: str) -> dict:
    return {**orjson.loads(encode(claim)), "psn_name": name}


def _reason_of(raw: bytes) -> str | None:
    """What intake will say about a discharge event (None: it is accepted)."""
    try:
        claim = decode(DischargeClaim, raw)
        if (implausible_because := implausible(claim, datetime.now(timezone.utc))) is not None:
            return implausible_because
        policy_for(claim.insuplc_admdvs, claim.enddate)
    except (BadInput, NoPolicy) as problem:
        return str(problem)
    return None


def make_input(
    claims: int = 10_000, seed: int = 7, *, repeated: float = 0.10, malformed: float = 0.05, life: float = 0.03
) -> ChaosInput:
    """The chaos run's input, deterministic for a seed; every event is checked against the schemas here.
    ``life``: the share of claims corrected, of claims cancelled, and of people losing a category."""
    rng = random.Random(seed * 7919 + 1)
    population, made = year_of_claims(claims, seed=seed)
    numbers, names = _identities(population, rng)
    people = [replace(p, psn_no=numbers[p.psn_no]) for p in population]
    grants = _grants(people, names)
    good, dicts = _good_claims(made, numbers, names)
    raws = [orjson.dumps(d) for d in dicts]
    repeats, adjacent, later = _repeats(raws, claims, repeated, rng)
    bad, misplaced = _malformed_claims(dicts, claims, malformed, rng)
    changes = make_life(dicts, people, names, life, random.Random(seed * 104_729 + 3))
    placed: list[Placed] = [(i, 0, raw) for i, raw in enumerate(raws)] + repeats + misplaced
    placed += [(position, 4, raw) for position, raw in changes.corrections]
    placed.sort(key=lambda p: (p[0], p[1]))
    bad_grants = _malformed_grants(people, names, rng)
    made_input = ChaosInput(
        people,
        names,
        grants,
        bad_grants,
        [raw for _, _, raw in placed],
        good,
        bad,
        repeated_adjacent=adjacent,
        repeated_later=later,
        life=changes,
    )
    _self_check(made_input)
    return made_input


def _identities(population: list[Person], rng: random.Random) -> tuple[dict[str, str], dict[str, str]]:
    """A synthetic identity number for each generated person (generated psn_no -> number) and a
    name for each number (number -> name), all different."""
    numbers: dict[str, str] = {}
    names: dict[str, str] = {}
    used_names: set[str] = set()
    for person in population:
        while True:
            number = synthetic_id(
                person.insuplc_admdvs, date(1940, 1, 1) + timedelta(days=rng.randint(0, 27_000)), rng.randint(0, 999)
            )
            if number not in names:
                break
        while True:
            name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN)
            if name not in used_names:
                break
        numbers[person.psn_no], names[number] = number, name
        used_names.add(name)
    return numbers, names


def _grants(people: list[Person], names: dict[str, str]) -> list[bytes]:
    """A grant of every category each person holds, with the person's name, under opaque event_ids."""
    grants = []
    for person in people:
        for held in person.categories:
            change = EligibilityChange.grant_of(
                person.psn_no,
                held,
                f"ELG{len(grants):06d}",
                datetime(held.valid_from.year, 1, 1, 9, tzinfo=timezone.utc),
            )
            grants.append(orjson.dumps({**orjson.loads(encode(change)), "psn_name": names[person.psn_no]}))
    return grants


def _good_claims(
    made: list[DischargeClaim], numbers: dict[str, str], names: dict[str, str]
) -> tuple[dict[str, DischargeClaim], list[dict]]:
    """The generated claims under the synthetic numbers and opaque claim_ids: by their key (a claim
    is its hospital's and its id), and as dicts with the person's name in the order generated."""
    good: dict[str, DischargeClaim] = {}
    dicts: list[dict] = []
    for number, claim in enumerate(made):
        renamed = claim.model_copy(
            update={
                "psn_no": numbers[claim.psn_no],
                "claim_id": f"HIS{number:07d}",
                "fixmedins_code": hospital_of(claim.mdtrtarea_admvs, number),
            }
        )
        good[renamed.key] = renamed
        dicts.append(claim_dict(renamed, names[renamed.psn_no]))
    return good, dicts


def hospital_of(division: str, number: int) -> str:
    """One of three hospitals of the place of treatment (定点医药机构编号 in the platform's H + 11 digits)."""
    return f"H{division}{number % 3 + 1:05d}"


def _repeats(raws: list[bytes], claims: int, share: float, rng: random.Random) -> tuple[list[Placed], int, int]:
    """Exact repeats of ``share`` of the events, half right after the original and half much later
    (often in another slice); with how many of each."""
    chosen = rng.sample(range(claims), round(claims * share))
    half = len(chosen) // 2
    placed: list[Placed] = [(i, 1, raws[i]) for i in chosen[:half]]
    for i in chosen[half:]:
        later = rng.uniform(min(claims - 0.5, i + max(1, claims // 4)), claims + 0.5)
        placed.append((later, 2, raws[i]))
    return placed, half, len(chosen) - half


def _malformed_claims(
    dicts: list[dict], claims: int, share: float, rng: random.Random
) -> tuple[list[Malformed], list[Placed]]:
    """``share`` of malformed discharge events (at least one of every kind), each made from a random
    good claim and placed at a random moment (a conflicting one after its original)."""
    bad: list[Malformed] = []
    placed: list[Placed] = []
    for n in range(max(len(ALL_KINDS), round(claims * share))):
        kind = ALL_KINDS[n % len(ALL_KINDS)]
        source = rng.randrange(claims)
        # a unique reference first (a field the schemas ignore): every bad event differs from every other
        base = {"hospital_ref": f"BAD{n:06d}", **dicts[source], "claim_id": f"BAD{n:06d}"}
        position = rng.uniform(0, claims)
        if kind == CONFLICT:
            raw, word = conflicting_claim(base["hospital_ref"], dicts[source])
            position = rng.uniform(source + 0.6, claims + 0.5)
        else:
            raw, word = malformed_claim(kind, base, n // len(ALL_KINDS), rng)
        bad.append(Malformed(kind, raw, word))
        placed.append((position, 3, raw))
    return bad, placed


def _malformed_grants(people: list[Person], names: dict[str, str], rng: random.Random) -> list[Malformed]:
    """One malformed eligibility event of every kind, for random people, and one that is not JSON."""
    bad = []
    for n, kind in enumerate(GRANT_KINDS):
        person = people[rng.randrange(len(people))]
        bad.append(malformed_grant(n, kind, person.psn_no, names[person.psn_no]))
    bad.append(unparsable_grant(people[0].psn_no))
    return bad


def _self_check(made: ChaosInput) -> None:
    """Every good event is accepted and every malformed one refused for its own reason, before publishing."""
    raws = [bad.raw for bad in made.malformed]
    if len(set(raws)) != len(raws):
        raise AssertionError("two malformed events are the same bytes: their rejections could not be told apart")
    _check_claims(made)
    _check_grants(made)


def _check_claims(made: ChaosInput) -> None:
    for key, claim in made.good.items():
        raw = orjson.dumps(claim_dict(claim, made.names[claim.psn_no]))
        if (reason := _reason_of(raw)) is not None:
            raise AssertionError(f"good claim {key} would be rejected: {reason}")
    for _, raw in made.life.corrections:
        if (reason := _reason_of(raw)) is not None:
            raise AssertionError(f"a corrected bill would be rejected: {reason}")
    for _, raw in made.life.cancellations:
        decode(ClaimCancellation, raw)
    for bad in made.malformed:
        if bad.kind == CONFLICT:
            continue
        reason = _reason_of(bad.raw)
        if reason is None or bad.expect not in reason:
            raise AssertionError(f"malformed event of kind {bad.kind!r} would get reason {reason!r}")


def _check_grants(made: ChaosInput) -> None:
    for grant in made.grants + made.life.revocations:
        decode(EligibilityChange, grant)
    for bad in made.bad_grants:
        try:
            decode(EligibilityChange, bad.raw)
        except BadInput as problem:
            if bad.expect not in str(problem):
                raise AssertionError(f"bad grant {bad.kind!r}: reason {problem}") from None
        else:
            raise AssertionError(f"bad grant {bad.kind!r} is accepted")
