"""JSON log lines: one object a line, the context fields given through `extra=`, message words intact; no key's secret."""

from __future__ import annotations

import json
import logging
import secrets
import sys
from uuid import UUID

from api.keys import KEY_PATTERN
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from planperfect.logformat import JsonLines, PlainLines, UnparsedRequests

JOB = UUID("00000000-0000-0000-0000-00000000000a")


def record(msg: str, *args: object, exc_info=None, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("planperfect.agents", logging.INFO, __file__, 1, msg, args, exc_info)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_a_line_carries_the_job_stage_attempt_and_event():
    line = JsonLines().format(record("job %s stage %s attempt %d completed in %d ms", JOB, "draft", 2, 31,
                                     job_id=JOB, stage="draft", attempt=2, event_id=JOB))
    parsed = json.loads(line)
    assert parsed["message"] == f"job {JOB} stage draft attempt 2 completed in 31 ms"
    context = (parsed["job_id"], parsed["stage"], parsed["attempt"], parsed["event_id"])
    assert context == (str(JOB), "draft", 2, str(JOB))
    assert parsed["level"] == "INFO" and parsed["logger"] == "planperfect.agents" and parsed["ts"].endswith("+00:00")


def test_fields_not_given_are_left_out():
    assert set(json.loads(JsonLines().format(record("Worker ready")))) == {"ts", "level", "logger", "message"}


def test_a_traceback_stays_on_one_line_and_message_words_stay_greppable():
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        exc = sys.exc_info()
    line = JsonLines().format(record('Kafka back after 3 s: "ünïcode" stalled:', exc_info=exc))
    assert "\n" not in line
    assert 'back after 3 s' in line and "ünïcode" in line and "stalled:" in line
    assert "ValueError: bad\nvalue" in json.loads(line)["exc"]


def _a_key() -> str:
    key = f"pp_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    assert KEY_PATTERN.fullmatch(key)  # the shape api/keys.py makes and accepts
    return key


def test_no_api_key_secret_in_a_line_or_its_traceback_only_the_key_id():
    key, cut = _a_key(), _a_key()[:40]  # cut: a key quoted only in part, as a parser quotes 100 bytes of a header
    try:
        raise ValueError(f"Got more than 8190 bytes when reading: {(b'Bearer ' + key.encode() + b' aaaa')!r}")
    except ValueError:
        exc = sys.exc_info()
    rec = record("header %s and cookie planperfect_key=%s;", key, cut, exc_info=exc, stage=key)
    for formatter in (JsonLines(), PlainLines("%(levelname)s %(message)s %(stage)s")):
        line = formatter.format(rec)
        secret, cut_secret = key.split("_", 2)[2], cut.split("_", 2)[2]
        assert secret not in line and cut_secret not in line, line
        assert f"{key[:16]}*** aaaa" in line and f"header {key[:16]}*** and cookie planperfect_key={cut[:16]}***;" in line
    parsed = json.loads(JsonLines().format(rec))
    assert f"{key[:16]}***" in parsed["exc"] and parsed["stage"] == f"{key[:16]}***"


def test_a_request_the_parser_rejects_is_one_warning_without_a_byte_of_it():
    key = _a_key()
    for error in (LineTooLong(f"b'Bearer {key} aaaa...'", "8190"), BadHttpMessage(f"Invalid header value char: {key}")):
        try:
            raise error
        except BadHttpMessage:
            exc = sys.exc_info()
        rec = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
                                ("127.0.0.1",), exc)
        assert UnparsedRequests().filter(rec)
        parsed = json.loads(JsonLines().format(rec))
        assert parsed == {"ts": parsed["ts"], "level": "WARNING", "logger": "aiohttp.server",
                          "message": f"Error handling request from 127.0.0.1: {type(error).__name__}, answered 400"}
    other = record("Error handling request from %s", "127.0.0.1", exc_info=(ValueError, ValueError("ours"), None))
    assert UnparsedRequests().filter(other) and other.exc_info is not None  # a failure of ours keeps its traceback

def test_no_monitor_session_id_in_a_line():
    session = "Zq3_x-9aB" * 5  # a token_urlsafe id: no shape of its own, only its cookie's name gives it away
    rec = record("Cookie: other=1; planperfect_session=%s; theme=dark", session)
    for formatter in (JsonLines(), PlainLines("%(message)s")):
        line = formatter.format(rec)
        assert session not in line and "planperfect_session=***; theme=dark" in line, line
