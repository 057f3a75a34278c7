"""Every worker by name: `onestop worker <name>`.

The names are known at import; a worker itself is made when first asked for: a payer's worker
declares the payers after it in some region's chain, which reads the policy files, and a command
that never runs a worker (`onestop policy …`, `onestop --help`) must not fail on a policy file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial

from schemas.codes import CLAIM_PAYERS

from . import cancellation, eligibility, enrollment, intake, ledger, payer, premiums, presettle, year_end
from .harness import Worker


class _Registry(Mapping[str, Worker]):
    """The workers by name, each made when first asked for (a Mapping: names, then workers)."""

    def __init__(self, makers: dict[str, Callable[[], Worker]]) -> None:
        self._makers = makers
        self._made: dict[str, Worker] = {}

    def __getitem__(self, name: str) -> Worker:
        found = self._made.get(name)
        if found is None:
            found = self._made[name] = self._makers[name]()  # (a KeyError for an unknown name, as a dict's)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


WORKERS: Mapping[str, Worker] = _Registry(
    {
        "intake": lambda: intake.WORKER,
        "cancellation": lambda: cancellation.WORKER,
        "eligibility": lambda: eligibility.WORKER,
        **{p.value: partial(payer.worker, p) for p in CLAIM_PAYERS},
        "ledger": lambda: ledger.WORKER,
        "year_end": lambda: year_end.WORKER,
        "enrollment": lambda: enrollment.WORKER,
        "premiums": lambda: premiums.WORKER,
        "presettle": lambda: presettle.WORKER,
    }
)
