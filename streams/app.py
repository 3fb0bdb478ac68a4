"""The Faust app factory: one configured app per worker process, nothing created at import time."""

from __future__ import annotations

from pathlib import Path

import faust

from streams import faust_fixes
from streams.topics import PARTITIONS


def create_app(*, app_id: str, bootstrap: str, datadir: Path, producer_linger_ms: int = 0) -> faust.App:
    """A Faust app bound to `bootstrap`; topics and agents are attached by the caller."""
    faust_fixes.install()  # offsets are committed only for messages an agent really processed
    return faust.App(
        app_id,
        broker=[f"kafka://{host}" for host in bootstrap.split(",")],
        store="memory://",
        datadir=str(datadir),
        autodiscover=False,
        web_enabled=False,
        topic_partitions=PARTITIONS,
        topic_replication_factor=1,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=producer_linger_ms / 1000,
        # A worker that dies is noticed within 10 s, so its partitions (and the jobs held in them) move
        # to a survivor quickly instead of after Faust's default minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        broker_commit_every=100,
        broker_commit_interval=0.5,
        stream_wait_empty=False,
        table_cleanup_interval=60.0,
    )
