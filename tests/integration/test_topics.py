"""The topic catalogue on a real broker: ensure creates everything, is idempotent, and reports drift."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from planperfect.topic_admin import TopicState, ensure_topics
from streams.topics import CATALOGUE, JOB_EVENTS, Topics


async def test_ensure_creates_the_catalogue_then_reports_ok(infra):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    first = await ensure_topics(infra.bootstrap, prefix)
    assert {r.state for r in first} == {TopicState.CREATED}
    assert len(first) == len(CATALOGUE)
    second = await ensure_topics(infra.bootstrap, prefix)
    assert {r.state for r in second} == {TopicState.OK}
    assert all(r.partitions == spec.partitions for r, spec in zip(second, CATALOGUE))


async def test_ensure_reports_drift_and_changes_nothing(infra):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    name = Topics(prefix).job_events
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs={"retention.ms": "60000"})])
    finally:
        await admin.close()
    reports = {r.name: r for r in await ensure_topics(infra.bootstrap, prefix)}
    drift = reports[name]
    assert drift.state == TopicState.DRIFT
    assert drift.partitions == 1
    assert any(d.startswith("partitions: catalogue 4") for d in drift.differences), drift.differences
    assert any(d.startswith("retention.ms: catalogue -1, cluster 60000") for d in drift.differences)
    again = {r.name: r for r in await ensure_topics(infra.bootstrap, prefix)}
    assert again[name].partitions == 1  # reported, never silently altered
    assert JOB_EVENTS.partitions == 4
