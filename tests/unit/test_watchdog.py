"""The fetch watchdog trips only on lag with no delivery and nothing in flight, several checks in a row."""

from agents.watchdog import FetchWatchdog


def test_trips_after_patience_checks_of_lag_without_any_delivery():
    w = FetchWatchdog(patience=3)
    lag, delivered = {"a": 4}, {"a": None}
    results = [w.check(lag, delivered, 0) for _ in range(4)]
    assert results == [False, False, False, True]  # the first check only records what was delivered


def test_delivery_lag_gone_or_work_in_flight_keep_it_quiet():
    w = FetchWatchdog(patience=2)
    assert not w.check({"a": 4}, {"a": 1}, 0)
    assert not w.check({"a": 4}, {"a": 2}, 0)   # delivering: progress
    assert not w.check({"a": 4}, {"a": 2}, 3)   # messages in flight: busy, not wedged
    assert not w.check({"a": 0}, {"a": 2}, 0)   # nothing waiting: idle, not wedged
    assert not w.check({"a": 0}, {"a": 2}, 0)
    w.reset()
    assert not w.check({"a": 4}, {"a": 2}, 0)
