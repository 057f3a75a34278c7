"""`onestop audit replay` and `onestop audit verify` against the live ledger: no difference after a
live run; a ledger changed by one fen, and each kind of breach, found and named (then put back)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import asyncpg
from click.testing import CliRunner

from cli import main

from .test_ledger_life import a_busy_life


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


@asynccontextmanager
async def tampered(database: str, change: str, undo: str):
    """Change the ledger behind the system's back for the length of the block."""
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(change)
        yield
    finally:
        await conn.execute(undo)
        await conn.close()


async def _a_settlement_id(database: str) -> str:
    conn = await asyncpg.connect(database)
    try:
        return await conn.fetchval(
            "SELECT settlement_id FROM settlements"
            " WHERE kind = 'settlement' AND (record -> 'payments' -> 0 ->> 'amount')::numeric > 0 "
            "ORDER BY seq LIMIT 1"
        )
    finally:
        await conn.close()


async def test_replay_and_verify_pass_after_a_live_run_and_find_what_was_changed(live_system, store, monkeypatch):
    if not [s for _, s in await store.settlements(limit=1)]:
        await a_busy_life(live_system, store, prefix="A")  # people of its own: the ledger test lives "L"
    monkeypatch.setenv("ONESTOP_KAFKA", live_system.kafka)
    monkeypatch.setenv("ONESTOP_DATABASE_URL", live_system.database)
    replay = await asyncio.to_thread(_run, "audit", "replay")
    assert replay.exit_code == 0, replay.output
    assert "no difference" in replay.output and "s per 10,000 claims" in replay.output
    assert (await asyncio.to_thread(_run, "audit", "verify")).exit_code == 0

    target = await _a_settlement_id(live_system.database)

    def one_fen(sign: str) -> str:
        return (
            "UPDATE settlements SET record = jsonb_set(record, '{payments,0,amount}', "
            f"to_jsonb(((record -> 'payments' -> 0 ->> 'amount')::numeric {sign} 0.01)::text))"
            f" WHERE settlement_id = '{target}'"
        )

    async with tampered(live_system.database, one_fen("+"), one_fen("-")):
        replay = await asyncio.to_thread(_run, "audit", "replay")
        assert replay.exit_code == 1
        assert f"ledger: record {target} is not a valid record: " in replay.output  # it no longer adds up
        assert "fund_pay_sumamt" in replay.output and "1 differences" in replay.output

    def one_fen_everywhere(sign: str) -> str:  # the line, its sum and the person's share changed together
        return (
            "UPDATE settlements SET record = record || jsonb_build_object("
            "'payments', jsonb_set(record -> 'payments', '{0,amount}', "
            f"to_jsonb(((record -> 'payments' -> 0 ->> 'amount')::numeric {sign} 0.01)::text)), "
            f"'fund_pay_sumamt', ((record ->> 'fund_pay_sumamt')::numeric {sign} 0.01)::text, "
            f"'psn_part_amt', ((record ->> 'psn_part_amt')::numeric {'-' if sign == '+' else '+'} 0.01)::text) "
            f"WHERE settlement_id = '{target}'"
        )

    async with tampered(live_system.database, one_fen_everywhere("+"), one_fen_everywhere("-")):
        replay = await asyncio.to_thread(_run, "audit", "replay")
        assert replay.exit_code == 1
        assert f"ledger: record {target} (settlement," in replay.output and "(0.01)" in replay.output

    breaches = {
        "year totals": (
            "UPDATE year_totals SET paid = paid + 0.01 WHERE (psn_no, year, account) = "
            "(SELECT psn_no, year, account FROM year_totals WHERE paid > 0 ORDER BY psn_no LIMIT 1)",
            "UPDATE year_totals SET paid = paid - 0.01 WHERE (psn_no, year, account) = "
            "(SELECT psn_no, year, account FROM year_totals WHERE paid > 0 ORDER BY psn_no LIMIT 1)",
            "but its lines sum to",
        ),
        "unbalanced": (
            f"UPDATE settlements SET psn_part_amt = psn_part_amt + 0.01 WHERE settlement_id = '{target}'",
            f"UPDATE settlements SET psn_part_amt = psn_part_amt - 0.01 WHERE settlement_id = '{target}'",
            "!= medfee_sumamt",
        ),
        "settled twice": (
            f"INSERT INTO settlements (settlement_id, claim_id, kind, psn_no, record, medfee_sumamt, fund_pay_sumamt, "
            f"psn_part_amt, year, published, seq) SELECT settlement_id || '/copy', claim_id, kind, psn_no, "
            f"jsonb_set(record, '{{payments}}', '[]'::jsonb), 0, 0, 0, year, true, seq + 1000000 "
            f"FROM settlements WHERE settlement_id = '{target}'",
            f"DELETE FROM settlements WHERE settlement_id = '{target}/copy'",
            "settlements of kind settlement",
        ),
        "a line twice": (
            f"UPDATE settlements SET record = jsonb_set(record, '{{payments}}', (record -> 'payments') || "
            f"jsonb_build_array(jsonb_set(record -> 'payments' -> 0, '{{amount}}', '\"0.00\"')))"
            f" WHERE settlement_id = '{target}'",
            f"UPDATE settlements SET record = jsonb_set(record, '{{payments}}', (record -> 'payments') - -1) "
            f"WHERE settlement_id = '{target}'",
            "lines of",
        ),
        "no first record": (
            "INSERT INTO settlements (settlement_id, claim_id, kind, psn_no, record, medfee_sumamt, fund_pay_sumamt, "
            "psn_part_amt, year, published, seq) SELECT 'ghost/adjustment/x', 'ghost', 'adjustment', psn_no, "
            "jsonb_set(record, '{payments}', '[]'::jsonb), 0, 0, 0, year, true, seq + 1000000 FROM settlements LIMIT 1",
            "DELETE FROM settlements WHERE settlement_id = 'ghost/adjustment/x'",
            "has no first record",
        ),
    }
    for name, (change, undo, words) in breaches.items():
        async with tampered(live_system.database, change, undo):
            verify = await asyncio.to_thread(_run, "audit", "verify")
            assert verify.exit_code == 1, name
            assert "BREACH" in verify.output and words in verify.output, (name, verify.output)
    assert (await asyncio.to_thread(_run, "audit", "verify")).exit_code == 0
