"""A stage attempt's boundaries as data: from the request and the job's guard, what each boundary writes (events,
where the job goes next, the guard's next state); the runner writes every step in one place (`StageRunner._apply`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import BaseModel

from agents import transitions
from agents.errors import StageError
from agents.progress import JobState, Progress
from streams.commands import DelayStage, RequestStage
from streams.deadletters import DeadLettered
from streams.events import JobCompleted, StageStarted
from streams.usage import StageUsage


@dataclass(frozen=True)
class Step:
    """Written in this order: `settle` durably first (where the outcome goes, so that a re-run after a crash writes
    it at the same place), then the events, the routed message and the dead letter together, then `guard`."""

    events: tuple[BaseModel, ...] = ()
    route: RequestStage | DelayStage | None = None
    dead_letter: DeadLettered | None = None
    guard: Progress | None = None
    settle: Progress | None = None


@dataclass(frozen=True)
class Start:
    """An attempt to run: the request at the sequence it starts from, its StageStarted, where its outcome goes,
    whether it is a new attempt (a re-settling one runs again as the same attempt), and what its start writes."""

    req: RequestStage
    begun: StageStarted
    outcome_at: int
    fresh: bool
    step: Step


def admit(req: RequestStage, p: Progress | None, now: datetime) -> Start | Step | None:
    """The attempt to run; a Step when the job was cancelled while an attempt's outcome was being written; None
    when the request is stale, or may have reached its topic before the outcome that routed it reached the log."""
    rerun = p is not None and p.state in (JobState.RUNNING, JobState.SETTLING) and p.command_id == req.command_id
    if p is not None and not rerun:
        if p.state == JobState.CANCELLED or req.next_sequence < p.next_sequence:
            return None
        if outran_its_outcome(p, req.command_id):
            return None
    if rerun and p.state == JobState.SETTLING:
        # The attempt died while writing its outcome: run it again and write the outcome at the same place, so
        # whatever part of it reached the log is the same fact, not a second one. Its start is written again
        # too: the settling state was recorded while the start was still on its way.
        begun = transitions.started(req.model_copy(update={"next_sequence": p.started_sequence}), now, p.attempt)
        if p.cancel_requested:
            return _then_cancelled(cancelled(req, begun, p.next_sequence, now, by=p.cancel_by), (begun,), None)
        return Start(req, begun, p.next_sequence, False, Step(events=(begun,)))
    events: tuple[BaseModel, ...] = ()
    if rerun:
        # A crash mid-attempt: the attempt counts as one more, after the events already written. The guard was
        # recorded beside the crashed attempt's start, not after it: that start is written again (the same fact).
        attempt, seq = p.attempt + 1, p.next_sequence
        if 0 < p.started_sequence < seq:
            events = (transitions.started(req.model_copy(update={"next_sequence": p.started_sequence}), now,
                                          p.attempt),)
    else:
        attempt, seq = req.attempt, req.next_sequence
    req = req.model_copy(update={"next_sequence": seq})
    begun = transitions.started(req, now, attempt)
    running = replace(Progress.running(req, attempt).at(seq + 1), started_sequence=seq)
    return Start(req, begun, seq + 1, True, Step(events=events + (begun,), guard=running))


def outran_its_outcome(p: Progress | None, command_id) -> bool:
    """An outcome and the message it routes are written together, so a routed message may be on its topic while
    the outcome is not in the log (its writer died). Such a message meets the guard still settling another
    request: it is dropped, and that request, redelivered until its outcome is recorded, routes it again."""
    return p is not None and p.state == JobState.SETTLING and p.command_id != command_id


def settling(req: RequestStage, begun: StageStarted, seq: int, cancel_requested: bool,
             cancel_by: str | None = None) -> Progress:
    """The guard while an attempt writes its outcome at `seq` (see `admit`); it keeps who asked for a cancel."""
    progress = replace(Progress.running(req, begun.attempt).at(seq, JobState.SETTLING), started_sequence=begun.sequence)
    return progress.with_cancel(cancel_by) if cancel_requested else progress


def completed(req: RequestStage, begun: StageStarted, seq: int, output: BaseModel, duration_ms: int, now: datetime,
              cancel_requested: bool, usage: StageUsage | None = None, cancel_by: str | None = None) -> Step:
    """StageCompleted at `seq`, then the next stage's request (after StageReturned when QA sends the job back to
    the draft), or the job's end, or its cancellation."""
    settle = settling(req, begun, seq, cancel_requested, cancel_by)
    done, after = transitions.completed(req, begun, seq, output, duration_ms, now, usage)
    if isinstance(after, JobCompleted):
        return Step((done, after), guard=Progress.running(req, begun.attempt).at(seq + 2, JobState.DONE), settle=settle)
    events: tuple[BaseModel, ...] = (done,)
    if isinstance(after, transitions.Returned):
        events, after = (done, after.event), after.request
    if cancel_requested:
        return _then_cancelled(cancelled(req, begun, after.next_sequence, now, by=cancel_by), events, settle)
    return Step(events, route=after, guard=Progress.waiting(after, JobState.QUEUED), settle=settle)


