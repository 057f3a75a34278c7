"""Pre-settlement answers only the hospital that signed, on its own topic, with nothing of the
person's categories (issue 27, finding 5): a system that verifies signatures, on a broker and a
database of its own, with the records in the platform's shape switched on.

A signed request of hospital H is answered on claims.presettle.replies.H only — a topic made with
that first answer — and the answer holds no category, authority or grant id although a category
pays; an unsigned request and one signed by another hospital's key for H are refused on
claims.rejected and answered nowhere. The claim, settled, reaches H's own settlements.nhsa.H. On
both drivers: each sends to the topics the harness makes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from click.testing import CliRunner

from cli import main
from cli.keys import register_key
from schemas.codes import CATEGORY_ZH, Category
from schemas.events import EligibilityChange, Rejection
from schemas.nhsa import NhsaSettlement, PresettleReply
from store.waiting import identities_recorded, settled_claims
from streams.codecs import encode
from streams.reader import read_all
from streams.signing import new_key, sign
from streams.topics import DISCHARGED, ELIGIBILITY, PRESETTLE, PRESETTLE_REPLIES, REJECTED, SETTLEMENTS_NHSA

from .conftest import system_of_its_own
from .test_trust import HOSPITAL, KEYS_FROM, OTHER, a_claim, rejections, send

NOW = datetime.now(timezone.utc)
PERSON = "PPRESETTLE"
GRANT_ID = "PS-grant-tekun-2022"


async def _topics(kafka: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _values_once_there(kafka: str, topic: str, count: int, timeout: float = 120) -> list[bytes]:
    """The values on ``topic`` once it holds ``count`` (it is made with its first record)."""
    found: list[bytes] = []
    for _ in range(int(timeout / 0.5)):
        if topic in await _topics(kafka):
            found = await read_all(kafka, topic, idle_seconds=0.5)
            if len(found) >= count:
                return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"only {len(found)} of {count} records on {topic} within {timeout:.0f} s")


async def onestop(system, *args: str):
    """`onestop …` as a hospital's window runs it against the system (in a thread: it runs its own event loop)."""
    env = {"ONESTOP_DATABASE_URL": system.database, "ONESTOP_KAFKA": system.kafka}
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env, catch_exceptions=False)


def request(request_id: str, hospital: str | None = HOSPITAL) -> bytes:
    return orjson.dumps({**orjson.loads(encode(a_claim("PS-1", PERSON, hospital))), "request_id": request_id})


