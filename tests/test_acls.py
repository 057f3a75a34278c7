"""Each hospital its own Kafka principal (runtime/acls.py): it writes its inputs and reads only its own
topics, never another hospital's, whatever their codes; the script docker-compose runs adds a
hospital exactly as `onestop kafka-acls --hospital CODE` prints it.

The ACLs are read back from the generated commands and judged as Kafka's StandardAuthorizer judges
them (a literal name matches itself, a prefixed one every name it begins; Read and Write imply
Describe); the shell script runs against a stand-in for Kafka's two command-line tools that records
how it was called."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from runtime.acls import hospital, hospital_script, principals, script
from runtime.compose import env_file

ROOT = Path(__file__).resolve().parents[1]
CODES = ("H620702001", "H620702001X", "H62070200", "H6207-2", "H6207-2-1", "h_1")


@dataclass(frozen=True)
class Acl:
    who: str
    operation: str
    resource: str  # topic | group
    name: str
    prefixed: bool


def acls_of(text: str) -> list[Acl]:
    found = []
    for line in text.splitlines():
        if not line.startswith("allow "):  # (not the lines of the function that adds a hospital: "$code" in them)
            continue
        words = shlex.split(line)
        who, operation, kind, name, *rest = words[1:]
        assert kind in ("--topic", "--group") and rest in ([], ["--resource-pattern-type", "prefixed"]), line
        found.append(Acl(who, operation, kind.removeprefix("--"), name, bool(rest)))
    return found


def allowed(acls: list[Acl], who: str, operation: str, resource: str, name: str) -> bool:
    implied = {"Describe": {"Describe", "Read", "Write"}}.get(operation, {operation})
    return any(
        a.who == who
        and a.operation in implied
        and a.resource == resource
        and (name.startswith(a.name) if a.prefixed else name == a.name)
        for a in acls
    )


@pytest.fixture(scope="module")
def deployment() -> list[Acl]:
    """Every principal of a deployment with the hospitals of CODES added."""
    return acls_of(script()) + [a for code in CODES for a in acls_of(hospital_script(code))]


TOPICS = [
    "claims.presettle.replies",
    "settlements.nhsa",
    "settlements.completed",
    "claims.rejected",
    "claims.ledger",
    "claims.pay.assistance",
    "eligibility.changes",
    "alerts.high_cost",
    "year_end.closes",
    "claims.resettle",
    "claims.discharged",
    "claims.cancelled",
    "claims.presettle",
    "onestop-intake-changelog",
    *(f"{prefix}{code}" for prefix in ("claims.presettle.replies.", "settlements.nhsa.") for code in CODES),
]


@pytest.mark.parametrize("code", CODES)
def test_a_hospital_reads_its_own_topics_and_nothing_else(deployment, code):
    me = f"hospital-{code}"
    readable = [t for t in TOPICS if allowed(deployment, me, "Read", "topic", t)]
    assert readable == [f"claims.presettle.replies.{code}", f"settlements.nhsa.{code}"]
    assert [t for t in TOPICS if allowed(deployment, me, "Write", "topic", t)] == [
        "claims.discharged",
        "claims.cancelled",
        "claims.presettle",
    ]
    assert not any(allowed(deployment, me, op, "topic", t) for op in ("Create", "Delete", "Alter") for t in TOPICS)
    assert allowed(deployment, me, "Read", "group", f"hospital-{code}.window-3")
    for other in CODES:
        if other != code:
            assert not allowed(deployment, me, "Read", "group", f"hospital-{other}.window-3"), other
            assert not allowed(deployment, me, "Describe", "topic", f"claims.presettle.replies.{other}"), other


def test_only_the_workers_that_answer_or_publish_for_hospitals_may_write_their_topics(deployment):
    writers = {
        a.who
        for a in deployment
        if a.operation == "Write" and a.name.startswith(("claims.presettle.replies", "settlements.nhsa"))
    }
    assert writers == {"onestop-presettle", "onestop-ledger"}  # the ledger is the one writer of records
    for who in writers:
        assert not any(
            allowed(deployment, who, "Read", "topic", f"{p}H620702001")
            for p in ("claims.presettle.replies.", "settlements.nhsa.")
        )
    assert allowed(deployment, "onestop-presettle", "Create", "topic", "claims.presettle.replies.H620702001")
    assert not allowed(deployment, "onestop-presettle", "Create", "topic", "settlements.nhsa.H620702001")
    assert not allowed(deployment, "finance", "Read", "topic", "settlements.nhsa.H620702001")


@pytest.mark.parametrize("code", ["H1.x", "H1:x", "", "H" * 65, "H 1", "H1$(id)"])
def test_a_code_that_could_name_another_hospitals_topics_gets_no_principal(code):
    with pytest.raises(ValueError, match="cannot have topics of its own"):
        hospital(code)
    result = CliRunner().invoke(main, ["kafka-acls", "--hospital", code])
    assert result.exit_code == 1 and "cannot have topics of its own" in result.output


def test_kafka_acls_prints_one_hospitals_commands():
    result = CliRunner().invoke(main, ["kafka-acls", "--hospital", "H620702001"])
    assert result.exit_code == 0 and result.output == hospital_script("H620702001")
    assert [p.name for p in principals() if p.name.startswith("hospital")] == []


# --- the shell script itself, against a stand-in for kafka-configs.sh and kafka-acls.sh --------------------


def _run(tmp_path: Path, args: list[str], env: dict[str, str], source: str | None = None) -> tuple[int, list[str], str]:
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    calls.write_text("")
    for tool in ("kafka-configs.sh", "kafka-acls.sh"):
        (tools / tool).write_text(f'#!/bin/sh\necho "$(basename "$0") $*" >> "{calls}"\n')
        (tools / tool).chmod(0o755)
    path = ROOT / "deploy" / "kafka" / "acls.sh"
    if source is not None:
        path = tmp_path / "given.sh"
        path.write_text(source)
    done = subprocess.run(
        ["bash", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "KAFKA_BIN": str(tools), **env},
    )
    return done.returncode, calls.read_text().splitlines(), done.stderr


def test_the_script_adds_a_hospital_as_kafka_acls_hospital_prints_it(tmp_path):
    password = {"KAFKA_PASSWORD_HOSPITAL": "s3cret-of-H620702001"}
    code, by_function, _ = _run(tmp_path, ["hospital", "H620702001"], password)
    assert code == 0
    code, printed, _ = _run(tmp_path, [], password, source=hospital_script("H620702001"))
    assert code == 0 and by_function == printed
    assert by_function[0].endswith(
        "--entity-name hospital-H620702001 --add-config SCRAM-SHA-512=[password=s3cret-of-H620702001]"
    )
    assert sum("--operation Read --topic" in call for call in by_function) == 2


def test_the_script_refuses_a_bad_code_or_a_missing_password_before_doing_anything(tmp_path):
    code, calls, said = _run(tmp_path, ["hospital", "H1.x"], {"KAFKA_PASSWORD_HOSPITAL": "p"})
    assert (code, calls) == (2, []) and "1-64 letters" in said
    code, calls, said = _run(tmp_path, ["hospital", "H620702001"], {})
    assert code != 0 and calls == [] and "KAFKA_PASSWORD_HOSPITAL" in said
    code, calls, said = _run(tmp_path, ["hospitals", "H620702001"], {"KAFKA_PASSWORD_HOSPITAL": "p"})
    assert (code, calls) == (2, []) and "usage" in said


def test_the_whole_script_needs_every_password_and_makes_every_principal(tmp_path):
    secrets = dict(line.split("=", 1) for line in env_file().splitlines() if line and not line.startswith("#"))
    code, calls, said = _run(tmp_path, [], secrets)
    assert code == 0, said
    users = [re.search(r"--entity-name (\S+)", c).group(1) for c in calls if c.startswith("kafka-configs.sh")]
    assert users == ["onestop-admin", *(p.name for p in principals())]
    assert acls_of(script()) and len([c for c in calls if c.startswith("kafka-acls.sh")]) == len(acls_of(script()))
    del secrets["KAFKA_PASSWORD_LEDGER"]
    code, calls, said = _run(tmp_path, [], secrets)
    assert code != 0 and "KAFKA_PASSWORD_LEDGER" in said
