"""`planperfect submit --wait`, `status` and `dlq list` against a real running system (fault injection on)."""

from __future__ import annotations

import asyncio
import json
import os
import sys


from streams.payloads import PIPELINES, JobType
from tests.support import cli

WAIT = 120  # a --wait that never ends fails the test here


def _submitted(out: str) -> str:
    """The job id from the JSON `submit` prints first."""
    return json.loads(out[: out.index("\n}") + 2])["job_id"]


async def test_submit_wait_follows_a_job_with_a_retry_to_completion(faulty_system):
    code, out, err = await cli("submit", "Flaky outline drill [fault:outline:transient:1]", "-k", "drill",
                               "--word-count", "300", "--retry-delay", "0", "--max-attempts", "3", "--priority", "8",
                               "--wait", env=faulty_system.env, timeout=WAIT)
    assert code == 0, f"{out}\n{err}\n{faulty_system.logs()}"
    job_id = _submitted(out)
    lines = out[out.index("\n}") + 2:].strip().splitlines()
    completed = [ln.split()[0] for ln in lines if ln.split()[1:2] == ["completed"]]
    assert completed == [s.value for s in PIPELINES[JobType.ARTICLE]], lines
    failed = [ln for ln in lines if "FAILED" in ln]
    assert len(failed) == 1 and "outline" in failed[0] and "will retry" in failed[0] and "injected" in failed[0], lines
    assert lines[-1] == f"job {job_id} completed"
    async with faulty_system.http() as http:  # an Idempotency-Key was sent though none was given: a retry is safe
        async with http.get(f"{faulty_system.base_url}/v1/jobs/{job_id}") as resp:
            assert "cli-" in ((await resp.json())["idempotency_key"] or ""), await resp.text()

    code, out, err = await cli("status", job_id, env=faulty_system.env)
    assert code == 0, err
    assert "last error (retried): " in out and "injected transient fault" in out, out


async def test_submit_wait_exits_non_zero_on_a_dead_letter_and_status_says_why(faulty_system):
    code, out, err = await cli("submit", "Broken research drill [fault:research:permanent]", "--max-attempts", "2",
                               "--wait", env=faulty_system.env, timeout=WAIT)
    assert code == 1, f"{out}\n{err}"
    job_id = _submitted(out)
    assert "DEAD-LETTERED at research" in out and "injected permanent fault" in out, out
    assert out.strip().splitlines()[-1] == f"job {job_id} dead_lettered"

    code, out, err = await cli("status", job_id, env=faulty_system.env)
    assert code == 0, err
    research = out[out.index("research"):]
    assert "error: " in research and "injected permanent fault" in research, out
    assert "why dead_lettered: " in out, out

    async with faulty_system.http() as http:
        async with http.get(f"{faulty_system.base_url}/v1/dlq?job_id={job_id}") as resp:
            reason = (await resp.json())["dead_letters"][0]["reason"]
    code, out, err = await cli("dlq", "list", "--job", job_id, env=faulty_system.env)
    assert code == 0, err
    assert " ".join(reason.split()) in out, f"not a terminal: the whole reason ({reason!r}) is printed:\n{out}"


async def test_submit_wait_exits_non_zero_when_the_job_is_cancelled(faulty_system):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "planperfect.cli", "submit", "Cancelled later", "--delay", "600", "--wait",
        env={**os.environ, **faulty_system.env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        head = b""
        while not head.endswith(b"}\n"):  # the acknowledgement, printed before following starts
            head += await asyncio.wait_for(proc.stdout.readline(), WAIT)
        job_id = json.loads(head)["job_id"]
        code, _, err = await cli("cancel", job_id, env=faulty_system.env)
        assert code == 0, err
        out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 1, err.decode()
    text = out.decode()
    assert "starts in 600 s" in text and "CANCELLED" in text, text
    assert text.strip().splitlines()[-1] == f"job {job_id} cancelled"
