"""What a projection is: a name, the topics it reads, the tables it owns, and a batch apply in the runner's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import asyncpg
from pydantic import BaseModel

from streams.topics import TopicSpec


@dataclass(frozen=True)
class Record:
    """A decoded message with its position in the log (and its bytes, for a dead letter if it cannot be applied)."""

    topic: str
    partition: int
    offset: int
    message: BaseModel
    raw: bytes = field(default=b"", repr=False, compare=False)


class Projection(Protocol):
    name: str
    sources: tuple[TopicSpec, ...]  # the topics whose events it folds: the runner reads these, a rebuild replays them
    tables: tuple[str, ...]  # the tables it alone writes: a rebuild replaces exactly these

    def wants(self, record: Record) -> bool:
        """Whether this projection folds this record."""

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        """Fold `records` (in log order) inside the caller's transaction; applying twice changes nothing."""
