"""The qa stage's text measures, on small hand-written inputs with known answers."""

from __future__ import annotations

import pytest

from agents.stages import qa_metrics as m

DOC = """# Meal Planning Basics

Meal planning saves time. It also saves money!

## Why plan

Plan your meals on **Sunday**. Use a [shopping list](https://example.com/list) for meal  planning.

- Buy in bulk.
- Cook twice.

## How to start

```
# not a heading
```

Meal-planning apps help. Plan your meals on Sunday.
"""


def test_plain_text_strips_markdown_but_keeps_words() -> None:
    text = m.plain_text(DOC)
    assert "#" not in text and "**" not in text and "](" not in text and "- Buy" not in text
    assert "not a heading" not in text  # fenced code is not prose
    assert "Use a shopping list for meal  planning." in text
    assert text.splitlines()[0] == "Meal Planning Basics"


def test_count_words_treats_hyphen_and_apostrophe_forms_as_one_word() -> None:
    assert m.count_words("Step-by-step guides don't lie.") == 4
    assert m.count_words("") == 0
    assert m.count_words("Top 10 tips, ranked: 1) plan; 2) cook.") == 8


def test_word_count_of_a_document() -> None:
    # headings 3+2+3, paragraphs 8+12+8, list 3+2 = 41
    assert m.count_words(m.plain_text(DOC)) == 41


def test_keyword_occurrences_are_case_insensitive_whole_phrases() -> None:
    text = m.plain_text(DOC)
    assert m.keyword_occurrences(text, "meal planning") == 3  # heading, paragraph, "meal  planning"
    assert m.keyword_occurrences(text, "MEAL PLANNING") == 3
    assert m.keyword_occurrences(text, "plan") == 3  # not "planning", "Meal-planning" or "plans"
    assert m.keyword_occurrences("SEO tools and seo-friendly pages; Google's SEO.", "seo") == 2
    assert m.keyword_occurrences("C++ and c++ but not c", "c++") == 2
    assert m.keyword_occurrences("anything", "   ") == 0


def test_keyword_density_is_occurrences_per_hundred_words() -> None:
    assert m.keyword_density(3, 200) == 1.5
    assert m.keyword_density(1, 3) == 33.33
    assert m.keyword_density(5, 0) == 0.0


def test_deviation_is_signed_percent_of_target() -> None:
    assert m.deviation_pct(1100, 1000) == 10.0
    assert m.deviation_pct(900, 1000) == -10.0
    assert m.deviation_pct(1234, 1200) == 2.8


def test_heading_counts_ignore_fenced_code() -> None:
    assert m.heading_counts(DOC) == m.HeadingCounts(h1=1, h2=2, h3=0)
    assert m.headings(DOC)[1] == (2, "Why plan")
    assert m.heading_problems(DOC) == []
    assert m.heading_structure_ok(DOC)


@pytest.mark.parametrize(
    ("markdown", "problem"),
    [
        ("# A\n\n## B\n\n## C\n\n# D\n", "Expected exactly one H1 heading, found 2."),
        ("## B\n\n## C\n", "Expected exactly one H1 heading, found 0."),
        ("# A\n\n## B\n\ntext\n", "Expected at least two H2 headings, found 1."),
        ("# A\n\n### Early\n\n## B\n\n## C\n", "An H3 heading appears before the first H2."),
    ],
)
def test_heading_problems(markdown: str, problem: str) -> None:
    assert problem in m.heading_problems(markdown)
    assert not m.heading_structure_ok(markdown)


def test_sentences_split_on_terminal_punctuation_and_lines() -> None:
    text = 'One two three. Four five? "Six seven!" Eight\nNine ten.'
    assert m.sentences(text) == ["One two three.", "Four five?", '"Six seven!"', "Eight", "Nine ten."]


def test_repeated_sentences_ignore_case_and_punctuation_and_report_once() -> None:
    body = m.body_text(DOC)
    assert m.repeated_sentences(body) == ["Plan your meals on Sunday."]
    text = "Keep it simple. keep it SIMPLE! Keep it simple... Go. Go. Something else entirely."
    assert m.repeated_sentences(text) == ["Keep it simple."]  # "Go." is below the three-word minimum
    assert m.repeated_sentences(text, min_words=1) == ["Keep it simple.", "Go."]


@pytest.mark.parametrize(
    ("word", "syllables"),
    [("cat", 1), ("the", 1), ("table", 2), ("make", 1), ("wanted", 2), ("jumped", 1), ("boxes", 2),
     ("makes", 1), ("beautiful", 3), ("people", 2), ("reading", 2), ("syllable", 3), ("media", 3),
     ("social", 2), ("quality", 3), ("10", 1)],
)
def test_count_syllables(word: str, syllables: int) -> None:
    assert m.count_syllables(word) == syllables


def test_flesch_reading_ease_on_known_sentences() -> None:
    # 6 words, 1 sentence, 6 syllables: 206.835 - 1.015*6 - 84.6*1 = 116.145
    assert m.flesch_reading_ease("The cat sat on the mat.") == pytest.approx(116.145, abs=0.01)
    # 9 words, 1 sentence, 11 syllables: 206.835 - 9.135 - 103.4 = 94.3 (textstat gives 94.30 too)
    assert m.flesch_reading_ease("The quick brown fox jumps over the lazy dog.") == pytest.approx(94.3, abs=0.01)
    hard = ("Institutional considerations notwithstanding, comprehensive organizational "
            "transformation necessitates extraordinarily sophisticated interdisciplinary coordination.")
    assert m.flesch_reading_ease(hard) < 0
    assert m.flesch_reading_ease("") == 0.0
