"""The Faust driver: one Faust app (consumer group onestop-<worker>) reading the stage's topic in
batches per partition; output is acknowledged by the broker before the batch is acked, so Faust
never commits offsets of work whose effects were not sent."""
from __future__ import annotations

import asyncio

import faust

from streams.app import make_app

from ..stage import Context, Incoming, Stage, handle_and_send


def build_app(stage: Stage, kafka: str, database: str) -> faust.App:
    app = make_app(stage.name, kafka)
    source = app.topic(stage.source, key_serializer="raw", value_serializer="raw")
    context = Context(database)
    sinks: dict[str, faust.TopicT] = {}

    def sink(name: str) -> faust.TopicT:
        if name not in sinks:
            sinks[name] = app.topic(name, key_serializer="raw", value_serializer="raw")
        return sinks[name]

    async def send(topic: str, key: bytes | None, value: bytes):
        return await sink(topic).send(key=key, value=value)

    @app.agent(source, concurrency=1, name=f"onestop.{stage.name}")
    async def run(stream):
        async for events in stream.take_events(stage.batch_max, within=stage.batch_within):
            batch = [Incoming(e.key, e.value, e.message.topic, e.message.partition, e.message.offset) for e in events]
            await handle_and_send(stage, context, batch, send)

    @app.on_before_shutdown.connect
    def _close_store(app, **kwargs):  # noqa: ARG001 - faust's signal signature
        asyncio.ensure_future(context.close())

    return app


def run(stage: Stage, kafka: str, database: str, loglevel: str) -> None:
    worker = faust.Worker(build_app(stage, kafka, database), loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.spinner = None  # its spinner turns the root logger to DEBUG: every debug call then builds a record
    worker.execute_from_commandline()
