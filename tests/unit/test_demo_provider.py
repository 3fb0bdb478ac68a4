"""`planperfect demo --provider NAME`: the flag, and the worker's own provider check before anything starts (a
missing key is one line and exit 78, with no stack brought up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planperfect.cli import build_parser, main

VENDOR_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GROQ_API_KEY", "PLANPERFECT_PROVIDER_API_KEY",
                    "PLANPERFECT_PROVIDER", "PLANPERFECT_PROVIDER_ALLOW")


def test_the_flag_names_the_provider_and_defaults_to_the_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args(["demo", "--provider", "openai"]).provider == "openai"
    assert build_parser().parse_args(["demo"]).provider is None  # PLANPERFECT_PROVIDER, offline by default
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--help"])
    assert "--provider NAME" in capsys.readouterr().out


@pytest.mark.parametrize("provider, names", [
    ("anthropic", "set ANTHROPIC_API_KEY"),
    ("groq", "set GROQ_API_KEY"),
    ("openai-compatible", "set PLANPERFECT_PROVIDER_BASE_URL"),
    ("mistral", "is not one of offline, simulated, anthropic, openai, groq, openai-compatible"),
])
def test_a_provider_it_cannot_use_is_one_line_and_exit_78(provider: str, names: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    for name in VENDOR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLANPERFECT_DATA_DIR", str(tmp_path / "data"))  # where a local stack would go
    assert main(["demo", "--provider", provider]) == 78
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("planperfect demo: ") and names in lines[0], err
    assert out == "" and not (tmp_path / "data").exists()  # nothing was started
