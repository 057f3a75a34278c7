"""The broker's access control, derived from the code: each worker's principal may read its topic
(and its consumer group) and write the topics it declares (``Worker.sinks``; a prefix among them —
a hospital's own topics — also to create them), nothing else; authorities may only write their
input topic, finance (the medical-insurance bureau that runs the funds) reads the records and writes
year-end closes, enrollment changes and premium rolls.

Each hospital is its own principal ``hospital-<fixmedins_code>``: it writes claims, cancellations
and pre-settlement requests, and reads only its own topics (``claims.presettle.replies.<code>``,
``settlements.nhsa.<code>``, literal names: never another hospital's) with its own consumer groups
(``hospital-<code>.`` prefixed; a code holds no '.', so no hospital's prefix is another's).
Hospitals are not known when the script is made: it defines ``add_hospital`` and runs it for one
hospital when called as ``acls.sh hospital CODE``; `onestop kafka-acls --hospital CODE` prints the
same commands for one hospital. `onestop kafka-acls` prints the script docker-compose runs
(deploy/kafka/acls.sh, kept equal to it by a test)."""

from __future__ import annotations

from dataclasses import dataclass

from streams.topics import (
    CANCELLED,
    DISCHARGED,
    ELIGIBILITY,
    ENROLLMENT,
    HOSPITAL_CODE,
    PREMIUM_ROLLS,
    PRESETTLE,
    PRESETTLE_REPLIES_OF,
    SETTLEMENTS,
    SETTLEMENTS_NHSA_OF,
    YEAR_END,
    hospital_code_problem,
)
from workers.registry import WORKERS

#: the password of a hospital being added (its own; the operator hands it to the hospital)
HOSPITAL_PASSWORD = "KAFKA_PASSWORD_HOSPITAL"
HOSPITAL_WRITES = (DISCHARGED, CANCELLED, PRESETTLE)


@dataclass(frozen=True)
class Principal:
    name: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()  # a name ending in '.' is a prefix: the hospitals' own topics, which it also creates
    groups: tuple[str, ...] = ()  # a name ending in '-' or '.' is a prefix
    internal_prefix: str | None = None  # the Faust app's own internal topics


def principals() -> list[Principal]:
    """Every principal of a deployment that is known in advance (hospitals are added one by one: :func:`hospital`)."""
    workers = [
        Principal(f"onestop-{name}", (w.source,), w.sinks, (f"onestop-{name}",), f"onestop-{name}-")
        for name, w in WORKERS.items()
    ]
    return [
        *workers,
        Principal("authority", writes=(ELIGIBILITY,)),
        Principal("finance", reads=(SETTLEMENTS,), writes=(YEAR_END, ENROLLMENT, PREMIUM_ROLLS), groups=("finance-",)),
    ]


def hospital(code: str) -> Principal:
    """Hospital ``code``'s principal; ValueError when its code cannot name its own topics."""
    problem = hospital_code_problem(code)
    if problem is not None:
        raise ValueError(problem)
    return _hospital(code)


def _hospital(code: str) -> Principal:
    return Principal(
        f"hospital-{code}",
        reads=(PRESETTLE_REPLIES_OF + code, SETTLEMENTS_NHSA_OF + code),
        writes=HOSPITAL_WRITES,
        groups=(f"hospital-{code}.",),
    )


def password_variable(principal: str) -> str:
    """The environment variable that holds a known principal's password."""
    return "KAFKA_PASSWORD_" + principal.removeprefix("onestop-").upper().replace("-", "_")


PREAMBLE = [
    "set -euo pipefail",
    'BOOTSTRAP="${BOOTSTRAP:-127.0.0.1:9094}"',
    'KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"',
    "user() {  # name, password",
    '  "$KAFKA_BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --alter --entity-type users --entity-name "$1" \\',
    '    --add-config "SCRAM-SHA-512=[password=$2]"',
    "}",
    "allow() {  # principal, operation, resource...",
    '  local who="$1" op="$2"; shift 2',
    '  "$KAFKA_BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --add '
    '--allow-principal "User:$who" --operation "$op" "$@"',
    "}",
]


