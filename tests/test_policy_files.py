"""A policy file as its writer meets it (issue 30, item 9): read only when a rule is needed, and
when it is wrong, one line per problem — ``file:line: field: problem`` with the values or fields
the place allows — from every `onestop` command, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main
from policies.loader import PolicyFileError, parse_policy

from .shared_cases import CASES_DIR

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
region: testland
name: Testland
name_zh: 测试市
document: test document
seed: none
pooled_city: "9901"
period: "2024"
version: 1
in_force_from: 2024-01-01
payers:
  - payer: basic
    name_zh: 基本医疗保险
    fund_pay_type: "390100"
    rules:
      - name: inpatient
        source: test
        when: {med_types: ["21"], area: pooled_city}
        scope: per_claim
        tiers: [{label: all, segments: [{from: 0, rate: "50%"}]}]
"""


def problem(text: str) -> str:
    with pytest.raises(PolicyFileError) as info:
        parse_policy(text, "testland.yaml")
    return str(info.value)


def test_the_good_file_is_read():
    assert parse_policy(GOOD, "testland.yaml").ref == "testland/2024/v1"


def test_a_field_the_file_does_not_know_names_the_fields_allowed_there():
    said = problem(GOOD.replace("scope: per_claim", "scop: per_claim"))
    assert said.splitlines()[-1] == (
        "testland.yaml:18: payers.0.rules.0.scop: Extra inputs are not permitted; the fields here are name, source, "
        "when, scope, base_of, base_after, base_parts, deduct_paid_this_year, account, limits, defer_while, tiers"
    )


def test_a_condition_it_does_not_know_names_the_conditions():
    said = problem(GOOD.replace("area: pooled_city", "areas: pooled_city"))
    assert "testland.yaml:17: payers.0.rules.0.when.areas: Extra inputs are not permitted; the fields here are " in said
    assert "med_types, hosp_lv, insutype, area, referral" in said and "any_of" in said


@pytest.mark.parametrize(
    "wrong, allowed",
    [
        ('med_types: ["22"]', "Input should be '21', '14' or '11'"),
        ("area: city", "Input should be 'county', 'pooled_city', 'province' or 'anywhere'"),
    ],
)
def test_a_value_it_does_not_allow_names_the_values_allowed(wrong, allowed):
    field = wrong.split(":")[0]
    text = (
        GOOD.replace('med_types: ["21"]', wrong) if field == "med_types" else GOOD.replace("area: pooled_city", wrong)
    )
    said = problem(text)
    assert said.startswith("testland.yaml:17: payers.0.rules.0.when.")
    assert allowed in said


def _onestop(*args: str, regions: Path) -> Result:
    """`onestop ARGS` with ONESTOP_REGIONS set, run in this process: what these tests check is what
    the command says (a failing one exits 1 with its message, never with an exception of its own).
    That the files are not read before a command needs a rule is checked in a process of its own:
    test_a_command_that_needs_no_rule_runs_in_a_process_that_never_saw_a_good_file."""
    done = CliRunner().invoke(main, list(args), env={"ONESTOP_REGIONS": str(regions)})
    assert done.exception is None or isinstance(done.exception, SystemExit), "".join(
        traceback.format_exception(*done.exc_info) if done.exc_info else ()
    )
    assert "Traceback" not in done.output
    return done


def test_every_command_says_what_is_wrong_with_a_file_and_none_shows_a_traceback(tmp_path):
    (tmp_path / "testland.yaml").write_text(GOOD.replace("scope: per_claim", "scope: yearly"), encoding="utf-8")
    wrong = f"{tmp_path / 'testland.yaml'}:18: payers.0.rules.0.scope: Input should be 'per_claim' or 'annual'"
    case = str(CASES_DIR / "jining-tekun-caps.json")
    for args in (["policy", "settle", case], ["policy", "explain", case], ["policy", "show", "testland"]):
        done = _onestop(*args, regions=tmp_path)
        assert done.exit_code == 1, (args, done.stdout, done.stderr)
        assert wrong in done.stderr, (args, done.stderr)


# Run in a fresh interpreter with ONESTOP_REGIONS set from the start, so that a module reading the
# policy files when it is imported fails here (in the test process the modules are imported already).
# One process runs the commands in turn: one of them reading the files would fail, whichever it is.
_NEEDS_NO_RULE = """
import json, sys, traceback
from click.testing import CliRunner
from cli import main
for args in json.loads(sys.argv[1]):
    done = CliRunner().invoke(main, args)
    trace = "".join(traceback.format_exception(*done.exc_info)) if done.exception is not None else ""
    print(json.dumps([args, done.exit_code, done.output, trace]))
"""


def test_a_command_that_needs_no_rule_runs_in_a_process_that_never_saw_a_good_file(tmp_path):
    # the files are read only when a rule is needed
    (tmp_path / "testland.yaml").write_text(GOOD.replace("scope: per_claim", "scope: yearly"), encoding="utf-8")
    commands = [["--help"], ["settings"], ["worker", "--help"], ["parked", "--help"]]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONESTOP_REGIONS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _NEEDS_NO_RULE, json.dumps(commands)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    ran = [json.loads(line) for line in done.stdout.splitlines()]
    assert [args for args, *_ in ran] == commands
    for args, exit_code, output, trace in ran:
        assert exit_code == 0, (args, output, trace)
        assert "Traceback" not in output + done.stderr


def test_a_folder_of_files_that_does_not_exist_is_said(tmp_path):
    done = _onestop("policy", "show", "jining", regions=tmp_path / "nowhere")
    assert done.exit_code == 1
    assert f"{tmp_path / 'nowhere'}: no such folder of policy files (ONESTOP_REGIONS)" in done.stderr


def test_a_file_of_another_folder_uses_the_shipped_shared_payers(tmp_path):
    text = GOOD.replace("payers:\n", "payers:\n  - use: basic_ordinary.yaml\n", 1)
    text = textwrap.dedent(text).replace("  - payer: basic\n", "  - payer: critical\n")
    (tmp_path / "testland.yaml").write_text(text, encoding="utf-8")
    done = _onestop("policy", "show", "testland", regions=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert "chain: basic → critical" in done.stdout
