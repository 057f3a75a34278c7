"""`onestop demo`: the main job end to end on the embedded default, with the worked cases.

Starts everything (or uses the `onestop up` running here), publishes the cases' people, then
their claims, waits until every claim is settled, prints the settlements and says whether each
agrees with the case's expectation to the fen. Then the premium subsidies (参保资助): the bureau
enrols the cases' people for their claims' year, each region's year is rolled, and every premium
record is printed and compared with what the pure rules give for the same inputs.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

import click
import orjson

from policies.ledger import replay
from policies.loader import policy_for
from policies.received import ChangeReceived, EnrollmentReceived, RollReceived
from runtime.endpoints import NotRunning, endpoints, home
from runtime.parts import Parts, initialise_sync
from runtime.supervisor import WorkerProcesses
from schemas.cases import Case
from schemas.codes import issuing_authority
from schemas.events import DischargeClaim, EligibilityChange, EnrollmentChange, PremiumRoll, Settlement
from schemas.keys import KeyFile
from store import store_at
from store.waiting import enrollments_recorded, identities_recorded, premiums_recorded, settled_claims
from streams.codecs import encode
from streams.publisher import publish
from streams.signing import new_key
from streams.topics import DISCHARGED, ELIGIBILITY, ENROLLMENT, PREMIUM_ROLLS

from .files import events_of, grants_of
from .formats import TABLE_HEADER, table_row
from .keys import register_key

#: the demonstration keys' validity begins here, before any of the worked cases' dates
DEMO_KEYS_FROM = datetime(2000, 1, 1, tzinfo=timezone.utc)


def agreement(case: Case, settled: dict[str, Settlement]) -> list[str]:
    """What differs from the case's expectations, in words (empty: agrees to the fen)."""
    problems = []
    for expected in case.expect:
        got = settled[expected.claim_id]
        payments = {p.payer.value: p.amount for p in got.payments if p.amount}
        if payments != expected.payments or got.psn_part_amt != expected.personal:
            problems.append(
                f"{expected.claim_id}: got {payments} personal {got.psn_part_amt}, "
                f"expected {dict(expected.payments)} personal {expected.personal}"
            )
    return problems


def with_hospitals(cases: list[Case]) -> list[Case]:
    """The cases' claims, each naming a demonstration hospital (the worked cases name none): one per
    place of treatment and level. Payments do not depend on it; signing does."""

    def named(claim: DischargeClaim) -> DischargeClaim:
        if claim.fixmedins_code:
            return claim
        code = f"H{claim.mdtrtarea_admvs}{claim.hosp_lv.value}"
        return claim.model_copy(
            update={
                "fixmedins_code": code,
                "fixmedins_name": f"示例{claim.hosp_lv.value}级医院 {claim.mdtrtarea_admvs}",
            }
        )

    return [case.model_copy(update={"claims": [named(c) for c in case.claims]}) for case in cases]


async def demo_keys(store, cases: list[Case]) -> dict[str, KeyFile]:
    """A key for every hospital and authority of the cases (made once, kept in .onestop/keys),
    registered the way an administrator does (challenge, proof, add)."""
    folder = home() / "keys"
    folder.mkdir(parents=True, exist_ok=True)
    signers = {("hospital", c.fixmedins_code) for case in cases for c in case.claims}
    signers |= {("authority", issuing_authority(held.code).value) for case in cases for held in case.person.categories}
    signers.add(("authority", "medical_insurance"))  # the bureau: enrollment and the premium rolls
    found: dict[str, KeyFile] = {}
    for kind, who in sorted(signers):
        path = folder / f"demo-{who}.key.json"
        key = KeyFile.model_validate_json(path.read_bytes()) if path.exists() else new_key(f"demo-{who}", kind, who)
        path.write_bytes(key.model_dump_json().encode())
        path.chmod(0o600)
        # valid from long before the cases' first grant (2017) and discharge (2018): events are judged at
        # their own time too
        await register_key(store, key, valid_from=DEMO_KEYS_FROM)
        found[who] = key
    return found


def signer_for(keys: dict[str, KeyFile]):
    """The key an event is signed with: its hospital's, its authority's, or (naming neither: an
    enrollment change, a roll) the medical-insurance bureau's."""

    def choose(raw: bytes) -> KeyFile | None:
        event = orjson.loads(raw)
        return keys.get(event.get("fixmedins_code") or event.get("authority") or "medical_insurance")

    return choose


