"""The outage policies: capped exponential backoff, the crash-loop limit, outages waited out, one log line per change."""

import logging

from planperfect.resilience import EXIT_CONFIG, Backoff, Exit, OutageLog, RepeatedLines, RestartPolicy


def test_backoff_doubles_from_the_first_failure_and_stops_at_the_cap():
    b = Backoff(initial=1, factor=2, cap=10)
    assert [b.delay(n) for n in range(0, 7)] == [0, 1, 2, 4, 8, 10, 10]


def test_restarts_back_off_with_recent_crashes_and_give_up_at_the_limit():
    p = RestartPolicy(limit=3, window=60, backoff=Backoff(initial=1, cap=30))
    first = p.decide([Exit(100.0)], now=100.0)
    assert not first.give_up and first.delay == 1
    assert p.decide([Exit(100.0), Exit(110.0)], now=110.0).delay == 2
    final = p.decide([Exit(100.0), Exit(110.0), Exit(120.0)], now=120.0)
    assert final.give_up and final.recent_crashes == 3


def test_crashes_older_than_the_window_are_forgiven():
    p = RestartPolicy(limit=3, window=60)
    d = p.decide([Exit(0.0), Exit(10.0), Exit(100.0)], now=100.0)  # the first two left the window
    assert not d.give_up and d.recent_crashes == 1 and d.delay == 1


def test_exits_during_an_outage_never_give_up_and_back_off_to_the_cap():
    p = RestartPolicy(limit=3, window=60, backoff=Backoff(initial=1, cap=30))
    exits = [Exit(float(t), outage=True) for t in range(0, 40, 2)]  # 20 exits in 40 s, Kafka down each time
    d = p.decide(exits, now=40.0)
    assert not d.give_up and d.delay == 30 and d.recent_crashes == 0


def test_after_an_outage_a_crash_backs_off_by_crashes_only():
    p = RestartPolicy(limit=2, window=60)
    exits = [Exit(0.0, outage=True), Exit(5.0, outage=True), Exit(9.0)]
    d = p.decide(exits, now=9.0)
    assert not d.give_up and d.delay == 1
    assert p.decide([*exits, Exit(12.0)], now=12.0).give_up



def test_a_configuration_error_gives_up_at_the_first_exit_even_during_an_outage():
    p = RestartPolicy(limit=5, window=60)
    for exits in ([Exit(5.0, code=EXIT_CONFIG)], [Exit(1.0, outage=True), Exit(5.0, outage=True, code=EXIT_CONFIG)]):
        d = p.decide(exits, now=5.0)
        assert d.give_up and d.misconfigured, exits
    for code in (1, 70, -9, None):  # any other exit is a crash, restarted until the limit
        d = p.decide([Exit(5.0, code=code)], now=5.0)
        assert not d.give_up and not d.misconfigured and d.delay == 1, code


def test_an_outage_logs_once_when_it_starts_and_once_when_it_ends():
    o = OutageLog("projector")
    lines = [o.failed("PostgreSQL", "connection refused", now=t) for t in (10.0, 11.0, 13.0, 17.0)]
    assert lines[0] == "projector: PostgreSQL unavailable (connection refused); retrying with backoff"
    assert lines[1:] == [None, None, None]
    assert o.recovered(now=33.0) == "projector: PostgreSQL back after 23 s"
    assert o.recovered(now=34.0) is None


def test_a_second_dependency_failing_is_a_change_of_state_too():
    o = OutageLog("projector")
    assert o.failed("Kafka", "connection refused", now=0.0) is not None
    assert o.failed("PostgreSQL", "connection refused", now=5.0) is not None
    assert o.recovered(now=9.0) == "projector: PostgreSQL back after 9 s"


def test_a_library_line_repeated_during_an_outage_is_shown_once_per_period_with_a_count():
    now = [0.0]
    f = RepeatedLines(every=30, clock=lambda: now[0])

    def line(name: str, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, ("node 1",), None)

    shown = []
    for t in range(0, 65, 1):  # once a second for 65 s
        now[0] = float(t)
        record = line("aiokafka", "Unable connect to %s")
        if f.filter(record):
            shown.append(record.getMessage())
    assert shown == ["Unable connect to node 1",
                     "Unable connect to node 1 [and 29 more like this in the last 30 s]",
                     "Unable connect to node 1 [and 29 more like this in the last 30 s]"]
    assert f.filter(line("aiokafka", "another template %s"))
    assert all(f.filter(line("planperfect.projector", "ours %s")) for _ in range(5))
