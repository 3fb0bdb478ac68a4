"""The actors: per stage a pure handler, the shells around the pure transitions, and the engine that moves messages."""