async def _run(kafka: str, database: str, cases: list[Case], timeout: float) -> bool:
    cases = with_hospitals(cases)
    grants, claims = events_of(cases)
    async with store_at(database) as store:
        sign = signer_for(await demo_keys(store, cases))
        before = (await store.counts())["identity_events"]
        await publish(kafka, ELIGIBILITY, grants, EligibilityChange, signed_by=sign)
        await identities_recorded(store, min(before + len(grants), len(grants)), timeout)
        await publish(kafka, DISCHARGED, claims, DischargeClaim, signed_by=sign)
        settled = await settled_claims(store, {c.claim_id for case in cases for c in case.claims}, timeout)
        premiums = await _premiums(kafka, store, cases, sign, timeout)
    click.echo(TABLE_HEADER)
    all_agree = True
    for case in cases:
        for claim in case.claims:
            click.echo(table_row(settled[claim.claim_id]))
        problems = agreement(case, settled)
        all_agree &= not problems
        verdict = "agrees to the fen" if not problems else "DIFFERS: " + "; ".join(problems)
        click.echo(f"  ↳ {case.name}: {verdict}")
    click.echo("premium subsidies (参保资助), one record per subsidised person of each region's rolled year:")
    for got, expected in premiums:
        click.echo(table_row(got) + f"  [{got.category.value if got.category else '?'}, due {got.due_date}]")
        same = got.model_dump(exclude={"settled_at"}) == expected.model_dump(exclude={"settled_at"})
        all_agree &= same
        verdict = "agrees with the rules to the fen" if same else f"DIFFERS from {expected}"
        click.echo(f"  ↳ {got.claim_id}: {verdict}")
    return all_agree


def _premium_inputs(case: Case, enrolled: EnrollmentChange, roll: PremiumRoll) -> list:
    """The person's grants, their enrollment and their region's roll, in the order the demo sends them."""
    grants = [ChangeReceived(n, grant) for n, grant in enumerate(grants_of(case), start=1)]
    return [*grants, EnrollmentReceived(len(grants) + 1, enrolled), RollReceived(len(grants) + 2, roll)]


async def _premiums(kafka: str, store, cases: list[Case], sign, timeout: float) -> list[tuple[Settlement, Settlement]]:
    """Enrol each case's person for their claims' year (as the bureau does before it rolls), roll each
    region's year, and wait for the premium records the pure rules give for the same inputs: (as
    recorded, as the rules give it), per subsidised person."""
    enrolled_at = datetime(2000, 1, 2, tzinfo=timezone.utc)
    enrolled, rolls, expected = {}, {}, {}
    for case in cases:
        year, person = case.claims[0].year, case.person
        enrolled[person.psn_no] = EnrollmentChange(
            event_id=f"demo.enrol.{year}.{person.psn_no}",
            psn_no=person.psn_no,
            insutype=person.insutype,
            insuplc_admdvs=person.insuplc_admdvs,
            valid_from=f"{year}-01-01",
            valid_to=f"{year}-12-31",
            recorded_at=enrolled_at,
        )
        region = settled_region(case)
        roll = rolls.setdefault(
            (region, year),
            PremiumRoll(
                event_id=f"premiums.{region}.{year}", region=region, year=year, recorded_at=datetime.now(timezone.utc)
            ),
        )
        for record in replay(_premium_inputs(case, enrolled[person.psn_no], roll), enrolled_at):
            expected[record.claim_id] = record
    await publish(kafka, ENROLLMENT, [encode(e) for e in enrolled.values()], EnrollmentChange, signed_by=sign)
    await enrollments_recorded(store, set(enrolled), timeout)
    await publish(
        kafka, PREMIUM_ROLLS, [encode(r) for r in rolls.values()], PremiumRoll, key_field="region", signed_by=sign
    )
    got = await premiums_recorded(store, set(expected), timeout)
    return [(got[claim_id], expected[claim_id]) for claim_id in sorted(expected)]


def settled_region(case: Case) -> str:
    """The region the case's claims are settled in."""
    return policy_for(case.person.insuplc_admdvs, case.claims[0].enddate).region


def run_demo(cases_dir: Path, timeout: float = 180.0) -> bool:
    cases = [Case.model_validate_json(p.read_bytes()) for p in sorted(cases_dir.glob("*.json"))]
    if not cases:
        raise click.ClickException(f"no case files in {cases_dir}")
    try:
        found = endpoints()
        return asyncio.run(_run(found.kafka, found.database, cases, timeout))
    except NotRunning:
        pass
    parts = Parts(home())
    found = parts.start()
    workers = WorkerProcesses(found, home() / "logs")
    try:
        initialise_sync(found)
        workers.start()
        click.echo(f"started the broker, PostgreSQL and {len(workers.processes)} workers (logs in {home() / 'logs'})")
        return asyncio.run(_run(found.kafka, found.database, cases, timeout))
    finally:
        workers.stop()
        parts.stop()


#: the worked cases shipped with the repository (a copy of ../shared/cases, kept equal by a test)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "cases"


@click.command()
@click.argument("cases_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False)
@click.option("--timeout", default=180.0, help="seconds to wait for the settlements")
def demo(cases_dir: Path | None, timeout: float) -> None:
    """Publish the worked cases' people and claims through the live system and print the settlements
    (CASES_DIR: default the repository's examples/cases)."""
    if cases_dir is None and not EXAMPLES.is_dir():
        raise click.ClickException(f"no worked cases at {EXAMPLES}: name a folder of case files")
    if not run_demo(cases_dir or EXAMPLES, timeout):
        raise SystemExit(1)
