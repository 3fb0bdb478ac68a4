"""The bench's arithmetic: what it reads off the log's records, calls in flight, percentiles, scaled sizes."""

from __future__ import annotations

import uuid
from collections import namedtuple
from datetime import datetime, timezone

from planperfect.bench.observe import LogWatch
from planperfect.bench.report import Result, percentile, table
from planperfect.bench.suite import Sizes
from streams.codec import encode, key_for
from streams.envelope import event_id_for
from streams.events import JobCompleted, StageStarted
from streams.payloads import Stage

Record = namedtuple("Record", "key value timestamp")
JOB = uuid.UUID(int=5)
KEY = key_for(JOB)
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def started(stage: Stage, at: int) -> Record:
    event = StageStarted(event_id=event_id_for(JOB, 2), job_id=JOB, sequence=2, occurred_at=NOW, correlation_id=JOB,
                         stage=stage, attempt=1, time_limit_ms=60_000)
    return Record(KEY, encode(event), at)


def test_hop_latency_is_request_written_to_stage_started_per_stage():
    log = LogWatch()
    log.take(Stage.RESEARCH.value, [Record(KEY, b"request", 1_000)])
    log.take(Stage.OUTLINE.value, [Record(KEY, b"request", 1_500)])
    log.take(None, [started(Stage.RESEARCH, 1_004), started(Stage.OUTLINE, 1_530)])
    assert log.hop_latencies_ms([KEY]) == {"research": [4.0], "outline": [30.0]}
    assert log.hop_latencies_ms([b"another job"]) == {}
    assert log.calls == [(1_004, 1), (1_530, 1)]  # both stages call the provider


def test_job_latency_and_completion_come_from_the_log():
    log = LogWatch()
    done = JobCompleted(event_id=event_id_for(JOB, 9), job_id=JOB, sequence=9, occurred_at=NOW, correlation_id=JOB,
                        final_stage=Stage.COMPLETE)
    log.take(None, [Record(KEY, b'{"type":"JobSubmitted"}', 100), Record(KEY, encode(done), 160)])
    assert log.done([KEY, b"other"]) == 1
    assert log.job_latencies_ms([KEY]) == [60.0]


def test_calls_in_flight_peak_and_time_weighted_mean():
    log = LogWatch(calls=[(0, 1), (10, 1), (20, -1), (30, -1), (35, 1), (35, -1)])
    peak, mean = log.calls_in_flight(0, 40)
    assert peak == 2
    assert mean == (1 * 10 + 2 * 10 + 1 * 10) / 40  # a call that starts and ends in one ms adds nothing
    assert log.calls_completed(25) == (2, 35)


def test_percentile_by_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0  # rank round(0.5 * 99) = 50, counting from 0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) == 0.0


def test_scaled_sizes_keep_a_floor_and_leave_durations_alone():
    sizes = Sizes().scaled(0.001)
    assert sizes.relay_jobs == 10 and sizes.backlog_jobs == 20
    assert sizes.slow_timeout == Sizes().slow_timeout


def test_table_names_each_figure_with_its_unit_and_note():
    result = Result("relay")
    result.add("jobs_per_s", "jobs/s", 1234.5, "jobs/s", "timed out")
    assert result.value("jobs_per_s") == 1234.5
    assert "1,234" in table(result) and "timed out" in table(result)
