"""What the benchmark offers: the generated people and their grants, the claims of each phase
(mixing all five regions), and the claims as messages for the pipeline or for the baseline."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from bench import baseline
from bench.generator import Person, year_of_claims
from schemas.events import DischargeClaim, EligibilityChange
from streams.codecs import encode

from .measuring import Message, Plan


def grants_for(population: list[Person]) -> list[bytes]:
    return [
        encode(
            EligibilityChange.grant_of(
                p.psn_no, held, baseline.grant_id(p.psn_no, held.code.value), datetime(2016, 1, 1, tzinfo=timezone.utc)
            )
        )
        for p in population
        for held in p.categories
    ]


@dataclass
class Workload:
    population: list[Person]
    warm: list[DischargeClaim]
    loads: list[tuple[int, list[DischargeClaim]]]
    saturation: list[DischargeClaim]
    profile: list[DischargeClaim]
    hops_mean: float
    hops: int
    message_size: int
    routes: dict[str, tuple[str, ...]]


def workload(
    rates: list[int], seconds: float, saturation: int, profile_pool: int, seed: int, hops_override: int | None = None
) -> Workload:
    wanted = sum(int(r * seconds) for r in rates) + saturation + profile_pool
    population, claims = year_of_claims(wanted + 400, seed=seed)
    # The regions' policy years differ (2018 … 2022): order by day of the year, so that every
    # phase mixes all five regions; each person's claims stay in discharge order.
    claims.sort(key=lambda c: (c.enddate.month, c.enddate.day, c.enddate.year))
    routes = baseline.routes(population, claims)
    warm, rest = _warm_and_rest(claims, routes)
    loads, at = [], 0
    for rate in rates:
        n = int(rate * seconds)
        loads.append((rate, rest[at : at + n]))
        at += n
    sat, at = rest[at : at + saturation], at + saturation
    measured = [c for _, part in loads for c in part] + sat
    hops_mean, hops = baseline.hops_of(population, measured)
    return Workload(
        population,
        warm,
        loads,
        sat,
        rest[at : at + profile_pool],
        hops_mean,
        hops_override or hops,
        baseline.mean_flight_size(population, measured),
        {c.claim_id: r for c, r in zip(claims, routes)},
    )


def _warm_and_rest(
    claims: list[DischargeClaim], routes: list[tuple[str, ...]]
) -> tuple[list[DischargeClaim], list[DischargeClaim]]:
    """Three claims of every route to warm up with (so every worker is warm), and the others."""
    by_route: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, path in enumerate(routes):
        by_route[path].append(i)
    warm_at = {i for indices in by_route.values() for i in indices[:3]}
    return ([c for i, c in enumerate(claims) if i in warm_at], [c for i, c in enumerate(claims) if i not in warm_at])


def claims_as_messages(claims: list[DischargeClaim]) -> list[Message]:
    return [(c.claim_id, c.psn_no.encode(), encode(c)) for c in claims]


def padded_as_messages(claims: list[DischargeClaim], size: int) -> list[Message]:
    return [(c.claim_id, c.psn_no.encode(), baseline.padded(c.claim_id, size)) for c in claims]


def plan(work: Workload, seconds: float, as_messages: Callable[[list[DischargeClaim]], list[Message]]) -> Plan:
    """The phases: each fixed load for ``seconds``, then saturation."""
    phases: Plan = [(f"{rate}/s × {seconds:g}s", float(rate), as_messages(claims)) for rate, claims in work.loads]
    phases.append((f"saturation {len(work.saturation)}", None, as_messages(work.saturation)))
    return phases
