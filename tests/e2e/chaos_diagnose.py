"""Reading the log for the e2e tests: every job event as written, and where a stuck job's messages sit against the group's commits."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient

from planperfect.chaos import ledger
from streams.topics import Topics
from tests.support import TEST_PARTITIONS
from streams.access import kafka_options


async def logged_events(bootstrap: str, prefix: str) -> list:
    """Every event on the job-events topic of a test's prefix, decoded, repeats included."""
    return await ledger.logged_events(bootstrap, Topics(prefix, TEST_PARTITIONS))


async def where_are(bootstrap: str, prefix: str, job_ids: list[str]) -> str:
    """Each message of the stuck jobs with its partition's committed offset, then every partition the workers lag on."""
    topics = Topics(prefix, TEST_PARTITIONS)
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(topics.group("workers"))
    finally:
        await admin.close()
    messages, ends = await ledger.read_all(bootstrap, [(name, spec.partitions) for name, spec in topics.all()])
    wanted = {j.encode() for j in job_ids}
    lines = []
    for tp, m in messages:
        if m.key in wanted:
            c = committed.get(tp)
            lines.append(f"{m.key.decode()[:8]} {tp.topic}[{tp.partition}]@{m.offset} "
                         f"committed={c.offset if c else None} end={ends[tp]} {m.value[:90]!r}")
    for tp in sorted(ends):
        c = committed.get(tp)
        if ends[tp] and (c is None or c.offset != ends[tp]):
            lines.append(f"lagging {tp.topic}[{tp.partition}] committed={c.offset if c else None} end={ends[tp]}")
    return "\n".join(sorted(lines))
