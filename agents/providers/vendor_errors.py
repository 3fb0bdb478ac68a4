"""Vendor failures classified in one table: what is retried (and after how long), what is dead-lettered."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import anthropic
import openai

from agents.errors import PermanentError, StageError, TransientError


@dataclass(frozen=True)
class Rule:
    retryable: bool
    code: str
    hint: str = ""  # what fixes it, when the operator can


# Status codes with a meaning of their own; any other 5xx is transient, any other 4xx permanent.
STATUS_RULES: Mapping[int, Rule] = {
    400: Rule(False, "vendor_bad_request"),
    401: Rule(False, "vendor_unauthorized", "check the API key setting"),
    403: Rule(False, "vendor_forbidden", "the key lacks access to this model or endpoint"),
    404: Rule(False, "vendor_not_found", "check the model name and base URL settings"),
    408: Rule(True, "vendor_timeout"),
    409: Rule(True, "vendor_conflict"),
    413: Rule(False, "vendor_request_too_large"),
    422: Rule(False, "vendor_unprocessable"),
    429: Rule(True, "vendor_rate_limited"),
    529: Rule(True, "vendor_overloaded"),  # Anthropic's "overloaded_error"
}
SERVER_ERROR = Rule(True, "vendor_server_error")
CLIENT_ERROR = Rule(False, "vendor_client_error")

STATUS_ERRORS = (anthropic.APIStatusError, openai.APIStatusError)
# What reading a 200 raises when its body is not the API's reply (a proxy's HTML page, cut-off JSON, an object of
# another shape, no choices): the SDKs hand such a body over as a string or a half-filled object instead of raising.
NOT_A_REPLY_ERRORS = (json.JSONDecodeError, AttributeError, TypeError, LookupError)
TIMEOUT_ERRORS = (anthropic.APITimeoutError, openai.APITimeoutError)
CONNECTION_ERRORS = (anthropic.APIConnectionError, openai.APIConnectionError)

# Keys in vendor messages (OpenAI echoes part of a rejected key) or anywhere else: never repeated.
_KEY_SHAPED = re.compile(r"\b(?:sk|gsk|pk|key)[-_][A-Za-z0-9_\-*.]{6,}")


def rule_for(status: int) -> Rule:
    if status in STATUS_RULES:
        return STATUS_RULES[status]
    return SERVER_ERROR if status >= 500 else CLIENT_ERROR


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _KEY_SHAPED.sub("[redacted]", text)


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """`retry-after-ms` (OpenAI), else `retry-after` as seconds or an HTTP date; None when absent or unreadable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        if "retry-after" in lowered:
            value = lowered["retry-after"].strip()
            try:
                return max(0.0, float(value))
            except ValueError:
                when = parsedate_to_datetime(value)
                return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
    except (TypeError, ValueError):
        return None
    return None


def vendor_message(body: Any, fallback: str) -> str:
    """The human message of a vendor error body: Anthropic's {"error": {"message"}}, OpenAI's the same or the bare
    error object (the openai SDK hands over the inner object)."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(body.get("message"), str):
            return body["message"]
    return fallback


def classify_status(provider: str, status: int, message: str, headers: Mapping[str, str],
                    secrets: Iterable[str] = ()) -> StageError:
    rule = rule_for(status)
    hint = f" ({rule.hint})" if rule.hint else ""
    text = redact(f"{provider} answered HTTP {status}: {message}{hint}", secrets)
    if rule.retryable:
        return TransientError(text, code=rule.code, retry_after=retry_after_seconds(headers))
    return PermanentError(text, code=rule.code)


def classify(provider: str, exc: BaseException, secrets: Iterable[str] = ()) -> StageError | None:
    """The stage error for an SDK exception, or None when `exc` is not a vendor failure."""
    if isinstance(exc, STATUS_ERRORS):
        return classify_status(provider, exc.status_code, vendor_message(exc.body, exc.message),
                               exc.response.headers, secrets)
    if isinstance(exc, TIMEOUT_ERRORS):
        return TransientError(f"{provider} did not answer in time", code="vendor_timeout")
    if isinstance(exc, CONNECTION_ERRORS):
        cause = redact(str(exc.__cause__ or exc), secrets)
        return TransientError(f"{provider} could not be reached: {cause}", code="vendor_unreachable")
    if isinstance(exc, NOT_A_REPLY_ERRORS):
        return TransientError(redact(f"{provider} answered with a body that is not its API's reply "
                                     f"({type(exc).__name__}: {exc})", secrets), code="vendor_bad_reply")
    return None
