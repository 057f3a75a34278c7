"""How a worker's stage meets Kafka: the harness's drivers, chosen by ONESTOP_DRIVER.

`faust` (the default, the design's): each worker a Faust app and consumer group. `aiokafka`: the
same consumer group and guarantees on a plain aiokafka consumer loop, without Faust's overhead
(bench/ measures both). A worker's handler does not know which one runs it.
"""
from __future__ import annotations

import os

DRIVERS = ("faust", "aiokafka")


def driver_name() -> str:
    name = os.environ.get("ONESTOP_DRIVER", "faust")
    if name not in DRIVERS:
        raise ValueError(f"ONESTOP_DRIVER={name!r}: choose one of {', '.join(DRIVERS)}")
    return name
