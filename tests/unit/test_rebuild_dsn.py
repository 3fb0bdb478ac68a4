"""The rebuilt copy's sessions: its own schema first and alone, commits that do not wait for the disk, the rest kept."""

from __future__ import annotations

import urllib.parse

from projections.rebuild import in_schema


def test_the_copy_dsn_sets_its_schema_and_settings_and_keeps_the_rest():
    dsn = in_schema("postgresql://u@db:5432/pp?sslmode=disable&search_path=public", "rebuild_1",
                    synchronous_commit="off")
    parts = urllib.parse.urlsplit(dsn)
    assert (parts.netloc, parts.path) == ("u@db:5432", "/pp")
    assert urllib.parse.parse_qsl(parts.query) == [
        ("sslmode", "disable"), ("search_path", "rebuild_1"), ("synchronous_commit", "off")]
