"""A fixture for provider tests: every log record of the test, at every level and from every library (the
SDKs' and HTTP clients' debug lines included), is scanned for the configured key."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.fakes.wiring import SECRET


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(logging.Formatter("%(name)s %(message)s").format(record))


@pytest.fixture(autouse=True)
def no_key_in_any_log() -> Iterator[None]:
    root = logging.getLogger()
    handler, level = _Everything(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    leaked = [t for t in handler.texts if SECRET in t or f"*****{SECRET[-4:]}" in t]
    assert handler.texts, "nothing was logged: the scan would prove nothing"
    assert not leaked, leaked[:3]
