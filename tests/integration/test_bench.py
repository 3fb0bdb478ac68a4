"""`planperfect bench all` at a tiny size on the real cluster: every benchmark yields its figures, and the report.

Speed is not asserted here (benchmarks measure it; tests must not depend on the machine's load): only that
each figure is there and positive, that the simulated jobs completed, and that the report and plots are written.
"""

from __future__ import annotations

import pytest

from planperfect.bench.suite import Sizes, run_all
from planperfect.settings import Settings

TINY = Sizes(relay_jobs=200, seed_jobs=40, pipeline_jobs=12, paced_seconds=1.0, slow_latency_ms=50.0, slow_jobs=12,
             slow_timeout=120.0, backlog_jobs=12, backlog_seconds=120.0, scale_jobs=8, scale_counts=(1, 2),
             projection_events=400, intake_requests=60, timeout=120.0)

EXPECTED = {
    "relay": ["jobs_per_s", "messages_per_s"],
    "seed": ["jobs_per_s"],
    "pipeline": ["burst_jobs_per_s", "cpu_ms_per_job", "worker_peak_rss_mb", "paced_rate", "job_p50_ms",
                 "job_p99_ms", "hop_p99_ms"],
    "slow1": ["burst_jobs_per_s", "calls_in_flight_mean", "calls_in_flight_peak", "calls_per_s", "call_jobs_per_s"],
    "slow2": ["burst_jobs_per_s"],
    "backlog": ["worker_peak_rss_mb", "calls_per_s"],
    "scale": ["w1_jobs_per_s", "w2_jobs_per_s", "w2_speedup"],
    "projections": ["live_events_per_s", "rebuild_events_per_s"],
    "intake": ["requests_per_s", "p50_ms", "p99_ms"],
}


@pytest.mark.timeout(240)
async def test_bench_all_at_a_tiny_size_gives_every_figure_and_writes_the_report(infra, tmp_path):
    # Four partitions: eight deployments of the whole catalogue at twelve would be thousands of partitions
    # on a broker that other tests share.
    base = Settings(kafka_bootstrap=infra.kafka_admin, database_url=infra.admin_dsn, partitions=4)  # its own prefixes
    results = await run_all(base, TINY, tmp_path)

    assert set(results) == set(EXPECTED)
    for name, keys in EXPECTED.items():
        for key in keys:
            assert results[name].value(key) > 0, f"{name}: {key} is {results[name].value(key)}"
        assert not [f for f in results[name].figures if "timed out" in f.note], results[name].figures
    pipeline = results["pipeline"]
    assert len(pipeline.samples["job_latency_ms"]) >= 20  # every paced job completed and was timed
    assert pipeline.samples["hop_latency_ms"]

    report = (tmp_path / "benchmarks.md").read_text()
    for heading in ("## Machine", "## Figures", "/ relay, same run", "/ seed, same run", "PostgreSQL"):
        assert heading in report
    for plot in ("benchmarks-scale.png", "benchmarks-latency.png"):
        assert (tmp_path / plot).read_bytes().startswith(b"\x89PNG")
