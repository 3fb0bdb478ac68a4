"""Every `planperfect` command and option says what it does in its `--help`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from api.requests import IntakeRequest
from planperfect.cli import build_parser
from planperfect.cli_jobs import intake_body


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """(path, parser, its line in the parent's list) for every subcommand, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {a.dest: a.help for a in action._choices_actions}
            for name, child in action.choices.items():
                yield (*path, name), child, listed.get(name)
                yield from _commands(child, (*path, name))


def _passes_through(parser: argparse.ArgumentParser) -> bool:
    """`planperfect kafka topics …`: every argument, --help too, belongs to Kafka's own tool."""
    return not parser.add_help


def test_every_command_has_help_in_the_list_and_in_its_own_help():
    commands = list(_commands(build_parser()))
    assert len(commands) > 25
    missing = []
    for path, parser, listed in commands:
        if not (listed or "").strip():
            missing.append(f"{' '.join(path)}: no line in `planperfect {' '.join(path[:-1])} --help`")
        if not _passes_through(parser) and not (parser.description or "").strip():
            missing.append(f"{' '.join(path)}: `--help` shows a usage line only")
    assert not missing, "\n".join(missing)


def test_every_option_and_argument_has_help():
    missing = []
    for path, parser, _ in _commands(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"planperfect {' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, "without help text:\n" + "\n".join(missing)


def test_a_commands_help_prints_its_description(capsys):
    parser = build_parser()
    for argv in (["up", "--help"], ["topics", "ensure", "--help"], ["pacing", "status", "--help"]):
        try:
            parser.parse_args(argv)
        except SystemExit as exit:
            assert exit.code == 0
        text = capsys.readouterr().out
        assert len(text.strip().splitlines()) > 3, text


def test_submit_sets_every_delivery_option_of_the_intake_body():
    args = build_parser().parse_args([
        "submit", "A title", "--delay", "30", "--priority", "9", "--initial-stage", "research", "--max-attempts", "2",
        "--time-limit", "120", "--retry-delay", "4", "-k", "kafka"])
    body = intake_body(args)
    assert body["delay_seconds"] == 30 and body["priority"] == 9 and body["initial_stage"] == "research"
    assert body["max_attempts"] == 2 and body["visibility_seconds"] == 120 and body["retry_delay_seconds"] == 4
    assert body["payload"]["keywords"] == ["kafka"]
    accepted = IntakeRequest.model_validate(body)  # the names are the API's own, not look-alikes
    assert (accepted.delay_seconds, accepted.visibility_seconds, accepted.retry_delay_seconds) == (30, 120, 4)


def test_submit_leaves_unset_options_to_the_apis_defaults():
    body = intake_body(build_parser().parse_args(["submit", "A title"]))
    assert set(body) == {"job_type", "requester_email", "payload"}
