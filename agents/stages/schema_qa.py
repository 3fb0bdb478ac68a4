"""The schema qa stage: check the JSON-LD parses and has what schema.org consumers need for its type."""

from __future__ import annotations

import json
from typing import Any

from agents.context import StageContext, StageInput
from agents.stages.prerequisites import require
from streams.payloads import SchemaQAReport, Stage

SCHEMA_ORG_CONTEXTS = frozenset({"https://schema.org", "http://schema.org", "https://schema.org/", "http://schema.org/"})

# Properties each type must carry to be useful to search engines (Google's required/recommended sets, trimmed
# to what a brief can truthfully supply: no invented prices, ratings or logos).
REQUIRED_PROPERTIES: dict[str, tuple[str, ...]] = {
    "Article": ("headline", "description", "author", "datePublished"),
    "BlogPosting": ("headline", "description", "author", "datePublished"),
    "FAQPage": ("mainEntity",),
    "HowTo": ("name", "step"),
    "Product": ("name", "description"),
    "Organization": ("name", "description"),
    "WebPage": ("name", "description"),
}
HEADLINE_MAX = 110


async def handle(inp: StageInput, ctx: StageContext) -> SchemaQAReport:
    markup = require(inp, inp.outputs.markup, Stage.MARKUP)
    return check_json_ld(markup.json_ld, inp.brief.schema_type)


def check_json_ld(text: str, expected_type: str) -> SchemaQAReport:
    required = list(REQUIRED_PROPERTIES.get(expected_type, ()))
    try:
        data = json.loads(text)
    except ValueError as exc:
        return SchemaQAReport(valid_json=False, schema_type="", required_properties=required,
                              missing_properties=required, issues=[f"The markup is not valid JSON: {exc}."],
                              passed=False)
    if not isinstance(data, dict):
        return SchemaQAReport(valid_json=True, schema_type="", required_properties=required,
                              missing_properties=required, issues=["The markup is not a JSON object."], passed=False)
    found_type = data.get("@type")
    types = found_type if isinstance(found_type, list) else [found_type]
    issues: list[str] = []
    if data.get("@context") not in SCHEMA_ORG_CONTEXTS:
        issues.append(f"@context is {data.get('@context')!r}, expected 'https://schema.org'.")
    if expected_type not in types:
        issues.append(f"@type is {found_type!r}, expected {expected_type!r}.")
    missing = [p for p in required if _empty(data.get(p))]
    issues += [f"Required property {p!r} is missing or empty." for p in missing]
    issues += _nested_issues(expected_type, data)
    return SchemaQAReport(
        valid_json=True,
        schema_type=found_type if isinstance(found_type, str) else ", ".join(map(str, types)),
        required_properties=required,
        missing_properties=missing,
        issues=issues,
        passed=not issues,
    )


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def _nested_issues(schema_type: str, data: dict[str, Any]) -> list[str]:
    issues: list[str] = []
    if schema_type in ("Article", "BlogPosting"):
        author = data.get("author")
        authors = author if isinstance(author, list) else [author]
        if author is not None and not all(isinstance(a, str) or (isinstance(a, dict) and a.get("name"))
                                          for a in authors):
            issues.append("Every author needs a name.")
        headline = data.get("headline")
        if isinstance(headline, str) and len(headline) > HEADLINE_MAX:
            issues.append(f"headline is {len(headline)} characters; search engines show at most {HEADLINE_MAX}.")
    if schema_type == "FAQPage":
        entities = data.get("mainEntity")
        for i, q in enumerate(entities if isinstance(entities, list) else [entities] if entities else []):
            answer = q.get("acceptedAnswer") if isinstance(q, dict) else None
            if not isinstance(q, dict) or q.get("@type") != "Question" or not q.get("name"):
                issues.append(f"mainEntity[{i}] must be a Question with a name.")
            elif not isinstance(answer, dict) or not answer.get("text"):
                issues.append(f"mainEntity[{i}] ({q.get('name')!r}) has no acceptedAnswer text.")
    if schema_type == "HowTo":
        steps = data.get("step")
        for i, s in enumerate(steps if isinstance(steps, list) else [steps] if steps else []):
            has_text = isinstance(s, str) and s or isinstance(s, dict) and (s.get("text") or s.get("itemListElement"))
            if not has_text:
                issues.append(f"step[{i}] has no text.")
    return issues
