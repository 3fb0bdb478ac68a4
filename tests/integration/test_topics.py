"""The topic catalogue on a real broker: ensure creates everything, is idempotent, grows only empty topics, reports drift."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from planperfect.topic_admin import TopicState, ensure_topics
from streams.topics import CATALOGUE, DEFAULT_PARTITIONS, JOB_EVENTS, Topics
from streams.access import kafka_options


async def test_ensure_creates_the_catalogue_then_reports_ok(infra):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    first = await ensure_topics(infra.bootstrap, prefix, partitions=3)
    assert {r.state for r in first} == {TopicState.CREATED}
    assert len(first) == len(CATALOGUE)
    second = await ensure_topics(infra.bootstrap, prefix, partitions=3)
    assert {r.state for r in second} == {TopicState.OK}
    assert {r.partitions for r in second} == {3}


async def _create(infra, name: str, partitions: int, **configs: str) -> None:
    admin = AIOKafkaAdminClient(**kafka_options(infra.bootstrap))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs)])
    finally:
        await admin.close()


async def test_an_empty_topic_grows_and_a_drifted_config_is_reported_not_changed(infra):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    name = Topics(prefix).job_events
    await _create(infra, name, 1, **{"retention.ms": "60000"})
    reports = {r.name: r for r in await ensure_topics(infra.bootstrap, prefix, partitions=4)}
    grown = reports[name]
    assert grown.partitions == 4, "nothing was written yet: no key can move"
    assert grown.state == TopicState.DRIFT
    assert grown.differences == ("retention.ms: catalogue -1, cluster 60000",)
    again = {r.name: r for r in await ensure_topics(infra.bootstrap, prefix, partitions=4)}
    assert again[name].partitions == 4 and again[name].differences == ("retention.ms: catalogue -1, cluster 60000",)
    assert JOB_EVENTS.partitions == DEFAULT_PARTITIONS == 12


async def test_the_partition_count_of_a_topic_with_messages_is_never_changed_and_ensure_says_why(infra):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    name = Topics(prefix).job_control
    await _create(infra, name, 2, **{"retention.ms": str(7 * 24 * 3600 * 1000)})
    producer = AIOKafkaProducer(**kafka_options(infra.bootstrap))
    await producer.start()
    try:
        await producer.send_and_wait(name, b"{}", key=b"some-job")
    finally:
        await producer.stop()
    for partitions in (6, 1):
        report = {r.name: r for r in await ensure_topics(infra.bootstrap, prefix, partitions=partitions)}[name]
        assert report.state == TopicState.DRIFT and report.partitions == 2
        assert report.differences[0].startswith(f"partitions: catalogue {partitions}, cluster 2; not changed: the topic "
                                                f"holds 1 message(s)"), report.differences
        assert "keys" in report.differences[0]
