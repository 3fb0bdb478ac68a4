"""Prompt templates per stage, versioned files beside this module: `prompts/<name>.v<N>.md`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from string import Template

USER_MARKER = "=== user ==="

# The version each prompt is used at. A new version is a new file; bumping it here is a reviewed change, and
# the version travels with every call's usage record.
VERSIONS: dict[str, int] = {"research": 1, "outline": 1, "draft": 1, "revise": 1, "redraft": 1, "markup": 1,
                            "qa": 1, "analyze": 1, "write": 1, "repair": 1}


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    system: Template
    user: Template

    @property
    def label(self) -> str:
        return f"{self.name}.v{self.version}"

    def render(self, **values: object) -> tuple[str, str]:
        """(system, user) with every $placeholder filled; a missing value is a KeyError, not a silent gap."""
        text = {k: str(v) for k, v in values.items()}
        return self.system.substitute(text).strip(), self.user.substitute(text).strip()


def parse(name: str, version: int, text: str) -> Prompt:
    system, marker, user = text.partition(USER_MARKER)
    if not marker:
        raise ValueError(f"prompt {name}.v{version} has no '{USER_MARKER}' line")
    return Prompt(name, version, Template(system), Template(user))


@cache
def prompt(name: str) -> Prompt:
    version = VERSIONS[name]
    path = files("agents.providers").joinpath("prompts", f"{name}.v{version}.md")
    return parse(name, version, path.read_text(encoding="utf-8"))
