"""Every worker by name: `onestop worker <name>`."""
from __future__ import annotations

from schemas.codes import Payer

from . import eligibility, intake, ledger, payer, resettlement
from .stage import Stage

WORKERS: dict[str, Stage] = {
    "intake": intake.STAGE,
    "eligibility": eligibility.STAGE,
    **{p.value: payer.stage(p) for p in Payer},
    "ledger": ledger.STAGE,
    "resettlement": resettlement.STAGE,
}
