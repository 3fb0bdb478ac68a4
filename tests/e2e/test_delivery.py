"""Delivery guarantees against real processes: retries, dead letters, redrive, time limits, cancellation, poison."""

from __future__ import annotations

import base64
import json
from datetime import datetime


from tests.support import eventually
from streams.access import kafka_options

TERMINAL = ("completed", "dead_lettered", "cancelled")


def job(title: str, **options) -> dict:
    return {
        "job_type": "article",
        "requester_email": "qa@example.com",
        "payload": {"title": title, "keywords": ["retry"], "word_count": 300},
        **options,
    }


async def submit(http, base: str, body: dict) -> str:
    async with http.post(f"{base}/v1/jobs", json=body) as resp:
        assert resp.status == 202, await resp.text()
        return (await resp.json())["job_id"]


async def get(http, url: str) -> dict:
    async with http.get(url) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def stage_status(http, base: str, job_id: str, stage: str) -> str | None:
    """A stage's status, or None while the job is not projected yet."""
    async with http.get(f"{base}/v1/jobs/{job_id}") as resp:
        if resp.status != 200:
            return None
        body = await resp.json()
    return next((s["status"] for s in body["stages"] if s["stage"] == stage), None)


async def wait_status(http, base: str, job_id: str, statuses=TERMINAL, timeout: float = 60, system=None) -> dict:
    async def probe():
        async with http.get(f"{base}/v1/jobs/{job_id}") as resp:
            if resp.status != 200:
                return None
            body = await resp.json()
            return body if body["status"] in statuses else None

    try:
        return await eventually(probe, timeout=timeout, what=f"job {job_id} in {statuses}")
    except AssertionError:
        if system is not None:
            raise AssertionError(system.logs()) from None
        raise


async def events_of(http, base: str, job_id: str) -> list[dict]:
    return (await get(http, f"{base}/v1/jobs/{job_id}/events"))["events"]


def at(e: dict) -> datetime:
    return datetime.fromisoformat(e["occurred_at"])


async def test_transient_failures_retry_with_exponential_backoff(faulty_system):
    base = faulty_system.base_url
    async with faulty_system.http() as http:
        job_id = await submit(http, base, job("Backoff drill [fault:draft:transient:2]", retry_delay_seconds=1, max_attempts=3))
        done = await wait_status(http, base, job_id, system=faulty_system)
        assert done["status"] == "completed"
        events = await events_of(http, base, job_id)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    failed = [e for e in events if e["type"] == "StageFailed"]
    scheduled = [e for e in events if e["type"] == "RetryScheduled"]
    draft_starts = [e for e in events if e["type"] == "StageStarted" and e["stage"] == "draft"]
    assert [e["attempt"] for e in draft_starts] == [1, 2, 3]
    assert len(failed) == 2 and all(f["retryable"] for f in failed)
    for n, (fail, sched, nxt) in enumerate(zip(failed, scheduled, draft_starts[1:]), start=1):
        expected = 1 * 2 ** (n - 1)
        assert expected * 0.9 <= sched["delay_seconds"] <= expected * 1.1
        waited = (at(nxt) - at(fail)).total_seconds()
        assert sched["delay_seconds"] - 0.05 <= waited <= sched["delay_seconds"] + 1.0, (n, waited)
    stage = next(s for s in done["stages"] if s["stage"] == "draft")
    assert stage["attempts"] == 3 and stage["status"] == "completed"


