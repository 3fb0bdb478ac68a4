"""Soak and chaos runs, outside the CI suite: `./dev test soak/` (they reuse the suite's fixtures)."""

from tests.conftest import database, empty_database, infra, prefix  # noqa: F401
