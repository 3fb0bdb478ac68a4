"""The monitor's figures: alerts against the time limit, sparklines, durations, histogram buckets."""

from __future__ import annotations

from api.monitor.figures import StageLane, sparkline
from api.monitor.metrics import BOUNDS_SECONDS, _durations
from api.monitor.render import age


def test_an_oldest_message_older_than_the_time_limit_is_an_alert():
    row = StageLane("draft", "normal", time_limit_seconds=60)
    assert not row.alert and row.idle
    row.oldest_msg_age_sec = 60.0
    assert not row.alert
    row.oldest_msg_age_sec = 61.0
    assert row.alert


def test_sparkline_scales_to_its_maximum_and_is_flat_when_empty():
    assert sparkline([0, 0, 0], width=10, height=10) == "0.0,9.0 5.0,9.0 10.0,9.0"
    assert sparkline([0, 4, 2], width=10, height=10) == "0.0,9.0 5.0,1.0 10.0,5.0"


def test_ages_read_as_an_operator_reads_them():
    assert [age(None), age(4.21), age(185), age(7800)] == ["–", "4.2 s", "3 min 5 s", "2 h 10 min"]


def test_duration_histogram_is_cumulative_per_stage_and_lane():
    # width_bucket indexes: 0 = under the first bound, len(bounds) = above the last.
    totals = [
        {"stage": "draft", "priority": 5, "type": "StageCompleted", "bucket": 0, "n": 2, "duration_ms_sum": 40},
        {"stage": "draft", "priority": 4, "type": "StageFailed", "bucket": 4, "n": 1, "duration_ms_sum": 900},
        {"stage": "draft", "priority": 5, "type": "RetryScheduled", "bucket": None, "n": 7, "duration_ms_sum": 0},
        {"stage": "draft", "priority": 9, "type": "StageCompleted", "bucket": len(BOUNDS_SECONDS), "n": 1,
         "duration_ms_sum": 400_000},
    ]
    family = _durations(totals)
    normal = {s.name.rsplit("_", 1)[1] + s.labels.get("le", ""): s.value
              for s in family.samples if s.labels["lane"] == "normal"}
    assert normal["bucket0.05"] == 2 and normal["bucket1"] == 3 and normal["bucket+Inf"] == 3
    assert normal["count"] == 3 and normal["sum"] == 0.94
    high = {s.labels.get("le"): s.value for s in family.samples if s.labels["lane"] == "high" and "le" in s.labels}
    assert high["300"] == 0 and high["+Inf"] == 1
