"""`bench all`: every benchmark in one run on one machine, and docs/benchmarks.md with its figures and plots."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from planperfect.bench import plots
from planperfect.bench.deployment import deployment
from planperfect.bench.intake import run_intake
from planperfect.bench.machine import Machine, describe
from planperfect.bench.pipeline import run_pipeline, run_scale
from planperfect.bench.projections import run_projections
from planperfect.bench.relay import run_relay
from planperfect.bench.report import Result, fmt, table
from planperfect.bench.seed import run_seed
from planperfect.settings import Settings


@dataclass(frozen=True)
class Sizes:
    """Defaults that finish in a few minutes on a 2-core machine running broker, database and processes."""

    relay_jobs: int = 5000
    seed_jobs: int = 1000
    pipeline_jobs: int = 1500
    paced_seconds: float = 10.0
    slow_latency_ms: float = 2000.0
    slow_jobs: int = 2000  # four times a worker's default in-flight budget: several waves, a steady flow
    slow_timeout: float = 120.0
    backlog_jobs: int = 20_000  # memory under a backlog far beyond the in-flight budget
    backlog_seconds: float = 45.0  # how long that run lasts: most of the backlog is still waiting then
    scale_jobs: int = 600
    scale_counts: tuple[int, ...] = (1, 2, 4)
    projection_events: int = 50_000
    intake_requests: int = 3000
    timeout: float = 300.0

    def scaled(self, factor: float) -> Sizes:
        """Every count times `factor` (at least 10 of each): for a faster or a slower machine."""
        counts = ("relay_jobs", "seed_jobs", "pipeline_jobs", "slow_jobs", "backlog_jobs", "scale_jobs",
                  "projection_events", "intake_requests")
        return replace(self, **{name: max(10, int(getattr(self, name) * factor)) for name in counts})


async def run_all(base: Settings, sizes: Sizes, docs: Path) -> dict[str, Result]:
    async def relay() -> Result:
        async with deployment(base, "relay", catalogue=False) as dep:
            return await run_relay(dep.settings.kafka(), dep.settings.topic_prefix, jobs=sizes.relay_jobs)

    async def seed() -> Result:
        async with deployment(base, "seed", catalogue=False) as dep:
            return await run_seed(dep.settings.database(), jobs=sizes.seed_jobs)

    def slow(workers: int) -> Callable[[], Awaitable[Result]]:
        return lambda: run_pipeline(base, jobs=sizes.slow_jobs, workers=workers, latency_ms=sizes.slow_latency_ms,
                                    paced_seconds=0, timeout=sizes.slow_timeout)

    steps: list[tuple[str, Callable[[], Awaitable[Result]]]] = [
        ("relay", relay),
        ("seed", seed),
        ("pipeline", lambda: run_pipeline(base, jobs=sizes.pipeline_jobs, paced_seconds=sizes.paced_seconds,
                                          timeout=sizes.timeout)),
        ("slow1", slow(1)),
        ("slow2", slow(2)),
        ("backlog", lambda: run_pipeline(base, jobs=sizes.backlog_jobs, latency_ms=sizes.slow_latency_ms,
                                         paced_seconds=0, timeout=sizes.backlog_seconds)),
        ("scale", lambda: run_scale(base, jobs=sizes.scale_jobs, counts=sizes.scale_counts, timeout=sizes.timeout,
                                    echo=_say)),
        ("projections", lambda: run_projections(base, events=sizes.projection_events, echo=_say)),
        ("intake", lambda: run_intake(base, requests=sizes.intake_requests)),
    ]
    results: dict[str, Result] = {}
    began = time.monotonic()
    for i, (name, step) in enumerate(steps, start=1):
        _say(f"== bench all: step {i}/{len(steps)}: {name} ({time.monotonic() - began:.0f}s so far)")
        results[name] = await step()
        print(table(results[name]) + "\n", flush=True)
    machine = await describe(base.database())
    write_report(docs, results, machine, sizes, time.monotonic() - began)
    return results


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _revision() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "an unknown revision"
    return f"commit {sha}" + (" with uncommitted changes" if dirty else "")


def _get(result: Result, key: str) -> float | None:
    return result.value(key) if result.has(key) else None


def _work(result: Result) -> float:
    return _get(result, "call_jobs_per_s") or result.value("burst_jobs_per_s")


def _verdict(value: float | None, target: float, higher: bool = True) -> str:
    if value is None:
        return "not measured"
    return "met" if (value >= target if higher else value <= target) else "**not met**"


def figure_rows(r: dict[str, Result], sizes: Sizes) -> list[tuple[str, str, str, str]]:
    """(workload, figure, target, verdict) for the table of docs/benchmarks.md."""
    relay, seed, pipe = r["relay"].value("jobs_per_s"), r["seed"].value("jobs_per_s"), r["pipeline"]
    burst = pipe.value("burst_jobs_per_s")
    slow1, slow2 = r["slow1"], r["slow2"]
    # Jobs/s of work (provider calls/s over the three calls of a job): a steady figure, where a burst's own
    # rate also pays once for the pipeline's fill (3 calls x the latency before the first job can finish).
    slow_rate, slow2_rate = _work(slow1), _work(slow2)
    in_flight = _get(slow1, "calls_in_flight_mean")
    ms = f"{sizes.slow_latency_ms:,.0f} ms"
    rows = [
        ("raw aiokafka 6-hop relay (the limit)", f"{fmt(relay)} jobs/s", "", ""),
        ("seed design: PostgreSQL queue per stage", f"{fmt(seed)} jobs/s", "", ""),
        ("PlanPerfect, simulated 0 ms, burst", f"{fmt(burst)} jobs/s", "", ""),
        ("  / relay, same run", f"{100 * burst / relay:.1f}%", ">= 20%", _verdict(burst / relay, 0.2)),
        ("  / seed, same run", f"{burst / seed:.2f}x", ">= 5x", _verdict(burst / seed, 5)),
        ("  worker CPU per job", f"{fmt(pipe.value('cpu_ms_per_job'))} ms", "", ""),
        ("  hop latency p50 / p99 at half rate", f"{fmt(pipe.value('hop_p50_ms'))} / {fmt(pipe.value('hop_p99_ms'))} ms",
         "p50 <= 5 ms", _verdict(pipe.value("hop_p50_ms"), 5, higher=False)),
        ("  article pipeline p50 / p99 at half rate",
         f"{fmt(pipe.value('job_p50_ms'))} / {fmt(pipe.value('job_p99_ms'))} ms", "p50 <= 60 ms",
         _verdict(pipe.value("job_p50_ms"), 60, higher=False)),
        (f"PlanPerfect, simulated {ms} per call, 1 worker, {sizes.slow_jobs:,} jobs",
         f"{fmt(slow_rate)} jobs/s of work ({fmt(_get(slow1, 'calls_per_s') or 0)} calls/s); "
         f"{fmt(slow1.value('burst_jobs_per_s'))} jobs/s completed, fill included", ">= 100 jobs/s",
         _verdict(slow_rate, 100)),
        ("  provider calls in flight (mean / peak)",
         f"{fmt(in_flight or 0)} / {fmt(_get(slow1, 'calls_in_flight_peak') or 0)}", ">= 1,000",
         _verdict(in_flight, 1000)),
        ("  worker CPU per job", f"{fmt(slow1.value('cpu_ms_per_job'))} ms", "<= 3 ms",
         _verdict(slow1.value("cpu_ms_per_job"), 3, higher=False)),
        (f"  worker peak RSS under a {sizes.backlog_jobs:,}-job backlog ({sizes.backlog_seconds:.0f} s)",
         f"{fmt(r['backlog'].value('worker_peak_rss_mb'))} MB (calls {fmt(_get(r['backlog'], 'calls_per_s') or 0)}/s)",
         "bounded", ""),
        (f"  2 workers, {ms} per call", f"{fmt(slow2_rate)} jobs/s of work ({slow2_rate / max(slow_rate, 1e-9):.2f}x one)",
         ">= 1.8x", _verdict(slow2_rate / max(slow_rate, 1e-9), 1.8)),
    ]
    scale = r["scale"]
    for n in (int(w) for w in scale.samples["workers"]):
        rows.append((f"scale, 0 ms: {n} worker process(es)", f"{fmt(scale.value(f'w{n}_jobs_per_s'))} jobs/s", "", ""))
    proj, intake = r["projections"], r["intake"]
    rows += [
        ("projector, live", f"{fmt(proj.value('live_events_per_s'))} events/s", ">= 10,000",
         _verdict(proj.value("live_events_per_s"), 10_000)),
        (f"rebuild ({sizes.projection_events:,}+ events; target is over 1,000,000)",
         f"{fmt(proj.value('rebuild_events_per_s'))} events/s", ">= 20,000",
         _verdict(proj.value("rebuild_events_per_s"), 20_000)),
        ("intake, POST /v1/jobs (acks=all)", f"{fmt(intake.value('requests_per_s'))} req/s", ">= 3,000",
         _verdict(intake.value("requests_per_s"), 3000)),
    ]
    return rows


def write_report(docs: Path, r: dict[str, Result], machine: Machine, sizes: Sizes, seconds: float) -> Path:
    docs.mkdir(parents=True, exist_ok=True)
    scale = r["scale"]
    revision = _revision()  # before the plots are written: they would make every run look uncommitted
    plots.scale_plot(docs / "benchmarks-scale.png", {
        "simulated, 0 ms per call (burst)": (scale.samples["workers"], scale.samples["jobs_per_s"]),
        f"simulated, {sizes.slow_latency_ms:,.0f} ms per call (jobs/s of work)": (
            [1.0, 2.0], [_work(r["slow1"]), _work(r["slow2"])]),
    })
    plots.latency_cdf_plot(docs / "benchmarks-latency.png", {
        "article pipeline (JobSubmitted -> JobCompleted)": r["pipeline"].samples.get("job_latency_ms", []),
        "hop (request written -> StageStarted)": r["pipeline"].samples.get("hop_latency_ms", []),
    })
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `planperfect bench all` on {when} at {revision}, in one run of {seconds / 60:.1f} minutes: "
        "every ratio below compares figures taken side by side on the same machine, minutes apart. "
        "The broker, PostgreSQL, the processes under test and the benchmark's own client all share the machine, "
        "so absolute figures move from run to run; the ratios move less.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine.rows()),
        "",
        "## Figures",
        "",
        "| workload | measured | target | |",
        "|---|---|---|---|",
        *(f"| {w} | {f} | {t} | {v} |" for w, f, t, v in figure_rows(r, sizes)),
        "",
        "![Throughput by worker processes](benchmarks-scale.png)",
        "",
        "![Latency CDF](benchmarks-latency.png)",
        "",
        "## Each benchmark",
        "",
    ]
    for name, result in r.items():
        lines += [f"### `{name}`", "", "```", table(result), "```", ""]
    lines += [
        "## How to run",
        "",
        "`planperfect bench all` (this page), or one benchmark at a time: `planperfect bench relay | seed | pipeline "
        "| projections | intake | scale`, each with `--help` for its sizes. Every run makes its own database and "
        "topic prefix on the configured cluster (`PLANPERFECT_KAFKA_BOOTSTRAP`, `PLANPERFECT_DATABASE_URL`), or on "
        "the local stack when neither is set, and removes them afterwards.",
        "",
    ]
    path = docs / "benchmarks.md"
    path.write_text("\n".join(lines))
    _say(f"bench all: wrote {path} and its plots")
    return path
