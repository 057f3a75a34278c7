"""The commands are thin: `onestop finance statement | reconcile`, `onestop slip`, `onestop presettle`
on a ledger given to them (the live ones run in tests/live/test_finance.py)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from cli import main
from store import START, Place
from streams.codecs import encode

from .ledgers import every_kind


class Ledger:
    """What the commands read of a store."""

    def __init__(self) -> None:
        self.histories, self.records = every_kind()

    async def settlements(self, *, after: Place = START, limit: int = 1000, psn_no: str | None = None):
        seqs: dict[str, int] = {}
        placed = []
        for r in self.records:  # each person's records in the order recorded, persons in order of their numbers
            seqs[r.psn_no] = seqs.get(r.psn_no, 0) + 1
            placed.append((Place(r.psn_no, seqs[r.psn_no]), r))
        placed.sort(key=lambda pr: pr[0])
        return [(p, r) for p, r in placed if p > after and psn_no in (None, r.psn_no)][:limit]

    async def records_of(self, claim_key: str):
        return [r for r in self.records if r.key == claim_key]

    async def person_history(self, psn_no: str):
        return list(self.histories.get(psn_no, []))


@pytest.fixture
def ledger(monkeypatch) -> Ledger:
    found = Ledger()
    read = lambda work: asyncio.run(work(found))  # noqa: E731
    for module in ("cli.finance", "cli.slip", "cli.presettle"):
        monkeypatch.setattr(f"{module}.read_ledger", read)
    return found


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_statement_in_every_format(ledger, tmp_path: Path):
    text = run("finance", "statement", "--month", "2026-11")
    assert text.exit_code == 0 and "net to pay all hospitals" in text.output and "year-end" in text.output
    as_json = json.loads(run("finance", "statement", "--month", "2026-11", "--format", "json").output)
    assert Decimal(as_json["net_payable"]) == sum(
        r.fund_pay_sumamt for r in ledger.records if not r.claim_id.startswith("year-end/")
    )
    out = run("finance", "statement", "--month", "2026-11", "--out-dir", str(tmp_path))
    assert out.exit_code == 0
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".csv", ".html", ".json", ".pdf"]
    assert (tmp_path / "statement-2026-11.pdf").read_bytes().startswith(b"%PDF")
    assert run("finance", "statement", "--month", "2026-11", "--format", "pdf").exit_code != 0  # a PDF needs --out


def test_statement_errors_and_an_empty_month(ledger):
    bad = run("finance", "statement", "--month", "2026-13")
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    unknown = run("finance", "statement", "--month", "2026-11", "--hospital", "NO-SUCH")
    assert unknown.exit_code == 1 and "unknown hospital" in unknown.output
    empty = run("finance", "statement", "--month", "2024-02", "--format", "csv")
    assert empty.exit_code == 0 and empty.output.count("\n") == 1  # the header only


def test_reconcile_exit_codes(ledger, tmp_path: Path):
    code = next(r.fixmedins_code for r in ledger.records if r.kind == "reversal")
    mine = [r for r in ledger.records if r.fixmedins_code == code]
    good = tmp_path / "good.csv"
    good.write_text(
        "setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\n"
        + "".join(f"{r.settlement_id},{r.medfee_sumamt},{r.fund_pay_sumamt},{r.psn_part_amt}\n" for r in mine)
    )
    args = ("finance", "reconcile", "--hospital", code, "--from", "2026-11-01", "--to", "2026-11-30")
    agree = run(*args, str(good))
    assert agree.exit_code == 0 and "AGREE" in agree.output
    short = tmp_path / "short.csv"
    short.write_text("\n".join(good.read_text().splitlines()[:-1]) + "\n")
    differ = run(*args, "--format", "json", str(short))
    assert differ.exit_code == 1 and json.loads(differ.output)["differences"][0]["status"] == "only_in_ledger"
    broken = tmp_path / "broken.csv"
    broken.write_text("setl_id,medfee_sumamt,fund_pay_sumamt,psn_part_amt\nA,1.001,1.00,0.00\n")
    bad = run(*args, str(broken))
    assert bad.exit_code == 2 and "broken.csv: line 2: field medfee_sumamt" in bad.output
    unknown = run(
        "finance", "reconcile", "--hospital", "NO-SUCH", "--from", "2026-11-01", "--to", "2026-11-30", str(good)
    )
    assert unknown.exit_code == 2 and "unknown hospital" in unknown.output
    backwards = run("finance", "reconcile", "--hospital", code, "--from", "2026-11-30", "--to", "2026-11-01", str(good))
    assert backwards.exit_code == 2


def test_slip_writes_html_and_pdf(ledger, tmp_path: Path):
    [hospital] = {r.fixmedins_code for r in ledger.records if r.claim_id == "JN-1b"}
    result = run("slip", "JN-1b", "--hospital", hospital, "--out-dir", str(tmp_path), "--png")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slip-JN-1b.html", "slip-JN-1b.pdf", "slip-JN-1b.png"]
    missing = run("slip", "NO-SUCH", "--out-dir", str(tmp_path))
    assert (
        missing.exit_code == 1
        and "no records of claim NO-SUCH naming no hospital (give --hospital CODE)" in missing.output
    )
    # a claim is its hospital's and its id: without the hospital, JN-1b is another (unknown) claim
    assert run("slip", "JN-1b", "--out-dir", str(tmp_path)).exit_code == 1


def test_presettle_of_a_file(ledger, tmp_path: Path):
    from tests.reports.ledgers import cases

    case = next(c for c in cases() if c.name == "zhengzhou-dibao-deferred-then-paid")
    path = tmp_path / "claims.jsonl"
    path.write_bytes(encode(case.claims[2]) + b"\n" + encode(case.claims[0]) + b"\n" + b'{"claim_id": "bad"}\n')
    result = run("presettle", str(path), "--format", "json")
    assert result.exit_code == 1  # the second was received already, the third is no claim
    replies = [orjson.loads(line) for line in result.output.splitlines()]
    assert replies[0]["error"] is None and replies[0]["setlinfo"]["mdtrt_id"] == "ZZ-1c"
    assert "received already" in replies[1]["error"]
    assert "line 3" in replies[2]["error"] and "psn_no" in replies[2]["error"]
    table = run("presettle", str(path))
    assert "the patient pays" in table.output and "cannot be pre-settled" in table.output
    single = tmp_path / "one.json"
    single.write_bytes(orjson.dumps(orjson.loads(encode(case.claims[2])), option=orjson.OPT_INDENT_2))
    nhsa = run("presettle", str(single), "--format", "nhsa")
    assert nhsa.exit_code == 0 and orjson.loads(nhsa.output)["setldetail"]
