"""What the offline provider reads from a brief: topic, keyword forms and intents, field, audience, seed."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from agents.providers.offline_lexicon import Lexicon, detect_lexicon
from agents.providers.offline_phrases import GENERIC_REFS, PERIODS
from streams.payloads import Brief

Intent = Literal["informational", "commercial", "transactional", "navigational"]


class Angle(StrEnum):
    """The kind of piece a title asks for; it orders the sections and colours the research."""

    HOW_TO = "how_to"
    LIST = "list"
    COMPARISON = "comparison"
    EXPLAINER = "explainer"
    OVERVIEW = "overview"


_SLOT = re.compile(r"\{(\w+)\}")
_SMALL_WORDS = frozenset("a an and as at but by for from in into of on or the to vs with via".split())
_QUESTION_WORDS = frozenset("how what why when where which who can should is are does do".split())
_ACTION_WORDS = frozenset("buy find get hire book order compare choose".split())
# Verbs that open a keyword ("save money") and are rarely nouns; their keywords read as "saving money".
_LEADING_VERBS = frozenset("save lose improve increase reduce grow fix build write prepare create manage boost earn "
                           "stop make learn start avoid become speed keep".split())
_TRANSACTIONAL = frozenset("buy order price prices pricing cheap cheapest discount deal deals coupon shop purchase "
                           "hire subscribe download booking".split())
_COMMERCIAL = frozenset("best top review reviews vs versus compare comparison alternative alternatives".split())
_NAVIGATIONAL = frozenset("login signin sign-in official website app portal".split())
_NUMBER_WORDS = "three|four|five|six|seven|eight|nine|ten|eleven|twelve"

_TITLE_PREFIXES = (
    re.compile(r"^(?:(?:the|a|an)\s+)?(?:ultimate|complete|definitive|essential|beginner'?s|quick|simple|practical|short)?\s*"
               r"(?:guide|introduction|primer|handbook)\s+(?:to|for|on)\s+", re.I),
    re.compile(rf"^(?:\d+|{_NUMBER_WORDS})\s+(?:\w+\s+)?(?:ways|tips|ideas|reasons|steps|things|mistakes|strategies|"
               r"lessons|habits|rules|questions)\s+(?:to|for|about|on|of|with|in)?\s*", re.I),
    re.compile(r"^everything\s+you\s+need\s+to\s+know\s+about\s+", re.I),
    re.compile(r"^(?:what|why|when|where)\s+(?:is|are|does|do|you\s+should)\s+", re.I),
    re.compile(r"^getting\s+started\s+with\s+", re.I),
    re.compile(r"^(?:why|how|best|top)\s+", re.I),
)
_TITLE_SUFFIX = re.compile(
    r"\s+(?:(?:in|of|for)\s+20\d\d|for\s+beginners|for\s+everyone|explained|made\s+easy|matters)$", re.I)


@dataclass(frozen=True)
class TopicProfile:
    """Everything the offline writer derives from a brief, computed the same way every time."""

    seed: int
    topic: str
    keywords: tuple[str, ...]
    lexicon: Lexicon
    audience: str
    site: str | None
    angle: Angle

    def rng(self, purpose: str) -> random.Random:
        """A generator for one purpose; seeded from the brief's hash, so the same brief reads the same."""
        return random.Random(f"{self.seed}:{purpose}")

    def slot_values(self, rng: random.Random, subject: str, terms: Sequence[str] = (),
                    avoid: Collection[str] = ()) -> Slots:
        """Values for every template slot in a sentence about `subject`, drawn when first asked for."""
        return Slots(self, rng, subject, tuple(terms), avoid)