async def test_dead_letter_after_max_attempts_then_redrive_to_completion(faulty_system):
    base = faulty_system.base_url
    async with faulty_system.http() as http:
        job_id = await submit(http, base, job("Flaky outline [fault:outline:transient:2]", retry_delay_seconds=0, max_attempts=2))
        dead = await wait_status(http, base, job_id, system=faulty_system)
        assert dead["status"] == "dead_lettered" and dead["dead_lettered_at"]

        async def letter():
            body = await get(http, f"{base}/v1/dlq?job_id={job_id}")
            return body["dead_letters"]

        letters = await eventually(letter, timeout=30, what="dead letter projected")
        assert letters[0]["attempts"] == 2 and letters[0]["stage"] == "outline" and letters[0]["status"] == "dead"
        shown = await get(http, f"{base}/v1/dlq/{letters[0]['dead_letter_id']}")
        assert shown["original"]["stage"] == "outline" and "injected transient fault" in shown["error"]

        async with http.post(f"{base}/v1/dlq/{letters[0]['dead_letter_id']}/redrive") as resp:
            assert resp.status == 202, await resp.text()
        done = await wait_status(http, base, job_id, statuses=("completed",), system=faulty_system)
        outline = next(s for s in done["stages"] if s["stage"] == "outline")
        assert outline["attempts"] == 3 and outline["status"] == "completed"
        after = await get(http, f"{base}/v1/dlq/{letters[0]['dead_letter_id']}")
        assert after["status"] == "redriven" and after["redriven_at"]
        async with http.post(f"{base}/v1/dlq/{letters[0]['dead_letter_id']}/redrive") as resp:
            assert resp.status == 409
        events = await events_of(http, base, job_id)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events].count("JobCompleted") == 1
    redriven = [e for e in events if e["type"] == "JobRedriven"]
    assert len(redriven) == 1 and redriven[0]["by"] == "key:" + faulty_system.key[3:15] + " (test admin)", redriven


async def test_permanent_error_is_dead_lettered_without_retry(faulty_system):
    base = faulty_system.base_url
    async with faulty_system.http() as http:
        job_id = await submit(http, base, job("Broken research [fault:research:permanent]", max_attempts=5))
        dead = await wait_status(http, base, job_id, system=faulty_system)
        events = await events_of(http, base, job_id)
    assert dead["status"] == "dead_lettered"
    assert [e["type"] for e in events] == ["JobSubmitted", "StageStarted", "StageFailed", "JobDeadLettered"]
    assert events[2]["retryable"] is False and "permanent" in dead["last_error"]


async def test_time_limit_times_out_and_extension_is_recorded(faulty_system):
    base = faulty_system.base_url
    async with faulty_system.http() as http:
        hung = await submit(http, base, job("Hung research [fault:research:hang:30]", visibility_seconds=1, max_attempts=1))
        slow = await submit(http, base, job("Slow research [fault:research:slow:2]", visibility_seconds=1))
        dead = await wait_status(http, base, hung, system=faulty_system)
        assert dead["status"] == "dead_lettered" and "time limit" in dead["last_error"]
        research_hung = next(s for s in dead["stages"] if s["stage"] == "research")
        assert research_hung["last_error"].startswith("timeout:")
        done = await wait_status(http, base, slow, system=faulty_system)
        assert done["status"] == "completed"
        events = await events_of(http, base, slow)
    extended = [e for e in events if e["type"] == "StageExtended"]
    assert len(extended) == 1 and extended[0]["extra_seconds"] == 2 and extended[0]["stage"] == "research"
    research = next(s for s in done["stages"] if s["stage"] == "research")
    assert research["attempts"] == 1


async def test_cancellation_in_each_state(faulty_system):
    base = faulty_system.base_url
    async with faulty_system.http() as http:
        delayed = await submit(http, base, job("Later", delay_seconds=120))
        running = await submit(http, base, job("Stuck [fault:outline:hang:60]"))
        await wait_status(http, base, delayed, statuses=("queued",))

        async def outline_running():
            return await stage_status(http, base, running, "outline") == "running"

        await eventually(outline_running, timeout=30, what="outline running")
        for job_id in (delayed, running):
            async with http.post(f"{base}/v1/jobs/{job_id}/cancel") as resp:
                assert resp.status == 202, await resp.text()
        d = await wait_status(http, base, delayed, statuses=("cancelled",), timeout=30, system=faulty_system)
        r = await wait_status(http, base, running, statuses=("cancelled",), timeout=30, system=faulty_system)
        assert d["dequeued_at"] is None and all(s["status"] in ("pending", "cancelled") for s in d["stages"])
        assert next(s for s in r["stages"] if s["stage"] == "outline")["status"] == "cancelled"
        async with http.post(f"{base}/v1/jobs/{running}/cancel") as resp:
            assert resp.status == 409
        async with http.post(f"{base}/v1/jobs/00000000-0000-4000-8000-000000000000/cancel") as resp:
            assert resp.status == 404
        events = await events_of(http, base, delayed)
        assert [e["type"] for e in events] == ["JobSubmitted", "JobCancelled"]
        # Who asked is on the job's timeline, whether the job waited or its stage was running.
        for job_id in (delayed, running):
            cancelled = (await events_of(http, base, job_id))[-1]
            assert cancelled["type"] == "JobCancelled" and cancelled["by"] == "key:" + faulty_system.key[3:15] + \
                " (test admin)", cancelled


