"""Where the latency goes, hop by hop: from the producer timestamps of each claim's records on the
topics it passes, per phase and stage, p50 / p99 of the time from the record a stage reads to the
record it writes."""

from __future__ import annotations

from collections import defaultdict

from streams.reader import read_records

from .measuring import claim_id_of, percentile


async def _timestamps(bootstrap: str, topic: str, wanted: set[str], idle_seconds: float = 1.0) -> dict[str, int]:
    """The producer timestamp (ms) of the first record of each wanted claim on ``topic``, read from its beginning."""
    found: dict[str, int] = {}
    async for record in read_records(bootstrap, topic, idle_seconds=idle_seconds):
        claim_id = claim_id_of(record.value)
        if claim_id in wanted and claim_id not in found:
            found[claim_id] = record.timestamp
    return found


async def hop_breakdown(
    bootstrap: str, paths: dict[str, list[str]], stage_of: dict[str, str], phases: list[tuple[str, list[str]]]
) -> dict[str, dict[str, dict]]:
    """Per phase, per stage: p50 / p99 (ms) from the record a stage reads to the record it writes.

    ``paths``: each claim's topics in order (the first written by the bench, the last read by it);
    ``stage_of``: the stage reading each topic. Timestamps are the producers' (CreateTime, ms).
    """
    wanted = {c for _, ids in phases for c in ids}
    topics = sorted({t for c in wanted for t in paths[c]})
    stamps = {topic: await _timestamps(bootstrap, topic, wanted) for topic in topics}
    stages = list(dict.fromkeys(stage_of[t] for t in topics if t in stage_of))
    return {name: _percentiles(_stage_times(ids, paths, stage_of, stamps), stages) for name, ids in phases}


def _stage_times(
    ids: list[str], paths: dict[str, list[str]], stage_of: dict[str, str], stamps: dict[str, dict[str, int]]
) -> dict[str, list[float]]:
    """Per stage, the ms each claim spent from the topic the stage reads to the next one."""
    per_stage: dict[str, list[float]] = defaultdict(list)
    for claim_id in ids:
        path = paths[claim_id]
        for here, there in zip(path, path[1:]):
            if claim_id in stamps[here] and claim_id in stamps[there]:
                per_stage[stage_of[here]].append(stamps[there][claim_id] - stamps[here][claim_id])
    return per_stage


def _percentiles(per_stage: dict[str, list[float]], stages: list[str]) -> dict[str, dict]:
    out = {}
    for stage in stages:
        values = sorted(per_stage.get(stage, []))
        if values:
            out[stage] = {"n": len(values), "p50_ms": percentile(values, 0.5), "p99_ms": percentile(values, 0.99)}
    return out