def _word(text: str) -> str:
    """A shell word: quoted when it holds a variable."""
    return f'"{text}"' if "$" in text else text


def _pattern(name: str, prefix_marks: tuple[str, ...]) -> str:
    return " --resource-pattern-type prefixed" if name.endswith(prefix_marks) else ""


def _acls(p: Principal) -> list[str]:
    who = _word(p.name)
    out = [f"allow {who} Read --topic {_word(t)}" + _pattern(t, (".",)) for t in p.reads]
    out += [
        f"allow {who} {op} --topic {_word(t)}" + _pattern(t, (".",)) for op in ("Write", "Describe") for t in p.writes
    ]
    out += [f"allow {who} Create --topic {_word(t)}" + _pattern(t, (".",)) for t in p.writes if t.endswith(".")]
    out += [f"allow {who} Read --group {_word(g)}" + _pattern(g, ("-", ".")) for g in p.groups]
    if p.internal_prefix:
        out += [
            f"allow {who} {op} --topic {p.internal_prefix} --resource-pattern-type prefixed"
            for op in ("Create", "Read", "Write", "Describe")
        ]
    return out


def _add_hospital() -> list[str]:
    """The shell function that adds one hospital: the same commands as :func:`hospital_script`."""
    return [
        "add_hospital() {  # fixmedins_code: its principal hospital-<code>, "
        f"password ${HOSPITAL_PASSWORD}, and its ACLs",
        '  local code="$1"',
        f'  if [[ ! "$code" =~ ^{HOSPITAL_CODE.pattern}$ ]]; then',
        "    echo \"hospital '$code': a fixmedins_code that names its topics is 1-64 letters, digits, '_' or '-'\" >&2",
        "    return 2",
        "  fi",
        f'  user "hospital-$code" "${{{HOSPITAL_PASSWORD}:?'
        f'set {HOSPITAL_PASSWORD} to the password of hospital $code}}"',
        *(f"  {line}" for line in _acls(_hospital("$code"))),
        "}",
    ]


def script() -> str:
    """The shell script that creates every principal (SCRAM-SHA-512) and its ACLs; with the arguments
    ``hospital CODE``, one hospital's only."""
    out = [
        "#!/usr/bin/env bash",
        "# Generated by `onestop kafka-acls` from the workers' declarations; tests/test_compose.py keeps it equal.",
        "# Runs inside the broker's network namespace (docker-compose service kafka-acls), on its loopback listener:",
        "#   acls.sh                   every principal of the deployment and its ACLs (each password required)",
        f"#   acls.sh hospital CODE     one more hospital, hospital-CODE, with the password in ${HOSPITAL_PASSWORD}",
        *PREAMBLE,
        *_add_hospital(),
        "if [[ $# -gt 0 ]]; then",
        '  if [[ "$1" != hospital || $# -ne 2 ]]; then echo "usage: acls.sh [hospital FIXMEDINS_CODE]" >&2; exit 2; fi',
        '  add_hospital "$2"',
        "  exit 0",
        "fi",
        'user onestop-admin "${KAFKA_PASSWORD_ADMIN:?set KAFKA_PASSWORD_ADMIN}"',
    ]
    for p in principals():
        variable = password_variable(p.name)
        out.append(f'user {p.name} "${{{variable}:?set {variable}}}"')
        out += _acls(p)
    return "\n".join(out) + "\n"


def hospital_script(code: str) -> str:
    """The commands that add hospital ``code`` (its principal, password ${KAFKA_PASSWORD_HOSPITAL}, ACLs),
    as a script to run where acls.sh runs."""
    p = hospital(code)
    return (
        "\n".join(
            [
                "#!/usr/bin/env bash",
                f"# Generated by `onestop kafka-acls --hospital {code}`: hospital {code}'s principal and ACLs.",
                *PREAMBLE,
                f'user {p.name} "${{{HOSPITAL_PASSWORD}:?set {HOSPITAL_PASSWORD} to the password of hospital {code}}}"',
                *_acls(p),
            ]
        )
        + "\n"
    )
