"""The schema can be distributed by person (issue 28, finding 5): read from the live schema, every
table is laid out (store/postgres/distribution.py), every unique key of a distributed table holds its
distribution column, and nothing in store/ takes a table lock or an advisory lock but the migrations'."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from store.postgres import PostgresStore, migrations
from store.postgres.distribution import COORDINATOR, DISTRIBUTED, REFERENCE, citus_calls
from store.postgres.migrate import _CREATE_SCHEMA_MIGRATIONS

ROOT = Path(__file__).resolve().parents[2]

_UNIQUE_KEYS = """
SELECT t.relname AS tbl, i.relname AS idx, array_agg(a.attname ORDER BY k.ord) AS cols
FROM pg_index AS ix JOIN pg_class AS i ON i.oid = ix.indexrelid JOIN pg_class AS t ON t.oid = ix.indrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE n.nspname = 'public' AND ix.indisunique GROUP BY 1, 2 ORDER BY 1, 2"""

_TABLES = """
SELECT c.relname AS tbl, bool_or(a.attname = 'psn_no') AS personal
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace JOIN pg_attribute AS a ON a.attrelid = c.oid
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 GROUP BY 1 ORDER BY 1"""


async def _read(url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_every_table_is_laid_out_and_every_persons_table_is_distributed_by_the_person(
    contract_database: str,
) -> None:
    tables = {row["tbl"]: row["personal"] for row in await _read(contract_database, _TABLES)}
    laid_out = [*DISTRIBUTED, *REFERENCE, *COORDINATOR]
    assert sorted(tables) == sorted(laid_out), "every table of the migrated schema is in store/postgres/distribution.py"
    holding_persons_rows = {table for table, personal in tables.items() if personal}
    by_person = {table for table, column in DISTRIBUTED.items() if column == "psn_no"}
    # a claim's owner, kept by the claim's key; who viewed a person's data, the console's log on the coordinator
    assert holding_persons_rows - by_person == {"claim_owners", "console_person_views"}


async def test_every_unique_key_holds_its_tables_distribution_column(contract_database: str) -> None:
    keys = await _read(contract_database, _UNIQUE_KEYS)
    without = [
        f"{row['tbl']}.{row['idx']} ({', '.join(row['cols'])})"
        for row in keys
        if row["tbl"] in DISTRIBUTED and DISTRIBUTED[row["tbl"]] not in row["cols"]
    ]
    assert without == []
    assert {row["tbl"] for row in keys if row["tbl"] in DISTRIBUTED} == set(DISTRIBUTED)


def test_nothing_in_the_store_takes_a_table_lock_or_an_advisory_lock_but_the_migrations() -> None:
    locking = re.compile(r"LOCK\s+TABLE|pg_advisory_(xact_)?lock", re.IGNORECASE)
    found = []
    for path in sorted((ROOT / "store").rglob("*")):
        if path.suffix not in (".py", ".sql") or path.parent.name == "migrations" and path.name < "0011":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if locking.search(line) and "MIGRATE_LOCK" not in line and not line.lstrip().startswith(("--", "#")):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_the_national_plan_states_the_exact_citus_calls() -> None:
    plan = (ROOT / "docs" / "national-load.md").read_text(encoding="utf-8")
    assert [call for call in citus_calls() if call not in plan] == []


_BEFORE_BY_PERSON = """
INSERT INTO inputs (seq, topic, digest, raw, kind, outcome, psn_no) VALUES
    (1, 'eligibility.changes', 'd1', 'g', 'eligibility', 'accepted', 'P1'),
    (2, 'claims.discharged', 'd2', 'a', 'claim', 'accepted', 'P1'),
    (3, 'claims.discharged', 'd3', 'b', 'claim', 'accepted', 'P2'),
    (4, 'year_end.closes', 'd4', 'close', 'close', 'accepted', NULL),
    (5, 'claims.discharged', 'd5', 'x', 'claim', 'rejected', NULL);
INSERT INTO claims_received (claim_id, fixmedins_code, psn_no, digest, payload, topic, revision, seq, year, region)
VALUES
    ('A', 'H1', 'P1', 'd2', '{}', 'claims.discharged', 0, 2, 2018, 'zhengzhou'),
    ('B', 'H1', 'P2', 'd3', '{}', 'claims.discharged', 0, 3, 2019, 'zhengzhou');
INSERT INTO year_closes (region, year, event_id, input_seq, closed_at)
    VALUES ('zhengzhou', 2018, 'close-2018', 4, now());
INSERT INTO settlements (settlement_id, claim_id, kind, psn_no, record, medfee_sumamt, fund_pay_sumamt, psn_part_amt,
                         seq, year)
    VALUES ('H1/A/settlement', 'A', 'settlement', 'P1', '{}', 1, 1, 0, 40, 2018);
INSERT INTO parked_dropped (parked_id, worker, topic, msg_key, header_names, header_values, error, behind, parked_at,
                            reason, dropped_by)
    VALUES (9, 'ledger', 'claims.ledger', 'P2', '{}', '{}', 'boom', false, now(), 'why', 'ops');
"""


async def test_a_database_of_one_global_order_is_carried_into_each_persons_order(fresh_database: str) -> None:
    """Migration 0011 on a database with rows: each person's next place is after every place they had
    (of inputs, records and alerts alike), a close taken is put in the order of each person it
    settled at the place it had, and what was refused naming no one is the person ""."""
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute(_CREATE_SCHEMA_MIGRATIONS)
        for version, name, sql in migrations():
            if version < 11:
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
        await conn.execute(_BEFORE_BY_PERSON)
    finally:
        await conn.close()
    store = await PostgresStore.open(fresh_database)  # applies 0011
    try:
        async with store._pool.acquire() as conn:
            persons = dict(await conn.fetch("SELECT psn_no, last_seq FROM persons ORDER BY psn_no"))
            closes = [tuple(r) for r in await conn.fetch("SELECT psn_no, region, year, seq FROM person_closes")]
            dropped = await conn.fetchval("SELECT psn_no FROM parked_dropped")
            owners = dict(await conn.fetch("SELECT claim_key, psn_no FROM claim_owners"))
        assert persons == {"": 5, "P1": 40, "P2": 3}
        assert closes == [("P1", "zhengzhou", 2018, 4)]  # P2's claim is of 2019
        assert owners == {"H1/A": "P1", "H1/B": "P2"} and dropped == "P2"
        archived = [(i.psn_no, i.seq, i.kind) for i in await store.inputs()]
        assert archived == [
            ("", 4, "close"),
            ("", 5, "claim"),
            ("P1", 1, "eligibility"),
            ("P1", 2, "claim"),
            ("P1", 4, "close"),
            ("P2", 3, "claim"),
        ]
    finally:
        await store.close()
