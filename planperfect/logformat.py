"""Log records as one JSON object a line, carrying the job, stage, attempt and event they concern."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

# Given per call through `extra=`: a log collector can then select one job's or one stage's lines.
CONTEXT_FIELDS = ("job_id", "stage", "attempt", "event_id")


class JsonLines(logging.Formatter):
    """ts, level, logger, message, the context fields given, and the traceback if any; newlines escaped, so one
    record is always one line, and non-ASCII kept as it is, so that a grep for a message's words still finds it."""

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
        return json.dumps(line, ensure_ascii=False)
