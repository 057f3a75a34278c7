"""The checks of the chaos run, one line each with PASS/FAIL: both runs finished, the faults
happened and no worker died of anything else, exactly once, balanced to the fen, no negative
personal share, every malformed event rejected with its reason, the fault run's ledger identical to
the reference's, no identity number or name in clear in any log; in an attacked run, every attack
refused with its reason (or accepted and harmless), not one fen moved by one, and the workers'
database roles refused the keys and the books.

Claims are counted by their key (a claim is its hospital's and its id, schemas/ids.py): another
hospital's claim with a good claim's claim_id is another claim."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import orjson

from schemas.events import Rejection, Settlement
from schemas.personal import mask
from schemas.settings import WORKER_KINDS

from .attack import MARKER, Attack, kind_group
from .faults import FaultLog, Faults
from .inputs import ChaosInput
from .malformed import Malformed
from .run import RunResult, settled_in


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def _check(name: str, ok: bool, detail: str, examples: list, count: int = 5) -> Check:
    """A check whose detail names the first ``count`` of ``examples`` when it fails."""
    return Check(name, ok, detail if ok else f"{detail}; e.g. {examples[:count]}")


def _amounts(s: Settlement) -> tuple:
    return (
        s.medfee_sumamt,
        s.fund_pay_sumamt,
        s.psn_part_amt,
        tuple((line.payer.value, line.amount) for line in s.payments),
    )


def check_exactly_once(made: ChaosInput, run: RunResult, attack_claims: set[str] = frozenset()) -> Check:
    """Every good claim settled once; no other claim settled but the attacks' (checked apart: they pay nothing)."""
    good = set(made.good)
    store_once = sum(1 for c in good if run.settlements_per_claim.get(c) == 1)
    missing = [c for c in good if c not in run.settlements_per_claim]
    twice = [c for c, n in run.settlements_per_claim.items() if n > 1]
    stray = [c for c in run.settlements_per_claim if c not in good | attack_claims]
    topic_detail, topic_wrong, topic_stray = _exactly_once_on_topic(
        good, run.topic_settlements, attack_claims, run.topics_lost
    )
    ok = store_once == len(good) and not (missing or twice or stray or topic_wrong or topic_stray)
    detail = (
        f"{store_once}/{len(good)} good claims with exactly 1 settlement in the store "
        f"(missing {len(missing)}, more than 1: {len(twice)}, not a good claim: {len(stray)}); " + topic_detail
    )
    return _check("every good claim settled exactly once", ok, detail, missing + twice + stray + topic_wrong)


def _exactly_once_on_topic(
    good: set[str], records: list[Settlement], attack_claims: set[str], lost: bool = False
) -> tuple[str, list[str], list[str]]:
    """What settlements.completed says of exactly once: the detail, the good claims missing, under
    two first settlements or a record repeated with other amounts, and the claims that are not good ones.
    When a restart ``lost`` the topic's records before it, a claim is missing only from what the topic
    still holds (the store's check says it was settled)."""
    first: dict[str, set[str]] = defaultdict(set)
    by_id: dict[str, list[Settlement]] = defaultdict(list)
    for s in records:
        by_id[s.settlement_id].append(s)
        if s.kind == "settlement":
            first[s.key].add(s.settlement_id)
    missing = [] if lost else [c for c in good if c not in first]
    ids_per_claim = [c for c, ids in first.items() if len(ids) > 1]
    stray = sorted({s.key for s in records if s.key not in good | attack_claims and s.kind != "year_end"})
    repeats = sum(len(ss) - 1 for ss in by_id.values())
    differing = [i for i, ss in by_id.items() if len({_amounts(s) for s in ss}) > 1]
    detail = (
        f"settlements.completed: {len(first.keys() & good)}/{len(good)} claims, "
        f"{len(records)} records, {repeats} repeated by settlement_id "
        f"({len(differing)} with other amounts), {len(ids_per_claim)} claims under two settlement_ids, "
        f"{len(stray)} not a good claim" + (" (the topic as it is since the restart lost its records)" if lost else "")
    )
    return detail, missing + ids_per_claim + differing, stray


