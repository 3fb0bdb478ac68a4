"""The chaos verdict: lost and duplicated, judged on a log built with the agents' own transitions, and the stall."""

from __future__ import annotations

import uuid
from datetime import timedelta

from planperfect.bench.eventlog import T0, job_events
from planperfect.chaos.intake import Intake
from planperfect.chaos.verdict import ReadModel, judge, longest_stall


async def _log(n: int = 3) -> tuple[list, list[str]]:
    events = await job_events(n)
    return events, sorted({str(e.job_id) for e in events})


def _model(ids, status: str = "completed", **flags) -> ReadModel:
    return ReadModel(statuses={j: status for j in ids}, **flags)


async def test_a_clean_log_with_redeliveries_passes():
    events, ids = await _log()
    redelivered = events + events[3:7]  # the same facts delivered twice: same ids, same sequences
    verdict = judge(redelivered, ids, _model(ids))
    assert verdict.ok and verdict.lost == [] and verdict.duplicated_jobs == set()
    assert (verdict.accepted, verdict.completed, verdict.dead_lettered, verdict.unacknowledged) == (3, 3, 0, 0)
    assert len(verdict.ended_at) == 3


async def test_a_stage_completed_by_a_second_event_is_a_duplicate():
    events, ids = await _log()
    done = next(e for e in events if e.type == "StageCompleted")
    last = max(e.sequence for e in events if e.job_id == done.job_id)
    again = done.model_copy(update={"event_id": uuid.uuid4(), "sequence": last + 1})
    verdict = judge(events + [again], ids, _model(ids))
    assert verdict.stage_completed_twice == [(str(done.job_id), done.stage.value)]
    assert verdict.duplicated_jobs == {str(done.job_id)} and not verdict.ok


async def test_two_different_events_at_one_sequence_and_a_job_ended_twice_are_duplicates():
    events, ids = await _log()
    started = next(e for e in events if e.type == "StageStarted")
    ending = next(e for e in events if e.type == "JobCompleted" and e.job_id != started.job_id)
    other = [started.model_copy(update={"event_id": uuid.uuid4()}),
             ending.model_copy(update={"event_id": uuid.uuid4()})]
    verdict = judge(events + other, ids, _model(ids))
    assert verdict.two_facts_one_place == sorted([(str(started.job_id), started.sequence),
                                                  (str(ending.job_id), ending.sequence)])
    assert verdict.ended_twice == [str(ending.job_id)]
    assert verdict.duplicated_jobs == {str(started.job_id), str(ending.job_id)}


async def test_an_accepted_job_is_lost_without_an_ending_on_the_log_or_a_terminal_row():
    events, ids = await _log()
    nowhere = str(uuid.uuid4())
    unfinished = ids[0]
    cut = [e for e in events if not (str(e.job_id) == unfinished and e.type == "JobCompleted")]
    model = ReadModel(statuses={ids[0]: "running", ids[1]: "completed", ids[2]: "running"})
    verdict = judge(cut, ids + [nowhere], model)
    assert verdict.lost == [ids[0], ids[2], nowhere]  # no ending; ended on the log but not projected; never logged
    assert not verdict.ok and verdict.completed == 1
    assert f"{nowhere}: nothing on the log" in verdict.story(cut)
    assert f"{ids[2]} seq 1 JobSubmitted" in verdict.story(cut)


async def test_a_hole_in_a_jobs_sequences_fails_and_a_job_without_a_202_is_counted_not_lost():
    events, ids = await _log()
    hole = next(e for e in events if e.type == "StageStarted" and str(e.job_id) == ids[1])
    verdict = judge([e for e in events if e is not hole], ids[:2], _model(ids))
    assert verdict.log_gaps == [ids[1]] and verdict.gaps == {ids[1]} and not verdict.ok
    assert verdict.unacknowledged == 1 and verdict.lost == []


async def test_the_read_models_duplicates_and_gaps_count():
    events, ids = await _log()
    model = _model(ids, payload_twice=frozenset({ids[0]}), ended_twice=frozenset({ids[1]}),
                   sequence_gaps=frozenset({ids[2]}))
    verdict = judge(events, ids, model)
    assert verdict.duplicated_jobs == {ids[0], ids[1]} and verdict.gaps == {ids[2]} and not verdict.ok


async def test_a_dead_lettered_job_has_ended():
    events, ids = await _log(1)
    verdict = judge(events, ids, _model(ids, "dead_lettered"))
    assert verdict.ok and verdict.dead_lettered == 1 and verdict.completed == 0


def test_the_longest_stall_is_the_longest_time_without_an_ending_and_says_when():
    t = [T0 + timedelta(seconds=s) for s in (2, 3, 10, 11, 12)]
    assert longest_stall(t, T0) == (7.0, 3.0)
    assert longest_stall([], T0) == (0.0, 0.0)
    assert longest_stall([T0 + timedelta(seconds=5)], T0) == (5.0, 0.0)


def test_intake_503s_are_told_apart_by_whether_a_dependency_was_down():
    intake = Intake(refused_503=[5.0, 12.0, 40.0, 100.0])
    assert intake.refused_during([(10.0, 20.0), (90.0, 95.0)], slack=10.0) == 2  # 12 inside, 100 in the slack


async def test_the_soak_table_names_each_figure_the_verdict_rests_on():
    from collections import Counter

    from planperfect.chaos.schedule import Blow
    from planperfect.chaos.soak import SoakConfig, SoakReport, table

    events, ids = await _log()
    report = SoakReport(verdict=judge(events, ids + [str(uuid.uuid4())], _model(ids)), drained=False,
                        blows=Counter({Blow.WORKER: 60, Blow.PROJECTOR: 20, Blow.BROKER: 3, Blow.POSTGRES: 1}),
                        readyz_in_outage=Counter({503: 29, 0: 1}), longest_stall=(41.5, 212.0))
    lines = {line.split("  ")[0]: line for line in table(report, SoakConfig()).splitlines()}

    def value(label: str) -> str:
        return lines[label][len(label):].split()[0]

    assert value("LOST (accepted, never ended)") == "1" and value("DUPLICATED (a fact twice)") == "0"
    assert value("SIGKILL worker") == "60" and value("SIGKILL api") == "0"
    assert "/readyz answered no answer x1, 503 x29" in lines["PostgreSQL outage (SIGKILL, held)"]
    assert "41.5 s  from 212 s" in lines["longest stall (no job ending)"]
    assert "not every accepted job ended before the drain timeout" in table(report, SoakConfig())