async def test_poison_bytes_are_dead_lettered_and_the_stage_keeps_flowing(faulty_system, infra):
    from aiokafka import AIOKafkaProducer

    from streams.payloads import Stage
    from streams.topics import Lane, Topics

    topic = Topics(faulty_system.prefix).stage(Stage.RESEARCH, Lane.NORMAL)
    producer = AIOKafkaProducer(**kafka_options(infra.bootstrap), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"\x00\x01 not a request", key=b"poison")
    finally:
        await producer.stop()
    base = faulty_system.base_url
    async with faulty_system.http() as http:
        job_id = await submit(http, base, job("After the poison"))
        assert (await wait_status(http, base, job_id, system=faulty_system))["status"] == "completed"

        async def poison_letter():
            body = await get(http, f"{base}/v1/dlq?limit=1000")
            return [d for d in body["dead_letters"] if d["reason"] == "undecodable" and d["source_topic"] == topic]

        letters = await eventually(poison_letter, timeout=30, what="poison dead-lettered")
        shown = await get(http, f"{base}/v1/dlq/{letters[0]['dead_letter_id']}")
    assert base64.b64decode(shown["raw_base64"]) == b"\x00\x01 not a request"


async def test_a_request_the_worker_fails_on_outside_its_stage_dead_letters_its_job_and_the_partition_flows_on(
        faulty_system):
    # The stage succeeds, but its output holds a lone surrogate (a model cut off mid-character), so its outcome cannot
    # be encoded: the error is the worker's own, after the stage's logic, where nothing retries or dead-letters it.
    base = faulty_system.base_url
    async with faulty_system.http() as http:
        job_id = await submit(http, base, job("Cut off mid-character [fault:research:unencodable:1]"))
        dead = await wait_status(http, base, job_id, statuses=("dead_lettered",), system=faulty_system)
        assert dead["last_error"].startswith("unprocessable: PydanticSerializationError"), dead["last_error"]

        async def letter():
            return (await get(http, f"{base}/v1/dlq?job_id={job_id}"))["dead_letters"]

        (listed,) = await eventually(letter, timeout=30, what="dead letter projected")
        shown = await get(http, f"{base}/v1/dlq/{listed['dead_letter_id']}")
        assert shown["reason"] == "unprocessable" and shown["status"] == "dead" and shown["stage"] == "research"
        assert ".stage.research." in shown["source_topic"] and shown["source_offset"] is not None
        kept = json.loads(base64.b64decode(shown["raw_base64"]))  # the request, byte for byte as it was on its topic
        assert kept["type"] == "RequestStage" and kept["job_id"] == job_id and shown["original"]["job_id"] == job_id

        # The redriven request goes to the same partition (same job key), after the one dead-lettered: it runs.
        async with http.post(f"{base}/v1/dlq/{listed['dead_letter_id']}/redrive") as resp:
            assert resp.status == 202, await resp.text()
        done = await wait_status(http, base, job_id, statuses=("completed",), system=faulty_system)
        research = next(s for s in done["stages"] if s["stage"] == "research")
        assert research["attempts"] == 2 and research["status"] == "completed"
        events = await events_of(http, base, job_id)

        async def committed_past_both():  # the dead-lettered request and the redriven one after it
            queues = (await get(http, f"{base}/v1/queues"))["queues"]
            at = next(p["committed"] for q in queues if q["topic"] == shown["source_topic"] and q["kind"] == "stage"
                      for p in q["partitions"] if p["partition"] == shown["source_partition"])
            return at is not None and at > shown["source_offset"] + 1

        await eventually(committed_past_both, timeout=30, what="the partition's offset committed past both")
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events][:5] == ["JobSubmitted", "StageStarted", "JobDeadLettered", "JobRedriven",
                                               "StageStarted"]