@pytest.mark.parametrize("driver", ["aiokafka", "faust"])
async def test_a_hospital_gets_its_answer_on_its_own_topic_and_nothing_of_the_persons_categories(
    database, tmp_path_factory, driver
):
    keys = {
        "hospital": new_key("ps-hospital", "hospital", HOSPITAL),
        "other": new_key("ps-other", "hospital", OTHER),
        "civil": new_key("ps-civil", "authority", "civil_affairs"),
    }
    async with system_of_its_own(
        database,
        tmp_path_factory,
        f"presettle-trust-{driver}",
        {"ONESTOP_ACCEPT_UNSIGNED": "0", "ONESTOP_NHSA_TOPIC": "1", "ONESTOP_DRIVER": driver},
    ) as (system, store):
        for key in keys.values():
            await register_key(store, key, KEYS_FROM)
        grant = encode(
            EligibilityChange(
                event_id=GRANT_ID,
                psn_no=PERSON,
                category="tekun",
                action="grant",
                valid_from="2022-01-01",
                authority="civil_affairs",
                recorded_at=NOW,
            )
        )
        await send(system.kafka, ELIGIBILITY, [(grant, sign(grant, keys["civil"]))], key=PERSON.encode())
        await identities_recorded(store, 1, 120)

        good, unsigned, foreign = request("ps-good"), request("ps-unsigned"), request("ps-other-key")
        await send(
            system.kafka,
            PRESETTLE,
            [(unsigned, None), (foreign, sign(foreign, keys["other"])), (good, sign(good, keys["hospital"]))],
            key=PERSON.encode(),
        )

        # (a) the signed request of H: answered on H's own topic, once, with nothing of the category
        mine = f"{PRESETTLE_REPLIES}.{HOSPITAL}"
        [raw] = await _values_once_there(system.kafka, mine, 1)
        reply = PresettleReply.model_validate_json(raw)
        assert reply.request_id == "ps-good" and reply.error is None and reply.settlement.fixmedins_code == HOSPITAL
        assistance = next(line for line in reply.payments if line.payer.value == "assistance")
        assert assistance.amount > 0  # the category counts ...
        text = raw.decode()
        for secret in (Category.tekun.value, CATEGORY_ZH[Category.tekun], "civil_affairs", GRANT_ID):
            assert secret not in text, secret  # ... and is not named
        assert reply.settlement.identity == []

        # (b) the unsigned request and another hospital's key for H: refused, with the reason, answered nowhere
        refused = [r for r in await rejections(system.kafka, REJECTED, 2) if r.topic == PRESETTLE]
        reasons = sorted(r.reason for r in refused)
        assert len(refused) == 2, reasons
        assert any("unsigned" in reason for reason in reasons), reasons
        assert any(
            f"key ps-other speaks for hospital {OTHER}, not for hospital {HOSPITAL}" in reason for reason in reasons
        ), reasons
        await asyncio.sleep(3)  # the worker has long handled all three (the answer came after both refusals)
        assert [
            PresettleReply.model_validate_json(v).request_id
            for v in await read_all(system.kafka, mine, idle_seconds=0.5)
        ] == ["ps-good"]
        replies = {t for t in await _topics(system.kafka) if t.startswith(PRESETTLE_REPLIES)}
        assert replies == {PRESETTLE_REPLIES, mine}  # no topic of the other hospital's was made
        assert await read_all(system.kafka, PRESETTLE_REPLIES, idle_seconds=0.5) == []
        assert all(
            isinstance(Rejection.model_validate_json(v), Rejection) for v in await read_all(system.kafka, REJECTED)
        )

        # `onestop presettle --via-topic --key`: the hospital's window signs, names itself and reads its own topic
        key_file = tmp_path_factory.mktemp("window") / "hospital.key.json"
        key_file.write_text(keys["hospital"].model_dump_json())
        requests = key_file.with_name("requests.jsonl")
        requests.write_bytes(
            orjson.dumps({k: v for k, v in orjson.loads(request("ps-window")).items() if k != "fixmedins_code"})
        )
        asked = await onestop(
            system, "presettle", str(requests), "--via-topic", "--key", str(key_file), "--format", "json"
        )
        assert asked.exit_code == 0, asked.output
        assert PresettleReply.model_validate_json(asked.stdout).request_id == "ps-window"
        requests.write_bytes(request("ps-window-2", OTHER))
        refused_here = await onestop(system, "presettle", str(requests), "--via-topic", "--key", str(key_file))
        assert (
            refused_here.exit_code == 1
            and f"names hospital {OTHER}, but the key is hospital {HOSPITAL}'s" in refused_here.output
        )

        # the claim itself, signed and settled: its record in the platform's shape on H's own topic only
        claim = encode(a_claim("PS-1", PERSON))
        await send(system.kafka, DISCHARGED, [(claim, sign(claim, keys["hospital"]))], key=PERSON.encode())
        settled = await settled_claims(store, {"PS-1"}, 180)
        [form] = await _values_once_there(system.kafka, f"{SETTLEMENTS_NHSA}.{HOSPITAL}", 1)
        nhsa = NhsaSettlement.model_validate_json(form)
        assert nhsa.setlinfo.mdtrt_id == "PS-1" and nhsa.setlinfo.fund_pay_sumamt == settled["PS-1"].fund_pay_sumamt
        assert not any(
            secret in form.decode() for secret in (Category.tekun.value, CATEGORY_ZH[Category.tekun], GRANT_ID)
        )
        assert [(line.payer, line.amount) for line in reply.payments] == [
            (line.payer, line.amount) for line in settled["PS-1"].payments
        ]
        assert await read_all(system.kafka, SETTLEMENTS_NHSA, idle_seconds=0.5) == []
