"""One batch of a worker, as a driver hands it over: handled — what cannot be handled parked —
and its output sent, returning only once the broker acknowledged every record, so the driver
may then mark the batch's offsets done."""

from __future__ import annotations

from . import metrics
from .harness import Context, Incoming, SendOne, Worker, send_all, until_done
from .parking import handle_or_park


async def handle_and_send(worker: Worker, context: Context, batch: list[Incoming], send: SendOne) -> None:
    """Handle a batch and send its output; return only once the broker acknowledged every record,
    so the driver may then mark the batch's offsets done. A message the handler cannot handle is
    parked (workers/parking.py), and its person's later ones wait behind it; the rest go on."""
    started = metrics.batch_arrived(worker.name, (i.topic for i in batch), (i.timestamp_ms for i in batch))
    outgoing = await until_done(worker, context, lambda: handle_or_park(worker, context, batch))
    await send_all(worker, context, outgoing, send)
    metrics.batch_done(worker.name, started, (o.topic for o in outgoing), worker.sink_of)


async def sweep_and_send(worker: Worker, context: Context, send: SendOne) -> None:
    """Run the worker's sweep (between batches) and send what it returns, acknowledged."""
    if worker.sweep is None:
        return
    outgoing = await until_done(worker, context, lambda: worker.sweep(context))
    await send_all(worker, context, outgoing, send)