def check_no_duplicate_lines(run: RunResult) -> Check:
    ids = Counter(s.settlement_id for s in run.store_settlements)
    twice = [i for i, n in ids.items() if n > 1]
    doubled = [
        s.settlement_id
        for s in [*run.store_settlements, *run.topic_settlements]
        if len({line.payer for line in s.payments}) != len(s.payments)
    ]
    detail = (
        f"{len(ids)} records in the ledger, {len(twice)} under an id twice; "
        f"{len(doubled)} records (store and topic) with a payer twice"
    )
    return _check("no record and no payment line duplicated", not twice and not doubled, detail, twice + doubled)


def check_year_totals(run: RunResult) -> Check:
    detail = f"store.check_ledger(): {len(run.ledger_problems)} problems over {len(run.ledger.totals)} year_totals rows"
    return _check(
        "every year-to-date total equals the sum of its lines", not run.ledger_problems, detail, run.ledger_problems, 3
    )


def _unbalanced(s: Settlement) -> bool:
    """A record that does not add up; a settlement (or year-end payment) with a negative part.
    Adjustments and reversals are differences: their parts may be negative."""
    first = s.kind in ("settlement", "year_end")
    return (
        s.fund_pay_sumamt + s.psn_part_amt != s.medfee_sumamt
        or sum((line.amount for line in s.payments), Decimal("0.00")) != s.fund_pay_sumamt
        or (first and (any(line.amount < 0 for line in s.payments) or s.psn_part_amt < 0))
        or any(v.as_tuple().exponent < -2 for v in (s.medfee_sumamt, s.fund_pay_sumamt, s.psn_part_amt))
    )


def _net_negative(run: RunResult) -> list[str]:
    """Claims on which a fund is owed less than nothing: no record can make that right (the patient's
    share: check_personal_share)."""
    return sorted({c for (c, _), amount in run.ledger.payments.items() if amount < 0})


def check_balanced(run: RunResult) -> Check:
    records = [*run.store_settlements, *run.topic_settlements]
    bad = [s.settlement_id for s in records if _unbalanced(s)] + _net_negative(run)
    kinds = Counter(s.kind for s in run.store_settlements)
    detail = (
        f"{len(records) - len(bad)}/{len(records)} records (store and topic; "
        f"{', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}): payments sum to fund_pay_sumamt, "
        f"fund_pay_sumamt + psn_part_amt = medfee_sumamt, no negative part on a settlement, no fund's net below zero"
    )
    return _check("every record balanced to the fen", not bad, detail, bad)


def check_personal_share(runs: list[RunResult]) -> Check:
    """No claim's net personal share below zero in either run: no one is paid to be treated. A
    year-end record is excepted: it pays the person back what the year's rules deferred, by design."""
    nets: dict[tuple[str, str], Decimal] = defaultdict(lambda: Decimal("0.00"))
    for run in runs:
        for s in run.store_settlements:
            if s.kind != "year_end":
                nets[(run.name, s.key)] += s.psn_part_amt
    negative = sorted(f"{name} {key}: {net}" for (name, key), net in nets.items() if net < 0)
    detail = (
        f"{len(nets)} claims' net psn_part_amt over {len(runs)} runs (year-end records excepted): "
        f"{len(negative)} below zero"
    )
    return _check("no negative personal share anywhere", not negative, detail, negative)


def check_audit(run: RunResult) -> Check:
    detail = (
        f"{len(run.store_settlements)} records against a replay of the run's archived inputs by the rules: "
        f"{len(run.audit)} differences"
    )
    return _check(
        f"{run.name} run's ledger is what its inputs make (audit replay)", not run.audit, detail, run.audit, 3
    )


