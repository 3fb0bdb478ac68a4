"""Operator commands: rebuild and verify the read model, Kafka's own tools, topic descriptions, and log tails."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from planperfect.reachability import KAFKA, POSTGRES, hints, probe_kafka
from planperfect.settings import Settings
from streams.topics import Topics
from streams.access import kafka_address, kafka_options, parse_bootstrap

# Kafka's own command-line tools, run from the jars the local stack already resolved.
KAFKA_TOOLS: dict[str, tuple[str, str]] = {
    "topics": ("org.apache.kafka.tools.TopicCommand", "kafka-topics.sh: list, describe, alter topics"),
    "consumer-groups": ("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                        "kafka-consumer-groups.sh: list, describe (lag), reset offsets, delete groups"),
}
# Fields every message has: a tail line shows them in its own columns, not in the summary.
_ENVELOPE = {"type", "schema_version", "event_id", "job_id", "sequence", "occurred_at", "correlation_id",
             "causation_id", "command_id", "dead_letter_id", "raw_base64"}

Out = Callable[[str], None]


def _say(line: str) -> None:
    print(line, flush=True)


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class _PassThrough(argparse.ArgumentParser):
    """A subcommand whose every argument (`--help` too) belongs to the tool it runs."""

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None):
        namespace = namespace if namespace is not None else argparse.Namespace()
        for key, value in self._defaults.items():
            setattr(namespace, key, value)
        namespace.tool_args = list(args or [])
        return namespace, []


def _subcommands(sub: argparse._SubParsersAction, name: str, help: str, **kwargs: Any) -> argparse._SubParsersAction:
    """The subcommands of `name`, created unless cli.py or another extension made it (`topics`, `dlq`)."""
    from planperfect.cli import _command

    parser = sub.choices.get(name)
    if parser is None:
        return _command(sub, name, help).add_subparsers(dest=f"{name}_cmd", required=True, metavar="COMMAND", **kwargs)
    for action in parser._actions:  # argparse keeps a parser's subcommands among its actions
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError(f"`planperfect {name}` exists and takes no subcommands; cannot add to it")


def register(sub: argparse._SubParsersAction) -> None:
    from planperfect.cli import _command

    proj = _subcommands(sub, "projections", "rebuild or verify the read model from the event log")
    rb = _command(proj, "rebuild", "replay the log into a shadow copy, verify it, swap it in at once", cmd_rebuild,
                  needs=(KAFKA, POSTGRES))
    rb.add_argument("--projection", help="rebuild only this projection's tables (default: all)")
    rb.add_argument("--dry-run", action="store_true", help="build and compare, but leave live untouched")
    rb.add_argument("--keep-old", action="store_true", help="keep the replaced tables in a retired_* schema")
    rb.add_argument("--batch-size", type=int, default=1000, help="events per transaction (default 1000)")
    vf = _command(proj, "verify", "compare live with a copy rebuilt from the log; exit 1 on a difference", cmd_verify,
                  needs=(KAFKA, POSTGRES))
    vf.add_argument("--projection", help="verify only this projection's tables (default: all)")
    vf.add_argument("--samples", type=int, default=5, help="differing rows named per table (default 5)")
    vf.add_argument("--batch-size", type=int, default=1000, help="events per transaction of the copy (default 1000)")

    kafka = _subcommands(sub, "kafka", "Kafka's own tools, --bootstrap-server filled in", parser_class=_PassThrough)
    for name, (main_class, help) in KAFKA_TOOLS.items():
        # every argument, --help too, goes to the tool: its own help is the tool's
        kafka.add_parser(name, help=help, add_help=False).set_defaults(fn=cmd_kafka_tool, main_class=main_class)

    topics = _subcommands(sub, "topics", "the topic catalogue")
    _command(topics, "describe", "partitions, settings and offsets of the catalogue's topics", cmd_topics_describe,
             "Each catalogue topic's partitions, settings, leaders and offsets; exit 1 when one is missing.",
             needs=(KAFKA,))

    tail = _command(sub, "tail", "print a topic's messages, decoded, as they arrive", cmd_tail,
                    "Print a topic's messages, one line each, decoded (the job log through the upcasters, as the "
                    "projector sees it), as they arrive; no consumer group is used.", needs=(KAFKA,))
    tail.add_argument("topic", help="a full topic name or a catalogue suffix (job-events, stage.draft, ...)")
    _tail_options(tail)
    dlq_tail = _command(_subcommands(sub, "dlq", "dead letters"), "tail", "tail the dead-letter topic", cmd_tail,
                        needs=(KAFKA,))
    _tail_options(dlq_tail)
    dlq_tail.set_defaults(topic="dead-letters")


def _tail_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-beginning", action="store_true", help="start at the oldest message, not the newest")
    p.add_argument("--job", help="only messages of this job id")
    p.add_argument("--max", type=int, default=0, help="stop after printing this many lines")
    p.add_argument("--exit", "-e", action="store_true", help="stop at the end of the log (like kcat -e)")


# ---------------------------------------------------------------- projections rebuild / verify


async def _applied_migrations(dsn: str) -> list[tuple[str, str]]:
    """The migration files as (name, SQL), once the database has them all: a shadow is built from the same DDL."""
    import asyncpg

    from planperfect.migrate import load_migrations
    from projections.rebuild import RebuildError

    files = load_migrations()
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations") \
            if await conn.fetchval("SELECT to_regclass('schema_migrations')") else []
    finally:
        await conn.close()
    applied = {r["version"] for r in rows}
    if missing := [f"{m.version:04d}_{m.name}" for m in files if m.version not in applied]:
        raise RebuildError(f"the database lacks migrations {', '.join(missing)}; run `planperfect migrate` first")
    return [(f"{m.version:04d}_{m.name}", m.sql) for m in files]


class AuditNotWritten(Exception):
    """The run ended but the fact naming who ran it could not be written to the log."""


async def _record_run(settings: Settings, fact_type: type, names: Sequence[str], outcome: str, message: str,
                      **fields: Any) -> None:
    """Say on access-events who ran a rebuild or verify and how it ended, whatever the outcome: an operator
    action on the read model is audited as a key change is."""
    from datetime import datetime, timezone
    from uuid import uuid4

    from aiokafka.errors import KafkaError

    from planperfect.api_key import access_log, cli_actor

    fact = fact_type(event_id=uuid4(), occurred_at=datetime.now(timezone.utc), actor=cli_actor(), outcome=outcome,
                     projections=list(names), message=message, **fields)
    try:
        async with access_log(settings) as send:
            await send(fact)
    except (KafkaError, asyncio.TimeoutError, OSError) as exc:
        raise AuditNotWritten(f"the run ended ({outcome}) but its {fact.type} fact was not written to "
                              f"{settings.topics().access_events}: {exc!r}") from exc


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from projections.checksums import SchemaMismatch
    from projections.rebuild import ReadModel, RebuildError, rebuild

    from projections.rebuild import verdict
    from streams.access_events import ProjectionRebuilt

    async def run() -> None:
        names = ReadModel.of(only=args.projection).names  # an unknown name is refused before anything else
        outcome, said = "failed", ""
        try:
            ddl = await _applied_migrations(settings.database())
            result = await rebuild(settings.kafka(), settings.database(), settings.topics(), ddl,
                                   only=args.projection, dry_run=args.dry_run, keep_old=args.keep_old,
                                   batch_size=args.batch_size, echo=_say)
            outcome = "swapped" if result.swapped else verdict(result.comparison).value
            said = f"{result.events:,} events in {result.seconds:.1f}s"
        except RebuildError as exc:
            outcome, said = "refused", str(exc)
            raise
        finally:
            await _record_run(settings, ProjectionRebuilt, names, outcome, said, dry_run=args.dry_run)

    try:
        asyncio.run(run())
    except (RebuildError, SchemaMismatch, AuditNotWritten) as exc:
        _err(f"rebuild: {exc}")
        return 1
    return 0


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    from projections.checksums import Comparison, SchemaMismatch
    from projections.rebuild import ReadModel, RebuildError, verify

    from projections.rebuild import summary, verdict
    from streams.access_events import ProjectionVerified

    async def run() -> Comparison:
        names = ReadModel.of(only=args.projection).names
        outcome, said = "failed", ""
        try:
            ddl = await _applied_migrations(settings.database())
            result = await verify(settings.kafka(), settings.database(), settings.topics(), ddl,
                                  only=args.projection, batch_size=args.batch_size, samples=args.samples, echo=_say)
            outcome, said = verdict(result).value, summary(result)
            return result
        except RebuildError as exc:
            outcome, said = "refused", str(exc)
            raise
        finally:
            await _record_run(settings, ProjectionVerified, names, outcome, said)

    try:
        result = asyncio.run(run())
    except (RebuildError, SchemaMismatch, AuditNotWritten) as exc:
        _err(f"verify: {exc}")
        return 1
    for line in result.report():
        _say(line)
    differing = [c.table for c in result.tables if not c.same]
    if result.same:
        _say(f"verify: the live read model matches the log ({len(result.tables)} tables)")
        return 0
    _say(f"verify: DIFFERENT: {', '.join(differing) or 'positions'}")
    return 1


# ---------------------------------------------------------------- Kafka's own tools


def cmd_kafka_tool(settings: Settings, args: argparse.Namespace) -> int:
    from planperfect.stack.kafka import java_client_properties, kafka_tool_command, properties_text
    from planperfect.stack.process import StackError
    from planperfect.stack.secrets import write_private

    tool_args = args.tool_args[1:] if args.tool_args[:1] == ["--"] else list(args.tool_args)
    if not any(a.split("=", 1)[0] == "--bootstrap-server" for a in tool_args):
        tool_args = ["--bootstrap-server", settings.kafka(), *tool_args]
    bootstrap = _bootstrap_of(tool_args)
    try:
        access = parse_bootstrap(bootstrap)
    except ValueError as exc:
        _err(f"kafka: {exc}")
        return 2
    # Java tools take host:port and read credentials from a file: the same ones as every other command.
    tool_args = _with_bootstrap(tool_args, access.address)
    if not {"--help", "-h", "--version"} & set(tool_args):
        # Kafka's tools retry an absent broker until their own timeouts (minutes, or for ever): ask first, bounded.
        asyncio.run(probe_kafka(bootstrap, hint=hints(settings)[KAFKA]))
    with tempfile.TemporaryDirectory(prefix="planperfect-kafka-") as private:
        if access.protocol != "PLAINTEXT" and "--command-config" not in tool_args:
            config = Path(private) / "client.properties"
            write_private(config, properties_text(java_client_properties(access)))
            tool_args += ["--command-config", str(config)]
        try:
            command = kafka_tool_command(settings, args.main_class, tool_args, echo=_err)
        except StackError as exc:
            _err(f"kafka: {exc}")
            return 1
        return subprocess.run(command).returncode


def _bootstrap_of(tool_args: list[str]) -> str:
    """The --bootstrap-server a tool will use (`--bootstrap-server X` or `--bootstrap-server=X`)."""
    for i, arg in enumerate(tool_args):
        if arg == "--bootstrap-server" and i + 1 < len(tool_args):
            return tool_args[i + 1]
        if arg.startswith("--bootstrap-server="):
            return arg.split("=", 1)[1]
    raise ValueError("no --bootstrap-server among the tool's arguments")


def _with_bootstrap(tool_args: list[str], address: str) -> list[str]:
    """`tool_args` with its --bootstrap-server value replaced by `address`."""
    out = list(tool_args)
    for i, arg in enumerate(out):
        if arg == "--bootstrap-server" and i + 1 < len(out):
            out[i + 1] = address
        elif arg.startswith("--bootstrap-server="):
            out[i] = f"--bootstrap-server={address}"
    return out


# ---------------------------------------------------------------- topics describe


async def describe_catalogue(bootstrap: str, topics: Topics) -> tuple[list[str], bool]:
    """Lines describing each catalogue topic (settings, per-partition leader and offsets); and whether all exist."""
    from planperfect.topic_admin import describe

    catalogue = topics.all()
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap), request_timeout_ms=15000)
    await admin.start()
    try:
        found = await describe(admin, [name for name, _ in catalogue])
        meta = {t["topic"]: t["partitions"] for t in await admin.describe_topics(list(found)) if not t["error_code"]}
    finally:
        await admin.close()
    tps = [TopicPartition(name, p["partition"]) for name, parts in meta.items() for p in parts]
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        firsts, ends = (await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)) if tps else ({}, {})
    finally:
        await consumer.stop()
    lines: list[str] = []
    for name, spec in catalogue:
        if name not in found:
            lines.append(f"{name}  MISSING (create it with `planperfect topics ensure`)")
            continue
        count, config = found[name]
        drift = [f"partitions: catalogue {spec.partitions}"] if count != spec.partitions else []
        drift += [f"{k}: catalogue {v}" for k, v in spec.configs().items() if config.get(k) not in (None, v)]
        settings = " ".join(f"{k}={config.get(k, '?')}" for k in spec.configs())
        lines.append(f"{name}  partitions={count} {settings}  {'DRIFT (' + '; '.join(drift) + ')' if drift else 'ok'}")
        for p in sorted(meta.get(name, []), key=lambda p: p["partition"]):
            tp = TopicPartition(name, p["partition"])
            lines.append(f"  partition {p['partition']}  leader={p['leader']} replicas={p['replicas']} isr={p['isr']}"
                         f"  offsets {firsts[tp]}..{ends[tp]} ({ends[tp] - firsts[tp]} messages)")
    return lines, len(found) == len(catalogue)


def cmd_topics_describe(settings: Settings, _args: argparse.Namespace) -> int:
    lines, complete = asyncio.run(describe_catalogue(settings.kafka(), settings.topics()))
    for line in lines:
        _say(line)
    return 0 if complete else 1


# ---------------------------------------------------------------- tail


def resolve_topic(topics: Topics, name: str) -> str:
    """A catalogue suffix (`job-events`) under this deployment's prefix; anything else as given."""
    by_suffix = {spec.suffix: full for full, spec in topics.all()}
    return by_suffix.get(name, name)


