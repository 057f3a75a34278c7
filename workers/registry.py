"""Every worker by name: `onestop worker <name>`."""
from __future__ import annotations

from schemas.codes import Payer

from . import eligibility, intake, ledger, payer, resettlement
from .harness import Worker

WORKERS: dict[str, Worker] = {
    "intake": intake.WORKER,
    "eligibility": eligibility.WORKER,
    **{p.value: payer.worker(p) for p in Payer},
    "ledger": ledger.WORKER,
    "resettlement": resettlement.WORKER,
}
