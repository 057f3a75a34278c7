"""Publishing events to a topic, keyed by psn_no, each checked locally for the count.

Every line is published as it is, good or bad: intake (or the eligibility worker) is the one
place that rejects, so every rejection lands on its rejection topic with the reason. The local
check only counts what will be accepted and prints why the others will not.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from streams.codecs import BadInput, decode

def _key(raw: bytes) -> bytes | None:
    try:
        psn_no = orjson.loads(raw).get("psn_no")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(psn_no).encode() if psn_no else None


@dataclass
class Tally:
    accepted: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


async def publish(bootstrap: str, topic: str, events: list[bytes], model: type[BaseModel], progress=None) -> Tally:
    """Send every event to ``topic`` keyed by its psn_no; count those the schema accepts."""
    tally = Tally()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        pending = []
        for number, raw in enumerate(events, start=1):
            try:
                decode(model, raw)
                tally.accepted += 1
            except BadInput as problem:
                tally.rejected += 1
                tally.reasons.append(f"line {number}: {problem}")
            pending.append(await producer.send(topic, value=raw, key=_key(raw)))
            if progress is not None:
                progress.update(1)
        for future in pending:
            await future
    finally:
        await producer.stop()
    return tally