def check_life(made: ChaosInput, run: RunResult) -> Check:
    """Cancelled claims owe nothing; corrected ones are owed on their corrected bill."""
    life, nets = made.life, run.ledger.settlements  # both by claim key
    zero = (Decimal("0.00"),) * 3
    not_cancelled = [c for c in life.cancelled if nets.get(c) != zero]
    corrected = {c: corrected_total(made, c) for c in life.corrected}
    not_corrected = [c for c, total in corrected.items() if nets.get(c, zero)[0] != total]
    kinds = Counter(s.kind for s in run.store_settlements)
    detail = (
        f"{len(life.cancelled) - len(not_cancelled)}/{len(life.cancelled)} cancelled claims net to zero, "
        f"{len(corrected) - len(not_corrected)}/{len(corrected)} corrected claims owed on their corrected bill, "
        f"{len(life.revoked)} people's categories revoked from their first day; "
        f"{kinds.get('adjustment', 0)} adjustments and {kinds.get('reversal', 0)} reversals recorded"
    )
    return _check(
        "cancellations, corrections and revocations took effect",
        not (not_cancelled or not_corrected),
        detail,
        not_cancelled + not_corrected,
    )


def corrected_total(made: ChaosInput, key: str) -> Decimal:
    from .life import corrected_bill

    original = made.good[key]
    return Decimal(
        corrected_bill(
            {"inscp_scp_amt": f"{original.inscp_scp_amt:.2f}", "medfee_sumamt": f"{original.medfee_sumamt:.2f}"}
        )["medfee_sumamt"]
    )


def _check_rejected(title: str, expected: list[Malformed], rejections: list[Rejection], good: set[bytes]) -> Check:
    reasons: dict[str, list[str]] = defaultdict(list)
    for r in rejections:
        reasons[r.original].append(r.reason)
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong = []
    for bad in expected:
        got = reasons.get(bad.raw.decode(), [])
        per_kind[bad.kind][1] += 1
        if got and all(bad.expect in reason for reason in got):
            per_kind[bad.kind][0] += 1
        else:
            wrong.append((bad.kind, got[:1]))
    repeats = sum(len(v) - 1 for v in reasons.values())
    good_rejected = sum(1 for r in rejections if r.original.encode() in good)
    kinds = ", ".join(f"{kind} {n}/{total}" for kind, (n, total) in per_kind.items())
    detail = (
        f"{sum(n for n, _ in per_kind.values())}/{len(expected)} with the reason expected "
        f"({len(rejections)} records, {repeats} repeated, {good_rejected} good events rejected): {kinds}"
    )
    if wrong:
        detail += f"; wrong or missing e.g. {wrong[:3]}"
    return Check(title, not wrong and not good_rejected, detail)


def check_rejections(made: ChaosInput, run: RunResult) -> list[Check]:
    good = (set(made.events) - {b.raw for b in made.malformed}) | {raw for _, raw in made.life.cancellations}
    return [
        _check_rejected("every malformed event on claims.rejected with a reason", made.malformed, run.rejected, good),
        _check_rejected(
            "every malformed eligibility event on eligibility.rejected with a reason",
            made.bad_grants,
            run.eligibility_rejected,
            set(made.grants) | set(made.life.revocations),
        ),
    ]


def _reasons_of_attacks(run: RunResult) -> tuple[dict[bytes, list[str]], dict[str, list[str]]]:
    """The reasons of every rejection by the bytes refused, and by MARKER for forged claims in flight
    (the payers rewrite those on their way: the bytes refused are not those sent)."""
    by_raw: dict[bytes, list[str]] = defaultdict(list)
    by_marker: dict[str, list[str]] = defaultdict(list)
    for r in [*run.rejected, *run.eligibility_rejected]:
        by_raw[r.original.encode()].append(r.reason)
        if MARKER in r.original:
            try:
                marker = orjson.loads(r.original).get(MARKER)
            except (orjson.JSONDecodeError, AttributeError):
                marker = None
            if isinstance(marker, str):
                by_marker[marker].append(r.reason)
    return by_raw, by_marker


