"""Sentence templates the offline writer uses in any section, plus intros, conclusions and reader questions.

Slots follow the grammar described in `offline_facets`; `{phrase}` is a keyword quoted verbatim. The templates
live in `offline_data/phrases.json`.
"""

from __future__ import annotations

from agents.providers.offline_tables import strings, table

_DATA = table("phrases")
GENERAL_SENTENCES: tuple[str, ...] = strings(_DATA["general_sentences"])
# Openers that may precede a template starting with a plain word; they add variety and tune length.
OPENERS: tuple[str, ...] = strings(_DATA["openers"])
# Openers that suit an instruction ("Where possible, start small.").
IMPERATIVE_OPENERS: tuple[str, ...] = strings(_DATA["imperative_openers"])
IMPERATIVE_VERBS: frozenset[str] = frozenset(_DATA["imperative_verbs"])
# First words of sentences that open with their own adverbial clause, which an opener would stack on.
CLAUSE_STARTS: frozenset[str] = frozenset(_DATA["clause_starts"])
# Stand-ins for the subject once a keyword has been used as often as its density allows.
GENERIC_REFS: tuple[str, ...] = strings(_DATA["generic_refs"])
PERIODS: tuple[str, ...] = strings(_DATA["periods"])
INTRO_HEADINGS: tuple[str, ...] = strings(_DATA["intro_headings"])
CONCLUSION_HEADINGS: tuple[str, ...] = strings(_DATA["conclusion_headings"])
INTRO_LEADS: tuple[str, ...] = strings(_DATA["intro_leads"])
INTRO_SENTENCES: tuple[str, ...] = strings(_DATA["intro_sentences"])
SITE_SENTENCES: tuple[str, ...] = strings(_DATA["site_sentences"])
CONCLUSION_LEADS: tuple[str, ...] = strings(_DATA["conclusion_leads"])
CONCLUSION_SENTENCES: tuple[str, ...] = strings(_DATA["conclusion_sentences"])
# How a search phrase ("best running shoes") appears verbatim without breaking the sentence.
PHRASE_MENTIONS: tuple[str, ...] = strings(_DATA["phrase_mentions"])
# Verb-led keywords ("save money") after "to"; how-to keywords where an indirect question fits.
VERB_MENTIONS: tuple[str, ...] = strings(_DATA["verb_mentions"])
HOW_TO_MENTIONS: tuple[str, ...] = strings(_DATA["how_to_mentions"])
# Several keywords in one sentence, for articles too short to give each its own; {kws} is "a, b and c".
COMBINED_MENTIONS: tuple[str, ...] = strings(_DATA["combined_mentions"])
# Reader questions and the answers the offline provider gives to them in FAQ markup.
QUESTIONS: tuple[tuple[str, str], ...] = tuple((question, answer) for question, answer in _DATA["questions"])
ANGLES: dict[str, str] = dict(_DATA["angles"])
SUMMARIES: tuple[str, ...] = strings(_DATA["summaries"])
META_LEADS: tuple[str, ...] = strings(_DATA["meta_leads"])
META_FILLERS: tuple[str, ...] = strings(_DATA["meta_fillers"])
