"""Topic administration: creating and deleting topics, and finding a topic's partitions.

Config is set at creation only: the embedded broker refuses AlterConfigs (BROKER-NOTES.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code

from .security import client_options

_ERR_NONE = 0
_ERR_UNKNOWN_TOPIC = 3
_ERR_TOPIC_EXISTS = 36


async def create_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 4,
    *,
    replication_factor: int = 1,
    config: Mapping[str, str] | None = None,
    timeout_ms: int = 30_000,
) -> list[str]:
    """Create topics; ones that already exist are left as they are.

    *config* (e.g. ``{"cleanup.policy": "compact"}``) is set at creation only:
    Tansu refuses AlterConfigs. Returns the names that were newly created.
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    topic_configs = dict(config or {})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms, **client_options())
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor, topic_configs=topic_configs) for name in wanted],
            timeout_ms=timeout_ms,
        )
    finally:
        await admin.close()
    created = []
    for entry in response.topic_errors:  # (topic, error_code[, error_message])
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        if code == _ERR_NONE:
            created.append(name)
        elif code != _ERR_TOPIC_EXISTS:
            raise for_code(code)(f"cannot create topic {name!r}: {message}")
    return created


async def delete_topics(bootstrap: str, names: Iterable[str], *, timeout_ms: int = 30_000) -> None:
    """Delete topics; ones that do not exist are ignored."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms, **client_options())
    await admin.start()
    try:
        response = await admin.delete_topics(wanted, timeout_ms=timeout_ms)
    finally:
        await admin.close()
    for name, code in response.topic_error_codes:
        if code not in (_ERR_NONE, _ERR_UNKNOWN_TOPIC):
            raise for_code(code)(f"cannot delete topic {name!r}")


async def partitions_of(bootstrap: str, topic: str, *, timeout_ms: int = 30_000) -> list[int]:
    """The partition numbers of ``topic``; LookupError when it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms, **client_options())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for entry in described:
        if entry["topic"] == topic and entry["error_code"] == _ERR_NONE and entry["partitions"]:
            return sorted(p["partition"] for p in entry["partitions"])
    raise LookupError(f"topic {topic} does not exist on {bootstrap}")
