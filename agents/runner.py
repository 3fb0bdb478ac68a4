"""The shells around the pure transitions: stage attempts, the dispatcher, delays and job control (no Kafka here)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Awaitable, Callable
from uuid import UUID

from agents import steps, transitions
from agents.context import StageContext, StageInput, utc_now
from agents.delays import tier_for
from agents.errors import PermanentError, StageError, TransientError
from agents.joblocks import JobLocks
from agents.progress import Guard, JobState, Location, Progress, already_done
from agents.providers.base import ContentProvider
from streams.codec import DecodeError, decode_command, decode_control, decode_event, encode, key_for
from streams.commands import CancelJob, DelayStage, RedriveJob, RequestStage
from streams.deadletters import DeadLettered, Reason
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
Message = tuple[str, bytes, bytes]
# Several messages sent at once, in order (one partition keeps their order); returns once every one is acknowledged.
SendMany = Callable[[list[Message]], Awaitable[list[tuple[int, int] | None]]]
StageFn = Callable[[StageInput, StageContext], Awaitable[object]]


@dataclass
class Emitter:
    """Writes events, requests, delays and dead letters to their topics."""

    topics: Topics
    send: Send | None = None  # one message at a time (unit tests' logs)
    send_many: SendMany | None = None  # a batch at once (Kafka's producer); used when given

    async def event(self, event) -> None:
        await self.write([self.event_message(event)])

    async def route(self, message: RequestStage | DelayStage) -> Location | None:
        """Send a request to its stage topic, or a delay to its tier; returns where it landed."""
        topic, key, value = self.route_message(message)
        landed = (await self.write([(topic, key, value)]))[0]
        return (topic, *landed) if landed is not None else None

    async def dead_letter(self, letter: DeadLettered) -> None:
        await self.write([self.dead_letter_message(letter)])

    async def write(self, messages: list[Message]) -> list[tuple[int, int] | None]:
        if self.send_many is not None:
            return await self.send_many(messages)
        return [await self.send(*m) for m in messages]

    def event_message(self, event) -> Message:
        return self.topics.job_events, key_for(event.job_id), encode(event)

    def route_message(self, message: RequestStage | DelayStage) -> Message:
        if isinstance(message, RequestStage):
            topic = self.topics.stage(message.stage, message.lane)
        else:
            topic = self.topics.delay(tier_for((message.due_at - utc_now()).total_seconds()))
        return topic, key_for(message.job_id), encode(message)

    def dead_letter_message(self, letter: DeadLettered) -> Message:
        key = key_for(letter.job_id) if letter.job_id else b"undecodable"
        return self.topics.dead_letters, key, encode(letter)

    async def undecodable(self, exc: DecodeError, topic: str, partition: int, offset: int) -> None:
        """Keep the bytes whole on the dead-letter topic; the partition flows on."""
        log.error("undecodable message on %s[%d]@%d: %s", topic, partition, offset, exc.reason)
        await self.dead_letter(DeadLettered.kept_whole(topic, partition, offset, exc.reason, exc.raw, utc_now()))


@dataclass
class StageRunner:
    """Runs one stage request as an attempt: admitted, started, handler under a time limit, outcome. What each
    boundary writes is decided by agents/steps.py and written by `_apply`."""

    emit: Emitter
    guard: Guard
    provider: ContentProvider
    stage_fn: StageFn
    running: dict[UUID, asyncio.Task] = field(default_factory=dict)
    active: set[UUID] = field(default_factory=set)  # requests (command ids) this worker is processing
    fenced: set[UUID] = field(default_factory=set)  # jobs whose attempt was given up at a rebalance
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    locks: JobLocks = field(default_factory=JobLocks)  # shared with the dispatcher and job control
    # Told when a job's outcome is written and its next state taken, before that state is durable: the job's
    # next request may start (the engine holds it back while an attempt of the job runs).
    settled: Callable[[UUID], None] = lambda job_id: None

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
                decision = steps.admit(req, await self.guard.get(req.job_id), utc_now())
                if isinstance(decision, steps.Start):
                    # Its state is taken now (a cancel sees it running) and written with the next flush; its start
                    # goes out while the handler runs. Both are written before the outcome.
                    messages = self._messages(decision.step)
                    if decision.step.guard is not None:
                        self.guard.record(req.job_id, decision.step.guard)
                    started = asyncio.ensure_future(self.emit.write(messages)) if messages else already_done()
                elif decision is not None:
                    durable = await self._apply(req.job_id, decision)
            if decision is None:
                log.info("job %s: dropping stale %s request (seq %d)", req.job_id, req.stage, req.next_sequence,
                         extra=_context(req))
            elif isinstance(decision, steps.Start):
                await self._execute(decision, started)
            else:
                await durable
        finally:
            self.active.discard(req.command_id)
            if not self.active:
                self.idle.set()

    async def unprocessable(self, raw: bytes, request: RequestStage | None, topic: str, partition: int, offset: int,
                            error: BaseException) -> None:
        """A message this worker failed on outside a stage's own logic (a bug, data a store refused), kept whole on
        the dead-letter topic; when it carries a job on (`request`), the job is dead-lettered with it, for a redrive.
        Returns once the letter is written and the job's guard durable (else it raises: the caller retries)."""
        kept = DeadLettered.kept_whole(topic, partition, offset, f"{type(error).__name__}: {error}", raw, utc_now(),
                                       reason=Reason.UNPROCESSABLE)
        if request is None:
            await self.emit.dead_letter(kept)
            return
        async with self.locks(request.job_id):
            step = steps.unprocessable(request, await self.guard.get(request.job_id), kept, utc_now())
            durable = await self._apply(request.job_id, step)
        await durable

    async def _apply(self, job_id: UUID, step: steps.Step, before: Awaitable | None = None) -> Awaitable[None]:
        """Write a step, under the job's lock (the job was read under it): its settling state durably and `before`
        (the attempt's start) written, both at once, then its messages all at once, their acknowledgements
        awaited together, then the guard's next state, taken now. Returns that state's durability, awaited
        before the input's offset counts as done."""
        settled = self.guard.record(job_id, step.settle) if step.settle is not None else None
        if before is not None:
            await before  # the outcome follows its start in the log
        if settled is not None:
            await settled  # a re-run after a crash writes the outcome at the same place (and the start again)
        messages = self._messages(step)
        landed = await self.emit.write(messages)
        if step.guard is None:
            return already_done()
        guard = step.guard
        if step.route is not None and (at := landed[len(step.events)]) is not None:
            guard = replace(guard, request_at=(messages[len(step.events)][0], *at))
        return self.guard.record(job_id, guard)

    def _messages(self, step: steps.Step) -> list[Message]:
        """The events first, then the routed message: `_apply` finds the route's place by that order."""
        messages = [self.emit.event_message(e) for e in step.events]
        if step.route is not None:
            messages.append(self.emit.route_message(step.route))
        if step.dead_letter is not None:
            messages.append(self.emit.dead_letter_message(step.dead_letter))
        return messages

    async def _execute(self, start: steps.Start, started: Awaitable) -> None:
        req, begun = start.req, start.begun
        ctx = StageContext(provider=self.provider)
        inp = StageInput(job_id=req.job_id, job_type=req.job_type, stage=req.stage, attempt=begun.attempt,
                         brief=req.brief, outputs=req.outputs, token_budget=req.token_budget,
                         tokens_used=req.tokens_used)
        t0 = time.monotonic()
        seq_box = [start.outcome_at]
        try:
            if begun.attempt > req.max_attempts:
                raise PermanentError(f"the stage was interrupted {begun.attempt - 1} times (worker crashes)",
                                     code="crash_loop")
            output = await self._attempt(req, begun, inp, ctx, seq_box, start.fresh, started)
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
            await self._outcome(req, lambda cancel, by: steps.cancelled(
                req, begun, seq_box[0], utc_now(), steps.settling(req, begun, seq_box[0], cancel, by), by=by), started)
            return
        except StageError as exc:
            await self._fail(req, begun, seq_box[0], exc, t0, self._usage(ctx), started)
            return
        except Exception as exc:  # a bug or an unclassified library error: retried, then dead-lettered
            log.exception("job %s stage %s attempt %d raised", req.job_id, req.stage, begun.attempt,
                          extra=_context(req, begun))
            await self._fail(req, begun, seq_box[0], TransientError(f"{type(exc).__name__}: {exc}", code="unexpected"),
                             t0, self._usage(ctx), started)
            return
        duration = int((time.monotonic() - t0) * 1000)
        usage = self._usage(ctx)
        # Under the job's lock: a cancel lands before the outcome or after it, never in between.
        await self._outcome(req, lambda cancel, by: steps.completed(req, begun, seq_box[0], output, duration,
                                                                    utc_now(), cancel, usage, by), started)
        log.info("job %s stage %s attempt %d completed in %d ms", req.job_id, req.stage, begun.attempt, duration,
                 extra=_context(req, begun))

    def _usage(self, ctx: StageContext) -> StageUsage:
        """The attempt's model calls as its outcome records them (the calls name the provider they went to)."""
        return ctx.usage.stage_usage(self.provider.name)

    async def _fail(self, req: RequestStage, begun: StageStarted, seq: int, err: StageError, t0: float,
                    usage: StageUsage, started: Awaitable) -> None:
        duration = int((time.monotonic() - t0) * 1000)
        log.warning("job %s stage %s attempt %d failed: %s", req.job_id, req.stage, begun.attempt, err,
                    extra=_context(req, begun))
        source = self.emit.topics.stage(req.stage, req.lane)
        await self._outcome(req, lambda cancel, by: steps.failed(req, begun, seq, err, duration, utc_now(), cancel,
                                                                 source, usage, by), started)

    async def _outcome(self, req: RequestStage, decide: Callable[[bool, str | None], steps.Step],
                       started: Awaitable) -> None:
        """Decide the outcome's step from the job's cancel flag (and who asked) and write it, both under the job's
        lock; then wait until the guard's next state is durable (the request's offset is committed after this)."""
        async with self.locks(req.job_id):
            p = await self.guard.get(req.job_id)
            asked = p is not None and p.cancel_requested
            durable = await self._apply(req.job_id, decide(asked, p.cancel_by if asked else None), before=started)
        self.settled(req.job_id)
        await durable

    async def _attempt(self, req: RequestStage, begun: StageStarted, inp: StageInput, ctx: StageContext,
                       seq_box: list[int], record_extensions: bool, started: Awaitable):
        """Run the handler until it returns, its time limit passes (extensions move it), or it is cancelled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + req.visibility_seconds
        wall_deadline = begun.occurred_at + timedelta(seconds=req.visibility_seconds)
        task = asyncio.create_task(self.stage_fn(inp, ctx))
        self.running[req.job_id] = task
        wake = loop.create_future()

        def nudge(*_: object) -> None:  # the handler ended, asked for more time, or its time is up
            if not wake.done():
                wake.set_result(None)

        task.add_done_callback(nudge)
        ctx.on_extension = nudge
        try:
            while True:
                if not (task.done() or ctx.pending_extensions):
                    timer = loop.call_at(deadline, nudge)
                    try:
                        await wake
                    finally:
                        timer.cancel()
                    wake = loop.create_future()
                if task.done():
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
                    # The outcome moves past the extension: recorded durably before the handler goes on.
                    step = steps.Step((transitions.extended(begun, seq_box[0], extra, wall_deadline, utc_now()),),
                                      guard=Progress.running(req, begun.attempt).at(seq_box[0] + 1))
                    async with self.locks(req.job_id):
                        durable = await self._apply(req.job_id, step, before=started)
                    seq_box[0] += 1
                    await durable
        finally:
            self.running.pop(req.job_id, None)
            if not task.done():
                task.cancel()

    async def _cancel_requested(self, job_id: UUID) -> bool:
        p = await self.guard.get(job_id)
        return p is not None and p.cancel_requested


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
                                           "cancelled before it started", event.event_id, utc_now(), p.cancel_by)
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
    locks: JobLocks = field(default_factory=JobLocks)  # the stage runner's: one job's steps take turns

    @staticmethod
    def release_at(held: DelayStage, tier: int, enqueued_at: datetime) -> datetime:
        """When the tier lets the message go: when it is due, or after the tier's length, whichever is first."""
        return min(held.due_at, enqueued_at + timedelta(seconds=tier))

    async def forward(self, held: DelayStage) -> None:
        async with self.locks(held.job_id):
            if self.guard is not None and steps.outran_its_outcome(await self.guard.get(held.job_id),
                                                                   held.request.command_id):
                log.info("job %s: dropping a delayed request that outran its outcome", held.job_id)
                return
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
            await self.guard.put(cmd.job_id, Progress.new(cmd.job_id, cancel_requested=True).with_cancel(cmd.requested_by))
        elif p.state in (JobState.QUEUED, JobState.DELAYED):
            event = transitions.cancelled(cmd.job_id, p.correlation_id, p.next_sequence, p.stage, cmd.reason,
                                          cmd.command_id, utc_now(), cmd.requested_by)
            await self.emit.event(event)
            await self.guard.put(cmd.job_id, p.at(p.next_sequence + 1, JobState.CANCELLED))
        elif p.state in (JobState.RUNNING, JobState.SETTLING, JobState.NEW):
            await self.guard.put(cmd.job_id, p.with_cancel(cmd.requested_by))
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
