"""Read models folded from the log into PostgreSQL, each the only writer of its own tables."""
