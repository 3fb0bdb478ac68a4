"""Notices a worker whose consumer holds partitions with messages waiting yet delivers nothing, so it can be restarted.

Seen under chaos: a worker killed while joining the group can leave its successor assigned partitions it never
fetches (Faust and aiokafka both believe all is well; the agents wait at `async for`). The worker first seeks
the waiting partitions back to their committed offsets; if it trips again in the same generation it ends with
EXIT_WEDGED and its supervisor (`planperfect run`, systemd, Kubernetes) starts a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

EXIT_WEDGED = 70  # EX_SOFTWARE: "restart me"


@dataclass
class FetchWatchdog:
    """Trips after `patience` checks in a row that found lag, no delivery since the check before, nothing in flight."""

    patience: int = 3
    strikes: int = 0
    last_delivered: dict = field(default_factory=dict)
    nudged: int | None = None  # the group generation in which the waiting partitions were sought back once

    def check(self, lag: Mapping[Hashable, int], delivered: Mapping[Hashable, int | None], in_flight: int) -> bool:
        stalled = any(n > 0 for n in lag.values()) and dict(delivered) == self.last_delivered and in_flight == 0
        self.last_delivered = dict(delivered)
        self.strikes = self.strikes + 1 if stalled else 0
        return self.strikes >= self.patience

    def reset(self) -> None:
        self.strikes = 0
        self.last_delivered = {}


class EndOffsets:
    """End offsets of partitions, from a consumer of its own (no group), started on first use and kept."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.consumer: AIOKafkaConsumer | None = None

    async def of(self, tps) -> dict:
        if self.consumer is None:
            self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
            await self.consumer.start()
        ends = await self.consumer.end_offsets([TopicPartition(tp.topic, tp.partition) for tp in tps])
        return {(tp.topic, tp.partition): n for tp, n in ends.items()}