def failed(req: RequestStage, begun: StageStarted, seq: int, error: StageError, duration_ms: int, now: datetime,
           cancel_requested: bool, source_topic: str, usage: StageUsage | None = None,
           cancel_by: str | None = None) -> Step:
    """StageFailed at `seq`, then a retry, the dead letters, or the job's cancellation."""
    settle = settling(req, begun, seq, cancel_requested, cancel_by)
    events, after = transitions.failed(req, begun, seq, error, duration_ms, now, usage)
    seq += len(events)
    if isinstance(after, DeadLettered):
        return Step(tuple(events), dead_letter=after.model_copy(update={"source_topic": source_topic}),
                    guard=Progress.running(req, begun.attempt).at(seq, JobState.DEAD), settle=settle)
    if cancel_requested:
        return _then_cancelled(cancelled(req, begun, seq, now, by=cancel_by), tuple(events), settle)
    target, state = (after.request, JobState.DELAYED) if isinstance(after, DelayStage) else (after, JobState.QUEUED)
    return Step(tuple(events), route=after, guard=Progress.waiting(target, state), settle=settle)


def carries(p: Progress | None, req: RequestStage) -> bool:
    """The job waits on `req` or runs it: nothing else moves the job on (a stale or duplicate request does not)."""
    waiting = (JobState.QUEUED, JobState.DELAYED, JobState.RUNNING, JobState.SETTLING)
    return p is None or p.state == JobState.NEW or (p.command_id == req.command_id and p.state in waiting)


def unprocessable(req: RequestStage, p: Progress | None, kept: DeadLettered, now: datetime) -> Step:
    """A message that carries the job on with `req`, which the worker failed on outside the stage's own logic: the
    job is dead-lettered with it (after whatever it wrote, so a redrive continues from there), the letter keeping
    the message whole (`kept`). A message the job no longer waits on is kept alone."""
    if not carries(p, req):
        return Step(dead_letter=kept)
    ours = p is not None and p.command_id == req.command_id
    seq = max(req.next_sequence, p.next_sequence if p is not None else 0)
    attempts = p.attempt if ours and p.attempt else req.attempt
    event, letter = transitions.dead_lettered(req, seq, attempts, f"{kept.reason}: {kept.error}", kept.error or "",
                                              req.command_id, now, letter_id=kept.dead_letter_id)
    letter = letter.model_copy(update=dict(reason=kept.reason, source_topic=kept.source_topic,
                                           source_partition=kept.source_partition, source_offset=kept.source_offset,
                                           raw_base64=kept.raw_base64))
    return Step((event,), dead_letter=letter, guard=Progress.running(req, attempts).at(seq + 1, JobState.DEAD))


def cancelled(req: RequestStage, begun: StageStarted | None, seq: int, now: datetime,
              settle: Progress | None = None, by: str | None = None) -> Step:
    """JobCancelled at `seq`, naming who asked (`by`), and the guard's cancelled state."""
    event = transitions.cancelled(req.job_id, req.correlation_id, seq, req.stage, "cancelled by request",
                                  begun.event_id if begun else None, now, by)
    return Step((event,), guard=Progress.running(req, req.attempt).at(seq + 1, JobState.CANCELLED), settle=settle)


def _then_cancelled(cancel: Step, before: tuple[BaseModel, ...], settle: Progress | None) -> Step:
    return replace(cancel, events=before + cancel.events, settle=settle)
