"""The shells around the pure transitions: stage attempts, the dispatcher, delays and job control (no Kafka here)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Awaitable, Callable
from uuid import UUID

from agents import transitions
from agents.context import StageContext, StageInput, utc_now
from agents.delays import tier_for
from agents.errors import PermanentError, StageError, TransientError
from agents.joblocks import JobLocks
from agents.progress import Guard, JobState, Location, Progress
from agents.providers.base import ContentProvider
from streams.codec import DecodeError, decode_command, decode_control, decode_event, encode, key_for
from streams.commands import CancelJob, DelayStage, RedriveJob, RequestStage
from streams.deadletters import DeadLettered
from streams.events import JobSubmitted, StageStarted
from streams.topics import Topics
from streams.usage import StageUsage

log = logging.getLogger("planperfect.agents")


def _context(req: RequestStage, begun: StageStarted | None = None) -> dict[str, object]:
    """The fields a structured log line carries (`extra=`): the attempt and event are the started one's once begun."""
    if begun is None:
        return {"job_id": req.job_id, "stage": req.stage, "attempt": req.attempt}
    return {"job_id": req.job_id, "stage": req.stage, "attempt": begun.attempt, "event_id": begun.event_id}

# (topic, key, value) -> returns once the broker has acknowledged the message, with (partition, offset)
# when the transport knows them.
Send = Callable[[str, bytes, bytes], Awaitable[tuple[int, int] | None]]
StageFn = Callable[[StageInput, StageContext], Awaitable[object]]


@dataclass
class Emitter:
    """Writes events, requests, delays and dead letters to their topics."""

    topics: Topics
    send: Send

    async def event(self, event) -> None:
        await self.send(self.topics.job_events, key_for(event.job_id), encode(event))

    async def route(self, message: RequestStage | DelayStage) -> Location | None:
        """Send a request to its stage topic, or a delay to its tier; returns where it landed."""
        if isinstance(message, RequestStage):
            topic = self.topics.stage(message.stage, message.lane)
        else:
            topic = self.topics.delay(tier_for((message.due_at - utc_now()).total_seconds()))
        landed = await self.send(topic, key_for(message.job_id), encode(message))
        return (topic, *landed) if landed is not None else None

    async def dead_letter(self, letter: DeadLettered) -> None:
        key = key_for(letter.job_id) if letter.job_id else b"undecodable"
        await self.send(self.topics.dead_letters, key, encode(letter))

    async def undecodable(self, exc: DecodeError, topic: str, partition: int, offset: int) -> None:
        """Keep the bytes whole on the dead-letter topic; the partition flows on."""
        log.error("undecodable message on %s[%d]@%d: %s", topic, partition, offset, exc.reason)
        await self.dead_letter(DeadLettered.for_undecodable(topic, partition, offset, exc.reason, exc.raw, utc_now()))


