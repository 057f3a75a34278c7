"""The memory store: the idempotent ledger of store/interface.py in this process's memory, for tests.

It behaves as the PostgreSQL store (store/postgres/) does — the same statuses, reasons, records,
flags, queue rules, places and outbox, in the same order — only without SQL, and in the same
modules, one per concern:

- the tables, each a dict keyed by its PostgreSQL primary key (its person first), and the
  transactions: one lock for the whole store, an undo log as the rollback — tables.py, rows.py;
- every input archived as received, once per place, at its person's next place in their order
  (``persons``, taken in the transaction and given back by a rollback) — archive.py;
- a claim once per revision of its person, its owner kept by its key (claims.py); a cancellation
  once (cancellations.py); an eligibility change once, the periods folded again (identity.py); a
  year-end close once per region and year, put in the order of each person it settles (closes.py);
  an enrollment change once, the periods of insurance folded again (enrollment.py); a premium roll
  once per region and year, put in the order of each person it may subsidise, and before a later
  change of one it may then subsidise (rolls.py);
- the ledger, the one writer of money, applying each person's queue in order (store/life.py)
  as PostgreSQL's batch does, record by record and seq by seq (access.py, ledger.py); the year
  totals (totals.py);
- rejections and the archive read back (inputs.py), parked messages (parking.py), the key
  registry (keys.py), the ledger's invariants (checks.py).

Rows hold what PostgreSQL would give back (rows.py): JSON for jsonb, ``numeric(14,2)`` money, UTC
times; a person's seqs are consumed when an insert finds its key taken, as PostgreSQL's are. What
both backends decide in Python (a claim's content digest, the JSON its columns hold, the words of a
refusal) is store/columns.py's and store/reasons.py's, so that both decide alike.

``memory://NAME`` names one store per process (``MemoryStore.named``), so a test's workers, each
opening the URL, share it; ``close()`` keeps it (the next opener finds it), ``forget(url)`` drops it.
"""

from __future__ import annotations

from typing import ClassVar

from ..interface import Store
from .cancellations import Cancellations
from .checks import Checks
from .claims import Claims
from .closes import Closes
from .enrollment import Enrollment
from .identity import Identity
from .inputs import Inputs
from .keys import Keys
from .ledger import Ledger
from .parking import Parking
from .rolls import Rolls
from .tables import Memory
from .totals import Totals

__all__ = ["MemoryStore"]


class MemoryStore(
    Claims, Cancellations, Identity, Enrollment, Closes, Rolls, Totals, Ledger, Inputs, Parking, Keys, Checks, Store
):
    """The store in memory: ``MemoryStore.named("memory://NAME")`` (one per name in a process), or ``MemoryStore()``."""

    _named: ClassVar[dict[str, MemoryStore]] = {}

    def __init__(self) -> None:
        self._m = Memory()
        #: the life of the topics this store's inputs come from (``begin_life``): part of each input's place
        self.life = 0

    @classmethod
    def named(cls, url: str) -> MemoryStore:
        """The store of this name in this process (a new, empty one the first time)."""
        store = cls._named.get(url)
        if store is None:
            store = cls._named[url] = cls()
        return store

    @classmethod
    def forget(cls, url: str) -> None:
        """Drop the store of this name: the next ``named(url)`` is a new, empty one."""
        cls._named.pop(url, None)

    async def close(self) -> None:
        """Nothing to let go of: the data stays for the name's other users (``forget`` drops it)."""

    async def migrate(self) -> list[int]:
        """No schema: nothing to apply."""
        return []

    async def begin_life(self, bootstrap: str) -> int:
        """The topics were made afresh: a new life begins (``broker_lives``), and this store places
        inputs in it (every user of the name shares the store, and so the life)."""
        async with self._m.transaction() as m:
            self.life = max(m.t.lives, default=0) + 1
            m.set(m.t.lives, self.life, (bootstrap, m.now))
        return self.life
