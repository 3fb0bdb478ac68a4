"""URL slugs: lowercase ASCII words joined by hyphens, shared by providers and stages."""

from __future__ import annotations

import hashlib
import re
import unicodedata

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 80


def slugify(text: str, *, max_length: int = MAX_SLUG_LENGTH) -> str:
    """`"Café Tips: 10 Ways!"` -> `"cafe-tips-10-ways"`; text with no ASCII letters gets a stable hash slug."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower().replace("'", ""))
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    if not slug:
        # Titles in non-Latin scripts still need a stable, URL-safe name.
        slug = "page-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    return slug


def is_slug(text: str) -> bool:
    return len(text) <= MAX_SLUG_LENGTH and SLUG_PATTERN.match(text) is not None
