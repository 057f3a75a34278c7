"""The benefit rules as pure functions, and one data file per region and policy period.

No I/O besides reading this package's own data files; no Kafka, no PostgreSQL. The same
functions serve the live workers, the `onestop policy` calculator and audit replays.
"""

import schemas  # noqa: F401 - first: schemas.compiled decides whether the rules load compiled or from their source

from .payer import pay
from .settle import Settled, route, settle

__all__ = ["Settled", "pay", "route", "settle"]
