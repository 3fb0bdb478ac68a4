"""When a schedule's slots fall: pure, in the schedule's own time zone, DST included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from streams.pacing_payloads import PacingSchedule, Weekday


@dataclass(frozen=True, order=True)
class DueSlot:
    at: datetime       # the instant it falls, UTC
    local_date: date   # the date in the schedule's time zone: the analysis it asks for
    slot: str          # the local time as written in the schedule, e.g. "09:00"


def parse_local_time(text: str) -> time:
    return time.fromisoformat(text)


def slot_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local `at` on `day`.

    A time skipped by a spring-forward gap falls that many minutes later (02:30 becomes 03:30);
    a time repeated by a fall-back falls at its first occurrence. Either way a slot falls once a day.
    """
    # fold=0 takes the offset in force before a transition: in a gap that lands after the jump,
    # in an overlap it is the first pass through the repeated hour.
    return datetime.combine(day, at, tzinfo=zone).astimezone(timezone.utc)


def due_slots(schedule: PacingSchedule, now_utc: datetime, last_checked_utc: datetime) -> list[DueSlot]:
    """The schedule's slots that fall in (last_checked_utc, now_utc], oldest first; none before it was created."""
    since = max(last_checked_utc, schedule.created_at)
    if now_utc <= since:
        return []
    zone = ZoneInfo(schedule.time_zone)
    days = {d.iso for d in (Weekday(x) for x in schedule.days_of_week)}
    times = sorted({parse_local_time(t): t for t in schedule.local_times}.items())
    # One day of margin each side: a local date can straddle two UTC dates.
    first = since.astimezone(zone).date() - timedelta(days=1)
    last = now_utc.astimezone(zone).date() + timedelta(days=1)
    out: list[DueSlot] = []
    day = first
    while day <= last:
        if day.isoweekday() in days:
            for at, label in times:
                instant = slot_instant(day, at, zone)
                if since < instant <= now_utc:
                    out.append(DueSlot(instant, day, label))
        day += timedelta(days=1)
    return sorted(out)