def check_attacks(attacks: list[Attack], run: RunResult) -> list[Check]:
    """Each attack refused on its rejection topic with its reason, or (the harmless ones a hospital
    may rightly send) accepted and not refused; not one fen moved by one; the workers' roles refused."""
    by_raw, by_marker = _reasons_of_attacks(run)

    def reasons(a: Attack) -> list[str]:
        return by_marker.get(a.marker, []) if a.marker else by_raw.get(a.raw, [])

    refusable = [a for a in attacks if not a.harmless]
    wrong = [
        (a.kind, reasons(a)[:1]) for a in refusable if not reasons(a) or not all(a.expect in r for r in reasons(a))
    ]
    harmless = [a for a in attacks if a.harmless]
    refused = [(a.kind, reasons(a)[:1]) for a in harmless if reasons(a)]
    kinds = Counter(kind_group(a.kind) for a in refusable)
    detail = (
        f"{len(refusable) - len(wrong)}/{len(refusable)} attacks on their rejection topic with the reason expected "
        f"({', '.join(f'{k} {n}' for k, n in kinds.items())}); pre-settlement answers sent: {run.answers}; "
        f"accepted as a hospital may send them, none refused: {len(harmless) - len(refused)}/{len(harmless)} "
        f"({'; '.join(a.kind for a in harmless)})"
    )
    return [
        _check(
            "every attack refused with its reason", not (wrong or refused or run.answers), detail, wrong + refused, 4
        ),
        check_nothing_moved(attacks, run),
        check_roles(run),
    ]


def check_nothing_moved(attacks: list[Attack], run: RunResult) -> Check:
    """No fund paid on a claim an attack made, no record caused by an attack's cancellation, close or grant.
    (What attacks on good claims would have moved shows in the ledger compared with the reference's.)"""
    claims = {a.claim for a in attacks if a.claim}
    causes = {a.event_id for a in attacks if a.event_id}
    recorded = {s.key for s in run.store_settlements if s.key in claims}
    paid = sorted(
        {
            s.settlement_id
            for s in run.store_settlements
            if s.key in claims and (s.fund_pay_sumamt or any(line.amount for line in s.payments))
        }
    )
    caused = sorted(
        {
            s.settlement_id
            for s in run.store_settlements
            if any(e in s.settlement_id or e in (s.reason or "") for e in causes)
        }
    )
    detail = (
        f"{len(claims)} claims made by attacks: {len(recorded)} recorded (those accepted), {len(paid)} records "
        f"with a fund paid; {len(causes)} attacks' cancellations, closes and grants: {len(caused)} records caused"
    )
    return _check("not one fen moved by an attack", not (paid or caused), detail, paid + caused)


def check_roles(run: RunResult) -> Check:
    """Each kind of worker's database role refused (SQLSTATE 42501, a grant or a trigger) every
    write of the key registry, change to a record or an archived input, and change of the schema."""
    allowed = [(a.kind, a.statement, a.said) for a in run.roles if not a.refused]
    kinds = sorted({a.kind for a in run.roles})
    detail = (
        f"{len(run.roles) - len(allowed)}/{len(run.roles)} statements refused for want of privilege, tried as "
        f"each of {len(kinds)}/{len(WORKER_KINDS)} workers' roles: signing_keys written, settlements and inputs "
        f"updated or deleted, year_totals and settlements written by any but the ledger, the schema changed"
    )
    return _check(
        "the workers' database roles cannot touch the keys or the books",
        bool(run.roles) and not allowed and len(kinds) == len(WORKER_KINDS),
        detail,
        allowed,
        3,
    )


def _differences(name: str, reference: dict, fault: dict, show: Callable[[object], str]) -> tuple[int, list[str]]:
    keys = set(reference) | set(fault)
    differ = sorted((k for k in keys if reference.get(k) != fault.get(k)), key=str)
    return len(differ), [f"{name} {show(k)}: {reference.get(k)} vs {fault.get(k)}" for k in differ[:3]]


