"""The edge's own checks, without I/O: unstorable text, request models, parameters, and the job statuses."""

from __future__ import annotations

import base64
from uuid import uuid4

import pytest
from aiohttp.test_utils import make_mocked_request
from pydantic import ValidationError

from api.errors import ApiError
from api.pacing_requests import KnowledgeCreate, MeetingCreate, ScheduleCreate
from api.params import cursor_param, idempotency_key_param, last_event_id_param, limit_param
from api.requests import IntakeRequest
from api.storable import find_unstorable, unstorable
from projections.job_status import TERMINAL, JobStatus, SeedStatus


@pytest.mark.parametrize("text", ["", "plain", "Grüße, 東京 🚀", "\t\n\r", "\x01\x7f", "\ufffd", "\U0010ffff"])
def test_text_postgres_can_hold_passes(text):
    assert unstorable(text) is None


@pytest.mark.parametrize("text,what", [
    ("\x00", "NUL"), ("nul\x00byte", "NUL"), ("\ud800", "surrogate"), ("half \udfff", "surrogate"),
    ("🚀\udc80", "surrogate"),
])
def test_text_postgres_cannot_hold_is_named(text, what):
    assert what in unstorable(text)


def test_the_path_of_the_first_bad_string_is_reported():
    data = {"job_type": "article", "payload": {"title": "ok", "keywords": ["fine", "bad\x00"]}}
    assert find_unstorable(data) == ("payload.keywords.1", unstorable("bad\x00"))
    assert find_unstorable({"a\x00": 1})[0] == repr("a\x00")
    assert find_unstorable("\ud800")[0] == "body"
    assert find_unstorable({"n": 1, "list": [1.5, None, True, {"deep": ["\ud800"]}]})[0] == "list.3.deep.0"
    assert find_unstorable({"n": 1, "s": "fine", "l": [["x"]]}) is None


INTAKE = {"job_type": "article", "payload": {"title": "A title"}}


@pytest.mark.parametrize("model,data,field", [
    (IntakeRequest, INTAKE | {"payload": {"title": "A \x00 title"}}, "payload.title"),
    (IntakeRequest, INTAKE | {"payload": {"title": "A title", "keywords": ["k", "\ud800"]}}, "payload.keywords.1"),
    (IntakeRequest, INTAKE | {"payload": {"title": "A title", "description": "\x00"}}, "payload.description"),
    (KnowledgeCreate, {"title": "T", "body": "b\x00"}, "body"),
    (MeetingCreate, {"title": "T", "held_on": "2026-01-02", "participants": ["\udfff"], "notes": "n"}, "participants.0"),
    (ScheduleCreate, {"user_id": "maya", "time_zone": "UTC", "local_times": ["09:00"], "content_types": ["blog_post"]}, None),
])
def test_every_request_model_refuses_unstorable_text_by_itself(model, data, field):
    """Not only the HTTP body reader: the models themselves, so no other path can carry it to the log."""
    if field is None:
        model.model_validate(data)
        return
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    # NUL: our check names it; a lone surrogate pydantic refuses itself in Python mode, at the same field.
    assert f"{field}: contains" in str(info.value) or f"\n{field}\n  Input should be a valid string" in str(info.value)


def test_requester_email_is_optional_and_later_stages_are_refused():
    assert IntakeRequest.model_validate(INTAKE).requester_email is None
    IntakeRequest.model_validate(INTAKE | {"initial_stage": "research"})
    with pytest.raises(ValidationError, match="lack the outputs of research, outline, draft"):
        IntakeRequest.model_validate(INTAKE | {"initial_stage": "qa"})
    with pytest.raises(ValidationError, match="lack the outputs of research, markup, qa"):
        IntakeRequest.model_validate(INTAKE | {"job_type": "schema", "initial_stage": "complete"})


def _request(path: str = "/", **headers: str):
    return make_mocked_request("GET", path, headers=headers)


def _field_of(call) -> str:
    with pytest.raises(ApiError) as info:
        call()
    assert info.value.status_code == 400
    return info.value.text


@pytest.mark.parametrize("key", ["a\x00b", "", "k" * 201])  # bytes that are not UTF-8: tests/integration
def test_idempotency_keys_the_log_cannot_carry_are_400(key):
    assert '"field": "Idempotency-Key"' in _field_of(lambda: idempotency_key_param(_request(**{"Idempotency-Key": key})))


@pytest.mark.parametrize("value", ["3000000000", "2147483648", "-1", "x", "1.5", ""])
def test_last_event_ids_outside_int32_are_400(value):
    assert '"field": "Last-Event-ID"' in _field_of(lambda: last_event_id_param(_request(**{"Last-Event-ID": value})))


def test_last_event_id_and_limit_in_range_pass():
    assert last_event_id_param(_request()) == 0
    assert last_event_id_param(_request(**{"Last-Event-ID": "2147483647"})) == 2147483647
    assert limit_param(_request("/?limit=500")) == 500
    assert '"field": "limit"' in _field_of(lambda: limit_param(_request("/?limit=99999999999999999999999")))


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize("raw", [
    _cursor(f"0001-01-01T00:00:00+05:00|{uuid4()}"),  # overflows when shifted to UTC
    _cursor(f"9999-12-31T23:59:59-05:00|{uuid4()}"),
    _cursor(f"2026-01-01T00:00:00|{uuid4()}"),  # naive: not one this API wrote
    _cursor("2026-01-01T00:00:00+00:00|not-a-uuid"),
    _cursor("no separator"), "!!!", "é",
])
def test_cursors_this_api_did_not_write_are_400(raw):
    assert '"field": "cursor"' in _field_of(lambda: cursor_param(_request(f"/?cursor={raw}")))


def test_a_cursor_this_api_wrote_decodes():
    job_id = uuid4()
    at, jid = cursor_param(_request(f"/?cursor={_cursor(f'2026-01-01T01:00:00+01:00|{job_id}')}"))
    assert (at.isoformat(), jid) == ("2026-01-01T00:00:00+00:00", job_id)


def test_every_status_has_a_meaning_and_a_seed_status_that_ends_a_seed_poll():
    for status in JobStatus:
        assert status.meaning
        assert status.seed in SeedStatus
        assert (status.seed in (SeedStatus.COMPLETED, SeedStatus.FAILED)) == status.terminal
    assert TERMINAL == {JobStatus.COMPLETED, JobStatus.DEAD_LETTERED, JobStatus.CANCELLED}
    assert JobStatus.DEAD_LETTERED.seed is SeedStatus.FAILED and JobStatus.CANCELLED.seed is SeedStatus.FAILED
