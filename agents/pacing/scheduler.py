"""The pacing scheduler: a timer task on every worker that submits each user's analysis when a slot of theirs falls due.

Correctness does not rest on which worker's timer fires, nor how often: every trigger of a user's
day names the same job (streams.pacing_jobs), the dispatcher starts a job once (its guard, in
PostgreSQL, survives restarts and rebalances), and pacing_context_analysis has UNIQUE (user_id, local_date).
What this module adds is politeness: it skips days that already have an analysis, or that this
process has just submitted, so the log is not flooded with duplicates the dispatcher would drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable

from agents.context import utc_now
from agents.pacing.ports import ScheduleSource
from agents.pacing.slots import DueSlot, due_slots
from agents.runner import Emitter
from streams.events import JobSubmitted
from streams.pacing_jobs import pacing_submitted
from streams.pacing_payloads import PacingBrief, PacingSchedule

log = logging.getLogger("planperfect.pacing")


@dataclass(frozen=True)
class Delivery:
    """Attempts, backoff and time limit of the pacing jobs the scheduler submits."""

    max_attempts: int = 3
    retry_delay_seconds: int = 5
    visibility_seconds: int = 600


@dataclass
class PacingScheduler:
    emit: Emitter
    source: ScheduleSource
    delivery: Delivery = Delivery()
    # How far back a tick looks: slots missed while no worker ran are still submitted within this.
    catch_up: timedelta = timedelta(hours=6)
    clock: Callable[[], datetime] = utc_now
    submitted: dict[tuple[str, date], datetime] = field(default_factory=dict)

    async def tick(self) -> list[JobSubmitted]:
        """Submit the analysis of every (user, local date) with a slot due since the catch-up horizon."""
        now = self.clock()
        due = self.due(await self.source.active_schedules(), now)
        fresh = [key for key in due if key not in self.submitted]
        done = await self.source.analysed(fresh)
        out = []
        for key in fresh:
            if key in done:
                continue
            slot, schedule = due[key]
            event = pacing_submitted(
                brief_for(schedule, slot), now=now, max_attempts=self.delivery.max_attempts,
                retry_delay_seconds=self.delivery.retry_delay_seconds,
                visibility_seconds=self.delivery.visibility_seconds, tenant=schedule.tenant)
            await self.emit.event(event)
            self.submitted[key] = now
            out.append(event)
            log.info("pacing: submitted analysis %s for %s on %s (slot %s)", event.job_id, key[0], key[1], slot.slot)
        self._forget_before(now - 2 * self.catch_up)
        return out

    def due(self, schedules: list[PacingSchedule], now: datetime) -> dict[tuple[str, date], tuple[DueSlot, PacingSchedule]]:
        """The earliest due slot of each (user, local date)."""
        found: dict[tuple[str, date], tuple[DueSlot, PacingSchedule]] = {}
        for schedule in sorted(schedules, key=lambda s: (s.created_at, str(s.schedule_id))):
            for slot in due_slots(schedule, now, now - self.catch_up):
                key = (schedule.user_id, slot.local_date)
                if key not in found or slot.at < found[key][0].at:
                    found[key] = (slot, schedule)
        return found

    def _forget_before(self, horizon: datetime) -> None:
        for key in [k for k, at in self.submitted.items() if at < horizon]:
            del self.submitted[key]


def brief_for(schedule: PacingSchedule, slot: DueSlot) -> PacingBrief:
    return PacingBrief(user_id=schedule.user_id, local_date=slot.local_date, slot=slot.slot, trigger="schedule",
                       schedule_id=schedule.schedule_id, time_zone=schedule.time_zone,
                       content_types=schedule.content_types, window_days=schedule.window_days)


async def run_pacing(scheduler: PacingScheduler, interval: float, stop: asyncio.Event) -> None:
    """The scheduler's timer: on every worker, not only one (see the module's docstring)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        try:
            await scheduler.tick()
        except Exception:  # the database or the broker is away: the next tick tries again
            log.exception("pacing: scheduler tick failed")
