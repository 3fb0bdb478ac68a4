"""`bench pipeline` and `bench scale`: PlanPerfect's own worker and projector processes, simulated provider.

Burst: N article jobs written to the log at once, jobs/s until the last completes. Paced: jobs at half that rate,
each job's latency (JobSubmitted -> JobCompleted) and each hop's (stage request written -> StageStarted), all
from the records' own Kafka timestamps. Worker CPU per job comes from /proc/<pid>/stat of the worker processes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from aiokafka import AIOKafkaProducer

from planperfect.bench.deployment import Deployment, deployment
from planperfect.bench.observe import LogWatch, cpu_seconds, peak_rss_mb, wait_for_members, watch
from planperfect.bench.report import Progress, Result, percentile
from planperfect.settings import Settings
from streams.codec import encode, key_for
from streams.envelope import event_id_for
from streams.events import JobSubmitted
from streams.payloads import PIPELINES, Brief, JobType
from streams.access import kafka_options

WARM_UP_JOBS_PER_WORKER = 4
CALLS_PER_JOB = 3  # research, outline and draft call the provider; qa, export and complete do not
BENCH_WORDS = 300  # a short article: the provider's answers stay small, QA and export still do their work


def article(n: int) -> tuple[bytes, bytes]:
    """(key, JobSubmitted bytes) of one article job, built as the intake builds it."""
    job_id = uuid.uuid4()
    event = JobSubmitted(
        event_id=event_id_for(job_id, 1), job_id=job_id, sequence=1, occurred_at=datetime.now(timezone.utc),
        correlation_id=job_id, job_type=JobType.ARTICLE, requester_email="bench@example.com",
        brief=Brief(title=f"Benchmark article {n:07d} on queues", keywords=["queues"], word_count=BENCH_WORDS),
        initial_stage=PIPELINES[JobType.ARTICLE][0], priority=5, delay_seconds=0, max_attempts=3,
        retry_delay_seconds=5, visibility_seconds=600,
    )
    return key_for(job_id), encode(event)


class Run:
    """One deployment's workers and projector, the log watcher, and a producer writing submissions."""

    def __init__(self, dep: Deployment, workers: int, latency_ms: float, p99_ms: float) -> None:
        self.dep = dep
        self.topics = dep.settings.topics()
        env = {"PLANPERFECT_PROVIDER": "simulated", "PLANPERFECT_SIMULATED_LATENCY_MS": str(latency_ms),
               "PLANPERFECT_SIMULATED_LATENCY_P99_MS": str(p99_ms)}
        self.workers = [dep.start("worker", **env, PLANPERFECT_DATA_DIR=str(dep.settings.data_dir / f"worker{i}"))
                        for i in range(workers)]
        dep.start("projector")
        self.log = LogWatch()
        self._stop = asyncio.Event()
        self._watch: asyncio.Task | None = None
        self.producer = AIOKafkaProducer(**kafka_options(dep.settings.kafka()), acks="all", enable_idempotence=True,
                                         linger_ms=5, max_batch_size=1 << 20)
        self.notes: list[str] = []

    async def __aenter__(self) -> Run:
        await self.producer.start()
        self._watch = asyncio.create_task(watch(self.dep.settings.kafka(), self.topics, self.log, self._stop))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._watch is not None:
            await asyncio.gather(self._watch, return_exceptions=True)
        await self.producer.stop()

    async def send(self, jobs: list[tuple[bytes, bytes]]) -> None:
        sent = [await self.producer.send(self.topics.job_events, value, key=key) for key, value in jobs]
        await asyncio.gather(*sent)

    async def wait(self, keys: list[bytes], timeout: float, progress: Progress | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while (done := self.log.done(keys)) < len(keys):
            if self._watch is not None and self._watch.done():
                self._watch.result()
            self.dep.check_alive()
            if progress:
                progress.update(done, f"in flight {len(keys) - done:,}, failures {self.log.failures}")
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        if progress:
            progress.update(done)
        return True

    async def warm_up(self, progress: Progress) -> None:
        """Workers joined and every stage served once, so that start-up is not in the figures."""
        n = WARM_UP_JOBS_PER_WORKER * len(self.workers)
        jobs = [article(i) for i in range(n)]
        progress.say(f"starting {len(self.workers)} worker(s), warming up with {n} jobs")
        await self.send(jobs)
        if not await self.wait([k for k, _ in jobs], timeout=240):
            raise TimeoutError(f"warm-up jobs did not complete in 240 s (logs in {self.dep.log_dir})")
        if len(self.workers) > 1:
            group = self.topics.group("workers")
            if not await wait_for_members(self.dep.settings.kafka(), group, len(self.workers), timeout=60):
                self.notes.append(f"could not confirm that group {group} settled with {len(self.workers)} members")

    def cpu(self) -> float:
        return sum(cpu_seconds(w.pid) for w in self.workers)


async def burst(run: Run, jobs: int, timeout: float, result: Result, prefix: str = "") -> float:
    """Writes `jobs` jobs at once and adds the burst figures; returns jobs/s."""
    batch = [article(i) for i in range(jobs)]
    keys = [k for k, _ in batch]
    progress = Progress(f"{prefix}burst", jobs)
    cpu0, stages0 = run.cpu(), run.log.stages_completed
    began_ms = time.time() * 1000
    await run.send(batch)
    finished = await run.wait(keys, timeout, progress)
    progress.close()
    cpu, stages = run.cpu() - cpu0, run.log.stages_completed - stages0
    done = run.log.done(keys)
    ends = sorted(run.log.completed[k] for k in keys if k in run.log.completed)
    elapsed_s = ((ends[-1] if finished else time.time() * 1000) - began_ms) / 1000
    rate = done / max(elapsed_s, 1e-6)
    workers = len(run.workers)
    result.add(f"{prefix}burst_jobs_per_s", f"burst: jobs/s ({jobs:,} jobs, {workers} worker process(es))", rate,
               "jobs/s", "" if finished else f"timed out after {timeout:.0f}s: {done} of {jobs} done")
    if run.log.calls:
        peak, mean = run.log.calls_in_flight(int(began_ms), max(at for at, _ in run.log.calls))
        result.add(f"{prefix}calls_in_flight_mean", "provider-stage attempts in flight, mean from burst to last call",
                   mean, "calls")
        result.add(f"{prefix}calls_in_flight_peak", "provider-stage attempts in flight, peak", peak, "calls")
        calls, last = run.log.calls_completed(int(began_ms))
        if calls and last > began_ms:
            per_s = calls / ((last - began_ms) / 1000)
            result.add(f"{prefix}calls_per_s", "provider calls completed/s (burst to last call)", per_s, "calls/s")
            result.add(f"{prefix}call_jobs_per_s", f"  the same as jobs/s of work ({CALLS_PER_JOB} calls per job)",
                       per_s / CALLS_PER_JOB, "jobs/s")
    # Per job of work done (six stage completions), so that a run cut short by its timeout still says it right.
    work = stages / len(PIPELINES[JobType.ARTICLE])
    result.add(f"{prefix}cpu_ms_per_job", "worker CPU per job (user + system, per 6 stages completed)",
               1000 * cpu / max(work, 1), "ms/job")
    result.add(f"{prefix}worker_peak_rss_mb", "worker peak RSS (largest process)",
               max(peak_rss_mb(w.pid) for w in run.workers), "MB")
    return rate


async def paced(run: Run, rate: float, seconds: float, timeout: float, result: Result) -> None:
    """Jobs at `rate` per second for `seconds`: latency of the whole pipeline and of each hop."""
    count = max(20, int(rate * seconds))
    batch = [article(i) for i in range(count)]
    keys = [k for k, _ in batch]
    progress = Progress(f"paced at {rate:,.1f} jobs/s", count)
    began = time.monotonic()
    pending = []
    for i, (key, value) in enumerate(batch):
        delay = began + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the submissions: this is the load's schedule, not a wait for state
        pending.append(await run.producer.send(run.topics.job_events, value, key=key))
        progress.update(run.log.done(keys))
    await asyncio.gather(*pending)
    finished = await run.wait(keys, timeout, progress)
    progress.close()
    latencies = run.log.job_latencies_ms(keys)
    hops = run.log.hop_latencies_ms(keys)
    every_hop = [v for values in hops.values() for v in values]
    result.samples["job_latency_ms"] = latencies
    result.samples["hop_latency_ms"] = every_hop
    note = "" if finished else f"timed out: {run.log.done(keys)} of {count} done"
    result.add("paced_rate", f"paced: submitted at (half the burst rate), {count:,} jobs", rate, "jobs/s", note)
    result.add("job_p50_ms", "paced: article pipeline latency p50 (JobSubmitted -> JobCompleted)",
               percentile(latencies, 0.5), "ms")
    result.add("job_p99_ms", "paced: article pipeline latency p99", percentile(latencies, 0.99), "ms")
    result.add("hop_p50_ms", "paced: hop latency p50 (request written -> StageStarted)", percentile(every_hop, 0.5), "ms")
    result.add("hop_p99_ms", "paced: hop latency p99", percentile(every_hop, 0.99), "ms")
    result.notes.append("hop p50 per stage: " + ", ".join(
        f"{stage} {percentile(values, 0.5):.0f} ms" for stage, values in hops.items()))


async def run_pipeline(base: Settings, *, jobs: int, workers: int = 1, latency_ms: float = 0.0, p99_ms: float = 0.0,
                       paced_seconds: float = 10.0, timeout: float = 300.0) -> Result:
    title = f"pipeline: PlanPerfect, simulated provider ({latency_ms:g} ms median per call)"
    result = Result(title)
    async with deployment(base, "pipeline") as dep, Run(dep, workers, latency_ms, p99_ms) as run:
        await run.warm_up(Progress("pipeline", jobs))
        rate = await burst(run, jobs, timeout, result)
        if paced_seconds > 0:
            await paced(run, max(1.0, rate / 2), paced_seconds, timeout, result)
        result.notes += run.notes
    result.notes.append(f"article jobs of {BENCH_WORDS} words; the provider is called by research, outline and draft "
                        "(3 calls per job); qa, export and complete do their own work")
    return result


async def run_scale(base: Settings, *, jobs: int, counts: tuple[int, ...] = (1, 2, 4), latency_ms: float = 0.0,
                    timeout: float = 300.0, echo: Callable[[str], None] = lambda _: None) -> Result:
    result = Result(f"scale: burst jobs/s by worker processes ({latency_ms:g} ms per call)")
    rates: list[float] = []
    for n in counts:
        part = Result(f"{n} worker(s)")
        async with deployment(base, f"scale{n}") as dep, Run(dep, n, latency_ms, 0.0) as run:
            await run.warm_up(Progress(f"scale {n}", jobs))
            rates.append(await burst(run, jobs, timeout, part, prefix=f"w{n}_"))
            result.notes += run.notes
        result.add(f"w{n}_jobs_per_s", f"{n} worker process(es): burst jobs/s ({jobs:,} jobs)", rates[-1], "jobs/s",
                   part.figures[0].note)
        result.add(f"w{n}_cpu_ms_per_job", f"{n} worker process(es): worker CPU per job",
                   part.value(f"w{n}_cpu_ms_per_job"), "ms/job")
        echo(f"scale: {n} worker(s) {rates[-1]:,.1f} jobs/s")
    if len(rates) > 1 and rates[0] > 0:
        for n, rate in zip(counts[1:], rates[1:]):
            result.add(f"w{n}_speedup", f"{n} worker processes / 1", rate / rates[0], "x")
    result.samples["workers"] = [float(n) for n in counts]
    result.samples["jobs_per_s"] = rates
    return result
