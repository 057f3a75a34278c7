"""A hospital's own topics (streams/topics.py): a worker declares their prefix among its sinks, the
harness lets it write exactly one hospital's topic under it and makes each the first time
(workers/harness.py), the records in the platform's shape go to the hospital's own topic and hold
nothing of the person's categories (workers/outbox.py)."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from unittest import mock

import pytest

from policies.ledger import replay
from schemas.nhsa import NhsaSettlement
from store import Outbox
from streams.topics import (
    PRESETTLE_REPLIES,
    SETTLEMENTS,
    SETTLEMENTS_NHSA,
    all_topics,
    config_of,
    nhsa_topic,
    presettle_reply_topic,
    sink_covering,
)
from workers.harness import Context, Outgoing, Worker, send_all
from workers.outbox import messages

from .test_ledger_life import grant, stay

NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)


def test_a_prefix_covers_one_hospitals_topic_and_nothing_else():
    sinks = ("claims.rejected", "claims.presettle.replies", "claims.presettle.replies.")
    assert sink_covering("claims.presettle.replies.H620702001", sinks) == "claims.presettle.replies."
    assert sink_covering("claims.presettle.replies", sinks) == "claims.presettle.replies"
    for stray in (
        "claims.presettle.replies.",
        "claims.presettle.replies.H1.x",
        "claims.presettle.repliesH1",
        "claims.presettle.replies.H1:x",
        "settlements.nhsa.H1",
        "claims.rejected.H1",
        f"claims.presettle.replies.{'H' * 65}",
    ):
        assert sink_covering(stray, sinks) is None, stray
    assert (
        presettle_reply_topic(None) == PRESETTLE_REPLIES
        and presettle_reply_topic("H1") == "claims.presettle.replies.H1"
    )
    with pytest.raises(ValueError):
        presettle_reply_topic("H1.x")
    assert nhsa_topic("H1") == "settlements.nhsa.H1" and nhsa_topic(None) == nhsa_topic("H1:x") == SETTLEMENTS_NHSA
    assert config_of("settlements.nhsa.H1") == all_topics()[SETTLEMENTS_NHSA]  # kept ten years, as the records
    assert config_of("claims.presettle.replies.H1") == all_topics()[PRESETTLE_REPLIES]


class Sent:
    def __init__(self) -> None:
        self.topics: list[str] = []

    async def send(self, topic, key, value):
        self.topics.append(topic)
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class Made(Context):
    """A context that counts the topics it is asked to make (the in-memory broker needs none made)."""

    def __init__(self) -> None:
        super().__init__("memory://hospital-topics", "test")
        self.asked: list[list[str]] = []

    async def ensure_topics(self, topics):
        wanted = sorted(topics)
        self.asked.append([t for t in wanted if t not in self._topics_made])
        await super().ensure_topics(wanted)


def test_the_harness_sends_only_declared_topics_and_makes_each_hospitals_topic_once():
    worker = Worker("w", "in", lambda c, b: [], sinks=("claims.rejected", "settlements.nhsa."))
    context, sent = Made(), Sent()

    async def run():
        await send_all(
            worker,
            context,
            [Outgoing("settlements.nhsa.H1", b"k", b"v"), Outgoing("claims.rejected", b"k", b"v")],
            sent.send,
        )
        await send_all(
            worker,
            context,
            [Outgoing("settlements.nhsa.H1", b"k", b"v"), Outgoing("settlements.nhsa.H2", b"k", b"v")],
            sent.send,
        )
        for stray in ("settlements.nhsa", "settlements.nhsa.H1.x", "settlements.completed"):
            with pytest.raises(RuntimeError, match="does not declare"):
                await send_all(worker, context, [Outgoing(stray, b"k", b"v")], sent.send)

    asyncio.run(run())
    assert sent.topics == ["settlements.nhsa.H1", "claims.rejected", "settlements.nhsa.H1", "settlements.nhsa.H2"]
    assert context.asked == [["settlements.nhsa.H1"], ["settlements.nhsa.H2"]]  # each once, the declared ones never


def _records():
    person = [grant(1, "PTZ", "low_income_serious_illness", "2018-01-01", event_id="civil.2018.7")]
    a = stay("TZ-A", "PTZ", "321202", "2018-03-01", "3000.00", fixmedins_code="HOSPITAL-A")
    b = stay("TZ-B", "PTZ", "321202", "2018-06-01", "100000.00", level="3", fixmedins_code="HOSPITAL-B")
    c = stay("TZ-C", "PTZ", "321202", "2018-07-01", "500.00")  # naming no hospital
    from policies.received import ClaimReceived

    return replay([*person, ClaimReceived(10, a), ClaimReceived(11, b), ClaimReceived(12, c)], NOW)


def test_each_record_goes_to_its_hospitals_own_topic_without_the_persons_categories():
    records = _records()
    with mock.patch.dict(os.environ, {"ONESTOP_NHSA_TOPIC": "1"}):
        out = messages(Outbox(records=records, alerts=[], wire={}))
    nhsa = [o for o in out if o.topic != SETTLEMENTS and o.topic.startswith("settlements.nhsa")]
    forms = {NhsaSettlement.model_validate_json(o.value).setlinfo.setl_id: (o.topic, o.value.decode()) for o in nhsa}
    assert {r.settlement_id: r.fixmedins_code for r in records} == {
        "HOSPITAL-A/TZ-A/settlement": "HOSPITAL-A",
        "HOSPITAL-B/TZ-B/settlement": "HOSPITAL-B",
        "HOSPITAL-A/TZ-A/adjustment/claim/HOSPITAL-B/TZ-B": "HOSPITAL-A",
        "TZ-C/settlement": None,
    }
    assert {setl_id: topic for setl_id, (topic, _) in forms.items()} == {
        "HOSPITAL-A/TZ-A/settlement": "settlements.nhsa.HOSPITAL-A",
        "HOSPITAL-B/TZ-B/settlement": "settlements.nhsa.HOSPITAL-B",
        "HOSPITAL-A/TZ-A/adjustment/claim/HOSPITAL-B/TZ-B": "settlements.nhsa.HOSPITAL-A",
        "TZ-C/settlement": "settlements.nhsa",
    }
    for _, text in forms.values():
        assert not any(
            word in text
            for word in (
                "low_income_serious_illness",
                "low-income serious illness",
                "低收入家庭大重病患者",
                "civil_affairs",
                "civil.2018.7",
            )
        )
    tz_b = NhsaSettlement.model_validate_json(forms["HOSPITAL-B/TZ-B/settlement"][1])
    assert (
        tz_b.setlinfo.maf_pay
        == next(
            line.amount
            for r in records
            if r.settlement_id == "HOSPITAL-B/TZ-B/settlement"
            for line in r.payments
            if line.payer.value == "assistance"
        )
        > 0
    )
    worker = Worker(
        "ledger",
        "claims.ledger",
        lambda c, b: [],
        sinks=("claims.rejected", "settlements.completed", "alerts.high_cost", "settlements.nhsa", "settlements.nhsa."),
    )
    assert all(worker.sink_of(o.topic) for o in out)