def check_same_ledger(reference: RunResult, fault: RunResult, attack_claims: set[str] = frozenset()) -> Check:
    """What is owed on every claim and every year's totals, identical. The claims attacks made are
    left out of the comparison (they are in the attacked run only: check_nothing_moved says they pay
    nothing); a good claim an attack aimed at, its payments and the year totals are compared as they are."""
    a, b = reference.ledger, fault.ledger
    n_pay, e_pay = _differences("payment", a.payments, b.payments, str)
    rightful = {k: v for k, v in b.settlements.items() if k not in attack_claims}
    n_set, e_set = _differences("settlement", a.settlements, rightful, str)
    n_tot, e_tot = _differences("year_totals", a.totals, b.totals, lambda k: f"{mask(k[0])}/{k[1]}/{k[2]}")
    ok = not (n_pay or n_set or n_tot) and a.payments and a.totals
    total_paid = sum(a.payments.values(), Decimal("0.00"))
    left_out = (
        f" ({len(b.settlements) - len(rightful)} attack claims left out)" if len(rightful) < len(b.settlements) else ""
    )
    detail = (
        f"{len(b.payments)} payments (claim, payer) vs {len(a.payments)}: {n_pay} differ; "
        f"{len(rightful)} claims' nets vs {len(a.settlements)}: {n_set} differ{left_out}; "
        f"{len(b.totals)} year_totals (person, year, account) vs {len(a.totals)}: {n_tot} differ; "
        f"funds paid {sum(b.payments.values(), Decimal('0.00'))} vs {total_paid}"
    )
    return _check("fault run's ledger identical to the reference run's", bool(ok), detail, e_pay + e_set + e_tot)


def find_secrets(logs: Path | Iterable[Path], secrets: Iterable[str]) -> list[tuple[str, int, str]]:
    """(file, line number, masked hit) for every line of the log files (or of every file under a
    directory) holding one of ``secrets`` in clear."""
    wanted = set(secrets)
    lengths = sorted({len(s) for s in wanted})
    paths = sorted(p for p in logs.rglob("*") if p.is_file()) if isinstance(logs, Path) else list(logs)
    hits = []
    for path in paths:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            found = {line[i : i + n] for n in lengths for i in range(len(line) - n + 1)} & wanted
            for secret in sorted(found):
                hits.append(
                    (path.name, number, mask(secret) if len(secret) > 6 else secret[0] + "*" * (len(secret) - 1))
                )
    return hits


def _line_count(paths: Iterable[Path]) -> int:
    return sum(len(path.read_text(errors="replace").splitlines()) for path in paths)


def check_logs(made: ChaosInput, runs: list[RunResult]) -> Check:
    lines = sum(_line_count(run.log_dir.rglob("*.log")) for run in runs)
    hits = [(run.name, *hit) for run in runs for hit in find_secrets(run.log_dir, made.secrets)]
    detail = (
        f"{lines} worker log lines of {len(runs)} runs searched for {len(made.names)} identity numbers "
        f"and {len(set(made.names.values()))} names: {len(hits)} in clear"
    )
    return _check("no identity number or name in clear in any worker log", not hits, detail, hits)


def check_reasons(made: ChaosInput, run: RunResult) -> Check:
    """A rejection carries the record itself; its reason must not repeat the person's number or name."""
    secrets = made.secrets
    reasons = [r.reason for r in [*run.rejected, *run.eligibility_rejected]]
    hits = [mask(s) for reason in reasons for s in secrets if s in reason]
    detail = (
        f"{len(reasons)} rejection reasons searched for {len(secrets)} identity numbers and names: {len(hits)} in clear"
    )
    return _check("no identity number or name in a rejection's reason", not hits, detail, hits)


def check_part_logs(made: ChaosInput, runs: list[RunResult]) -> Check:
    """The same search in the broker's and PostgreSQL's own logs (``<run>/parts``)."""
    paths = [
        path
        for run in runs
        for path in (
            run.log_dir.parent / "parts" / "broker" / "tansu.log",
            run.log_dir.parent / "parts" / "pgdata" / "log",
        )
        if path.is_file()
    ]
    hits = find_secrets(paths, made.secrets)
    detail = f"{_line_count(paths)} lines of {len(paths)} broker and PostgreSQL logs: {len(hits)} in clear"
    return _check("no identity number or name in clear in the broker's and PostgreSQL's logs", not hits, detail, hits)


