"""The actors: per stage a pure handler, plus the thin Faust agent loops that move messages."""
