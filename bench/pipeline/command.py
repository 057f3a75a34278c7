"""`python -m bench.pipeline`: the arguments, the run, the report printed and written."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from pathlib import Path

import orjson

from .report import report
from .run import RESULTS, run


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline",
        description=sys.modules[__package__].__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--claims", type=int, default=8000, help="claims published at once for the saturation run")
    parser.add_argument("--rates", default="100,500,1000", help="fixed offered loads, claims per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of each fixed load")
    parser.add_argument(
        "--drain-timeout", type=float, default=90.0, help="seconds to wait for a phase's last settlement"
    )
    parser.add_argument(
        "--profile-seconds", type=float, default=15.0, help="py-spy duration at saturation (0: no profile)"
    )
    parser.add_argument("--profile-pool", type=int, default=8000, help="claims set aside for the profiling run")
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--driver", choices=["faust", "aiokafka"], default="aiokafka", help="the workers' driver (ONESTOP_DRIVER)"
    )
    parser.add_argument(
        "--processes",
        default=None,
        help="how the workers share processes (ONESTOP_PROCESSES: 0 one per worker, a number, or groups "
        'like "intake ledger tilt+secondary"; default: the system\'s own default)',
    )
    parser.add_argument(
        "--engine-claims",
        type=int,
        default=20_000,
        help="claims for the pure engine's figure measured in the same run, before the parts start (0: none)",
    )
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="seconds to measure the CPU used at rest")
    parser.add_argument("--hops", type=int, default=None, help="baseline hops (default: a typical claim's route)")
    parser.add_argument("--baseline-only", action="store_true", help="measure only the plain chain")
    parser.add_argument("--quiet", type=float, default=0.3, help="cores other processes may use before a part starts")
    parser.add_argument(
        "--quiet-wait", type=float, default=15.0, help="seconds to wait for the machine to be that quiet"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data)")
    parser.add_argument("--label", default="", help="added to the result file's name after a dash (e.g. 8partitions)")
    return parser


def main() -> None:
    args = _arguments().parse_args()
    began = time.perf_counter()
    result = asyncio.run(run(args))
    result["run_seconds"] = round(time.perf_counter() - began, 1)
    text = report(result)
    print()
    print(text)
    grouped = (
        f"-{args.processes}p"
        if args.processes and args.processes.isdigit() and args.processes != "0"
        else ("-grouped" if args.processes and not args.processes.isdigit() else "")
    )
    label = f"-{args.label.lstrip('-')}" if args.label else ""
    out = RESULTS / f"pipeline-{args.driver}{grouped}{label}-{datetime.now().strftime('%Y-%m-%dT%H%M')}.json"
    out.write_bytes(orjson.dumps({**result, "report": text.splitlines()}, option=orjson.OPT_INDENT_2))
    print(
        f"\nwritten {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out} "
        f"(whole run {result['run_seconds']:.0f}s)"
    )
