"""pacing_schedules: each user's schedules, as created, patched and deleted on the pacing-events topic."""

from __future__ import annotations

import asyncpg

from projections.base import Record
from streams.pacing_events import ScheduleCreated, ScheduleDeleted, ScheduleUpdated
from streams.topics import PACING_EVENTS

CREATED = """
INSERT INTO pacing_schedules (schedule_id, user_id, time_zone, local_times, days_of_week, content_types, window_days,
                              active, created_at, updated_at, last_offset, tenant, created_by,
                              updated_by, request_fingerprint)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $12, $13)
ON CONFLICT DO NOTHING
"""

# Updates and deletions in log order through one statement; the offset guard makes a replay change nothing
# (a user's events share one partition, so their offsets grow), and a deleted schedule stays deleted.
CHANGED = """
UPDATE pacing_schedules SET
    time_zone = COALESCE($4, time_zone),
    local_times = COALESCE($5, local_times),
    days_of_week = COALESCE($6, days_of_week),
    content_types = COALESCE($7, content_types),
    window_days = COALESCE($8, window_days),
    active = CASE WHEN $3 = 'ScheduleDeleted' THEN false ELSE COALESCE($9, active) END,
    deleted_at = CASE WHEN $3 = 'ScheduleDeleted' THEN $10 ELSE deleted_at END,
    updated_at = $10,
    updated_by = $12,
    last_offset = $11
WHERE schedule_id = $1 AND user_id = $2 AND deleted_at IS NULL AND last_offset < $11
"""


class PacingSchedulesProjection:
    name = "pacing_schedules"
    sources = (PACING_EVENTS,)
    tables = ("pacing_schedules",)

    def wants(self, record: Record) -> bool:
        return isinstance(record.message, (ScheduleCreated, ScheduleUpdated, ScheduleDeleted))

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        created, changed = [], []
        for r in records:
            e = r.message
            if isinstance(e, ScheduleCreated):
                created.append((e.schedule_id, e.user_id, e.time_zone, e.local_times, [d.value for d in e.days_of_week],
                                [t.value for t in e.content_types], e.window_days, e.active, e.occurred_at, r.offset,
                                e.tenant, e.by, e.request_fingerprint))
            elif isinstance(e, ScheduleUpdated):
                changed.append((e.schedule_id, e.user_id, e.type, e.time_zone, e.local_times,
                                [d.value for d in e.days_of_week] if e.days_of_week else None,
                                [t.value for t in e.content_types] if e.content_types else None,
                                e.window_days, e.active, e.occurred_at, r.offset, e.by))
            else:
                changed.append((e.schedule_id, e.user_id, e.type, None, None, None, None, None, None,
                                e.occurred_at, r.offset, e.by))
        if created:
            await conn.executemany(CREATED, created)
        if changed:
            await conn.executemany(CHANGED, changed)
