"""Pure text measures for the qa stage: words, keyword density, headings, sentences, Flesch reading ease."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_FENCE = re.compile(r"^(```|~~~)")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+")
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)]))\s+")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


@dataclass(frozen=True)
class HeadingCounts:
    h1: int
    h2: int
    h3: int


# ---------------------------------------------------------------- Markdown to text


def _prose_lines(markdown: str) -> list[str]:
    """The document's lines outside fenced code blocks, which hold no prose."""
    lines: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def headings(markdown: str) -> list[tuple[int, str]]:
    """ATX headings in document order, as (level, text)."""
    found: list[tuple[int, str]] = []
    for line in _prose_lines(markdown):
        match = _ATX_HEADING.match(line)
        if match:
            found.append((len(match.group(1)), (match.group(2) or "").strip()))
    return found


def _inline_text(line: str) -> str:
    line = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", line)  # images keep their alt text
    line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)  # links keep their text
    line = re.sub(r"<https?://[^>]+>", " ", line)
    line = re.sub(r"</?[A-Za-z][^>]*>", " ", line)  # inline HTML tags
    line = re.sub(r"`+([^`]*)`+", r"\1", line)
    line = re.sub(r"(\*\*|__|~~)(.+?)\1", r"\2", line)
    line = re.sub(r"(?<!\w)[*_](\S(?:.*?\S)?)[*_](?!\w)", r"\1", line)
    return line.replace("|", " ")


def _line_text(line: str) -> str:
    heading = _ATX_HEADING.match(line)
    if heading:
        return _inline_text(heading.group(2) or "")
    if re.match(r"^\s*(?:[-*_]\s*){3,}$", line):  # thematic break
        return ""
    line = re.sub(r"^\s*>+\s?", "", line)
    return _inline_text(_LIST_MARKER.sub("", line)).strip()


def plain_text(markdown: str) -> str:
    """All readable text, headings included, one Markdown line per line."""
    return "\n".join(t for t in (_line_text(line) for line in _prose_lines(markdown)) if t)


def body_text(markdown: str) -> str:
    """Readable text without headings: the prose that sentences and readability are measured on."""
    lines = (line for line in _prose_lines(markdown) if not _ATX_HEADING.match(line))
    return "\n".join(t for t in (_line_text(line) for line in lines) if t)


# ---------------------------------------------------------------- counts


def words(text: str) -> list[str]:
    """Words as a reader counts them: hyphenated and apostrophe forms ("step-by-step", "don't") are one."""
    return WORD.findall(text)


def count_words(text: str) -> int:
    return len(words(text))


def heading_counts(markdown: str) -> HeadingCounts:
    levels = Counter(level for level, _ in headings(markdown))
    return HeadingCounts(h1=levels[1], h2=levels[2], h3=levels[3])


def heading_problems(markdown: str) -> list[str]:
    """What is wrong with the outline of headings: exactly one H1, at least two H2, no H3 before the first H2."""
    found = headings(markdown)
    counts = heading_counts(markdown)
    problems: list[str] = []
    if counts.h1 != 1:
        problems.append(f"Expected exactly one H1 heading, found {counts.h1}.")
    if counts.h2 < 2:
        problems.append(f"Expected at least two H2 headings, found {counts.h2}.")
    first_h2 = next((i for i, (level, _) in enumerate(found) if level == 2), len(found))
    if any(level == 3 for level, _ in found[:first_h2]):
        problems.append("An H3 heading appears before the first H2.")
    return problems


def heading_structure_ok(markdown: str) -> bool:
    return not heading_problems(markdown)


def keyword_occurrences(text: str, keyword: str) -> int:
    """Case-insensitive whole-phrase matches; any run of whitespace may separate the phrase's words.

    A hyphenated compound is one word, so "seo" is not counted inside "seo-friendly"; a possessive is
    still a mention ("Python's" counts for "python").
    """
    parts = keyword.split()
    if not parts:
        return 0
    pattern = r"(?<![\w-])" + r"\s+".join(re.escape(p) for p in parts) + r"(?![\w-])"
    return len(re.findall(pattern, text, flags=re.IGNORECASE))


def keyword_density(occurrences: int, total_words: int) -> float:
    """Occurrences per hundred words of text, to two decimals (the common SEO definition)."""
    return round(100.0 * occurrences / total_words, 2) if total_words else 0.0


def deviation_pct(actual: int, target: int) -> float:
    """Signed distance from the target as a percentage of it, to one decimal."""
    return round(100.0 * (actual - target) / target, 1) if target else 0.0


# ---------------------------------------------------------------- sentences and readability


def sentences(text: str) -> list[str]:
    """Sentences of plain text; each line (paragraph, list item) ends one, so do `.`, `!` and `?`."""
    found: list[str] = []
    for line in text.splitlines():
        found.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip() and WORD.search(s))
    return found


def _sentence_key(sentence: str) -> str:
    return " ".join(w.lower() for w in words(sentence))


def repeated_sentences(text: str, min_words: int = 3) -> list[str]:
    """Sentences of at least `min_words` words that occur more than once (case and punctuation ignored),
    each reported once, as first written, in order of first appearance."""
    seen: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for sentence in sentences(text):
        key = _sentence_key(sentence)
        if len(key.split()) < min_words:
            continue
        seen.setdefault(key, sentence)
        counts[key] += 1
    return [seen[key] for key in seen if counts[key] > 1]


def count_syllables(word: str) -> int:
    """English syllables by vowel groups, with the usual corrections for silent endings.

    A heuristic, right for most common words (cat 1, table 2, jumped 1, wanted 2, boxes 2, beautiful 3);
    digits-only tokens count as one.
    """
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 1 if any(c.isdigit() for c in word) else 0
    if len(w) <= 3:
        return 1
    n = len(_VOWEL_GROUPS.findall(w))
    if w.endswith("e") and not w.endswith(("ee", "ye")):
        if not (w.endswith("le") and w[-3] not in "aeiouy"):  # "table" keeps its -le syllable, "mile" does not
            n -= 1
    elif w.endswith("ed") and w[-3] not in "td":  # "jumped" vs "wanted"
        n -= 1
    elif w.endswith("es") and w[-3] not in "sxzgc" and w[-4:-2] not in ("ch", "sh"):  # "makes" vs "boxes"
        n -= 1
    n += len(re.findall(r"(?<![ct])ia|iet|(?<![qg])ua(?!r)", w))  # "media", "quiet", "usual" split their vowel pair
    return max(1, n)


def flesch_reading_ease(text: str) -> float:
    """206.835 - 1.015 * (words / sentences) - 84.6 * (syllables / words), to two decimals; 0 for no text."""
    found = sentences(text)
    tokens = words(text)
    if not found or not tokens:
        return 0.0
    syllables = sum(count_syllables(t) for t in tokens)
    score = 206.835 - 1.015 * (len(tokens) / len(found)) - 84.6 * (syllables / len(tokens))
    return round(score, 2)
