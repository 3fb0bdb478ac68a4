"""The chaos schedule: the plan's blows, each kind counted, at random points of the run, the same for one seed."""

from __future__ import annotations

from collections import Counter

import pytest

from planperfect.chaos.schedule import STACK_SPACING_S, Blow, Plan, schedule, shares


def test_every_blow_of_the_plan_lands_once_in_time_order_within_the_run():
    plan = Plan(kills=100, broker_restarts=3, outage_seconds=30, duration=600, seed=7)
    moments = schedule(plan)
    kinds = Counter(m.blow for m in moments)
    assert kinds[Blow.POSTGRES] == 1 and kinds[Blow.BROKER] == 3
    assert (kinds[Blow.WORKER], kinds[Blow.PROJECTOR], kinds[Blow.API]) == (60, 20, 20)  # 3:1:1
    assert [m.at for m in moments] == sorted(m.at for m in moments)
    assert all(0 < m.at < plan.duration for m in moments)


def test_the_outage_falls_in_the_middle_half_and_broker_restarts_keep_away_from_it():
    for seed in range(20):
        moments = schedule(Plan(kills=10, broker_restarts=3, outage_seconds=30, duration=600, seed=seed))
        outage = next(m.at for m in moments if m.blow is Blow.POSTGRES)
        assert 150 <= outage and outage + 30 <= 450
        for broker in (m.at for m in moments if m.blow is Blow.BROKER):
            assert broker < outage - STACK_SPACING_S or broker > outage + 30 + STACK_SPACING_S


def test_one_seed_one_schedule_another_seed_another():
    assert schedule(Plan(seed=1)) == schedule(Plan(seed=1))
    assert schedule(Plan(seed=1)) != schedule(Plan(seed=2))


def test_kinds_can_be_left_out_and_nothing_planned_is_nothing_done():
    only_workers = schedule(Plan(kills=20, broker_restarts=0, outage_seconds=0, weights=((Blow.WORKER, 1),)))
    assert {m.blow for m in only_workers} == {Blow.WORKER} and len(only_workers) == 20
    assert schedule(Plan(kills=0, broker_restarts=0, outage_seconds=0)) == []


def test_a_plan_that_cannot_run_says_so():
    with pytest.raises(ValueError):
        Plan(kills=-1)
    with pytest.raises(ValueError):
        Plan(duration=0)
    with pytest.raises(ValueError):
        Plan(kills=5, weights=((Blow.WORKER, 0),))


def test_kills_are_shared_by_weight_and_a_short_run_kills_every_kind():
    assert Counter(shares(7, ((Blow.WORKER, 3), (Blow.PROJECTOR, 1), (Blow.API, 1)))) == {
        Blow.WORKER: 4, Blow.PROJECTOR: 2, Blow.API: 1}  # 4.2, 1.4, 1.4: the first largest remainder takes the 7th
    assert Counter(shares(6, ((Blow.WORKER, 1), (Blow.PROJECTOR, 1), (Blow.API, 1)))) == {
        Blow.WORKER: 2, Blow.PROJECTOR: 2, Blow.API: 2}
    assert shares(0, ((Blow.WORKER, 1),)) == []
