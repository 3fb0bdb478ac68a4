"""What a projection is: a name, the topics it reads, and a batch apply inside the runner's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import asyncpg
from pydantic import BaseModel


@dataclass(frozen=True)
class Record:
    """A decoded message with its position in the log."""

    topic: str
    partition: int
    offset: int
    message: BaseModel


class Projection(Protocol):
    name: str

    def wants(self, record: Record) -> bool:
        """Whether this projection folds this record."""

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        """Fold `records` (in log order) inside the caller's transaction; applying twice changes nothing."""
