"""Every worker by name: `onestop worker <name>`."""
from __future__ import annotations

from schemas.codes import Payer

from . import cancellation, eligibility, intake, ledger, payer, presettle, year_end
from .harness import Worker

WORKERS: dict[str, Worker] = {
    "intake": intake.WORKER,
    "cancellation": cancellation.WORKER,
    "eligibility": eligibility.WORKER,
    **{p.value: payer.worker(p) for p in Payer},
    "ledger": ledger.WORKER,
    "year_end": year_end.WORKER,
    "presettle": presettle.WORKER,
}
