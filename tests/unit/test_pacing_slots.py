"""Due-time computation: slots fall at local times in each schedule's own zone, once a day, across DST changes."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from agents.pacing.slots import due_slots
from streams.pacing_payloads import PacingSchedule

UTC = timezone.utc
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def schedule(zone: str, times=("09:00", "18:00"), days=None, created_at=LONG_AGO) -> PacingSchedule:
    extra = {"days_of_week": days} if days else {}
    return PacingSchedule(schedule_id=uuid.UUID(int=1), user_id="u1", time_zone=zone, local_times=list(times),
                          created_at=created_at, **extra)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ticking(s: PacingSchedule, start: datetime, end: datetime, step=timedelta(minutes=15)) -> list:
    """What a scheduler ticking every `step` sees: each tick asks for (previous tick, now]."""
    out, last, now = [], start, start + step
    while now <= end:
        out += due_slots(s, now, last)
        last, now = now, now + step
    return out


def test_defaults_are_nine_and_six_local_every_day():
    s = PacingSchedule(schedule_id=uuid.UUID(int=1), user_id="u1", time_zone="Europe/Berlin", created_at=LONG_AGO)
    assert s.local_times == ["09:00", "18:00"] and len(s.days_of_week) == 7
    slots = due_slots(s, at(2026, 1, 15, 23, 0), at(2026, 1, 15, 0, 0))
    assert [(x.at, x.slot) for x in slots] == [(at(2026, 1, 15, 8, 0), "09:00"), (at(2026, 1, 15, 17, 0), "18:00")]


def test_the_same_instant_is_a_different_local_date_in_different_zones():
    # 2026-01-15 20:30 UTC is already the 16th in Auckland (UTC+13) and still the 15th in Los Angeles.
    now, since = at(2026, 1, 15, 20, 30), at(2026, 1, 15, 19, 30)
    auckland = due_slots(schedule("Pacific/Auckland", times=["09:00"]), now, since)
    assert [(x.local_date, x.at) for x in auckland] == [(date(2026, 1, 16), at(2026, 1, 15, 20, 0))]
    la = due_slots(schedule("America/Los_Angeles", times=["12:00"]), now, since)
    assert [(x.local_date, x.at) for x in la] == [(date(2026, 1, 15), at(2026, 1, 15, 20, 0))]
    kolkata = due_slots(schedule("Asia/Kolkata", times=["01:45"]), now, since)  # a half-hour offset
    assert [(x.local_date, x.at) for x in kolkata] == [(date(2026, 1, 16), at(2026, 1, 15, 20, 15))]


def test_nine_oclock_moves_in_utc_across_the_spring_change_and_falls_once_a_day():
    s = schedule("America/New_York", times=["09:00"])
    slots = ticking(s, at(2026, 3, 6, 0, 0), at(2026, 3, 10, 0, 0))
    assert [(x.local_date, x.at) for x in slots] == [
        (date(2026, 3, 6), at(2026, 3, 6, 14, 0)),   # EST, UTC-5
        (date(2026, 3, 7), at(2026, 3, 7, 14, 0)),
        (date(2026, 3, 8), at(2026, 3, 8, 13, 0)),   # the change happened at 02:00 that morning: EDT, UTC-4
        (date(2026, 3, 9), at(2026, 3, 9, 13, 0)),
    ]


def test_a_time_skipped_by_spring_forward_falls_once_after_the_gap():
    s = schedule("America/New_York", times=["02:30"])
    slots = ticking(s, at(2026, 3, 7, 0, 0), at(2026, 3, 10, 0, 0))
    on_the_day = [x for x in slots if x.local_date == date(2026, 3, 8)]
    assert [x.at for x in on_the_day] == [at(2026, 3, 8, 7, 30)]  # 03:30 EDT, the first moment after 02:30 EST
    assert Counter(x.local_date for x in slots) == {date(2026, 3, 7): 1, date(2026, 3, 8): 1, date(2026, 3, 9): 1}


def test_a_time_repeated_by_fall_back_falls_once_at_its_first_occurrence():
    s = schedule("America/New_York", times=["01:30", "09:00"])
    slots = ticking(s, at(2026, 10, 31, 0, 0), at(2026, 11, 3, 0, 0), step=timedelta(minutes=5))
    on_the_day = [(x.slot, x.at) for x in slots if x.local_date == date(2026, 11, 1)]
    assert on_the_day == [("01:30", at(2026, 11, 1, 5, 30)), ("09:00", at(2026, 11, 1, 14, 0))]
    assert Counter(x.local_date for x in slots) == {date(2026, 10, 31): 2, date(2026, 11, 1): 2, date(2026, 11, 2): 2}


def test_europe_changes_on_its_own_date():
    # Berlin moves to summer time on 2026-03-29, three weeks after New York.
    s = schedule("Europe/Berlin", times=["09:00"])
    slots = ticking(s, at(2026, 3, 28, 0, 0), at(2026, 3, 31, 0, 0))
    assert [x.at for x in slots] == [at(2026, 3, 28, 8, 0), at(2026, 3, 29, 7, 0), at(2026, 3, 30, 7, 0)]


def test_a_week_of_ticks_gives_every_slot_exactly_once_whatever_the_tick():
    s = schedule("Australia/Sydney")  # Sydney leaves summer time on 2026-04-05
    for step in (timedelta(seconds=40), timedelta(minutes=15), timedelta(hours=5)):
        slots = ticking(s, at(2026, 4, 1, 0, 0), at(2026, 4, 9, 0, 0), step=step)
        assert len(slots) == len({(x.local_date, x.slot) for x in slots}), step
        assert {x.local_date for x in slots if x.local_date.day in range(2, 8)} == {date(2026, 4, d) for d in range(2, 8)}


def test_only_the_listed_weekdays():
    s = schedule("Europe/London", times=["09:00"], days=["mon", "fri"])
    slots = due_slots(s, at(2026, 1, 19, 0, 0), at(2026, 1, 11, 0, 0))  # Sun 11th to Mon 19th
    assert [x.local_date for x in slots] == [date(2026, 1, 12), date(2026, 1, 16)]


def test_nothing_before_the_schedule_existed_and_nothing_twice_at_the_boundary():
    created = at(2026, 1, 15, 9, 30)
    s = schedule("UTC", times=["09:00", "10:00"], created_at=created)
    assert [x.slot for x in due_slots(s, at(2026, 1, 15, 12, 0), at(2026, 1, 14, 0, 0))] == ["10:00"]
    # (last, now]: a slot exactly at `now` is due now, and not again on the next tick.
    assert [x.slot for x in due_slots(s, at(2026, 1, 15, 10, 0), at(2026, 1, 15, 9, 45))] == ["10:00"]
    assert due_slots(s, at(2026, 1, 15, 10, 15), at(2026, 1, 15, 10, 0)) == []
    assert due_slots(s, at(2026, 1, 15, 10, 0), at(2026, 1, 15, 10, 0)) == []


def test_seconds_in_a_local_time():
    s = schedule("Asia/Tokyo", times=["09:00:30"])
    assert [x.at for x in due_slots(s, at(2026, 1, 15, 0, 1), at(2026, 1, 14, 23, 59))] == [at(2026, 1, 15, 0, 0, 30)]
