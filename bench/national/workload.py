"""The claims of a simulated window: who sends them, when, by which route, on which partitions."""

from __future__ import annotations

import bisect
import random

from .model import INDEX, INTAKE, ROUTES_WITH_CATEGORY, Config, rate_factor


class Claim:
    """One claim on its way: its route (stage indexes), where it is, its partitions and database node."""

    __slots__ = ("t0", "route", "hop", "part_in", "part_down", "node", "inpatient", "hot", "dup", "settled")

    def __init__(self, t0, route, part_in, part_down, node, inpatient, hot, dup=False):
        self.t0, self.route, self.hop = t0, route, 0
        self.part_in, self.part_down, self.node = part_in, part_down, node
        self.inpatient, self.hot, self.dup, self.settled = inpatient, hot, dup, -1.0

    def again_at(self, stage: int) -> Claim:
        """The same message delivered to ``stage`` once more (a redelivery after a crash)."""
        twin = Claim(self.t0, self.route, self.part_in, self.part_down, self.node, self.inpatient, self.hot, True)
        twin.hop = self.route.index(stage)
        return twin

    def partition_at(self, stage: int) -> int:
        """The partition it is on for ``stage``: intake reads the hospitals' topic, the others ours."""
        return self.part_in if stage == INTAKE else self.part_down


def workload(cfg: Config, rng: random.Random, partitions: int, nodes: int) -> list[Claim]:
    """The window's claims in publish order: Poisson arrivals shaped by the profile, each of a
    person (a heavy user's fixed partition, or any), with a route and a database node."""
    total = sum(w for w, _ in ROUTES_WITH_CATEGORY)
    weights = [w / total for w, _ in ROUTES_WITH_CATEGORY]
    category_routes = [tuple(INDEX[n] for n in ("intake", *r, "ledger")) for _, r in ROUTES_WITH_CATEGORY]
    plain_route = category_routes[0]
    route_cumulative = [sum(weights[: i + 1]) for i in range(len(weights))]
    aligned_in, aligned_down = cfg.align == "all", cfg.align in ("downstream", "all")
    heavy_cumulative = []
    acc = 0.0
    for k in range(1, cfg.heavy_persons + 1):
        acc += 1.0 / k**cfg.zipf
        heavy_cumulative.append(acc)
    # each heavy user's (partition by the key's hash, Citus shard)
    heavy_place = [(rng.randrange(partitions), rng.randrange(partitions)) for _ in range(cfg.heavy_persons)]

    window = cfg.seconds * 1000.0
    rate = cfg.offered_per_s * (1.0 / cfg.cells) / 1000.0  # per ms, in this cell
    inpatient_share = cfg.inpatient_per_s / cfg.offered_per_s if cfg.offered_per_s else 0.0
    peak_factor = max(cfg.burst_factor, 1.0) if cfg.profile == "burst" else 1.0
    claims: list[Claim] = []
    t = 0.0
    while rate > 0:
        t += rng.expovariate(rate * peak_factor)
        if t >= window:
            break
        if rng.random() * peak_factor > rate_factor(cfg, t):
            continue  # thinned: the profile is below its peak here
        if rng.random() < cfg.heavy_share and cfg.heavy_persons:
            part_in, shard = heavy_place[bisect.bisect_left(heavy_cumulative, rng.random() * heavy_cumulative[-1])]
        else:
            part_in, shard = rng.randrange(partitions), rng.randrange(partitions)
        route = plain_route
        if rng.random() < cfg.category_share:
            route = category_routes[bisect.bisect_left(route_cumulative, rng.random() * route_cumulative[-1])]
        part_down = shard if aligned_down else part_in  # unaligned: every topic by the same key hash
        if aligned_in:
            part_in = part_down
        node = shard * nodes // partitions
        claims.append(Claim(t, route, part_in, part_down, node, rng.random() < inpatient_share, False))
    if cfg.hot_rate > 0:  # one person's backlog, all on partition 0
        t = 0.0
        while True:
            t += rng.expovariate(cfg.hot_rate / 1000.0)
            if t >= window:
                break
            claims.append(Claim(t, plain_route, 0, 0, 0, False, True))
        claims.sort(key=lambda c: c.t0)
    return claims
