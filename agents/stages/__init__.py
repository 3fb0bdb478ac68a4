"""Stage handlers: one pure `handle(inp, ctx)` per stage, reaching the world only through `ctx`."""
