"""The schema can be distributed by person (issue 28, finding 5): read from the live schema, every
table is laid out (store/postgres/distribution.py), every unique key of a distributed table holds its
distribution column, and nothing in store/ takes a table lock or an advisory lock but the migrations'."""
from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from store.postgres.distribution import COORDINATOR, DISTRIBUTED, REFERENCE, citus_calls

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


async def test_every_table_is_laid_out_and_every_persons_table_is_distributed_by_the_person(contract_database: str) -> None:
    tables = {row["tbl"]: row["personal"] for row in await _read(contract_database, _TABLES)}
    laid_out = [*DISTRIBUTED, *REFERENCE, *COORDINATOR]
    assert sorted(tables) == sorted(laid_out), "every table of the migrated schema is in store/postgres/distribution.py"
    holding_persons_rows = {table for table, personal in tables.items() if personal}
    by_person = {table for table, column in DISTRIBUTED.items() if column == "psn_no"}
    assert holding_persons_rows - by_person == {"claim_owners"}  # a claim's owner, kept by the claim's key


async def test_every_unique_key_holds_its_tables_distribution_column(contract_database: str) -> None:
    keys = await _read(contract_database, _UNIQUE_KEYS)
    without = [f"{row['tbl']}.{row['idx']} ({', '.join(row['cols'])})" for row in keys
               if row["tbl"] in DISTRIBUTED and DISTRIBUTED[row["tbl"]] not in row["cols"]]
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
