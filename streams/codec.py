"""JSON on the wire: encode messages, and decode bytes through the upcasters into typed models."""

from __future__ import annotations

import json
from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel, TypeAdapter, ValidationError

from streams.commands import COMMAND_ADAPTER, CONTROL_ADAPTER, DELAY_ADAPTER, Control, DelayStage, RequestStage
from streams.events import EVENT_ADAPTER, Event
from streams.upcasters import UnknownVersion, upcast


T = TypeVar("T")


class DecodeError(ValueError):
    """Bytes that are not a valid message: the raw bytes go to the dead letters, the partition flows on."""

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()


def key_for(job_id: UUID) -> bytes:
    """Messages are keyed by job id so that one job's messages stay in order on one partition."""
    return str(job_id).encode()


def _load(raw: bytes) -> dict:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"not JSON: {exc}", raw) from None
    if not isinstance(data, dict):
        raise DecodeError("not a JSON object", raw)
    try:
        return upcast(data)
    except UnknownVersion as exc:
        raise DecodeError(str(exc), raw) from None


def decode_as(adapter: TypeAdapter[T], raw: bytes, what: str) -> T:
    """Bytes through the upcasters into `adapter`'s type; DecodeError (with the bytes) otherwise."""
    data = _load(raw)
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise DecodeError(f"invalid {what}: {_brief(exc)}", raw) from None


def decode_event(raw: bytes) -> Event:
    return decode_as(EVENT_ADAPTER, raw, "event")


def decode_command(raw: bytes) -> RequestStage:
    return decode_as(COMMAND_ADAPTER, raw, "command")


def decode_delay(raw: bytes) -> DelayStage:
    return decode_as(DELAY_ADAPTER, raw, "delay")


def decode_control(raw: bytes) -> Control:
    return decode_as(CONTROL_ADAPTER, raw, "control command")


def _brief(exc: ValidationError) -> str:
    errs = exc.errors()[:3]
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errs)
