"""Claims settled per second by the pure engine, on one core, over a generated mixed year.

    .venv/bin/python -m bench.engine [--claims 20000] [--passes 1]

Also reports, as the baseline measured in the same run, the cost of only validating the same
claims from their JSON bytes (what any worker must do): the engine's figure is a ratio to it.
``--passes N`` settles the same year N times, each pass timed and printed (the machine's speed
varies from second to second; and the instructions of one pass are the difference of two runs
under callgrind, one pass against two: README, "Benchmarks").
"""

from __future__ import annotations

import argparse
import time
from functools import cache

import orjson

from policies.diseases import major_diseases
from policies.loader import load_policies
from policies.replay import settle_in_order
from schemas.compiled import running_compiled
from schemas.events import DischargeClaim

from .generator import Person, year_of_claims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--passes", type=int, default=1, help="settle the same year this many times, each timed")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON line of the figures instead (for bench.pipeline)"
    )
    args = parser.parse_args()
    population, claims = year_of_claims(args.claims)
    raw = [orjson.dumps(c.model_dump(mode="json")) for c in claims]
    parse_seconds = _validating(raw)
    people = by_person(population, claims)
    validate_per_s, passes = len(raw) / parse_seconds, []
    rules = "compiled (onestop compile-rules)" if running_compiled() else "from their Python source"
    if not args.json:
        print(f"rules: {rules}")
        print(f"validate only (baseline): {validate_per_s:,.0f} claims/s")
    for _ in range(max(1, args.passes)):
        settled, settle_seconds = settling(people)
        passes.append(round(settled / settle_seconds, 1))
        if not args.json:
            print(
                f"settle (pure engine):     {settled / settle_seconds:,.0f} claims/s  "
                f"= {parse_seconds / settle_seconds:.3f} × baseline  "
                f"({settled} claims of {len(people)} people, five regions)"
            )
    if args.json:
        print(
            orjson.dumps(
                {
                    "claims": len(raw),
                    "validate_per_s": round(validate_per_s, 1),
                    "settle_per_s": passes,
                    "compiled": running_compiled(),
                }
            ).decode()
        )


def _validating(raw: list[bytes]) -> float:
    """The seconds it takes to validate every claim from its JSON bytes."""
    started = time.perf_counter()
    for data in raw:
        DischargeClaim.model_validate_json(data)
    return time.perf_counter() - started


def settling(people: list[tuple[list[DischargeClaim], Person]]) -> tuple[int, float]:
    """How many claims of ``people`` (each person's claims, by_person) the pure rules settle,
    each person's in order, and the seconds it takes.

    Before the clock starts, the policy files and the major-disease list are read, and another
    generated year (other people, other claims) is settled: a worker reads the files once, at
    start, and works out each payer's reading for a set of categories and the outcome of its
    conditions over its first claims, then keeps them (policies/payer.py). So the figure is a
    running worker's, not its first second's."""
    load_policies()
    major_diseases()
    _warm_up()
    started = time.perf_counter()
    settled = _settled_in_order(people)
    return settled, time.perf_counter() - started


#: the year settled before the clock starts: its own seed, so none of its claims is a measured one
WARM_UP_CLAIMS, WARM_UP_SEED = 2_000, 1_000_003


@cache
def _warm_up() -> int:
    """Settle the warm-up year, once per process."""
    return _settled_in_order(by_person(*year_of_claims(WARM_UP_CLAIMS, seed=WARM_UP_SEED, prefix="W")))


def by_person(population: list[Person], claims: list[DischargeClaim]) -> list[tuple[list[DischargeClaim], Person]]:
    """Each person's claims (in the order given), with the person."""
    grouped: dict[str, list[DischargeClaim]] = {}
    for claim in claims:
        grouped.setdefault(claim.psn_no, []).append(claim)
    known = {p.psn_no: p for p in population}
    return [(own, known[psn_no]) for psn_no, own in grouped.items()]


def _settled_in_order(people) -> int:
    return sum(len(settle_in_order(own, person.categories)) for own, person in people)


if __name__ == "__main__":
    main()