class Slots(dict[str, str]):
    """Template slot values, drawn lazily; field phrases in `avoid` are passed over while others remain,
    so that consecutive sentences do not lean on the same example."""

    def __init__(self, profile: TopicProfile, rng: random.Random, subject: str, terms: tuple[str, ...],
                 avoid: Collection[str]) -> None:
        super().__init__(kw=subject, phrase=subject, topic=profile.topic, audience=profile.audience,
                         site=profile.site or "our site")
        self._profile, self._rng, self._terms, self._avoid = profile, rng, terms, avoid

    def __missing__(self, name: str) -> str:
        lex, rng = self._profile.lexicon, self._rng
        if name in ("Kw", "Topic"):
            self[name] = title_case(self["kw"] if name == "Kw" else self["topic"])
        elif name in ("pitfall", "pitfall2"):
            self["pitfall"], self["pitfall2"] = self._pick(lex.pitfalls, 2)
        elif name in ("resource", "resource2"):
            self["resource"], self["resource2"] = self._pick(lex.resources, 2)
        elif name in _LEXICON_SLOTS:
            self[name] = self._pick(getattr(lex, _LEXICON_SLOTS[name]), 1)[0]
        elif name == "term":
            self[name] = self._pick(self._terms or lex.concepts, 1)[0]
        elif name == "time":
            self[name] = rng.choice(lex.times)
        elif name == "period":
            self[name] = rng.choice(PERIODS)
        elif name == "ref":
            self[name] = rng.choice(GENERIC_REFS)
        else:
            raise KeyError(name)
        return self[name]

    def _pick(self, options: Sequence[str], k: int) -> list[str]:
        fresh = [o for o in options if o not in self._avoid]
        return self._rng.sample(fresh if len(fresh) >= k else list(options), k)


