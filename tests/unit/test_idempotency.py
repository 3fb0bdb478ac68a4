"""Idempotency-Keys at the edge: one fingerprint per request however it is spelled, another body refused, and the
key shown as its client sent it."""

from __future__ import annotations

import json

import pytest

from api.errors import ApiError
from api.idempotency import fingerprint, same_request
from api.pacing_requests import KnowledgeCreate
from api.principal import Principal, Role, sent_idempotency_key
from api.requests import IntakeRequest
from streams.codec import decode_event, encode
from streams.pacing_events import decode_pacing_event
from tests.unit.test_pacing_wire import OLD_ARTICLE, OLD_DOCUMENT

JOB = {"job_type": "article", "payload": {"title": "Heat pumps", "keywords": ["a", "b"]}}


def test_one_request_has_one_fingerprint_however_it_is_spelled():
    first = fingerprint(IntakeRequest.model_validate(JOB))
    spelled_out = {"priority": 5, "payload": {"keywords": ["a", "b"], "title": "Heat pumps"}, "job_type": "article"}
    assert fingerprint(IntakeRequest.model_validate(spelled_out)) == first
    assert fingerprint(IntakeRequest.model_validate_json(json.dumps(JOB, indent=4))) == first
    for other in ({**JOB, "priority": 6}, {**JOB, "payload": {"title": "Heat pumps", "keywords": ["b", "a"]}}):
        assert fingerprint(IntakeRequest.model_validate(other)) != first, other
    assert len(first) == 64 and int(first, 16) >= 0


def test_a_key_used_with_another_body_is_refused_naming_the_header():
    doc = fingerprint(KnowledgeCreate(title="t", body="b"))
    same_request(doc, doc)
    same_request(None, doc)  # a write from before fingerprints were kept: answered as it was then
    with pytest.raises(ApiError) as refused:
        same_request(doc, fingerprint(KnowledgeCreate(title="t", body="c")))
    assert refused.value.status_code == 422
    err = json.loads(refused.value.text)["error"]
    assert (err["code"], err["field"]) == ("idempotency_key_reused", "Idempotency-Key")
    assert "used with another body" in err["message"]


@pytest.mark.parametrize("sent", ["order-1", "key:3f9a1c0b7d2e:order-1", "a:b", ""])
def test_the_key_is_shown_as_sent_not_as_stored(sent):
    stored = Principal(key_id="c5b1ff61e8c1", name="billing", role=Role.SUBMITTER).idempotency_scope(sent)
    assert sent_idempotency_key(stored) == sent
    assert sent_idempotency_key(None) is None
    assert sent_idempotency_key("order-1") == "order-1"  # a job from before keys were scoped


def test_facts_written_before_fingerprints_decode_without_one():
    assert decode_event(json.dumps(OLD_ARTICLE).encode()).request_fingerprint is None
    old = decode_pacing_event(json.dumps(OLD_DOCUMENT).encode())
    assert old.request_fingerprint is None
    keyed = old.model_copy(update={"request_fingerprint": "ab" * 32})
    assert decode_pacing_event(encode(keyed)) == keyed