def _short(value: Any, width: int = 40) -> str:
    if isinstance(value, dict):
        value = value.get("kind") or value.get("type") or value.get("title") or "{…}"
    elif isinstance(value, list):
        value = f"[{len(value)}]"
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def render(topics: Topics, topic: str, partition: int, offset: int, value: bytes | None) -> tuple[str | None, str]:
    """One message as one line (offset, type, job, sequence, short summary), and its job id."""
    from streams.codec import DecodeError, decode_event

    where = f"{partition}:{offset}"
    try:
        if topic == topics.job_events:  # the log: decoded through the upcasters, as the projector sees it
            fields = decode_event(value or b"").model_dump(mode="json")
        else:
            fields = json.loads(value or b"")
            if not isinstance(fields, dict):
                raise ValueError("not a JSON object")
    except (DecodeError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, DecodeError) else str(exc)
        return None, f"{where:>9}  UNDECODABLE  {_short(reason, 80)}  raw={(value or b'')[:60]!r}"
    job = fields.get("job_id")
    seq = fields.get("sequence", "-")
    summary = " ".join(f"{k}={_short(v)}" for k, v in fields.items() if k not in _ENVELOPE and v is not None)
    line = f"{where:>9}  {fields.get('type', '?'):<16} job={job or '-'} seq={seq}  {_short(summary, 160)}"
    return (str(job) if job else None), line


