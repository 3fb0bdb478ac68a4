"""One stage attempt around the pure handler: decode, emit started, run with a time limit, emit the outcome."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from agents import transitions
from agents.context import StageContext, StageInput, utc_now
from agents.errors import StageError, TransientError
from agents.handlers import run_stage
from agents.providers.base import ContentProvider
from streams.codec import DecodeError, decode_command, decode_event, encode, key_for
from streams.commands import RequestStage
from streams.deadletters import DeadLettered
from streams.events import JobSubmitted
from streams.topics import Topics

log = logging.getLogger("planperfect.agents")

# (topic, key, value) -> awaits the broker's acknowledgement.
Send = Callable[[str, bytes, bytes], Awaitable[None]]


@dataclass
class StageRunner:
    """Moves one stage request through its attempt; all decisions are in `transitions`."""

    topics: Topics
    provider: ContentProvider
    send: Send

    async def on_request(self, raw: bytes, source: str, partition: int, offset: int) -> None:
        try:
            req = decode_command(raw)
        except DecodeError as exc:
            await self.dead_letter_raw(exc, source, partition, offset)
            return
        begun = transitions.started(req, utc_now())
        await self._emit_event(begun)
        ctx = StageContext(provider=self.provider)
        inp = StageInput(
            job_id=req.job_id, job_type=req.job_type, stage=req.stage,
            attempt=req.attempt, brief=req.brief, outputs=req.outputs,
        )
        t0 = time.monotonic()
        try:
            output = await asyncio.wait_for(run_stage(inp, ctx), timeout=req.visibility_seconds)
        except StageError as exc:
            await self._fail(req, begun, exc, t0)
            return
        except asyncio.TimeoutError:
            err = TransientError(f"stage exceeded its {req.visibility_seconds}s time limit", code="timeout")
            await self._fail(req, begun, err, t0)
            return
        except Exception as exc:  # a bug or an unclassified library error: retry, then dead-letter
            log.exception("stage %s of job %s raised", req.stage, req.job_id)
            await self._fail(req, begun, TransientError(f"{type(exc).__name__}: {exc}", code="unexpected"), t0)
            return
        duration = int((time.monotonic() - t0) * 1000)
        done, after = transitions.completed(req, begun, output, duration, utc_now())
        await self._emit_event(done)
        await self._route(after)
        log.info("job %s stage %s attempt %d completed in %d ms", req.job_id, req.stage, req.attempt, duration)

    async def _fail(self, req: RequestStage, begun, err: StageError, t0: float) -> None:
        duration = int((time.monotonic() - t0) * 1000)
        fail, after = transitions.failed(req, begun, err, duration, utc_now())
        log.warning("job %s stage %s attempt %d failed: %s", req.job_id, req.stage, req.attempt, err)
        await self._emit_event(fail)
        await self._route(after)

    async def _route(self, message) -> None:
        if isinstance(message, RequestStage):
            await self.send(self.topics.stage(message.stage), key_for(message.job_id), encode(message))
        else:
            await self._emit_event(message)

    async def _emit_event(self, event) -> None:
        await self.send(self.topics.job_events, key_for(event.job_id), encode(event))

    async def dead_letter_raw(self, exc: DecodeError, source: str, partition: int, offset: int) -> None:
        """Undecodable bytes: keep them whole on the dead-letter topic and let the partition flow on."""
        letter = DeadLettered.for_undecodable(source, partition, offset, exc.reason, exc.raw, utc_now())
        log.error("undecodable message on %s: %s", source, exc.reason)
        await self.send(self.topics.dead_letters, b"undecodable", encode(letter))


@dataclass
class Dispatcher:
    """Starts submitted jobs: turns each JobSubmitted on the log into its first stage request."""

    topics: Topics
    send: Send

    async def on_event(self, raw: bytes, already_dispatched: Callable[[str], bool]) -> str | None:
        """Returns the job id it dispatched, if any."""
        try:
            event = decode_event(raw)
        except DecodeError:
            return None  # the projector dead-letters undecodable log entries; one owner per topic
        if not isinstance(event, JobSubmitted) or already_dispatched(str(event.job_id)):
            return None
        req = transitions.first_request(event, utc_now())
        await self.send(self.topics.stage(req.stage), key_for(req.job_id), encode(req))
        return str(event.job_id)
