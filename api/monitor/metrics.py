"""GET /metrics: the monitor's figures in the Prometheus text format, rendered by prometheus_client."""

from __future__ import annotations

from collections import defaultdict

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from api.monitor.figures import COUNTED
from api.monitor.state import OVERVIEW
from api.state import POOL
from projections import monitor_queries as mq
from streams.topics import lane_for

# Handler duration buckets, seconds. Durations are whole milliseconds, so `x <= b` is `x < b + 0.5 ms`:
# the bounds handed to width_bucket (which counts `bound <= x`) are shifted by half a millisecond.
BOUNDS_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

routes = web.RouteTableDef()


class _Snapshot:
    """A collector over figures already read: prometheus_client renders, our queries supply the numbers."""

    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self):
        return iter(self.families)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Counters per stage and lane from the read model; queue length, oldest age and projector lag from Kafka."""
    async with request.app[POOL].acquire() as conn:
        totals = await mq.stage_totals(conn, [b * 1000 + 0.5 for b in BOUNDS_SECONDS])
    ov = await request.app[OVERVIEW].get()
    families = _counters(totals) + [_durations(totals)] + _gauges(ov)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _counters(totals: list[dict]) -> list:
    families = {what: CounterMetricFamily(f"planperfect_stage_{what}", f"Stage attempts {what}, from the read model",
                                          labels=["stage", "lane"]) for what in COUNTED.values()}
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for t in totals:
        counts[(COUNTED[t["type"]], t["stage"], lane_for(t["priority"]).value)] += t["n"]
    for (what, stage, lane), n in sorted(counts.items()):
        families[what].add_metric([stage, lane], n)
    return list(families.values())


def _durations(totals: list[dict]) -> HistogramMetricFamily:
    family = HistogramMetricFamily("planperfect_stage_handler_duration_seconds",
                                   "Duration of stage attempts (completed and failed), from the read model",
                                   labels=["stage", "lane"])
    per: dict[tuple[str, str], list] = defaultdict(lambda: [[0] * (len(BOUNDS_SECONDS) + 1), 0])
    for t in totals:
        if t["bucket"] is None:
            continue  # a retry or dead letter: no duration of its own
        acc = per[(t["stage"], lane_for(t["priority"]).value)]
        acc[0][t["bucket"]] += t["n"]
        acc[1] += t["duration_ms_sum"]
    for (stage, lane), (slots, total_ms) in sorted(per.items()):
        running, buckets = 0, []
        for bound, n in zip((*map(str, BOUNDS_SECONDS), "+Inf"), slots):
            running += n
            buckets.append((bound, running))
        family.add_metric([stage, lane], buckets, total_ms / 1000)
    return family


def _gauges(ov) -> list:
    length = GaugeMetricFamily("planperfect_queue_length", "Messages not yet consumed per stage and lane",
                               labels=["stage", "lane"])
    oldest = GaugeMetricFamily("planperfect_queue_oldest_age_seconds",
                               "Age of the oldest unconsumed message per stage and lane", labels=["stage", "lane"])
    flight = GaugeMetricFamily("planperfect_stage_in_flight", "Attempts running per stage and lane",
                               labels=["stage", "lane"])
    lag = GaugeMetricFamily("planperfect_projector_lag", "Events on the log the projector has not applied yet")
    up = GaugeMetricFamily("planperfect_kafka_up", "1 when Kafka's queue figures could be read")
    for row in ov.stages:
        if row.queue_length is not None:
            length.add_metric([row.stage, row.lane], row.queue_length)
        if row.oldest_msg_age_sec is not None:
            oldest.add_metric([row.stage, row.lane], row.oldest_msg_age_sec)
        flight.add_metric([row.stage, row.lane], row.in_flight)
    if ov.projector_lag is not None:
        lag.add_metric([], ov.projector_lag)
    up.add_metric([], 0 if ov.kafka_error else 1)
    return [length, oldest, flight, lag, up]
