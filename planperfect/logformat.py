"""Log records as one JSON object a line, with the job, stage, attempt and event they concern; no API key's secret."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone

# Given per call through `extra=`: a log collector can then select one job's or one stage's lines.
CONTEXT_FIELDS = ("job_id", "stage", "attempt", "event_id")

# An API key (`pp_<12 hex>_<secret>`, api/keys.py), whole or cut short, anywhere in a line: aiohttp's parser quotes
# the first 100 bytes of a header it rejects in its traceback. The id stays (it names the key in lists and logs).
# A monitor session id has no shape of its own: it is redacted where a line names its cookie (api/sessions.py).
_API_KEY = re.compile(r"(pp_[0-9a-f]{12}_)[A-Za-z0-9_-]+")
_SESSION = re.compile(r"(planperfect_session=)[^;\s'\"\\]+")


def redact_keys(text: str) -> str:
    """`text` with every API key's secret and every monitor session id replaced by `***`."""
    return _SESSION.sub(r"\1***", _API_KEY.sub(r"\1***", text))


class PlainLines(logging.Formatter):
    """The format given, for a terminal; no API key's secret, in the message or the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_keys(super().format(record))


class UnparsedRequests(logging.Filter):
    """For aiohttp's server logger. A request its parser rejects (a header line over 8190 bytes, a control
    character) is logged at ERROR with a traceback quoting the line's first 100 bytes: an API key, another local
    site's cookies. Instead: one WARNING line (the client's fault) naming the error, without a byte of what was sent."""

    def __init__(self) -> None:
        super().__init__()
        from aiohttp.http import HttpProcessingError  # only the API process attaches it

        self._parser_error = HttpProcessingError

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, self._parser_error):
            record.msg, record.args = f"{record.getMessage()}: {type(exc).__name__}, answered {exc.code}", ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class JsonLines(logging.Formatter):
    """ts, level, logger, message, the context fields given, and the traceback if any; newlines escaped, so one
    record is always one line, and non-ASCII kept as it is, so that a grep for a message's words still finds it.
    No API key's secret, in any field (JSON escapes none of a key's characters, so the line is redacted whole)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            if (value := getattr(record, field, None)) is not None:
                line[field] = value if isinstance(value, (int, float, bool)) else str(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return redact_keys(json.dumps(line, ensure_ascii=False))