def check_faults(run: RunResult, faults: Faults) -> Check:
    log = run.faults or FaultLog()
    same_dsn = all(same for _, _, same in log.pg_restarts)
    restarts = 0 if faults.restart_at is None else 1
    ok = (
        len(log.kills) == faults.kills
        and len(log.pg_restarts) == 1
        and same_dsn
        and len(log.restarts) == restarts
        and not log.unexpected_exits
    )
    kills = Counter(name for _, name, _ in log.kills)
    detail = (
        f"{len(log.kills)} SIGKILLs ({', '.join(f'{n}×{c}' for n, c in sorted(kills.items()))}); "
        f"PostgreSQL restarted {len(log.pg_restarts)}× "
        f"({', '.join(f'at {at:.1f}s, down {down:.1f}s' for at, down, _ in log.pg_restarts)}, same DSN: {same_dsn})"
        + (f"; {faults.instances} instances of every stage" if faults.instances > 1 else "")
        + (
            f"; the whole system restarted {len(log.restarts)}× "
            f"({', '.join(f'at {at:.1f}s, back in {back:.1f}s' for at, back in log.restarts)})"
            if restarts or log.restarts
            else ""
        )
        + f"; {len(log.unexpected_exits)} workers exited without being killed"
        + (
            f": {[(f'{at:.1f}s', name, code) for at, name, code in log.unexpected_exits][:6]}"
            if log.unexpected_exits
            else ""
        )
    )
    return Check("faults injected, workers survived all but the SIGKILLs", ok, detail)


def check_inputs(run: RunResult) -> Check:
    """No input lost or stuck: every event sent is archived; every archived input took effect (no
    longer in its person's queue; an accepted claim settled), was refused with its reason, or was a
    repeat; nothing parked (a good run has nothing a worker cannot handle) and every record published."""
    archive = run.archived
    if archive is None:
        return Check(f"{run.name} run: no input lost or stuck", False, "the run left no archive to look at")
    lost = [raw[:80] for raw in run.sent if raw not in archive.raws]
    unsettled = sorted(archive.claims_accepted - set(run.settlements_per_claim))
    ok = not (lost or unsettled or archive.queued or archive.parked or archive.refused_without_reason)
    ok = ok and not archive.unpublished
    detail = (
        f"{len(run.sent) - len(lost)}/{len(run.sent)} events sent are archived; "
        f"{sum(archive.outcomes.values())} archived inputs "
        f"({', '.join(f'{n} {o}' for o, n in sorted(archive.outcomes.items()))}): "
        f"{len(archive.queued)} still in their person's queue, {len(unsettled)} accepted claims unsettled, "
        f"{archive.refused_without_reason} refused without a reason; {len(archive.parked)} messages parked; "
        f"{archive.unpublished} records not published"
    )
    examples = [*lost, *unsettled, *archive.queued, *archive.parked]
    return _check(f"{run.name} run: no input lost or stuck", ok, detail, examples)


def check_finished(runs: list[RunResult]) -> Check:
    notes = [f"{run.name}: {note}" for run in runs for note in run.unfinished]
    detail = "; ".join(f"{run.name} run {run.seconds:.0f}s, {settled_in(run)}" for run in runs)
    return Check(
        "both runs finished: every good claim settled, every worker caught up",
        not notes,
        detail + ("; " + " | ".join(notes) if notes else ""),
    )


def all_checks(
    made: ChaosInput, reference: RunResult, fault: RunResult, faults: Faults, attacks: list[Attack] | None = None
) -> list[Check]:
    attack_claims = {a.claim for a in attacks or [] if a.claim}
    return [
        check_finished([reference, fault]),
        check_faults(fault, faults),
        check_exactly_once(made, fault, attack_claims),
        check_inputs(reference),
        check_inputs(fault),
        check_no_duplicate_lines(fault),
        check_year_totals(fault),
        check_balanced(fault),
        check_personal_share([reference, fault]),
        check_life(made, fault),
        check_audit(reference),
        check_audit(fault),
        *check_rejections(made, fault),
        *(check_attacks(attacks, fault) if attacks else []),
        check_same_ledger(reference, fault, attack_claims),
        check_logs(made, [reference, fault]),
        check_reasons(made, fault),
        check_part_logs(made, [reference, fault]),
    ]
