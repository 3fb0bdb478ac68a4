"""The Faust agents: one per stage topic plus the dispatcher; each only moves messages to a runner."""

from __future__ import annotations

import faust

from agents.runner import Dispatcher, StageRunner
from streams.payloads import Stage
from streams.topics import STAGE_REQUESTS, JOB_EVENTS, Topics


def faust_sender(app: faust.App):
    """A Send that waits for the broker's acknowledgement (acks=all) before the source is acked."""

    async def send(topic: str, key: bytes, value: bytes) -> None:
        fut = await app.topic(topic, key_serializer="raw", value_serializer="raw").send(key=key, value=value)
        await fut

    return send


def register(app: faust.App, topics: Topics, runner: StageRunner, dispatcher: Dispatcher, concurrency: int) -> None:
    """Attach every agent to `app`; topics are declared with the catalogue's partition counts."""
    for stage in Stage:
        _stage_agent(app, topics, stage, runner, concurrency)

    log_topic = app.topic(
        topics.job_events, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw",
        partitions=JOB_EVENTS.partitions,
    )
    dispatched = app.Table("dispatched", default=bool, partitions=JOB_EVENTS.partitions, key_type=str, value_type=bool)

    @app.agent(log_topic, name="dispatcher")
    async def dispatch(stream):
        async for raw in stream:
            job_id = await dispatcher.on_event(raw, lambda jid: bool(dispatched[jid]))
            if job_id is not None:
                dispatched[job_id] = True


def _stage_agent(app: faust.App, topics: Topics, stage: Stage, runner: StageRunner, concurrency: int) -> None:
    name = topics.stage(stage)
    topic = app.topic(
        name, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw",
        partitions=STAGE_REQUESTS[stage].partitions,
    )

    async def loop(stream):
        async for event in stream.events():
            await runner.on_request(event.value, name, event.message.partition, event.message.offset)

    app.agent(topic, name=f"stage-{stage.value}", concurrency=concurrency)(loop)
