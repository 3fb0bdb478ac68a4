"""The verdict on a chaos run: lost jobs and duplicated facts, judged on the Kafka log itself and in the read model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from streams.events import Event

# A job ends once: completed, dead-lettered or cancelled (nothing in a chaos run redrives a dead letter).
ENDINGS = ("JobCompleted", "JobDeadLettered", "JobCancelled")
TERMINAL_STATUSES = ("completed", "dead_lettered", "cancelled")


@dataclass(frozen=True)
class ReadModel:
    """What the read model says about every job: its status, and the jobs where a fact shows twice or a gap."""

    statuses: dict[str, str]
    sequence_gaps: frozenset[str] = frozenset()  # a job's events are not exactly 1..n
    stage_completed_twice: frozenset[str] = frozenset()  # StageCompleted twice for one (job, stage)
    ended_twice: frozenset[str] = frozenset()  # JobCompleted (or another ending) twice for one job
    payload_twice: frozenset[str] = frozenset()  # a stage's output stored twice
    stage_reruns: int = 0  # stage rows with more than one attempt: the visible cost of the kills


async def read_model(dsn: str) -> ReadModel:
    """The read model's side of the verdict, in one connection."""
    conn = await asyncpg.connect(dsn)
    try:
        async def jobs(sql: str) -> frozenset[str]:
            return frozenset(str(r[0]) for r in await conn.fetch(sql))

        return ReadModel(
            statuses={str(r["job_id"]): r["status"] for r in await conn.fetch("SELECT job_id, status FROM content_jobs")},
            sequence_gaps=await jobs(
                """SELECT job_id FROM (SELECT job_id, min(sequence) AS lo, max(sequence) AS hi, count(*) AS n
                                         FROM content_events GROUP BY job_id) s WHERE lo <> 1 OR hi <> n"""),
            stage_completed_twice=await jobs(
                """SELECT DISTINCT job_id FROM (SELECT job_id, body->>'stage' FROM content_events
                                                 WHERE type = 'StageCompleted' GROUP BY 1, 2 HAVING count(*) > 1) d"""),
            ended_twice=await jobs(
                f"""SELECT job_id FROM content_events WHERE type IN ({", ".join(f"'{t}'" for t in ENDINGS)})
                     GROUP BY job_id HAVING count(*) > 1"""),
            payload_twice=await jobs(
                "SELECT DISTINCT job_id FROM (SELECT job_id, stage FROM content_payloads GROUP BY 1, 2 HAVING count(*) > 1) d"),
            stage_reruns=await conn.fetchval("SELECT count(*) FROM content_job_stages WHERE attempts > 1"),
        )
    finally:
        await conn.close()


@dataclass(frozen=True)
class Verdict:
    """Each list names the jobs (or job and sequence/stage) where the run went wrong; empty lists are a pass."""

    accepted: int
    completed: int  # accepted jobs the read model shows completed
    dead_lettered: int
    lost: list[str]  # accepted (202) and not ended: no ending on the log, or no terminal row in the read model
    two_facts_one_place: list[tuple[str, int]]  # two different events at one (job, sequence) on the log
    stage_completed_twice: list[tuple[str, str]]  # two StageCompleted events for one (job, stage) on the log
    ended_twice: list[str]  # two endings of one job on the log
    log_gaps: list[str]  # a job's sequences on the log are not 1..n
    read_model: ReadModel
    unacknowledged: int  # jobs on the log whose submission got no 202 (its answer died with a killed API)
    ended_at: list[datetime] = field(default_factory=list)  # each job's first ending on the log, in order

    @property
    def duplicated_jobs(self) -> set[str]:
        rm = self.read_model
        return ({j for j, _ in self.two_facts_one_place} | {j for j, _ in self.stage_completed_twice}
                | set(self.ended_twice) | rm.stage_completed_twice | rm.ended_twice | rm.payload_twice)

    @property
    def gaps(self) -> set[str]:
        return set(self.log_gaps) | self.read_model.sequence_gaps

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated_jobs and not self.gaps

    def suspicious(self) -> set[str]:
        return set(self.lost) | self.duplicated_jobs | self.gaps

    def story(self, events: Iterable[Event], limit: int = 400) -> str:
        """Every logged event of the suspicious jobs, one line each: what to read when the verdict fails."""
        wanted = self.suspicious()
        lines = [f"{e.job_id} seq {e.sequence} {e.type} {getattr(e, 'stage', '') or ''} attempt "
                 f"{getattr(e, 'attempt', '') or ''} id {e.event_id} at {e.occurred_at:%H:%M:%S.%f}"
                 for e in events if str(e.job_id) in wanted]
        missing = sorted(j for j in self.lost if j not in {str(e.job_id) for e in events})
        return "\n".join(lines[:limit] + [f"{j}: nothing on the log" for j in missing])


def judge(events: Sequence[Event], accepted: Iterable[str], model: ReadModel) -> Verdict:
    """Lost and duplicated, from the events as logged (repeats included) and the read model.

    A second delivery of a fact is the same event (same id, same sequence) and is fine; two DIFFERENT events at one
    sequence, a stage completed by two events, a job ended twice or a sequence with a hole are not."""
    accepted = list(dict.fromkeys(str(j) for j in accepted))
    by_sequence: dict[tuple[str, int], set] = defaultdict(set)
    completions: dict[tuple[str, str], set] = defaultdict(set)
    endings: dict[str, set] = defaultdict(set)
    first_end: dict[str, datetime] = {}
    for e in events:
        job = str(e.job_id)
        by_sequence[(job, e.sequence)].add(e.event_id)
        if e.type == "StageCompleted":
            completions[(job, e.stage.value)].add(e.event_id)
        elif e.type in ENDINGS:
            endings[job].add(e.event_id)
            first_end.setdefault(job, e.occurred_at)
    sequences: dict[str, set[int]] = defaultdict(set)
    for job, seq in by_sequence:
        sequences[job].add(seq)
    terminal = {j for j, s in model.statuses.items() if s in TERMINAL_STATUSES}
    accepted_set = set(accepted)
    return Verdict(
        accepted=len(accepted),
        completed=sum(1 for j in accepted if model.statuses.get(j) == "completed"),
        dead_lettered=sum(1 for j in accepted if model.statuses.get(j) == "dead_lettered"),
        lost=[j for j in accepted if not endings.get(j) or j not in terminal],
        two_facts_one_place=sorted(k for k, v in by_sequence.items() if len(v) > 1),
        stage_completed_twice=sorted(k for k, v in completions.items() if len(v) > 1),
        ended_twice=sorted(j for j, v in endings.items() if len(v) > 1),
        log_gaps=sorted(j for j, seqs in sequences.items() if seqs != set(range(1, max(seqs) + 1))),
        read_model=model,
        unacknowledged=len(set(sequences) - accepted_set),
        ended_at=sorted(first_end.values()),
    )


def longest_stall(ended_at: Sequence[datetime], began: datetime) -> tuple[float, float]:
    """(seconds, at): the longest time with no job ending, from `began` to the last ending, and how long after
    `began` it started."""
    longest, at, previous = 0.0, 0.0, began
    for t in sorted(ended_at):
        gap = (t - previous).total_seconds()
        if gap > longest:
            longest, at = gap, (previous - began).total_seconds()
        previous = max(previous, t)
    return longest, at
