"""How the schema is laid out on a cluster sharded by person (Citus: docs/national-load.md).

Every table of a person's rows is distributed by ``psn_no`` and co-located with the others, so that
everything one person's input touches is on one node and one transaction; every unique key of
such a table includes ``psn_no`` (a test reads the live schema to hold this). A claim's owner is
kept by the claim's key, so the same claim id sent for a second person is refused wherever that
person lives. The rest is small and read everywhere: reference tables, copied to every node. A
person's order is a row lock on their ``persons`` row, never a table or advisory lock."""

from __future__ import annotations

#: table -> the column it is distributed by (the persons' tables are co-located with ``persons``)
DISTRIBUTED: dict[str, str] = {
    "persons": "psn_no",
    "inputs": "psn_no",
    "claims_received": "psn_no",
    "cancellations": "psn_no",
    "identity_events": "psn_no",
    "identity_periods": "psn_no",
    "person_closes": "psn_no",
    "enrollment_events": "psn_no",
    "enrollment_periods": "psn_no",
    "person_rolls": "psn_no",
    "person_queue": "psn_no",
    "settlements": "psn_no",
    "alerts": "psn_no",
    "year_totals": "psn_no",
    "rejections": "psn_no",
    "parked": "psn_no",
    "parked_dropped": "psn_no",
    "claim_owners": "claim_key",
}

#: small tables every node reads: copied to each
REFERENCE: tuple[str, ...] = ("year_closes", "premium_rolls", "broker_lives", "signing_keys", "key_challenges")

#: kept on the coordinator only: the migrations' record, and the console's own tables — its
#: accounts, sessions, actions, jobs and the log of who viewed which person's data, written by the
#: console through the coordinator and read by the auditor there (few rows, never joined to a shard's)
COORDINATOR: tuple[str, ...] = (
    "schema_migrations",
    "console_accounts",
    "console_sessions",
    "console_person_views",
    "console_actions",
    "console_jobs",
)


def citus_calls() -> list[str]:
    """The statements that lay the schema out on a Citus cluster, in order (after the migrations)."""
    calls = [f"SELECT create_reference_table('{table}');" for table in REFERENCE]
    calls.append("SELECT create_distributed_table('persons', 'psn_no');")
    calls += [
        f"SELECT create_distributed_table('{table}', '{column}', colocate_with => 'persons');"
        for table, column in DISTRIBUTED.items()
        if column == "psn_no" and table != "persons"
    ]
    calls += [
        f"SELECT create_distributed_table('{table}', '{column}');"
        for table, column in DISTRIBUTED.items()
        if column != "psn_no"
    ]
    return calls
