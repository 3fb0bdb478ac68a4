"""schema.org JSON-LD from a brief and its research, one builder per supported `SchemaType`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from agents.providers.offline_facets import STEP_ITEMS
from agents.providers.offline_phrases import QUESTIONS
from agents.providers.offline_profile import TopicProfile, noun_core, render
from streams.payloads import Brief, ResearchNotes, SchemaType

JsonObject = dict[str, Any]
HEADLINE_MAX = 110  # Google truncates Article headlines past this
STEP_NAMES = ("Define the goal", "Gather what you need", "Start small", "Review the results", "Adjust and repeat")


def build_markup(brief: Brief, research: ResearchNotes, profile: TopicProfile) -> str:
    body = _BUILDERS[brief.schema_type](brief, research, profile)
    data: JsonObject = {"@context": "https://schema.org", "@type": brief.schema_type, **body}
    return json.dumps(data, ensure_ascii=False, indent=2)


def _description(brief: Brief, research: ResearchNotes) -> str:
    return brief.description.strip() if brief.description and brief.description.strip() else research.summary


def _home_url(brief: Brief) -> str | None:
    """The site's home page: from the domain, else from the page URL's origin."""
    if brief.domain and brief.domain.strip():
        host = brief.domain.strip().split("://")[-1].strip("/")
        return f"https://{host}/"
    if brief.url:
        parts = urlsplit(brief.url)
        return f"{parts.scheme}://{parts.netloc}/" if parts.scheme and parts.netloc else None
    return None


def _keywords(profile: TopicProfile) -> str:
    return ", ".join(profile.keywords) if profile.keywords else profile.topic


def _optional(**values: Any) -> JsonObject:
    return {key: value for key, value in values.items() if value not in (None, "", [], {})}


def _article(brief: Brief, research: ResearchNotes, profile: TopicProfile) -> JsonObject:
    author: JsonObject = (
        {"@type": "Person", "name": brief.author}
        if brief.author
        else {"@type": "Organization", "name": profile.site or "Editorial Team"}
    )
    publisher = {"@type": "Organization", "name": profile.site, "url": _home_url(brief)} if profile.site else None
    return _optional(
        headline=brief.title.strip()[:HEADLINE_MAX],
        description=_description(brief, research),
        author=author,
        keywords=_keywords(profile),
        inLanguage=brief.language,
        about={"@type": "Thing", "name": profile.topic},
        publisher=publisher,
        url=brief.url,
        mainEntityOfPage=brief.url,
    )


def _faq_page(brief: Brief, research: ResearchNotes, profile: TopicProfile) -> JsonObject:
    entities = [
        {"@type": "Question", "name": q,
         "acceptedAnswer": {"@type": "Answer", "text": faq_answer(q, research, profile)}}
        for q in research.questions
    ]
    return _optional(name=brief.title.strip(), description=_description(brief, research), mainEntity=entities,
                     inLanguage=brief.language, url=brief.url)


def faq_answer(question: str, research: ResearchNotes, profile: TopicProfile) -> str:
    """The answer written for one of our own reader questions, else the research's first key points."""
    rng = profile.rng(f"faq:{question}")
    subjects = [noun_core(k) for k in profile.keywords] or [profile.topic]
    for template, answer in QUESTIONS:
        for subject in subjects:
            if render(template, {"kw": subject}) == question:
                return render(answer, profile.slot_values(rng, subject))
    return " ".join(research.key_points[:2]) or research.summary


def _how_to(brief: Brief, research: ResearchNotes, profile: TopicProfile) -> JsonObject:
    rng = profile.rng("howto")
    steps = [
        {"@type": "HowToStep", "position": i, "name": name,
         "text": render(template, profile.slot_values(rng, profile.topic))}
        for i, (name, template) in enumerate(zip(STEP_NAMES, STEP_ITEMS), start=1)
    ]
    return _optional(name=brief.title.strip(), description=_description(brief, research), step=steps,
                     inLanguage=brief.language, url=brief.url)


def _product(brief: Brief, research: ResearchNotes, profile: TopicProfile) -> JsonObject:
    brand = {"@type": "Brand", "name": profile.site} if profile.site else None
    return _optional(name=brief.title.strip(), description=_description(brief, research), brand=brand,
                     category=profile.topic, keywords=_keywords(profile), url=brief.url)


def _organization(brief: Brief, research: ResearchNotes, profile: TopicProfile) -> JsonObject:
    return _optional(name=profile.site or brief.title.strip(), url=_home_url(brief),
                     description=_description(brief, research),
                     knowsAbout=list(profile.keywords) or [profile.topic])


def _web_page(brief: Brief, research: ResearchNotes, profile: TopicProfile) -> JsonObject:
    website = {"@type": "WebSite", "name": profile.site, "url": _home_url(brief)} if profile.site else None
    return _optional(name=brief.title.strip(), description=_description(brief, research), url=brief.url,
                     inLanguage=brief.language, keywords=_keywords(profile),
                     about={"@type": "Thing", "name": profile.topic}, isPartOf=website)


_BUILDERS: dict[SchemaType, Callable[[Brief, ResearchNotes, TopicProfile], JsonObject]] = {
    "Article": _article,
    "BlogPosting": _article,
    "FAQPage": _faq_page,
    "HowTo": _how_to,
    "Product": _product,
    "Organization": _organization,
    "WebPage": _web_page,
}
