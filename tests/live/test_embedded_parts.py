"""The real parts work: keyed messages through a consumer group, and SQL in PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.admin import create_topics, delete_topics

MESSAGES = 100
PERSONS = 10


async def test_keyed_messages_go_round_a_consumer_group(broker: str) -> None:
    topic = f"test.embedded.{uuid.uuid4().hex[:8]}"
    assert await create_topics(broker, [topic], partitions=4) == [topic]
    assert await create_topics(broker, [topic], partitions=4) == []  # exists: tolerated
    producer = AIOKafkaProducer(
        bootstrap_servers=broker,
        key_serializer=str.encode,
        value_serializer=orjson.dumps,
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker,
        group_id=f"test-embedded-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        fetch_max_wait_ms=100,
        key_deserializer=bytes.decode,
        value_deserializer=orjson.loads,
    )
    try:
        await producer.start()
        sent = [
            await producer.send(topic, key=f"psn-{seq % PERSONS}", value={"seq": seq, "fen": seq * 100})
            for seq in range(MESSAGES)
        ]
        written = await asyncio.gather(*sent)
        partition_of_person = {f"psn-{seq % PERSONS}": meta.partition for seq, meta in enumerate(written)}

        await consumer.start()
        received = []
        async with asyncio.timeout(60):
            while len(received) < MESSAGES:
                batches = await consumer.getmany(timeout_ms=1_000)
                for messages in batches.values():
                    received.extend(messages)
        await consumer.commit()

        assert sorted(m.value["seq"] for m in received) == list(range(MESSAGES))
        assert all(m.value["fen"] == m.value["seq"] * 100 for m in received)
        # The group got all four partitions, and the keys were spread over them.
        assert consumer.assignment() == {TopicPartition(topic, p) for p in range(4)}
        assert len(set(partition_of_person.values())) > 1
        # One person, one partition, in the order sent.
        seqs_of_person = defaultdict(list)
        for m in received:
            assert m.partition == partition_of_person[m.key]
            seqs_of_person[m.key].append(m.value["seq"])
        assert len(seqs_of_person) == PERSONS
        assert all(seqs == sorted(seqs) for seqs in seqs_of_person.values())
        # The group's committed offsets are at the end of every partition. (The fetch
        # high-water mark, not end_offsets(): Tansu's ListOffsets answers the base
        # offset + 1 when the last write was a multi-record batch.)
        ends = {tp: consumer.highwater(tp) for tp in consumer.assignment()}
        assert sum(ends.values()) == MESSAGES
        for tp, end in ends.items():
            assert await consumer.committed(tp) == end
    finally:
        await consumer.stop()
        await producer.stop()
        await delete_topics(broker, [topic])


async def test_postgres_creates_inserts_and_selects(database: str) -> None:
    table = f"test_payments_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(database)
    try:
        assert conn.get_server_version().major >= 16
        await conn.execute(
            f"""create table {table} (
                    claim_id text not null,
                    payer text not null,
                    paid_fen bigint not null check (paid_fen >= 0),
                    primary key (claim_id, payer))"""
        )
        await conn.executemany(
            f"insert into {table} (claim_id, payer, paid_fen) values ($1, $2, $3)",
            [("c1", "basic", 123_456), ("c1", "critical", 7_890), ("c2", "basic", 1)],
        )
        rows = await conn.fetch(f"select payer, paid_fen from {table} where claim_id = $1 order by payer", "c1")
        assert [(r["payer"], r["paid_fen"]) for r in rows] == [("basic", 123_456), ("critical", 7_890)]
        assert await conn.fetchval(f"select sum(paid_fen) from {table}") == 131_347
        # The (claim, payer) key refuses a second payment.
        try:
            await conn.execute(f"insert into {table} values ('c1', 'basic', 5)")
        except asyncpg.UniqueViolationError:
            pass
        else:
            raise AssertionError("a duplicate (claim, payer) was accepted")
    finally:
        await conn.execute(f"drop table if exists {table}")
        await conn.close()