@dataclass
class StageRunner:
    """Runs one stage request as an attempt: guard, started, handler under a time limit, outcome."""

    emit: Emitter
    guard: Guard
    provider: ContentProvider
    stage_fn: StageFn
    running: dict[UUID, asyncio.Task] = field(default_factory=dict)
    active: set[UUID] = field(default_factory=set)  # requests (command ids) this worker is processing
    fenced: set[UUID] = field(default_factory=set)  # jobs whose attempt was given up at a rebalance
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    locks: JobLocks = field(default_factory=JobLocks)  # shared with the dispatcher and job control

    async def drain(self, timeout: float) -> int:
        """Before this worker's partitions go to another: let the attempts running here finish, so that the new
        owner never re-runs an attempt that is still alive (two completions); after `timeout`, give the rest
        up without writing their outcome (the new owner runs them as a visible extra attempt)."""
        if not self.active:
            return 0
        try:
            await asyncio.wait_for(self.idle.wait(), timeout)
            return 0
        except asyncio.TimeoutError:
            return self.give_up()

    def give_up(self) -> int:
        """Cancel every running handler as fenced: its attempt writes nothing more."""
        given_up = list(self.running.items())
        for job_id, task in given_up:
            self.fenced.add(job_id)
            task.cancel()
        if given_up:
            log.warning("rebalance: gave up %d attempt(s) still running", len(given_up))
        return len(given_up)

    async def on_request(self, raw: bytes, topic: str, partition: int, offset: int) -> None:
        try:
            req = decode_command(raw)
        except DecodeError as exc:
            await self.emit.undecodable(exc, topic, partition, offset)
            return
        if req.command_id in self.active:
            log.info("job %s: dropping a duplicate %s request while it runs here", req.job_id, req.stage,
                     extra=_context(req))
            return
        self.active.add(req.command_id)
        self.idle.clear()
        try:
            async with self.locks(req.job_id):
                admitted = await self._admit(req)
            if admitted is not None:
                req, begun, seq, fresh = admitted
                await self._execute(req, begun, seq, record_extensions=fresh)
        finally:
            self.active.discard(req.command_id)
            if not self.active:
                self.idle.set()

    async def _admit(self, req: RequestStage) -> tuple[RequestStage, StageStarted, int, bool] | None:
        """Under the job's lock: drop a stale request, or record and announce the attempt; returns what to run
        (the request, its StageStarted, where the outcome goes, whether the attempt is a new one) or None."""
        p = await self.guard.get(req.job_id)
        rerun = (p is not None and p.state in (JobState.RUNNING, JobState.SETTLING)
                 and p.command_id == req.command_id)
        if p is not None and not rerun and (p.state == JobState.CANCELLED or req.next_sequence < p.next_sequence):
            log.info("job %s: dropping stale %s request (seq %d, job at %d, %s)",
                     req.job_id, req.stage, req.next_sequence, p.next_sequence, p.state, extra=_context(req))
            return None
        if rerun and p.state == JobState.SETTLING:
            # The attempt died while writing its outcome: run it again and write the outcome at the same place,
            # so whatever part of it reached the log is the same fact, not a second one.
            begun = transitions.started(req.model_copy(update={"next_sequence": p.started_sequence}), utc_now(),
                                        p.attempt)
            if p.cancel_requested:
                await self._cancelled(req, begun, p.next_sequence)
                return None
            return req, begun, p.next_sequence, False
        # A new attempt; after a crash mid-attempt it counts as one more, after the events already written.
        attempt, seq = (p.attempt + 1, p.next_sequence) if rerun else (req.attempt, req.next_sequence)
        req = req.model_copy(update={"next_sequence": seq})
        progress = Progress.running(req, attempt)
        await self.guard.put(req.job_id, progress)
        begun = transitions.started(req, utc_now(), attempt)
        await self.emit.event(begun)
        await self.guard.put(req.job_id, progress.at(seq + 1))
        return req, begun, seq + 1, True

    async def _execute(self, req: RequestStage, begun: StageStarted, seq: int, *, record_extensions: bool) -> None:
        ctx = StageContext(provider=self.provider)
        inp = StageInput(job_id=req.job_id, job_type=req.job_type, stage=req.stage, attempt=begun.attempt,
                         brief=req.brief, outputs=req.outputs, token_budget=req.token_budget,
                         tokens_used=req.tokens_used)
        t0 = time.monotonic()
        seq_box = [seq]
        try:
            if begun.attempt > req.max_attempts:
                raise PermanentError(f"the stage was interrupted {begun.attempt - 1} times (worker crashes)",
                                     code="crash_loop")
            output = await self._attempt(req, begun, inp, ctx, seq_box, record_extensions)
            if (rejection := transitions.rejected(req, output)) is not None:
                raise rejection  # QA still fails a redone draft: the attempt fails like any other
        except asyncio.CancelledError:
            if req.job_id in self.fenced:  # its partition went to another worker during the attempt
                self.fenced.discard(req.job_id)
                log.warning("job %s stage %s attempt %d given up at a rebalance; its new owner runs it",
                            req.job_id, req.stage, begun.attempt, extra=_context(req, begun))
                return
            if not await self._cancel_requested(req.job_id):
                raise  # the worker itself is stopping: the request is redelivered on restart
            async with self.locks(req.job_id):
                await self._settling(req, begun, seq_box[0])
                await self._cancelled(req, begun, seq_box[0])
            return
        except StageError as exc:
            async with self.locks(req.job_id):
                await self._settling(req, begun, seq_box[0])
                await self._failed(req, begun, seq_box[0], exc, t0, self._usage(ctx))
            return
        except Exception as exc:  # a bug or an unclassified library error: retried, then dead-lettered
            log.exception("job %s stage %s attempt %d raised", req.job_id, req.stage, begun.attempt,
                          extra=_context(req, begun))
            async with self.locks(req.job_id):
                await self._settling(req, begun, seq_box[0])
                await self._failed(req, begun, seq_box[0],
                                   TransientError(f"{type(exc).__name__}: {exc}", code="unexpected"), t0,
                                   self._usage(ctx))
            return
        duration = int((time.monotonic() - t0) * 1000)
        async with self.locks(req.job_id):  # a cancel lands before the outcome or after it, never in between
            await self._complete(req, begun, seq_box[0], output, duration, self._usage(ctx))
        log.info("job %s stage %s attempt %d completed in %d ms", req.job_id, req.stage, begun.attempt, duration,
                 extra=_context(req, begun))

    def _usage(self, ctx: StageContext) -> StageUsage:
        """The attempt's model calls as its outcome records them (the calls name the provider they went to)."""
        return ctx.usage.stage_usage(self.provider.name)

    async def _complete(self, req: RequestStage, begun: StageStarted, seq: int, output: object, duration: int,
                        usage: StageUsage) -> None:
        await self._settling(req, begun, seq)
        done, after = transitions.completed(req, begun, seq, output, duration, utc_now(), usage)
        await self.emit.event(done)
        if isinstance(after, transitions.Returned):  # QA sent the job back to the draft: say so, then go there
            await self.emit.event(after.event)
            after = after.request
        if await self._cancel_requested(req.job_id) and isinstance(after, RequestStage):
            await self._cancelled(req, begun, after.next_sequence)
        elif isinstance(after, RequestStage):
            at = await self.emit.route(after)
            await self.guard.put(req.job_id, Progress.waiting(after, JobState.QUEUED, at))
        else:
            await self.emit.event(after)
            await self.guard.put(req.job_id, Progress.running(req, begun.attempt).at(seq + 2, JobState.DONE))

    async def _settling(self, req: RequestStage, begun: StageStarted, seq: int) -> None:
        """Record, before writing it, where this attempt's outcome goes (see `_resettle`)."""
        progress = Progress.running(req, begun.attempt).at(seq, JobState.SETTLING)
        current = await self.guard.get(req.job_id)
        if current is not None and current.cancel_requested:
            progress = progress.with_cancel()
        await self.guard.put(req.job_id, replace(progress, started_sequence=begun.sequence))

    async def _attempt(self, req: RequestStage, begun: StageStarted, inp: StageInput, ctx: StageContext,
                       seq_box: list[int], record_extensions: bool):
        """Run the handler until it returns, its time limit passes (extensions move it), or it is cancelled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + req.visibility_seconds
        wall_deadline = begun.occurred_at + timedelta(seconds=req.visibility_seconds)
        task = asyncio.create_task(self.stage_fn(inp, ctx))
        self.running[req.job_id] = task
        try:
            while True:
                waiter = asyncio.create_task(ctx.extension_requested.wait())
                done, _ = await asyncio.wait({task, waiter}, timeout=max(0.0, deadline - loop.time()),
                                             return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if task in done:
                    self.running.pop(req.job_id, None)
                    return task.result()  # raises the handler's error, or CancelledError if cancelled
                extensions = ctx.take_extensions()
                if not extensions:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    raise TransientError(f"the attempt exceeded its {req.visibility_seconds}s time limit", code="timeout")
                for extra in extensions:
                    deadline += extra
                    wall_deadline += timedelta(seconds=extra)
                    if not record_extensions:
                        continue  # re-settling: the outcome's place in the sequence is fixed already
                    async with self.locks(req.job_id):
                        await self.emit.event(transitions.extended(begun, seq_box[0], extra, wall_deadline, utc_now()))
                        seq_box[0] += 1
                        await self.guard.put(req.job_id, Progress.running(req, begun.attempt).at(seq_box[0]))
        finally:
            self.running.pop(req.job_id, None)
            if not task.done():
                task.cancel()

    async def _cancel_requested(self, job_id: UUID) -> bool:
        p = await self.guard.get(job_id)
        return p is not None and p.cancel_requested

    async def _failed(self, req: RequestStage, begun: StageStarted, seq: int, err: StageError, t0: float,
                      usage: StageUsage) -> None:
        duration = int((time.monotonic() - t0) * 1000)
        log.warning("job %s stage %s attempt %d failed: %s", req.job_id, req.stage, begun.attempt, err,
                    extra=_context(req, begun))
        events, after = transitions.failed(req, begun, seq, err, duration, utc_now(), usage)
        for event in events:
            await self.emit.event(event)
        seq += len(events)
        if isinstance(after, DeadLettered):
            await self.emit.dead_letter(after.model_copy(update={"source_topic": self.emit.topics.stage(req.stage, req.lane)}))
            await self.guard.put(req.job_id, Progress.running(req, begun.attempt).at(seq, JobState.DEAD))
        elif await self._cancel_requested(req.job_id):
            await self._cancelled(req, begun, seq)
        else:
            at = await self.emit.route(after)
            state = JobState.DELAYED if isinstance(after, DelayStage) else JobState.QUEUED
            target = after.request if isinstance(after, DelayStage) else after
            await self.guard.put(req.job_id, Progress.waiting(target, state, at))

    async def _cancelled(self, req: RequestStage, begun: StageStarted | None, seq: int) -> None:
        event = transitions.cancelled(req.job_id, req.correlation_id, seq, req.stage, "cancelled by request",
                                      begun.event_id if begun else None, utc_now())
        await self.emit.event(event)
        await self.guard.put(req.job_id, Progress.running(req, req.attempt).at(seq + 1, JobState.CANCELLED))
        log.info("job %s cancelled at stage %s", req.job_id, req.stage, extra=_context(req))


@dataclass
class Dispatcher:
    """Starts submitted jobs: each JobSubmitted on the log becomes its first request, once."""

    emit: Emitter
    guard: Guard
    locks: JobLocks = field(default_factory=JobLocks)  # the stage runner's: one job's steps take turns

    async def on_event(self, raw: bytes) -> None:
        try:
            event = decode_event(raw)
        except DecodeError:
            return  # the projector dead-letters undecodable log entries; one owner per topic
        if not isinstance(event, JobSubmitted):
            return
        async with self.locks(event.job_id):
            await self._dispatch(event)

    async def _dispatch(self, event: JobSubmitted) -> None:
        p = await self.guard.get(event.job_id)
        if p is not None and p.state != JobState.NEW:
            return  # already started (a repeated submission with the same Idempotency-Key)
        if p is not None and p.cancel_requested:
            cancel = transitions.cancelled(event.job_id, event.correlation_id, event.sequence + 1, None,
                                           "cancelled before it started", event.event_id, utc_now())
            await self.emit.event(cancel)
            await self.guard.put(event.job_id, p.at(cancel.sequence + 1, JobState.CANCELLED))
            return
        routed = transitions.first_request(event, utc_now())
        at = await self.emit.route(routed)
        if isinstance(routed, DelayStage):
            await self.guard.put(event.job_id, Progress.waiting(routed.request, JobState.DELAYED, at))
        else:
            await self.guard.put(event.job_id, Progress.waiting(routed, JobState.QUEUED, at))


@dataclass
class DelayForwarder:
    """Delivers a delayed request once it is due (or moves it to a shorter tier); the engine holds it until then."""

    emit: Emitter
    guard: Guard | None = None  # told where the request went next

    @staticmethod
    def release_at(held: DelayStage, tier: int, enqueued_at: datetime) -> datetime:
        """When the tier lets the message go: when it is due, or after the tier's length, whichever is first."""
        return min(held.due_at, enqueued_at + timedelta(seconds=tier))

    async def forward(self, held: DelayStage) -> None:
        if (held.due_at - utc_now()).total_seconds() > 0.005:
            at, state = await self.emit.route(held), JobState.DELAYED
        else:
            at, state = await self.emit.route(held.request), JobState.QUEUED
        if self.guard is not None:
            await self.guard.put(held.job_id, Progress.waiting(held.request, state, at))


