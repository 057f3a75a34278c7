"""Nothing personal in clear in the workers' logs (ARCHITECTURE.md): a small full run, then every line searched.

Its own embedded broker, PostgreSQL and worker processes in a temporary directory; the input has
good claims, repeated ones, every kind of malformed claim (including one whose claim_id was used
for other content), good and malformed eligibility events; every event carries the person's
identity number and name (``psn_name``, a field the schemas ignore).
"""

from __future__ import annotations

from pathlib import Path

from bench.chaos import find_secrets, make_input, run_pipeline


def test_the_search_finds_a_number_or_name_in_clear_and_not_a_masked_one(tmp_path: Path):
    made = make_input(40, seed=5)
    number, name = next(iter(made.names.items()))
    (tmp_path / "w.log").write_text(f"ok line\nmasked {number[:2]}***{number[-2:]}\nleak {number}\n名 {name}\n")
    assert [(f, n) for f, n, _ in find_secrets(tmp_path, made.secrets)] == [("w.log", 3), ("w.log", 4)]


def test_no_identity_number_or_name_in_any_worker_log_line(tmp_path: Path):
    made = make_input(60, seed=5)
    assert all(number.encode() in b"".join(made.events + made.grants) for number in made.names)
    run = run_pipeline(made, tmp_path, timeout=240)

    assert set(run.settlements_per_claim) == set(made.good)
    rejected = {r.original for r in run.rejected}
    assert all(bad.raw.decode() in rejected for bad in made.malformed)
    assert {r.original for r in run.eligibility_rejected} == {bad.raw.decode() for bad in made.bad_grants}
    logs = sorted(run.log_dir.glob("*.log"))
    lines = [line for path in logs for line in path.read_text(errors="replace").splitlines()]
    assert len(lines) >= len(made.malformed) + len(made.bad_grants)  # the rejections were logged: not a vacuous search

    hits = find_secrets(run.log_dir, made.secrets)
    assert hits == [], f"identity numbers or names in clear (file, line, masked): {hits[:10]}"
