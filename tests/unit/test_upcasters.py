"""Upcasters: StageStarted v1 -> v2 (seconds to milliseconds) as a pure step, the version switch, and refusal of the future."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Literal

import pytest
from pydantic import Field

from streams.codec import DecodeError, decode_event, encode
from streams.envelope import Envelope, event_id_for
from streams.events import StageStarted
from streams.payloads import Stage
from streams.upcasters import (
    CURRENT_VERSIONS,
    UPCASTERS,
    UnknownVersion,
    missing_upcasters,
    upcast,
    upcast_stage_started_v1_v2,
)

JOB = uuid.UUID(int=7)
AT = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
AT_V2 = {**CURRENT_VERSIONS, "StageStarted": 2}
StageStartedV2 = StageStarted  # the current model is v2


def v1_raw(**changes) -> dict:
    """A StageStarted v1 exactly as v1 code wrote it to the log."""
    event = StageStarted(
        event_id=event_id_for(JOB, 4), job_id=JOB, sequence=4, occurred_at=AT, correlation_id=JOB,
        stage=Stage.DRAFT, attempt=2, time_limit_ms=600_000,
    )
    raw = json.loads(encode(event))
    del raw["time_limit_ms"]
    return {**raw, "schema_version": 1, "time_limit_seconds": 600, **changes}


def test_v1_to_v2_renames_seconds_to_milliseconds_and_bumps_the_version():
    raw = v1_raw()
    out = upcast_stage_started_v1_v2(raw)
    assert out["schema_version"] == 2
    assert out["time_limit_ms"] == 600_000
    assert "time_limit_seconds" not in out
    unchanged = {k: v for k, v in raw.items() if k not in ("schema_version", "time_limit_seconds")}
    assert {k: out[k] for k in unchanged} == unchanged


def test_the_step_is_pure():
    raw = v1_raw()
    before = json.dumps(raw, sort_keys=True)
    first, second = upcast_stage_started_v1_v2(raw), upcast_stage_started_v1_v2(raw)
    assert json.dumps(raw, sort_keys=True) == before  # the input is not mutated
    assert first == second and first is not raw


def test_upcast_output_validates_as_the_v2_model():
    v2 = StageStartedV2.model_validate(upcast(v1_raw(), current=AT_V2))
    assert v2.time_limit_ms == 600_000 and v2.attempt == 2 and v2.stage is Stage.DRAFT
    assert v2.event_id == event_id_for(JOB, 4)  # the same fact, in the new shape


def test_a_v2_message_passes_through_a_v2_reader_untouched():
    raw = upcast_stage_started_v1_v2(v1_raw())
    assert upcast(raw, current=AT_V2) == raw


def test_a_non_numeric_limit_is_carried_over_for_validation_to_name():
    out = upcast_stage_started_v1_v2(v1_raw(time_limit_seconds="ten"))
    assert out["time_limit_ms"] == "ten"
    with pytest.raises(ValueError, match="time_limit_ms"):
        StageStartedV2.model_validate(out)


def test_v1_bytes_on_the_log_decode_into_the_v2_model():
    assert CURRENT_VERSIONS["StageStarted"] == 2
    event = decode_event(json.dumps(v1_raw()).encode())
    assert event.schema_version == 2 and event.time_limit_ms == 600_000
    assert ("StageStarted", 1) in UPCASTERS


def test_every_declared_version_has_its_chain_of_upcasters():
    assert missing_upcasters() == []
    assert missing_upcasters({"StageStarted": 3}, UPCASTERS) == ["StageStarted v2->v3"]


def test_a_future_version_is_refused_with_a_clear_error():
    future = v1_raw(schema_version=CURRENT_VERSIONS["StageStarted"] + 1)
    with pytest.raises(UnknownVersion, match=r"StageStarted schema_version \d+ is newer than this code's \d+"):
        upcast(future)
    with pytest.raises(DecodeError, match="newer than this code's") as caught:
        decode_event(json.dumps(future).encode())
    assert caught.value.raw == json.dumps(future).encode()  # the bytes are kept for the dead letter


def test_a_version_with_no_step_is_refused_not_guessed():
    with pytest.raises(UnknownVersion, match="no upcaster for StageStarted v1"):
        upcast(v1_raw(), current=AT_V2, steps={})


def test_messages_without_a_usable_version_are_left_to_validation():
    odd = {"type": "StageStarted", "schema_version": "2"}
    assert upcast(odd) is odd
    assert upcast({"schema_version": 1}) == {"schema_version": 1}