@dataclass
class JobControl:
    """Cancellation and redrive: commands from the API, applied where the job's guard lives."""

    emit: Emitter
    guard: Guard
    runner: StageRunner

    async def on_control(self, raw: bytes, topic: str, partition: int, offset: int) -> None:
        try:
            cmd = decode_control(raw)
        except DecodeError as exc:
            await self.emit.undecodable(exc, topic, partition, offset)
            return
        async with self.runner.locks(cmd.job_id):
            if isinstance(cmd, CancelJob):
                await self._cancel(cmd)
            else:
                await self._redrive(cmd)

    async def _cancel(self, cmd: CancelJob) -> None:
        p = await self.guard.get(cmd.job_id)
        if p is None:  # submitted but not dispatched yet: the dispatcher will cancel it
            await self.guard.put(cmd.job_id, Progress.new(cmd.job_id, cancel_requested=True))
        elif p.state in (JobState.QUEUED, JobState.DELAYED):
            event = transitions.cancelled(cmd.job_id, p.correlation_id, p.next_sequence, p.stage, cmd.reason,
                                          cmd.command_id, utc_now())
            await self.emit.event(event)
            await self.guard.put(cmd.job_id, p.at(p.next_sequence + 1, JobState.CANCELLED))
        elif p.state in (JobState.RUNNING, JobState.SETTLING, JobState.NEW):
            await self.guard.put(cmd.job_id, p.with_cancel())
            task = self.runner.running.pop(cmd.job_id, None)
            if task is not None:
                task.cancel()  # the running stage stops at its next await
        log.info("job %s: cancel requested while %s", cmd.job_id, p.state if p else "unknown")

    async def _redrive(self, cmd: RedriveJob) -> None:
        p = await self.guard.get(cmd.job_id)
        if p is not None and not (p.state == JobState.DEAD and p.next_sequence == cmd.next_sequence):
            log.info("job %s: redrive ignored (job is %s at %d)", cmd.job_id, p.state, p.next_sequence)
            return
        event, request = transitions.redriven(cmd, utc_now())
        await self.emit.event(event)
        at = await self.emit.route(request)
        await self.guard.put(cmd.job_id, Progress.waiting(request, JobState.QUEUED, at))