async def tail(
    bootstrap: str, topics: Topics, topic: str, *, from_beginning: bool = False, job: str | None = None,
    limit: int = 0, exit_at_end: bool = False, out: Out = _say, err: Out = _err,
) -> int:
    """Print `topic`'s messages as they arrive, read with assigned partitions and no consumer group."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        meta = (await admin.describe_topics([topic]))[0]
    finally:
        await admin.close()
    if meta["error_code"] or not meta["partitions"]:
        err(f"tail: no topic {topic} on {kafka_address(bootstrap)}; the catalogue's: {', '.join(s.suffix for _, s in topics.all())}")
        return 2
    tps = [TopicPartition(topic, p["partition"]) for p in sorted(meta["partitions"], key=lambda p: p["partition"])]
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        await (consumer.seek_to_beginning(*tps) if from_beginning else consumer.seek_to_end(*tps))
        positions = {tp: await consumer.position(tp) for tp in tps}  # resolved: nothing after this line is missed
        ends = await consumer.end_offsets(tps) if exit_at_end else {}
        err(f"tail: {topic}, {len(tps)} partitions, from the {'beginning' if from_beginning else 'end'} "
            f"(offsets {', '.join(f'{tp.partition}:{pos}' for tp, pos in positions.items())})")
        printed = 0
        while not exit_at_end or any([await consumer.position(tp) < ends[tp] for tp in tps]):
            batch = await consumer.getmany(timeout_ms=500)
            for tp in sorted(batch, key=lambda tp: tp.partition):
                for msg in batch[tp]:
                    if exit_at_end and msg.offset >= ends[tp]:
                        continue
                    job_id, line = render(topics, topic, tp.partition, msg.offset, msg.value)
                    if job is not None and job_id != job:
                        continue
                    out(line)
                    printed += 1
                    if limit and printed >= limit:
                        return 0
        return 0
    finally:
        await consumer.stop()


def cmd_tail(settings: Settings, args: argparse.Namespace) -> int:
    topics = settings.topics()
    try:
        return asyncio.run(tail(settings.kafka(), topics, resolve_topic(topics, args.topic),
                                from_beginning=args.from_beginning, job=args.job, limit=args.max,
                                exit_at_end=args.exit))
    except BrokenPipeError:  # `planperfect tail … | head`: the reader has seen enough
        sys.stdout = open(os.devnull, "w")
        return 0
