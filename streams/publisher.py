"""Publishing events to a topic, keyed by psn_no, each checked locally for the count.

Every line is published as it is, good or bad: the workers are the one place that rejects, so every
rejection lands on its rejection topic with the reason. The local check only counts what will be
accepted and prints why the others will not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from schemas.keys import KeyFile
from streams.codecs import BadInput, decode
from streams.security import client_options
from streams.signing import sign


def _key(raw: bytes, field: str) -> bytes | None:
    try:
        value = orjson.loads(raw).get(field)
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(value).encode() if value else None


@dataclass
class Tally:
    accepted: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


async def publish(
    bootstrap: str,
    topic: str,
    events: list[bytes],
    model: type[BaseModel],
    progress=None,
    key_field: str = "psn_no",
    signed_by: Callable[[bytes], KeyFile | None] | KeyFile | None = None,
) -> Tally:
    """Send every event to ``topic`` keyed by its ``key_field`` (the person), signed by the key
    ``signed_by`` gives (a key, or a function choosing one per event); count those the schema accepts."""
    tally = Tally()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **client_options())
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
            key = signed_by(raw) if callable(signed_by) else signed_by
            headers = sign(raw, key) if key is not None else None
            pending.append(await producer.send(topic, value=raw, key=_key(raw, key_field), headers=headers))
            if progress is not None:
                progress.update(1)
        for future in pending:
            await future
    finally:
        await producer.stop()
    return tally
