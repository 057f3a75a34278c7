"""Where the claims a phase did not settle are waiting: per worker, what its consumer group has
committed against the end of its source topic, partition by partition, and how many members the
group has (and which holds the partition, where the broker says) — read from the broker while the
parts still run, so that a stall explains itself.

A partition with records after its group's committed offset holds work not yet done (or done and
not yet committed: the drivers commit every second); a group with no member will never do it.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.group import MemberAssignment

from streams.admin import partitions_of
from streams.security import client_options
from workers.registry import WORKERS


async def waiting_work(bootstrap: str, sources: Mapping[str, str] | None = None) -> list[dict]:
    """Every (worker, partition) whose source has records after the committed offset of the
    worker's group (``sources``: worker → its source topic; default: every worker's):
    ``{"worker", "topic", "partition", "committed", "end", "members", "held_by"}``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    ends_reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client_options())
    await admin.start()
    await ends_reader.start()
    try:
        found = []
        for name, topic in (sources or {name: worker.source for name, worker in WORKERS.items()}).items():
            found += await _behind(admin, ends_reader, bootstrap, name, topic)
        return found
    finally:
        await ends_reader.stop()
        await admin.close()


async def _behind(
    admin: AIOKafkaAdminClient, ends_reader: AIOKafkaConsumer, bootstrap: str, name: str, topic: str
) -> list[dict]:
    group = f"onestop-{name}"
    partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    ends = await ends_reader.end_offsets(partitions)
    committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    members, holders = await _members(admin, group)
    out = []
    for tp in partitions:
        done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0
        if ends[tp] > done:
            out.append(
                {
                    "worker": name,
                    "topic": topic,
                    "partition": tp.partition,
                    "committed": done,
                    "end": ends[tp],
                    "members": members,
                    "held_by": holders.get((topic, tp.partition)),
                }
            )
    return out


async def _members(admin: AIOKafkaAdminClient, group: str) -> tuple[int | None, dict[tuple[str, int], str]]:
    """How many members the group has, and (topic, partition) → the member holding it where the
    broker says (the embedded Tansu lists the members but not their assignments)."""
    try:
        responses = await admin.describe_consumer_groups([group])
    except Exception:  # noqa: BLE001 - a diagnosis must not end the run it explains
        return None, {}
    members, holders = 0, {}
    for response in responses:
        for described in response.to_object()["groups"]:
            for member in described["members"]:
                members += 1
                if member["member_assignment"]:
                    for topic, numbers in MemberAssignment.decode(member["member_assignment"]).assignment:
                        holders.update({(topic, n): member["member_id"] for n in numbers})
    return members, holders


def described(waiting: list[dict]) -> list[str]:
    """Lines for the report: one per partition with work waiting."""
    return [
        f"    {w['worker']}: {w['topic']}[{w['partition']}] committed {w['committed']} of {w['end']} "
        f"({w['end'] - w['committed']} waiting); {_holder(w)}"
        for w in waiting
    ]


def _holder(waiting: dict) -> str:
    if waiting["held_by"]:
        return f"held by {waiting['held_by']}"
    if waiting["members"] is None:
        return "the group could not be described"
    return f"{waiting['members']} member(s) in the group" + (
        "" if waiting["members"] == 0 else ", the broker does not say which holds it"
    )
