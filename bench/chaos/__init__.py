"""`onestop chaos`: the live system under faults must settle exactly what it settles without them.

1. A generated year of claims (``year_of_claims``) with its people's grants, 10% duplicated
   discharge events (exact repeats: half right after the original, half much later) and 5%
   malformed events of every kind the schemas and intake refuse, each remembered with its kind.
   People get synthetic identity numbers (18 characters, deliberately with a wrong check
   character, so that no real number is ever generated) and names (``psn_name``, a field the
   schemas ignore), so that a leak into a log can be searched for; claims get opaque claim_ids
   (the generator's embed the person number) and grants opaque event_ids.
2. A reference run: fresh embedded parts and workers, no faults.
3. A fault run: fresh parts and workers, the same input published in slices while workers are
   SIGKILLed at random moments (and restarted after a short pause, as `onestop up` would), and
   PostgreSQL is stopped and started again once on the same data directory.
4. The checks, one line each with PASS/FAIL: both runs finished, the faults happened and no
   worker died of anything else, exactly once, balanced to the fen, no negative personal share,
   every malformed event rejected with its reason, the fault run's ledger identical to the
   reference's, no identity number or name in clear in any worker log (nor in the broker's and
   PostgreSQL's). Claims are counted by their key: a claim is its hospital's and its id.

With ``--attacks`` the fault run is also attacked (``attacks``): every attack must be refused with
its reason, or be one a hospital may send and move nothing; not one fen may move on an attack's
account; the workers' database roles must be refused the keys and the books.

A run ends when every good claim is settled and every worker's consumer group has committed the
end of its source topic, or after 90 s without progress (then the check says where the unsettled
claims wait and which groups lag), so a lost or stuck message fails a check instead of hanging.

The modules, in the order of a run: ``inputs`` (with ``malformed``: the bad events), ``run`` (one
run on fresh parts; ``faults`` injects the faults, ``watch`` looks at the run from outside),
``checks``, ``command`` (``run_chaos`` and the click command).
"""

from __future__ import annotations

from .checks import Check, all_checks, find_secrets
from .command import chaos, run_chaos
from .faults import FaultLog, Faults
from .inputs import ChaosInput, make_input, synthetic_id
from .malformed import Malformed
from .run import Ledger, RunResult, run_pipeline

__all__ = [
    "ChaosInput",
    "Check",
    "FaultLog",
    "Faults",
    "Ledger",
    "Malformed",
    "RunResult",
    "all_checks",
    "chaos",
    "find_secrets",
    "make_input",
    "run_chaos",
    "run_pipeline",
    "synthetic_id",
]