_LEXICON_SLOTS = {"pros": "pros", "metric": "metrics", "benefit": "benefits", "concept": "concepts"}


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill a template's `{slot}`s and capitalise the first letter; unknown slots are left visible."""
    def value(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            return match.group(0)

    return capitalize_first(_SLOT.sub(value, template))


def profile_brief(brief: Brief) -> TopicProfile:
    # Who writes a job (payload.provider and .model) is no part of what is written: the same brief reads the same.
    digest = hashlib.sha256(brief.model_dump_json(exclude={"provider", "model"}).encode("utf-8")).hexdigest()
    keywords = tuple(dict.fromkeys(k.strip() for k in brief.keywords if k.strip()))
    topic = noun_core(keywords[0]) if keywords else topic_from_title(brief.title)
    lexicon = detect_lexicon(" ".join((brief.title, *keywords, brief.domain or "")))
    audience = _lower_first(brief.audience.strip()) if brief.audience and brief.audience.strip() else lexicon.audience
    return TopicProfile(
        seed=int(digest[:16], 16),
        topic=topic,
        keywords=keywords,
        lexicon=lexicon,
        audience=audience,
        site=site_name(brief.domain),
        angle=angle_of(brief.title),
    )


def angle_of(title: str) -> Angle:
    lowered = title.lower()
    if re.search(r"\bhow\s+to\b|\bstep[- ]by[- ]step\b|\bguide\b|\bgetting\s+started\b", lowered):
        return Angle.HOW_TO
    if re.match(rf"^\s*(?:\d+|{_NUMBER_WORDS})\s", lowered):
        return Angle.LIST
    if set(re.findall(r"[a-z]+", lowered)) & _COMMERCIAL:
        return Angle.COMPARISON
    if re.match(r"^\s*(?:what|why|when|where|who)\b", lowered) or "explained" in lowered:
        return Angle.EXPLAINER
    return Angle.OVERVIEW


def site_name(domain: str | None) -> str | None:
    """`"www.green-kitchen.co.uk"` -> `"Green Kitchen"`."""
    if not domain or not domain.strip():
        return None
    host = re.sub(r"^[a-z]+://", "", domain.strip().lower()).split("/")[0]
    labels = [label for label in host.split(".") if label and label != "www"]
    if not labels:
        return None
    name = labels[0] if len(labels) == 1 else max(labels[:-1], key=len)
    return " ".join(part.capitalize() for part in re.split(r"[-_]+", name) if part) or None


def is_phrase_keyword(keyword: str) -> bool:
    """A search phrase ("how to brew coffee", "best running shoes") rather than a plain noun phrase."""
    words = keyword.lower().split()
    return bool(words) and (
        words[0] in _QUESTION_WORDS
        or words[0] in _ACTION_WORDS
        or words[0] in _LEADING_VERBS
        or words[0] in ("best", "top", "cheap", "cheapest")
        or "vs" in words
        or "versus" in words
        or keyword.lower().endswith("near me")
    )


class KeywordForm(StrEnum):
    """How a keyword can sit in a sentence verbatim."""

    NOUN = "noun"  # "meal planning": anywhere a noun phrase goes
    VERB = "verb"  # "save money": after "to"
    HOW_TO = "how_to"  # "how to choose running shoes": after "know", "here is"
    QUERY = "query"  # "best running shoes", "what is seo": quoted as a search


def keyword_form(keyword: str) -> KeywordForm:
    words = keyword.lower().split()
    if not is_phrase_keyword(keyword):
        return KeywordForm.NOUN
    if words[:2] == ["how", "to"]:
        return KeywordForm.HOW_TO
    if words[0] in _ACTION_WORDS or words[0] in _LEADING_VERBS:
        return KeywordForm.VERB
    return KeywordForm.QUERY


def noun_core(keyword: str) -> str:
    """The noun phrase inside a search phrase: "how to brew coffee" -> "brewing coffee"."""
    text = keyword.strip()
    lowered = text.lower()
    if lowered.startswith("how to "):
        return gerund_phrase(text[7:])
    if lowered.split()[0] in _LEADING_VERBS:
        return gerund_phrase(text)
    for pattern in (r"^(?:what|why|when|where|which|who)\s+(?:is|are|does|do|to)\s+",
                    r"^(?:best|top|cheap|cheapest)\s+",
                    r"^(?:buy|find|get|hire|book|order|compare|choose)\s+(?:a\s+|an\s+|the\s+)?",
                    r"^(?:can|should|is|are|does|do)\s+"):
        stripped = re.sub(pattern, "", text, flags=re.I)
        if stripped != text:
            text = stripped
            break
    text = re.sub(r"\s+near\s+me$", "", text, flags=re.I)
    text = re.sub(r"\s+(?:vs\.?|versus)\s+", " and ", text, flags=re.I)
    return text.rstrip("?").strip() or keyword.strip()


def gerund_phrase(phrase: str) -> str:
    """Turn a leading verb into its -ing form: "plan meals" -> "planning meals"."""
    words = phrase.split()
    if not words:
        return phrase
    return " ".join([gerund(words[0]), *words[1:]])


def gerund(verb: str) -> str:
    lowered = verb.lower()
    if lowered.endswith("ing") and len(lowered) > 5:
        return lowered
    if lowered.endswith("ie"):
        return lowered[:-2] + "ying"
    if lowered.endswith("e") and not lowered.endswith(("ee", "ye", "oe")) and len(lowered) > 2:
        return lowered[:-1] + "ing"
    vowel_groups = re.findall(r"[aeiou]+", lowered)
    if len(vowel_groups) == 1 and re.search(r"[^aeiou][aeiou][bdfgklmnprtv]$", lowered):
        return lowered + lowered[-1] + "ing"
    return lowered + "ing"


def topic_from_title(title: str) -> str:
    """A noun phrase for the subject when there are no keywords: "How to Plan Meals" -> "planning meals"."""
    text = re.split(r"\s*[:?|]\s*|\s+[-–—]\s+", title.strip())[0] or title.strip()
    was_how_to = bool(re.match(r"^how\s+to\s+", text, re.I))
    text = re.sub(r"^how\s+to\s+", "", text, flags=re.I)
    for pattern in _TITLE_PREFIXES:
        text = pattern.sub("", text)
    text = _TITLE_SUFFIX.sub("", text)
    text = re.sub(r"^(?:a|an|the)\s+", "", text, flags=re.I).strip(" .!,")
    if not text:
        return title.strip().lower()
    words = [_lower_first(w) if _is_capitalized_word(w) else w for w in text.split()]
    phrase = " ".join(words)
    return gerund_phrase(phrase) if was_how_to or words[0].lower() in _LEADING_VERBS else phrase


def keyword_intent(keyword: str, site: str | None) -> Intent:
    words = set(re.findall(r"[a-z0-9-]+", keyword.lower()))
    if words & _TRANSACTIONAL or keyword.lower().endswith("near me"):
        return "transactional"
    if words & _COMMERCIAL:
        return "commercial"
    site_words = set(site.lower().split()) if site else set()
    if words & _NAVIGATIONAL or (site_words and site_words <= words):
        return "navigational"
    return "informational"


def title_case(text: str) -> str:
    """Headline capitalisation that leaves acronyms and brand casing alone."""
    words = text.split()
    out: list[str] = []
    for i, word in enumerate(words):
        if any(c.isupper() for c in word):
            out.append(word)
        elif 0 < i < len(words) - 1 and word in _SMALL_WORDS:
            out.append(word)
        else:
            out.append("-".join(part[:1].upper() + part[1:] for part in word.split("-")))
    return " ".join(out)


def capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    # "Home cooks" -> "home cooks", but "SaaS founders" and "iOS developers" keep their casing.
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _is_capitalized_word(word: str) -> bool:
    return len(word) > 1 and word[0].isupper() and word[1:].islower()
