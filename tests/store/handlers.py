"""The workers' own handlers on one store, with topics in memory: what a test publishes — signed, as
hospitals and authorities sign it — runs through every worker (workers/batches.py: what a handler
cannot handle is parked) until nothing is left to read. The store is the backend's under test, so
on PostgreSQL every string that reaches a column reaches a real one."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import orjson
from pydantic import BaseModel

from cli.keys import register_key
from schemas.events import Rejection
from schemas.keys import KeyFile
from store import Store
from streams.codecs import encode
from streams.signing import new_key, sign
from workers.batches import handle_and_send
from workers.harness import Context, Incoming, Worker
from workers.registry import WORKERS

HOSPITAL = "H620702001"
#: the keys' validity begins before the worked cases' dates: an event is judged at its own time too
KEYS_FROM = datetime(2000, 1, 1, tzinfo=timezone.utc)
KEYS = {
    "hospital": new_key("hospital-1", "hospital", HOSPITAL),
    "civil_affairs": new_key("civil-1", "authority", "civil_affairs"),
    "rural_revitalisation": new_key("rural-1", "authority", "rural_revitalisation"),
    "medical_insurance": new_key("finance-1", "authority", "medical_insurance"),
}


async def register_keys(store: Store) -> None:
    for key in KEYS.values():
        await register_key(store, key, valid_from=KEYS_FROM)


class Pipeline:
    """Topics as lists of messages (one partition each: a person's order is what matters), and every
    worker reading its own, in turn, until all is read."""

    def __init__(self, url: str) -> None:
        self.context = Context(url, "pipeline")
        self.topics: dict[str, list[Incoming]] = {}
        self.read: dict[str, int] = {}  # worker -> next offset of its topic

    async def send(self, topic: str, key: bytes | None, value: bytes, headers=()):
        messages = self.topics.setdefault(topic, [])
        messages.append(Incoming(key, value, topic, 0, len(messages), tuple(headers)))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def publish(self, topic: str, event: BaseModel | dict | bytes, key: str, signer: KeyFile | None) -> Incoming:
        """An event as its producer writes it (a dict or bytes as they are, however malformed), signed
        by ``signer``; the message as it sits on the topic."""
        raw = event if isinstance(event, bytes) else orjson.dumps(event) if isinstance(event, dict) else encode(event)
        await self.send(topic, key.encode(), raw, sign(raw, signer) if signer is not None else ())
        return self.topics[topic][-1]

    async def step(self, worker: Worker, size: int = 50) -> bool:
        batch = self.topics.get(worker.source, [])[self.read.get(worker.name, 0) :][:size]
        if not batch:
            return False
        await handle_and_send(worker, self.context, batch, self.send)
        self.read[worker.name] = batch[-1].offset + 1
        return True

    async def drain(self, workers: dict[str, Worker] = WORKERS) -> None:
        while any([await self.step(worker) for worker in workers.values()]):
            pass

    def rejections(self, topic: str) -> list[Rejection]:
        return [Rejection.model_validate_json(m.value) for m in self.topics.get(topic, [])]

    def refusal_of(self, message: Incoming, topic: str) -> str:
        """The reason the rejection topic gives for ``message`` (AssertionError when it gives none)."""
        reasons = [r.reason for r in self.rejections(topic) if r.topic == message.topic and r.offset == message.offset]
        assert len(reasons) == 1, f"{message.topic}@{message.offset} was refused {len(reasons)} times on {topic}"
        return reasons[0]

    async def close(self) -> None:
        await self.context.close()


def url_of(backend) -> str:
    """The URL the workers open the backend's store with (the same data as the test's store)."""
    return backend.url if backend.name == "postgres" else backend.urls[-1]
